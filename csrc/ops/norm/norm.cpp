// Batch normalization: the reference instantiation (simd::Scalar, baseline
// flags) and the registries, fastest first, reference last.
#include "ops/norm/norm.h"

#include "ops/eltwise/impl_list.h"
#include "ops/norm/norm_kernels.h"

namespace dlcore {
namespace {

void batch_norm_ref(const BatchNormArgs& a) { batch_norm_kernel<simd::Scalar>(a); }

Registry<BatchNormArgs> make_registry(const char* op) {
  return Registry<BatchNormArgs>(
      op, {DLCORE_AVX512_IMPL("batch_norm_avx512", batch_norm_avx512) DLCORE_AVX2_IMPL(
              "batch_norm_avx2", batch_norm_avx2){"batch_norm_ref", Isa::ref, nullptr, batch_norm_ref}});
}

}  // namespace

const Registry<BatchNormArgs>& batch_norm_registry(BatchNormOp op) {
  static const Registry<BatchNormArgs> training = make_registry("batch_norm_forward_training");
  static const Registry<BatchNormArgs> inference = make_registry("batch_norm_forward_inference");
  static const Registry<BatchNormArgs> backward = make_registry("batch_norm_backward");
  switch (op) {
    case BatchNormOp::forward_training:
      return training;
    case BatchNormOp::forward_inference:
      return inference;
    default:
      return backward;
  }
}

}  // namespace dlcore
