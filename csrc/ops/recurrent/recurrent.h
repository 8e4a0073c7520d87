// Fused recurrent layers (RNN tanh/relu, LSTM, GRU): one call runs a whole
// layer direction over the sequence, forward or backpropagation through time.
//
// Layout (PyTorch's gate order, the same as python/dlcore/ops/recurrent.py):
//   gx   (L, N, G*H)  the input projection x W_ih^T + b_ih of every step
//   w_hh (G*H, H)     b_hh (G*H,) or none;  h0, c0 (N, H) (c0: LSTM only)
//   out  (L, N, H)    hidden states; LSTM (L, N, 2H): [h_t | c_t] per step
//   gates (L, N, 4H)  what backward needs besides out: LSTM the activated
//                     i, f, g, o; GRU r, z, n (the candidate) and the hidden
//                     projection of n (h W_hn^T + b_hn); RNN none
// Each step is one product h W_hh^T (W_hh packed once per call: step_product.h)
// and one element-wise pass over the N x H cells that adds gx and b_hh and
// applies the cell. Backward returns
// d gx (L, N, G*H), for GRU also d gh (the hidden projection's gradient, which
// differs from d gx in the candidate's columns), and dh0 / dc0; the caller
// computes W_hh's gradient as one GEMM over all steps.
//
// Results do not depend on the thread count: the GEMM keeps each output's
// sum in one fixed order and the cell pass is element-wise.
#pragma once
#include <cstdint>
#include <string>

#include "core/check.h"
#include "dispatch/registry.h"

namespace dlcore {

enum class RnnMode { rnn_tanh, rnn_relu, lstm, gru };

// "RNN_TANH", "RNN_RELU", "LSTM", "GRU" (torch's mode names); ValueError otherwise.
RnnMode parse_rnn_mode(const std::string& mode, const char* op);
int rnn_gates(RnnMode mode);        // G: 1, 1, 4, 3
int rnn_saved_gates(RnnMode mode);  // columns of H in `gates`: 0 (RNN), 4 (LSTM, GRU)

// The one check of the family's shapes (every binding calls it, with the GIL
// held). -1 for an absent optional array (b_hh, c0). Returns the geometry.
struct RnnGeometry {
  RnnMode mode;
  int64_t steps, batch, hidden, gates;
  int64_t out_cols() const { return mode == RnnMode::lstm ? 2 * hidden : hidden; }
};
RnnGeometry recurrent_geometry(const char* op, const std::string& mode, const Shape& gx, const Shape& w_hh,
                               const Shape* b_hh, const Shape& h0, const Shape* c0);

struct RecurrentArgs {
  RnnGeometry geo{};
  bool reverse = false;
  const float* w_hh = nullptr;
  const float* b_hh = nullptr;  // may be null
  const float* h0 = nullptr;
  const float* c0 = nullptr;  // LSTM only
  // forward
  const float* gx = nullptr;
  float* out = nullptr;
  float* gates = nullptr;  // null for RNN
  // backward (reads out, gates, h0, c0, w_hh)
  const float* dout = nullptr;
  const float* out_saved = nullptr;
  const float* gates_saved = nullptr;
  float* d_gx = nullptr;
  float* d_gh = nullptr;  // GRU only
  float* dh0 = nullptr;
  float* dc0 = nullptr;  // LSTM only
};

const Registry<RecurrentArgs>& recurrent_forward_registry();
const Registry<RecurrentArgs>& recurrent_backward_registry();

void recurrent_forward_avx2(const RecurrentArgs& a);
void recurrent_backward_avx2(const RecurrentArgs& a);
void recurrent_forward_avx512(const RecurrentArgs& a);
void recurrent_backward_avx512(const RecurrentArgs& a);

}  // namespace dlcore
