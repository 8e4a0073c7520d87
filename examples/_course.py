"""Shared by the course examples (FGSM, distillation, pruning, transfer, regression, Nancy).

Each example has ``main(argv=None)`` returning its table as a list of dicts, so
the test suite runs it in-process on a small slice (``--train-limit``,
``--test-limit``, ``--epochs``). Without ``--data-dir`` the data is the built-in
8x8 digits shown as 28x28 (``_common.builtin_digits``), so nothing is downloaded.
"""
import argparse
import time

import numpy as np
from _common import builtin_digits

import dlcore
from dlcore.data import MNIST, DataLoader
from dlcore.data.datasets import _ArrayDataset


def parser(description, epochs, lr, batch_size=64):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--data-dir", default=None,
                   help="folder with MNIST's IDX files; without it the built-in 8x8 digits (as 28x28) are used")
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--batch-size", type=int, default=batch_size)
    p.add_argument("--lr", type=float, default=lr)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train-limit", type=int, default=None, help="use only the first N training images")
    p.add_argument("--test-limit", type=int, default=None, help="use only the first N test images")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--plot", default=None, help="write the training curves to this PNG (needs matplotlib)")
    p.add_argument("--progress", action="store_true", help="show tqdm progress bars")
    p.add_argument("--save", default=None, help="save the first trained LeNet-5 (state_dict) here")
    p.add_argument("--load", default=None, help="load that LeNet-5 from here instead of training it")
    return p


def train_or_load(model, train_set, test_set, args, label, **kwargs):
    """Trains `model` (the example's LeNet-5), or loads it with --load; saves it with --save."""
    if args.load:
        model.load_state_dict(dlcore.load(args.load))
        print(f"  {label}: loaded from {args.load}, test accuracy {accuracy(model, test_set):.2%}")
    else:
        train(model, train_set, test_set, args, label=label, **kwargs)
    if args.save:
        dlcore.save(model.state_dict(), args.save)
    return model


def limit(dataset, n):
    """The first n samples of an array dataset (all of them when n is None)."""
    if n is None or n >= len(dataset):
        return dataset
    return _ArrayDataset(dataset.images[:n], dataset.labels[:n], dataset.transform)


def mnist_or_digits(args):
    """(train, test) images in [0, 1], 1x28x28: MNIST from --data-dir, else the built-in digits."""
    if args.threads:
        dlcore.set_num_threads(args.threads)
    if args.data_dir:
        train, test = MNIST(args.data_dir, train=True), MNIST(args.data_dir, train=False)
        print(f"MNIST from {args.data_dir}: {len(train)} train / {len(test)} test images")
    else:
        train, test = builtin_digits(28, 1)
    return limit(train, args.train_limit), limit(test, args.test_limit)


def train(model, train_set, test_set, args, epochs=None, optimizer=None, loss_fn=None, plot=None, label=""):
    """Adam (lr=args.lr) unless an optimizer is given; returns fit()'s history."""
    from dlcore.nn import functional as F
    from dlcore.train import fit

    epochs = args.epochs if epochs is None else epochs
    if epochs == 0:
        return []
    optimizer = optimizer or dlcore.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=args.lr)
    loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True, seed=args.seed)
    test_loader = DataLoader(test_set, batch_size=500)
    t0 = time.perf_counter()
    history = fit(model, loader, optimizer, epochs, test_loader, loss_fn=loss_fn or F.cross_entropy,
                  progress=args.progress, log=None, plot=plot)
    print(f"  {label or type(model).__name__}: {epochs} epochs in {time.perf_counter() - t0:.1f} s, "
          f"test accuracy {history[-1]['test_acc']:.2%}")
    return history


def accuracy(model, dataset, batch_size=500):
    from dlcore.train import evaluate

    return evaluate(model, DataLoader(dataset, batch_size=batch_size))[1]


def print_table(rows, columns, title=None):
    """A Markdown table (pasteable into the README): columns are (key, header, format)."""
    if title:
        print(f"\n{title}\n")
    print("| " + " | ".join(h for _, h, _ in columns) + " |")
    print("|" + "|".join("---:" if i else "---" for i in range(len(columns))) + "|")
    for r in rows:
        print("| " + " | ".join(format(r[k], f) if r.get(k) is not None else "-" for k, _, f in columns) + " |")
    return rows


def seed_all(seed):
    dlcore.manual_seed(seed)
    np.random.seed(seed)
