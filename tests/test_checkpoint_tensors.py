"""dlcore.load gives back Tensors where Tensors were saved (as torch.load does), arrays where arrays were (the
optimizer's state), and still reads version-1 checkpoints, whose tensors were stored as plain arrays."""
import json
import zipfile

import numpy as np
import pytest

import dlcore
from dlcore import nn


def test_tensors_come_back_as_tensors_with_dtype_and_values(tmp_path, rng):
    saved = {
        "f32": dlcore.tensor(rng.standard_normal((3, 4)).astype(np.float32)),
        "f64": dlcore.tensor(rng.standard_normal(5)),
        "i64": dlcore.tensor([1, 2, 3]),
        "mask": dlcore.tensor([True, False]),
        "scalar": dlcore.tensor(2.5),
        "array": np.arange(4.0),
        "nested": [dlcore.tensor([1.0]), (np.int64(3), "x")],
    }
    dlcore.save(saved, tmp_path / "t.npz")
    got = dlcore.load(tmp_path / "t.npz")
    for key in ("f32", "f64", "i64", "mask", "scalar"):
        assert type(got[key]) is dlcore.Tensor and not got[key].requires_grad, key
        assert got[key].dtype == saved[key].dtype and got[key].shape == saved[key].shape, key
        np.testing.assert_array_equal(got[key].numpy(), saved[key].numpy())
    assert type(got["array"]) is np.ndarray
    assert type(got["nested"][0]) is dlcore.Tensor and got["nested"][1] == (3, "x")


def test_requires_grad_and_parameters_are_kept(tmp_path):
    w = nn.Parameter(dlcore.randn(2, 2))
    leaf = dlcore.ones(3, requires_grad=True)
    dlcore.save({"w": w, "leaf": leaf, "params": list(nn.Linear(2, 1).parameters())}, tmp_path / "p.npz")
    got = dlcore.load(tmp_path / "p.npz")
    assert isinstance(got["w"], nn.Parameter) and got["w"].requires_grad
    np.testing.assert_array_equal(got["w"].numpy(), w.numpy())
    assert type(got["leaf"]) is dlcore.Tensor and got["leaf"].requires_grad and got["leaf"].is_leaf
    assert all(isinstance(p, nn.Parameter) for p in got["params"])


def test_state_dict_round_trip_gives_tensors_and_loads(tmp_path, rng):
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    opt = dlcore.optim.Adam(model.parameters())
    model(dlcore.randn(5, 4)).sum().backward()
    opt.step()
    dlcore.save({"model": model.state_dict(), "opt": opt.state_dict()}, tmp_path / "ck.npz")
    ck = dlcore.load(tmp_path / "ck.npz")
    assert all(type(v) is dlcore.Tensor and not v.requires_grad for v in ck["model"].values())
    assert ck["model"]["1.num_batches_tracked"].dtype == np.int64
    fresh = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    fresh.load_state_dict(ck["model"])
    for (k, a), b in zip(model.state_dict().items(), fresh.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)
    fresh_opt = dlcore.optim.Adam(fresh.parameters())
    fresh_opt.load_state_dict(ck["opt"])
    assert fresh_opt.state_dict()["param_groups"] == opt.state_dict()["param_groups"]


def _as_version_1(path):
    """The same file as a version-1 writer made it: tensor entries were array entries."""
    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    meta = json.loads(np.load(path)["__dlcore__"].tobytes())
    text = json.dumps(meta).replace('"t": "tensor"', '"t": "array"').replace('"version": 2', '"version": 1')
    meta_npy = path.with_name("meta.npy")
    np.save(meta_npy, np.frombuffer(text.encode(), np.uint8))
    members["__dlcore__.npy"] = meta_npy.read_bytes()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def test_version_1_checkpoints_still_load_as_arrays(tmp_path):
    path = tmp_path / "old.npz"
    model = nn.Linear(2, 2)
    dlcore.save(model.state_dict(), path)
    _as_version_1(path)
    old = dlcore.load(path)
    assert all(type(v) is np.ndarray for v in old.values())
    nn.Linear(2, 2).load_state_dict(old)


def test_a_newer_version_is_refused(tmp_path):
    path = tmp_path / "new.npz"
    dlcore.save({"x": dlcore.ones(1)}, path)
    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    meta = json.loads(np.load(path)["__dlcore__"].tobytes())
    assert meta["version"] == 2 and meta["tree"]["items"][0][1]["t"] == "tensor"
    meta["version"] = 3
    np.save(tmp_path / "m.npy", np.frombuffer(json.dumps(meta).encode(), np.uint8))
    members["__dlcore__.npy"] = (tmp_path / "m.npy").read_bytes()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    with pytest.raises(dlcore.CheckpointError, match="newer"):
        dlcore.load(path)
