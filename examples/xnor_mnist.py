"""An XNOR-Net (binary inputs and weights in the hidden layers) trained with the straight-through
estimator on MNIST, then packed to bits and run with XNOR + popcount kernels.

    python examples/xnor_mnist.py --data-dir /path/to/mnist     # IDX files or a mnist.npz
    python examples/xnor_mnist.py                               # built-in 8x8 digits, shown as 28x28

The first and last layers stay float32 (as in the paper); batch norm sits before each binary layer
so that sign() sees centred inputs. Prints the float (training-form) and the packed network's test
accuracy, weight bytes of the binary layers, and images/s of both (median of 5, same run).
"""
import numpy as np
from _common import builtin_digits, images_per_second, mnist_sets, parser

import dlcore
from dlcore import nn, optim
from dlcore.data import transforms
from dlcore.train import evaluate, fit


def xnor_net(width=64):
    return nn.Sequential(
        nn.Conv2d(1, 32, 5), nn.MaxPool2d(2), nn.BatchNorm2d(32),             # float first layer: 12x12
        nn.BinaryConv2d(32, width, 3, padding=1), nn.MaxPool2d(2), nn.BatchNorm2d(width),  # binary: 6x6
        nn.BinaryConv2d(width, width, 3, padding=1), nn.BatchNorm2d(width),   # binary
        nn.Flatten(), nn.BinaryLinear(width * 36, 256), nn.BatchNorm1d(256),  # binary
        nn.Linear(256, 10))                                                   # float last layer


def main():
    p = parser(__doc__.splitlines()[0], epochs=4, batch_size=100, lr=3e-3)
    p.add_argument("--width", type=int, default=64, help="channels of the binary conv layers")
    args = p.parse_args()
    dlcore.manual_seed(args.seed)
    if args.threads:
        dlcore.set_num_threads(args.threads)
    if args.data_dir:
        train_set, test_set = mnist_sets(args.data_dir, transforms.Normalize([0.1307], [0.3081]))
    else:
        train_set, test_set = builtin_digits(28, 1)
    model = xnor_net(args.width)
    opt = optim.Adam(model.parameters(), lr=args.lr)
    train_loader = dlcore.data.DataLoader(train_set, batch_size=args.batch_size, shuffle=True, seed=args.seed)
    test_loader = dlcore.data.DataLoader(test_set, batch_size=500)
    fit(model, train_loader, opt, args.epochs, test_loader, progress=not args.no_progress,
        scheduler=optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs))

    packed = dlcore.quantization.binarize(model)
    print(packed)
    _, acc_f = evaluate(model, test_loader)
    _, acc_b = evaluate(packed, test_loader)
    binary = [m for m in model.modules() if isinstance(m, (nn.BinaryConv2d, nn.BinaryLinear))]
    packed_layers = [m for m in packed.modules() if hasattr(m, "weight_bits")]
    bytes_f = sum(m.weight._data.nbytes for m in binary)
    bytes_b = sum(m.weight_bits._data.nbytes + m.alpha._data.nbytes for m in packed_layers)
    x = dlcore.Tensor(test_set.get_batch(np.arange(min(1000, len(test_set))))[0])
    model.eval()
    with dlcore.no_grad():
        ips_f = images_per_second(model, x)
        ips_b = images_per_second(packed, x)
    print(f"{'':22s} {'test acc':>9s} {'binary-layer weight bytes':>26s} {'img/s':>8s}")
    print(f"{'float32 (training form)':22s} {acc_f:9.2%} {bytes_f:26,d} {ips_f:8.0f}")
    print(f"{'packed XNOR + popcount':22s} {acc_b:9.2%} {bytes_b:26,d} {ips_b:8.0f}")
    print(f"{bytes_f / bytes_b:.1f}x smaller binary layers; {ips_b / ips_f:.2f}x images/s for the whole network; "
          f"{dlcore.get_num_threads()} threads; kernels: {dlcore.kernels.last_dispatch()}")


if __name__ == "__main__":
    main()
