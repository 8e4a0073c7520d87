// Packing of op(A) and op(B) into the micro-panel layouts the micro-kernels
// read (see blocksizes.h). Packing makes every micro-kernel load unit-stride
// and zero-pads the edges so the micro-kernel never needs a remainder path.
#pragma once
#include <cstdint>

namespace dlcore {

// Packs rows [row0, row0+rows) x cols [col0, col0+kc) of op(A) into one
// MR-row micro-panel (rows <= mr; rows beyond are zero).
void pack_a_panel(const float* a, int64_t lda, bool trans_a, int64_t row0, int rows,
                  int64_t col0, int64_t kc, int mr, float* dst);

// Packs rows [row0, row0+kc) x cols [col0, col0+cols) of op(B) into one
// NR-column micro-panel (cols <= nr; columns beyond are zero).
void pack_b_panel(const float* b, int64_t ldb, bool trans_b, int64_t row0, int64_t kc,
                  int64_t col0, int cols, int nr, float* dst);

}  // namespace dlcore
