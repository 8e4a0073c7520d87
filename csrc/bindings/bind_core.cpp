// Machine facts, threads, verbosity and dispatch introspection.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "bindings/array.h"
#include "bindings/init.h"
#include "core/cpu.h"
#include "core/peak.h"
#include "core/pool.h"
#include "core/threads.h"
#include "dispatch/registry.h"
#include "gemm/gemm.h"
#include "gemm/gemm_s8.h"
#include "ops/binary/binary.h"
#include "ops/cast/cast.h"
#include "ops/conv/conv.h"
#include "ops/conv/conv_bf16.h"
#include "ops/dropout/dropout.h"
#include "ops/eltwise/eltwise.h"
#include "ops/lrn/lrn.h"
#include "ops/norm/norm.h"
#include "ops/pool/pool.h"
#include "ops/quant/conv_u8s8.h"
#include "ops/softmax/softmax.h"

namespace py = pybind11;

namespace dlcore {

static Isa isa_from_name(const std::string& name) {
  for (Isa isa : kAllIsas)
    if (name == isa_name(isa)) return isa;
  throw ValueError(cat("unknown ISA '", name, "' (expected one of the keys of dlcore._C.isa_info())"));
}

// Builds every family's registries (function-local statics, built on first
// use) so that registry_rows() lists them all. A family added later adds its
// accessors here; tests/test_registry.py checks every kernel op is listed.
static void touch_all_registries() {
  gemm_registry();
  gemm_u8s8s32_registry();
  binary_pack_registry(), binary_gemm_registry(), binary_conv2d_registry();
  cast_f32_to_bf16_registry(), cast_bf16_to_f32_registry();
  conv2d_forward_registry(), conv2d_backward_data_registry(), conv2d_backward_weights_registry();
  conv2d_forward_bf16_registry(), conv2d_backward_data_bf16_registry(), conv2d_backward_weights_bf16_registry();
  conv2d_u8s8_registry();
  dropout_registry(true), dropout_registry(false);
  for (int i = 0; i < int(EltwiseOp::count); ++i) eltwise_registry(EltwiseOp(i));
  prelu_forward_registry(), prelu_backward_registry(), maxout_forward_registry(), maxout_backward_registry();
  lrn_forward_registry(), lrn_backward_registry();
  for (BatchNormOp op : {BatchNormOp::forward_training, BatchNormOp::forward_inference, BatchNormOp::backward})
    batch_norm_registry(op);
  max_pool2d_forward_registry(), max_pool2d_backward_registry();
  avg_pool2d_forward_registry(), avg_pool2d_backward_registry();
  for (SoftmaxOp op :
       {SoftmaxOp::softmax_forward, SoftmaxOp::log_softmax_forward, SoftmaxOp::softmax_backward,
        SoftmaxOp::log_softmax_backward, SoftmaxOp::cross_entropy_forward, SoftmaxOp::cross_entropy_backward})
    softmax_registry(op);
}

void init_core(py::module_& m) {
  m.def(
      "registry_entries",
      [] {
        touch_all_registries();
        py::list out;
        for (const RegistryEntryInfo& r : registry_rows()) {
          py::dict row;
          row["op"] = r.op, row["name"] = r.name, row["isa"] = r.isa;
          row["declines_inputs"] = r.declines_inputs, row["unavailable"] = r.unavailable;
          out.append(row);
        }
        return out;
      },
      "Every entry of every dispatch registry, in list order: dicts with op, name, isa, declines_inputs "
      "(has a declines() for inputs: else the catch-all of its ISA) and unavailable (why its ISA cannot run "
      "here, '' when it can).");
  m.def("set_num_threads", &set_num_threads, py::arg("n"));
  m.def("get_num_threads", &get_num_threads);
  m.def(
      "_leave_cpu", [](int cpu) { leave_cpu(cpu); }, py::arg("cpu"),
      "Test hook: moves the calling thread off `cpu` as a pool worker does when it joins a call there.");
  m.def("_pool_parallel_calls", &pool_parallel_calls,
        "Test hook: how many calls so far handed tiles to dlcore's pool workers (ran in parallel).");
  m.def("set_verbose", &set_verbose, py::arg("on"));
  def_host_cache(m);
  m.def("verbose", &verbose_enabled);
  m.def("last_dispatch", &last_dispatch, "'<op>:<implementation>' chosen by the last kernel call on this thread");
  m.def(
      "last_dispatch_declined",
      [] {
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
      },
      "[(implementation, reason), ...]: why the entries listed before the last choice on this thread declined");
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
  m.def(
      "fma_peak_gflops",
      [](const std::string& isa, int threads, int64_t iterations) {
        Isa i = isa_from_name(isa);
        py::gil_scoped_release nogil;
        return fma_peak_gflops(i, threads, iterations);
      },
      py::arg("isa"), py::arg("threads"), py::arg("iterations") = 20000000);
}

}  // namespace dlcore
