"""The registry of built-in datasets, and the one entry point pages and the CLI use to load data.

Parameters are checked here, once, by the one parameter system (:mod:`genlib.params`): unknown names, values
of the wrong type and values out of range become a `DataError` that names the parameter, and strings (from
the CLI's `--param k=v`) are coerced to the type of the default.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from genlib.data import digits, finance, lorenz, lorenz_images, toy2d
from genlib.data.base import DataError, Dataset, DatasetInfo
from genlib.data.csv_loader import CsvParams, load_csv
from genlib.params import config_dict, make_config
from genlib.sources import cite

DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo(
            "finance",
            "Synthetic heavy-tailed financial table: 720 × 4 non-negative features, f2 and f3 most correlated.",
            finance.load_finance,
            finance.FinanceParams,
        ),
        DatasetInfo(
            "finance_tail",
            "The finance table's marginals with joint crashes: half the rows from a crisis regime where all four "
            "features reach their extremes together (tail dependence a Gaussian copula cannot have).",
            finance.load_finance_tail,
            finance.FinanceTailParams,
        ),
        DatasetInfo(
            "toy2d",
            "Classic 2-D toy densities (moons, circles, 8 Gaussians, swiss roll, checkerboard, ring).",
            toy2d.load_toy2d,
            toy2d.Toy2DParams,
        ),
        DatasetInfo(
            "digits",
            "scikit-learn's 1,797 handwritten 8×8 digit images with labels 0-9.",
            digits.load_digits,
            digits.DigitsParams,
        ),
        DatasetInfo(
            "lorenz",
            "States (x, y, z) sampled on the Lorenz-63 strange attractor.",
            lorenz.load_lorenz,
            lorenz.LorenzParams,
        ),
        DatasetInfo(
            "lorenz_series",
            "Whole Lorenz-63 trajectories in time order (train and test are different trajectories), for sequence "
            "models such as the echo state network.",
            lorenz.load_lorenz_series,
            lorenz.SeriesParams,
        ),
        DatasetInfo(
            "lorenz_images",
            f"Whole Lorenz trajectories (1,024 steps at dt 0.1) as 32×32 RGB images, channels x, y, z "
            f"({cite('lorenz_study')}).",
            lorenz_images.load_lorenz_images,
            lorenz_images.ImageParams,
        ),
        DatasetInfo(
            "lorenz_windows",
            "Short windows of Lorenz trajectories (16 steps × x, y, z = 48 values) for VAEs and flows.",
            lorenz_images.load_lorenz_windows,
            lorenz_images.WindowParams,
        ),
    )
}

def list_datasets() -> list[DatasetInfo]:
    """All built-in datasets, in registry order (for menus and `--help`)."""
    return list(DATASETS.values())


def _resolve(name: str, params_cls: type, params: dict[str, Any]) -> dict[str, Any]:
    """Defaults overridden by the given params, each checked by the one parameter system (genlib.params)."""
    config = make_config(params_cls, params, where=f"dataset '{name}': ", error=DataError)
    return config_dict(config)


def load_dataset(name: str, **params: Any) -> Dataset:
    """Build the built-in dataset `name` with `params` (strings allowed; defaults fill the rest)."""
    info = DATASETS.get(name)
    if info is None:
        raise DataError(f"Unknown dataset '{name}'; choose one of: {', '.join(DATASETS)}.")
    return info.loader(**_resolve(name, info.Params, params))


def load_any(spec: str, **params: Any) -> Dataset:
    """Load a built-in by name, or a CSV file when `spec` ends with .csv or is an existing file.

    For a CSV, `params` may be load_csv's keywords (name, max_bytes, test_fraction, seed).
    """
    spec = str(spec)
    if spec in DATASETS:
        return load_dataset(spec, **params)
    if spec.lower().endswith(".csv") or Path(spec).is_file():
        kwargs = _resolve(Path(spec).name, CsvParams, params)
        kwargs["name"] = kwargs["name"] or None
        return load_csv(spec, **kwargs)
    raise DataError(
        f"Unknown dataset '{spec}'; choose one of: {', '.join(DATASETS)}, or give the path of a .csv file."
    )
