"""Figures of the anomaly page (seed 003): score histograms with σ thresholds, ROC curves, and galleries of the
top anomalies with their reconstructions and residuals. Pure Plotly, no Streamlit."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from genlib.figures import samples
from genlib.figures.style import PALETTE, layout, plain

NORMAL_COLOR, ANOMALY_COLOR = PALETTE[0], PALETTE[1]


def score_histogram(scores: np.ndarray, labels: np.ndarray | None, one_sigma: float, three_sigma: float,
                    bins: int = 50) -> go.Figure:
    """Scores split by ground truth (normal / anomalous), with seed 003's thresholds: mean + 1σ and mean + 3σ of
    the normal rows' scores."""
    s = np.asarray(scores, dtype=float)
    edges = np.histogram_bin_edges(s[np.isfinite(s)], bins=bins)
    fig = go.Figure()
    groups = [("all rows", s, NORMAL_COLOR)] if labels is None else [
        ("normal", s[np.asarray(labels) == 0], NORMAL_COLOR), ("anomalous", s[np.asarray(labels) == 1], ANOMALY_COLOR)]
    for name, values, color in groups:
        fig.add_trace(go.Histogram(x=values, xbins=dict(start=edges[0], end=edges[-1], size=edges[1] - edges[0]),
                                   name=name, marker_color=color, opacity=0.65))
    for value, text, dash in ((one_sigma, "1σ", "dash"), (three_sigma, "3σ", "dot")):
        fig.add_vline(x=value, line=dict(color="black", dash=dash), annotation_text=text,
                      annotation_position="top")
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(title="anomaly score AS (higher = more anomalous)")
    fig.update_yaxes(title="rows")
    return layout(fig, height=340)


def roc_figure(curves: Mapping[str, tuple[np.ndarray, np.ndarray, float]]) -> go.Figure:
    """ROC curves {name: (fpr, tpr, auroc)} with the chance diagonal."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance (0.5)",
                             line=dict(color="#adb5bd", dash="dot")))
    for i, (name, (fpr, tpr, auc)) in enumerate(curves.items()):
        fig.add_trace(go.Scatter(x=fpr, y=tpr, mode="lines", name=plain(f"{name} (AUROC {auc:.3f})"),
                                 line=dict(color=PALETTE[i % len(PALETTE)], width=2)))
    fig.update_xaxes(title="false positive rate", range=[0, 1])
    fig.update_yaxes(title="true positive rate", range=[0, 1.02])
    return layout(fig, height=380)


def image_gallery(inputs: np.ndarray, recons: np.ndarray, image_shape: tuple[int, ...],
                  captions: Sequence[str], vmax: float | None = None) -> go.Figure:
    """Three rows — input, best reconstruction, |residual| — one column per anomaly."""
    x, xh = np.asarray(inputs, dtype=float), np.asarray(recons, dtype=float)
    both = np.concatenate([x, xh, np.abs(x - xh)])
    return samples.image_grid(both, image_shape, n_cols=len(x), vmax=vmax,
                            titles=[*captions, *([""] * len(x)), *([""] * len(x))])


def residual_bars(inputs: np.ndarray, recons: np.ndarray, columns: Sequence[str], scale: np.ndarray,
                  captions: Sequence[str]) -> go.Figure:
    """Tabular anomalies: per-feature residual (x − x̂) in units of the normal data's std, one group per row."""
    fig = go.Figure()
    r = (np.asarray(inputs, dtype=float) - np.asarray(recons, dtype=float)) / np.maximum(scale, 1e-12)
    for i, (row, cap) in enumerate(zip(r, captions)):
        fig.add_trace(go.Bar(x=[plain(c) for c in columns], y=row, name=plain(cap), marker_color=PALETTE[i % len(PALETTE)]))
    fig.update_layout(barmode="group")
    fig.update_yaxes(title="residual (normal std units)")
    return layout(fig, height=360)
