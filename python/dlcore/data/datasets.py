"""Datasets: MNIST and Fashion-MNIST (IDX files), CIFAR-10 (binary batches), scikit-learn's digits.

Images come as float32 (N, C, H, W) scaled to [0, 1] (then the optional
``transform``), labels as int64. Files are read from the directory the user
gives; MNIST and Fashion-MNIST can also be downloaded (``download=True``)
where the network allows, each file checked against its SHA-256 and kept in
the directory (default cache: ``~/.cache/dlcore/<name>``).
"""
from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import urllib.request

import numpy as np

from .dataset import Dataset

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
               0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


class DatasetError(ValueError):
    """A dataset file is missing, malformed, or fails its checksum."""


def read_idx(path):
    """Reads an IDX file (optionally .gz) into a NumPy array, checking its header against its size."""
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:
        raise DatasetError(f"{path}: cannot read ({exc})") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DatasetError(f"{path}: not an IDX file (bad magic number)")
    dtype, ndim = np.dtype(_IDX_DTYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetError(f"{path}: truncated IDX header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise DatasetError(f"{path}: IDX header says shape {shape} ({expected} bytes) but the file has {len(raw)}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path, array):
    """Writes a uint8 array as an IDX file (tests and tools use it)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(header + array.tobytes())


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download_file(urls, path, sha256):
    """Fetches the first mirror that answers into `path` (atomically) and checks its SHA-256."""
    errors = []
    for url in urls:
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".download-")
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
            got = sha256_of(tmp)
            if got != sha256:
                raise DatasetError(f"{url}: SHA-256 {got} does not match the expected {sha256}")
            os.replace(tmp, path)
            return path
        except Exception as exc:  # try the next mirror, report all failures together
            errors.append(f"{url}: {exc}")
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    raise DatasetError(f"could not download {os.path.basename(path)}:\n  " + "\n  ".join(errors))


def default_root(name):
    return os.path.join(os.path.expanduser(os.environ.get("DLCORE_DATA", "~/.cache/dlcore")), name)


class _ArrayDataset(Dataset):
    """Images (N, C, H, W) uint8 -> float32 in [0, 1], labels int64; batches by fancy indexing."""

    def __init__(self, images, labels, transform=None):
        if len(images) != len(labels):
            raise DatasetError(f"{len(images)} images but {len(labels)} labels")
        self.images, self.labels, self.transform = images, labels.astype(np.int64), transform

    def __len__(self):
        return len(self.labels)

    def _prepare(self, images):
        x = images.astype(np.float32) / np.float32(255 if self.images.dtype == np.uint8 else 1)
        return self.transform(x) if self.transform is not None else x

    def __getitem__(self, index):
        return self._prepare(self.images[index]), self.labels[index]

    def get_batch(self, indices):
        return self._prepare(self.images[indices]), self.labels[indices]


class MNIST(_ArrayDataset):
    """The MNIST digits (60,000 train / 10,000 test, 1x28x28).

    Args:
        root: a directory with the four standard IDX files (``train-images-idx3-ubyte``
            etc., raw or ``.gz``; also found under ``root/raw`` or ``root/MNIST/raw``).
            Default: ``~/.cache/dlcore/mnist`` (``$DLCORE_DATA`` overrides the base).
        train: the training split, else the test split.
        download: fetch missing files (SHA-256 checked) into `root`.
        transform: applied to the float32 images (a batch or one image).
    """

    name = "mnist"
    mirrors = ("https://ossci-datasets.s3.amazonaws.com/mnist/",
               "https://storage.googleapis.com/cvdf-datasets/mnist/")
    #: SHA-256 of the standard gzip files.
    sha256 = {
        "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    }
    classes = [str(i) for i in range(10)]

    def __init__(self, root=None, train=True, download=False, transform=None):
        self.root = os.fspath(root) if root is not None else default_root(self.name)
        prefix = "train" if train else "t10k"
        images = read_idx(self._locate(f"{prefix}-images-idx3-ubyte", download))
        labels = read_idx(self._locate(f"{prefix}-labels-idx1-ubyte", download))
        if images.ndim != 3:
            raise DatasetError(f"{self.root}: images file has shape {images.shape}, expected (N, H, W)")
        super().__init__(images[:, None], labels, transform)

    def _locate(self, stem, download):
        for folder in (self.root, os.path.join(self.root, "raw"), os.path.join(self.root, type(self).__name__, "raw")):
            for name in (stem, stem + ".gz"):
                path = os.path.join(folder, name)
                if os.path.exists(path):
                    return path
        if not download:
            raise DatasetError(f"{type(self).__name__}: {stem}[.gz] not found in {self.root} "
                               f"(pass the directory holding the IDX files, or download=True)")
        os.makedirs(self.root, exist_ok=True)
        name = stem + ".gz"
        return download_file([m + name for m in self.mirrors], os.path.join(self.root, name), self.sha256[name])


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST (same format and sizes as MNIST)."""

    name = "fashion-mnist"
    mirrors = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
    sha256 = {
        "train-images-idx3-ubyte.gz": "08dc20ab1689590a0bcd66e874647b6ee8464e2d501b5a3f1f78831db19a3fdc",
        "train-labels-idx1-ubyte.gz": "b0197879cbda89f3dc7b894f9fd52b858e68ea4182b6947c9d8c2b67e5f18dcc",
        "t10k-images-idx3-ubyte.gz": "78dcbbfb5a27efaf1b6c1d616caca68560be8766c5bffcb2791df9273a534229",
        "t10k-labels-idx1-ubyte.gz": "42bd18137a62d5998cdeae52bf3a0676ac6b706f5cf8439b47bb5b151ae3dccf",
    }
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]


