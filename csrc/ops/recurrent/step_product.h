// The per-step product of a recurrent layer with its weights packed once per
// call: C (m x n) = op(A) op(W) (+ beta C), op(A) = A's rows in place (lda
// apart), op(W) the same matrix at every step (W_hh^T forward, W_hh backward).
//
// Why not gemm() per step: it packs op(W) into panels on every call, and at
// a step's shapes (m = the batch, 8..64 rows) that copy of the whole weight
// matrix is a large share of the work (8 x 256 x 64: one pass over 64 KiB of
// weights for 262K flops). Here the panels are packed once (the GEMM's own
// pack_b, same layout) and each step packs only A (m x k, small) and runs
// the ISA's micro-kernel over the tiles.
//
// Each mr x nr tile of C is one micro-kernel call over the whole k (no k
// blocks: k is H or G*H, at most a few thousand), computed by one thread:
// bitwise the same on any thread count.
#pragma once
#include <cstdint>
#include <vector>

#include "core/cpu.h"

namespace dlcore {

struct GemmKernel;

class StepProduct {
 public:
  // op(W) (k x n): W^T of a row-major W (n x k) when trans, else W (k x n); ldw its row stride.
  StepProduct(Isa isa, const float* w, int64_t ldw, bool trans, int64_t k, int64_t n);
  // C = op(A) op(W) + beta C for A (m x k, rows lda apart); threads over column panels when it pays.
  void run(const float* a, int64_t lda, int64_t m, float* c, int64_t ldc, float beta);

 private:
  const GemmKernel& kern_;
  int64_t k_, n_, panels_;
  std::vector<float> w_packed_;  // panels_ panels of k x nr
  std::vector<float> a_packed_;  // the step's A, ceil(m / mr) panels of k x mr
};

}  // namespace dlcore
