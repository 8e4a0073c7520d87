"""Knowledge distillation: LeNet-5 (teacher) into a smaller student, against the same student alone.

The teacher is LeNet-5 trained on the labels. The student (by default a LeNet
with 4 and 8 channels and 32 hidden units, 7,674 parameters against LeNet-5's
61,706; --student mlp: a 784-32-10 MLP) is trained twice from the same
initial weights, data order and epochs: once on the labels alone (cross-entropy),
once with F.distillation_loss (Hinton et al. 2015): alpha * T^2 * KL of the
temperature-softened teacher and student distributions + (1 - alpha) * CE.

    python examples/distill_mnist.py --data-dir ~/data/mnist --train-limit 5000 --epochs 15
    python examples/distill_mnist.py                          # built-in 8x8 digits, shown as 28x28
"""
import sys

from _course import accuracy, mnist_or_digits, parser, print_table, seed_all, train, train_or_load

import dlcore
from dlcore import nn
from dlcore.nn import functional as F
from dlcore.train import lenet5


def student(kind, hidden):
    """The small student: an MLP 784-hidden-10, or a LeNet with 4 and 8 channels and `hidden` units."""
    if kind == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, 10))
    return nn.Sequential(nn.Conv2d(1, 4, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 8, 5), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(8 * 5 * 5, hidden), nn.ReLU(), nn.Linear(hidden, 10))


class _TeacherLabels:
    """A loss with the batch's teacher logits: fit() passes (student logits, labels)."""

    def __init__(self, teacher, temperature, alpha):
        self.teacher, self.temperature, self.alpha = teacher, temperature, alpha
        self.inputs = None

    def __call__(self, logits, target):
        with dlcore.no_grad():
            teacher_logits = self.teacher(self.inputs)
        return F.distillation_loss(logits, teacher_logits, target, self.temperature, self.alpha)


class _RememberInput(nn.Module):
    """Wraps the student so the loss can see the batch's inputs (to ask the teacher)."""

    def __init__(self, net, loss):
        super().__init__()
        self.net, self.loss_ = net, loss

    def forward(self, x):
        self.loss_.inputs = x
        return self.net(x)


def main(argv=None):
    p = parser(__doc__.splitlines()[0], epochs=3, lr=1e-3)
    p.add_argument("--teacher-epochs", type=int, default=None, help="default: --epochs")
    p.add_argument("--student", choices=["mlp", "cnn"], default="cnn")
    p.add_argument("--hidden", type=int, default=32, help="the student's hidden units")
    p.add_argument("--temperature", type=float, default=4.0)
    p.add_argument("--alpha", type=float, default=0.9, help="weight of the soft (teacher) term")
    args = p.parse_args(argv)
    seed_all(args.seed)
    train_set, test_set = mnist_or_digits(args)

    teacher = lenet5()
    train_or_load(teacher, train_set, test_set, args, "teacher LeNet-5", epochs=args.teacher_epochs)
    teacher.eval()

    dlcore.manual_seed(args.seed + 1)
    alone = student(args.student, args.hidden)
    distilled = student(args.student, args.hidden)
    distilled.load_state_dict({k: v.clone() for k, v in alone.state_dict().items()})  # the same start
    train(alone, train_set, test_set, args, label="student alone")
    loss = _TeacherLabels(teacher, args.temperature, args.alpha)
    train(_RememberInput(distilled, loss), train_set, test_set, args, loss_fn=loss, label="student distilled")

    name = f"MLP 784-{args.hidden}-10" if args.student == "mlp" else f"LeNet 4-8-{args.hidden}"
    rows = [{"model": "teacher LeNet-5", "params": teacher.num_parameters(), "acc": accuracy(teacher, test_set)},
            {"model": f"student {name}, labels only", "params": alone.num_parameters(),
             "acc": accuracy(alone, test_set)},
            {"model": f"student {name}, distilled (T={args.temperature:g}, alpha={args.alpha:g})",
             "params": distilled.num_parameters(), "acc": accuracy(distilled, test_set)}]
    return print_table(rows, [("model", "model", ""), ("params", "parameters", ","), ("acc", "test accuracy", ".2%")],
                       f"Distillation ({len(train_set)} training images, {args.epochs} student epochs)")


if __name__ == "__main__":
    main(sys.argv[1:])
