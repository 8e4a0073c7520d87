"""Optimizers, LR schedules and gradient clipping (torch.optim's names)."""
from ..nn.utils import clip_grad_norm_, clip_grad_value_
from . import lr_scheduler, swa_utils
from .lbfgs import LBFGS
from .optimizer import Optimizer
from .optimizers import SGD, Adadelta, Adagrad, Adam, Adamax, AdamW, NAdam, RAdam, RMSprop
from .optimizers_more import ASGD, Adafactor, Muon, Rprop

__all__ = ["ASGD", "LBFGS", "SGD", "Adadelta", "Adafactor", "Adagrad", "Adam", "Adamax", "AdamW", "Muon", "NAdam",
           "Optimizer", "RAdam", "RMSprop", "Rprop", "clip_grad_norm_", "clip_grad_value_", "lr_scheduler",
           "swa_utils"]
