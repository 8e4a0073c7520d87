"""LeNet-5 on MNIST in float32, then post-training static int8 quantization on dlcore's int8 kernels.

    python examples/quantize_lenet.py --data-dir /path/to/mnist     # IDX files or a mnist.npz
    python examples/quantize_lenet.py                               # built-in 8x8 digits, shown as 28x28

Prints float32 vs int8: test accuracy, model bytes, inference images/s at batch 64 and 1 (medians of
7 rounds, float32 and int8 interleaved in each round so machine load hits both alike).
"""
import time

import numpy as np
from _common import builtin_digits, mnist_sets, parser

import dlcore
from dlcore import nn, optim
from dlcore.data import transforms
from dlcore.nn import functional as F
from dlcore.train import evaluate, fit, lenet5


class LeNetModule(nn.Module):
    """The trained Sequential's layers as a PyTorch-style Module subclass (quantize_static's layer-swap path)."""

    def __init__(self, seq):
        super().__init__()
        self.conv1, self.conv2, self.fc1, self.fc2, self.fc3 = seq[0], seq[3], seq[7], seq[9], seq[11]

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.fc1(x.reshape(x.shape[0], -1)))
        return self.fc3(F.relu(self.fc2(x)))


def interleaved_images_per_second(models, x, rounds=7, min_time=0.1):
    """Median images/s of each model on batch `x`: rounds alternate the models (same noise for all)."""
    for m in models:
        m(x)
    calls = []
    for m in models:
        t0 = time.perf_counter()
        m(x)
        calls.append(max(1, int(min_time / max(time.perf_counter() - t0, 1e-6))))
    samples = [[] for _ in models]
    for _ in range(rounds):
        for i, m in enumerate(models):
            t0 = time.perf_counter()
            for _ in range(calls[i]):
                m(x)
            samples[i].append(calls[i] * len(x) / (time.perf_counter() - t0))
    return [float(np.median(s)) for s in samples]


def main():
    p = parser(__doc__.splitlines()[0], epochs=3, batch_size=64, lr=1e-3)
    p.add_argument("--calibration-batches", type=int, default=20)
    p.add_argument("--observer", default="minmax", choices=["minmax", "percentile"])
    p.add_argument("--save", default=None, help="write the int8 model here (dlcore.save) and check it reloads")
    args = p.parse_args()
    dlcore.manual_seed(args.seed)
    if args.threads:
        dlcore.set_num_threads(args.threads)
    if args.data_dir:
        train_set, test_set = mnist_sets(args.data_dir, transforms.Normalize([0.1307], [0.3081]))
    else:
        train_set, test_set = builtin_digits(28, 1)
    model = lenet5()
    opt = optim.Adam(model.parameters(), lr=args.lr)
    train_loader = dlcore.data.DataLoader(train_set, batch_size=args.batch_size, shuffle=True, seed=args.seed)
    test_loader = dlcore.data.DataLoader(test_set, batch_size=500)
    fit(model, train_loader, opt, args.epochs, test_loader, progress=not args.no_progress,
        scheduler=optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs))

    calib = dlcore.data.DataLoader(train_set, batch_size=100, shuffle=True, seed=args.seed + 1)
    observer = {"minmax": dlcore.quantization.MinMaxObserver,
                "percentile": dlcore.quantization.PercentileObserver}[args.observer]
    t0 = time.perf_counter()
    qmodel = dlcore.quantization.quantize_static(model, calib, observer=observer, num_batches=args.calibration_batches)
    print(f"quantized in {time.perf_counter() - t0:.1f} s ({args.calibration_batches} calibration batches of 100, "
          f"{args.observer} observer)")
    # the same weights in a Module subclass with forward(): Conv2d/Linear swapped for int8 layers
    qmodule = dlcore.quantization.quantize_static(LeNetModule(model), calib, observer=observer,
                                                  num_batches=args.calibration_batches)
    if args.save:
        dlcore.save(qmodel.state_dict(), args.save)
        qmodel = dlcore.quantization.QuantizedSequential.from_state_dict(dlcore.load(args.save))
        path_m = args.save.replace(".npz", "") + "_module.npz"
        dlcore.save(qmodule.state_dict(), path_m)
        qmodule = dlcore.quantization.load_quantized(LeNetModule(lenet5()), dlcore.load(path_m))
        print(f"saved and reloaded {args.save} and {path_m}")

    _, acc_f = evaluate(model, test_loader)
    _, acc_q = evaluate(qmodel, test_loader)
    _, acc_m = evaluate(qmodule, test_loader)
    bytes_f = sum(p._data.nbytes for p in model.parameters())
    bytes_q = qmodel.nbytes()
    x = dlcore.Tensor(test_set.get_batch(np.arange(min(1000, len(test_set))))[0])
    model.eval()
    with dlcore.no_grad():
        agree = float((model(x)._data.argmax(1) == qmodel(x)._data.argmax(1)).mean())
        speed = {bs: interleaved_images_per_second([model, qmodel, qmodule], dlcore.Tensor(x._data[:bs]))
                 for bs in (64, 1)}
    bytes_m = sum(b._data.nbytes for b in qmodule.buffers())
    print(f"{'':14s} {'test acc':>9s} {'bytes':>9s} {'img/s b64':>10s} {'img/s b1':>9s}")
    print(f"{'float32':14s} {acc_f:9.2%} {bytes_f:9,d} {speed[64][0]:10.0f} {speed[1][0]:9.0f}")
    print(f"{'int8':14s} {acc_q:9.2%} {bytes_q:9,d} {speed[64][1]:10.0f} {speed[1][1]:9.0f}")
    print(f"{'int8 (Module)':14s} {acc_m:9.2%} {bytes_m:9,d} {speed[64][2]:10.0f} {speed[1][2]:9.0f}   "
          "(a Module subclass: int8 layers, float32 between them)")
    print(f"accuracy change {100 * (acc_q - acc_f):+.2f} pt; {bytes_f / bytes_q:.2f}x smaller; int8/float32 "
          f"images/s {speed[64][1] / speed[64][0]:.2f}x at batch 64, {speed[1][1] / speed[1][0]:.2f}x at batch 1; "
          f"top-1 agreement {agree:.2%}; {dlcore.get_num_threads()} threads, "
          f"int8 kernels: {dlcore.kernels.last_dispatch()}")


if __name__ == "__main__":
    main()
