"""Figures of the simulator-fitting page (the AVO talk, adversarial variational optimisation): the proposal's path
ψ = (μ, σ) step by step, the critic's loss and Wasserstein estimate, observed against simulated data, and the
Weinberg log-likelihood ridge. Pure Plotly, no Streamlit."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from genlib.avo.fit import AVOHistory
from genlib.avo.simulators import Simulator, weinberg_afb, weinberg_density
from genlib.figures.style import FAKE_COLOR, PALETTE, REAL_COLOR, grid_shape, layout

TRUTH_COLOR = "#222"


def _empty(text: str, height: int = 300) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=text, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return layout(fig, height=height)


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    return f"rgba({int(h[0:2], 16)}, {int(h[2:4], 16)}, {int(h[4:6], 16)}, {alpha})"


def psi_trace_figure(history: AVOHistory, sim: Simulator) -> go.Figure:
    """One panel per parameter: the proposal's mean μ with a ±1 σ band against the step, and the true θ dashed.
    A parameter whose σ stays 0 is held at its true value (fixed) and says so in its panel title."""
    if not history.step:
        return _empty("waiting for the first proposal update…")
    steps = np.asarray(history.step)
    mu, sd = np.asarray(history.mu, float), np.asarray(history.sigma, float)
    titles = [f"{name} (fixed at the truth)" if np.all(sd[:, j] == 0) else f"{name}: proposal mean ± 1 σ"
              for j, name in enumerate(sim.param_names)]
    fig = make_subplots(rows=sim.n_params, cols=1, shared_xaxes=True, vertical_spacing=0.1 / sim.n_params,
                        subplot_titles=titles)
    for j, name in enumerate(sim.param_names):
        color = PALETTE[j % len(PALETTE)]
        band_x = np.r_[steps, steps[::-1]]
        band_y = np.r_[mu[:, j] + sd[:, j], (mu[:, j] - sd[:, j])[::-1]]
        fig.add_trace(go.Scatter(x=band_x, y=band_y, fill="toself", fillcolor=_rgba(color, 0.2), mode="lines",
                                 line=dict(width=0), hoverinfo="skip", name="μ ± σ", legendgroup="band",
                                 showlegend=j == 0), row=j + 1, col=1)
        fig.add_trace(go.Scatter(x=steps, y=mu[:, j], mode="lines", line=dict(color=color, width=2), name=f"μ {name}",
                                 customdata=sd[:, j], hovertemplate="step %{x}<br>μ = %{y:.4g}<br>σ = "
                                                                    "%{customdata:.3g}<extra></extra>"),
                      row=j + 1, col=1)
        fig.add_hline(y=float(sim.true_theta[j]), line=dict(color=TRUTH_COLOR, dash="dash", width=1.2),
                      annotation_text="true θ", annotation_position="top left", row=j + 1, col=1)
        fig.update_yaxes(title=name, row=j + 1, col=1)
    fig.update_xaxes(title="proposal step", row=sim.n_params, col=1)
    return layout(fig, height=max(260, 210 * sim.n_params))


def critic_loss_figure(history: AVOHistory) -> go.Figure:
    """The critic's loss L_d (gradient penalty included) and its Wasserstein estimate E_r d − E_q d per step; the
    number of simulator calls so far is in the hover. W falling towards 0: the simulations look like the data."""
    if not history.step:
        return _empty("waiting for the first proposal update…")
    steps = np.asarray(history.step)
    sims = np.asarray(history.simulations)
    fig = go.Figure()
    for values, name, color in ((history.critic_loss, "critic loss L_d", PALETTE[3]),
                                (history.wasserstein, "Wasserstein estimate W", PALETTE[0])):
        fig.add_trace(go.Scatter(x=steps, y=values, mode="lines", name=name, line=dict(color=color, width=1.4),
                                 customdata=sims, hovertemplate="step %{x}<br>%{customdata:,} simulations<br>"
                                                                f"{name} = %{{y:.4g}}<extra></extra>"))
    fig.add_hline(y=0.0, line=dict(color="#adb5bd", width=1))
    fig.update_xaxes(title="proposal step")
    fig.update_yaxes(title="critic (standardised x)")
    return layout(fig, height=300)


def _edges(values: list[np.ndarray], discrete: bool, bins: int) -> np.ndarray:
    pooled = np.concatenate([v[np.isfinite(v)] for v in values])
    if discrete:  # one bin per integer
        lo, hi = np.floor(pooled.min()), np.ceil(pooled.max())
        return np.arange(lo - 0.5, hi + 1.5)
    lo, hi = float(np.quantile(pooled, 0.001)), float(np.quantile(pooled, 0.999))
    return np.linspace(lo, hi, bins + 1) if hi > lo else np.linspace(lo - 0.5, lo + 0.5, bins + 1)


def histogram_figure(observed: np.ndarray, simulated: np.ndarray, sim: Simulator,
                     features: Sequence[str] | None = None, bins: int = 40) -> go.Figure:
    """Observed data against data simulated from the current proposal (the marginal model), one normalised
    histogram pair per feature: integer bins for counts, and for the Weinberg angle the exact density at the true θ.
    ``features`` picks which columns to show (default: the first three)."""
    obs, fake = np.atleast_2d(np.asarray(observed, float)), np.atleast_2d(np.asarray(simulated, float))
    if obs.shape[0] == 1 and sim.n_features == 1:
        obs, fake = obs.T, fake.T
    names = list(features) if features else list(sim.feature_names[:3])
    names = [n for n in names if n in sim.feature_names] or list(sim.feature_names[:1])
    rows, ncols = grid_shape(len(names), max_cols=3)
    fig = make_subplots(rows=rows, cols=ncols, subplot_titles=names if len(names) > 1 else None)
    for k, name in enumerate(names):
        j = sim.feature_names.index(name)
        r, c = divmod(k, ncols)
        series = [("observed", obs[:, j], REAL_COLOR), ("simulated from q(θ|ψ)", fake[:, j], FAKE_COLOR)]
        series = [(label, v[np.isfinite(v)], color) for label, v, color in series if np.isfinite(v).any()]
        if not series:
            continue
        edges = _edges([v for _, v, _ in series], sim.discrete, bins)
        for label, v, color in series:
            counts, _ = np.histogram(v, bins=edges)
            y = counts / len(v) if sim.discrete else counts / (len(v) * np.diff(edges))
            fig.add_trace(go.Bar(x=0.5 * (edges[1:] + edges[:-1]), y=y, width=np.diff(edges), name=label,
                                 marker_color=color, opacity=0.55, legendgroup=label, showlegend=k == 0),
                          row=r + 1, col=c + 1)
        if sim.name == "weinberg":
            grid = np.linspace(-1.0, 1.0, 201)
            fig.add_trace(go.Scatter(x=grid, y=weinberg_density(grid, *sim.true_theta), mode="lines",
                                     name="exact density at the true θ", line=dict(color=TRUTH_COLOR, dash="dash")),
                          row=r + 1, col=c + 1)
        fig.update_xaxes(title=name if len(names) == 1 else None, row=r + 1, col=c + 1)
    fig.update_layout(barmode="overlay")
    fig.update_yaxes(title="share of rows" if sim.discrete else "density", col=1)
    return layout(fig, height=300 if rows == 1 else 240 * rows)


def weinberg_ridge_figure(loglik: np.ndarray, e_values: np.ndarray, g_values: np.ndarray,
                          path_mu: np.ndarray | None = None, truth: Sequence[float] | None = None,
                          abc: np.ndarray | None = None) -> go.Figure:
    """The exact log-likelihood of the Weinberg data over (E_beam, G_f), relative to its maximum (``loglik`` has
    shape (len(g_values), len(e_values))), with the curve of constant A_FB through the truth, the proposal's path of
    μ over the steps, the true θ and ABC's accepted θ. The bright ridge is that curve: only A_FB is identifiable."""
    e, g = np.asarray(e_values, float), np.asarray(g_values, float)
    ll = np.asarray(loglik, float)
    rel = ll - np.nanmax(ll)
    floor = max(float(np.nanquantile(rel, 0.05)), -200.0)  # keep the colour scale on the interesting part
    fig = go.Figure()
    fig.add_trace(go.Contour(x=e, y=g, z=np.clip(rel, floor, 0.0), colorscale="Viridis", ncontours=25,
                             contours=dict(coloring="heatmap"), line=dict(width=0.5),
                             colorbar=dict(title="log L − max", thickness=12),
                             hovertemplate="E_beam %{x:.2f}<br>G_f %{y:.3f}<br>log L − max %{z:.1f}<extra></extra>",
                             name="log-likelihood"))
    if truth is not None:
        afb = float(weinberg_afb(truth[0], truth[1]))
        unit = weinberg_afb(e, 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            g_curve = np.where(np.abs(unit) > 1e-9, afb / unit, np.nan)
        g_curve = np.where((g_curve >= g.min()) & (g_curve <= g.max()), g_curve, np.nan)
        fig.add_trace(go.Scatter(x=e, y=g_curve, mode="lines", name=f"A_FB = {afb:.3f} (as the truth)",
                                 line=dict(color="white", dash="dot", width=2)))
    if abc is not None and len(abc):
        a = np.asarray(abc, float)
        fig.add_trace(go.Scatter(x=a[:, 0], y=a[:, 1], mode="markers", name="ABC accepted θ",
                                 marker=dict(size=4, color=PALETTE[6], opacity=0.6)))
    if path_mu is not None and len(path_mu):
        p = np.asarray(path_mu, float)
        fig.add_trace(go.Scatter(x=p[:, 0], y=p[:, 1], mode="lines", name="AVO: proposal mean μ",
                                 line=dict(color=PALETTE[3], width=2)))
        fig.add_trace(go.Scatter(x=p[[0, -1], 0], y=p[[0, -1], 1], mode="markers+text", text=["start", "end"],
                                 textposition="top center", textfont=dict(color="white"), showlegend=False,
                                 marker=dict(size=9, color=PALETTE[3], symbol=["circle-open", "circle"])))
    if truth is not None:
        fig.add_trace(go.Scatter(x=[truth[0]], y=[truth[1]], mode="markers", name="true θ",
                                 marker=dict(size=14, color="white", symbol="star", line=dict(color="black", width=1))))
    fig.update_xaxes(title="E_beam", range=[e.min(), e.max()])
    fig.update_yaxes(title="G_f", range=[g.min(), g.max()])
    fig = layout(fig, title="Weinberg log-likelihood: a ridge of constant A_FB — every θ on it explains the "
                             "data equally well", height=500)
    fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.16, x=0, xanchor="left"),
                      margin=dict(b=90))
    return fig
