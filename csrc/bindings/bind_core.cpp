// Machine facts, threads, verbosity and dispatch introspection.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "bindings/array.h"
#include "bindings/init.h"
#include "core/cpu.h"
#include "core/peak.h"
#include "core/threads.h"
#include "dispatch/registry.h"
#include "gemm/gemm.h"

namespace py = pybind11;

namespace dlcore {

static Isa isa_from_name(const std::string& name) {
  for (Isa isa : kAllIsas)
    if (name == isa_name(isa)) return isa;
  throw ValueError(cat("unknown ISA '", name, "' (expected one of the keys of dlcore._C.isa_info())"));
}

void init_core(py::module_& m) {
  m.def("set_num_threads", &set_num_threads, py::arg("n"));
  m.def("get_num_threads", &get_num_threads);
  m.def("set_verbose", &set_verbose, py::arg("on"));
  def_host_cache(m);
  m.def("verbose", &verbose_enabled);
  m.def("last_dispatch", &last_dispatch,
        "'<op>:<implementation>' chosen by the last kernel call on this thread");
  m.def("last_dispatch_declined", [] {
    // "<impl> declined: <reason>; ..." -> [(impl, reason), ...], in list order.
    py::list out;
    const std::string all = last_dispatch_declined();
    size_t pos = 0;
    while (pos < all.size()) {
      size_t end = all.find("; ", pos);
      if (end == std::string::npos) end = all.size();
      const std::string item = all.substr(pos, end - pos);
      const size_t sep = item.find(" declined: ");
      if (sep != std::string::npos) out.append(py::make_tuple(item.substr(0, sep), item.substr(sep + 11)));
      pos = end + 2;
    }
    return out;
  }, "[(implementation, reason), ...]: why the entries listed before the last choice on this thread declined");
  m.def("cpu_brand", &cpu_brand);
  m.def("best_isa", [] { return std::string(isa_name(best_isa())); });
  m.def("isa_info", [] {
    py::dict out;
    for (Isa isa : kAllIsas) {
      py::dict d;
      d["built"] = isa_built(isa);
      d["available"] = isa_built(isa) && isa_supported(isa);
      std::string why = isa_unavailable_reason(isa);
      if (!why.empty()) d["reason"] = why;
      if (isa_emulated(isa)) {  // the ISA emulation test build: say so wherever availability is shown
        d["emulated"] = true;
        if (why.empty()) d["reason"] = isa_emulation_note(isa);
      }
      out[isa_name(isa)] = d;
    }
    return out;
  });
  m.def("fma_peak_gflops",
        [](const std::string& isa, int threads, int64_t iterations) {
          Isa i = isa_from_name(isa);
          py::gil_scoped_release nogil;
          return fma_peak_gflops(i, threads, iterations);
        },
        py::arg("isa"), py::arg("threads"), py::arg("iterations") = 20000000);
}

}  // namespace dlcore
