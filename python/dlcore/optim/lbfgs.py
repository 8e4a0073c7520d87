"""L-BFGS (torch.optim.LBFGS): a quasi-Newton method for full-batch problems (style transfer, PINNs, small
models fitted exactly). ``step(closure)`` runs up to ``max_iter`` iterations, each re-evaluating the loss
through the closure; the direction comes from the two-loop recursion over the last ``history_size`` steps
(Nocedal & Wright, Numerical Optimization, Alg. 7.4), the step length is ``lr`` or, with
``line_search_fn="strong_wolfe"``, a bracketing / zoom search with cubic interpolation that satisfies the
strong Wolfe conditions (ibid. Alg. 3.5-3.6). Constants, stopping tests and state names are torch's, so
the iterates agree with torch.optim.LBFGS.

All parameters are handled as one flat vector (one parameter group, as torch requires).
"""
from __future__ import annotations

import numpy as np

from ..autograd import enable_grad
from ..ops._common import array_module
from .optimizer import Optimizer


def _cubic_minimum(x1, f1, g1, x2, f2, g2, bounds=None):
    """The minimizer of the cubic through (x1, f1, slope g1), (x2, f2, g2), clipped to `bounds` (default: the
    interval between x1 and x2); the interval's middle where the cubic has no minimum."""
    low, high = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 * d1 - g1 * g2
    if d2_square < 0:
        return (low + high) / 2.0
    d2 = d2_square ** 0.5
    if x1 <= x2:
        at = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        at = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(at, low), high)


class _Bracket:
    """Two trial steps (t, f, g, g.d) holding a point that satisfies the Wolfe conditions between them."""

    def __init__(self, points):
        self.points = points  # [(t, f, g, gtd), ...]

    def low_high(self):
        return (0, 1) if self.points[0][1] <= self.points[-1][1] else (1, 0)


def _strong_wolfe(evaluate, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """A step t along d meeting the strong Wolfe conditions: (f, g, t, evaluations)."""
    d_norm = float(abs(d).max())
    f_new, g_new = evaluate(t)
    evaluations, gtd_new = 1, float(g_new @ d)
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g.copy(), gtd
    done, ls_iter, bracket = False, 0, None
    while ls_iter < max_ls:  # bracketing phase: grow t until an interval holds an acceptable point
        if f_new > f + c1 * t * gtd or (ls_iter > 1 and f_new >= f_prev):
            bracket = _Bracket([(t_prev, f_prev, g_prev, gtd_prev), (t, f_new, g_new.copy(), gtd_new)])
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, done = _Bracket([(t, f_new, g_new, gtd_new)]), True
            break
        if gtd_new >= 0:
            bracket = _Bracket([(t_prev, f_prev, g_prev, gtd_prev), (t, f_new, g_new.copy(), gtd_new)])
            break
        t_next = _cubic_minimum(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(t + 0.01 * (t - t_prev), t * 10))
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new.copy(), gtd_new
        t = t_next
        f_new, g_new = evaluate(t)
        evaluations, gtd_new, ls_iter = evaluations + 1, float(g_new @ d), ls_iter + 1
    if ls_iter == max_ls:
        bracket = _Bracket([(0.0, f, g, gtd), (t, f_new, g_new, gtd_new)])
    insufficient_progress = False
    low, high = bracket.low_high()
    while not done and ls_iter < max_ls:  # zoom phase: shrink the interval around an acceptable point
        (t0, f0, _, s0), (t1, f1, _, s1) = bracket.points
        if abs(t1 - t0) * d_norm < tolerance_change:
            break
        t = _cubic_minimum(t0, f0, s0, t1, f1, s1)
        top, bottom = max(t0, t1), min(t0, t1)
        eps = 0.1 * (top - bottom)
        if min(top - t, t - bottom) < eps:  # too near an end: step inside unless the last try already did
            if insufficient_progress or t >= top or t <= bottom:
                t = top - eps if abs(t - top) < abs(t - bottom) else bottom + eps
                insufficient_progress = False
            else:
                insufficient_progress = True
        else:
            insufficient_progress = False
        f_new, g_new = evaluate(t)
        evaluations, gtd_new, ls_iter = evaluations + 1, float(g_new @ d), ls_iter + 1
        if f_new > f + c1 * t * gtd or f_new >= bracket.points[low][1]:
            bracket.points[high] = (t, f_new, g_new.copy(), gtd_new)
            low, high = bracket.low_high()
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket.points[high][0] - bracket.points[low][0]) >= 0:
                bracket.points[high] = bracket.points[low]
            bracket.points[low] = (t, f_new, g_new.copy(), gtd_new)
    t, f_new, g_new, _ = bracket.points[low]
    return f_new, g_new, t, evaluations


