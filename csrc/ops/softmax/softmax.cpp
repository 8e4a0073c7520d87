// Softmax: the reference instantiation (simd::Scalar, baseline flags) and the
// registries, fastest first, reference last.
#include "ops/softmax/softmax.h"

#include "ops/eltwise/impl_list.h"
#include "ops/softmax/softmax_kernels.h"

namespace dlcore {
namespace {

void softmax_ref(const SoftmaxArgs& a) { softmax_kernel<simd::Scalar>(a); }

// The rows algorithm needs the axis innermost (each row contiguous).
std::string declines_rows(const SoftmaxArgs& a) {
  return a.inner == 1
             ? std::string()
             : cat("the axis is not the innermost (", a.inner, " elements after it): rows need a contiguous axis");
}

// Per ISA: rows, then strided (accepts every valid shape); the reference last.
Registry<SoftmaxArgs> make_registry(const char* op) {
  return Registry<SoftmaxArgs>(
      op, {DLCORE_IF_AVX512({"softmax_avx512_rows", Isa::avx512, declines_rows, softmax_rows_avx512},
                            {"softmax_avx512_strided", Isa::avx512, nullptr, softmax_strided_avx512}, )
               DLCORE_IF_AVX2({"softmax_avx2_rows", Isa::avx2, declines_rows, softmax_rows_avx2},
                              {"softmax_avx2_strided", Isa::avx2, nullptr, softmax_strided_avx2}, ){
                   "softmax_ref", Isa::ref, nullptr, softmax_ref}});
}

}  // namespace

const Registry<SoftmaxArgs>& softmax_registry(SoftmaxOp op) {
  static const Registry<SoftmaxArgs> registries[] = {
      make_registry("softmax_forward"),       make_registry("log_softmax_forward"),
      make_registry("softmax_backward"),      make_registry("log_softmax_backward"),
      make_registry("cross_entropy_forward"), make_registry("cross_entropy_backward")};
  return registries[int(op)];
}

}  // namespace dlcore
