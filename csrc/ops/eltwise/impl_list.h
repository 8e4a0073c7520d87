// Registry entries for an ISA that may be compiled out (non-x86 builds):
//   Registry<A> r("op", {DLCORE_AVX512_IMPL("op_avx512", f512) DLCORE_AVX2_IMPL("op_avx2", f2)
//                        {"op_ref", Isa::ref, nullptr, fref}});
// Shared by the eltwise, norm, softmax and dropout families.
#pragma once
#include "dispatch/registry.h"

#ifdef DLCORE_HAVE_AVX512
#define DLCORE_AVX512_IMPL(name, fn) {name, ::dlcore::Isa::avx512, nullptr, fn},
#else
#define DLCORE_AVX512_IMPL(name, fn)
#endif
#ifdef DLCORE_HAVE_AVX2
#define DLCORE_AVX2_IMPL(name, fn) {name, ::dlcore::Isa::avx2, nullptr, fn},
#else
#define DLCORE_AVX2_IMPL(name, fn)
#endif
