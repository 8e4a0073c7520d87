// dlcore._C: the CPU module. Each op family registers itself through its own
// bind_<family>.cpp; this file only wires them up and maps exceptions.
#include <pybind11/pybind11.h>

#include "bindings/init.h"
#include "core/check.h"

namespace py = pybind11;

PYBIND11_MODULE(_C, m) {
  m.doc() = "dlcore CPU kernels (reference, AVX2, AVX-512), dispatched at run time by CPUID";

  static py::exception<dlcore::BackendError> backend_error(m, "BackendUnavailableError", PyExc_RuntimeError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const dlcore::ValueError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const dlcore::TypeError& e) {
      PyErr_SetString(PyExc_TypeError, e.what());
    } catch (const dlcore::BackendError& e) {
      py::set_error(backend_error, e.what());
    }
  });

  dlcore::init_core(m);
  dlcore::init_gemm(m);
  dlcore::init_eltwise(m);
  dlcore::init_norm(m);
  dlcore::init_softmax(m);
  dlcore::init_stream(m);
  dlcore::init_pool(m);
  dlcore::init_lrn(m);
  dlcore::init_conv(m);
}
