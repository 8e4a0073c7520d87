# dlcore._onednn: our bindings over oneDNN (PyPI onednn-devel-cpu-gomp at build
# time, onednn-cpu-gomp at run time). DLCORE_ONEDNN = ON | OFF | AUTO.
#
# Where oneDNN is searched (first hit wins):
#   - dnnl_DIR / CMAKE_PREFIX_PATH given by the caller;
#   - the prefix of the running Python (sysconfig "data": a venv, the system,
#     or pip's isolated build environment, where build-system.requires puts
#     onednn-devel-cpu-gomp's include/, lib/ and lib/cmake/dnnl/);
#   - the user scheme prefix (pip install --user puts data files under ~/.local).
# AUTO builds the module only on x86-64 Linux (the PyPI wheels exist only
# there) and only when oneDNN is found; ON fails loudly when it is not.
file(GLOB DLCORE_ONEDNN_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/csrc/onednn/*.cpp)
if(DLCORE_ONEDNN STREQUAL "OFF")
  message(STATUS "dlcore: _onednn disabled (DLCORE_ONEDNN=OFF)")
  return()
endif()
if(NOT DLCORE_ONEDNN_SOURCES)
  message(STATUS "dlcore: _onednn has no sources; not built")
  return()
endif()
if(DLCORE_ONEDNN STREQUAL "AUTO" AND NOT (DLCORE_X86 AND CMAKE_SYSTEM_NAME STREQUAL "Linux"))
  message(STATUS "dlcore: _onednn is built only on x86-64 Linux by default; not built here")
  return()
endif()

execute_process(
  COMMAND ${Python_EXECUTABLE} -c
    "import sysconfig, site; print(sysconfig.get_paths()['data']); print(site.getuserbase())"
  OUTPUT_VARIABLE _dlcore_py_prefixes OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
string(REPLACE "\n" ";" _dlcore_py_prefixes "${_dlcore_py_prefixes}")
list(APPEND CMAKE_PREFIX_PATH ${_dlcore_py_prefixes})
find_package(dnnl 3 CONFIG QUIET)
if(NOT dnnl_FOUND)
  if(DLCORE_ONEDNN STREQUAL "ON")
    message(FATAL_ERROR "dlcore: DLCORE_ONEDNN=ON but oneDNN 3.x (dnnl CMake config) was not found "
                        "under ${_dlcore_py_prefixes}; pip install onednn-devel-cpu-gomp, or set dnnl_DIR")
  endif()
  message(STATUS "dlcore: oneDNN not found under ${_dlcore_py_prefixes}; _onednn not built")
  return()
endif()
message(STATUS "dlcore: building _onednn against oneDNN ${dnnl_VERSION} (${dnnl_DIR})")

pybind11_add_module(_onednn MODULE NO_EXTRAS ${DLCORE_ONEDNN_SOURCES})
target_include_directories(_onednn PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/csrc)
target_link_libraries(_onednn PRIVATE DNNL::dnnl OpenMP::OpenMP_CXX)
target_compile_options(_onednn PRIVATE -O2 -Wall -Wextra -Wno-unused-parameter)
# Second line of defence after dlcore/_onednn_loader.py (which preloads the
# libdnnl that pip's RECORD names): pip puts libdnnl in <prefix>/lib and us in
# <prefix>/lib/pythonX.Y/site-packages/dlcore, three levels up. Also the
# --target layout (<target>/dlcore next to <target>/lib is not standard, so
# that case relies on the loader).
set_target_properties(_onednn PROPERTIES
  INSTALL_RPATH "$ORIGIN/../../..;$ORIGIN/../lib"
  BUILD_WITH_INSTALL_RPATH OFF)
install(TARGETS _onednn LIBRARY DESTINATION dlcore)
