"""Figures of training progress: losses and metrics against steps or seconds, and hyperparameter-sweep heatmaps."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from genlib.figures.style import PALETTE, REAL_DARK, finite_values, grid_shape, layout, plain, run_colors
from genlib.words import word

#: Loss names as a legend shows them (the models report short keys).
LOSS_NAMES = {"loss": "loss", "loss_d": "discriminator loss", "loss_g": "generator loss", "recon": "reconstruction",
              "kl": "KL divergence", "log_det": "log-determinant"}


def loss_name(key: str) -> str:
    """A loss key in words ("loss_d" → "discriminator loss")."""
    return LOSS_NAMES.get(key) or word(key)


def metric_title(key: str) -> str:
    """A metric's title from the suite's metadata ("anderson_darling" → "Anderson–Darling"), else its key in words."""
    from genlib.metrics.suite import SUITE   # on first use: figures stay importable without the metrics
    info = SUITE.get(key)
    return info.title if info is not None else word(key)


def loss_curves(steps: Sequence[int], losses: dict[str, Sequence[float]], title: str | None = None,
                log_y: bool = False) -> go.Figure:
    """One line per named loss against the optimiser step."""
    fig = go.Figure()
    for i, (name, values) in enumerate(losses.items()):
        fig.add_trace(go.Scatter(x=list(steps)[: len(values)], y=list(values), mode="lines", name=loss_name(name),
                                 line=dict(color=PALETTE[i % len(PALETTE)])))
    fig.update_xaxes(title="step")
    values = [v for vs in losses.values() for v in vs]
    if values and min(values) > 0 and max(values) / min(values) > 50:
        log_y = True  # an early spike would flatten the rest of the curve
    fig.update_yaxes(title="loss", type="log" if log_y else "linear")
    return layout(fig, title)


def metric_history(history: Sequence[dict[str, float]], keys: Sequence[str],
                   titles: Sequence[str] | None = None) -> go.Figure:
    """Metrics recomputed during training, against the step; panels titled in words (the metrics' metadata)."""
    titles = list(titles) if titles is not None else [metric_title(k) for k in keys]
    fig = make_subplots(rows=1, cols=len(keys), subplot_titles=titles)
    for j, key in enumerate(keys, start=1):
        xs = [h.get("step", 0.0) for h in history if key in h]
        ys = [h[key] for h in history if key in h]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name=titles[j - 1], showlegend=False,
                                 line=dict(color=PALETTE[j - 1])), row=1, col=j)
        fig.update_xaxes(title="step", row=1, col=j)
    return layout(fig, height=260)


def loss_curves_multi(runs: dict[str, tuple[Sequence[int], dict[str, Sequence[float]]]], key: str = "loss",
                      log_y: bool | None = None) -> go.Figure:
    """The loss named ``key`` of every run against the step, to compare how fast and how stably they train."""
    colors = run_colors(list(runs))
    fig = go.Figure()
    all_values: list[np.ndarray] = []
    for label, (steps, losses) in runs.items():
        if not losses:
            continue
        name = key if key in losses else next(iter(losses))
        values = np.asarray(losses[name], dtype=float)
        all_values.append(finite_values(values))
        fig.add_trace(go.Scatter(x=list(steps)[: len(values)], y=values, mode="lines",
                                 name=plain(label if name == key else f"{label} ({name})"),
                                 line=dict(color=colors[label])))
    if log_y is None:
        values = np.concatenate(all_values) if all_values else np.empty(0)
        log_y = bool(len(values) and values.min() > 0 and values.max() / values.min() > 50)
    fig.update_xaxes(title="step")
    fig.update_yaxes(title=key, type="log" if log_y else "linear")
    return layout(fig)


def metric_histories(histories: dict[str, list[dict[str, float]]], keys: Sequence[str],
                     titles: Sequence[str] | None = None, x: str = "elapsed") -> go.Figure:
    """One panel per metric, one line per run, against ``x`` (seconds by default): watch the models converge."""
    keys = list(keys)
    titles = list(titles) if titles is not None else [metric_title(k) for k in keys]
    colors = run_colors(list(histories))
    rows, ncols = grid_shape(max(len(keys), 1), max_cols=3)
    fig = make_subplots(rows=rows, cols=ncols, subplot_titles=titles or None)
    in_legend: set[str] = set()
    for j, key in enumerate(keys):
        r, c = divmod(j, ncols)
        for label, history in histories.items():
            points = [(h.get(x, h.get("step", 0.0)), h[key]) for h in history
                      if h.get(key) is not None and np.isfinite(h[key])]
            if not points:
                continue
            xs, ys = zip(*points)
            fig.add_trace(go.Scatter(x=list(xs), y=list(ys), mode="lines+markers", name=plain(label), legendgroup=label,
                                     showlegend=label not in in_legend, line=dict(color=colors[label]),
                                     marker=dict(size=4)), row=r + 1, col=c + 1)
            in_legend.add(label)
        fig.update_xaxes(title="seconds" if x == "elapsed" else x, row=r + 1, col=c + 1)
    return layout(fig, height=260 * rows)


def _tick_labels(values: Sequence[object]) -> list[str]:
    """Grid values as category labels: floats short (0.001, 1e-05), the rest as str; labels stay unique."""
    short = [f"{v:g}" if isinstance(v, (float, np.floating)) else str(v) for v in values]
    return short if len(set(short)) == len(short) else [str(v) for v in values]


def sweep_heatmap(x_values: Sequence[object], y_values: Sequence[object], z: np.ndarray, x_label: str,
                  y_label: str, metric_label: str, lower_is_better: bool = True) -> go.Figure:
    """A metric over a 1- or 2-field hyperparameter grid; the best cell is starred and outlined, '…' = no value yet.

    ``z`` has shape (len(y_values), len(x_values)); ``y_values == [None]`` (or ``["None"]``) is a 1-D sweep.
    The colour scale is flipped for lower-is-better metrics, so good cells are always yellow.
    """
    z = np.asarray(z, dtype=float).reshape(len(y_values), len(x_values))
    one_d = len(y_values) == 1 and y_values[0] in (None, "None", "")
    xs = _tick_labels(x_values)
    ys = [metric_label] if one_d else _tick_labels(y_values)
    best: tuple[int, int] | None = None
    if np.isfinite(z).any():
        flat = np.where(np.isfinite(z), z, np.inf if lower_is_better else -np.inf)
        best = np.unravel_index(int(np.argmin(flat) if lower_is_better else np.argmax(flat)), z.shape)
    text = [[("★ " if (i, j) == best else "") + f"{v:.3g}" if np.isfinite(v) else "…" for j, v in enumerate(row)]
            for i, row in enumerate(z)]
    fig = go.Figure(go.Heatmap(z=z, x=xs, y=ys, text=text, texttemplate="%{text}", colorscale="Viridis",
                               reversescale=lower_is_better, colorbar=dict(title=metric_label), xgap=2, ygap=2,
                               hovertemplate=f"{x_label}=%{{x}}<br>" + ("" if one_d else f"{y_label}=%{{y}}<br>")
                                             + f"{metric_label}=%{{text}}<extra></extra>"))
    if best is not None:
        i, j = best
        fig.add_shape(type="rect", x0=j - 0.5, x1=j + 0.5, y0=i - 0.5, y1=i + 0.5, xref="x", yref="y",
                      line=dict(color=REAL_DARK, width=3))
    fig.update_xaxes(title=x_label, type="category")
    fig.update_yaxes(title=None if one_d else y_label, type="category", autorange="reversed")
    return layout(fig, height=max(180, 110 + 46 * len(ys)))
