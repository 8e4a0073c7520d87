// CUDA runtime errors as C++ exceptions (host code only; g++ and nvcc both
// include this). pybind11 turns std::runtime_error into Python's RuntimeError,
// so the message (the failing call, file:line, cudaGetErrorString) reaches
// the user instead of a silent wrong result.
#pragma once
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace dlcore {
namespace cuda {

// A failed CUDA runtime call. pybind11 turns std::runtime_error into Python's
// RuntimeError, so the message (call site + cudaGetErrorString) reaches the user.
[[noreturn]] inline void throw_cuda_error(cudaError_t err, const char* what, const char* file, int line) {
  throw std::runtime_error(std::string("CUDA error in ") + what + " (" + file + ":" + std::to_string(line) +
                           "): " + cudaGetErrorName(err) + ": " + cudaGetErrorString(err));
}

}  // namespace cuda
}  // namespace dlcore

// DLCORE_CUDA_CHECK(cudaMemsetAsync(...)) -> RuntimeError naming the call on failure.
#define DLCORE_CUDA_CHECK(call)                                                                               \
  do {                                                                                                        \
    cudaError_t dlcore_err_ = (call);                                                                         \
    if (dlcore_err_ != cudaSuccess) ::dlcore::cuda::throw_cuda_error(dlcore_err_, #call, __FILE__, __LINE__); \
  } while (0)

// After every <<<...>>>: a bad configuration shows up here, not at the next sync.
#define DLCORE_CUDA_CHECK_LAUNCH(kernel_name)                                                      \
  do {                                                                                             \
    cudaError_t dlcore_err_ = cudaGetLastError();                                                  \
    if (dlcore_err_ != cudaSuccess)                                                                \
      ::dlcore::cuda::throw_cuda_error(dlcore_err_, "launch of " kernel_name, __FILE__, __LINE__); \
  } while (0)
