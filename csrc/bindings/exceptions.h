// The one mapping of dlcore's C++ exceptions to Python, shared by every
// extension module (_C, _onednn, _cuda): ValueError, TypeError, and
// dlcore.BackendUnavailableError (a RuntimeError subclass defined by _C, so
// all modules raise the same Python class).
#pragma once
#include <pybind11/pybind11.h>

#include "core/check.h"

namespace dlcore {

// Registers the translator; `backend_error` is the Python exception class for
// BackendError. Modules may register further translators after this one (for
// their own library's errors): pybind11 tries the newest first.
inline void register_dlcore_exceptions(pybind11::handle backend_error) {
  static PyObject* backend_error_type = nullptr;
  backend_error_type = backend_error.ptr();
  pybind11::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const ValueError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const TypeError& e) {
      PyErr_SetString(PyExc_TypeError, e.what());
    } catch (const BackendError& e) {
      PyErr_SetString(backend_error_type, e.what());
    }
  });
}

// The BackendUnavailableError class, imported from dlcore._C (for the optional modules).
inline pybind11::object dlcore_backend_error() {
  return pybind11::module_::import("dlcore._C").attr("BackendUnavailableError");
}

}  // namespace dlcore
