"""What the Anomalies page writes on each gallery tile, as plain data: pure numpy, no Streamlit, no Plotly.

Why a module: the marks are the teaching point of the gallery (does the threshold get this row right?), so they
are computed once here, tested here, and only drawn by :mod:`genlib.figures.anomaly`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["TileMark", "gallery_marks", "top_rows", "RIGHT", "WRONG"]

RIGHT, WRONG = "✓", "✗"


@dataclass(frozen=True)
class TileMark:
    """One gallery tile: its test row, score, whether the threshold flags it, the truth (None: no labels) and the
    mark: ✓ when the threshold gets the row right (flagged and anomalous, or not flagged and normal), ✗ when not,
    "" without labels."""

    row: int
    score: float
    flagged: bool
    anomalous: bool | None
    mark: str

    @property
    def lines(self) -> tuple[str, str]:
        """The tile's title in two short lines (a tile is narrow): mark and score, then the row."""
        return f"{self.mark} {self.score:.3g}".strip(), f"row {self.row}"

    @property
    def text(self) -> str:
        """The same on one line, e.g. ``"✓ 0.83 · row 12"`` (a legend, a table)."""
        return " · ".join(self.lines)

    @property
    def verdict(self) -> str:
        """In words, for a hover or a screen reader: "anomalous, flagged", "normal, flagged"…"""
        flag = "flagged" if self.flagged else "not flagged"
        return flag if self.anomalous is None else f"{'anomalous' if self.anomalous else 'normal'}, {flag}"


def top_rows(scores: np.ndarray, n: int) -> np.ndarray:
    """The ``n`` highest-scoring rows, highest first (ties: the earlier row first, so the gallery is stable)."""
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    return np.argsort(-s, kind="stable")[:max(0, int(n))]


def gallery_marks(scores: np.ndarray, labels: np.ndarray | None, threshold: float,
                  rows: np.ndarray | None = None) -> list[TileMark]:
    """A :class:`TileMark` for each of ``rows`` (default: every row, in order). A row is flagged when its score is
    above ``threshold`` (the page's 1σ line); ``labels``: 1 = anomaly, or None when the data have no labels."""
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    y = None if labels is None else np.asarray(labels).astype(np.int64).reshape(-1)
    if y is not None and y.shape != s.shape:
        raise ValueError(f"one label per score needed, got {y.shape} and {s.shape}")
    idx = np.arange(len(s)) if rows is None else np.asarray(rows, dtype=np.int64).reshape(-1)
    out = []
    for r in idx:
        flagged = bool(s[r] > threshold)
        anomalous = None if y is None else bool(y[r] == 1)
        mark = "" if anomalous is None else (RIGHT if flagged == anomalous else WRONG)
        out.append(TileMark(int(r), float(s[r]), flagged, anomalous, mark))
    return out
