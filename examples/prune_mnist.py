"""Magnitude pruning of LeNet-5: sparsity vs test accuracy, before and after fine-tuning.

Trains LeNet-5, then prunes its convolution and linear weights globally
(dlcore.nn.utils.prune.global_unstructured: the smallest magnitudes over all
layers) to each sparsity in turn, fine-tuning after each step with the masks
kept (pruned weights stay exactly zero through the optimizer steps). Finally
prune.remove() bakes the masks into plain weights.

    python examples/prune_mnist.py --data-dir ~/data/mnist
    python examples/prune_mnist.py                            # built-in 8x8 digits, shown as 28x28
"""
import sys

from _course import accuracy, mnist_or_digits, parser, print_table, seed_all, train, train_or_load

import dlcore
from dlcore.nn.utils import prune
from dlcore.train import lenet5

SPARSITIES = (0.5, 0.75, 0.9, 0.95)


def main(argv=None):
    p = parser(__doc__.splitlines()[0], epochs=3, lr=1e-3)
    p.add_argument("--sparsity", type=float, nargs="*", default=list(SPARSITIES))
    p.add_argument("--finetune-epochs", type=int, default=1)
    p.add_argument("--finetune-lr", type=float, default=3e-4)
    args = p.parse_args(argv)
    seed_all(args.seed)
    train_set, test_set = mnist_or_digits(args)
    model = lenet5()
    train_or_load(model, train_set, test_set, args, "dense LeNet-5")
    dense = accuracy(model, test_set)
    rows = [{"sparsity": 0.0, "pruned": dense, "finetuned": dense, "drop": 0.0}]
    targets = prune.prunable(model)
    for s in args.sparsity:
        prune.global_unstructured(targets, amount=s)
        pruned = accuracy(model, test_set)
        opt = dlcore.optim.Adam(model.parameters(), lr=args.finetune_lr)
        train(model, train_set, test_set, args, epochs=args.finetune_epochs, optimizer=opt,
              label=f"fine-tune at {s:.0%}")
        tuned = accuracy(model, test_set)
        rows.append({"sparsity": prune.sparsity(model), "pruned": pruned, "finetuned": tuned,
                     "drop": (dense - tuned) * 100})
    for module, name in targets:
        prune.remove(module, name)
    assert abs(prune.sparsity(model) - rows[-1]["sparsity"]) < 1e-9  # the masks are baked in
    return print_table(rows, [("sparsity", "sparsity", ".0%"), ("pruned", "accuracy after pruning", ".2%"),
                              ("finetuned", f"after {args.finetune_epochs} fine-tuning epoch(s)", ".2%"),
                              ("drop", "loss vs dense (points)", ".2f")],
                       f"Global magnitude pruning of LeNet-5 conv + linear weights ({len(test_set)} test images)")


if __name__ == "__main__":
    main(sys.argv[1:])
