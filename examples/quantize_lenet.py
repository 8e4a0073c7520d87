"""LeNet-5 on MNIST in float32, then post-training static int8 quantization on dlcore's int8 kernels.

    python examples/quantize_lenet.py --data-dir /path/to/mnist     # IDX files or a mnist.npz
    python examples/quantize_lenet.py                               # built-in 8x8 digits, shown as 28x28

Prints float32 vs int8: test accuracy, model bytes, inference images/s (median of 5, same run).
"""
import time

import numpy as np
from _common import builtin_digits, images_per_second, mnist_sets, parser

import dlcore
from dlcore import optim
from dlcore.data import transforms
from dlcore.train import evaluate, fit, lenet5


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
    if args.save:
        dlcore.save(qmodel.state_dict(), args.save)
        qmodel = dlcore.quantization.QuantizedSequential.from_state_dict(dlcore.load(args.save))
        print(f"saved and reloaded {args.save}")

    _, acc_f = evaluate(model, test_loader)
    _, acc_q = evaluate(qmodel, test_loader)
    bytes_f = sum(p._data.nbytes for p in model.parameters())
    bytes_q = qmodel.nbytes()
    x = dlcore.Tensor(test_set.get_batch(np.arange(min(1000, len(test_set))))[0])
    model.eval()
    with dlcore.no_grad():
        ips_f = images_per_second(model, x)
        ips_q = images_per_second(qmodel, x)
        agree = float((model(x)._data.argmax(1) == qmodel(x)._data.argmax(1)).mean())
    print(f"{'':10s} {'test acc':>9s} {'bytes':>9s} {'img/s':>9s}")
    print(f"{'float32':10s} {acc_f:9.2%} {bytes_f:9,d} {ips_f:9.0f}")
    print(f"{'int8':10s} {acc_q:9.2%} {bytes_q:9,d} {ips_q:9.0f}")
    print(f"accuracy change {100 * (acc_q - acc_f):+.2f} pt; {bytes_f / bytes_q:.2f}x smaller; "
          f"{ips_q / ips_f:.2f}x images/s; top-1 agreement {agree:.2%}; {dlcore.get_num_threads()} threads, "
          f"int8 kernels: {dlcore.kernels.last_dispatch()}")


if __name__ == "__main__":
    main()
