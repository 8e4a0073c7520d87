"""dlcore.data on small IDX / CIFAR files the tests write themselves."""
import gzip
import hashlib

import numpy as np
import pytest

import dlcore
from dlcore.data import CIFAR10, MNIST, DataLoader, DatasetError, FashionMNIST, TensorDataset, transforms
from dlcore.data import datasets as ds


def write_mnist(folder, n_train=10, n_test=5, gz=False, seed=0):
    rng = np.random.default_rng(seed)
    suffix = ".gz" if gz else ""
    data = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        ds.write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images)
        ds.write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels)
        data[prefix] = (images, labels)
    return data


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_reads_idx_files(tmp_path, gz):
    data = write_mnist(tmp_path, gz=gz)
    train = MNIST(tmp_path, train=True)
    test = FashionMNIST(tmp_path, train=False)
    assert len(train) == 10 and len(test) == 5
    x, y = train[3]
    assert x.shape == (1, 28, 28) and x.dtype == np.float32
    np.testing.assert_allclose(x[0], data["train"][0][3] / 255.0, rtol=1e-6)
    assert y == data["train"][1][3]
    xb, yb = test.get_batch(np.array([0, 4]))
    assert xb.shape == (2, 1, 28, 28) and yb.dtype == np.int64


def test_mnist_rejects_bad_files(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        MNIST(tmp_path)
    write_mnist(tmp_path)
    raw = (tmp_path / "train-images-idx3-ubyte").read_bytes()
    (tmp_path / "train-images-idx3-ubyte").write_bytes(raw[:-100])
    with pytest.raises(DatasetError, match="header says"):
        MNIST(tmp_path)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"\x01\x02\x03\x04" + raw[4:])
    with pytest.raises(DatasetError, match="magic"):
        MNIST(tmp_path)


def test_download_verifies_sha256(tmp_path):
    payload = gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x02\x05\x07")
    source = tmp_path / "mirror.gz"
    source.write_bytes(payload)
    good = hashlib.sha256(payload).hexdigest()
    target = tmp_path / "labels.gz"
    ds.download_file([source.as_uri()], str(target), good)
    np.testing.assert_array_equal(ds.read_idx(target), [5, 7])
    other = tmp_path / "other.gz"
    with pytest.raises(DatasetError, match="SHA-256"):
        ds.download_file([source.as_uri()], str(other), "0" * 64)
    assert not other.exists() and len(list(tmp_path.glob(".download-*"))) == 0


def test_cifar10_binary_batches(tmp_path):
    rng = np.random.default_rng(1)
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    expected = {}
    for name, n in [(f"data_batch_{i}.bin", 3) for i in range(1, 6)] + [("test_batch.bin", 4)]:
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        pixels = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        np.concatenate([labels[:, None], pixels], axis=1).tofile(folder / name)
        expected[name] = (labels, pixels)
    train, test = CIFAR10(tmp_path, train=True), CIFAR10(tmp_path, train=False)
    assert len(train) == 15 and len(test) == 4
    x, y = test[2]
    assert x.shape == (3, 32, 32) and y == expected["test_batch.bin"][0][2]
    np.testing.assert_allclose(x[1].ravel(), expected["test_batch.bin"][1][2][1024:2048] / 255.0, rtol=1e-6)
    (folder / "test_batch.bin").write_bytes(b"\x01" * 100)
    with pytest.raises(DatasetError, match="multiple"):
        CIFAR10(tmp_path, train=False)


def test_dataloader_batching_shuffle_seed_and_drop_last():
    x = np.arange(10, dtype=np.float32).reshape(10, 1)
    dset = TensorDataset(x, np.arange(10))
    batches = list(DataLoader(dset, batch_size=4))
    assert [len(b[0]) for b in batches] == [4, 4, 2] and isinstance(batches[0][0], dlcore.Tensor)
    assert len(DataLoader(dset, batch_size=4, drop_last=True)) == 2
    first = [b[1].numpy().tolist() for b in DataLoader(dset, batch_size=10, shuffle=True, seed=5)]
    again = [b[1].numpy().tolist() for b in DataLoader(dset, batch_size=10, shuffle=True, seed=5)]
    assert first == again and sorted(first[0]) == list(range(10)) and first[0] != list(range(10))
    loader = DataLoader(dset, batch_size=10, shuffle=True, seed=5)
    epochs = [next(iter(loader))[1].numpy().tolist() for _ in range(2)]
    assert epochs[0] != epochs[1]  # a new order each epoch


