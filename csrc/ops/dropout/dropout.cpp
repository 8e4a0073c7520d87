// Dropout: the reference instantiation (simd::Scalar, baseline flags) and the
// registries, fastest first, reference last.
#include "ops/dropout/dropout.h"

#include "ops/dropout/dropout_kernels.h"
#include "ops/eltwise/impl_list.h"

namespace dlcore {
namespace {

void dropout_ref(const DropoutArgs& a) { dropout_kernel<simd::Scalar>(a); }

Registry<DropoutArgs> make_registry(const char* op) {
  return Registry<DropoutArgs>(op, {DLCORE_AVX512_IMPL("dropout_avx512", dropout_avx512) DLCORE_AVX2_IMPL(
                                       "dropout_avx2", dropout_avx2){"dropout_ref", Isa::ref, nullptr, dropout_ref}});
}

}  // namespace

const Registry<DropoutArgs>& dropout_registry(bool forward) {
  static const Registry<DropoutArgs> fwd = make_registry("dropout_forward");
  static const Registry<DropoutArgs> bwd = make_registry("dropout_backward");
  return forward ? fwd : bwd;
}

}  // namespace dlcore
