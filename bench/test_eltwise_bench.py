"""pytest-benchmark suite for the eltwise family (not run by CI): ours vs NumPy."""
import numpy as np
import pytest

from dlcore import kernels as K

X = np.random.default_rng(0).standard_normal((8, 64, 112, 112), dtype=np.float32)  # resnet_50:conv1 out, mb 8
C = X.shape[1]
W, B = np.ones(C, np.float32), np.zeros(C, np.float32)
RM, RV = np.zeros(C, np.float32), np.ones(C, np.float32)
S = np.random.default_rng(1).standard_normal((96, 1000), dtype=np.float32)

CASES = {
    "relu": (lambda: K.relu_forward(X), lambda: np.maximum(X, 0)),
    "sigmoid": (lambda: K.sigmoid_forward(X), lambda: 1 / (1 + np.exp(-X))),
    "tanh": (lambda: K.tanh_forward(X), lambda: np.tanh(X)),
    "bn_inference": (lambda: K.batch_norm_forward_inference(X, W, B, RM, RV),
                     lambda: (X - RM.reshape(1, -1, 1, 1)) / np.sqrt(RV.reshape(1, -1, 1, 1) + 1e-5)),
    "softmax": (lambda: K.softmax_forward(S),
                lambda: np.exp(S - S.max(1, keepdims=True))
                / np.exp(S - S.max(1, keepdims=True)).sum(1, keepdims=True)),
    "dropout": (lambda: K.dropout_forward(X, 0.5, 1), lambda: X * (np.random.random(X.shape) >= 0.5) * 2),
}


@pytest.mark.parametrize("impl", ["dlcore", "numpy"])
@pytest.mark.parametrize("op", list(CASES))
def test_eltwise(benchmark, op, impl):
    benchmark(CASES[op][0 if impl == "dlcore" else 1])
