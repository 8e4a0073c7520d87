"""The binary-convolution table of `python -m dlcore.bench lowbit` alone (issue 15): the popcount peak
loops, then every AlexNet conv2-5 / VGG-16 3x3 layer, binary (XNOR + popcount) against dlcore's float32
conv, validated first, interleaved, medians.

    PYTHONPATH=python python bench/binary_conv.py --threads 2 [--batch 2] [--repeats 5] [--layers a,b]

`x f32` includes packing sign(x) from the float32 NCHW input (what a network pays); `x conv` is the packed
convolution alone; `conv/popcnt peak` is the packed convolution's GOP/s over the fastest measured binary loop.
"""
import argparse

import numpy as np

import dlcore
from dlcore.bench import lowbit


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--layers", default="", help="comma-separated subset of " + ",".join(lowbit.BINARY_CONV_LAYERS))
    args = p.parse_args()
    if args.threads:
        dlcore.set_num_threads(args.threads)
    args.lowbit_batch, args.quick = args.batch, False
    if args.layers:
        lowbit.BINARY_CONV_LAYERS = tuple(n for n in lowbit.BINARY_CONV_LAYERS if n in args.layers.split(","))
    pk = lowbit.peaks(dlcore.get_num_threads())
    lowbit.binary_section(args, pk, np.random.default_rng(0))


if __name__ == "__main__":
    main()
