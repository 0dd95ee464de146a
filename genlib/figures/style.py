"""The shared look of every GenLab figure: colours, the layout (legend, margins, template) and small helpers.

Every figure builder in :mod:`genlib.figures` takes numbers and returns a ``plotly.graph_objects.Figure``; nothing
here imports Streamlit, so figures are testable without a browser.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import plotly.graph_objects as go

REAL_COLOR = "#1f77b4"
FAKE_COLOR = "#ff7f0e"
REAL_DARK = "#222"
PALETTE = ["#4C6EF5", "#F76707", "#2B8A3E", "#C92A2A", "#862E9C", "#0B7285", "#E67700", "#5C940D"]


def layout(fig: go.Figure, title: str | None = None, height: int = 360) -> go.Figure:
    """Shared look; the legend sits above the plots, lifted clear of subplot titles when there are any."""
    top, legend_y = (40 if title else 10), 1.02
    if fig.layout.annotations:  # subplot titles sit just above each panel: leave the legend a row of its own
        top = max(top, 56)
        legend_y = 1.0 + 26 / max(height - top - 40, 100)
    fig.update_layout(title=title, height=height, margin=dict(l=40, r=10, t=top, b=40),
                      legend=dict(orientation="h", yanchor="bottom", y=legend_y, x=1, xanchor="right"),
                      template="plotly_white")
    return fig


def grid_shape(n: int, max_cols: int = 4) -> tuple[int, int]:
    """(rows, columns) of a subplot grid for n panels, at most ``max_cols`` wide."""
    cols = min(n, max_cols)
    return int(np.ceil(n / cols)), cols


def run_colors(labels: Sequence[str]) -> dict[str, str]:
    """The colour each run gets in the comparison figures, by its position in ``labels``."""
    return {label: PALETTE[i % len(PALETTE)] for i, label in enumerate(labels)}


def prefers_log_axes(dataset: Any) -> bool:
    """Log axes for tables with heavy right tails (finance-like data: most values near zero, a few far out), never
    for images; decided from the training data, so an uploaded table of that shape gets them too."""
    from genlib.transforms import is_heavy_tailed
    return dataset.image_shape is None and is_heavy_tailed(dataset.train)


def finite_values(v: np.ndarray) -> np.ndarray:
    """The finite entries of ``v``, flattened (axis ranges must ignore NaN and inf)."""
    v = np.asarray(v, dtype=float).ravel()
    return v[np.isfinite(v)]


def plain(text: object) -> str:
    """``text`` (a column header, a run or file name) as text in a Plotly title, legend, axis title, annotation or
    hover: Plotly renders a subset of HTML there (``<b>``, ``<a href>``, ``<br>``, entities), so ``& < >`` are escaped
    and user text never becomes a link or markup."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

