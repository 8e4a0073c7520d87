"""Learning-rate schedules (PyTorch's closed forms): per epoch, except OneCycleLR and CyclicLR (per batch) and
ReduceLROnPlateau (per metric).

As in torch, building a schedule applies its epoch-0 rate (a warm-up's LinearLR or LambdaLR starts low),
``step()`` moves one epoch on, and ``step(epoch)`` jumps to that epoch (torch deprecates it; the closed
forms make it exact).
"""
from __future__ import annotations

import bisect
import math


def _per_group(optimizer, value, what):
    """One value per parameter group: a list of them, or one value for all groups."""
    groups = len(optimizer.param_groups)
    values = list(value) if isinstance(value, (list, tuple)) else [value] * groups
    if len(values) != groups:
        raise ValueError(f"{what}: {len(values)} values for {groups} parameter groups")
    return values


class LRScheduler:
    """Base of the closed-form schedules: group i's rate at an epoch is ``group_lr(i, base_lrs[i], epoch)``."""

    def __init__(self, optimizer):
        self.optimizer = optimizer
        self.base_lrs = [group.setdefault("initial_lr", group["lr"]) for group in optimizer.param_groups]
        self.last_epoch = 0
        self._apply(0)

    def lr_at(self, base_lr, epoch):  # pragma: no cover - abstract
        raise NotImplementedError

    def group_lr(self, index, base_lr, epoch):
        return self.lr_at(base_lr, epoch)

    def _apply(self, epoch):
        for i, (group, base) in enumerate(zip(self.optimizer.param_groups, self.base_lrs)):
            group["lr"] = self.group_lr(i, base, epoch)

    def step(self, epoch=None):
        self.last_epoch = self.last_epoch + 1 if epoch is None else epoch
        self._apply(self.last_epoch)

    def get_last_lr(self):
        return [group["lr"] for group in self.optimizer.param_groups]

    #: Attributes state_dict leaves out (the optimizer, functions dlcore.save cannot store).
    _not_saved = ("optimizer",)

    def state_dict(self):
        return {k: v for k, v in self.__dict__.items() if k not in self._not_saved}

    def load_state_dict(self, state):
        self.__dict__.update(state)


