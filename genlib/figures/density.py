"""Figures of the density view (pure Plotly: arrays in, ``go.Figure`` out; no Streamlit).

Every heatmap takes values on a :class:`genlib.density.Grid` (shape (n, n), indexed [iy, ix]) and draws them on
the grid's cell centres in data units, with equal scales on x and y so a circle looks like a circle.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from genlib.density.grid import Grid
from genlib.figures.style import FAKE_COLOR, PALETTE, REAL_DARK, layout, plain

__all__ = ["bandwidth_sweep_curve", "critic_heatmap", "density_heatmap", "density_row"]

TRAIN_COLOR = "rgba(255,255,255,0.75)"   # over a dark-to-bright colour scale, white points stay visible
TEST_COLOR = "#e8590c"
DENSITY_SCALE = "Viridis"
CRITIC_SCALE = "PiYG"                       # pink: "looks fake", green: "looks real"
#: Log colour scales show this many decades below the largest density; lower values are clipped to the floor,
#: so the far tails (p ≈ 1e-30) do not stretch the scale and flatten everything that matters.
LOG_DECADES = 4.0


def _thin(x: np.ndarray | None, max_points: int, seed: int = 0) -> np.ndarray | None:
    """At most ``max_points`` rows (a fixed random subset: the same points at every refresh)."""
    if x is None:
        return None
    x = np.asarray(x, dtype=float).reshape(-1, 2)
    if len(x) <= max_points:
        return x
    return x[np.random.default_rng(seed).choice(len(x), max_points, replace=False)]


def _colour_values(density: np.ndarray, log: bool, floor: float | None) -> np.ndarray:
    """What the colour encodes: p, or log10 p clipped below at ``floor`` (NaN stays NaN: drawn empty)."""
    values = np.asarray(density, dtype=float)
    if not log:
        return values
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log10(values)
    return np.where(np.isnan(logs), np.nan, np.maximum(logs, -np.inf if floor is None else floor))


def _log_range(densities: Sequence[np.ndarray], decades: float) -> tuple[float, float]:
    peak = max((float(np.nanmax(d)) for d in densities if np.any(np.isfinite(d)) and np.nanmax(d) > 0),
               default=1.0)
    top = float(np.log10(peak))
    return top - decades, top


def _points_traces(train: np.ndarray | None, test: np.ndarray | None, max_points: int,
                   show_legend: bool = True) -> list[go.Scattergl]:
    traces = []
    for label, x, color, size in (("train", train, TRAIN_COLOR, 3), ("test", test, TEST_COLOR, 4)):
        pts = _thin(x, max_points)
        if pts is None or not len(pts):
            continue
        traces.append(go.Scattergl(x=pts[:, 0], y=pts[:, 1], mode="markers", name=label, legendgroup=label,
                                   showlegend=show_legend, hoverinfo="skip",
                                   marker=dict(size=size, color=color, line=dict(width=0.5, color="#495057"))))
    return traces


def _equal_axes(fig: go.Figure, grid: Grid, columns: Sequence[str], n_panels: int = 1) -> None:
    for i in range(1, n_panels + 1):
        suffix = "" if i == 1 else str(i)
        fig.update_layout({f"xaxis{suffix}": dict(range=list(grid.xlim), title=plain(columns[0]), constrain="domain"),
                           f"yaxis{suffix}": dict(range=list(grid.ylim), scaleanchor=f"x{suffix}", scaleratio=1,
                                                  constrain="domain",
                                                  title=plain(columns[1]) if i == 1 else None)})


def density_heatmap(density: np.ndarray, grid: Grid, train: np.ndarray | None = None,
                    test: np.ndarray | None = None, log: bool = True, title: str | None = None,
                    columns: Sequence[str] = ("x", "y"), max_points: int = 2000, decades: float = LOG_DECADES,
                    height: int = 460) -> go.Figure:
    """p(x) on the grid as a heatmap (log10 p over ``decades`` decades, or p itself), with the training points
    (white) and the held-out points (orange) on top: where the model puts mass that the data do not have, and
    data it misses, read off directly."""
    if np.shape(density) != grid.shape:
        raise ValueError(f"density has shape {np.shape(density)}, the grid {grid.shape}")
    lo, hi = _log_range([density], decades) if log else (0.0, float(np.nanmax(density)) if np.size(density) else 1.0)
    fig = go.Figure(go.Heatmap(x=grid.xs, y=grid.ys, z=_colour_values(density, log, lo), zmin=lo, zmax=hi,
                               colorscale=DENSITY_SCALE, name="density",
                               colorbar=dict(title="log₁₀ p(x)" if log else "p(x)"),
                               hovertemplate="x=%{x:.2f}<br>y=%{y:.2f}<br>"
                                             + ("log₁₀ p=%{z:.2f}" if log else "p=%{z:.3g}") + "<extra></extra>"))
    for trace in _points_traces(train, test, max_points):
        fig.add_trace(trace)
    _equal_axes(fig, grid, columns)
    return layout(fig, title, height=height)


def density_row(densities: Mapping[str, np.ndarray], grid: Grid, train: np.ndarray | None = None,
                log: bool = True, columns: Sequence[str] = ("x", "y"), max_points: int = 1000,
                decades: float = LOG_DECADES, subtitles: Mapping[str, str] | None = None,
                height: int | None = None, width: int = 1200) -> go.Figure:
    """Heatmaps side by side (e.g. Gaussian | GMM | KDE | flow) on ONE colour scale, so equal colours are equal
    densities across panels; ``subtitles`` adds a line under a panel's name (e.g. its held-out score).

    Panels keep equal x/y scales, so the default height follows the grid's aspect for a figure about
    ``width`` pixels wide (a wide, flat grid would otherwise leave empty space under short panels)."""
    labels = list(densities)
    if not labels:
        raise ValueError("density_row needs at least one density")
    for label in labels:
        if np.shape(densities[label]) != grid.shape:
            raise ValueError(f"{label}: density has shape {np.shape(densities[label])}, the grid {grid.shape}")
    values = [np.asarray(densities[label], dtype=float) for label in labels]
    if log:
        lo, hi = _log_range(values, decades)
    else:
        lo, hi = 0.0, max(float(np.nanmax(v)) for v in values)
    titles = [f"{plain(label)}<br><sub>{plain(subtitles[label])}</sub>" if subtitles and label in subtitles else plain(label)
              for label in labels]
    if height is None:
        aspect = (grid.ylim[1] - grid.ylim[0]) / (grid.xlim[1] - grid.xlim[0])
        height = int(np.clip(0.85 * (width - 120) / len(labels) * aspect + 150, 260, 640))
    fig = make_subplots(rows=1, cols=len(labels), subplot_titles=titles, horizontal_spacing=0.03)
    for j, v in enumerate(values, start=1):
        fig.add_trace(go.Heatmap(x=grid.xs, y=grid.ys, z=_colour_values(v, log, lo), coloraxis="coloraxis",
                                 name=plain(labels[j - 1]),
                                 hovertemplate="x=%{x:.2f}<br>y=%{y:.2f}<br>"
                                               + ("log₁₀ p=%{z:.2f}" if log else "p=%{z:.3g}") + "<extra></extra>"),
                      row=1, col=j)
        for trace in _points_traces(train, None, max_points, show_legend=j == 1):
            fig.add_trace(trace, row=1, col=j)
    fig.update_layout(coloraxis=dict(colorscale=DENSITY_SCALE, cmin=lo, cmax=hi,
                                     colorbar=dict(title="log₁₀ p(x)" if log else "p(x)")))
    _equal_axes(fig, grid, columns, len(labels))
    return layout(fig, height=height)


def critic_heatmap(values: np.ndarray, grid: Grid, real: np.ndarray | None = None,
                   generated: np.ndarray | None = None, kind: str = "probability", title: str | None = None,
                   columns: Sequence[str] = ("x", "y"), max_points: int = 1000, stretch: bool = False,
                   height: int = 460) -> go.Figure:
    """The discriminator over the plane with real (dark) and generated (orange) points.

    ``kind`` "probability": D(x) on a fixed 0..1 scale centred on ½ (green: looks real, pink: looks fake), so
    frames of a training run compare; near equilibrium (and with label smoothing / instance noise) D stays
    within a few hundredths of ½ and the map looks flat: ``stretch`` spans the colours over ½ ± the largest
    deviation instead. "critic": WGAN-GP values, centred on their median (only differences of critic values
    mean anything)."""
    if np.shape(values) != grid.shape:
        raise ValueError(f"values have shape {np.shape(values)}, the grid {grid.shape}")
    v = np.asarray(values, dtype=float)
    if kind == "probability":
        reach = float(np.nanmax(np.abs(v - 0.5))) if stretch and np.any(np.isfinite(v)) else 0.5
        reach = reach if reach > 0 else 0.5
        scale = dict(zmin=0.5 - reach, zmax=0.5 + reach, zmid=0.5)
        label = "D(x)"
    elif kind == "critic":
        finite = v[np.isfinite(v)]
        scale = dict(zmid=float(np.median(finite))) if finite.size else {}
        label = "critic d(x)"
    else:
        raise ValueError(f"kind must be 'probability' or 'critic', got {kind!r}")
    fig = go.Figure(go.Heatmap(x=grid.xs, y=grid.ys, z=v, colorscale=CRITIC_SCALE, colorbar=dict(title=label),
                               name=label, hovertemplate="x=%{x:.2f}<br>y=%{y:.2f}<br>" + label
                               + "=%{z:.3f}<extra></extra>", **scale))
    for name, pts, color in (("real", _thin(real, max_points), REAL_DARK),
                             ("generated", _thin(generated, max_points, seed=1), FAKE_COLOR)):
        if pts is not None and len(pts):
            fig.add_trace(go.Scattergl(x=pts[:, 0], y=pts[:, 1], mode="markers", name=name, hoverinfo="skip",
                                       marker=dict(size=4, color=color, line=dict(width=0.5, color="white"))))
    _equal_axes(fig, grid, columns)
    return layout(fig, title, height=height)


def bandwidth_sweep_curve(sweep: pd.DataFrame, marks: Mapping[str, float] | None = None, per_dim: bool = False,
                          title: str | None = None, height: int = 360) -> go.Figure:
    """Held-out (solid) and training (dashed) mean log-likelihood of a KDE against its bandwidth h (log axis),
    from :func:`genlib.density.kde_bandwidth_sweep`; the best h is starred, the two ends labelled
    under-/over-smoothed, and ``marks`` draws named bandwidths (e.g. {"Scott": 0.41}) as dotted lines."""
    h = sweep["bandwidth"].to_numpy(dtype=float)
    suffix = "_per_dim" if per_dim else ""
    unit = "nats / dim" if per_dim else "nats / point"
    held = sweep["heldout_ll" + suffix].to_numpy(dtype=float)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=h, y=held, mode="lines+markers", name="held-out",
                             line=dict(color="#4C6EF5", width=2),
                             hovertemplate="h=%{x:.3g}<br>held-out %{y:.3f} " + unit + "<extra></extra>"))
    if "train_ll" + suffix in sweep:
        fig.add_trace(go.Scatter(x=h, y=sweep["train_ll" + suffix].to_numpy(dtype=float), mode="lines",
                                 name="training points", line=dict(color="#868E96", dash="dash"),
                                 hovertemplate="h=%{x:.3g}<br>train %{y:.3f} " + unit + "<extra></extra>"))
    finite = held[np.isfinite(held)]
    if "best" in sweep and sweep["best"].any():
        i = int(np.flatnonzero(sweep["best"].to_numpy())[0])
        fig.add_trace(go.Scatter(x=[h[i]], y=[held[i]], mode="markers", name=f"best h = {h[i]:.3g}",
                                 marker=dict(symbol="star", size=16, color="#F76707",
                                             line=dict(width=1, color="black"))))
    if finite.size:
        lo, hi = float(finite.min()), float(finite.max())
        # Named bandwidths as vertical line traces (shapes and their annotations are placed inconsistently on
        # log axes), spanning the held-out curve's range.
        for k, (name, value) in enumerate((marks or {}).items()):
            fig.add_trace(go.Scatter(x=[float(value)] * 2, y=[lo, hi], mode="lines", name=name,
                                     line=dict(color=PALETTE[(k + 2) % len(PALETTE)], dash="dot", width=1.5)))
        if h.size >= 2:
            # Annotation x on a log axis is log10(h).
            fig.add_annotation(x=np.log10(h.min()), y=lo, text="← under-smoothed", showarrow=False, xanchor="left",
                               yanchor="bottom", font=dict(size=11, color="#495057"))
            fig.add_annotation(x=np.log10(h.max()), y=lo, text="over-smoothed →", showarrow=False,
                               xanchor="right", yanchor="bottom", font=dict(size=11, color="#495057"))
    fig.update_xaxes(type="log", title="bandwidth h (data units)")
    fig.update_yaxes(title=f"mean log-likelihood ({unit})")
    return layout(fig, title, height=height)
