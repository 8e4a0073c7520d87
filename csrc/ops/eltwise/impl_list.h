// Registry entries for an ISA that may be compiled out (non-x86 builds):
//   Registry<A> r("op", {DLCORE_AVX512_IMPL("op_avx512", f512) DLCORE_AVX2_IMPL("op_avx2", f2)
//                        {"op_ref", Isa::ref, nullptr, fref}});
// Shared by the eltwise, norm, softmax and dropout families.
#pragma once
#include "dispatch/registry.h"

// (Shorthands for the registry's own DLCORE_IF_* list macros: one way to build every list.)
#define DLCORE_AVX512_IMPL(name, fn) DLCORE_IF_AVX512({name, ::dlcore::Isa::avx512, nullptr, fn}, )
#define DLCORE_AVX2_IMPL(name, fn) DLCORE_IF_AVX2({name, ::dlcore::Isa::avx2, nullptr, fn}, )
