"""LeNet-5 on MNIST (ReLU, max pooling), Adam with a cosine schedule.

    python examples/lenet_mnist.py --data-dir ~/data/mnist
    python examples/lenet_mnist.py                           # built-in digits, shown as 28x28
"""
from _common import builtin_digits, parser, run

import dlcore
from dlcore import optim
from dlcore.data import MNIST, transforms
from dlcore.train import lenet5


def main():
    args = parser(__doc__.splitlines()[0], epochs=4, batch_size=64, lr=1e-3).parse_args()
    dlcore.manual_seed(args.seed)
    if args.data_dir:
        normalize = transforms.Normalize([0.1307], [0.3081])
        train_set = MNIST(args.data_dir, train=True, transform=normalize)
        test_set = MNIST(args.data_dir, train=False, transform=normalize)
    else:
        train_set, test_set = builtin_digits(28, 1)
    model = lenet5()
    opt = optim.Adam(model.parameters(), lr=args.lr)
    run(model, train_set, test_set, args, opt, optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs))


if __name__ == "__main__":
    main()
