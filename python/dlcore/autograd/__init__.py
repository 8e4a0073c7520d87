"""Reverse-mode automatic differentiation, all in Python (DESIGN: autograd lives only here)."""
from . import functional
from .api import backward, grad
from .function import Function
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .gradcheck import gradcheck

__all__ = ["Function", "backward", "enable_grad", "functional", "grad", "gradcheck", "is_grad_enabled", "no_grad",
           "set_grad_enabled"]
