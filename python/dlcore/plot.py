"""Pictures (the ``plot`` extra: matplotlib): training curves and the roofline.

``training_curves(history, path)`` draws what ``dlcore.train.fit`` returns
(loss and accuracy per epoch, train and test); ``fit(..., plot=path)`` and
``python -m dlcore.train --plot curves.png`` call it. ``roofline(points, ...)``
places benchmark rows on this machine's measured roofline (``python -m
dlcore.bench ... --plot roofline.png``). Figures are drawn with matplotlib's
object API on the Agg canvas: no pyplot, no global backend change.
"""
from __future__ import annotations

import math

__all__ = ["training_curves", "curves_figure", "roofline", "roofline_figure"]


def _figure(width, height):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError('plots need matplotlib: pip install "dlcore[plot]"') from exc
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def training_curves(history, path, title=None):
    """Writes a PNG of loss (left) and accuracy (right) per epoch, train and test, from fit()'s history."""
    curves_figure(history, title).savefig(path)
    return path


def curves_figure(history, title=None):
    """The matplotlib Figure training_curves() saves."""
    if not history:
        raise ValueError("training_curves: the history is empty (train at least one epoch)")
    fig = _figure(10, 4)
    epochs = [h["epoch"] for h in history]
    for ax, key, label in ((fig.add_subplot(1, 2, 1), "loss", "loss"), (fig.add_subplot(1, 2, 2), "acc", "accuracy")):
        for split, style in (("train", "o-"), ("test", "s--")):
            values = [h.get(f"{split}_{key}") for h in history]
            if any(v is not None for v in values):
                ax.plot(epochs, [math.nan if v is None else v for v in values], style, label=split)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.set_title(label)
        ax.grid(True, alpha=0.3)
        ax.legend()
        if key == "acc":
            ax.yaxis.set_major_formatter(_percent_formatter())
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _percent_formatter():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _: f"{v:.0%}")


_COLORS = {"dlcore": "tab:blue", "numpy": "tab:orange", "onednn": "tab:green"}
_MARKERS = {"gemm": "o", "conv": "s", "eltwise": "^", "poolrn": "D"}


def roofline(points, peak_gflops, bandwidth_gbs, path, title=None):
    """Writes a log-log roofline PNG (the Figure of roofline_figure())."""
    roofline_figure(points, peak_gflops, bandwidth_gbs, title).savefig(path)
    return path


def roofline_figure(points, peak_gflops, bandwidth_gbs, title=None):
    """A log-log roofline.

    Args:
        points: dicts with ``intensity`` (FLOP/byte), ``gflops``, ``who`` (dlcore, numpy, onednn)
            and ``family`` (gemm, conv, eltwise, poolrn).
        peak_gflops: the measured FMA peak (horizontal roof); bandwidth_gbs: the measured copy
            bandwidth (slanted roof, GFLOP/s = GB/s * intensity).
    """
    points = [p for p in points if p.get("intensity") and p.get("gflops")]
    if not points:
        raise ValueError("roofline: no points with an intensity and a GFLOP/s figure")
    fig = _figure(9, 6)
    ax = fig.add_subplot(1, 1, 1)
    xs = [p["intensity"] for p in points]
    lo, hi = min(xs + [peak_gflops / bandwidth_gbs]) / 2, max(xs + [peak_gflops / bandwidth_gbs]) * 2
    grid = [lo * (hi / lo) ** (i / 200) for i in range(201)]
    ax.plot(grid, [min(peak_gflops, bandwidth_gbs * x) for x in grid], "k-", lw=2, label="roofline")
    ax.axhline(peak_gflops, color="0.4", ls=":", lw=1,
               label=f"FMA peak {peak_gflops:.0f} GFLOP/s (measured)")
    ax.plot(grid, [bandwidth_gbs * x for x in grid], color="0.4", ls="--", lw=1,
            label=f"copy bandwidth {bandwidth_gbs:.1f} GB/s (measured)")
    seen = set()
    for p in points:
        who, fam = p["who"], p["family"]
        key = (who, fam)
        ax.scatter(p["intensity"], p["gflops"], c=_COLORS.get(who, "tab:gray"), marker=_MARKERS.get(fam, "x"),
                   s=36, alpha=0.8, edgecolors="k", linewidths=0.4,
                   label=f"{who} {fam}" if key not in seen else None)
        seen.add(key)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ymin = min(p["gflops"] for p in points) / 2
    ax.set_ylim(ymin, peak_gflops * 2)
    ax.set_xlim(lo, hi)
    ax.set_xlabel("arithmetic intensity (FLOP / byte moved)")
    ax.set_ylabel("GFLOP/s")
    ax.set_title(title or "kernels on this machine's measured roofline")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig
