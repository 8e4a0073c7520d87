// Fused multi-tensor optimizer steps (issue 17): one call updates every
// parameter of a group in place (SGD with momentum / Nesterov / weight decay,
// Adam / AdamW, Adadelta), instead of 5-10 NumPy expressions, each a pass
// over memory and a temporary, per parameter.
//
// The formulas are PyTorch's (torch.optim docs), the same as the Python
// rules in python/dlcore/optim/optimizers.py, evaluated in float32 with
// fused multiply-adds; results are element-wise, so they do not depend on
// the thread count or on how the elements are cut into tiles.
#pragma once
#include <cstdint>
#include <vector>

#include "dispatch/registry.h"

namespace dlcore {

enum class OptimKind { sgd, adam, adadelta };

// One parameter: its buffers (all n floats, C-contiguous) and its own scalars.
struct OptimTensor {
  float* p = nullptr;        // parameter, updated in place
  const float* g = nullptr;  // its gradient
  float* s1 = nullptr;       // SGD: momentum buffer; Adam: exp_avg; Adadelta: square_avg
  float* s2 = nullptr;       // Adam: exp_avg_sq; Adadelta: acc_delta; SGD: unused
  int64_t n = 0;
  bool fresh = false;         // SGD: the momentum buffer is new: buf = g (not momentum * buf + ...)
  float step_size = 0.0f;     // Adam: lr / (1 - beta1^t)
  float inv_sqrt_bc2 = 1.0f;  // Adam: 1 / sqrt(1 - beta2^t)
};

struct OptimArgs {
  OptimKind kind = OptimKind::sgd;
  std::vector<OptimTensor> tensors;
  float lr = 0.0f;
  float weight_decay = 0.0f;  // L2 added to the gradient (AdamW: decoupled, p *= 1 - lr * wd)
  float l1 = 0.0f;            // l1 * sign(p) added to the gradient
  // SGD
  float momentum = 0.0f, dampening = 0.0f;
  bool nesterov = false;
  // Adam (beta1, beta2) / Adadelta (rho in beta1)
  float beta1 = 0.0f, beta2 = 0.0f, eps = 0.0f;
  bool decoupled = false;  // AdamW
};

const Registry<OptimArgs>& optim_registry(OptimKind kind);

void optim_step_avx2(const OptimArgs& a);
void optim_step_avx512(const OptimArgs& a);

}  // namespace dlcore
