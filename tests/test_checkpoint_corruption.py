"""Damaged checkpoints: every one is refused with dlcore.CheckpointError (or, for
a flip in bytes nobody reads, loads the exact original), and the model is never
touched; a save killed midway (SIGKILL) leaves the old file.

The damaged files are built deterministically from one real checkpoint of a
small model with an optimizer: bit flips across the whole file, truncations at
every structural boundary, swapped and replaced members, pickled members,
huge or lying .npy headers, bad JSON trees, foreign zips. Over 200 in all.
"""
import io
import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
import zipfile

import numpy as np
import pytest

import dlcore
from dlcore import nn, optim
from dlcore.serialization import _META_KEY


def _trained(seed):
    dlcore.manual_seed(seed)
    model = nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 3))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = dlcore.randn(8, 5), np.arange(8) % 3
    opt.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
    return model, opt


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    model, opt = _trained(0)
    path = tmp_path_factory.mktemp("ck") / "ck.npz"
    dlcore.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}, path)
    return path.read_bytes()


def _members(data):
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {info.filename: z.read(info.filename) for info in z.infolist()}


def _zip(members, compression=zipfile.ZIP_STORED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        for name, payload in members.items():
            z.writestr(name, payload)
    return buf.getvalue()


def _npy(array):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=True)
    return buf.getvalue()


def _meta(members):
    raw = np.load(io.BytesIO(members[_META_KEY + ".npy"]))
    return json.loads(raw.tobytes().decode())


def _with_meta(members, meta):
    out = dict(members)
    out[_META_KEY + ".npy"] = _npy(np.frombuffer(json.dumps(meta).encode(), np.uint8))
    return out


def _header_npy(header_text, payload=b""):
    """A .npy v1.0 (v2.0 when long) file with an arbitrary header string (padded as numpy does)."""
    header = header_text.encode("latin1")
    pad = 64 - (10 + len(header) + 1) % 64
    header = header + b" " * pad + b"\n"
    if len(header) < 65536:
        return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + payload
    return b"\x93NUMPY\x02\x00" + len(header).to_bytes(4, "little") + header + payload


