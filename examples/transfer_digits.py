"""Transfer learning: a LeNet-5 feature extractor trained on digits 0-4, frozen, with a new head for 5-9.

The deck's example is digits -> Fashion-MNIST; Fashion-MNIST needs a download,
so this runs offline on two tasks that share no class: the source task is
digits 0-4, the target task digits 5-9 with only a few labelled images
(--target-limit). Three students of the target task, same data and epochs:

* frozen features (model.features.freeze()) + a new linear head: only the head trains;
* the same features fine-tuned end to end (unfrozen), starting from the source weights;
* the same network from scratch (random weights).

    python examples/transfer_digits.py --data-dir ~/data/mnist    # MNIST 0-4 -> 5-9
    python examples/transfer_digits.py                            # built-in 8x8 digits, shown as 28x28
"""
import argparse
import sys

import numpy as np
from _course import accuracy, limit, mnist_or_digits, parser, print_table, seed_all, train

import dlcore
from dlcore import nn
from dlcore.data.datasets import _ArrayDataset


class Net(nn.Module):
    """LeNet-5 split into a feature extractor (conv + the first two dense layers) and a head."""

    def __init__(self, num_classes):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU())
        self.head = nn.Linear(84, num_classes)

    def forward(self, x):
        return self.head(self.features(x))


def classes(dataset, wanted, offset):
    """The samples of `dataset` whose label is in `wanted`, relabelled label - offset."""
    keep = np.isin(dataset.labels, wanted)
    return _ArrayDataset(dataset.images[keep], dataset.labels[keep] - offset, dataset.transform)


def main(argv=None):
    p = parser(__doc__.splitlines()[0], epochs=3, lr=1e-3)
    p.add_argument("--target-limit", type=int, default=100, help="labelled images of the target task (5-9)")
    p.add_argument("--target-epochs", type=int, default=60)
    p.add_argument("--target-batch-size", type=int, default=16)
    args = p.parse_args(argv)
    seed_all(args.seed)
    train_set, test_set = mnist_or_digits(args)
    source_train, source_test = classes(train_set, range(5), 0), classes(test_set, range(5), 0)
    target_train = limit(classes(train_set, range(5, 10), 5), args.target_limit)
    target_test = classes(test_set, range(5, 10), 5)
    print(f"source task: digits 0-4, {len(source_train)} images; target task: digits 5-9, "
          f"{len(target_train)} labelled images, {len(target_test)} test images")

    source = Net(5)
    train(source, source_train, source_test, args, label="source model (0-4)")
    rows = [{"model": "source model on 0-4 (its own task)", "trainable": source.num_parameters(),
             "acc": accuracy(source, source_test)}]

    def student(pretrained, frozen):
        dlcore.manual_seed(args.seed + 1)  # the same new head for every student
        net = Net(5)
        if pretrained:
            net.features.load_state_dict(source.features.state_dict())
        if frozen:
            net.features.freeze()
        return net

    for label, pretrained, frozen in (("frozen 0-4 features + new head", True, True),
                                      ("0-4 features fine-tuned + new head", True, False),
                                      ("from scratch", False, False)):
        net = student(pretrained, frozen)
        before = [p.data.copy() for p in net.features.parameters()]
        target_args = argparse.Namespace(**{**vars(args), "batch_size": args.target_batch_size})
        train(net, target_train, target_test, target_args, epochs=args.target_epochs, label=label)
        if frozen:  # the frozen extractor did not move
            assert all(np.array_equal(b, p.data) for b, p in zip(before, net.features.parameters()))
        rows.append({"model": f"5-9: {label}", "trainable": net.num_parameters(trainable_only=True),
                     "acc": accuracy(net, target_test)})
    return print_table(rows, [("model", "model", ""), ("trainable", "trainable parameters", ","),
                              ("acc", "test accuracy", ".2%")],
                       f"Transfer learning, {len(target_train)} labelled target images, {args.target_epochs} epochs")


if __name__ == "__main__":
    main(sys.argv[1:])
