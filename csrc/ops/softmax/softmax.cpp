// Softmax: the reference instantiation (simd::Scalar, baseline flags) and the
// registries, fastest first, reference last.
#include "ops/softmax/softmax.h"

#include "ops/eltwise/impl_list.h"
#include "ops/softmax/softmax_kernels.h"

namespace dlcore {
namespace {

void softmax_ref(const SoftmaxArgs& a) { softmax_kernel<simd::Scalar>(a); }

Registry<SoftmaxArgs> make_registry(const char* op) {
  return Registry<SoftmaxArgs>(op, {
      DLCORE_AVX512_IMPL("softmax_avx512", softmax_avx512)
      DLCORE_AVX2_IMPL("softmax_avx2", softmax_avx2)
      {"softmax_ref", Isa::ref, nullptr, softmax_ref}});
}

}  // namespace

const Registry<SoftmaxArgs>& softmax_registry(SoftmaxOp op) {
  static const Registry<SoftmaxArgs> registries[] = {
      make_registry("softmax_forward"), make_registry("log_softmax_forward"),
      make_registry("softmax_backward"), make_registry("log_softmax_backward"),
      make_registry("cross_entropy_forward"), make_registry("cross_entropy_backward")};
  return registries[int(op)];
}

}  // namespace dlcore
