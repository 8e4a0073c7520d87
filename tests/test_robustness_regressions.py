"""The crashes, hangs and silent wrong answers issue 18 found, one test each.

Each runs in a child process (a crash must not take pytest down) and says
what the fixed behaviour is. All are fixed (harden-core's checked geometry,
empty-batch rules, LRN reach cap and overflow recompute, ReLU rule); a
regression shows here as a failure, with the child's exit status.
"""
import os
import subprocess
import sys
import textwrap

import pytest

from fuzz import expected_crash_env

PREAMBLE = "import numpy as np, dlcore\nfrom dlcore import kernels as K\n"


def run_child(code, timeout=60):
    # a child that crashes writes its sanitizer report aside (expected_crash_env), not into the CI failure list
    env = expected_crash_env(dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p)))
    try:
        r = subprocess.run([sys.executable, "-c", PREAMBLE + textwrap.dedent(code)], env=env, capture_output=True,
                           text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"hang: still running after {timeout} s")
    assert r.returncode == 0, f"exit {r.returncode} (negative: killed by that signal)\n{r.stderr[-2000:]}"
    return r.stdout


@pytest.mark.parametrize("call", [
    "y = K.conv2d_forward(np.zeros((0, 4, 8, 8), np.float32), np.ones((4, 1, 3, 3), np.float32), groups=4)\n"
    "assert y.shape == (0, 4, 6, 6)",
    "dx = K.conv2d_backward_data(np.zeros((0, 4, 6, 6), np.float32), np.ones((4, 1, 3, 3), np.float32),"
    " (0, 4, 8, 8), groups=4)\nassert dx.shape == (0, 4, 8, 8)",
    "y = dlcore.nn.Conv2d(4, 4, 3, groups=4)(dlcore.zeros(0, 4, 8, 8))\nassert y.shape == (0, 4, 6, 6)",
], ids=["forward", "backward_data", "layer"])
def test_depthwise_empty_batch(call):
    run_child(call)


def test_depthwise_backward_weights_empty_batch_is_zero():
    run_child("dw, db = K.conv2d_backward_weights(np.zeros((0, 4, 8, 8), np.float32),"
              " np.zeros((0, 4, 6, 6), np.float32), (4, 1, 3, 3), groups=4)\n"
              "assert dw.shape == (4, 1, 3, 3) and not dw.any() and not db.any()")


RAISES = """
try:
    out = {call}
except ValueError as exc:
    print(exc)
else:
    raise SystemExit(f"returned {{getattr(out, 'shape', out)}} instead of raising ValueError")
"""


def test_maxout_backward_huge_pool_is_a_value_error():
    run_child(RAISES.format(call="K.maxout_backward(np.ones((1, 1, 5), np.float32), np.zeros((1, 1, 5), np.int32),"
                                 " 2**61 + 1)"))


def test_pool_huge_kernel_is_a_value_error():
    run_child(RAISES.format(call="K.max_pool2d_forward(np.ones((1, 2, 5, 5), np.float32), 2**62, 1, 2**61)"))


def test_conv_huge_dilation_is_a_clear_value_error():
    out = run_child(RAISES.format(call="K.conv2d_forward(np.ones((1, 2, 5, 5), np.float32),"
                                       " np.ones((2, 2, 3, 3), np.float32), dilation=2**62)"))
    assert "dilation" in out, out


def test_conv_huge_padding_is_a_value_error():
    run_child(RAISES.format(call="K.conv2d_forward(np.ones((1, 2, 5, 5), np.float32),"
                                 " np.ones((2, 2, 3, 3), np.float32), padding=2**62)"))


def test_lrn_within_huge_size_is_clipped_not_out_of_bounds():
    # was: size 2^62 read out of bounds (SIGSEGV). KERNEL_API: a window wider than the data is clipped, and
    # alpha / size^2 is then ~0, so y = x * k^-beta.
    run_child("""
        y = K.lrn_forward(np.ones((1, 2, 5, 5), np.float32), 2**62, 1e-4, 0.75, 2.0, region='within')
        assert y.shape == (1, 2, 5, 5) and np.allclose(y, 2.0 ** -0.75, rtol=1e-6), y.ravel()[:3]
    """)


def test_lrn_within_size_2_31_does_not_hang():
    run_child("""
        try:
            K.lrn_forward(np.ones((1, 2, 5, 5), np.float32), 2**31 + 1, region='within')
        except (ValueError, MemoryError):
            pass
    """, timeout=10)


