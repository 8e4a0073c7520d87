// Activations: the reference instantiation (simd::Scalar, baseline flags)
// and the registries, fastest first, reference last. Every implementation
// accepts every (already checked) input, so none declines.
#include "ops/eltwise/eltwise.h"

#include "ops/eltwise/eltwise_kernels.h"
#include "ops/eltwise/impl_list.h"

namespace dlcore {
namespace {

void eltwise_ref(const EltwiseArgs& a) { eltwise_kernel<simd::Scalar>(a); }
void prelu_forward_ref(const PreluArgs& a) { prelu_forward_kernel<simd::Scalar>(a); }
void prelu_backward_ref(const PreluArgs& a) { prelu_backward_kernel<simd::Scalar>(a); }
void maxout_forward_ref(const MaxoutArgs& a) { maxout_forward_kernel<simd::Scalar>(a); }
void maxout_backward_ref(const MaxoutArgs& a) { maxout_backward_kernel<simd::Scalar>(a); }

}  // namespace

const char* eltwise_op_name(EltwiseOp op) {
  static const char* const names[] = {
      "relu_forward", "relu_backward", "sigmoid_forward", "sigmoid_backward", "tanh_forward", "tanh_backward",
      "elu_forward",  "elu_backward",  "abs_forward",     "abs_backward",     "vexp",         "vlog",
      "vtanh"};
  static_assert(sizeof(names) / sizeof(names[0]) == int(EltwiseOp::count), "one name per op");
  return names[int(op)];
}

const Registry<EltwiseArgs>& eltwise_registry(EltwiseOp op) {
  static const std::vector<Registry<EltwiseArgs>> registries = [] {
    std::vector<Registry<EltwiseArgs>> r;
    for (int i = 0; i < int(EltwiseOp::count); ++i)
      r.emplace_back(
          eltwise_op_name(EltwiseOp(i)),
          std::vector<Impl<EltwiseArgs>>{DLCORE_AVX512_IMPL("eltwise_avx512", eltwise_avx512) DLCORE_AVX2_IMPL(
              "eltwise_avx2", eltwise_avx2){"eltwise_ref", Isa::ref, nullptr, eltwise_ref}});
    return r;
  }();
  return registries[int(op)];
}

const Registry<PreluArgs>& prelu_forward_registry() {
  static const Registry<PreluArgs> r(
      "prelu_forward",
      {DLCORE_AVX512_IMPL("prelu_forward_avx512", prelu_forward_avx512) DLCORE_AVX2_IMPL(
          "prelu_forward_avx2", prelu_forward_avx2){"prelu_forward_ref", Isa::ref, nullptr, prelu_forward_ref}});
  return r;
}

const Registry<PreluArgs>& prelu_backward_registry() {
  static const Registry<PreluArgs> r(
      "prelu_backward",
      {DLCORE_AVX512_IMPL("prelu_backward_avx512", prelu_backward_avx512) DLCORE_AVX2_IMPL(
          "prelu_backward_avx2", prelu_backward_avx2){"prelu_backward_ref", Isa::ref, nullptr, prelu_backward_ref}});
  return r;
}

const Registry<MaxoutArgs>& maxout_forward_registry() {
  static const Registry<MaxoutArgs> r(
      "maxout_forward",
      {DLCORE_AVX512_IMPL("maxout_forward_avx512", maxout_forward_avx512) DLCORE_AVX2_IMPL(
          "maxout_forward_avx2", maxout_forward_avx2){"maxout_forward_ref", Isa::ref, nullptr, maxout_forward_ref}});
  return r;
}

const Registry<MaxoutArgs>& maxout_backward_registry() {
  static const Registry<MaxoutArgs> r("maxout_backward",
                                      {DLCORE_AVX512_IMPL("maxout_backward_avx512", maxout_backward_avx512)
                                           DLCORE_AVX2_IMPL("maxout_backward_avx2", maxout_backward_avx2){
                                               "maxout_backward_ref", Isa::ref, nullptr, maxout_backward_ref}});
  return r;
}

}  // namespace dlcore