class LBFGS(Optimizer):
    """torch.optim.LBFGS: ``optimizer.step(closure)`` with a closure that zeroes the gradients, computes the
    loss, calls backward and returns the loss."""

    def __init__(self, params, lr=1.0, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9,
                 history_size=100, line_search_fn=None):
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(f"LBFGS: line_search_fn must be None or 'strong_wolfe', got {line_search_fn!r}")
        max_eval = max_iter * 5 // 4 if max_eval is None else max_eval
        super().__init__(params, dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                                      tolerance_change=tolerance_change, history_size=history_size,
                                      line_search_fn=line_search_fn))
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    # ---- the parameters as one flat vector -----------------------------------------------------------------
    def _flat_grad(self):
        xp = array_module(self._params[0]._data)
        return xp.concatenate([(p.grad._data if p.grad is not None else xp.zeros_like(p._data)).ravel()
                               for p in self._params]).astype(np.float64)

    def _add_to_params(self, t, d):
        offset = 0
        for p in self._params:
            n = p._data.size
            p._data += (t * d[offset:offset + n]).reshape(p.shape).astype(p.dtype)
            p._version_counter()[0] += 1
            offset += n

    def _get_params(self):
        return [p._data.copy() for p in self._params]

    def _set_params(self, values):
        for p, v in zip(self._params, values):
            p._data[...] = v
            p._version_counter()[0] += 1

    def _evaluate(self, closure):
        with enable_grad():
            return float(closure())

    def step(self, closure):
        """Up to max_iter L-BFGS iterations; returns the loss the closure gave first."""
        if closure is None:
            raise RuntimeError("LBFGS.step needs a closure that re-evaluates the model and returns the loss")
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        state = self.state.setdefault(id(self._params[0]), {})
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        with enable_grad():
            first_loss = closure()
        loss = float(first_loss)
        evaluations = 1
        state["func_evals"] += 1
        flat_grad = self._flat_grad()
        if abs(flat_grad).max() <= tolerance_grad:
            return first_loss
        d, t = state.get("d"), state.get("t")
        old_dirs, old_steps, ro = state.get("old_dirs", []), state.get("old_stps", []), state.get("ro", [])
        h_diag = state.get("H_diag", 1.0)
        prev_flat_grad, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d, old_dirs, old_steps, ro, h_diag = -flat_grad, [], [], [], 1.0
            else:
                h_diag = self._remember(flat_grad - prev_flat_grad, d * t, old_dirs, old_steps, ro, h_diag,
                                        group["history_size"])
                d = self._direction(flat_grad, old_dirs, old_steps, ro, h_diag)
            prev_flat_grad, prev_loss = flat_grad.copy(), loss
            t = min(1.0, 1.0 / float(abs(flat_grad).sum())) * lr if state["n_iter"] == 1 else lr
            gtd = float(flat_grad @ d)
            if gtd > -tolerance_change:  # not a descent direction
                break
            if group["line_search_fn"] == "strong_wolfe":
                start = self._get_params()

                def along(step, start=start, d=d):
                    self._add_to_params(step, d)
                    value = self._evaluate(closure)
                    gradient = self._flat_grad()
                    self._set_params(start)
                    return value, gradient

                loss, flat_grad, t, used = _strong_wolfe(along, t, d, loss, flat_grad, gtd)
                self._add_to_params(t, d)
            else:
                self._add_to_params(t, d)
                used = 0
                if n_iter != max_iter:  # the last iteration's loss is the next step's first evaluation
                    loss, used = self._evaluate(closure), 1
                    flat_grad = self._flat_grad()
            evaluations += used
            state["func_evals"] += used
            if n_iter == max_iter or evaluations >= max_eval or abs(flat_grad).max() <= tolerance_grad:
                break
            if abs(d * t).max() <= tolerance_change or abs(loss - prev_loss) < tolerance_change:
                break
        state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_steps, ro=ro, H_diag=h_diag,
                     prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        return first_loss

    @staticmethod
    def _remember(y, s, old_dirs, old_steps, ro, h_diag, history_size):
        """Adds the curvature pair (y, s) when it is positive enough; returns the new initial Hessian scale."""
        ys = float(y @ s)
        if ys > 1e-10:
            if len(old_dirs) == history_size:
                old_dirs.pop(0)
                old_steps.pop(0)
                ro.pop(0)
            old_dirs.append(y)
            old_steps.append(s)
            ro.append(1.0 / ys)
            h_diag = ys / float(y @ y)
        return h_diag

    @staticmethod
    def _direction(flat_grad, old_dirs, old_steps, ro, h_diag):
        """-H g by the two-loop recursion over the stored pairs."""
        q = -flat_grad
        alphas = [0.0] * len(old_dirs)
        for i in range(len(old_dirs) - 1, -1, -1):
            alphas[i] = float(old_steps[i] @ q) * ro[i]
            q = q - alphas[i] * old_dirs[i]
        r = q * h_diag
        for i in range(len(old_dirs)):
            beta = float(old_dirs[i] @ r) * ro[i]
            r = r + (alphas[i] - beta) * old_steps[i]
        return r
