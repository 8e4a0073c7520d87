// dlcore._cuda: our CUDA kernels on CuPy arrays.
//
// The CUDA runtime is linked statically, so loading this module needs no CUDA
// library at all; the driver (libcuda) is opened by the runtime on the first
// CUDA call. On a machine without a driver or GPU the module still imports and
// probe() says why it cannot run; dlcore._backends turns that into
// BackendUnavailableError. `import dlcore` never imports this module.
#include <pybind11/pybind11.h>

#include <string>

#include "bindings/exceptions.h"
#include "core/check.h"
#include "cuda/bind.h"
#include "cuda/error.h"
#include "cuda/kernels.h"

namespace py = pybind11;

namespace dlcore {
namespace cuda {

// The oldest GPUs our machine code runs on (sm_80 SASS; PTX only for 9.0+).
constexpr int kMinMajor = 8;

static std::string version_string(int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); }

// "" when the current GPU can run our kernels on CuPy arrays, else the reason.
static std::string probe() {
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    cudaGetLastError();
    std::string reason = std::string(cudaGetErrorName(err)) + ": " + cudaGetErrorString(err);
    if (err == cudaErrorInsufficientDriver || err == cudaErrorNoDevice) {
      int runtime = 0;
      cudaRuntimeGetVersion(&runtime);
      reason +=
          " (no NVIDIA driver or GPU found, or a driver older than this module's CUDA " + version_string(runtime) + ")";
    }
    return reason;
  }
  if (count == 0) return "no CUDA device is visible";
  int device = 0;
  cudaDeviceProp prop{};
  if ((err = cudaGetDevice(&device)) != cudaSuccess || (err = cudaGetDeviceProperties(&prop, device)) != cudaSuccess) {
    cudaGetLastError();
    return std::string("cannot query the GPU: ") + cudaGetErrorString(err);
  }
  if (prop.major < kMinMajor)
    return std::string(prop.name) + " has compute capability " + std::to_string(prop.major) + "." +
           std::to_string(prop.minor) + "; dlcore._cuda is built for 8.0 and newer";
  try {
    py::module_::import("cupy");
  } catch (const py::error_already_set& e) {
    return std::string("CuPy cannot be imported (pip install 'dlcore[cuda]'): ") + e.what();
  }
  return "";
}

// The GPU CuPy (and so every kernel here) uses, for dlcore.backends().
static py::dict describe() {
  int device = 0;
  try {
    device = py::module_::import("cupy").attr("cuda").attr("runtime").attr("getDevice")().cast<int>();
  } catch (const py::error_already_set&) {
    DLCORE_CUDA_CHECK(cudaGetDevice(&device));
  }
  cudaDeviceProp prop{};
  DLCORE_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  int runtime = 0, driver = 0;
  DLCORE_CUDA_CHECK(cudaRuntimeGetVersion(&runtime));
  DLCORE_CUDA_CHECK(cudaDriverGetVersion(&driver));
  py::dict info;
  info["device"] = std::string(prop.name);
  info["device_index"] = device;
  info["compute_capability"] = std::to_string(prop.major) + "." + std::to_string(prop.minor);
  info["multiprocessors"] = prop.multiProcessorCount;
  info["memory_gib"] = double(prop.totalGlobalMem) / double(1ull << 30);
  info["cuda_runtime"] = version_string(runtime);
  info["cuda_driver"] = version_string(driver);
  return info;
}

int multiprocessor_count() {
  int device = 0, count = 0;
  DLCORE_CUDA_CHECK(cudaGetDevice(&device));
  DLCORE_CUDA_CHECK(cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, device));
  return count;
}

}  // namespace cuda
}  // namespace dlcore

PYBIND11_MODULE(_cuda, m) {
  m.doc() = "dlcore CUDA kernels on CuPy arrays (launched on CuPy's current stream)";

  dlcore::register_dlcore_exceptions(dlcore::dlcore_backend_error());

  m.def("probe", &dlcore::cuda::probe,
        "'' when a GPU (compute capability 8.0+) and CuPy are usable here, else the reason");
  m.def("describe", &dlcore::cuda::describe,
        "The GPU CuPy uses: name, compute capability, multiprocessors, memory, CUDA runtime/driver versions");

  dlcore::cuda::init_gemm(m);
  dlcore::cuda::init_eltwise(m);
  dlcore::cuda::init_softmax(m);
  dlcore::cuda::init_dropout(m);
  dlcore::cuda::init_norm(m);
  dlcore::cuda::init_pool(m);
  dlcore::cuda::init_lrn(m);
  dlcore::cuda::init_conv(m);
}
