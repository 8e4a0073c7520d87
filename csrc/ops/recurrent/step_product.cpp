// StepProduct (step_product.h): baseline code; the packing and the
// micro-kernels it calls are the ISA's own (compiled with its flags).
#include "ops/recurrent/step_product.h"

#include <algorithm>

#include "core/parallel.h"
#include "gemm/blocksizes.h"
#include "gemm/gemm.h"

namespace dlcore {

StepProduct::StepProduct(Isa isa, const float* w, int64_t ldw, bool trans, int64_t k, int64_t n)
    : kern_(gemm_kernel_for(isa)), k_(k), n_(n), panels_((n + kern_.nr - 1) / kern_.nr) {
  const int nr = kern_.nr;
  w_packed_.resize(size_t(panels_ * k * nr + kPackSlack));
  for (int64_t j = 0; j < panels_; ++j)
    kern_.pack_b(w, ldw, trans, 0, k, j * nr, int(std::min<int64_t>(nr, n - j * nr)), nr,
                 w_packed_.data() + j * k * nr);
}

void StepProduct::run(const float* a, int64_t lda, int64_t m, float* c, int64_t ldc, float beta) {
  const int mr = kern_.mr, nr = kern_.nr;
  const int64_t row_tiles = (m + mr - 1) / mr;
  a_packed_.resize(size_t(row_tiles * k_ * mr + kPackSlack));
  for (int64_t i = 0; i < row_tiles; ++i)
    kern_.pack_a(a, lda, false, i * mr, int(std::min<int64_t>(mr, m - i * mr)), 0, k_, mr,
                 a_packed_.data() + i * k_ * mr);
  // A column panel a tile: below ~2 MFLOP a second thread costs more than it saves (the GEMM's own limit).
  const int64_t flops = 2 * m * n_ * k_;
  const int nt = int(std::min<int64_t>({int64_t(get_num_threads()), panels_, std::max<int64_t>(1, flops >> 21)}));
  parallel_tiles(panels_, nt, [&](int64_t j) {
    const float* bp = w_packed_.data() + j * k_ * nr;
    const int cols = int(std::min<int64_t>(nr, n_ - j * nr));
    alignas(64) float tile[32 * 32];  // the widest register tile (AVX-512: 12 x 32)
    for (int64_t i = 0; i < row_tiles; ++i) {
      const float* ap = a_packed_.data() + i * k_ * mr;
      float* cp = c + i * mr * ldc + j * nr;
      const int rows = int(std::min<int64_t>(mr, m - i * mr));
      if (rows == mr && cols == nr) {
        kern_.ukernel(k_, ap, bp, cp, ldc, 1.0f, beta);
      } else if (cols == nr && kern_.edge_rows) {
        kern_.edge_rows[rows](k_, ap, bp, cp, ldc, 1.0f, beta);
      } else {  // a partial tile through the buffer: the micro-kernel never writes outside C
        kern_.ukernel(k_, ap, bp, tile, nr, 1.0f, 0.0f);
        for (int r = 0; r < rows; ++r)
          for (int q = 0; q < cols; ++q)
            cp[r * ldc + q] = beta == 0.0f ? tile[r * nr + q] : tile[r * nr + q] + beta * cp[r * ldc + q];
      }
    }
  });
}

}  // namespace dlcore
