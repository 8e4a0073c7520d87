"""Adversarial examples: LeNet-5's MNIST test accuracy under FGSM, eps 0 ... 0.3.

Trains LeNet-5 on images in [0, 1] (no normalization, so eps is in pixel units:
0.1 = a tenth of the black-to-white range), then attacks every test image with
dlcore.attacks.fgsm(model, x, y, eps, clip=(0, 1)) and prints accuracy per eps.

    python examples/fgsm_mnist.py --data-dir ~/data/mnist     # the four MNIST IDX files
    python examples/fgsm_mnist.py                             # built-in 8x8 digits, shown as 28x28
"""
import sys

import numpy as np
from _course import mnist_or_digits, parser, print_table, seed_all, train_or_load

import dlcore
from dlcore.data import DataLoader
from dlcore.train import lenet5

EPSILONS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3)


def attacked_accuracy(model, dataset, eps, batch_size=500):
    """Accuracy on fgsm(x, eps) of every sample, and the mean |x_adv - x| (a check of the budget)."""
    model.eval()
    correct, seen, max_change = 0, 0, 0.0
    for x, y in DataLoader(dataset, batch_size=batch_size):
        x_adv = dlcore.attacks.fgsm(model, x, y, eps, clip=(0.0, 1.0)) if eps else x
        max_change = max(max_change, float(np.abs(x_adv.numpy() - x.numpy()).max()))
        with dlcore.no_grad():
            pred = model(x_adv).numpy().argmax(axis=1)
        correct += int((pred == y.numpy()).sum())
        seen += len(y)
    return correct / seen, max_change


def main(argv=None):
    p = parser(__doc__.splitlines()[0], epochs=3, lr=1e-3)
    p.add_argument("--eps", type=float, nargs="*", default=list(EPSILONS))
    args = p.parse_args(argv)
    seed_all(args.seed)
    train_set, test_set = mnist_or_digits(args)
    model = lenet5()
    train_or_load(model, train_set, test_set, args, "LeNet-5", plot=args.plot)
    rows = []
    for eps in args.eps:
        acc, change = attacked_accuracy(model, test_set, eps)
        rows.append({"eps": eps, "acc": acc, "max_change": change})
    return print_table(rows, [("eps", "eps", ".2f"), ("acc", "test accuracy", ".2%"),
                              ("max_change", "max abs(x_adv - x)", ".3f")],
                       f"FGSM on LeNet-5 ({len(test_set)} test images)")


if __name__ == "__main__":
    main(sys.argv[1:])
