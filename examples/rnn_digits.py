"""Sequence models: recurrent nets read each digit row by row (28 steps of 28 pixels) and classify it.

The classic first exercise with recurrent layers: an image becomes a sequence, the net sees one row a step
and answers after the last. Three recurrent layers with the same hidden size, same data and epochs, and a
bidirectional LSTM; the table gives parameters, test accuracy and training images/s.

    python examples/rnn_digits.py --data-dir ~/data/mnist    # MNIST
    python examples/rnn_digits.py                            # built-in 8x8 digits, shown as 28x28
"""
import sys

from _course import mnist_or_digits, parser, print_table, seed_all, train

from dlcore import nn


class RowReader(nn.Module):
    """(N, 1, 28, 28) -> rows as a sequence (N, 28, 28) -> recurrent layer -> the last step's output -> classes."""

    def __init__(self, kind, hidden, bidirectional=False):
        super().__init__()
        self.rnn = getattr(nn, kind)(28, hidden, batch_first=True, bidirectional=bidirectional)
        self.head = nn.Linear(hidden * (2 if bidirectional else 1), 10)

    def forward(self, x):
        out, _ = self.rnn(x.reshape(x.shape[0], 28, 28))
        return self.head(out[:, -1])


def main(argv=None):
    p = parser(__doc__.splitlines()[0], epochs=4, lr=3e-3)
    p.add_argument("--hidden", type=int, default=64)
    args = p.parse_args(argv)
    train_set, test_set = mnist_or_digits(args)
    rows = []
    for kind, bidirectional in (("RNN", False), ("GRU", False), ("LSTM", False), ("LSTM", True)):
        seed_all(args.seed)
        model = RowReader(kind, args.hidden, bidirectional)
        label = ("bidirectional " if bidirectional else "") + kind
        history = train(model, train_set, test_set, args, label=label)
        rows.append({"model": label, "params": model.num_parameters(), "acc": history[-1]["test_acc"],
                     "images_per_s": history[-1]["images_per_s"]})
    return print_table(rows, [("model", "recurrent layer", ""), ("params", "parameters", ","),
                              ("acc", "test accuracy", ".2%"), ("images_per_s", "train images/s", ".0f")],
                       title=f"digits read row by row, hidden {args.hidden}, {args.epochs} epochs")


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
