// dlcore._C: the CPU module. Each op family registers itself through its own
// bind_<family>.cpp; this file only wires them up and maps exceptions.
#include <pybind11/pybind11.h>

#include "bindings/exceptions.h"
#include "bindings/init.h"
#include "core/check.h"

namespace py = pybind11;

PYBIND11_MODULE(_C, m) {
  m.doc() = "dlcore CPU kernels (reference, AVX2, AVX-512), dispatched at run time by CPUID";

  static py::exception<dlcore::BackendError> backend_error(m, "BackendUnavailableError", PyExc_RuntimeError);
  dlcore::register_dlcore_exceptions(backend_error);

  dlcore::init_core(m);
  dlcore::init_gemm(m);
  dlcore::init_eltwise(m);
  dlcore::init_norm(m);
  dlcore::init_softmax(m);
  dlcore::init_stream(m);
  dlcore::init_pool(m);
  dlcore::init_lrn(m);
  dlcore::init_conv(m);
  dlcore::init_dropout(m);
  dlcore::init_lowbit(m);
  dlcore::init_cast(m);
  dlcore::init_optim(m);
  dlcore::init_recurrent(m);
}
