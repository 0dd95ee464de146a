"""Writing tables for people to open: CSV cells a spreadsheet would run as formulas are neutralised.

A CSV written from user data (an uploaded file's column names, run names, text cells) can start a cell with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return; Excel, LibreOffice and Google Sheets then evaluate it as a
formula (CSV injection, e.g. ``=HYPERLINK(...)`` or ``=cmd|...``). :func:`csv_safe` prefixes such text with ``'``,
which spreadsheets show as plain text. Numbers are left alone (``-1.5`` stays a number).
"""
from __future__ import annotations

from typing import Any, Sequence, TypeVar, overload

import pandas as pd

__all__ = ["FORMULA_STARTS", "csv_safe", "safe_cell"]

#: First characters that make a spreadsheet read a cell as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

T = TypeVar("T")


def safe_cell(value: T) -> T | str:
    """``value`` with a leading ``'`` when it is text a spreadsheet would run as a formula; anything else as is."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


@overload
def csv_safe(table: pd.DataFrame) -> pd.DataFrame: ...
@overload
def csv_safe(table: Sequence[Any]) -> list[Any]: ...


def csv_safe(table: pd.DataFrame | Sequence[Any]) -> pd.DataFrame | list[Any]:
    """A copy of ``table`` that is safe to write as CSV for a spreadsheet: in a DataFrame, the column names (and
    index names and labels) and every text cell; given a list of column names or cells, that list.

    Example:
        >>> csv_safe(["=1+1", "height", "-x", "@sum"])
        ["'=1+1", 'height', "'-x", "'@sum"]
        >>> csv_safe(pd.DataFrame({"=cmd": [-1.5], "note": ["+1"]})).to_csv(index=False)
        "'=cmd,note\\n-1.5,'+1\\n"
    """
    if not isinstance(table, pd.DataFrame):
        return [safe_cell(v) for v in table]
    out = table.copy()
    out.columns = pd.Index([safe_cell(c) for c in out.columns]) if not isinstance(out.columns, pd.MultiIndex) \
        else out.columns
    out.index = out.index.set_names([safe_cell(n) for n in out.index.names])
    if not isinstance(out.index, pd.MultiIndex) and pd.api.types.is_string_dtype(out.index.dtype):
        out.index = out.index.map(safe_cell)
    for col in range(out.shape[1]):
        series = out.iloc[:, col]
        if pd.api.types.is_string_dtype(series.dtype) or series.dtype == object:
            out.iloc[:, col] = series.map(safe_cell)
    return out
