"""A small AlexNet-style CNN (conv + ReLU + LRN + overlapping max pooling, dropout) on CIFAR-10.

    python examples/alexnet_cifar10.py --data-dir ~/data/cifar10   # cifar-10-batches-bin/*.bin
    python examples/alexnet_cifar10.py                             # built-in digits shown as 3x32x32
"""
from _common import builtin_digits, parser, run

import dlcore
from dlcore import optim
from dlcore.data import CIFAR10, transforms
from dlcore.train import small_alexnet


def main():
    args = parser(__doc__.splitlines()[0], epochs=10, batch_size=64, lr=0.01).parse_args()
    dlcore.manual_seed(args.seed)
    if args.data_dir:
        normalize = transforms.Normalize([0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616])
        augment = transforms.Compose([transforms.RandomCrop(32, padding=4, seed=args.seed),
                                      transforms.RandomHorizontalFlip(seed=args.seed), normalize])
        train_set = CIFAR10(args.data_dir, train=True, transform=augment)
        test_set = CIFAR10(args.data_dir, train=False, transform=normalize)
    else:
        train_set, test_set = builtin_digits(32, 3)
    model = small_alexnet()
    opt = optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4)
    run(model, train_set, test_set, args, opt, optim.lr_scheduler.StepLR(opt, step_size=max(1, args.epochs // 2)))


if __name__ == "__main__":
    main()