def test_lrn_is_right_when_x_squared_overflows_float32():
    run_child("""
        x = np.full((1, 3, 2, 2), 1e20, np.float32)
        for backend in ("ref", "avx2"):
            y = K.lrn_forward(x, 3, 1e-4, 0.75, 1.0, backend=backend)
            x64 = x.astype(np.float64)
            in_window = np.array([2, 3, 2], np.float64).reshape(1, 3, 1, 1)  # windows clipped at the edges
            ref = x64 * (1.0 + 1e-4 / 3 * in_window * x64 * x64) ** -0.75
            assert np.allclose(y, ref, rtol=1e-4), (backend, y.ravel()[:2], ref.ravel()[:2])
    """)


def test_relu_of_minus_infinity_is_zero():
    run_child("""
        x = np.array([-np.inf] * 17 + [np.inf, -1.0, np.nan], np.float32)
        for backend in ("ref", "avx2"):
            y = K.relu_forward(x, backend=backend)
            assert np.all(y[:17] == 0) and y[17] == np.inf and y[18] == 0 and np.isnan(y[19]), (backend, y)
    """)


def test_leaky_relu_of_minus_infinity_is_minus_infinity():
    run_child("""
        y = K.relu_forward(np.full(33, -np.inf, np.float32), 0.1)
        assert np.all(y == -np.inf), y
    """)


# ---- found by the fuzz (tests/fuzz.py), fixed on this branch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_layer_lrn_size_zero_is_a_value_error(dtype):
    run_child(f"""
        x = dlcore.randn(2, 3, 4, 4).to(np.{dtype})
        try:
            dlcore.nn.functional.local_response_norm(x, 0)
        except ValueError as exc:
            assert "size" in str(exc), exc
        else:
            raise SystemExit("no error")
    """)


def test_layer_linear_with_a_1d_weight_is_a_value_error():
    run_child("""
        try:
            dlcore.nn.functional.linear(dlcore.randn(3, 5), dlcore.randn(5))
        except ValueError as exc:
            assert "weight" in str(exc), exc
        else:
            raise SystemExit("no error")
    """)



# ---- found probing the low-precision and oneDNN entries (not in the op table's fuzz)
@pytest.mark.parametrize("call, name", [
    ("K.gemm_u8s8s32(np.ones((2, 3), np.uint8), np.ones((3, 3), np.int8), 128.7)", "a_zero_point"),
    ("K.gemm_u8s8s32_packed(np.ones((2, 3), np.uint8), K.gemm_u8s8s32_pack(np.ones((3, 3), np.int8)), 1.5)",
     "a_zero_point"),
    ("K.quantize_u8(np.ones(3, np.float32), '0.5', 3)", "scale"),
    ("K.quantize_u8(np.ones(3, np.float32), 0.5, 3.9)", "zero_point"),
    ("K.requantize_u8(np.ones((2, 3), np.int32), np.ones(3, np.float32), np.ones(3, np.float32), 2.5)", "lo"),
    ("K.dequantize_s32(np.ones((2, 3), np.int32), np.ones(3, np.float32), np.ones(3, np.float32), relu='no')",
     "relu"),
    ("K.conv2d_u8s8(np.ones((1, 2, 5, 5), np.uint8), np.ones((2, 1, 3, 3), np.int8), groups=2.0)", "groups"),
    ("K.binary_gemm(np.zeros((2, 1), np.uint64), np.zeros((3, 1), np.uint64), 64.9)", "k"),
    ("K.binary_pack_nchw(np.ones((1, 4, 2, 2), np.float32), 2.0)", "groups"),
    ("K.binary_conv2d(np.zeros((1, 3, 3, 1), np.uint64), np.zeros((2, 3, 3, 1), np.uint64), 4.5)", "in_channels"),
])
def test_lowbit_scalar_of_the_wrong_type_is_a_type_error(call, name):
    # was: int(128.7) / bool('no') / float('0.5') in kernels/lowbit.py, so a float zero point or k was truncated
    # and any string was a true relu: a silently different result
    import numpy as np

    from dlcore import kernels
    with pytest.raises(TypeError, match=name):
        eval(call, {"np": np, "K": kernels})


