"""dlcore.save / dlcore.load: exact round trips, no pickle, corrupted/truncated/wrong files rejected."""
import os
import zipfile

import numpy as np
import pytest

import dlcore
from dlcore import nn, optim


def trained(seed=0):
    dlcore.manual_seed(seed)
    model = nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 3))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = dlcore.randn(8, 5), np.arange(8) % 3
    for _ in range(2):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return model, opt


def test_round_trip_model_and_optimizer_exactly(tmp_path):
    model, opt = trained(0)
    path = tmp_path / "ck.npz"
    dlcore.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 7, "note": None}, path)
    ck = dlcore.load(path)
    assert ck["epoch"] == 7 and ck["note"] is None
    model2, opt2 = trained(1)
    model2.load_state_dict(ck["model"])
    opt2.load_state_dict(ck["optimizer"])
    for (k, a), (_, b) in zip(model.state_dict().items(), model2.state_dict().items()):
        np.testing.assert_array_equal(a, b, err_msg=k)
    assert opt2.state_dict()["param_groups"] == opt.state_dict()["param_groups"]
    for i, s in opt.state_dict()["state"].items():
        np.testing.assert_array_equal(s["momentum_buffer"], opt2.state_dict()["state"][i]["momentum_buffer"])
    # the same next step from both
    x, y = dlcore.randn(8, 5), np.arange(8) % 3
    for m, o in ((model, opt), (model2, opt2)):
        o.zero_grad()
        nn.functional.cross_entropy(m(x), y).backward()
        o.step()
    for a, b in zip(model.parameters(), model2.parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_no_pickle_in_the_file(tmp_path):
    path = tmp_path / "ck.npz"
    dlcore.save({"w": np.ones(3)}, path)
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            assert name.endswith(".npy")
    with pytest.raises(TypeError, match="pickle"):
        dlcore.save({"w": np.array([object()])}, path)
    with pytest.raises(TypeError, match="cannot save"):
        dlcore.save({"f": lambda: 0}, path)


def _unchanged(model, before):
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_truncated_and_corrupted_files_are_rejected(tmp_path):
    model, _ = trained(0)
    path = tmp_path / "ck.npz"
    dlcore.save(model.state_dict(), path)
    data = path.read_bytes()
    target, _ = trained(1)
    before = {k: np.array(v) for k, v in target.state_dict().items()}

    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(dlcore.CheckpointError, match="corrupted or truncated"):
        target.load_state_dict(dlcore.load(truncated))

    corrupted = tmp_path / "corrupted.npz"
    flipped = bytearray(data)
    offset = data.index(b"\x93NUMPY") + 200  # inside the first array's payload
    flipped[offset] ^= 0xFF
    corrupted.write_bytes(bytes(flipped))
    with pytest.raises(dlcore.CheckpointError):
        target.load_state_dict(dlcore.load(corrupted))

    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, w=np.ones(2))
    with pytest.raises(dlcore.CheckpointError, match="not a dlcore checkpoint"):
        dlcore.load(foreign)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"hello world")
    with pytest.raises(dlcore.CheckpointError):
        dlcore.load(garbage)
    with pytest.raises(FileNotFoundError):
        dlcore.load(tmp_path / "missing.npz")
    _unchanged(target, before)


def test_wrong_shape_checkpoint_leaves_model_unchanged(tmp_path):
    path = tmp_path / "ck.npz"
    dlcore.save(nn.Sequential(nn.Linear(5, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 3)).state_dict(), path)
    target, _ = trained(1)
    before = {k: np.array(v) for k, v in target.state_dict().items()}
    with pytest.raises(ValueError, match="shape"):
        target.load_state_dict(dlcore.load(path))
    _unchanged(target, before)


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "ck.npz"
    dlcore.save({"w": np.ones(3)}, path)

    def fail(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(np, "savez", fail)
    with pytest.raises(OSError, match="disk full"):
        dlcore.save({"w": np.zeros(3)}, path)
    monkeypatch.undo()
    np.testing.assert_array_equal(dlcore.load(path)["w"], np.ones(3))
    assert sorted(os.listdir(tmp_path)) == ["ck.npz"]  # no temp file left behind
