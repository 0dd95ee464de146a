"""The shared look of every GenLab figure: colours, the layout (legend, margins, template) and small helpers.

Every figure builder in :mod:`genlib.figures` takes numbers and returns a ``plotly.graph_objects.Figure``; nothing
here imports Streamlit, so figures are testable without a browser.
"""
from __future__ import annotations

import hashlib
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

#: Real data, in every figure of every page: near-black, a colour no run ever gets, so "real" never reads as a run.
REAL_COLOR = "#222"
#: The same colour under its older name (figures that drew real data dark already).
REAL_DARK = REAL_COLOR
FAKE_COLOR = "#ff7f0e"
#: Run colours: distinct hues, none of them dark or grey (those mean real data).
PALETTE = ["#4C6EF5", "#F76707", "#2B8A3E", "#C92A2A", "#862E9C", "#0B7285", "#E67700", "#5C940D"]
#: More colours for pages that show more runs than PALETTE has (a class's sweep): PALETTE first.
RUN_PALETTE = PALETTE + ["#D6336C", "#1098AD", "#74B816", "#AE3EC9", "#F59F00", "#364FC7", "#A61E4D", "#087F5B"]


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


def run_color(run_id: str) -> str:
    """A run's own colour, the same in every figure, on every page and in every session: picked from
    :data:`RUN_PALETTE` by a hash of its id (a stable hash: Python's ``hash`` changes between processes). Two runs
    may share it; :func:`assign_colors` gives the runs of one page distinct colours, starting from these."""
    digest = hashlib.blake2b(str(run_id).encode(), digest_size=4).digest()
    return RUN_PALETTE[int.from_bytes(digest, "big") % len(RUN_PALETTE)]


def assign_colors(runs: Mapping[str, str]) -> dict[str, str]:
    """Label → colour for the runs one page shows (``runs``: label → run id, or the label itself for a run without
    an id yet): each run keeps :func:`run_color` of its id unless an earlier run of the page took it, then gets the
    next free colour. Depends on the page's set of runs only, not on which subset a figure draws, so a run is one
    colour across every chart of the page."""
    taken: set[str] = set()
    out: dict[str, str] = {}
    for label, run_id in sorted(runs.items(), key=lambda item: str(item[1])):   # by id: the order a page lists
        color = run_color(run_id)                                                  # them in does not matter
        if color in taken and len(taken) < len(RUN_PALETTE):
            start = RUN_PALETTE.index(color)
            color = next(c for k in range(1, len(RUN_PALETTE) + 1)
                         if (c := RUN_PALETTE[(start + k) % len(RUN_PALETTE)]) not in taken)
        taken.add(color)
        out[label] = color
    return out


_BOOK: ContextVar[Mapping[str, str] | None] = ContextVar("genlab_run_colors", default=None)


@contextmanager
def colors_for(book: Mapping[str, str]) -> Iterator[None]:
    """Within the block, every figure that colours runs by label (:func:`run_colors`) takes each run's colour from
    ``book`` (e.g. :func:`assign_colors` of the page's runs): one colour per run across all the page's charts, even
    when a chart draws only some of the runs. Per thread and per task, so two browsers never share a book."""
    token = _BOOK.set(dict(book))
    try:
        yield
    finally:
        _BOOK.reset(token)


def run_colors(labels: Sequence[str]) -> dict[str, str]:
    """The colour each run gets in the comparison figures: from the page's book (:func:`colors_for`) when there is
    one, else by its position in ``labels``. A label the book lacks gets a palette colour the book does not use."""
    book = _BOOK.get()
    if book is None:
        return {label: PALETTE[i % len(PALETTE)] for i, label in enumerate(labels)}
    spare = [c for c in RUN_PALETTE if c not in set(book.values())] or RUN_PALETTE
    out, k = {}, 0
    for label in labels:
        if label in book:
            out[label] = book[label]
        else:
            out[label] = spare[k % len(spare)]
            k += 1
    return out


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

