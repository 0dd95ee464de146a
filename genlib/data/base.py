"""The dataset contract every loader returns, and the one error type pages and the CLI catch.

Kept tiny and dependency-free so models, metrics and pages can all import it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from genlib.errors import UserError
from genlib.params import Param, params_of


class DataError(UserError):
    """A problem with input data, phrased for the user (one sentence naming the problem)."""


@dataclass
class Dataset:
    """A train/test split of a numeric table, in the data's own units.

    Arguments:
        name: registry name (or the CSV file name).
        description: one or two sentences for the UI.
        columns: one name per feature column.
        train, test: float64 arrays of shape (n, d); test is the held-out split every metric is scored on.
        labels_train, labels_test: optional integer class labels (digits) for colouring and conditioning.
        image_shape: e.g. (8, 8) when each row is a flattened image.
        params: the generator parameters that produced it (for the run store and reproducibility).
        trajectory_train, trajectory_test: for time series (``lorenz_series``), which trajectory each row belongs
            to; rows are then in time order within a trajectory. Sequence models (capability ``sequence``) train
            on them; every other model sees the rows as states, as in any table.
    """

    name: str
    description: str
    columns: list[str]
    train: np.ndarray
    test: np.ndarray
    labels_train: np.ndarray | None = None
    labels_test: np.ndarray | None = None
    image_shape: tuple[int, ...] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    trajectory_train: np.ndarray | None = None
    trajectory_test: np.ndarray | None = None

    @property
    def is_series(self) -> bool:
        """True for time-ordered trajectories (what a sequence model needs)."""
        return self.trajectory_train is not None

    @property
    def n_features(self) -> int:
        return int(self.train.shape[1])

    @property
    def is_positive(self) -> bool:
        """True when every training value is >= 0 (then log1p keeps samples positive)."""
        return bool(np.all(self.train >= 0))

    @property
    def n_classes(self) -> int:
        return 0 if self.labels_train is None else int(np.max(self.labels_train)) + 1


@dataclass(frozen=True)
class DatasetInfo:
    """A registry entry: how to build a built-in dataset and what it needs.

    ``Params`` is a dataclass declared with :func:`genlib.params.param` (the one parameter system): its fields are
    the loader's keyword arguments, and their metadata builds the app's widgets and checks ``--param k=v``."""

    name: str
    description: str
    loader: Callable[..., Dataset]
    Params: type

    @property
    def params(self) -> list[Param]:
        """The generator parameters, in declaration order."""
        return params_of(self.Params)
