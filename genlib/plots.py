"""Pure Plotly figure builders: numbers in, ``go.Figure`` out. Testable without a browser or Streamlit."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

REAL_COLOR = "#1f77b4"
FAKE_COLOR = "#ff7f0e"
PALETTE = ["#4C6EF5", "#F76707", "#2B8A3E", "#C92A2A", "#862E9C", "#0B7285", "#E67700", "#5C940D"]


def _layout(fig: go.Figure, title: str | None = None, height: int = 360) -> go.Figure:
    fig.update_layout(title=title, height=height, margin=dict(l=40, r=10, t=40 if title else 10, b=40),
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, x=1, xanchor="right"), template="plotly_white")
    return fig


def loss_curves(steps: Sequence[int], losses: dict[str, Sequence[float]], title: str | None = None,
                log_y: bool = False) -> go.Figure:
    """One line per named loss against the optimiser step."""
    fig = go.Figure()
    for i, (name, values) in enumerate(losses.items()):
        fig.add_trace(go.Scatter(x=list(steps)[: len(values)], y=list(values), mode="lines", name=name,
                                 line=dict(color=PALETTE[i % len(PALETTE)])))
    fig.update_xaxes(title="step")
    values = [v for vs in losses.values() for v in vs]
    if values and min(values) > 0 and max(values) / min(values) > 50:
        log_y = True  # an early spike would flatten the rest of the curve
    fig.update_yaxes(title="loss", type="log" if log_y else "linear")
    return _layout(fig, title)


def metric_history(history: Sequence[dict[str, float]], keys: Sequence[str]) -> go.Figure:
    """Metrics recomputed during training, against elapsed seconds."""
    fig = make_subplots(rows=1, cols=len(keys), subplot_titles=list(keys))
    for j, key in enumerate(keys, start=1):
        xs = [h.get("step", 0.0) for h in history if key in h]
        ys = [h[key] for h in history if key in h]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name=key, showlegend=False,
                                 line=dict(color=PALETTE[j - 1])), row=1, col=j)
        fig.update_xaxes(title="step", row=1, col=j)
    return _layout(fig, height=260)


def _grid(n: int, max_cols: int = 4) -> tuple[int, int]:
    cols = min(n, max_cols)
    return int(np.ceil(n / cols)), cols


def marginal_histograms(real: np.ndarray, columns: Sequence[str], fake: np.ndarray | None = None,
                        max_columns: int = 8, log_x: bool = False, bins: int = 40) -> go.Figure:
    """Per-column histograms (density-normalised), real vs generated overlaid."""
    cols = list(columns)[:max_columns]
    rows, ncols = _grid(len(cols))
    fig = make_subplots(rows=rows, cols=ncols, subplot_titles=cols)
    for j, name in enumerate(cols):
        r, c = divmod(j, ncols)
        values = [("real", real[:, j], REAL_COLOR)]
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
    return _layout(fig, height=240 * rows)


def pair_scatter(real: np.ndarray, columns: Sequence[str], fake: np.ndarray | None = None,
                 max_points: int = 1500, max_dims: int = 4, log: bool = False) -> go.Figure:
    """Scatter-matrix of the first ``max_dims`` columns, real and generated overlaid."""
    dims = list(columns)[:max_dims]
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
    return _layout(fig, height=520)


def scatter_2d(real: np.ndarray, fake: np.ndarray | None = None, labels: np.ndarray | None = None,
               columns: Sequence[str] = ("x", "y"), max_points: int = 3000) -> go.Figure:
    """2-D data (toy sets): real points, optionally coloured by label, with generated points over them."""
    fig = go.Figure()
    real = real[:max_points]
    color = None if labels is None else labels[:max_points]
    fig.add_trace(go.Scattergl(x=real[:, 0], y=real[:, 1], mode="markers", name="real",
                               marker=dict(size=4, color=color if color is not None else REAL_COLOR, opacity=0.6)))
    if fake is not None:
        fake = fake[:max_points]
        fig.add_trace(go.Scattergl(x=fake[:, 0], y=fake[:, 1], mode="markers", name="generated",
                                   marker=dict(size=4, color=FAKE_COLOR, opacity=0.6)))
    fig.update_xaxes(title=columns[0])
    fig.update_yaxes(title=columns[1], scaleanchor="x", scaleratio=1)
    return _layout(fig, height=420)


def trajectory_3d(points: np.ndarray, other: np.ndarray | None = None, names: tuple[str, str] = ("real", "generated"),
                  max_points: int = 8000) -> go.Figure:
    """3-D point cloud / trajectory (the Lorenz butterfly), rotatable."""
    fig = go.Figure()
    for i, (label, x) in enumerate([(names[0], points), (names[1], other)]):
        if x is None:
            continue
        x = x[:max_points]
        fig.add_trace(go.Scatter3d(x=x[:, 0], y=x[:, 1], z=x[:, 2], mode="markers", name=label,
                                   marker=dict(size=1.5, color=PALETTE[i], opacity=0.6)))
    fig.update_layout(scene=dict(xaxis_title="x", yaxis_title="y", zaxis_title="z", aspectmode="cube"))
    return _layout(fig, height=480)


def image_grid(images: np.ndarray, shape: tuple[int, int], n_cols: int = 10, max_images: int = 40,
               titles: Sequence[str] | None = None, vmax: float | None = None) -> go.Figure:
    """Flattened grey images as a tiled heatmap (digits: 8×8, values 0..16)."""
    images = np.asarray(images)[:max_images]
    h, w = shape
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
    return _layout(fig, height=max(120, 60 * n_rows + 20))


def correlation_heatmap(x: np.ndarray, columns: Sequence[str], title: str | None = None,
                        method: str = "kendall") -> go.Figure:
    """Pairwise dependence matrix (Kendall τ by default: rank-based, fair to heavy tails)."""
    from scipy.stats import kendalltau
    d = x.shape[1]
    m = np.eye(d)
    for i in range(d):
        for j in range(i + 1, d):
            if method == "kendall":
                m[i, j] = m[j, i] = kendalltau(x[:, i], x[:, j]).statistic
            else:
                m[i, j] = m[j, i] = np.corrcoef(x[:, i], x[:, j])[0, 1]
    fig = go.Figure(go.Heatmap(z=m, x=list(columns), y=list(columns), zmin=-1, zmax=1, colorscale="RdBu_r",
                               text=np.round(m, 2), texttemplate="%{text}"))
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, title, height=320)
