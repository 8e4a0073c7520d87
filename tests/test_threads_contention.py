"""dlcore's tile pool (csrc/core/pool.h, threads.cpp) and the kernels around
it: results bitwise independent of the thread count (1, 2, 3), right next to a
process that spins, and from concurrent Python threads (the pool is busy: a
second caller runs its tiles serially)."""
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import dlcore
from dlcore import _C
from dlcore import kernels as K
from dlcore.kernels import conv2d_forward, gemm
from dlcore.kernels.pool import avg_pool2d_forward
from opcheck import assert_close, at_threads, randn

# (m, k, n, trans_a, trans_b): odd sizes so tiles have edges; all large
# enough (> 2 MFLOP) that 2 and 3 threads really split the work.
GEMM_SHAPES = [(129, 130, 131, False, False), (33, 257, 200, True, False), (200, 97, 17, False, True),
               (7, 1000, 300, True, True), (256, 256, 256, False, False)]



# Spins until its parent is gone: a parent killed by a signal skips its
# `finally`, and a plain `while True: pass` outlived it and loaded the machine.
SPINNER = "import os\nparent = os.getppid()\nwhile os.getppid() == parent:\n    pass\n"


def operands(rng, m, k, n, ta, tb):
    a = randn(rng, *((k, m) if ta else (m, k)))
    b = randn(rng, *((n, k) if tb else (k, n)))
    return a, b


def memory_bound_ops(rng):
    """One call of each memory-bound family on inputs large enough for 2-3 threads (> 32K floats a
    thread), odd sizes: (name, function) pairs; every one runs on the pool (core/parallel.h)."""
    x = randn(rng, 8, 37, 29, 31)  # 266K floats
    dy = randn(rng, *x.shape)
    w, b = randn(rng, 37), randn(rng, 37)
    _, mean, invstd = K.batch_norm_forward_training(x, w, b)
    w1, dy1 = randn(rng, 16, 37, 1, 1), randn(rng, 8, 16, 15, 16)
    return [
        ("relu_forward", lambda: K.relu_forward(x)),
        ("sigmoid_backward", lambda: K.sigmoid_backward(dy, x)),
        ("batch_norm_forward_training", lambda: K.batch_norm_forward_training(x, w, b)[0]),
        ("batch_norm_backward", lambda: K.batch_norm_backward(dy, x, w, mean, invstd)),
        ("softmax_forward rows", lambda: K.softmax_forward(x.reshape(296, -1))),
        ("softmax_forward strided", lambda: K.softmax_forward(x, axis=1)),
        ("prelu_backward", lambda: K.prelu_backward(dy, x, np.abs(w) * 0.1)),
        ("max_pool2d_forward", lambda: K.max_pool2d_forward(x, 3, 2, 1)[0]),
        ("dropout_forward", lambda: K.dropout_forward(x, 0.3, 7)),
        ("lrn_forward", lambda: K.lrn_forward(x, 5)),
        ("cast_f32_to_bf16", lambda: K.cast_f32_to_bf16(x)),
        # a strided 1x1 conv gathers its pixels (backward data scatters them) around its GEMM
        ("conv2d_forward 1x1 stride 2", lambda: K.conv2d_forward(x, w1, stride=2)),
        ("conv2d_backward_data 1x1 stride 2", lambda: K.conv2d_backward_data(dy1, w1, x.shape, stride=2)),
    ]


def kernels_once(rng_seed=0):
    """GEMMs (tiled over the pool), a 3x3 conv (work items on the pool), a 1x1
    conv (a batched GEMM: one product per pool tile), an average pool and the
    memory-bound families (ranges on the pool)."""
    rng = np.random.default_rng(rng_seed)
    outs = []
    for m, k, n, ta, tb in GEMM_SHAPES:
        a, b = operands(rng, m, k, n, ta, tb)
        outs.append(gemm(a, b, trans_a=ta, trans_b=tb))
    x, w, bias = randn(rng, 2, 24, 19, 17), randn(rng, 32, 24, 3, 3), randn(rng, 32)
    outs.append(conv2d_forward(x, w, bias, padding=1))
    outs.append(conv2d_forward(x, randn(rng, 40, 24, 1, 1)))
    outs.append(avg_pool2d_forward(randn(rng, 4, 32, 57, 55), 3, 2, 1))
    for _, op in memory_bound_ops(rng):
        result = op()
        outs.extend(result if isinstance(result, tuple) else [result])
    return outs