def damaged_files(data):
    """(name, bytes) pairs: every way we damage a checkpoint."""
    out = []
    n = len(data)
    # bit flips spread over the whole file (one bit each), plus byte smashes
    rng = np.random.default_rng(1234)
    for i, off in enumerate(np.linspace(0, n - 1, 120).astype(int)):
        b = bytearray(data)
        b[off] ^= 1 << (i % 8)
        out.append((f"flip@{off}", bytes(b)))
    for off in rng.choice(n, 20, replace=False):
        b = bytearray(data)
        b[off:off + 8] = rng.integers(0, 256, 8, dtype=np.uint8).tobytes()[: len(b[off:off + 8])]
        out.append((f"smash@{off}", bytes(b)))
    # truncations: at fractions of the file and right around each member's local header
    for frac in np.linspace(0.0, 0.999, 30):
        out.append((f"truncate@{frac:.3f}", data[: int(n * frac)]))
    pos = 0
    while True:
        pos = data.find(b"PK\x03\x04", pos + 1)
        if pos < 0:
            break
        for d in (0, 4, 30, 100):
            out.append((f"truncate@PK+{pos}+{d}", data[: pos + d]))
    out.append(("empty", b""))
    out.append(("appended-garbage-only-zip-head", data[:4] + b"\x00" * 100))

    members = _members(data)
    keys = [k for k in members if k != _META_KEY + ".npy"]
    # swapped array members (content of one under the other's name)
    for i in range(len(keys) - 1):
        m = dict(members)
        m[keys[i]], m[keys[i + 1]] = members[keys[i + 1]], members[keys[i]]
        if m[keys[i]] != members[keys[i]]:
            out.append((f"swap:{keys[i]}<->{keys[i + 1]}", _zip(m)))
    # a member dropped, a member duplicated as another dtype, compressed archive with a flip
    for k in keys[:4]:
        m = dict(members)
        del m[k]
        out.append((f"missing:{k}", _zip(m)))
        m = dict(members)
        m[k] = _npy(np.load(io.BytesIO(members[k])).astype(np.float64))
        out.append((f"retyped:{k}", _zip(m)))
        m = dict(members)
        m[k] = _npy(np.load(io.BytesIO(members[k])).reshape(-1)[::-1].copy())
        out.append((f"reversed:{k}", _zip(m)))
    compressed = bytearray(_zip(members, zipfile.ZIP_DEFLATED))
    for off in np.linspace(40, len(compressed) - 200, 10).astype(int):
        b = bytearray(compressed)
        b[off] ^= 0x10
        out.append((f"deflate-flip@{off}", bytes(b)))
    # pickles: a pickled member, a pickle as the whole file, an object-dtype meta
    evil = pickle.dumps({"x": 1})
    for k in keys[:3] + [_META_KEY + ".npy"]:
        m = dict(members)
        m[k] = _npy(np.array([{"x": 1}], dtype=object))
        out.append((f"pickled-member:{k}", _zip(m)))
    out.append(("pickle-file", evil))
    out.append(("pickle-in-zip", _zip({_META_KEY + ".npy": evil})))
    # huge or lying .npy headers
    first = keys[0]
    for header in [
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776,), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 100000, 100000), }",
        "{'descr': 'O', 'fortran_order': False, 'shape': (1,), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': ('a',), }",
        "{'descr': '<f4', 'fortran_order': False}",
        "{'descr': '<f4' 'fortran_order': False, 'shape': (1,), }",
        "__import__('os').system('echo pwned')",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }" + " " * 200_000,
        "{'descr': [('a', '<f4')] * 100000, 'fortran_order': False, 'shape': (1,), }",
        "{'descr': '<V1099511627776', 'fortran_order': False, 'shape': (1,), }",
        "(" * 10000 + ")" * 10000,
    ]:
        m = dict(members)
        m[first] = _header_npy(header, b"\x00" * 64)
        out.append((f"header:{header[:40]}", _zip(m)))
    big = dict(members)
    big[first] = b"\x93NUMPY\x02\x00" + (2**31).to_bytes(4, "little") + b"{"
    out.append(("header-len-2GiB", _zip(big)))
    # JSON trees that lie
    meta = _meta(members)
    bad_metas = [
        {"format": "something-else", "version": 1, "tree": meta["tree"]},
        {"format": meta["format"], "version": 99, "tree": meta["tree"]},
        {"format": meta["format"], "version": "1", "tree": meta["tree"]},
        {"format": meta["format"], "version": 1},
        {"format": meta["format"], "version": 1, "tree": None},
        {"format": meta["format"], "version": 1, "tree": [1, 2]},
        {"format": meta["format"], "version": 1, "tree": {"t": "dict", "items": 5}},
        {"format": meta["format"], "version": 1, "tree": {"t": "dict", "items": [[1]]}},
        {"format": meta["format"], "version": 1, "tree": {"t": "dict", "items": [[[1], {"t": "none"}]]}},
        {"format": meta["format"], "version": 1, "tree": {"t": "list", "items": None}},
        {"format": meta["format"], "version": 1, "tree": {"t": "array", "key": "nope", "sha256": "0"}},
        {"format": meta["format"], "version": 1, "tree": {"t": "array", "key": ["a0"], "sha256": "0"}},
        {"format": meta["format"], "version": 1, "tree": {"t": "array", "key": "a0"}},
        {"format": meta["format"], "version": 1, "tree": {"t": "float", "v": "__import__('os')"}},
        {"format": meta["format"], "version": 1, "tree": {"t": "float", "v": 1.5}},
        {"format": meta["format"], "version": 1, "tree": {"t": "int", "v": "7"}},
        {"format": meta["format"], "version": 1, "tree": {"t": "str", "v": 7}},
        {"format": meta["format"], "version": 1, "tree": {"t": "bool", "v": 1}},
        {"format": meta["format"], "version": 1, "tree": {"t": "set", "items": []}},
        {"format": meta["format"], "version": 2, "tree": {"t": "tensor", "key": "nope", "sha256": "0"}},
        {"format": meta["format"], "version": 2, "tree": {"t": "tensor", "key": "a0"}},
        {"format": meta["format"], "version": 2, "tree": {"t": "tensor", "key": "a0", "sha256": "0",
                                                           "requires_grad": "yes"}},
        {"format": meta["format"], "version": 1,
         "tree": {"t": "dict", "items": [["k", {"t": "dict", "items": [["k", None]]}]]}},
    ]
    for i, bad in enumerate(bad_metas):
        out.append((f"meta#{i}", _zip(_with_meta(members, bad))))
    deep = '{"t": "list", "items": [' * 50000 + '{"t": "none"}' + "]}" * 50000  # too deep for json/recursion
    m = dict(members)
    m[_META_KEY + ".npy"] = _npy(np.frombuffer(
        ('{"format": "dlcore-checkpoint", "version": 1, "tree": ' + deep + "}").encode(), np.uint8))
    out.append(("meta-deeply-nested", _zip(m)))
    m = dict(members)
    m[_META_KEY + ".npy"] = _npy(np.frombuffer(b"\xff\xfe not json", np.uint8))
    out.append(("meta-not-utf8", _zip(m)))
    m[_META_KEY + ".npy"] = _npy(np.frombuffer(b"[1, 2", np.uint8))
    out.append(("meta-bad-json", _zip(m)))
    m[_META_KEY + ".npy"] = _npy(np.frombuffer(b"[1, 2]", np.uint8))
    out.append(("meta-json-list", _zip(m)))
    m[_META_KEY + ".npy"] = _npy(np.zeros((2, 3), np.float32))
    out.append(("meta-float-array", _zip(m)))
    m = dict(members)
    del m[_META_KEY + ".npy"]
    out.append(("meta-missing", _zip(m)))
    out.append(("foreign-zip", _zip({"hello.txt": b"hi"})))
    out.append(("text-file", b"hello world\n" * 10))
    return out


