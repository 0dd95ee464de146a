"""Load a user's CSV into a `Dataset`, turning every way it can be wrong into one readable `DataError`.

Uploaded files come from students, so nothing here may leak a pandas or numpy traceback:
each check names the problem in one sentence the UI can show as-is.
Also home of `split_rows`, the shuffled train/test split every built-in loader shares.
"""
from __future__ import annotations

import io
import math
import re
from pathlib import Path
from typing import Any, BinaryIO, Union

from dataclasses import dataclass

import numpy as np
import pandas as pd

from genlib.data.base import DataError, Dataset
from genlib.limits import COLUMNS, LimitError
from genlib.params import param

MB = 1024 * 1024
DEFAULT_MAX_BYTES = 50 * MB
#: The metric suite's PRDC metrics need more than ``genlib.metrics.suite.PRDC_K`` (5) held-out test rows, and its
#: Reference at least 2 training rows: a CSV must be long enough that its split has both (see `min_rows`).
MIN_TEST_ROWS = 6
MIN_TRAIN_ROWS = 2
#: Largest integer float64 holds exactly; larger integers are rounded (precision lost).
EXACT_INT = 2**53
#: Largest magnitude a column may hold. Training and the metrics square values and differences (variances, squared
#: distances, MMD kernels) and sum them over up to ~1e6 rows: float64 overflows at ~1.8e308, so |x| ≤ 1e150 keeps
#: every square (≤ 4e300 for a difference) and such a sum finite with room to spare. Larger values train into NaN
#: losses or NaN metrics that blame the learning rate instead of the data.
MAX_ABS_VALUE = 1e150
#: Smallest spread (max − min) a column may have: below it squared deviations (< 1e-300) run into float64's
#: underflow (smallest normal ~2.2e-308) and the column's standard deviation comes out 0 or inexact. A column at
#: 1e-200 next to one at 1e200 (scales 1e400 apart) is refused by one bound or the other.
MIN_SPAN = 1e-150

CsvSource = Union[str, Path, BinaryIO, Any]

# Keyword arguments `load_any(path, **params)` accepts for a CSV; strings from the CLI are coerced to these types.
@dataclass
class CsvParams:
    name: str = param("", "display name (default: the file name without extension)", label="dataset name")
    max_bytes: int = param(DEFAULT_MAX_BYTES, "largest file accepted, in bytes", range=(1, 2**40),
                           label="largest file (bytes)")
    test_fraction: float = param(0.2, "share of rows held out for scoring", range=(0.01, 0.99),
                                 label="share of rows held out for testing")
    seed: int = param(0, "seed of the shuffle before the split", range=(0, 2**32 - 1), label="random seed")


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
    n_test = _n_test(n, test_fraction)
    perm = rng.permutation(n)
    tr, te = perm[: n - n_test], perm[n - n_test:]
    if labels is None:
        return x[tr], x[te], None, None
    return x[tr], x[te], labels[tr], labels[te]


def _n_test(n: int, test_fraction: float) -> int:
    """Rows `split_rows` holds out for the test split of n rows."""
    return min(max(1, int(round(n * test_fraction))), n - 1)


def min_rows(test_fraction: float = 0.2) -> int:
    """Fewest rows whose `split_rows` split still has the MIN_TEST_ROWS test rows and MIN_TRAIN_ROWS training rows the
    metric suite needs (28 at the default test_fraction 0.2)."""
    n = MIN_TEST_ROWS + MIN_TRAIN_ROWS
    while _n_test(n, test_fraction) < MIN_TEST_ROWS or n - _n_test(n, test_fraction) < MIN_TRAIN_ROWS:
        n += 1
    return n


