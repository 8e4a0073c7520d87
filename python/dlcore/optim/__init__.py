"""Optimizers, LR schedules and gradient clipping (torch.optim's names)."""
from ..nn.utils import clip_grad_norm_, clip_grad_value_
from . import lr_scheduler, swa_utils
from .optimizer import Optimizer
from .optimizers import SGD, Adadelta, Adagrad, Adam, Adamax, AdamW, NAdam, RAdam, RMSprop

__all__ = ["SGD", "Adadelta", "Adagrad", "Adam", "Adamax", "AdamW", "NAdam", "Optimizer", "RAdam", "RMSprop",
           "clip_grad_norm_",
           "clip_grad_value_", "lr_scheduler", "swa_utils"]
