"""Plain array-in/array-out kernels, no autograd.

Every function takes NumPy float32 arrays (C-contiguous; they are never
converted silently) and a ``backend=`` argument:

* ``"auto"`` - our fastest CPU implementation for this machine;
* ``"ref"``, ``"avx2"``, ``"avx512"`` - exactly that implementation of ours;
* ``"onednn"`` - Intel oneDNN, when built;
* ``"cuda"`` - our CUDA kernels on CuPy arrays, when built.

Asking for a backend that cannot run raises ``dlcore.BackendUnavailableError``;
there is never a silent fallback. ``last_dispatch()`` names the implementation
the last call on this thread ran (``DLCORE_VERBOSE=1`` prints every choice).
"""
from . import dropout, eltwise, norm, softmax
from ._dispatch import last_dispatch
from .dropout import *  # noqa: F401,F403  (dropout_forward, dropout_backward)
from .conv import conv2d_backward_data, conv2d_backward_weights, conv2d_forward
from .eltwise import *  # noqa: F401,F403  (relu/prelu/sigmoid/tanh/elu/abs/maxout forward and backward)
from .gemm import gemm, linear_forward  # linear_forward: _C only, not in __all__ (see its docstring)
from .cast import cast_bf16_to_f32, cast_f32_to_bf16
from .lrn import lrn_backward, lrn_forward
from .norm import *  # noqa: F401,F403  (batch_norm_forward_training/_inference, batch_norm_backward)
from .recurrent import recurrent_backward, recurrent_forward  # noqa: F401  (_C only, like lowbit)
from .pool import avg_pool2d_backward, avg_pool2d_forward, max_pool2d_backward, max_pool2d_forward
from .softmax import *  # noqa: F401,F403  (softmax/log_softmax/cross_entropy forward and backward)
from . import lowbit
from .lowbit import *  # noqa: F401,F403  (int8 GEMM/conv, binary pack/GEMM/conv; integer ops, not in the
#                                      float32 kernel API's __all__ that oneDNN/CUDA mirror)

__all__ = (["gemm", "last_dispatch", "conv2d_forward", "conv2d_backward_data", "conv2d_backward_weights",
            "lrn_forward", "lrn_backward", "max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward",
            "avg_pool2d_backward", "cast_f32_to_bf16", "cast_bf16_to_f32"] + eltwise.__all__ + norm.__all__
           + softmax.__all__ + dropout.__all__)
