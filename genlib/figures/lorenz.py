"""Plotly figures of the Lorenz lab: trajectories, divergence, Lyapunov fits, image grids, the Lorenz map.

Pure functions (numbers in, ``go.Figure`` out), like the rest of :mod:`genlib.figures`; kept apart because they speak of dynamics
(time, trajectories, exponents) rather than of tables of samples.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from genlib.figures import samples
from genlib.figures.style import FAKE_COLOR, PALETTE, REAL_COLOR, REAL_DARK, layout, plain

AXES = ("x", "y", "z")


def trace_color(label: str, i: int) -> str:
    """A trace's colour: real data always in :data:`REAL_COLOR` and a lone "generated" in :data:`FAKE_COLOR` (as in
    :mod:`genlib.figures.samples`), whatever their position; the others by position in :data:`PALETTE` — so real
    and generated never swap colours between two neighbouring charts."""
    name = str(label).lower()
    if name.startswith("real"):
        return REAL_COLOR
    return FAKE_COLOR if name == "generated" else PALETTE[i % len(PALETTE)]


def butterfly(trajectories: Mapping[str, np.ndarray], max_points: int = 6000, mode: str = "lines") -> go.Figure:
    """Rotatable 3-D plot of one or more trajectories (n, 3) — the butterfly. Lines, thinned to ``max_points``."""
    fig = go.Figure()
    for i, (label, x) in enumerate(trajectories.items()):
        x = np.asarray(x, dtype=float)
        if x.ndim != 2 or x.shape[1] != 3 or len(x) == 0:
            continue
        step = max(1, len(x) // max_points)
        x = x[::step]
        style = dict(line=dict(width=2, color=trace_color(label, i))) if mode == "lines" else \
            dict(marker=dict(size=1.8, color=trace_color(label, i), opacity=0.6))
        fig.add_trace(go.Scatter3d(x=x[:, 0], y=x[:, 1], z=x[:, 2], mode=mode, name=plain(label), **style))
    fig.update_layout(scene=dict(xaxis_title="x", yaxis_title="y", zaxis_title="z", aspectmode="cube"))
    return layout(fig, height=520)


def time_series(t: np.ndarray, trajectories: Mapping[str, np.ndarray], max_points: int = 5000) -> go.Figure:
    """x(t), y(t), z(t) in three stacked panels, one line per trajectory."""
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.04)
    t = np.asarray(t, dtype=float)
    for i, (label, x) in enumerate(trajectories.items()):
        x = np.asarray(x, dtype=float)
        n = min(len(t), len(x))
        step = max(1, n // max_points)
        for k in range(3):
            fig.add_trace(go.Scatter(x=t[:n:step], y=x[:n:step, k], mode="lines", name=plain(label), legendgroup=label,
                                     showlegend=k == 0, line=dict(width=1.2, color=trace_color(label, i))),
                          row=k + 1, col=1)
            fig.update_yaxes(title=AXES[k], row=k + 1, col=1)
    fig.update_xaxes(title="t", row=3, col=1)
    return layout(fig, height=460)


def separation_plot(t: np.ndarray, distance: np.ndarray, exponent: float, d0: float | None = None) -> go.Figure:
    """|x_a(t) − x_b(t)| on a log axis with the line d0·e^{λt}: chaos is the straight part, then saturation."""
    t = np.asarray(t, dtype=float)[: len(distance)]
    d = np.maximum(np.asarray(distance, dtype=float), 1e-300)
    d0 = float(d[0]) if d0 is None else d0
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=t, y=d, mode="lines", name="separation", line=dict(color=PALETTE[0])))
    ref = d0 * np.exp(exponent * t)
    keep = ref <= 10 * d.max()
    fig.add_trace(go.Scatter(x=t[keep], y=ref[keep], mode="lines", name=f"d₀·e^({exponent:.4g} t)",
                             line=dict(color=REAL_DARK, dash="dash", width=1)))
    fig.update_xaxes(title="t")
    fig.update_yaxes(title="distance", type="log")
    return layout(fig, height=320)


def running_exponent(times: np.ndarray, running: np.ndarray, reference: float) -> go.Figure:
    """Benettin's running estimate of the largest exponent converging to the reference value."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=np.asarray(times), y=np.asarray(running), mode="lines", name="running estimate",
                             line=dict(color=PALETTE[0])))
    fig.add_hline(y=reference, line=dict(color=REAL_DARK, dash="dash", width=1),
                  annotation_text=f"reference {reference:g}", annotation_position="top right")
    fig.update_xaxes(title="t")
    fig.update_yaxes(title="λ estimate")
    return layout(fig, height=300)


def rosenstein_fits(results: Mapping[str, Any]) -> go.Figure:
    """Mean log divergence ⟨ln d_j(i)⟩ against time for each series, with the fitted straight part (slope = λ)."""
    fig = go.Figure()
    for i, (label, r) in enumerate(results.items()):
        if r is None:
            continue
        color = trace_color(label, i)
        times, curve = np.asarray(r.times, dtype=float), np.asarray(r.mean_log_divergence, dtype=float)
        fig.add_trace(go.Scatter(x=times, y=curve, mode="lines", name=plain(f"{label}: λ = {r.exponent:.3f}"),
                                 legendgroup=label, line=dict(color=color)))
        a, b = int(r.fit_start), int(min(r.fit_stop, len(times) - 1))
        if b > a:
            slope = r.exponent
            tt = times[a:b + 1]
            fig.add_trace(go.Scatter(x=tt, y=r.intercept + slope * tt, mode="lines", showlegend=False,
                                     legendgroup=label, line=dict(color=color, dash="dash", width=3)))
    fig.update_xaxes(title="t (time after the pair's start)")
    fig.update_yaxes(title="⟨ln divergence⟩")
    return layout(fig, height=340)


def rgb_grid(images: np.ndarray, n_cols: int = 8, max_images: int = 32) -> go.Figure:
    """Trajectory images (n, 3, H, W) with values in [−1, 1] (channels = x, y, z), on one fixed colour scale so
    real and generated grids compare."""
    return samples.rgb_grid(images, n_cols=n_cols, max_images=max_images, value_range=(-1.0, 1.0), gap=2)


def return_map(maps: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> go.Figure:
    """Successive maxima z_{n+1} against z_n — Lorenz's own map, a sharp cusp for the real system."""
    fig = go.Figure()
    for i, (label, (zn, zn1)) in enumerate(maps.items()):
        fig.add_trace(go.Scatter(x=np.asarray(zn), y=np.asarray(zn1), mode="markers", name=plain(label),
                                 marker=dict(size=4, opacity=0.6, color=trace_color(label, i))))
    fig.update_xaxes(title="z maximum n")
    fig.update_yaxes(title="z maximum n+1")
    return layout(fig, height=380)


def coefficient_bars(names: Sequence[str], fits: Mapping[str, np.ndarray], truth: np.ndarray,
                     equation: int) -> go.Figure:
    """One equation's coefficients per library term: the true ones against each method's."""
    fig = go.Figure()
    fig.add_trace(go.Bar(x=list(names), y=np.asarray(truth)[:, equation], name="true", marker_color=REAL_DARK))
    for i, (label, coef) in enumerate(fits.items()):
        fig.add_trace(go.Bar(x=list(names), y=np.asarray(coef)[:, equation], name=label,
                             marker_color=PALETTE[i % len(PALETTE)]))
    fig.update_layout(barmode="group")
    fig.update_yaxes(title="coefficient")
    return layout(fig, height=300)