def test_corruption_suite_rejects_every_damaged_file(tmp_path, original):
    target, topt = _trained(1)
    before = {k: v.clone() for k, v in target.state_dict().items()}
    good = tmp_path / "good.npz"
    good.write_bytes(original)
    reference = dlcore.load(good)
    cases = damaged_files(original)
    assert len(cases) >= 200, len(cases)
    rejected, harmless, escaped = 0, [], []
    path = tmp_path / "bad.npz"
    for name, payload in cases:
        path.write_bytes(payload)
        try:
            ck = dlcore.load(path)
        except dlcore.CheckpointError:
            rejected += 1
            continue
        except BaseException as exc:  # noqa: B036 - collect every escape, then fail with the list
            escaped.append(f"{name}: {type(exc).__name__}: {str(exc)[:120]}")
            continue
        # a flip in bytes that nothing reads (zip timestamps, padding) may load: then it must be the original
        try:
            _assert_same(ck, reference)
        except AssertionError as exc:
            escaped.append(f"{name}: loaded a DIFFERENT checkpoint: {exc}")
        else:
            harmless.append(name)
    assert not escaped, "\n".join(escaped)
    print(f"{len(cases)} damaged files: {rejected} rejected, {len(harmless)} harmless flips loaded the original")
    assert rejected >= 200, (rejected, harmless)
    # the model was never touched by any of it
    for k, v in target.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    target.load_state_dict(reference["model"])


def _assert_same(a, b):
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same(x, y)
    elif isinstance(a, dlcore.Tensor):
        assert a.requires_grad == b.requires_grad
        _assert_same(a.numpy(), b.numpy())
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    else:
        assert a == b


_KILLER = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    import dlcore
    path, where = sys.argv[1], sys.argv[2]
    real_fsync, real_replace = os.fsync, os.replace
    def die(*a, **k):
        os.kill(os.getpid(), signal.SIGKILL)
    if where == "fsync":
        os.fsync = die
    elif where == "replace":
        os.replace = die
    elif where == "write":
        import numpy.lib.format as fmt
        real_write = fmt.write_array
        calls = [0]
        def write_array(fp, array, *a, **k):
            calls[0] += 1
            if calls[0] == 2:        # the second member: the file is half written
                fp.write(b"x" * 1000)
                die()
            return real_write(fp, array, *a, **k)
        fmt.write_array = write_array
    dlcore.save({"w": np.full(1000, 2.0, np.float32), "v": np.zeros(5)}, path)
    print("save returned", flush=True)
""")


@pytest.mark.parametrize("where", ["write", "fsync", "replace", "external"])
def test_save_killed_midway_leaves_the_old_file(tmp_path, where):
    path = tmp_path / "ck.npz"
    dlcore.save({"w": np.ones(1000, np.float32)}, path)
    old = path.read_bytes()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    if where == "external":
        # the parent kills a child that saves a large checkpoint over and over
        script = ("import sys, numpy as np, dlcore\n"
                  "a = np.ones(4_000_000, np.float32)\n"
                  "print('go', flush=True)\n"
                  "while True: dlcore.save({'w': a}, sys.argv[1])\n")
        with subprocess.Popen([sys.executable, "-c", script, str(path)], env=env, stdout=subprocess.PIPE) as proc:
            assert proc.stdout.readline().strip() == b"go"
            time.sleep(0.3)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        ck = dlcore.load(path)  # whichever complete file won, never a torn one
        assert ck["w"].shape in ((1000,), (4_000_000,)) and np.all(ck["w"] == 1)
    else:
        proc = subprocess.run([sys.executable, "-c", _KILLER, str(path), where], env=env,
                              capture_output=True, timeout=60)
        assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
        assert b"save returned" not in proc.stdout
        assert path.read_bytes() == old
        np.testing.assert_array_equal(dlcore.load(path)["w"], np.ones(1000, np.float32))
    # a killed save can leave its temp file behind (nobody ran the cleanup), never a torn target
    leftovers = [p for p in os.listdir(tmp_path) if p != "ck.npz"]
    assert all(p.startswith(".tmp-") for p in leftovers), leftovers
