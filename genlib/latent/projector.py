"""Embedding-Projector touches for the latent explorer: search by label or row, the k nearest neighbours of a point
in the code space, and the selection shared by the PCA and UMAP views.

Why here and not in the page: a class watches the teacher type "7" or click a point, and the answer must be right
(the same rows in both views, neighbours in the *code* space, not on the screen where UMAP distorts distances).
These are pure functions of arrays, tested without Streamlit. Rows are positions among the rows the views show.

Example:
    >>> import numpy as np
    >>> labels = np.array([0, 7, 7, 1])
    >>> parse_search("label 7", labels, 4).rows.tolist()
    [1, 2]
    >>> parse_search("#3", labels, 4).rows.tolist()
    [3]
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Literal

import numpy as np
import pandas as pd

from ..data.base import DataError

__all__ = ["SearchResult", "parse_search", "Neighbours", "nearest_neighbours", "NEIGHBOUR_METRICS",
           "rows_from_event", "Selection", "SEARCH_HELP"]

#: Distances offered for neighbours in the code space.
NEIGHBOUR_METRICS: tuple[str, ...] = ("euclidean", "cosine")

#: What the search box accepts, in the words the page shows.
SEARCH_HELP = ("a label (“7” or “label 7”), a row (“#123” or “row 123”), or several separated by commas "
               "(“3, 8” or “#5, #9”)")

_ROW = re.compile(r"^(?:#\s*|row\s+)(\S+)$", re.IGNORECASE)
_LABEL = re.compile(r"^(?:label|class)\s+(.+)$", re.IGNORECASE)


@dataclass(frozen=True)
class SearchResult:
    """What a search selects: ``rows`` (sorted, unique), a plain description, and ``error`` (a sentence for the
    user) when a term matched nothing or could not be read; rows of the terms that did match are still kept."""

    rows: np.ndarray
    description: str = ""
    error: str | None = None

    @property
    def empty(self) -> bool:
        return len(self.rows) == 0


def _label_matches(labels: np.ndarray, term: str) -> np.ndarray:
    """Rows whose label reads as ``term`` ("7" matches 7, 7.0 and "7"; text labels match case-insensitively)."""
    as_text = np.array([str(v).strip().lower() for v in labels], dtype=object)
    hit = as_text == term.lower()
    try:
        number = float(term)
    except ValueError:
        return np.flatnonzero(hit)
    if labels.dtype.kind in "iuf":
        hit |= np.isclose(labels.astype(float), number)
    return np.flatnonzero(hit)


def _describe_labels(labels: np.ndarray) -> str:
    values = np.unique(labels)
    shown = ", ".join(str(v) for v in values[:12])
    return shown + (f", … ({len(values)} labels)" if len(values) > 12 else "")


def parse_search(text: str, labels: np.ndarray | None, n_rows: int) -> SearchResult:
    """Rows selected by the search box's ``text`` (see :data:`SEARCH_HELP`).

    A bare value means a label when the data have labels and a row when they do not. Empty text selects
    nothing without an error; a term that matches nothing gives an error naming what exists (the labels, or
    the range of rows)."""
    text = (text or "").strip()
    if not text:
        return SearchResult(np.zeros(0, dtype=int))
    lab = None if labels is None else np.asarray(labels)
    if lab is not None and len(lab) != n_rows:
        raise ValueError(f"{len(lab)} labels for {n_rows} rows")
    found: list[np.ndarray] = []
    said: list[str] = []
    errors: list[str] = []
    for raw in (t.strip() for t in text.split(",")):
        if not raw:
            continue
        row = _ROW.match(raw)
        label = _LABEL.match(raw)
        if row is None and label is None and lab is None:   # no labels: a bare number is a row
            row = re.match(r"^(\S+)$", raw) if raw.lstrip("-").isdigit() else None
        if row is not None:
            value = row.group(1)
            if not value.isdigit():
                errors.append(f"“{raw}”: a row is a whole number, e.g. “#12”")
            elif int(value) >= n_rows:
                errors.append(f"there is no row {int(value)}: the rows shown go from 0 to {n_rows - 1}")
            else:
                found.append(np.array([int(value)]))
                said.append(f"row {int(value)}")
            continue
        term = label.group(1).strip() if label is not None else raw
        if lab is None:
            errors.append(f"“{raw}”: these data have no labels; search a row instead, e.g. “#12”")
            continue
        hits = _label_matches(lab, term)
        if len(hits) == 0:
            errors.append(f"no row has the label “{term}” (the labels here: {_describe_labels(lab)})")
        else:
            found.append(hits)
            said.append(f"label {term} ({len(hits):,} rows)")
    rows = np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=int)
    error = None
    if errors:
        error = "; ".join(errors)
        error = error[0].upper() + error[1:] + "."
        if not found:
            error += f" Search for {SEARCH_HELP}."
    return SearchResult(rows.astype(int), ", ".join(said), error)


@dataclass(frozen=True)
class Neighbours:
    """The ``k`` nearest rows to ``row`` in the code space, nearest first (the row itself left out)."""

    row: int
    rows: np.ndarray
    distances: np.ndarray
    labels: np.ndarray | None
    metric: str

    def table(self) -> pd.DataFrame:
        """One line per neighbour: rank, row, label (when the data have labels), distance. Plain column
        names: this is what the page shows and downloads."""
        frame = pd.DataFrame({"rank": np.arange(1, len(self.rows) + 1), "row": self.rows})
        if self.labels is not None:
            frame["label"] = self.labels
        frame[f"distance in the code space ({self.metric})"] = self.distances
        return frame


def nearest_neighbours(codes: np.ndarray, row: int, k: int, labels: np.ndarray | None = None,
                       metric: Literal["euclidean", "cosine"] = "euclidean") -> Neighbours:
    """The ``k`` nearest neighbours of ``codes[row]`` among the other rows (scikit-learn's exact search).

    Distances are in the code space, where the encoder put the rows; the UMAP view only approximates them.
    A duplicate of the row (distance 0) counts as a neighbour; the row itself does not. Bad input raises
    :class:`DataError` with one sentence."""
    from sklearn.neighbors import NearestNeighbors

    arr = np.asarray(codes, dtype=np.float64)
    if arr.ndim != 2 or len(arr) < 2:
        raise DataError(f"neighbours need at least 2 codes in a 2-D array, got shape {arr.shape}")
    n = len(arr)
    if not 0 <= int(row) < n:
        raise DataError(f"there is no row {row}: the rows go from 0 to {n - 1}")
    if not 1 <= int(k) <= n - 1:
        raise DataError(f"the number of neighbours must be between 1 and {n - 1}, got {k}")
    if metric not in NEIGHBOUR_METRICS:
        raise DataError(f"unknown distance {metric!r}; choose one of {', '.join(NEIGHBOUR_METRICS)}")
    row, k = int(row), int(k)
    nn = NearestNeighbors(n_neighbors=k + 1, metric=metric, algorithm="brute").fit(arr)
    dist, idx = nn.kneighbors(arr[row:row + 1])
    dist, idx = dist[0], idx[0]
    keep = idx != row                 # the row itself, wherever ties put it
    dist, idx = dist[keep][:k], idx[keep][:k]
    lab = None if labels is None else np.asarray(labels)[idx]
    return Neighbours(row, idx.astype(int), np.maximum(dist, 0.0), lab, metric)


def rows_from_event(event: Any, n_rows: int | None = None) -> list[int]:
    """Row indices (``customdata[0]`` of each point) selected in a chart drawn by :mod:`genlib.figures.latent`,
    from the value ``st.plotly_chart(..., on_select="rerun")`` returns or keeps under its key. Points without a
    row (lines, contours) and rows outside ``range(n_rows)`` are ignored; the same row picked in both views counts
    once."""
    try:
        points = event["selection"]["points"]
    except (KeyError, TypeError, IndexError):
        points = getattr(getattr(event, "selection", None), "points", None) or []
    rows: set[int] = set()
    for p in points or []:
        data = p.get("customdata") if isinstance(p, dict) else None
        if data is None or isinstance(data, (str, bytes)) or not len(data):
            continue
        try:
            r = int(data[0])
        except (TypeError, ValueError):
            continue
        if n_rows is None or 0 <= r < n_rows:
            rows.add(r)
    return sorted(rows)


@dataclass
class Selection:
    """The rows highlighted in both views, and how they were chosen (shown to the class: "box in the UMAP view",
    "search “7”"). Kept in the page's session state between reruns."""

    rows: list[int] = field(default_factory=list)
    how: str = ""

    @classmethod
    def of(cls, rows: Iterable[int], how: str) -> "Selection":
        return cls(sorted({int(r) for r in rows}), how)

    def valid_for(self, n_rows: int) -> "Selection":
        """The same selection with rows that no longer exist (other data, fewer rows) dropped."""
        kept = [r for r in self.rows if 0 <= r < n_rows]
        return self if len(kept) == len(self.rows) else Selection(kept, self.how if kept else "")

    def __bool__(self) -> bool:
        return bool(self.rows)