class CIFAR10(_ArrayDataset):
    """CIFAR-10 from its standard binary batches (``cifar-10-batches-bin/data_batch_{1..5}.bin``, ``test_batch.bin``).

    Each record is 1 label byte then 3072 pixel bytes (R, G, B planes of 32x32).
    `root` is the folder holding the .bin files or its parent.
    """

    record = 1 + 3 * 32 * 32
    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

    def __init__(self, root, train=True, transform=None, download=False):
        root = os.fspath(root)
        folder = os.path.join(root, "cifar-10-batches-bin")
        folder = folder if os.path.isdir(folder) else root
        names = [f"data_batch_{i}.bin" for i in range(1, 6)] if train else ["test_batch.bin"]
        images, labels = [], []
        for name in names:
            path = os.path.join(folder, name)
            if not os.path.exists(path):
                raise DatasetError(f"CIFAR10: {name} not found in {folder}" + (
                    " (download=True is not supported for CIFAR-10: place the binary batches there)" if download
                    else ""))
            raw = np.fromfile(path, dtype=np.uint8)
            if raw.size == 0 or raw.size % self.record:
                raise DatasetError(f"{path}: size {raw.size} is not a multiple of the {self.record}-byte record")
            rows = raw.reshape(-1, self.record)
            if rows[:, 0].max() > 9:
                raise DatasetError(f"{path}: label {rows[:, 0].max()} out of range 0..9")
            labels.append(rows[:, 0])
            images.append(rows[:, 1:].reshape(-1, 3, 32, 32))
        super().__init__(np.concatenate(images), np.concatenate(labels), transform)


class Digits(_ArrayDataset):
    """scikit-learn's bundled 8x8 digits (1,797 images, 1x8x8, values scaled to [0, 1]); no network needed.

    Split deterministically (seeded) into train and test. Needs scikit-learn:
    ``pip install "dlcore[data]"``.
    """

    classes = [str(i) for i in range(10)]

    def __init__(self, train=True, test_fraction=0.2, seed=0, transform=None):
        try:
            from sklearn.datasets import load_digits
        except ImportError as exc:
            raise ImportError("the built-in digits dataset needs scikit-learn: pip install \"dlcore[data]\"") from exc
        bunch = load_digits()
        images = (bunch.images / 16.0).astype(np.float32)[:, None]  # 0..16 -> [0, 1]
        order = np.random.default_rng(seed).permutation(len(images))
        n_test = int(round(len(images) * test_fraction))
        chosen = order[n_test:] if train else order[:n_test]
        super().__init__(images[chosen], bunch.target[chosen], transform)
