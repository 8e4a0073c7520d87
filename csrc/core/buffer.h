// Aligned scratch memory for packing and blocked layouts.
#pragma once
#include <cstddef>
#include <cstdlib>
#include <new>

namespace dlcore {

// A grow-only, 64-byte-aligned float buffer. Kernels keep one per calling
// thread (thread_local) so repeated calls do not pay for allocation and page
// faults, while concurrent calls from different threads never share one.
class ScratchBuffer {
 public:
  ScratchBuffer() = default;
  ScratchBuffer(const ScratchBuffer&) = delete;
  ScratchBuffer& operator=(const ScratchBuffer&) = delete;
  ~ScratchBuffer() { std::free(data_); }

  float* get(size_t count) {
    if (count > capacity_) {
      std::free(data_);
      size_t bytes = ((count * sizeof(float) + 63) / 64) * 64;
      data_ = static_cast<float*>(std::aligned_alloc(64, bytes));
      if (!data_) {
        capacity_ = 0;
        throw std::bad_alloc();
      }
      capacity_ = count;
    }
    return data_;
  }

 private:
  float* data_ = nullptr;
  size_t capacity_ = 0;
};

}  // namespace dlcore