@pytest.mark.parametrize("call", [
    "y, idx = K.maxout_forward(np.empty((2**40, 2, 0), np.float32), 2)\nassert y.shape == (2**40, 1, 0)",
    "dx = K.maxout_backward(np.empty((2**40, 1, 0), np.float32), np.empty((2**40, 1, 0), np.int32), 2)\n"
    "assert dx.shape == (2**40, 2, 0)",
    "q = K.requantize_u8(np.empty((2**40, 1, 0), np.int32), np.ones(1, np.float32), np.ones(1, np.float32))\n"
    "assert q.shape == (2**40, 1, 0)",
    "y = K.dequantize_s32(np.empty((2**40, 1, 0), np.int32), np.ones(1, np.float32), np.ones(1, np.float32))\n"
    "assert y.shape == (2**40, 1, 0)",
    "bits = K.binary_pack_nchw(np.empty((2**20, 4, 2**20, 0), np.float32))\nassert bits.shape == (2**20, 2**20, 0, 1)",
    "y = K.prelu_forward(np.empty((2**30, 5, 0), np.float32), np.ones(5, np.float32))\nassert y.shape == (2**30, 5, 0)",
    "dx, dw = K.prelu_backward(np.empty((2**30, 5, 0), np.float32), np.empty((2**30, 5, 0), np.float32),"
    " np.ones(5, np.float32))\nassert dx.shape == (2**30, 5, 0) and not dw.any()",
], ids=["maxout_forward", "maxout_backward", "requantize_u8", "dequantize_s32", "binary_pack_nchw", "prelu_forward",
        "prelu_backward"])
def test_empty_array_with_a_huge_batch_does_not_hang(call):
    # was: the kernels looped over outer * channels empty rows (2^40 of them): a hang of many minutes
    run_child(call, timeout=20)


def _outcome(fn):
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - the outcome itself is compared
        return type(exc).__name__, str(exc)
    return "ok", ""


_ONEDNN = pytest.mark.skipif(not __import__("dlcore").backends()["onednn"]["available"], reason="no oneDNN")


@_ONEDNN
@pytest.mark.parametrize("call", [
    "K.elu_forward(np.ones(5, np.float32), alpha=float('nan'), backend=B)",
    "K.elu_backward(np.ones(5, np.float32), np.ones(5, np.float32), alpha=float('-inf'), backend=B)",
    "K.relu_forward(np.ones(5, np.float32), float('inf'), backend=B)",
    "K.relu_backward(np.ones(5, np.float32), np.ones(5, np.float32), float('nan'), backend=B)",
    "K.prelu_forward(np.ones((0, 3), np.float32), np.ones(5, np.float32), backend=B)",
    "K.prelu_backward(np.ones((0, 3), np.float32), np.ones((0, 3), np.float32), np.ones(0, np.float32), backend=B)",
    "K.sigmoid_backward(np.ones(4, np.float32), np.ones(5, np.float32), backend=B)",
    "K.softmax_forward(np.ones((3, 0), np.float32), 1, backend=B)",
    "K.log_softmax_backward(np.ones((0, 5), np.float32), np.ones((0, 5), np.float32), 0, backend=B)",
    "K.softmax_backward(np.ones((2, 5), np.float32), np.ones((3, 5), np.float32), backend=B)",
    "K.softmax_forward(np.ones((), np.float32), backend=B)",
    "K.batch_norm_forward_inference(np.ones((2, 3), np.float32), None, None, np.zeros(3, np.float32),"
    " np.full(3, -1, np.float32), backend=B)",
    "K.batch_norm_forward_inference(np.ones((2, 3), np.float32), np.ones(4, np.float32), None, np.zeros(3, np.float32),"
    " np.ones(3, np.float32), backend=B)",
    "K.batch_norm_forward_training(np.ones((2, 3), np.float32), None, None, eps=0.0, backend=B)",
    "K.batch_norm_forward_training(np.ones((2, 3), np.float32), None, None, np.zeros(3, np.float32),"
    " np.ones(3, np.float32), momentum=float('nan'), backend=B)",
    "K.batch_norm_forward_training(np.ones((2, 3), np.float32), None, None, np.zeros(3, np.float32), backend=B)",
    "K.batch_norm_forward_training(np.ones((1, 3), np.float32), None, None, backend=B)",
    "K.batch_norm_forward_training(np.ones((0, 3), np.float32), None, None, backend=B)",
    "K.batch_norm_backward(np.ones((2, 4), np.float32), np.ones((2, 3), np.float32), None, np.zeros(3, np.float32),"
    " np.ones(3, np.float32), backend=B)",
    "K.batch_norm_backward(np.ones((2, 3), np.float32), np.ones((2, 3), np.float32), None, None,"
    " np.ones(3, np.float32), backend=B)",
    "K.conv2d_forward(np.ones((1, 2, 5, 5), np.float32), np.ones((3, 2, 3, 3), np.float32), np.ones(4, np.float32),"
    " backend=B)",
    "K.conv2d_backward_data(np.ones((1, 3, 4, 4), np.float32), np.ones((3, 2, 3, 3), np.float32), (1, 2, 5, 5),"
    " backend=B)",
    "K.conv2d_backward_weights(np.ones((1, 2, 5, 5), np.float32), np.ones((1, 4, 3, 3), np.float32), (3, 2, 3, 3),"
    " backend=B)",
    "K.avg_pool2d_backward(np.ones((1, 2, 3, 3), np.float32), (1, 2, 5, 5), 2, backend=B)",
])
def test_onednn_refuses_what_ours_refuses_with_the_same_error(call):
    # was: oneDNN's entries had their own checks: a NaN/inf ELU alpha or ReLU slope ran, an empty softmax axis,
    # a PReLU weight not matching an empty x, a negative running_var, eps = 0, a NaN momentum, one running
    # statistic without the other and one value per channel were accepted, and the messages differed (also
    # conv's bias and dy, pooling's dy)
    import numpy as np

    from dlcore import kernels
    ours = _outcome(lambda: eval(call, {"np": np, "K": kernels, "B": "ref"}))
    onednn = _outcome(lambda: eval(call, {"np": np, "K": kernels, "B": "onednn"}))
    assert ours[0] == "ValueError" and onednn == ours, (ours, onednn)