def test_dataloader_on_plain_dataset():
    class Squares(dlcore.data.Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return np.float32(i), i * i
    xs, ys = next(iter(DataLoader(Squares(), batch_size=5)))
    np.testing.assert_array_equal(ys.numpy(), [0, 1, 4, 9, 16])


def test_transforms():
    img = np.arange(2 * 4 * 4, dtype=np.float32).reshape(2, 4, 4)
    np.testing.assert_allclose(transforms.Normalize([1, 2], [2, 4])(img)[1], (img[1] - 2) / 4)
    flipped = transforms.RandomHorizontalFlip(p=1.0)(img)
    np.testing.assert_array_equal(flipped, img[..., ::-1])
    np.testing.assert_array_equal(transforms.RandomHorizontalFlip(p=0.0)(img), img)
    batch = np.stack([img] * 8)
    crops = transforms.RandomCrop(4, padding=2, seed=0)(batch)
    assert crops.shape == batch.shape
    assert any(not np.array_equal(c, img) for c in crops)  # some crops are shifted
    assert np.array_equal(transforms.RandomCrop(4, padding=0)(img), img)
    pipeline = transforms.Compose([transforms.RandomCrop(4, padding=1, seed=1), transforms.Normalize([0, 0], [1, 1])])
    assert pipeline(img).shape == img.shape


def test_digits_builtin_dataset():
    pytest.importorskip("sklearn")
    train, test = dlcore.data.Digits(train=True), dlcore.data.Digits(train=False)
    assert len(train) + len(test) == 1797 and abs(len(test) - 359) <= 1
    x, y = train[0]
    assert x.shape == (1, 8, 8) and 0 <= x.min() and x.max() <= 1


def test_dataset_without_len_says_what_is_missing():
    # the DataLoader raised a bare NotImplementedError() with no message
    from dlcore.data import DataLoader, Dataset

    class NoLen(Dataset):
        def __getitem__(self, i):
            return i

    with pytest.raises(NotImplementedError, match="NoLen must define __len__"):
        list(DataLoader(NoLen(), batch_size=2))


def test_tensor_dataset_items_are_tensors_and_concat():
    x, y = np.arange(12, dtype=np.float32).reshape(6, 2), np.arange(6)
    first = TensorDataset(x, y)
    sample = first[2]
    assert isinstance(sample[0], dlcore.Tensor) and sample[0].tolist() == [4.0, 5.0] and int(sample[1]) == 2
    assert sample[0].unsqueeze(0).shape == (1, 2)  # torch code indexes a TensorDataset and uses Tensor methods
    both = dlcore.data.ConcatDataset([first, TensorDataset(x[:3] + 100, y[:3] + 100)])
    assert len(both) == 9 and both.cumulative_sizes == [6, 9]
    assert int(both[6][1]) == 100 and int(both[-1][1]) == 102 and int(both[5][1]) == 5
    with pytest.raises(IndexError):
        both[9]
    batches = list(DataLoader(both, batch_size=4))
    assert [len(b[1]) for b in batches] == [4, 4, 1] and batches[1][1].tolist() == [4, 5, 100, 101]


def test_weighted_random_sampler_balances_classes():
    labels = np.array([0] * 90 + [1] * 10)
    weights = 1.0 / np.bincount(labels)[labels]
    sampler = dlcore.data.WeightedRandomSampler(weights, 4000, generator=np.random.default_rng(0))
    picks = np.array(list(sampler))
    assert len(sampler) == 4000 and abs((labels[picks] == 1).mean() - 0.5) < 0.05
    unique = list(dlcore.data.WeightedRandomSampler(weights, 100, replacement=False,
                                                    generator=np.random.default_rng(1)))
    assert sorted(unique) == list(range(100))
    loader = DataLoader(TensorDataset(np.arange(100, dtype=np.float32), labels), batch_size=10, sampler=sampler)
    assert len(loader) == 400
    with pytest.raises(ValueError, match="not all zero"):
        dlcore.data.WeightedRandomSampler([0.0, 0.0], 3)
    with pytest.raises(ValueError, match="without replacement"):
        dlcore.data.WeightedRandomSampler([1.0, 0.0, 1.0], 3, replacement=False)


class _Squares(dlcore.data.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        for i in range(self.n):
            yield np.float32(i * i), i


def test_iterable_dataset_and_unbatched_loading():
    batches = list(DataLoader(_Squares(7), batch_size=3))
    assert [b[0].tolist() for b in batches] == [[0.0, 1.0, 4.0], [9.0, 16.0, 25.0], [36.0]]
    assert len(list(DataLoader(_Squares(7), batch_size=3, drop_last=True))) == 2
    singles = list(DataLoader(_Squares(3), batch_size=None))
    assert [s[1] for s in singles] == [0, 1, 2]
    with pytest.raises(ValueError, match="no shuffle"):
        DataLoader(_Squares(3), shuffle=True)
    with pytest.raises(ValueError, match="num_workers=0"):
        DataLoader(_Squares(3), num_workers=2)
    with pytest.raises(TypeError, match="IterableDataset"):
        _Squares(3)[0]
    unbatched = list(DataLoader(TensorDataset(np.ones((3, 2), np.float32), np.arange(3)), batch_size=None))
    assert len(unbatched) == 3 and unbatched[0][0].shape == (2,)


def test_chain_stack_datasets_and_default_convert():
    from dlcore.data import ChainDataset, DataLoader, IterableDataset, StackDataset, TensorDataset, default_convert

    class Count(IterableDataset):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            return iter(range(self.n))

        def __len__(self):
            return self.n

    chain = ChainDataset([Count(2), Count(3)])
    assert list(chain) == [0, 1, 0, 1, 2] and len(chain) == 5
    assert [b.tolist() for b in DataLoader(chain, batch_size=2)] == [[0, 1], [0, 1], [2]]
    with pytest.raises(TypeError, match="IterableDataset"):
        ChainDataset([TensorDataset(dlcore.zeros(2))])
    a, b = TensorDataset(dlcore.arange(3)), TensorDataset(dlcore.arange(3) * 10)
    assert StackDataset(a, b)[1][1][0].item() == 10
    assert StackDataset(x=a, y=b)[2]["y"][0].item() == 20
    with pytest.raises(ValueError, match="same length"):
        StackDataset(a, TensorDataset(dlcore.arange(4)))
    converted = default_convert({"x": np.ones(2), "y": [np.zeros(1), 3]})
    assert isinstance(converted["x"], dlcore.Tensor) and isinstance(converted["y"][0], dlcore.Tensor)
    assert converted["y"][1] == 3
