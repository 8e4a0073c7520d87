// Fused recurrent layers: the family's one shape check, the reference
// instantiation (simd::Scalar, baseline flags, the reference GEMM) and the
// registries, fastest first, reference last.
#include "ops/recurrent/recurrent.h"

#include "ops/eltwise/impl_list.h"
#include "ops/recurrent/recurrent_kernels.h"

namespace dlcore {

RnnMode parse_rnn_mode(const std::string& mode, const char* op) {
  if (mode == "RNN_TANH") return RnnMode::rnn_tanh;
  if (mode == "RNN_RELU") return RnnMode::rnn_relu;
  if (mode == "LSTM") return RnnMode::lstm;
  if (mode == "GRU") return RnnMode::gru;
  throw ValueError(cat(op, ": mode must be 'RNN_TANH', 'RNN_RELU', 'LSTM' or 'GRU', got '", mode, "'"));
}

int rnn_gates(RnnMode mode) { return mode == RnnMode::lstm ? 4 : mode == RnnMode::gru ? 3 : 1; }
int rnn_saved_gates(RnnMode mode) { return mode == RnnMode::lstm || mode == RnnMode::gru ? 4 : 0; }

RnnGeometry recurrent_geometry(const char* op, const std::string& mode_name, const Shape& gx, const Shape& w_hh,
                               const Shape* b_hh, const Shape& h0, const Shape* c0) {
  const RnnMode mode = parse_rnn_mode(mode_name, op);
  const int64_t G = rnn_gates(mode);
  DLCORE_CHECK(w_hh.size() == 2, op, ": w_hh must have 2 dimensions (gates * hidden, hidden), got shape ",
               shape_str(w_hh));
  const int64_t H = w_hh[1];
  DLCORE_CHECK(H > 0, op, ": hidden size must be > 0, got w_hh of shape ", shape_str(w_hh));
  DLCORE_CHECK(w_hh[0] == G * H, op, ": w_hh of shape ", shape_str(w_hh), " must be (", G * H, ", ", H, ") for ",
               mode_name, " (", G, " gates of hidden size ", H, ")");
  DLCORE_CHECK(gx.size() == 3, op, ": gx must have 3 dimensions (steps, batch, gates * hidden), got shape ",
               shape_str(gx));
  DLCORE_CHECK(gx[2] == G * H, op, ": gx has shape ", shape_str(gx), ", expected (steps, batch, ", G * H,
               ") for w_hh of shape ", shape_str(w_hh));
  const Shape state{gx[1], H};
  DLCORE_CHECK(h0 == state, op, ": h0 has shape ", shape_str(h0), ", expected ", shape_str(state));
  if (b_hh) DLCORE_CHECK(*b_hh == Shape{G * H}, op, ": b_hh has shape ", shape_str(*b_hh), ", expected (", G * H, ",)");
  if (mode == RnnMode::lstm) {
    DLCORE_CHECK(c0 != nullptr, op, ": LSTM needs c0");
    DLCORE_CHECK(*c0 == state, op, ": c0 has shape ", shape_str(*c0), ", expected ", shape_str(state));
  } else {
    DLCORE_CHECK(c0 == nullptr, op, ": c0 is for LSTM only, got one for ", mode_name);
  }
  return RnnGeometry{mode, gx[0], gx[1], H, G};
}

namespace {

void recurrent_forward_ref(const RecurrentArgs& a) { recurrent_forward_kernel<simd::Scalar>(a, Isa::ref); }
void recurrent_backward_ref(const RecurrentArgs& a) { recurrent_backward_kernel<simd::Scalar>(a, Isa::ref); }

}  // namespace

const Registry<RecurrentArgs>& recurrent_forward_registry() {
  static const Registry<RecurrentArgs> r("recurrent_forward",
                                         {DLCORE_AVX512_IMPL("recurrent_forward_avx512", recurrent_forward_avx512)
                                              DLCORE_AVX2_IMPL("recurrent_forward_avx2", recurrent_forward_avx2){
                                                  "recurrent_forward_ref", Isa::ref, nullptr, recurrent_forward_ref}});
  return r;
}

const Registry<RecurrentArgs>& recurrent_backward_registry() {
  static const Registry<RecurrentArgs> r(
      "recurrent_backward", {DLCORE_AVX512_IMPL("recurrent_backward_avx512", recurrent_backward_avx512)
                                 DLCORE_AVX2_IMPL("recurrent_backward_avx2", recurrent_backward_avx2){
                                     "recurrent_backward_ref", Isa::ref, nullptr, recurrent_backward_ref}});
  return r;
}

}  // namespace dlcore
