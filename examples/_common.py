"""Shared by the examples: data loading with the built-in fallback, and the run summary."""
import argparse
import time

import numpy as np

import dlcore
from dlcore.data import Digits
from dlcore.data.datasets import _ArrayDataset


def parser(description, epochs, batch_size, lr):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--data-dir", default=None,
                   help="folder with the dataset's standard files; without it the built-in 8x8 digits are used")
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--batch-size", type=int, default=batch_size)
    p.add_argument("--lr", type=float, default=lr)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="kernel threads (default: all cores)")
    p.add_argument("--backend", default="auto")
    p.add_argument("--no-progress", action="store_true")
    return p


def builtin_digits(size, channels):
    """scikit-learn's 8x8 digits, upscaled (nearest) and zero-padded to size x size, `channels` copies."""
    out = []
    for train in (True, False):
        d = Digits(train=train)
        scale = size // 8
        pad = (size - 8 * scale) // 2
        images = np.kron(d.images, np.ones((1, 1, scale, scale), np.float32)) if scale > 1 else d.images
        images = np.pad(images, ((0, 0), (0, 0), (pad, size - 8 * scale - pad), (pad, size - 8 * scale - pad)))
        out.append(_ArrayDataset(np.repeat(images, channels, axis=1), d.labels))
    print(f"no --data-dir: using the built-in digits ({len(out[0])} train / {len(out[1])} test), "
          f"shown as {channels}x{size}x{size}")
    return out


def run(model, train_set, test_set, args, optimizer, scheduler=None):
    from dlcore.train import fit

    if args.threads:
        dlcore.set_num_threads(args.threads)
    print(model)
    print(f"{model.num_parameters():,} parameters; kernels: {dlcore.backends()['auto']}, "
          f"{dlcore.get_num_threads()} threads")
    train_loader = dlcore.data.DataLoader(train_set, batch_size=args.batch_size, shuffle=True, seed=args.seed)
    test_loader = dlcore.data.DataLoader(test_set, batch_size=500)
    start = time.perf_counter()
    with dlcore.backend(args.backend):
        history = fit(model, train_loader, optimizer, args.epochs, test_loader, scheduler=scheduler,
                      progress=not args.no_progress)
    wall = time.perf_counter() - start
    speeds = [h["images_per_s"] for h in history]
    print(f"final test accuracy {history[-1]['test_acc']:.2%}, best {max(h['test_acc'] for h in history):.2%}; "
          f"{args.epochs} epochs in {wall:.0f} s; training throughput {np.median(speeds):.0f} images/s (median)")
    return history


def mnist_sets(data_dir, transform=None):
    """(train, test) MNIST from `data_dir`: the standard IDX files, or a mnist.npz (x_train, y_train,
    x_test, y_test as uint8) in that folder or given as the path itself."""
    import os

    from dlcore.data import MNIST

    path = data_dir if str(data_dir).endswith(".npz") else os.path.join(data_dir, "mnist.npz")
    if os.path.isfile(path):
        with np.load(path) as z:
            sets = []
            for split in ("train", "test"):  # uint8 images: the dataset scales them to [0, 1]
                sets.append(_ArrayDataset(z[f"x_{split}"][:, None], z[f"y_{split}"], transform))
        return sets
    return MNIST(data_dir, train=True, transform=transform), MNIST(data_dir, train=False, transform=transform)


def images_per_second(fn, x, repeats=5):
    """Median images/s of fn(x) over `repeats` timed calls (after one warm-up)."""
    fn(x)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - t0)
    return len(x) / float(np.median(times))
