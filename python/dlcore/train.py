"""Training helpers and the main job: ``python -m dlcore.train``.

``fit`` runs epochs with a tqdm progress bar showing loss, accuracy and
images/s; ``evaluate`` returns (loss, accuracy). Both move each batch to
``device`` (default: the device of the model's parameters). The command line
trains a small network on scikit-learn's bundled 8x8 digits (no network
needed) or on MNIST / Fashion-MNIST / CIFAR-10 files from ``--data-dir``, on
the CPU or with ``--device cuda`` on the GPU, and prints the test accuracy.

``mpirun -np N python -m dlcore.train --distributed ...`` trains data-parallel
(dlcore.distributed): each rank reads its shard of the training set
(DistributedSampler; ``--batch-size`` is per rank), gradients are averaged by
DistributedDataParallel, metrics are summed over ranks, and only rank 0 shows
the progress bar, prints and saves (the others wait at a barrier).
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from . import nn, optim
from ._device import module_for_device, parse_device
from .autograd import no_grad
from .data import CIFAR10, MNIST, DataLoader, Digits, FashionMNIST
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


def train_epoch(model, loader, optimizer, loss_fn=F.cross_entropy, desc="train", progress=True, device=None,
                distributed=False):
    """One pass over `loader`, batches moved to `device` (None: the model's); returns (loss, accuracy, images/s).

    `distributed`: sum loss, accuracy and image counts over the ranks of dlcore.distributed (every rank
    gets the job's totals; images/s is all images over the slowest rank's time).
    """
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
        correct += int((logits._data.argmax(axis=1) == y._data).sum())
        seen += n
        if progress:  # refresh=False: the bar redraws at its own pace (tqdm's mininterval), not every step
            bar.set_postfix(loss=f"{total_loss / seen:.4f}", acc=f"{correct / seen:.3f}",
                            img_s=f"{seen / (time.perf_counter() - start):.0f}", refresh=False)
    bar.close()
    elapsed = time.perf_counter() - start
    if distributed:
        total_loss, correct, seen = _sum_over_ranks(total_loss, correct, seen)
        elapsed = _max_over_ranks(elapsed)
    return total_loss / max(seen, 1), correct / max(seen, 1), seen / elapsed


def _sum_over_ranks(*values):
    from .distributed import all_reduce_scalars

    return all_reduce_scalars(values, "sum")


def _max_over_ranks(value):
    from .distributed import all_reduce_scalars

    return all_reduce_scalars([value], "max")[0]


def evaluate(model, loader, loss_fn=F.cross_entropy, device=None, distributed=False):
    """(mean loss, accuracy) over `loader` in eval mode, without recording the tape; batches go to `device`.

    `distributed`: each rank's loader holds its own part of the set; the sums are added over ranks.
    """
    model.eval()
    device = device or model_device(model)
    total_loss, correct, seen = 0.0, 0, 0
    with no_grad():
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            logits = model(x)
            total_loss += loss_fn(logits, y).item() * len(y)
            correct += int((logits._data.argmax(axis=1) == y._data).sum())
            seen += len(y)
    if distributed:
        total_loss, correct, seen = _sum_over_ranks(total_loss, correct, seen)
    return total_loss / max(seen, 1), correct / max(seen, 1)


def fit(model, train_loader, optimizer, epochs, test_loader=None, loss_fn=F.cross_entropy, scheduler=None,
        progress=True, log=print, device=None, distributed=False, plot=None):
    """Trains for `epochs`, evaluating on `test_loader` after each; returns a list of per-epoch dicts.

    `device` is where batches go (None: the model's device; move the model
    first, ``model.to("cuda")``, then build the optimizer). A loader whose
    sampler has ``set_epoch`` (DistributedSampler) gets it at each epoch.
    `distributed`: metrics are summed over ranks (see train_epoch). `plot`: a
    PNG path rewritten after every epoch with the loss and accuracy curves,
    train and test (``dlcore.plot.training_curves``; needs the ``plot``
    extra, checked before training starts).
    """
    if plot is not None:
        from .plot import _figure

        _figure(1, 1)  # no matplotlib: the ImportError now, not after the first epoch
    history = []
    for epoch in range(1, epochs + 1):
        if hasattr(getattr(train_loader, "sampler", None), "set_epoch"):
            train_loader.sampler.set_epoch(epoch)
        loss, acc, speed = train_epoch(model, train_loader, optimizer, loss_fn, f"epoch {epoch}/{epochs}", progress,
                                       device, distributed)
        row = {"epoch": epoch, "train_loss": loss, "train_acc": acc, "images_per_s": speed}
        if test_loader is not None:
            row["test_loss"], row["test_acc"] = evaluate(model, test_loader, loss_fn, device, distributed)
        if scheduler is not None:
            scheduler.step()
        history.append(row)
        if log:
            test = f", test loss {row['test_loss']:.4f}, test accuracy {row['test_acc']:.2%}" if test_loader else ""
            log(f"epoch {epoch}: train loss {loss:.4f}, train accuracy {acc:.2%}, {speed:.0f} images/s{test}")
        if plot is not None:
            from .plot import training_curves

            training_curves(history, plot)
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


def train_sampler(train_set, seed, distributed):
    """The training order: DistributedSampler's, also for one process, so runs see the same global batches.

    Epoch e's order is one permutation seeded by (seed, e) whatever the number of ranks R; rank r
    reads its positions r, r + R, ... With ``--batch-size`` B per rank, the global batch i of an
    R-rank run is then positions [i*B*R, (i+1)*B*R) of the permutation: the batch i of a 1-process
    run with batch B*R, the same images, so the two runs differ only in the order of the float
    sums (when R divides the training set's size; else the last batch has R-1 or fewer repeats).
    """
    from .data import DistributedSampler

    if distributed:
        return DistributedSampler(train_set, shuffle=True, seed=seed)
    return DistributedSampler(train_set, num_replicas=1, rank=0, shuffle=True, seed=seed)


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
    parser.add_argument("--distributed", action="store_true",
                        help="data-parallel over the ranks of an MPI job: mpirun -np N python -m dlcore.train "
                             "--distributed (needs dlcore[mpi]; --batch-size is per rank)")
    parser.add_argument("--plot", default=None, help="write loss/accuracy curves to this PNG (needs matplotlib)")
    args = parser.parse_args(argv)

    from . import ops, save

    device = parse_device(args.device)
    if device == "cuda" and args.backend not in ("auto", "cuda"):
        parser.error(f"--backend {args.backend} runs on the CPU; with --device cuda use auto or cuda")
    module_for_device(device)  # no usable GPU: BackendUnavailableError now, before the data is read
    rank, world = 0, 1
    if args.distributed:
        from . import distributed as dist

        dist.init(device=device)  # threads per rank from its cores; an exception on any rank aborts the job
        rank, world = dist.get_rank(), dist.get_world_size()
    say = print if rank == 0 else (lambda *a, **k: None)  # logs, progress bar and checkpoints on rank 0 only
    manual_seed(args.seed)
    train_set, test_set = load_datasets(args.dataset, args.data_dir, args.download)
    channels, height, width = train_set.images.shape[1:]
    model = mlp(channels * height * width) if args.model == "mlp" else lenet5(channels)
    model.to(device)  # before the optimizer is built (it keeps state beside each parameter)
    say(f"{args.dataset}: {len(train_set)} training / {len(test_set)} test images of {channels}x{height}x{width}")
    say(model)
    say(f"{model.num_parameters():,} parameters on {device}")
    if args.distributed:
        say(f"data-parallel over {world} ranks ({dlcore_threads()} threads each), batch {args.batch_size} per rank")
        net = dist.DistributedDataParallel(model)
        train_loader = DataLoader(train_set, batch_size=args.batch_size, device=device,
                                  sampler=train_sampler(train_set, args.seed, distributed=True))
        test_part = np.array_split(np.arange(len(test_set)), world)[rank]  # disjoint, unpadded: exact metrics
        test_loader = DataLoader(test_set, batch_size=256, device=device, sampler=test_part)
    else:
        net = model
        train_loader = DataLoader(train_set, batch_size=args.batch_size, device=device,
                                  sampler=train_sampler(train_set, args.seed, distributed=False))
        test_loader = DataLoader(test_set, batch_size=256, device=device)
    optimizer = optim.SGD(net.parameters(), lr=args.lr, momentum=args.momentum)
    start = time.perf_counter()
    from .amp import autocast

    if args.amp == "bf16" and device != "cpu":
        parser.error("--amp bf16 runs on the CPU (dlcore's bf16 kernels); use --device cpu")
    with ops._common.backend(args.backend), autocast("cpu", enabled=args.amp == "bf16"):
        history = fit(net, train_loader, optimizer, args.epochs, test_loader,
                      progress=not args.no_progress and rank == 0, log=say, distributed=args.distributed,
                      plot=args.plot if rank == 0 else None)
    final = history[-1]
    say(f"test accuracy: {final['test_acc']:.2%} after {args.epochs} epochs "
        f"({time.perf_counter() - start:.1f} s, {final['images_per_s']:.0f} training images/s)")
    if args.save and rank == 0:
        save(model.state_dict(), args.save)  # the plain model's keys: loads in a 1-process run
        say(f"saved the model to {args.save}")
    if args.plot:
        say(f"wrote the training curves to {args.plot}")
    if args.distributed:
        dist.barrier()  # the other ranks wait for rank 0's checkpoint before anyone exits
    return final["test_acc"]


def dlcore_threads():
    from ._backends import get_num_threads

    return get_num_threads()


if __name__ == "__main__":
    main()
