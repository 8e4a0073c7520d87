"""Image regression, "where's my nose": a CNN regresses the nose's (x, y) on synthetic faces with mse_loss.

Each 32x32 grey image holds a face: an ellipse of random position, size and
brightness, two dark eyes, a bright nose and a dark mouth, plus noise. The nose
sits between the eyes and the mouth with its own random offset, so the network
has to find it, not just the face. The target is the nose's (x, y) in [0, 1]
image coordinates; the loss is F.mse_loss. The data is generated here (seeded),
so there is no --data-dir. The table compares the mean error in pixels with the
baseline that always answers the training set's mean position.

    python examples/nose_regression.py
"""
import argparse
import sys
import time

import numpy as np
from _course import print_table

import dlcore
from dlcore import nn
from dlcore.data import DataLoader, TensorDataset
from dlcore.nn import functional as F

SIZE = 32


def faces(n, seed):
    """(images (n, 1, 32, 32) float32, nose (n, 2) float32 in [0, 1] as (x, y))."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    images = np.empty((n, 1, SIZE, SIZE), np.float32)
    nose = np.empty((n, 2), np.float32)
    for i in range(n):
        cx, cy = rng.uniform(10, 22, 2)
        rx, ry = rng.uniform(6, 9), rng.uniform(8, 11)
        img = np.where(((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1, rng.uniform(0.4, 0.6), 0.1)
        eye_dx, eye_y = rx * 0.45, cy - ry * 0.35
        for ex in (cx - eye_dx, cx + eye_dx):
            img = np.where((xx - ex) ** 2 + (yy - eye_y) ** 2 <= 1.5, 0.0, img)
        nx, ny = cx + rng.uniform(-2.0, 2.0), cy + rng.uniform(-1.0, 2.0)
        img = np.where((xx - nx) ** 2 + (yy - ny) ** 2 <= 2.2, 1.0, img)
        mouth_y = cy + ry * 0.6
        img = np.where((np.abs(yy - mouth_y) <= 0.6) & (np.abs(xx - cx) <= rx * 0.4), 0.0, img)
        images[i, 0] = img + rng.normal(0, 0.05, img.shape)
        nose[i] = (nx / (SIZE - 1), ny / (SIZE - 1))
    return images, nose


def model():
    return nn.Sequential(
        nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 8 * 8, 64), nn.ReLU(), nn.Linear(64, 2))


def pixel_error(pred, target):
    return float(np.linalg.norm((pred - target) * (SIZE - 1), axis=1).mean())


def predict(net, x):
    net.eval()
    with dlcore.no_grad():
        return np.concatenate([net(dlcore.from_numpy(np.ascontiguousarray(x[i:i + 500]))).numpy()
                               for i in range(0, len(x), 500)])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train-size", type=int, default=4000)
    p.add_argument("--test-size", type=int, default=1000)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    dlcore.manual_seed(args.seed)
    x_train, y_train = faces(args.train_size, args.seed)
    x_test, y_test = faces(args.test_size, args.seed + 1)
    net = model()
    opt = dlcore.optim.Adam(net.parameters(), lr=args.lr)
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=args.batch_size, shuffle=True, seed=args.seed)
    baseline = pixel_error(np.broadcast_to(y_train.mean(axis=0), y_test.shape), y_test)
    rows, t0 = [], time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        net.train()
        total, seen = 0.0, 0
        for x, y in loader:
            opt.zero_grad()
            loss = F.mse_loss(net(x), y)
            loss.backward()
            opt.step()
            total += loss.item() * len(y)
            seen += len(y)
        pred = predict(net, x_test)
        rows.append({"epoch": epoch, "train_mse": total / seen, "test_mse": float(((pred - y_test) ** 2).mean()),
                     "px": pixel_error(pred, y_test), "baseline": baseline})
    print(f"{args.epochs} epochs on {args.train_size} faces in {time.perf_counter() - t0:.1f} s")
    return print_table(rows, [("epoch", "epoch", "d"), ("train_mse", "train MSE", ".5f"),
                              ("test_mse", "test MSE", ".5f"), ("px", "test error (pixels)", ".2f"),
                              ("baseline", "mean-position baseline (pixels)", ".2f")],
                       f"Where's my nose: CNN regression on {SIZE}x{SIZE} synthetic faces")


if __name__ == "__main__":
    main(sys.argv[1:])
