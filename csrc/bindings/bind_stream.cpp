// dlcore._C.stream_bandwidth: the machine's measured memory bandwidth (GB/s).
#include <pybind11/pybind11.h>

#include "bindings/init.h"
#include "core/check.h"
#include "core/stream.h"

namespace py = pybind11;

namespace dlcore {

void init_stream(py::module_& m) {
  m.def(
      "stream_bandwidth",
      [](const std::string& kind, int threads, int64_t nbytes) {
        // Validate before releasing the GIL (the probe raises ValueError).
        DLCORE_CHECK(kind == "copy" || kind == "triad", "stream_bandwidth: kind must be 'copy' or 'triad', got '", kind,
                     "'");
        py::gil_scoped_release nogil;
        return stream_bandwidth_gbs(kind, threads, nbytes);
      },
      py::arg("kind"), py::arg("threads"), py::arg("nbytes") = int64_t(128) << 20,
      "STREAM-like bandwidth in GB/s: 'copy' (c = a, counts read + write) or 'triad' "
      "(a = b + q*c, counts 2 reads + 1 write), over arrays of nbytes each, best of 5 passes.");
}

}  // namespace dlcore
