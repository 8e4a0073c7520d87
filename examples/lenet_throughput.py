"""LeNet-5 training throughput (images/s): dlcore, or PyTorch CPU with the same model, batch and threads.

One training step = forward, cross-entropy, backward, SGD-with-momentum update,
the same in both frameworks. The same file runs under either interpreter
(PyTorch is imported only with --framework torch), so a comparison is:

    python examples/lenet_throughput.py --framework dlcore --threads 2
    /path/to/torch-venv/bin/python examples/lenet_throughput.py --framework torch --threads 2

It prints one JSON line: framework, threads, batch, the median and all
per-repeat images/s. Run the two alternately and compare medians (the machine
may be shared). Data: MNIST from an .npz (x_train, y_train) if given, else
random images (the throughput does not depend on the values).
"""
import argparse
import json
import time

import numpy as np


def batches(npz, batch, count, seed=0):
    rng = np.random.default_rng(seed)
    if npz:
        with np.load(npz) as f:
            x = ((f["x_train"][: batch * count].astype(np.float32) / 255) - 0.1307) / 0.3081
            y = f["y_train"][: batch * count].astype(np.int64)
    else:
        x = rng.standard_normal((batch * count, 28, 28)).astype(np.float32)
        y = rng.integers(0, 10, batch * count)
    x = x.reshape(count, batch, 1, 28, 28)
    return [(np.ascontiguousarray(x[i]), y[i * batch:(i + 1) * batch]) for i in range(count)]


def dlcore_step_fn(threads, backend):
    import dlcore
    import dlcore.nn.functional as F
    from dlcore import optim
    from dlcore.train import lenet5

    dlcore.set_num_threads(threads)
    dlcore.manual_seed(0)
    model = lenet5()
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step(x, y):
        with dlcore.backend(backend):
            opt.zero_grad()
            loss = F.cross_entropy(model(dlcore.from_numpy(x)), y)
            loss.backward()
            opt.step()
    return step


def torch_step_fn(threads, backend):
    import torch
    from torch import nn

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step(x, y):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(y))
        loss.backward()
        opt.step()
    return step


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--framework", choices=["dlcore", "torch"], default="dlcore")
    p.add_argument("--backend", default="auto", help="dlcore kernel backend")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--steps", type=int, default=50, help="timed steps per repeat")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--npz", default=None, help="mnist.npz with x_train/y_train (else random images)")
    args = p.parse_args()
    make = dlcore_step_fn if args.framework == "dlcore" else torch_step_fn
    step = make(args.threads, args.backend)
    data = batches(args.npz, args.batch_size, args.steps)
    for x, y in data[:5]:  # warm-up: allocations, primitive caches
        step(x, y)
    rates = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        for x, y in data:
            step(x, y)
        rates.append(args.batch_size * args.steps / (time.perf_counter() - start))
    print(json.dumps({"framework": args.framework, "backend": args.backend if args.framework == "dlcore" else "torch",
                      "threads": args.threads, "batch": args.batch_size,
                      "images_per_s": round(float(np.median(rates)), 1),
                      "repeats": [round(r, 1) for r in rates]}))


if __name__ == "__main__":
    main()
