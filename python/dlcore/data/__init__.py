"""Datasets, the DataLoader and image transforms."""
from . import transforms
from .dataset import (
    BatchSampler, ChainDataset, ConcatDataset, DataLoader, Dataset, IterableDataset, RandomSampler, Sampler,
    SequentialSampler, StackDataset, Subset, SubsetRandomSampler, TensorDataset, WeightedRandomSampler,
    default_collate, default_convert, get_worker_info, random_split,
)
from . import datasets
from .datasets import CIFAR10, MNIST, DatasetError, Digits, FashionMNIST, read_idx, write_idx
from .sampler import DistributedSampler

__all__ = [
    "BatchSampler", "ChainDataset", "CIFAR10", "ConcatDataset", "DataLoader", "Dataset", "DatasetError", "datasets",
    "default_collate", "default_convert", "Digits", "DistributedSampler", "FashionMNIST", "get_worker_info",
    "IterableDataset", "MNIST", "random_split", "RandomSampler", "read_idx", "Sampler", "SequentialSampler",
    "StackDataset", "Subset", "SubsetRandomSampler", "TensorDataset", "transforms", "WeightedRandomSampler",
    "write_idx",
]
