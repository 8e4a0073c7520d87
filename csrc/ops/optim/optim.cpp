// Fused optimizer steps: the reference instantiation (simd::Scalar, baseline
// flags) and the registries, fastest first, reference last.
#include "ops/optim/optim.h"

#include "ops/eltwise/impl_list.h"
#include "ops/optim/optim_kernels.h"

namespace dlcore {
namespace {

void optim_step_ref(const OptimArgs& a) { optim_kernel<simd::Scalar>(a); }

Registry<OptimArgs> make_registry(const char* op) {
  return Registry<OptimArgs>(
      op, {DLCORE_AVX512_IMPL("optim_step_avx512", optim_step_avx512) DLCORE_AVX2_IMPL(
              "optim_step_avx2", optim_step_avx2){"optim_step_ref", Isa::ref, nullptr, optim_step_ref}});
}

}  // namespace

const Registry<OptimArgs>& optim_registry(OptimKind kind) {
  static const Registry<OptimArgs> sgd = make_registry("sgd_step");
  static const Registry<OptimArgs> adam = make_registry("adam_step");
  static const Registry<OptimArgs> adadelta = make_registry("adadelta_step");
  switch (kind) {
    case OptimKind::adam:
      return adam;
    case OptimKind::adadelta:
      return adadelta;
    default:
      return sgd;
  }
}

}  // namespace dlcore
