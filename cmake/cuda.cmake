# dlcore._cuda: our CUDA kernels on CuPy arrays. DLCORE_CUDA = ON | OFF | AUTO.
#
# csrc/cuda/*.cu hold the kernels (nvcc, no pybind11: cheap per-architecture
# passes); csrc/cuda/*.cpp the module, argument checks and CuPy glue (g++).
# The CUDA runtime is linked statically, so the module needs only the driver
# (libcuda), which the runtime opens on the first CUDA call: importing the
# module works on a machine without a GPU, and probe() reports why it cannot
# run. `import dlcore` never imports it.
set(DLCORE_CUDA_ARCHITECTURES "80-real;90-real;90-virtual" CACHE STRING
    "GPU targets of dlcore._cuda: Ampere and Hopper machine code, plus PTX that newer chips compile at load")
file(GLOB DLCORE_CUDA_SOURCES CONFIGURE_DEPENDS
  ${CMAKE_CURRENT_SOURCE_DIR}/csrc/cuda/*.cu ${CMAKE_CURRENT_SOURCE_DIR}/csrc/cuda/*.cpp)
if(DLCORE_CUDA STREQUAL "OFF")
  message(STATUS "dlcore: _cuda disabled (DLCORE_CUDA=OFF)")
  return()
endif()
if(NOT DLCORE_CUDA_SOURCES)
  message(STATUS "dlcore: _cuda has no sources yet; not built")
  return()
endif()
include(CheckLanguage)
check_language(CUDA)
if(NOT CMAKE_CUDA_COMPILER)
  if(DLCORE_CUDA STREQUAL "ON")
    message(FATAL_ERROR "dlcore: DLCORE_CUDA=ON but no CUDA compiler was found")
  endif()
  message(STATUS "dlcore: nvcc not found; _cuda not built")
  return()
endif()
# The architectures must be known before CUDA is enabled, or CMake settles on
# the compiler's default (an old one, without the TF32 tensor cores we use).
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
  set(CMAKE_CUDA_ARCHITECTURES ${DLCORE_CUDA_ARCHITECTURES})
endif()
enable_language(CUDA)
find_package(CUDAToolkit REQUIRED)
if(CUDAToolkit_VERSION VERSION_LESS 12.0)
  if(DLCORE_CUDA STREQUAL "ON")
    message(FATAL_ERROR "dlcore: _cuda needs CUDA 12 or newer, found ${CUDAToolkit_VERSION}")
  endif()
  message(STATUS "dlcore: CUDA ${CUDAToolkit_VERSION} is older than 12; _cuda not built")
  return()
endif()
message(STATUS "dlcore: building _cuda with CUDA ${CUDAToolkit_VERSION} for ${DLCORE_CUDA_ARCHITECTURES}")

pybind11_add_module(_cuda MODULE NO_EXTRAS ${DLCORE_CUDA_SOURCES})
target_include_directories(_cuda PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/csrc)
target_link_libraries(_cuda PRIVATE CUDA::cudart_static)
set_target_properties(_cuda PROPERTIES
  CUDA_ARCHITECTURES "${DLCORE_CUDA_ARCHITECTURES}"
  CUDA_RUNTIME_LIBRARY Static
  CUDA_STANDARD 17
  CUDA_STANDARD_REQUIRED ON)
# Strict IEEE float32 (no --use_fast_math): results are compared with float64
# references. -Xptxas -warn-spills flags register spills at build time.
target_compile_options(_cuda PRIVATE
  $<$<COMPILE_LANGUAGE:CUDA>:-O3 -Xptxas=-warn-spills --expt-relaxed-constexpr>
  $<$<COMPILE_LANGUAGE:CXX>:-O2 -Wall -Wextra -Wno-unused-parameter>)
install(TARGETS _cuda LIBRARY DESTINATION dlcore)
