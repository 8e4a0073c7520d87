"""img/s of the MNIST program's training loop (pytorch/examples mnist/main.py) under dlcore and under PyTorch.

The same loop on both: the example's Net (conv 32, conv 64, max-pool, dropout 0.25, fc 9216->128, dropout 0.5,
fc 128->10, log_softmax), nll_loss, Adadelta(lr=1.0), StepLR(step_size=1, gamma=0.7) stepped per segment, batch
64, shuffled DataLoader without workers (the original's CPU settings), on the same images (MNIST IDX files with
--data, else seeded random ones: speed does not depend on the pixels) and the same thread count
(torch.set_num_threads = dlcore.get_num_threads()). Validation first: on copied weights, both nets' eval
logits agree within 1e-4 relative. Then segments of --batches steps alternate dlcore / torch (order flipped
every round, so drift in the machine's load hits both alike); each segment's img/s is images / wall time of the
training part (DataLoader + forward + backward + step), as mnist_main.py reports. Prints every round, the
medians, the median of the per-round ratios and the load average before and after.

    python bench/port_mnist.py [--data DIR] [--rounds 5] [--batches 100] [--threads N]
"""
import argparse
import os
import statistics
import time

import numpy as np


def load_images(data, n, seed):
    if data:
        from dlcore.data import MNIST
        ds = MNIST(data, train=True)
        x = ds.images[:n].astype(np.float32).reshape(-1, 1, 28, 28)
        if ds.images.dtype == np.uint8:
            x = x / np.float32(255)
        y = ds.labels[:n].astype(np.int64)
    else:
        rng = np.random.default_rng(seed)
        x = rng.random((n, 1, 28, 28), dtype=np.float32)
        y = rng.integers(0, 10, n).astype(np.int64)
    return ((x - np.float32(0.1307)) / np.float32(0.3081)).astype(np.float32), y


def make_net(lib):
    """The example's Net for either library: the one definition the training-step report uses too."""
    from dlcore.bench.train import _mnist_net

    return _mnist_net(lib.nn, lib.nn.functional)


class Runner:
    """One library's model, optimizer, scheduler and loader; segment() trains `batches` steps, returns img/s."""

    def __init__(self, lib, x, y):
        self.lib = lib
        self.model = make_net(lib)
        self.opt = lib.optim.Adadelta(self.model.parameters(), lr=1.0)
        self.sched = lib.optim.lr_scheduler.StepLR(self.opt, step_size=1, gamma=0.7)
        ds = lib.utils.data.TensorDataset(lib.from_numpy(x), lib.from_numpy(y))
        self.loader = lib.utils.data.DataLoader(ds, batch_size=64, shuffle=True)

    def segment(self, batches):
        F = self.lib.nn.functional
        self.model.train()
        images = 0
        start = time.perf_counter()
        for i, (data, target) in enumerate(self.loader):
            if i == batches:
                break
            self.opt.zero_grad()
            loss = F.nll_loss(self.model(data), target)
            loss.backward()
            self.opt.step()
            images += len(data)
        loss.item()
        seconds = time.perf_counter() - start
        self.sched.step()
        return images / seconds


def validate(dl_runner, torch, x):
    """Copied weights, eval mode: both nets' logits within 1e-4 relative (the loops compute the same thing)."""
    tnet = make_net(torch)
    tnet.load_state_dict({k: torch.from_numpy(np.array(v._data)) for k, v in dl_runner.model.state_dict().items()})
    dl_runner.model.eval(), tnet.eval()
    ours = dl_runner.model(dl_runner.lib.from_numpy(x[:64])).numpy()
    with torch.no_grad():
        theirs = tnet(torch.from_numpy(x[:64])).numpy()
    err = float(np.abs(ours - theirs).max() / np.abs(theirs).max())
    assert err < 1e-4, f"the two nets disagree before timing: relative error {err:.3g}"
    return err


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=None, help="folder with the MNIST IDX files (default: random images)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--batches", type=int, default=100, help="training steps per timed segment")
    p.add_argument("--threads", type=int, default=None, help="default: dlcore.get_num_threads()")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)

    import torch

    import dlcore
    if args.threads:
        dlcore.set_num_threads(args.threads)
    threads = dlcore.get_num_threads()
    torch.set_num_threads(threads)
    dlcore.manual_seed(args.seed)
    torch.manual_seed(args.seed)
    x, y = load_images(args.data, 64 * args.batches, args.seed)

    ours = Runner(dlcore, x, y)
    err = validate(ours, torch, x)
    theirs = Runner(torch, x, y)
    load_before = os.getloadavg()
    print(f"# mnist training loop, batch 64, {args.batches} steps per segment, {threads} threads "
          f"(dlcore {dlcore.__version__}, torch {torch.__version__}); logits agree to {err:.2g}")
    print(f"# load average before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}")
    ours.segment(min(10, args.batches)), theirs.segment(min(10, args.batches))  # warm-up
    rows = []
    for r in range(args.rounds):
        order = (ours, theirs) if r % 2 == 0 else (theirs, ours)
        speed = {id(run): run.segment(args.batches) for run in order}
        a, b = speed[id(ours)], speed[id(theirs)]
        rows.append((a, b, a / b))
        print(f"round {r}: dlcore {a:8.1f} img/s  torch {b:8.1f} img/s  ratio {a / b:.3f}")
    med = [statistics.median(c) for c in zip(*rows)]
    load_after = os.getloadavg()
    print(f"median: dlcore {med[0]:.1f} img/s, torch {med[1]:.1f} img/s, ratio (median of rounds) {med[2]:.3f}")
    print(f"# load average after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")
    return med


if __name__ == "__main__":
    main()