def test_memory_bound_ops_run_on_the_pool(rng):
    # Not OpenMP regions, whose join waits for a thread the OS has descheduled (issue 17: beside a
    # spinning process batch norm took 5.9x its quiet time, softmax 4.2x).
    for name, op in memory_bound_ops(rng):
        before = _C._pool_parallel_calls()
        at_threads(2, op)
        assert _C._pool_parallel_calls() > before, f"{name} did not hand work to the pool at 2 threads"


def test_gemm_bitwise_equal_at_1_2_3_threads(rng):
    for m, k, n, ta, tb in GEMM_SHAPES:
        a, b = operands(rng, m, k, n, ta, tb)
        runs = [at_threads(t, lambda: gemm(a, b, trans_a=ta, trans_b=tb)) for t in (1, 2, 3)]
        np.testing.assert_array_equal(runs[0], runs[1])
        np.testing.assert_array_equal(runs[0], runs[2])
        ref = (a.T if ta else a).astype(np.float64) @ (b.T if tb else b).astype(np.float64)
        assert_close(runs[2], ref, rtol=1e-4, atol=1e-4 * np.sqrt(k))


def test_all_pool_users_bitwise_equal_at_1_2_3_threads():
    one, two, three = (at_threads(t, kernels_once) for t in (1, 2, 3))
    for a, b, c in zip(one, two, three):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


def test_results_right_while_another_process_spins():
    expected = at_threads(1, kernels_once)
    spinner = subprocess.Popen([sys.executable, "-c", SPINNER])
    try:
        for _ in range(3):
            got = at_threads(2, kernels_once)
            for g, e in zip(got, expected):
                np.testing.assert_array_equal(g, e)
    finally:
        spinner.kill()
        spinner.wait()


def test_concurrent_python_threads_agree_with_serial():
    expected = at_threads(1, kernels_once)

    def job(_):
        return kernels_once()

    def run():
        with ThreadPoolExecutor(3) as ex:
            return list(ex.map(job, range(6)))

    for got in at_threads(2, run):
        for g, e in zip(got, expected):
            np.testing.assert_array_equal(g, e)


@pytest.mark.parametrize("bad", [0, -1])
def test_set_num_threads_rejects_nonpositive(bad):
    with pytest.raises((ValueError, RuntimeError), match="n must be >= 1"):
        dlcore.set_num_threads(bad)


def test_pool_workers_go_quiet_after_a_call(rng):
    # Good neighbours (issue 17): a worker polls for the next call only until
    # kPoolSpinMicros (50 us) after the call it helped with has ended, then
    # sleeps. Over a 200 ms idle window after a 2-thread GEMM, the process
    # may burn a few ms of CPU (the interpreter, a late wake-up), never the
    # window itself, which a worker still spinning would add.
    import time
    if (os.cpu_count() or 1) < 2:
        pytest.skip("needs 2 cores")
    a, b = randn(rng, 512, 512), randn(rng, 512, 512)
    out = np.empty((512, 512), np.float32)

    def idle_cpu_seconds():
        gemm(a, b, out=out)
        gemm(a, b, out=out)
        c0 = time.process_time()
        time.sleep(0.2)
        return time.process_time() - c0

    burned = at_threads(2, lambda: min(idle_cpu_seconds() for _ in range(3)))
    assert burned < 0.05, f"{burned * 1e3:.1f} ms of CPU burned in a 200 ms idle window after a call"


def _pool_workers():
    """Thread ids of dlcore's pool workers (named dlcore-pool), Linux only."""
    tids = []
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/comm") as f:
                if f.read().strip() == "dlcore-pool":
                    tids.append(int(tid))
        except OSError:
            pass
    return tids


def _two_cpus():
    """This process's CPUs, sorted; skips the test off Linux or with fewer than 2."""
    if not sys.platform.startswith("linux"):
        pytest.skip("thread affinity: Linux only")
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        pytest.skip("needs 2 CPUs in this process's affinity mask")
    return allowed


