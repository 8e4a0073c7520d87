"""Training helpers and the main job: ``python -m dlcore.train``.

``fit`` runs epochs with a tqdm progress bar showing loss, accuracy and
images/s; ``evaluate`` returns (loss, accuracy). Both move each batch to
``device`` (default: the device of the model's parameters). The command line
trains a small network on scikit-learn's bundled 8x8 digits (no network
needed) or on MNIST / Fashion-MNIST / CIFAR-10 files from ``--data-dir``, on
the CPU or with ``--device cuda`` on the GPU, and prints the test accuracy.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from . import nn, optim
from ._device import module_for_device, parse_device
from .autograd import no_grad
from .data import CIFAR10, DataLoader, Digits, FashionMNIST, MNIST
from .nn import functional as F
from .random import manual_seed


# ---- models ----------------------------------------------------------------------
def mlp(in_features, hidden=100, num_classes=10):
    """The classic one-hidden-layer network (784-100-10 on MNIST)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))


def lenet5(in_channels=1, num_classes=10):
    """LeNet-5 for 28x28 inputs (conv 5x5 with padding 2 keeps the classic 32x32 geometry)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, num_classes))


def small_alexnet(in_channels=3, num_classes=10):
    """An AlexNet-style CNN for 32x32 images: conv-ReLU-LRN-pool blocks, then dropout + dense."""
    return nn.Sequential(
        nn.Conv2d(in_channels, 32, 5, padding=2), nn.ReLU(), nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0),
        nn.MaxPool2d(3, stride=2, ceil_mode=True),
        nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0),
        nn.MaxPool2d(3, stride=2, ceil_mode=True),
        nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.5), nn.Linear(64 * 4 * 4, 256), nn.ReLU(), nn.Linear(256, num_classes))


# ---- loops -------------------------------------------------------------------------
def model_device(model):
    """The device of the model's parameters ("cpu" for a model without any)."""
    return next((p.device for p in model.parameters()), "cpu")


def _progress(iterable, total, desc, enabled):
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, disable=not enabled, leave=True, dynamic_ncols=True,
                file=sys.stdout)


def train_epoch(model, loader, optimizer, loss_fn=F.cross_entropy, desc="train", progress=True, device=None):
    """One pass over `loader`, batches moved to `device` (None: the model's); returns (loss, accuracy, images/s)."""
    model.train()
    device = device or model_device(model)
    total_loss, correct, seen, start = 0.0, 0, 0, time.perf_counter()
    bar = _progress(loader, len(loader), desc, progress)
    for x, y in bar:
        x, y = x.to(device), y.to(device)
        optimizer.zero_grad()
        logits = model(x)
        loss = loss_fn(logits, y)
        loss.backward()
        optimizer.step()
        n = len(y)
        total_loss += loss.item() * n
        correct += int((logits.data.argmax(axis=1) == y.data).sum())
        seen += n
        bar.set_postfix(loss=f"{total_loss / seen:.4f}", acc=f"{correct / seen:.3f}",
                        img_s=f"{seen / (time.perf_counter() - start):.0f}")
    bar.close()
    return total_loss / max(seen, 1), correct / max(seen, 1), seen / (time.perf_counter() - start)


def evaluate(model, loader, loss_fn=F.cross_entropy, device=None):
    """(mean loss, accuracy) over `loader` in eval mode, without recording the tape; batches go to `device`."""
    model.eval()
    device = device or model_device(model)
    total_loss, correct, seen = 0.0, 0, 0
    with no_grad():
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            logits = model(x)
            total_loss += loss_fn(logits, y).item() * len(y)
            correct += int((logits.data.argmax(axis=1) == y.data).sum())
            seen += len(y)
    return total_loss / max(seen, 1), correct / max(seen, 1)


