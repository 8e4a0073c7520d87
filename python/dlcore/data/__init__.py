"""Datasets, the DataLoader and image transforms."""
from . import transforms
from .dataset import DataLoader, Dataset, TensorDataset
from .sampler import DistributedSampler
from .datasets import CIFAR10, MNIST, DatasetError, Digits, FashionMNIST, read_idx, write_idx

__all__ = ["CIFAR10", "DataLoader", "Dataset", "DatasetError", "Digits", "DistributedSampler", "FashionMNIST", "MNIST",
           "TensorDataset", "read_idx", "transforms", "write_idx"]