@pytest.mark.parametrize("n, exc", [(2.5, TypeError), ("2", TypeError), (True, TypeError), (2**40, ValueError)])
def test_thread_count_of_the_wrong_type_or_range_is_a_clear_error(n, exc):
    # was: int(n) in dlcore.set_num_threads, so 2.5 ran 2 threads and '2' / True passed; 2**40 gave pybind11's
    # "incompatible function arguments"
    import dlcore
    before = dlcore.get_num_threads()
    with pytest.raises(exc, match="set_num_threads: n must be"):
        dlcore.set_num_threads(n)
    with pytest.raises(exc, match="thread_limit: n must be"):
        with dlcore.thread_limit(n, blas=False):
            pass
    assert dlcore.get_num_threads() == before


@pytest.mark.parametrize("call", [
    "K.binary_gemm(np.zeros((2, 1), np.uint64), np.zeros((3, 1), np.uint64), 2**63 - 1)",
    "K.binary_conv2d(np.zeros((1, 3, 3, 1), np.uint64), np.zeros((2, 3, 3, 1), np.uint64), 2**63 - 1)",
])
def test_binary_bit_count_near_int64_max_is_a_clear_value_error(call):
    # was: (k + 63) / 64 overflowed int64 (undefined behaviour): "k = 9223372036854775807 needs
    # -144115188075855872 words per row"
    import numpy as np

    from dlcore import kernels
    with pytest.raises(ValueError, match="144115188075855872 words") as info:
        eval(call, {"np": np, "K": kernels})
    assert "-144115188075855872" not in str(info.value), info.value


def test_optimizer_state_shared_with_another_parameter_is_a_value_error():
    # was: only a state's own params[i] / grads[i] were checked; a state aliasing another entry's parameter,
    # gradient or state ran, updating that memory twice (a silently wrong step; KERNEL_API: state buffers must not
    # share memory with anything else)
    import numpy as np

    from dlcore import _C
    ones, zeros = (lambda: np.ones(4, np.float32)), (lambda: np.zeros(4, np.float32))
    p = [ones(), ones()]
    with pytest.raises(ValueError, match=r"exp_avg_sqs\[1\] shares memory with params\[0\]"):
        _C.adam_step(p, [ones(), ones()], [zeros(), zeros()], [zeros(), p[0]], [1, 1], 0.1)
    m = zeros()
    with pytest.raises(ValueError, match=r"exp_avgs\[0\] shares memory with exp_avgs\[1\]"):
        _C.adam_step([ones(), ones()], [ones(), ones()], [m, m], [zeros(), zeros()], [1, 1], 0.1)
    buf = np.zeros(8, np.float32)
    with pytest.raises(ValueError, match=r"momentum_buffers\[0\] shares memory with momentum_buffers\[1\]"):
        _C.sgd_step([ones(), ones()], [ones(), ones()], [buf[:4], buf[2:6]], [True, True], 0.1, 0.9)
    assert np.array_equal(p[0], ones()) and not buf.any()  # nothing was written
    g = ones()
    _C.adam_step([g], [g], [zeros()], [zeros()], [1], 0.1)  # a gradient that is its parameter: allowed


def test_host_cache_limit_beyond_size_t_is_a_clear_value_error():
    # was: pybind11's "incompatible function arguments" (a size_t cannot hold 2**64)
    import dlcore
    with pytest.raises(ValueError, match="nbytes must be < 2"):
        dlcore.set_host_cache_limit(2**64)