def fit(model, train_loader, optimizer, epochs, test_loader=None, loss_fn=F.cross_entropy, scheduler=None,
        progress=True, log=print, device=None):
    """Trains for `epochs`, evaluating on `test_loader` after each; returns a list of per-epoch dicts.

    `device` is where batches go (None: the model's device; move the model
    first, ``model.to("cuda")``, then build the optimizer).
    """
    history = []
    for epoch in range(1, epochs + 1):
        loss, acc, speed = train_epoch(model, train_loader, optimizer, loss_fn, f"epoch {epoch}/{epochs}", progress,
                                       device)
        row = {"epoch": epoch, "train_loss": loss, "train_acc": acc, "images_per_s": speed}
        if test_loader is not None:
            row["test_loss"], row["test_acc"] = evaluate(model, test_loader, loss_fn, device)
        if scheduler is not None:
            scheduler.step()
        history.append(row)
        if log:
            test = f", test loss {row['test_loss']:.4f}, test accuracy {row['test_acc']:.2%}" if test_loader else ""
            log(f"epoch {epoch}: train loss {loss:.4f}, train accuracy {acc:.2%}, {speed:.0f} images/s{test}")
    return history


# ---- data ---------------------------------------------------------------------------
def load_datasets(name, data_dir=None, download=False):
    """(train, test) datasets by name: digits (built in), mnist, fashion-mnist, cifar10."""
    if name == "digits":
        return Digits(train=True), Digits(train=False)
    if name in ("mnist", "fashion-mnist"):
        cls = MNIST if name == "mnist" else FashionMNIST
        return cls(data_dir, train=True, download=download), cls(data_dir, train=False, download=download)
    if name == "cifar10":
        if data_dir is None:
            raise ValueError("cifar10 needs --data-dir (the folder of its binary batches)")
        return CIFAR10(data_dir, train=True), CIFAR10(data_dir, train=False)
    raise ValueError(f"unknown dataset {name!r}")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m dlcore.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="digits", choices=["digits", "mnist", "fashion-mnist", "cifar10"])
    parser.add_argument("--data-dir", default=None, help="folder with the dataset's standard files")
    parser.add_argument("--download", action="store_true", help="download MNIST/Fashion-MNIST (SHA-256 checked)")
    parser.add_argument("--model", default="mlp", choices=["mlp", "lenet"])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu, or cuda (CuPy arrays, dlcore's CUDA kernels)")
    parser.add_argument("--backend", default="auto",
                        help="CPU kernel backend (auto, ref, avx2, avx512, onednn); on cuda: auto or cuda")
    parser.add_argument("--save", default=None, help="write the trained model's state_dict here")
    parser.add_argument("--amp", default="none", choices=["none", "bf16"],
                        help="bf16: mixed precision (dlcore.autocast): linear/conv in bfloat16 on float32 master "
                             "weights; checkpoints keep float32")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    from . import ops, save

    device = parse_device(args.device)
    if device == "cuda" and args.backend not in ("auto", "cuda"):
        parser.error(f"--backend {args.backend} runs on the CPU; with --device cuda use auto or cuda")
    module_for_device(device)  # no usable GPU: BackendUnavailableError now, before the data is read
    manual_seed(args.seed)
    train_set, test_set = load_datasets(args.dataset, args.data_dir, args.download)
    channels, height, width = train_set.images.shape[1:]
    model = mlp(channels * height * width) if args.model == "mlp" else lenet5(channels)
    model.to(device)  # before the optimizer is built (it keeps state beside each parameter)
    print(f"{args.dataset}: {len(train_set)} training / {len(test_set)} test images of {channels}x{height}x{width}")
    print(model)
    print(f"{model.num_parameters():,} parameters on {device}")
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True, seed=args.seed, device=device)
    test_loader = DataLoader(test_set, batch_size=256, device=device)
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    start = time.perf_counter()
    from .amp import autocast

    if args.amp == "bf16" and device != "cpu":
        parser.error("--amp bf16 runs on the CPU (dlcore's bf16 kernels); use --device cpu")
    with ops._common.backend(args.backend), autocast("cpu", enabled=args.amp == "bf16"):
        history = fit(model, train_loader, optimizer, args.epochs, test_loader, progress=not args.no_progress)
    final = history[-1]
    print(f"test accuracy: {final['test_acc']:.2%} after {args.epochs} epochs "
          f"({time.perf_counter() - start:.1f} s, {final['images_per_s']:.0f} training images/s)")
    if args.save:
        save(model.state_dict(), args.save)
        print(f"saved the model to {args.save}")
    return final["test_acc"]


if __name__ == "__main__":
    main()
