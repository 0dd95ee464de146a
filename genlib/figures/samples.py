"""Figures that put generated samples beside real data: marginals, ECDFs, QQ plots, pairs, correlations, images."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from genlib.figures.style import (FAKE_COLOR, PALETTE, REAL_COLOR, REAL_DARK, finite_values, grid_shape, layout, plain,
                                  run_colors)


def marginal_histograms(real: np.ndarray | None, columns: Sequence[str], fake: np.ndarray | None = None,
                        max_columns: int = 8, log_x: bool = False, bins: int = 40) -> go.Figure:
    """Per-column histograms (density-normalised), real vs generated overlaid (``real=None``: generated only, e.g. a
    stored run whose data cannot be rebuilt — never labelled "real")."""
    cols = [plain(c) for c in list(columns)[:max_columns]]   # user text (column headers): shown, never markup
    rows, ncols = grid_shape(len(cols))
    fig = make_subplots(rows=rows, cols=ncols, subplot_titles=cols)
    for j, name in enumerate(cols):
        r, c = divmod(j, ncols)
        values = [] if real is None else [("real", real[:, j], REAL_COLOR)]
        if fake is not None:
            values.append(("generated", fake[:, j], FAKE_COLOR))
        lo = min(float(np.min(v)) for _, v, _ in values)
        hi = max(float(np.max(v)) for _, v, _ in values)
        if log_x:
            edges = np.logspace(np.log10(max(lo, 1e-9)), np.log10(max(hi, 1e-8)), bins + 1)
        else:
            edges = np.linspace(lo, hi if hi > lo else lo + 1.0, bins + 1)
        for label, v, color in values:
            # On a log axis show the share of rows per (log-spaced) bin: a density per unit x would
            # pile up in the narrow bins near zero and hide the shape.
            counts, _ = np.histogram(v, bins=edges, density=not log_x)
            if log_x:
                counts = counts / max(len(v), 1)
            fig.add_trace(go.Bar(x=0.5 * (edges[1:] + edges[:-1]), y=counts, width=np.diff(edges), name=label,
                                 marker_color=color, opacity=0.55, showlegend=j == 0, legendgroup=label),
                          row=r + 1, col=c + 1)
        if log_x:
            fig.update_xaxes(type="log", row=r + 1, col=c + 1)
    fig.update_layout(barmode="overlay")
    return layout(fig, height=240 * rows)


def pair_scatter(real: np.ndarray, columns: Sequence[str], fake: np.ndarray | None = None,
                 max_points: int = 1500, max_dims: int = 4, log: bool = False) -> go.Figure:
    """Scatter-matrix of the first ``max_dims`` columns, real and generated overlaid."""
    dims = [plain(c) for c in list(columns)[:max_dims]]
    rng = np.random.default_rng(0)

    def pick(x: np.ndarray) -> np.ndarray:
        return x if len(x) <= max_points else x[rng.choice(len(x), max_points, replace=False)]

    fig = go.Figure()
    sets = [("real", pick(real), REAL_COLOR)] + ([("generated", pick(fake), FAKE_COLOR)] if fake is not None else [])
    for label, x, color in sets:
        fig.add_trace(go.Splom(dimensions=[dict(label=d, values=x[:, j]) for j, d in enumerate(dims)], name=label,
                               marker=dict(size=3, color=color, opacity=0.5), diagonal_visible=False,
                               showupperhalf=False))
    if log:
        for j in range(1, len(dims) + 1):
            fig.update_layout({f"xaxis{j}": dict(type="log"), f"yaxis{j}": dict(type="log")})
    return layout(fig, height=520)


def scatter_2d(real: np.ndarray | None, fake: np.ndarray | None = None, labels: np.ndarray | None = None,
               columns: Sequence[str] = ("x", "y"), max_points: int = 3000) -> go.Figure:
    """2-D data (toy sets): real points, optionally coloured by label, with generated points over them (``real=None``:
    generated only)."""
    fig = go.Figure()
    if real is not None:
        real = real[:max_points]
        color = None if labels is None else labels[:max_points]
        fig.add_trace(go.Scattergl(x=real[:, 0], y=real[:, 1], mode="markers", name="real",
                                   marker=dict(size=4, color=color if color is not None else REAL_COLOR,
                                               opacity=0.6)))
    if fake is not None:
        fake = fake[:max_points]
        fig.add_trace(go.Scattergl(x=fake[:, 0], y=fake[:, 1], mode="markers", name="generated",
                                   marker=dict(size=4, color=FAKE_COLOR, opacity=0.6)))
    fig.update_xaxes(title=plain(columns[0]))
    fig.update_yaxes(title=plain(columns[1]), scaleanchor="x", scaleratio=1)
    return layout(fig, height=420)


def trajectory_3d(points: np.ndarray, other: np.ndarray | None = None, names: tuple[str, str] = ("real", "generated"),
                  max_points: int = 8000) -> go.Figure:
    """3-D point cloud / trajectory (the Lorenz butterfly), rotatable."""
    fig = go.Figure()
    for i, (label, x) in enumerate([(names[0], points), (names[1], other)]):
        if x is None:
            continue
        x = x[:max_points]
        fig.add_trace(go.Scatter3d(x=x[:, 0], y=x[:, 1], z=x[:, 2], mode="markers", name=plain(label),
                                   marker=dict(size=1.5, color=PALETTE[i], opacity=0.6)))
    fig.update_layout(scene=dict(xaxis_title="x", yaxis_title="y", zaxis_title="z", aspectmode="cube"))
    return layout(fig, height=480)


def image_grid(images: np.ndarray, shape: tuple[int, int], n_cols: int = 10, max_images: int = 40,
               titles: Sequence[str] | None = None, vmax: float | None = None) -> go.Figure:
    """Flattened grey images as a tiled heatmap (digits: 8×8, values 0..16); (3, H, W) shapes are drawn in colour."""
    images = np.asarray(images)[:max_images]
    if len(shape) == 3:
        return rgb_grid(images.reshape(len(images), *shape), n_cols=n_cols, max_images=max_images)
    h, w = shape[-2:]
    n = len(images)
    n_cols = min(n_cols, max(n, 1))
    n_rows = int(np.ceil(n / n_cols))
    canvas = np.full((n_rows * (h + 1), n_cols * (w + 1)), np.nan)
    for k, img in enumerate(images):
        r, c = divmod(k, n_cols)
        canvas[r * (h + 1): r * (h + 1) + h, c * (w + 1): c * (w + 1) + w] = img.reshape(h, w)
    fig = go.Figure(go.Heatmap(z=canvas, colorscale="Greys", showscale=False, zmin=0,
                               zmax=vmax if vmax is not None else float(np.nanmax(canvas)) if n else 1.0,
                               hoverinfo="skip"))
    fig.update_yaxes(autorange="reversed", visible=False, scaleanchor="x")
    fig.update_xaxes(visible=False)
    return layout(fig, height=max(120, 60 * n_rows + 20))


def rgb_grid(images: np.ndarray, n_cols: int = 8, max_images: int = 32, value_range: tuple[float, float] | None = None,
             gap: int = 1) -> go.Figure:
    """(n, C, H, W) images tiled as one RGB picture (lorenz_images: channels x, y, z).

    ``value_range`` maps that range onto 0..255 for every channel (e.g. (−1, 1)); None stretches each channel over
    the range of the images shown. A single channel is drawn grey; channels beyond three are dropped."""
    imgs = np.asarray(images, dtype=float)[:max_images]
    if imgs.ndim != 4 or len(imgs) == 0:
        imgs = np.zeros((0, 3, 1, 1))
    n, c, h, w = imgs.shape
    if value_range is None:
        lo = np.nanmin(imgs, axis=(0, 2, 3), keepdims=True) if n else 0.0
        hi = np.nanmax(imgs, axis=(0, 2, 3), keepdims=True) if n else 1.0
    else:
        lo, hi = value_range
    imgs = (imgs - lo) / np.where(np.asarray(hi) > lo, np.asarray(hi) - lo, 1.0)
    rgb = np.repeat(imgs, 3, axis=1) if c == 1 else imgs[:, :3]
    n_cols = max(1, min(n_cols, n))
    n_rows = max(1, int(np.ceil(n / n_cols)))
    canvas = np.full((n_rows * (h + gap), n_cols * (w + gap), 3), 255, dtype=np.uint8)
    for k in range(n):
        r, col = divmod(k, n_cols)
        canvas[r * (h + gap): r * (h + gap) + h, col * (w + gap): col * (w + gap) + w] = \
            np.clip(np.moveaxis(rgb[k], 0, -1) * 255, 0, 255).astype(np.uint8)
    fig = go.Figure(go.Image(z=canvas, hoverinfo="skip"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return layout(fig, height=max(140, int(40 + 60 * n_rows)))


def correlation_heatmap(x: np.ndarray, columns: Sequence[str], title: str | None = None,
                        method: str = "kendall") -> go.Figure:
    """Pairwise dependence matrix (Kendall τ by default: rank-based, fair to heavy tails; on 500 rows)."""
    m = _correlations(x, method)
    fig = go.Figure(go.Heatmap(z=m, x=[plain(c) for c in columns], y=[plain(c) for c in columns], zmin=-1, zmax=1, colorscale="RdBu_r",
                               text=np.round(m, 2), texttemplate="%{text}"))
    fig.update_yaxes(autorange="reversed")
    return layout(fig, title, height=320)


_ECDF_POINTS = 1000  # an ECDF of 100k rows drawn point by point would make the browser crawl


def _series(real: np.ndarray, samples: dict[str, np.ndarray]) -> list[tuple[str, np.ndarray, str]]:
    """(label, 2-D rows, colour): real first, then every run that has rows; labels (run names) escaped for Plotly."""
    colors = run_colors(list(samples))
    out = [("real", np.atleast_2d(np.asarray(real, dtype=float)), REAL_DARK)]
    for label, x in samples.items():
        x = np.asarray(x, dtype=float)
        if x.size and len(x):
            out.append((plain(label), x.reshape(len(x), -1), colors[label]))
    return out


def _shown_columns(real: np.ndarray, columns: Sequence[str], max_columns: int) -> list[str]:
    return [plain(c) for c in list(columns)[: max(0, min(max_columns, np.atleast_2d(real).shape[1]))]]


def _column_subplots(cols: list[str]) -> tuple[go.Figure, int, int]:
    rows, ncols = grid_shape(max(len(cols), 1))
    fig = make_subplots(rows=rows, cols=ncols, subplot_titles=cols or None)
    return fig, rows, ncols


def ecdf_overlay(real: np.ndarray, samples: dict[str, np.ndarray], columns: Sequence[str], max_columns: int = 8,
                 log_x: bool = False) -> go.Figure:
    """Per-column empirical CDFs, real and every run: shifts and scale errors read directly, no binning choice."""
    cols = _shown_columns(real, columns, max_columns)
    series = _series(real, samples)
    fig, rows, ncols = _column_subplots(cols)
    for j in range(len(cols)):
        r, c = divmod(j, ncols)
        values = [(label, np.sort(finite_values(x[:, j])), color) for label, x, color in series]
        values = [(label, v, color) for label, v, color in values if len(v)]
        for label, v, color in values:
            n = len(v)
            idx = np.unique(np.linspace(0, n - 1, min(n, _ECDF_POINTS)).astype(int))
            fig.add_trace(go.Scatter(x=np.r_[v[0], v[idx]], y=np.r_[0.0, (idx + 1) / n], mode="lines", name=label,
                                     line=dict(color=color, shape="hv", width=2 if label == "real" else 1.5),
                                     legendgroup=label, showlegend=j == 0), row=r + 1, col=c + 1)
        if log_x and values and all(v[0] > 0 for _, v, _ in values):
            fig.update_xaxes(type="log", row=r + 1, col=c + 1)
        fig.update_yaxes(range=[0, 1.02], row=r + 1, col=c + 1)
    return layout(fig, height=240 * rows)


def histogram_overlay(real: np.ndarray, samples: dict[str, np.ndarray], columns: Sequence[str], max_columns: int = 8,
                      log_x: bool = False, bins: int = 40) -> go.Figure:
    """Per-column density histograms on shared bins, drawn as outlines so several runs stay readable."""
    cols = _shown_columns(real, columns, max_columns)
    series = _series(real, samples)
    fig, rows, ncols = _column_subplots(cols)
    for j in range(len(cols)):
        r, c = divmod(j, ncols)
        values = [(label, finite_values(x[:, j]), color) for label, x, color in series]
        values = [(label, v, color) for label, v, color in values if len(v)]
        if not values:
            continue
        pooled = np.concatenate([v for _, v, _ in values])
        # Edges from the 0.1-99.9 % quantiles: one wild sample must not squash everything into one bin.
        # "higher"/"lower", not interpolated: with < 1000 rows an interpolated 99.9 % still leans on the maximum.
        lo = float(np.quantile(pooled, 0.001, method="higher"))
        hi = float(np.quantile(pooled, 0.999, method="lower"))
        log = log_x and pooled.min() > 0
        if log:
            edges = np.logspace(np.log10(lo), np.log10(hi if hi > lo else lo * 10), bins + 1)
        else:
            edges = np.linspace(lo, hi, bins + 1) if hi > lo else np.linspace(lo - 0.5, lo + 0.5, bins + 1)
        for label, v, color in values:
            counts, _ = np.histogram(v, bins=edges)
            # Normalised by all rows, so mass outside the clipped range is missing rather than spread over the
            # rest. On a log axis: share of rows per (log-spaced) bin, as in marginal_histograms.
            y = counts / len(v) if log else counts / (len(v) * np.diff(edges))
            fig.add_trace(go.Scatter(x=np.r_[edges[0], edges], y=np.r_[0.0, y, 0.0], mode="lines", name=label,
                                     line=dict(color=color, shape="hv", width=2 if label == "real" else 1.5),
                                     legendgroup=label, showlegend=j == 0), row=r + 1, col=c + 1)
        if log:
            fig.update_xaxes(type="log", row=r + 1, col=c + 1)
    return layout(fig, height=240 * rows)


def _qq_probabilities(n: int = 99, tail: float = 0.001) -> np.ndarray:
    t = np.linspace(np.log(tail / (1 - tail)), np.log((1 - tail) / tail), n)
    return 1.0 / (1.0 + np.exp(-t))  # logit-spaced: dense in both tails, where models usually fail


def qq_plot(real: np.ndarray, samples: dict[str, np.ndarray], columns: Sequence[str], max_columns: int = 8,
            log: bool = False) -> go.Figure:
    """Per-column QQ plot of each run against real, quantiles dense in both tails: it shows tail behaviour.

    Points below the diagonal on the right (above on the left) mean the model's tails are too light, points
    outside it mean too heavy; a histogram hides both because the tails hold few rows.
    """
    cols = _shown_columns(real, columns, max_columns)
    series = _series(real, samples)
    p = _qq_probabilities()
    fig, rows, ncols = _column_subplots(cols)
    for j in range(len(cols)):
        r, c = divmod(j, ncols)
        ref = finite_values(series[0][1][:, j])
        if not len(ref):
            continue
        qr = np.quantile(ref, p)
        qs = [(label, np.quantile(v, p), color) for label, x, color in series[1:] if len(v := finite_values(x[:, j]))]
        everything = np.concatenate([qr] + [q for _, q, _ in qs])
        lo, hi = float(everything.min()), float(everything.max())
        fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="y = x", legendgroup="y = x",
                                 line=dict(color=REAL_DARK, dash="dash", width=1), showlegend=j == 0),
                      row=r + 1, col=c + 1)
        for label, q, color in qs:
            fig.add_trace(go.Scatter(x=qr, y=q, mode="markers", name=label, legendgroup=label, showlegend=j == 0,
                                     marker=dict(color=color, size=5, opacity=0.8),
                                     customdata=p, hovertemplate="p=%{customdata:.4f}<br>real %{x:.4g}<br>"
                                                                 f"{label} " + "%{y:.4g}<extra></extra>"),
                          row=r + 1, col=c + 1)
        axis_type = "log" if log and lo > 0 else "linear"
        fig.update_xaxes(type=axis_type, title="real" if r == rows - 1 else None, row=r + 1, col=c + 1)
        fig.update_yaxes(type=axis_type, row=r + 1, col=c + 1)
    return layout(fig, height=260 * rows)


#: Rows behind each Kendall matrix of a figure: 500 pin τ to about ±0.03 (Pearson uses every finite row).
KENDALL_FIGURE_ROWS = 500


def _correlations(x: np.ndarray, method: str) -> np.ndarray:
    """``genlib.metrics.correlation_matrix`` of the finite rows of x (a figure shows what it can where a metric
    would refuse); the identity when fewer than 2 finite rows are left, since then nothing is correlated."""
    from genlib.metrics.distances import CORRELATION_METHODS, correlation_matrix  # on first use: keeps import light
    if method not in CORRELATION_METHODS:
        raise ValueError(f"unknown correlation method {method!r}: use 'pearson' or 'kendall'")
    x = np.asarray(x, dtype=float)
    x = x[np.all(np.isfinite(x), axis=1)]
    if len(x) < 2:
        return np.eye(x.shape[1])
    return correlation_matrix(x, method, kendall_rows=KENDALL_FIGURE_ROWS)


def correlation_grid(real: np.ndarray, samples: dict[str, np.ndarray], columns: Sequence[str],
                     method: str = "pearson", max_columns: int = 12) -> go.Figure:
    """Correlation matrices side by side (real, then each run) on one −1…1 scale: a wrong dependence shows."""
    cols = _shown_columns(real, columns, max_columns)
    k = len(cols)
    series = _series(real, samples)
    fig = make_subplots(rows=1, cols=len(series), subplot_titles=[label for label, _, _ in series],
                        horizontal_spacing=0.02 if len(series) > 3 else 0.04)
    for i, (label, x, _) in enumerate(series):
        m = _correlations(x[:, :k], method)
        text = np.round(m, 2)
        fig.add_trace(go.Heatmap(z=m, x=cols, y=cols, zmin=-1, zmax=1, zmid=0, colorscale="RdBu_r", name=label,
                                 showscale=i == len(series) - 1, text=text,
                                 texttemplate="%{text}" if k <= 6 else None,
                                 hovertemplate=f"{label}<br>%{{y}} × %{{x}}: %{{z:.3f}}<extra></extra>"),
                      row=1, col=i + 1)
        fig.update_yaxes(autorange="reversed", showticklabels=i == 0, row=1, col=i + 1)
    return layout(fig, height=max(300, 200 + 14 * k))
