"""The registry of built-in datasets, and the one entry point pages and the CLI use to load data.

Parameters are checked here, once, against each dataset's `ParamSpec`s: unknown names, values of the
wrong type and values out of range become a `DataError` that names the parameter, and strings (from the
CLI's `--param k=v`) are coerced to the type of the spec's default.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from genlib.data import digits, finance, lorenz, lorenz_images, toy2d
from genlib.data.base import DataError, Dataset, DatasetInfo, ParamSpec
from genlib.data.csv_loader import CSV_PARAMS, load_csv

DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo(
            "finance",
            "Synthetic heavy-tailed financial table: 720 × 4 non-negative features, f2 and f3 most correlated.",
            finance.load_finance,
            finance.PARAMS,
        ),
        DatasetInfo(
            "toy2d",
            "Classic 2-D toy densities (moons, circles, 8 Gaussians, swiss roll, checkerboard, ring).",
            toy2d.load_toy2d,
            toy2d.PARAMS,
        ),
        DatasetInfo(
            "digits",
            "scikit-learn's 1,797 handwritten 8×8 digit images with labels 0-9.",
            digits.load_digits,
            digits.PARAMS,
        ),
        DatasetInfo(
            "lorenz",
            "States (x, y, z) sampled on the Lorenz-63 strange attractor.",
            lorenz.load_lorenz,
            lorenz.PARAMS,
        ),
        DatasetInfo(
            "lorenz_images",
            "Whole Lorenz trajectories (1,024 steps at dt 0.1) as 32×32 RGB images, channels x, y, z (seed 001).",
            lorenz_images.load_lorenz_images,
            lorenz_images.IMAGE_PARAMS,
        ),
        DatasetInfo(
            "lorenz_windows",
            "Short windows of Lorenz trajectories (16 steps × x, y, z = 48 values) for VAEs and flows.",
            lorenz_images.load_lorenz_windows,
            lorenz_images.WINDOW_PARAMS,
        ),
    )
}

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def list_datasets() -> list[DatasetInfo]:
    """All built-in datasets, in registry order (for menus and `--help`)."""
    return list(DATASETS.values())


def coerce_param(spec: ParamSpec, value: Any, dataset: str = "") -> Any:
    """Convert `value` to the type of `spec.default` and check its range/choices; DataError if it can't."""
    where = f"Parameter '{spec.name}'" + (f" of dataset '{dataset}'" if dataset else "")
    kind = type(spec.default)
    raw = value.strip() if isinstance(value, str) else value
    try:
        if kind is bool:
            if isinstance(raw, str) and raw.lower() in _TRUE | _FALSE:
                out: Any = raw.lower() in _TRUE
            elif isinstance(raw, (bool, int)) and raw in (0, 1):
                out = bool(raw)
            else:
                raise ValueError
        elif kind is int:
            if isinstance(raw, bool):
                raise ValueError
            f = float(raw)  # accepts "2000", "2e3", 2000.0
            if not f.is_integer():
                raise ValueError
            out = int(f)
        elif kind is float:
            if isinstance(raw, bool):
                raise ValueError
            out = float(raw)
            if not math.isfinite(out):
                raise ValueError
        elif kind is str:
            out = str(raw)
        else:
            out = raw
    except (TypeError, ValueError, OverflowError):
        expected = {bool: "true or false", int: "an integer", float: "a finite number"}.get(kind, kind.__name__)
        raise DataError(f"{where} must be {expected} (got {value!r}).") from None

    if spec.choices is not None and out not in spec.choices:
        raise DataError(f"{where} must be one of: {', '.join(spec.choices)} (got {value!r}).")
    if spec.range is not None and kind in (int, float):
        lo, hi = spec.range
        if not lo <= out <= hi:
            raise DataError(f"{where} must be between {_num(lo)} and {_num(hi)} (got {out!r}).")
    return out


def _num(v: float) -> str:
    """Range bounds as people write them: 100000 not 1e+05, 0.0001 not 1.0e-04."""
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def _resolve(name: str, specs: tuple[ParamSpec, ...], params: dict[str, Any]) -> dict[str, Any]:
    """Defaults overridden by the given params, each validated and coerced."""
    by_name = {s.name: s for s in specs}
    for key in params:
        if key not in by_name:
            valid = ", ".join(by_name) or "none"
            raise DataError(f"Unknown parameter '{key}' for dataset '{name}'; valid parameters: {valid}.")
    return {s.name: coerce_param(s, params[s.name], name) if s.name in params else s.default for s in specs}


def load_dataset(name: str, **params: Any) -> Dataset:
    """Build the built-in dataset `name` with `params` (strings allowed; defaults fill the rest)."""
    info = DATASETS.get(name)
    if info is None:
        raise DataError(f"Unknown dataset '{name}'; choose one of: {', '.join(DATASETS)}.")
    return info.loader(**_resolve(name, info.params, params))


def load_any(spec: str, **params: Any) -> Dataset:
    """Load a built-in by name, or a CSV file when `spec` ends with .csv or is an existing file.

    For a CSV, `params` may be load_csv's keywords (name, max_bytes, test_fraction, seed).
    """
    spec = str(spec)
    if spec in DATASETS:
        return load_dataset(spec, **params)
    if spec.lower().endswith(".csv") or Path(spec).is_file():
        kwargs = _resolve(Path(spec).name, CSV_PARAMS, params)
        kwargs["name"] = kwargs["name"] or None
        return load_csv(spec, **kwargs)
    raise DataError(
        f"Unknown dataset '{spec}'; choose one of: {', '.join(DATASETS)}, or give the path of a .csv file."
    )
