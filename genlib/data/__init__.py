"""Datasets for GenLab: built-in generators, CSV upload, and the registry that loads them by name.

Everything returns a `Dataset` (train/test float64 arrays in the data's own units); every user-facing
problem is a `DataError` with one readable sentence.
"""
from __future__ import annotations

from genlib.data.base import DataError, Dataset, DatasetInfo
from genlib.data.csv_loader import load_csv
from genlib.data.registry import DATASETS, list_datasets, load_any, load_dataset

__all__ = [
    "DATASETS",
    "DataError",
    "Dataset",
    "DatasetInfo",
    "list_datasets",
    "load_any",
    "load_csv",
    "load_dataset",
]
