"""Recurrent layers (nn.LSTM, nn.GRU, nn.RNN): forward + backward of a whole sequence, dlcore beside PyTorch
(when installed) on the same weights.

    python -m dlcore.bench recurrent [--threads N] [--repeats R] [--quick]

Each case is one layer, batch_first input (N, L, I), hidden size H, the loss the sum of the outputs. The two
libraries alternate block by block (common.compare). GFLOP/s counts the layer's matrix products only:
2 L N G H (I + H) for the forward (G gates: LSTM 4, GRU 3, RNN 1), twice that for the backward.
"""
from __future__ import annotations

import numpy as np

import dlcore

from .common import compare, print_table

#: (mode, N, L, I, H): a small character-level model, a sentence classifier, a wider acoustic-style layer
CASES = [("LSTM", 8, 20, 32, 64), ("LSTM", 32, 50, 64, 128), ("LSTM", 64, 35, 256, 256),
         ("GRU", 8, 20, 32, 64), ("GRU", 32, 50, 64, 128), ("RNN", 32, 50, 64, 128)]
QUICK = [("LSTM", 8, 20, 32, 64), ("GRU", 8, 20, 32, 64)]
_GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


def _step(lib, model, x):
    def run():
        out, _ = model(x)
        out.sum().backward()
    return run


def run(args):
    try:
        import torch
        torch.set_num_threads(dlcore.get_num_threads())
    except ImportError:
        torch = None
    torch_threads = f"{torch.get_num_threads()} threads" if torch else "not installed"
    print(f"\n## recurrent: forward + backward of one layer over a sequence, {dlcore.get_num_threads()} threads "
          f"(torch {torch_threads}); median of {args.repeats} round-robin blocks")
    rng = np.random.default_rng(0)
    rows = []
    for mode, n, length, inputs, hidden in (QUICK if args.quick else CASES):
        ours = getattr(dlcore.nn, mode)(inputs, hidden, batch_first=True)
        x = rng.standard_normal((n, length, inputs)).astype(np.float32)
        fns = {"dlcore": _step(dlcore, ours, dlcore.tensor(x))}
        if torch is not None:
            theirs = getattr(torch.nn, mode)(inputs, hidden, batch_first=True)
            theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()})
            fns["torch"] = _step(torch, theirs, torch.from_numpy(x))
        t = compare(fns, repeats=args.repeats)
        flops = 3 * 2 * length * n * _GATES[mode] * hidden * (inputs + hidden)
        rows.append({"case": f"{mode} N={n} L={length} I={inputs} H={hidden}", "dl_ms": t["dlcore"] * 1e3,
                     "dl_gf": flops / t["dlcore"] / 1e9, "t_ms": t["torch"] * 1e3 if torch else None,
                     "ratio": t["torch"] / t["dlcore"] if torch else None})
    print_table(rows, [("case", "layer (batch_first)", ""), ("dl_ms", "dlcore ms", ".2f"),
                       ("dl_gf", "dlcore GFLOP/s", ".1f"), ("t_ms", "torch ms", ".2f"),
                       ("ratio", "dlcore/torch speed", ".2f")])
    return rows
