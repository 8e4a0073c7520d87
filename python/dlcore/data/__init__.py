"""Datasets, the DataLoader and image transforms."""
from . import transforms
from .dataset import (
    BatchSampler, ConcatDataset, DataLoader, Dataset, IterableDataset, RandomSampler, Sampler, SequentialSampler,
    Subset, SubsetRandomSampler, TensorDataset, WeightedRandomSampler, default_collate, get_worker_info,
    random_split,
)
from . import datasets
from .datasets import CIFAR10, MNIST, DatasetError, Digits, FashionMNIST, read_idx, write_idx
from .sampler import DistributedSampler

__all__ = [
    "BatchSampler", "CIFAR10", "ConcatDataset", "DataLoader", "Dataset", "DatasetError", "Digits", "DistributedSampler",
    "FashionMNIST", "IterableDataset", "MNIST", "RandomSampler", "Sampler", "SequentialSampler", "Subset",
    "SubsetRandomSampler", "TensorDataset", "datasets", "default_collate", "get_worker_info", "random_split",
    "read_idx", "transforms", "WeightedRandomSampler", "write_idx",
]
