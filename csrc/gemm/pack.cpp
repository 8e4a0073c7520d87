#include "gemm/pack.h"

#include <cstring>

namespace dlcore {

void pack_a_panel(const float* a, int64_t lda, bool trans_a, int64_t row0, int rows,
                  int64_t col0, int64_t kc, int mr, float* dst) {
  if (trans_a) {
    // op(A)(i, p) = A[p, i]: each k step reads `rows` contiguous floats.
    for (int64_t p = 0; p < kc; ++p) {
      const float* src = a + (col0 + p) * lda + row0;
      float* d = dst + p * mr;
      int i = 0;
      for (; i < rows; ++i) d[i] = src[i];
      for (; i < mr; ++i) d[i] = 0.0f;
    }
    return;
  }
  // op(A)(i, p) = A[i, p]: read each row contiguously, scatter with stride mr.
  for (int i = 0; i < rows; ++i) {
    const float* src = a + (row0 + i) * lda + col0;
    for (int64_t p = 0; p < kc; ++p) dst[p * mr + i] = src[p];
  }
  for (int i = rows; i < mr; ++i)
    for (int64_t p = 0; p < kc; ++p) dst[p * mr + i] = 0.0f;
}

void pack_b_panel(const float* b, int64_t ldb, bool trans_b, int64_t row0, int64_t kc,
                  int64_t col0, int cols, int nr, float* dst) {
  if (!trans_b) {
    // op(B)(p, j) = B[p, j]: each k step copies `cols` contiguous floats.
    for (int64_t p = 0; p < kc; ++p) {
      const float* src = b + (row0 + p) * ldb + col0;
      float* d = dst + p * nr;
      std::memcpy(d, src, sizeof(float) * cols);
      for (int j = cols; j < nr; ++j) d[j] = 0.0f;
    }
    return;
  }
  // op(B)(p, j) = B[j, p]: read each row of B contiguously, scatter by nr.
  for (int j = 0; j < cols; ++j) {
    const float* src = b + (col0 + j) * ldb + row0;
    for (int64_t p = 0; p < kc; ++p) dst[p * nr + j] = src[p];
  }
  for (int j = cols; j < nr; ++j)
    for (int64_t p = 0; p < kc; ++p) dst[p * nr + j] = 0.0f;
}

}  // namespace dlcore