def _current_cpu():
    """The CPU this thread last ran on (field 39 of /proc/thread-self/stat)."""
    with open("/proc/thread-self/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[36])


def test_leave_cpu_moves_the_thread_and_keeps_its_mask():
    # What a pool worker does when it joins a call on its caller's CPU
    # (threads.cpp leave_cpu): on a KVM guest the kernel woke it there after
    # a pause, and 2-thread calls ran at one-thread speed (issue 17). Put
    # this thread on one CPU with a mask of two, then ask it to leave.
    allowed = set(_two_cpus())
    here = min(allowed)
    try:
        for _ in range(3):
            os.sched_setaffinity(0, {here})  # now on `here`
            os.sched_setaffinity(0, allowed)  # a running thread stays where it is
            _C._leave_cpu(here)
            assert _current_cpu() != here
            assert os.sched_getaffinity(0) == allowed  # its own mask back
            _C._leave_cpu(-1)  # where the CPU is unknown: nothing
            assert os.sched_getaffinity(0) == allowed
    finally:
        os.sched_setaffinity(0, allowed)


def test_pool_workers_are_named(rng):
    # top -H and perf show pool threads by this name.
    _two_cpus()  # /proc, and pool workers only with 2 CPUs
    a = randn(rng, 256, 256)
    at_threads(2, lambda: gemm(a, a))
    assert _pool_workers(), "no thread named dlcore-pool after a 2-thread call"


# Run in a fresh process (the pool's workers are created once, at the first
# parallel call): a 2-thread GEMM, then each dlcore-pool worker's CPUs and
# the main thread's, as JSON.
_WORKER_CPUS = """
import json, os, time, numpy as np, dlcore
from dlcore.kernels import gemm
if os.environ.get("PIN_MAIN"):
    os.sched_setaffinity(0, {int(os.environ["PIN_MAIN"])})
dlcore.set_num_threads(2)
a = np.ones((256, 256), np.float32)
gemm(a, a)
# A worker that joined the call on this thread's CPU narrows its mask for a moment to move (leave_cpu):
# read the masks once the workers are idle again.
time.sleep(0.2)
workers = []
for tid in os.listdir("/proc/self/task"):
    with open(f"/proc/self/task/{tid}/comm") as f:
        if f.read().strip() == "dlcore-pool":
            workers.append(sorted(os.sched_getaffinity(int(tid))))
print(json.dumps({"main": sorted(os.sched_getaffinity(0)), "workers": workers}))
"""


def _worker_cpus(**env):
    import json
    full = dict(os.environ, **env)
    for var in ("OMP_PROC_BIND", "OMP_PLACES"):
        if var not in env:
            full.pop(var, None)
    out = subprocess.run([sys.executable, "-c", _WORKER_CPUS], env=full, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_pool_workers_follow_openmp_binding():
    # With OMP_PROC_BIND set, libgomp binds the main thread to one place at
    # startup and a new thread inherits that mask: every pool worker sat on
    # the caller's one CPU and 2-thread calls ran at one-thread speed (512^3:
    # 2.52 ms against 1.53). Workers now take the next place, as OpenMP's
    # close policy would.
    allowed = _two_cpus()
    places = ",".join(f"{{{c}}}" for c in allowed)
    for bind in ("true", "close", "spread"):
        got = _worker_cpus(OMP_PROC_BIND=bind, OMP_PLACES=places)
        assert len(got["main"]) == 1, got  # libgomp bound the main thread
        assert got["workers"], got
        for cpus in got["workers"]:
            assert len(cpus) == 1 and cpus != got["main"], (bind, got)


def test_pool_workers_keep_the_mask_they_inherit_without_binding():
    # No OpenMP binding: the workers keep their creator's mask, so taskset,
    # numactl or a thread pinned by the user still decide where they run.
    allowed = _two_cpus()
    got = _worker_cpus()
    assert got["workers"] and all(cpus == allowed for cpus in got["workers"]), got
    got = _worker_cpus(PIN_MAIN=str(allowed[-1]))
    assert got["workers"] and all(cpus == [allowed[-1]] for cpus in got["workers"]), got
