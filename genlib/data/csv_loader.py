"""Load a user's CSV into a `Dataset`, turning every way it can be wrong into one readable `DataError`.

Uploaded files come from students, so nothing here may leak a pandas or numpy traceback:
each check names the problem in one sentence the UI can show as-is.
Also home of `split_rows`, the shuffled train/test split every built-in loader shares.
"""
from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any, BinaryIO, Union

from dataclasses import dataclass

import numpy as np
import pandas as pd

from genlib.data.base import DataError, Dataset
from genlib.params import param

MB = 1024 * 1024
DEFAULT_MAX_BYTES = 50 * MB
MIN_ROWS = 10

CsvSource = Union[str, Path, BinaryIO, Any]

# Keyword arguments `load_any(path, **params)` accepts for a CSV; strings from the CLI are coerced to these types.
@dataclass
class CsvParams:
    name: str = param("", "display name (default: the file name without extension)")
    max_bytes: int = param(DEFAULT_MAX_BYTES, "largest file accepted, in bytes", range=(1, 2**40))
    test_fraction: float = param(0.2, "share of rows held out for scoring", range=(0.01, 0.99))
    seed: int = param(0, "seed of the shuffle before the split", range=(0, 2**32 - 1))


def split_rows(
    x: np.ndarray,
    rng: np.random.Generator,
    test_fraction: float = 0.2,
    labels: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Shuffle rows with `rng` and cut off the last `test_fraction` as the held-out test split.

    Returns (train, test, labels_train, labels_test); labels are None when not given.
    """
    n = len(x)
    n_test = min(max(1, int(round(n * test_fraction))), n - 1)
    perm = rng.permutation(n)
    tr, te = perm[: n - n_test], perm[n - n_test:]
    if labels is None:
        return x[tr], x[te], None, None
    return x[tr], x[te], labels[tr], labels[te]


def _fmt_mb(n_bytes: int) -> str:
    """Size in MB, with the byte count too when MB would round to nothing."""
    mb = n_bytes / MB
    if mb >= 0.1:
        return f"{mb:,.1f} MB"
    return f"{np.format_float_positional(mb, precision=2, fractional=False)} MB ({n_bytes:,} bytes)"


def _too_large(size: int, max_bytes: int, label: str) -> DataError:
    return DataError(f"{label} is {_fmt_mb(size)}, over the {_fmt_mb(max_bytes)} limit.")


def _read_bytes(source: CsvSource, max_bytes: int) -> tuple[bytes, str]:
    """Read at most max_bytes + 1 bytes from a path or file-like object; return (bytes, display label)."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        label = f"File '{path.name}'"
        if not path.is_file():
            raise DataError(f"File '{source}' was not found.")
        size = path.stat().st_size
        if size > max_bytes:
            raise _too_large(size, max_bytes, label)
        try:
            return path.read_bytes(), label
        except OSError as exc:
            raise DataError(f"File '{source}' could not be read ({exc.strerror or exc}).") from None

    name = getattr(source, "name", None)
    label = f"File '{Path(str(name)).name}'" if name else "The uploaded file"
    size = getattr(source, "size", None)
    if isinstance(size, int) and size > max_bytes:
        raise _too_large(size, max_bytes, label)
    try:
        if hasattr(source, "getvalue"):
            data = source.getvalue()
        elif hasattr(source, "read"):
            data = source.read(max_bytes + 1)
        else:
            raise DataError("The CSV source must be a file path or an uploaded file.")
    except DataError:
        raise
    except Exception as exc:  # a broken upload object: say so instead of a traceback
        raise DataError(f"{label} could not be read ({exc}).") from None
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise DataError(f"{label} did not return bytes when read.")
    data = bytes(data)
    if len(data) > max_bytes:
        raise _too_large(len(data), max_bytes, label)
    return data, label


def _decode(data: bytes, label: str) -> str:
    """Bytes -> text; binary files (NUL bytes, control characters, undecodable) are rejected here."""
    if b"\x00" in data:
        raise DataError(f"{label} looks like a binary file, not a text CSV.")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise DataError(f"{label} is not readable text; save it as a UTF-8 CSV.")
    if re.search(r"[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]", text):
        raise DataError(f"{label} contains control characters, so it looks like a binary file, not a text CSV.")
    return text


def _parse(text: str, label: str) -> pd.DataFrame:
    """Text -> DataFrame with a header row; falls back to ';' or tab when ',' finds a single column."""
    if not text.strip():
        raise DataError(f"{label} is empty.")
    df = _read_with_sep(text, ",", label)
    if df.shape[1] == 1:
        header = text.lstrip().splitlines()[0]
        for sep in (";", "\t"):
            if sep in header:
                return _read_with_sep(text, sep, label)
    return df


def _read_with_sep(text: str, sep: str, label: str) -> pd.DataFrame:
    try:
        return pd.read_csv(io.StringIO(text), sep=sep, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise DataError(f"{label} is empty.") from None
    except pd.errors.ParserError as exc:
        m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if m:
            raise DataError(
                f"{label} could not be parsed as CSV: line {m.group(2)} has {m.group(3)} fields "
                f"but the header has {m.group(1)}."
            ) from None
        raise DataError(f"{label} could not be parsed as CSV.") from None
    except Exception:  # any other pandas failure is still "not a CSV" to the user
        raise DataError(f"{label} could not be parsed as CSV.") from None


def _validate(df: pd.DataFrame, label: str) -> tuple[list[str], np.ndarray]:
    """Check the table is a clean numeric matrix; return (column names, float64 values)."""
    columns = [str(c).strip() for c in df.columns]
    if len(columns) < 1:
        raise DataError(f"{label} has no columns; it needs a header row and at least 1 numeric column.")
    if all(_is_number(c) for c in columns):
        raise DataError(
            f"{label} has no header row (its first line is all numbers); add a line of column names."
        )
    dupes = sorted({c for c in columns if columns.count(c) > 1})
    if dupes:
        raise DataError(f"{label} has duplicate column names: {_names(dupes)}.")
    df = df.copy()
    df.columns = columns

    if len(df) < MIN_ROWS:
        raise DataError(f"{label} has only {len(df)} data rows; at least {MIN_ROWS} rows are needed.")
    text_cols = [c for c in columns if not pd.api.types.is_numeric_dtype(df[c])]
    if text_cols:
        raise DataError(
            f"{label} has non-numeric (text) columns: {_names(text_cols)}; every column must hold numbers."
        )
    try:
        values = df.to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"{label} has values that are not numbers.") from None

    bad = ~np.isfinite(values)
    if bad.any():
        n_nan = int(np.isnan(values).sum())
        n_inf = int(bad.sum()) - n_nan
        kinds = " and ".join(
            part for part in (f"{n_nan} NaN/missing" if n_nan else "", f"{n_inf} inf" if n_inf else "") if part
        )
        cols = [c for c, b in zip(columns, bad.any(axis=0)) if b]
        raise DataError(
            f"{label} has {kinds} {_plural(int(bad.sum()), 'cell')} in {_plural(len(cols), 'column')} "
            f"{_names(cols)}; fill or drop them first."
        )
    constant = [c for c, span in zip(columns, np.ptp(values, axis=0)) if span == 0]
    if constant:
        raise DataError(f"{label} has constant columns (one value in every row): {_names(constant)}; drop them.")
    return columns, values


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _plural(n: int, word: str) -> str:
    return word if n == 1 else word + "s"


def _names(cols: list[str], limit: int = 5) -> str:
    shown = ", ".join(f"'{c}'" for c in cols[:limit])
    return shown + (f" and {len(cols) - limit} more" if len(cols) > limit else "")


def load_csv(
    source: CsvSource,
    *,
    name: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> Dataset:
    """Read a numeric CSV (header row required) from a path or an uploaded file into a shuffled train/test split.

    All columns are features (no label column is special-cased). Every problem raises `DataError`.
    """
    try:
        ok = 0.0 < float(test_fraction) < 1.0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise DataError(f"test_fraction must be a number between 0 and 1 (got {test_fraction!r}).")
    data, label = _read_bytes(source, int(max_bytes))
    text = _decode(data, label)
    df = _parse(text, label)
    columns, values = _validate(df, label)

    if isinstance(source, (str, Path)):
        src_name = Path(source).name
    else:
        src_name = Path(str(getattr(source, "name", "") or "")).name
    ds_name = name or (Path(src_name).stem if src_name else "uploaded")
    train, test, _, _ = split_rows(values, np.random.default_rng(seed), test_fraction)
    n, d = values.shape
    return Dataset(
        name=ds_name,
        description=f"Uploaded CSV: {n} rows × {d} {_plural(d, 'column')}"
        + (f" from '{src_name}'." if src_name else "."),
        columns=columns,
        train=np.ascontiguousarray(train),
        test=np.ascontiguousarray(test),
        params={"source": src_name or ds_name, "test_fraction": float(test_fraction), "seed": int(seed)},
    )
