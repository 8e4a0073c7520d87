// dlcore._onednn: the kernel API of docs/KERNEL_API.md over Intel oneDNN.
// Loaded through dlcore._onednn_loader, which puts libdnnl in the process
// first. Exceptions map like _C's: ValueError, TypeError, and _C's
// BackendUnavailableError (also for what oneDNN itself rejects).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "bindings/array.h"
#include "bindings/exceptions.h"

#include "onednn/common.h"
#include "onednn/ops.h"

namespace py = pybind11;
using namespace dlcore::onednn;

static const char* isa_name(dnnl_cpu_isa_t isa) {
  switch (isa) {
    case dnnl_cpu_isa_sse41:
      return "sse41";
    case dnnl_cpu_isa_avx:
      return "avx";
    case dnnl_cpu_isa_avx2:
      return "avx2";
    case dnnl_cpu_isa_avx2_vnni:
      return "avx2_vnni";
    case dnnl_cpu_isa_avx2_vnni_2:
      return "avx2_vnni_2";
    case dnnl_cpu_isa_avx512_core:
      return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni:
      return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16:
      return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_fp16:
      return "avx512_core_fp16";
    case dnnl_cpu_isa_avx512_core_amx:
      return "avx512_core_amx";
    case dnnl_cpu_isa_avx512_core_amx_fp16:
      return "avx512_core_amx_fp16";
    default:
      return "default";
  }
}

static py::dict describe() {
  const dnnl_version_t* v = dnnl_version();
  py::dict d;
  d["version"] = dlcore::cat(v->major, ".", v->minor, ".", v->patch);
  d["hash"] = std::string(v->hash);
  d["runtime"] = "OpenMP (GNU)";
  d["isa"] = isa_name(dnnl_get_effective_cpu_isa());
  d["primitive_cache"] = dlcore::cat(cache_size(), "/", cache_capacity());
  return d;
}

// "" when usable: creating the engine fails only if the library is broken.
static std::string probe() {
  try {
    cpu_engine();
    return "";
  } catch (const std::exception& e) {
    return dlcore::cat("oneDNN CPU engine cannot be created: ", e.what());
  }
}

PYBIND11_MODULE(_onednn, m) {
  m.doc() = "dlcore kernels over Intel oneDNN (plain NCHW in and out)";

  static py::object backend_error = dlcore::dlcore_backend_error();
  dlcore::register_dlcore_exceptions(backend_error);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const dnnl::error& e) {
      // oneDNN declined the problem (e.g. unimplemented): say so, never fall back.
      PyErr_SetString(backend_error.ptr(), dlcore::cat("oneDNN: ", e.what()).c_str());
    }
  });

  dlcore::def_host_cache(m);
  m.def("describe", &describe, "oneDNN version, runtime and the ISA it dispatches to");
  m.def("probe", &probe, "'' when the backend is usable here, else why not");
  m.def(
      "last_call_info",
      [] {
        const CallInfo& c = last_call();
        py::dict d;
        d["primitive_seconds"] = c.primitive_seconds;
        d["reorder_seconds"] = c.reorder_seconds;
        d["reorders"] = c.reorders;
        d["impl"] = c.impl;
        return d;
      },
      "What the last call on this thread ran: seconds inside the primitive(s) alone, "
      "seconds of layout reorders, reorder count, oneDNN implementation names");
  m.def("cache_info", [] {
    py::dict d;
    d["size"] = cache_size();
    d["capacity"] = cache_capacity();
    d["hits"] = cache_hits();
    d["misses"] = cache_misses();
    return d;
  });
  m.def("set_cache_capacity", [](size_t n) { set_cache_capacity(n); }, py::arg("n"));
  m.def("clear_cache", &clear_cache);

  init_gemm(m);
  init_conv(m);
  init_eltwise(m);
  init_lrn(m);
  init_pool(m);
  init_norm(m);
  init_softmax(m);
  init_int8(m);
}
