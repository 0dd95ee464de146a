"""`digits`: scikit-learn's 8×8 handwritten digits (1,797 images, ships with sklearn, no download).

A small real image data set with class labels, so pages can show sample grids and class-conditional
models without any network access. Each row is one image flattened row-major; pixels are 0..16.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.datasets import load_digits as _sk_load_digits
from sklearn.model_selection import train_test_split

from genlib.data.base import Dataset
from genlib.params import param

IMAGE_SHAPE = (8, 8)
TEST_FRACTION = 0.2
COLUMNS = [f"p{i}" for i in range(IMAGE_SHAPE[0] * IMAGE_SHAPE[1])]

@dataclass
class DigitsParams:
    seed: int = param(0, "random seed of the stratified train/test split", range=(0, 2**32 - 1), label="random seed")


def load_digits(seed: int = 0) -> Dataset:
    """Digits as 64 pixel columns (p0..p63, values 0..16) with int64 labels 0..9; stratified 80/20 split."""
    bunch = _sk_load_digits()
    x = np.asarray(bunch.data, dtype=np.float64)
    y = np.asarray(bunch.target, dtype=np.int64)
    # Stratified, so every digit keeps its ~10% share in both splits (fair per-class scores).
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=TEST_FRACTION, stratify=y, random_state=int(seed) % 2**32
    )
    return Dataset(
        name="digits",
        description="Handwritten digits 0-9 from scikit-learn: 1,797 images of 8×8 pixels with values 0..16.",
        columns=list(COLUMNS),
        train=np.ascontiguousarray(x_tr),
        test=np.ascontiguousarray(x_te),
        labels_train=np.ascontiguousarray(y_tr),
        labels_test=np.ascontiguousarray(y_te),
        image_shape=IMAGE_SHAPE,
        params={"seed": int(seed)},
    )