#: The minimum at the default test_fraction (0.2).
MIN_ROWS = min_rows(0.2)


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
        label = f"File '{_shown(path.name, 80)}'"
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
    label = f"File '{_shown(Path(str(name)).name, 80)}'" if name else "The uploaded file"
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
    """Bytes -> text; binary files (NUL bytes, control characters, undecodable) are rejected here.

    UTF-32 and UTF-16 (either byte order) are read when the file starts with their byte-order mark, as Excel's
    "Unicode text" and PowerShell write them; UTF-8 with or without a BOM, then Windows-1252, otherwise."""
    for bom, encoding in ((b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
                          (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError:
                raise DataError(f"{label} starts like {encoding.upper()} text but is not valid "
                                f"{encoding.upper()}; save it as a UTF-8 CSV.") from None
            return _check_controls(text.lstrip("\ufeff"), label)
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
    return _check_controls(text, label)


def _check_controls(text: str, label: str) -> str:
    if "\x00" in text:
        raise DataError(f"{label} looks like a binary file, not a text CSV.")
    if re.search(r"[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]", text):
        raise DataError(f"{label} contains control characters, so it looks like a binary file, not a text CSV.")
    return text


class ColumnLimitError(DataError, LimitError):
    """A CSV with more columns than ``GENLAB_MAX_COLUMNS`` allows: a `DataError` (pages show it like any bad
    file) and a `LimitError` (it names the limit and the variable that changes it)."""


def _check_columns(text: str, label: str) -> None:
    """Refuse a file over the column limit from its header line alone, before pandas parses the whole file."""
    import csv

    stripped = text.lstrip()
    header = stripped[: stripped.find("\n")] if "\n" in stripped else stripped
    counts = []
    for sep in (",", ";", "\t"):
        try:
            counts.append(len(next(csv.reader([header.rstrip("\r")], delimiter=sep), [])))
        except csv.Error:  # a malformed header is left to the parser's own message
            continue
    if counts:
        COLUMNS.check(max(counts), label, "has", error=ColumnLimitError)


def _parse(text: str, label: str) -> pd.DataFrame:
    """Text -> DataFrame with a header row; falls back to ';' or tab when ',' finds a single column.

    Duplicate and blank column names are refused here, from the header as written: pandas would silently rename
    them ('a' twice becomes 'a' and 'a.1', a blank one 'Unnamed: 1')."""
    if not text.strip():
        raise DataError(f"{label} is empty.")
    sep = ","
    df = _read_with_sep(text, sep, label)
    if df.shape[1] == 1:
        header = text.lstrip().splitlines()[0]
        for other in (";", "\t"):
            if other in header:
                sep = other
                df = _read_with_sep(text, sep, label)
                break
    _check_header(_raw_header(text, sep), label)
    if df.index.nlevels > 1 or not df.index.equals(pd.RangeIndex(len(df))):
        # Data rows with more fields than the header has names: pandas silently takes the first field(s) of each row
        # as an index, so every column got its neighbour's values (or the trailing separators' NaN).
        raise DataError(
            f"{label} could not be parsed as CSV: its first data row has {df.index.nlevels + df.shape[1]} fields "
            f"but the header has {df.shape[1]}; remove separators at the ends of rows, or name every column."
        )
    return df


def _raw_header(text: str, sep: str) -> list[str]:
    try:
        first = pd.read_csv(io.StringIO(text), sep=sep, header=None, nrows=1, dtype=str, keep_default_na=False,
                            skipinitialspace=True)
    except Exception:  # the full read above succeeded; a header it cannot re-read is left to _validate
        return []
    return [str(c).strip() for c in first.iloc[0].tolist()] if len(first) else []


def _check_header(names: list[str], label: str) -> None:
    # A first line of numbers: _validate says "no header row". (`any(names)`: a header of blanks only, ",,", is not
    # numbers; without it pandas named the columns 'Unnamed: 0', … and the file was accepted.)
    if any(names) and all(_is_number(c) for c in names if c):
        return
    blank = [i + 1 for i, c in enumerate(names) if not c]
    if blank:
        where = ", ".join(str(i) for i in blank[:5]) + (f" and {len(blank) - 5} more" if len(blank) > 5 else "")
        raise DataError(
            f"{label} has {'a column' if len(blank) == 1 else f'{len(blank)} columns'} without a name "
            f"({_plural(len(blank), 'column')} {where} of the header); "
            "give every column a name."
        )
    dupes = [c for c in dict.fromkeys(names) if names.count(c) > 1]
    if dupes:
        raise DataError(f"{label} has duplicate column names: {_names(dupes)}; give every column its own name.")


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


def _validate(df: pd.DataFrame, label: str, need_rows: int = MIN_ROWS, need_why: str = ""
              ) -> tuple[list[str], np.ndarray, list[str]]:
    """Check the table is a clean numeric matrix; return (column names, float64 values, notes for the user)."""
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

    if len(df) < need_rows:
        raise DataError(f"{label} has only {len(df)} data rows; at least {need_rows} rows are needed{need_why}.")
    huge = _huge_integers(df, columns)
    text_cols = [c for c in columns if not pd.api.types.is_numeric_dtype(df[c]) and c not in huge]
    if text_cols:
        raise DataError(
            f"{label} has non-numeric (text) columns: {_names(text_cols)}; every column must hold numbers."
        )
    try:
        values = np.column_stack([huge[c][0] if c in huge else df[c].to_numpy(dtype=np.float64) for c in columns])
    except (TypeError, ValueError):
        raise DataError(f"{label} has values that are not numbers.") from None
    notes = []
    rounded = [c for c in columns if c in huge and huge[c][1]]
    if rounded:
        notes.append(f"{_names(rounded)} {'holds' if len(rounded) == 1 else 'hold'} integers beyond ±2^53, read as "
                     "floating-point numbers: precision lost (about 16 significant digits kept).")

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
            f"{_names(cols)}; fill or drop them first"
            + (" (a number beyond float64's ±1.8e308, like 1e999, reads as inf)." if n_inf else ".")
        )
    # Values of ±1.8e308 in one column: the span overflows to inf (refused below as too large) without a
    # RuntimeWarning, which the CLI would print on stderr next to its one-line message.
    with np.errstate(over="ignore"):
        spans = np.ptp(values, axis=0)
    blurred = [c for c, span in zip(columns, spans) if span == 0 and c in huge and huge[c][2]]
    if blurred:
        raise DataError(
            f"{label} has integer columns whose values differ only beyond float64's ~16 significant digits: "
            f"{_names(blurred)}; as numbers they all round to one value. Subtract a common offset first."
        )
    constant = [c for c, span in zip(columns, spans) if span == 0]
    if constant:
        raise DataError(f"{label} has constant columns (one value in every row): {_names(constant)}; drop them.")
    lows, highs = values.min(axis=0), values.max(axis=0)
    huge_cols = [i for i in range(len(columns)) if max(abs(lows[i]), abs(highs[i])) > MAX_ABS_VALUE]
    if huge_cols:
        raise DataError(
            f"{label} has values too large to train on in {_plural(len(huge_cols), 'column')} "
            f"{_ranges(columns, huge_cols, lows, highs)}: magnitudes above {MAX_ABS_VALUE:.0e} overflow float64 once "
            "squared; rescale (e.g. divide by a power of ten) or take logarithms first."
        )
    tiny = [i for i in range(len(columns)) if spans[i] < MIN_SPAN]
    if tiny:
        raise DataError(
            f"{label} has {'a column' if len(tiny) == 1 else f'{len(tiny)} columns'} whose values differ by less "
            f"than {MIN_SPAN:.0e}: {_ranges(columns, tiny, lows, highs)}; float64 cannot train on differences that "
            "small; rescale (e.g. multiply by a power of ten) first."
        )
    return columns, values, notes


def _ranges(columns: list[str], idx: list[int], lows: np.ndarray, highs: np.ndarray, limit: int = 5) -> str:
    """'a' (from -1e+300 to 2e+300), 'b' (…): each column named with its range."""
    shown = ", ".join(f"'{_shown(columns[i])}' (from {lows[i]:.3g} to {highs[i]:.3g})" for i in idx[:limit])
    return shown + (f" and {len(idx) - limit} more" if len(idx) > limit else "")


def _huge_integers(df: pd.DataFrame, columns: list[str]) -> dict[str, tuple[np.ndarray, bool, bool]]:
    """Columns of integers too large for float64 to hold exactly: pandas reads those near the int64 limit as int64
    or uint64 and those beyond it as text. Returns {column: (float64 values, precision lost, exact values differ)}."""
    out: dict[str, tuple[np.ndarray, bool, bool]] = {}
    for c in columns:
        col = df[c]
        if pd.api.types.is_integer_dtype(col.dtype):
            if len(col) == 0 or (int(col.max()) <= EXACT_INT and int(col.min()) >= -EXACT_INT):
                continue
            ints = [int(v) for v in col.to_numpy()]
        elif col.dtype == object and len(col):
            ints = []
            for v in col.to_numpy():
                text = str(v).strip()
                if not re.fullmatch(r"[+-]?\d+", text):
                    ints = []
                    break
                ints.append(int(text))
            if not ints:
                continue
        else:
            continue
        if not any(abs(v) > EXACT_INT for v in ints):
            continue
        # Beyond float64 (~1.8e308) an integer becomes ±inf, refused by the finiteness check like '1e999'; it used
        # to stay text ("non-numeric (text) columns") although every cell is a number.
        values = np.array([_int_to_float(v) for v in ints], dtype=np.float64)
        lost = any(not math.isfinite(f) or int(f) != v for f, v in zip(values, ints))
        out[c] = (values, lost, len(set(ints)) > 1)
    return out


def _int_to_float(v: int) -> float:
    try:
        return float(v)
    except OverflowError:
        return math.inf if v > 0 else -math.inf


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _plural(n: int, word: str) -> str:
    return word if n == 1 else word + "s"


def _shown(name: str, limit: int = 40) -> str:
    """A name from the file as a message quotes it: on one line (line breaks and other unprintable characters
    escaped, '\\n') and at most ``limit`` characters. A header may hold quoted newlines or 5,000-character names: as
    they were, a message broke over lines (the CLI showed only "'a") or ran to pages."""
    text = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in str(name))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _names(cols: list[str], limit: int = 5) -> str:
    shown = ", ".join(f"'{_shown(c)}'" for c in cols[:limit])
    return shown + (f" and {len(cols) - limit} more" if len(cols) > limit else "")


def min_rows_for(test_fraction: float) -> tuple[int, str]:
    """(minimum rows, the reason as a clause for the message) at this test_fraction."""
    return min_rows(test_fraction), (
        f" (models are scored on a held-out {test_fraction:.0%} test split, and the metrics need at least "
        f"{MIN_TEST_ROWS} test rows)"
    )


def load_csv(
    source: CsvSource,
    *,
    name: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    test_fraction: float = 0.2,
    seed: int = 0,
    min_rows: int | None = None,
) -> Dataset:
    """Read a numeric CSV (header row required) from a path or an uploaded file into a shuffled train/test split.

    All columns are features (no label column is special-cased). Every problem raises `DataError`.
    ``min_rows`` defaults to what training and the metric suite need at this ``test_fraction`` (`min_rows()`);
    a caller that only compares whole tables (``genlib evaluate``) may ask for fewer.
    Notes that do not stop the load (integers rounded to float64) are added to the description.
    """
    try:
        ok = 0.0 < float(test_fraction) < 1.0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise DataError(f"test_fraction must be a number between 0 and 1 (got {test_fraction!r}).")
    data, label = _read_bytes(source, int(max_bytes))
    text = _decode(data, label)
    _check_columns(text, label)
    df = _parse(text, label)
    if min_rows is None:
        need, why = min_rows_for(float(test_fraction))
    else:
        need, why = int(min_rows), ""
    columns, values, notes = _validate(df, label, need, why)

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
        + (f" from '{src_name}'." if src_name else ".")
        + "".join(f" Note: {note}" for note in notes),
        columns=columns,
        train=np.ascontiguousarray(train),
        test=np.ascontiguousarray(test),
        params={"source": src_name or ds_name, "test_fraction": float(test_fraction), "seed": int(seed)},
    )