class StepLR(LRScheduler):
    """lr = base * gamma ** (epoch // step_size)."""

    def __init__(self, optimizer, step_size, gamma=0.1):
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer)

    def lr_at(self, base_lr, epoch):
        return base_lr * self.gamma ** (epoch // self.step_size)


class ExponentialLR(LRScheduler):
    """lr = base * gamma ** epoch."""

    def __init__(self, optimizer, gamma):
        self.gamma = gamma
        super().__init__(optimizer)

    def lr_at(self, base_lr, epoch):
        return base_lr * self.gamma ** epoch


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (base - eta_min) * (1 + cos(pi * epoch / T_max)) / 2."""

    def __init__(self, optimizer, T_max, eta_min=0.0):
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer)

    def lr_at(self, base_lr, epoch):
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2


class MultiStepLR(LRScheduler):
    """lr = base * gamma ** (number of milestones <= epoch)."""

    def __init__(self, optimizer, milestones, gamma=0.1):
        self.milestones, self.gamma = sorted(int(m) for m in milestones), gamma
        super().__init__(optimizer)

    def lr_at(self, base_lr, epoch):
        return base_lr * self.gamma ** bisect.bisect_right(self.milestones, epoch)


class LambdaLR(LRScheduler):
    """lr = base * lr_lambda(epoch): one function, or one per parameter group (not saved by state_dict)."""

    _not_saved = ("optimizer", "lr_lambdas")

    def __init__(self, optimizer, lr_lambda):
        self.lr_lambdas = _per_group(optimizer, lr_lambda, type(self).__name__)
        super().__init__(optimizer)

    def group_lr(self, index, base_lr, epoch):
        return base_lr * self.lr_lambdas[index](epoch)


class MultiplicativeLR(LambdaLR):
    """lr = base * lr_lambda(1) * ... * lr_lambda(epoch) (torch multiplies the current rate each epoch)."""

    def group_lr(self, index, base_lr, epoch):
        lr = base_lr
        for e in range(1, epoch + 1):
            lr *= self.lr_lambdas[index](e)
        return lr


class ConstantLR(LRScheduler):
    """lr = base * factor until total_iters epochs have passed, then base."""

    def __init__(self, optimizer, factor=1.0 / 3, total_iters=5):
        if not 0 <= factor <= 1:
            raise ValueError(f"ConstantLR: factor must be in [0, 1], got {factor}")
        self.factor, self.total_iters = factor, total_iters
        super().__init__(optimizer)

    def lr_at(self, base_lr, epoch):
        return base_lr * (self.factor if epoch < self.total_iters else 1.0)


class LinearLR(LRScheduler):
    """lr = base * (start_factor + (end_factor - start_factor) * min(epoch, total_iters) / total_iters)."""

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5):
        if not 0 < start_factor <= 1 or not 0 <= end_factor <= 1:
            raise ValueError(f"LinearLR: start_factor must be in (0, 1] and end_factor in [0, 1], got "
                             f"{start_factor}, {end_factor}")
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer)

    def lr_at(self, base_lr, epoch):
        done = min(epoch, self.total_iters) / self.total_iters if self.total_iters else 1.0
        return base_lr * (self.start_factor + (self.end_factor - self.start_factor) * done)


class PolynomialLR(LRScheduler):
    """lr = base * (1 - min(epoch, total_iters) / total_iters) ** power."""

    def __init__(self, optimizer, total_iters=5, power=1.0):
        self.total_iters, self.power = total_iters, power
        super().__init__(optimizer)

    def lr_at(self, base_lr, epoch):
        return base_lr * (1.0 - min(epoch, self.total_iters) / self.total_iters) ** self.power


class CosineAnnealingWarmRestarts(LRScheduler):
    """SGDR: cosine from base to eta_min over T_i epochs, then restart; T_i = T_0 * T_mult ** restarts.
    ``step(epoch)`` takes fractional epochs (per-batch use: ``step(epoch + i / iters)``)."""

    def __init__(self, optimizer, T_0, T_mult=1, eta_min=0.0):
        if not isinstance(T_0, int) or T_0 <= 0 or not isinstance(T_mult, int) or T_mult < 1:
            raise ValueError(f"CosineAnnealingWarmRestarts: T_0 must be a positive int and T_mult an int >= 1, "
                             f"got {T_0!r}, {T_mult!r}")
        self.T_0, self.T_mult, self.eta_min = T_0, T_mult, eta_min
        super().__init__(optimizer)

    def _position(self, epoch):
        """(epochs into the current cycle, its length)."""
        if self.T_mult == 1 or epoch < self.T_0:
            return epoch % self.T_0, self.T_0
        n = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
        return epoch - self.T_0 * (self.T_mult ** n - 1) / (self.T_mult - 1), self.T_0 * self.T_mult ** n

    def lr_at(self, base_lr, epoch):
        t_cur, t_i = self._position(epoch)
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * t_cur / t_i)) / 2


class CyclicLR(LRScheduler):
    """Cyclical learning rates (Smith 2017), stepped once per batch: lr between base_lr and max_lr over
    step_size_up + step_size_down batches ('triangular', 'triangular2', 'exp_range', or scale_fn); momentum
    cycles the other way between max_momentum and base_momentum (SGD's momentum or Adam's beta1)."""

    _not_saved = ("optimizer", "scale_fn")

    def __init__(self, optimizer, base_lr, max_lr, step_size_up=2000, step_size_down=None, mode="triangular",
                 gamma=1.0, scale_fn=None, scale_mode="cycle", cycle_momentum=True, base_momentum=0.8,
                 max_momentum=0.9):
        if mode not in ("triangular", "triangular2", "exp_range") and scale_fn is None:
            raise ValueError(f"CyclicLR: mode must be 'triangular', 'triangular2' or 'exp_range', got {mode!r}")
        groups = optimizer.param_groups
        self.max_lrs = _per_group(optimizer, max_lr, "CyclicLR")
        for group, lr in zip(groups, _per_group(optimizer, base_lr, "CyclicLR")):
            group["lr"] = group["initial_lr"] = lr  # torch: the cycle starts at base_lr, not the optimizer's lr
        down = step_size_up if step_size_down is None else step_size_down
        self.total_size = float(step_size_up + down)
        self.step_ratio = step_size_up / self.total_size
        self.mode, self.gamma, self.scale_fn = mode, gamma, scale_fn
        self.scale_mode = scale_mode if scale_fn is not None else ("iterations" if mode == "exp_range" else "cycle")
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in groups[0] and "betas" not in groups[0]:
                raise ValueError("CyclicLR: cycle_momentum needs an optimizer with momentum or betas "
                                 "(cycle_momentum=False otherwise)")
            self.base_momentums = _per_group(optimizer, base_momentum, "CyclicLR")
            self.max_momentums = _per_group(optimizer, max_momentum, "CyclicLR")
        super().__init__(optimizer)

    def _scale(self, x):
        if self.scale_fn is not None:
            return self.scale_fn(x)
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1 / (2.0 ** (x - 1))
        return self.gamma ** x

    def _height(self, epoch):
        """The fraction of the way from the base to the peak at this batch, scaled (torch's formula)."""
        cycle = math.floor(1 + epoch / self.total_size)
        x = 1.0 + epoch / self.total_size - cycle
        fraction = x / self.step_ratio if x <= self.step_ratio else (x - 1) / (self.step_ratio - 1)
        return fraction * self._scale(cycle if self.scale_mode == "cycle" else epoch)

    def group_lr(self, index, base_lr, epoch):
        return base_lr + (self.max_lrs[index] - base_lr) * self._height(epoch)

    def _apply(self, epoch):
        super()._apply(epoch)
        if not self.cycle_momentum:
            return
        height = self._height(epoch)
        for group, low, high in zip(self.optimizer.param_groups, self.base_momentums, self.max_momentums):
            m = high - (high - low) * height
            if "betas" in group:
                group["betas"] = (m,) + tuple(group["betas"][1:])
            else:
                group["momentum"] = m


class _CompositeScheduler(LRScheduler):
    """A schedule made of others (SequentialLR, ChainedScheduler): its state dict carries theirs."""

    def state_dict(self):
        state = super().state_dict()
        state["_schedulers"] = [s.state_dict() for s in self.schedulers]
        return state

    def load_state_dict(self, state):
        state = dict(state)
        for s, sub in zip(self.schedulers, state.pop("_schedulers", [])):
            s.load_state_dict(sub)
        super().load_state_dict(state)


class SequentialLR(_CompositeScheduler):
    """schedulers[i] from milestones[i-1] on, each restarted at its milestone (e.g. a LinearLR warm-up, then
    CosineAnnealingLR)."""

    _not_saved = ("optimizer", "schedulers")

    def __init__(self, optimizer, schedulers, milestones):
        if len(schedulers) < 1 or len(milestones) != len(schedulers) - 1:
            raise ValueError(f"SequentialLR: {len(schedulers)} schedulers need {len(schedulers) - 1} milestones, "
                             f"got {len(milestones)}")
        if any(s.optimizer is not optimizer for s in schedulers):
            raise ValueError("SequentialLR: every scheduler must belong to the optimizer given")
        if not all(isinstance(s, LRScheduler) and not isinstance(s, SequentialLR) for s in schedulers):
            raise TypeError("SequentialLR: the schedulers must be epoch schedules (LRScheduler subclasses)")
        self.schedulers, self.milestones = list(schedulers), [int(m) for m in milestones]
        super().__init__(optimizer)

    def group_lr(self, index, base_lr, epoch):
        i = bisect.bisect_right(self.milestones, epoch)
        start = self.milestones[i - 1] if i else 0
        return self.schedulers[i].group_lr(index, self.schedulers[i].base_lrs[index], epoch - start)

    def _apply(self, epoch):
        super()._apply(epoch)
        i = bisect.bisect_right(self.milestones, epoch)
        self.schedulers[i].last_epoch = epoch - (self.milestones[i - 1] if i else 0)


class ChainedScheduler(_CompositeScheduler):
    """Several schedules at once, their factors multiplied: lr = base * prod_i(schedule_i(epoch) / base_i), as
    torch's ChainedScheduler does by stepping each chainable schedule on the rate the previous one left (e.g.
    ConstantLR warm-up times ExponentialLR decay). Exact for the multiplicative schedules (Step, MultiStep,
    Exponential, Constant, Linear, Polynomial, Lambda, Multiplicative, and cosine with eta_min=0); a schedule
    with an additive floor (eta_min > 0) composes as its ratio to the base instead of torch's recursion."""

    _not_saved = ("optimizer", "schedulers")

    def __init__(self, schedulers, optimizer=None):
        schedulers = list(schedulers)
        if not schedulers:
            raise ValueError("ChainedScheduler: at least one scheduler needed")
        optimizer = schedulers[0].optimizer if optimizer is None else optimizer
        if any(s.optimizer is not optimizer for s in schedulers):
            raise ValueError("ChainedScheduler: every scheduler must belong to the same optimizer")
        if not all(isinstance(s, LRScheduler) for s in schedulers):
            raise TypeError("ChainedScheduler: the schedulers must be epoch schedules (LRScheduler subclasses), "
                            "not ReduceLROnPlateau")
        self.schedulers = schedulers
        super().__init__(optimizer)

    def group_lr(self, index, base_lr, epoch):
        lr = base_lr
        for s in self.schedulers:
            own_base = s.base_lrs[index]
            lr = lr * (s.group_lr(index, own_base, epoch) / own_base) if own_base else 0.0
        return lr

    def _apply(self, epoch):
        super()._apply(epoch)
        for s in self.schedulers:
            s.last_epoch = epoch


class ReduceLROnPlateau:
    """Multiplies each group's lr by `factor` once `metrics` passed to ``step(metrics)`` has not improved
    for more than `patience` calls (PyTorch's rule: 'rel'/'abs' threshold, cooldown, min_lr, eps)."""

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4, threshold_mode="rel",
                 cooldown=0, min_lr=0, eps=1e-8):
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must be < 1, got {factor}")
        if mode not in ("min", "max") or threshold_mode not in ("rel", "abs"):
            raise ValueError(f"ReduceLROnPlateau: mode must be 'min'/'max' and threshold_mode 'rel'/'abs', got "
                             f"{mode!r}, {threshold_mode!r}")
        self.optimizer, self.mode, self.factor, self.patience = optimizer, mode, factor, patience
        self.threshold, self.threshold_mode, self.cooldown, self.eps = threshold, threshold_mode, cooldown, eps
        groups = len(optimizer.param_groups)
        self.min_lrs = list(min_lr) if isinstance(min_lr, (list, tuple)) else [min_lr] * groups
        if len(self.min_lrs) != groups:
            raise ValueError(f"ReduceLROnPlateau: {len(self.min_lrs)} min_lrs for {groups} parameter groups")
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs, self.cooldown_counter, self.last_epoch = 0, 0, 0

    def _better(self, a, best):
        if self.mode == "min":
            return a < (best * (1 - self.threshold) if self.threshold_mode == "rel" else best - self.threshold)
        return a > (best * (1 + self.threshold) if self.threshold_mode == "rel" else best + self.threshold)

    def step(self, metrics):
        current = float(metrics)
        self.last_epoch += 1
        if self._better(current, self.best):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs):
                new = max(group["lr"] * self.factor, min_lr)
                if group["lr"] - new > self.eps:
                    group["lr"] = new
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0

    def get_last_lr(self):
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self):
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state):
        self.__dict__.update(state)


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin), stepped once per batch: lr rises from max_lr/div_factor to max_lr
    over pct_start of the steps, then anneals to initial_lr/final_div_factor ('cos' or 'linear'); momentum
    (SGD's, or Adam's beta1) cycles the other way between max_momentum and base_momentum."""

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None, pct_start=0.3,
                 anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85, max_momentum=0.95,
                 div_factor=25.0, final_div_factor=1e4, three_phase=False):
        if total_steps is None:
            if epochs is None or steps_per_epoch is None:
                raise ValueError("OneCycleLR: give total_steps, or epochs and steps_per_epoch")
            total_steps = int(epochs) * int(steps_per_epoch)
        if total_steps <= 0 or not 0 <= pct_start <= 1 or anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"OneCycleLR: total_steps > 0, 0 <= pct_start <= 1 and anneal_strategy 'cos' or "
                             f"'linear' needed, got {total_steps}, {pct_start}, {anneal_strategy!r}")
        self.optimizer, self.total_steps = optimizer, int(total_steps)
        self.anneal = self._cos if anneal_strategy == "cos" else self._linear
        groups = optimizer.param_groups
        max_lrs = list(max_lr) if isinstance(max_lr, (list, tuple)) else [max_lr] * len(groups)
        end1 = float(pct_start * self.total_steps) - 1
        if three_phase:
            self.phases = [(end1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                           (2 * end1, "max_lr", "initial_lr", "base_momentum", "max_momentum"),
                           (self.total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum")]
        else:
            self.phases = [(end1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                           (self.total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum")]
        self.cycle_momentum = cycle_momentum
        for group, top in zip(groups, max_lrs):
            group.update(initial_lr=top / div_factor, max_lr=top, min_lr=top / div_factor / final_div_factor)
            if cycle_momentum:
                if "momentum" not in group and "betas" not in group:
                    raise ValueError("OneCycleLR: cycle_momentum needs an optimizer with momentum or betas")
                group.update(max_momentum=max_momentum, base_momentum=base_momentum)
        self.base_lrs = [group["initial_lr"] for group in groups]
        self.last_epoch = 0
        self._apply(0)

    @staticmethod
    def _cos(start, end, pct):
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)

    @staticmethod
    def _linear(start, end, pct):
        return (end - start) * pct + start

    def _apply(self, step):
        # torch's bound: the loop `for each batch: opt.step(); sched.step()` steps total_steps times after the
        # constructor's step 0, so step == total_steps is allowed (its rate continues the last phase's curve)
        if step > self.total_steps:
            raise ValueError(f"OneCycleLR: tried to step {step} times; total_steps is {self.total_steps}")
        for group in self.optimizer.param_groups:
            start = 0.0
            for i, (end, lr0, lr1, m0, m1) in enumerate(self.phases):
                if step <= end or i == len(self.phases) - 1:
                    pct = (step - start) / (end - start) if end != start else 1.0
                    group["lr"] = self.anneal(group[lr0], group[lr1], pct)
                    if self.cycle_momentum:
                        m = self.anneal(group[m0], group[m1], pct)
                        if "betas" in group:
                            group["betas"] = (m,) + tuple(group["betas"][1:])
                        else:
                            group["momentum"] = m
                    break
                start = end
