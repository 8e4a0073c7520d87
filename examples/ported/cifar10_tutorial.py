"""A CIFAR-10 classifier trained the way PyTorch's "Training a Classifier" tutorial does it (our own code).

Ported by adding two lines, marked "# dlcore:" (``import dlcore``, ``dlcore.install_as_torch()``;
docs/PORTING.md); the plotting of sample images (matplotlib, torchvision.utils.make_grid) is left out. PyTorch
habits it exercises: the tuple batches, running_loss += loss.item(), torch.max(outputs, 1), (predicted ==
labels).sum().item(), labels.size(0), indexing a tuple with a label tensor, torch.save /
load_state_dict(torch.load(PATH, weights_only=True)).

    python examples/ported/cifar10_tutorial.py --root DIR     # DIR: cifar-10-batches-bin
"""
import argparse
import os
import tempfile

import dlcore                                              # dlcore: added (the port is these two lines)
dlcore.install_as_torch()                                  # dlcore: added (dlcore under torch's module names)
import torch
import torchvision
import torchvision.transforms as transforms
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim


classes = ('plane', 'car', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck')


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)  # flatten all dimensions except batch
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('--root', default='./data')
    parser.add_argument('--epochs', type=int, default=2)
    parser.add_argument('--batch-size', type=int, default=4)
    parser.add_argument('--lr', type=float, default=0.001)
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--log-every', type=int, default=2000)
    args = parser.parse_args(argv)

    transform = transforms.Compose(
        [transforms.ToTensor(),
         transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
    batch_size = args.batch_size

    trainset = torchvision.datasets.CIFAR10(root=args.root, train=True, download=True, transform=transform)
    trainloader = torch.utils.data.DataLoader(trainset, batch_size=batch_size, shuffle=True,
                                              num_workers=args.workers)
    testset = torchvision.datasets.CIFAR10(root=args.root, train=False, download=True, transform=transform)
    testloader = torch.utils.data.DataLoader(testset, batch_size=batch_size, shuffle=False,
                                             num_workers=args.workers)

    net = Net()
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=args.lr, momentum=0.9)

    first_loss = last_loss = None
    for epoch in range(args.epochs):  # loop over the dataset multiple times
        running_loss = 0.0
        for i, data in enumerate(trainloader, 0):
            # get the inputs; data is a list of [inputs, labels]
            inputs, labels = data

            # zero the parameter gradients
            optimizer.zero_grad()

            # forward + backward + optimize
            outputs = net(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()

            # print statistics
            running_loss += loss.item()
            if i % args.log_every == args.log_every - 1:
                print(f'[{epoch + 1}, {i + 1:5d}] loss: {running_loss / args.log_every:.3f}')
                first_loss = running_loss / args.log_every if first_loss is None else first_loss
                last_loss = running_loss / args.log_every
                running_loss = 0.0
    print('Finished Training')

    path = os.path.join(tempfile.mkdtemp(), 'cifar_net.pth')
    torch.save(net.state_dict(), path)
    net = Net()
    net.load_state_dict(torch.load(path, weights_only=True))

    correct = 0
    total = 0
    # since we're not training, we don't need to calculate the gradients for our outputs
    with torch.no_grad():
        for data in testloader:
            images, labels = data
            # calculate outputs by running images through the network
            outputs = net(images)
            # the class with the highest energy is what we choose as prediction
            _, predicted = torch.max(outputs.data, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()
    print(f'Accuracy of the network on the {total} test images: {100 * correct // total} %')

    # prepare to count predictions for each class
    correct_pred = {classname: 0 for classname in classes}
    total_pred = {classname: 0 for classname in classes}
    with torch.no_grad():
        for data in testloader:
            images, labels = data
            outputs = net(images)
            _, predictions = torch.max(outputs, 1)
            # collect the correct predictions for each class
            for label, prediction in zip(labels, predictions):
                if label == prediction:
                    correct_pred[classes[label]] += 1
                total_pred[classes[label]] += 1
    for classname, correct_count in correct_pred.items():
        if total_pred[classname]:
            accuracy = 100 * float(correct_count) / total_pred[classname]
            print(f'Accuracy for class: {classname:5s} is {accuracy:.1f} %')
    return correct / total, first_loss, last_loss


if __name__ == '__main__':
    main()
