"""Datasets for GenLab: built-in generators, CSV upload, and the registry that loads them by name.

Everything returns a `Dataset` (train/test float64 arrays in the data's own units); every user-facing
problem is a `DataError` with one readable sentence.

Names are imported on first use (PEP 562): ``from genlib.data.base import DataError`` or the CLI's ``--help`` must
not load scikit-learn (the digits) and scipy (the Lorenz integrator) just to name an error class.
"""
from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "DataError": "base", "Dataset": "base", "DatasetInfo": "base",
    "load_csv": "csv_loader", "csv_safe": "export",
    "DATASETS": "registry", "list_datasets": "registry", "load_any": "registry", "load_dataset": "registry",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
