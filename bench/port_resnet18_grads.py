"""resnet18 (torchvision's, 10 classes) on 32x32 inputs: dlcore vs PyTorch on copied weights.

Per parameter tensor, the relative gradient error ||g - g_torch|| / ||g_torch|| (norm-wise, float64 sums) in
float32 (both libraries in float32) and float64 (both in float64), the max over tensors, and the loss's relative
error. To tell roundoff from a bug it also prints each library's float32 error against the float64 truth
(torch's float64 gradients): if dlcore's is no larger than torch's, the float32 disagreement is the two
libraries' different summation orders, not a wrong formula. BatchNorm runs in training mode (batch statistics),
as a training step does; --eval uses running statistics instead.

    python bench/port_resnet18_grads.py [--batch 4] [--eval] [--all]
"""
import argparse
import copy

import numpy as np


def step(model, lib, x, target, train):
    model.train() if train else model.eval()
    model.zero_grad()
    xt = lib.from_numpy(x)
    loss = lib.nn.functional.cross_entropy(model(xt), lib.from_numpy(target))
    loss.backward()
    return float(loss.item()), {n: np.array(p.grad.numpy(), dtype=np.float64) for n, p in model.named_parameters()}


def relerr(a, b):
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def compare(batch=4, train=True, seed=0):
    """{dtype: (loss relerr, {name: relerr})} of dlcore vs torch, plus float32 errors of each vs torch float64."""
    import torch
    import torchvision

    import dlcore
    from dlcore import models
    torch.manual_seed(seed)
    theirs = torchvision.models.resnet18(num_classes=10)
    with torch.no_grad():  # non-trivial BN affine parameters and running statistics
        for m in theirs.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5), m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.1, 0.1), m.running_var.uniform_(0.5, 1.5)
    state = copy.deepcopy(theirs.state_dict())
    rng = np.random.default_rng(seed + 1)
    x = rng.standard_normal((batch, 3, 32, 32))
    target = rng.integers(0, 10, batch)
    out = {}
    for dtype, tdtype in ((np.float64, torch.float64), (np.float32, torch.float32)):
        theirs.load_state_dict(state)
        theirs.to(tdtype)
        ours = models.resnet18(num_classes=10).to(dtype)
        models.load_torch_state_dict(ours, theirs.state_dict())
        out[np.dtype(dtype).name] = (step(ours, dlcore, x.astype(dtype), target, train),
                                     step(theirs, torch, x.astype(dtype), target, train))
    return out


def report(batch, train):
    res = compare(batch, train)
    (l64, g64), (tl64, tg64) = res["float64"]
    (l32, g32), (tl32, tg32) = res["float32"]
    names = list(tg64)
    print(f"# resnet18, batch {batch}, 32x32, BN {'train' if train else 'eval'} mode")
    print(f"loss rel err: float64 {abs(l64 - tl64) / abs(tl64):.2e}  float32 {abs(l32 - tl32) / abs(tl32):.2e}")
    print(f"{'parameter':32s} {'f64 vs torch':>12s} {'f32 vs torch':>12s} {'dl32 vs t64':>12s} {'t32 vs t64':>12s}")
    rows = []
    for n in names:
        r = (relerr(g64[n], tg64[n]), relerr(g32[n], tg32[n]), relerr(g32[n], tg64[n]), relerr(tg32[n], tg64[n]))
        rows.append((n, *r))
        print(f"{n:32s} {r[0]:12.2e} {r[1]:12.2e} {r[2]:12.2e} {r[3]:12.2e}")
    worst = [max(rows, key=lambda r, i=i: r[i]) for i in range(1, 5)]
    print("max:", "  ".join(f"{w[i + 1]:.2e} ({w[0]})" for i, w in enumerate(worst)))
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--eval", action="store_true", help="BatchNorm with running statistics")
    args = p.parse_args(argv)
    report(args.batch, not args.eval)


if __name__ == "__main__":
    main()
