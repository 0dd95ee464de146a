"""Pure Plotly figure builders for the latent-space explorer (numbers in, ``go.Figure`` out; no Streamlit).

Every scatter carries the row index of each point in ``customdata[0]``, so a page can map a hovered or
selected point back to its row (``st.plotly_chart(..., on_select="rerun")`` returns the points' customdata),
whatever trace the point ended up in.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from genlib.figures import samples
from genlib.figures.style import FAKE_COLOR, PALETTE, REAL_COLOR, REAL_DARK, layout, plain
from genlib.latent.gmm import DensityGrid, best_k

__all__ = ["CATEGORY_COLORS", "embedding_scatter", "embedding_pair", "projector_views", "view_names", "SELECTED_COLOR",
           "FOCUS_COLOR", "NEIGHBOUR_COLOR", "density_contour", "bic_aic_figure",
           "image_strip", "purity_heatmap", "loglik_histogram", "explained_variance_figure"]

#: Enough distinct colours for digits' ten classes (PALETTE has eight).
CATEGORY_COLORS: list[str] = list(qualitative.D3) + list(qualitative.Dark2)
#: A colour with at most this many distinct values is drawn as categories (one legend entry each).
MAX_CATEGORIES = 30


def _is_categorical(values: np.ndarray) -> bool:
    if values.dtype.kind in "OUSb":
        return True
    return values.dtype.kind in "iu" and len(np.unique(values)) <= MAX_CATEGORIES


def _customdata(idx: np.ndarray, hover: Mapping[str, np.ndarray] | None) -> tuple[np.ndarray, str]:
    """customdata = [row index, hover values…] and the hover lines reading them."""
    cols = [idx.astype(object)]
    lines = ["row %{customdata[0]}"]
    for j, (name, values) in enumerate((hover or {}).items(), start=1):
        vals = np.asarray(values)[idx]
        cols.append(vals.astype(object))
        fmt = ":.4g" if vals.dtype.kind == "f" else ""
        lines.append(f"{plain(name)}: %{{customdata[{j}]{fmt}}}")
    return np.column_stack(cols), "<br>".join(lines)


def _points_trace(coords: np.ndarray, idx: np.ndarray, name: str, marker: dict, hover: Mapping | None,
                  showlegend: bool = True, legendgroup: str | None = None) -> go.BaseTraceType:
    data, template = _customdata(idx, hover)
    name = plain(name)   # a column header or run name: text, never markup
    common = dict(mode="markers", name=name, marker=marker, customdata=data, showlegend=showlegend,
                  legendgroup=legendgroup, hovertemplate=template + f"<extra>{name}</extra>")
    if coords.shape[1] == 3:
        return go.Scatter3d(x=coords[idx, 0], y=coords[idx, 1], z=coords[idx, 2], **common)
    return go.Scattergl(x=coords[idx, 0], y=coords[idx, 1], **common)


def _point_traces(coords: np.ndarray, color: np.ndarray | None, color_label: str, hover: Mapping | None,
                  size: float, idx: np.ndarray, showlegend: bool = True) -> list[go.BaseTraceType]:
    if color is None:
        return [_points_trace(coords, idx, "points", dict(size=size, color=REAL_COLOR, opacity=0.7), hover,
                              showlegend=False)]
    color = np.asarray(color)
    if _is_categorical(color):
        traces = []
        for i, cat in enumerate(np.unique(color[idx])):
            sub = idx[color[idx] == cat]
            traces.append(_points_trace(coords, sub, f"{color_label} {cat}",
                                        dict(size=size, color=CATEGORY_COLORS[i % len(CATEGORY_COLORS)],
                                             opacity=0.75), hover, showlegend, legendgroup=f"{color_label}={cat}"))
        return traces
    marker = dict(size=size, color=color[idx].astype(float), colorscale="Viridis", opacity=0.8,
                  colorbar=dict(title=plain(color_label)) if showlegend else None, showscale=showlegend)
    return [_points_trace(coords, idx, color_label, marker, {color_label: color, **(hover or {})}, showlegend=False)]


def density_contour(grid: DensityGrid, n_levels: int = 12, floor_quantile: float = 0.2) -> go.Contour:
    """Contour lines of a 2-D log-density (:func:`genlib.latent.gmm.density_grid`) to lay under a scatter.

    Levels run from the ``floor_quantile`` of the grid's log p to its maximum: far from the data log p falls
    without bound, and lines there would crowd out the ones that matter."""
    lo, hi = float(np.quantile(grid.logp, floor_quantile)), float(grid.logp.max())
    return go.Contour(x=grid.xs, y=grid.ys, z=grid.logp, contours=dict(coloring="lines", start=lo, end=hi,
                      size=max((hi - lo) / n_levels, 1e-9)), line=dict(width=1), colorscale="Greys",
                      showscale=False, name="log p (2-D mixture)", hoverinfo="skip", showlegend=False)


def embedding_scatter(coords: np.ndarray, color: np.ndarray | None = None, color_label: str = "label",
                      hover: Mapping[str, np.ndarray] | None = None, highlight: np.ndarray | None = None,
                      highlight_label: str = "outlier", density: DensityGrid | None = None,
                      title: str | None = None, size: float = 5.0, max_points: int = 20000) -> go.Figure:
    """A 2-D or 3-D embedding, coloured by a label (one legend entry per class: click to hide) or by a number
    (colour bar). ``highlight`` (boolean mask or row indices) rings points such as outliers; ``density`` draws
    contours under a 2-D view. ``customdata[0]`` of every point is its row index."""
    coords = np.asarray(coords, dtype=float)
    if coords.ndim != 2 or coords.shape[1] not in (2, 3):
        raise ValueError(f"coords must have 2 or 3 columns, got shape {coords.shape}")
    n = len(coords)
    idx = np.arange(n) if n <= max_points else np.random.default_rng(0).choice(n, max_points, replace=False)
    fig = go.Figure()
    if density is not None and coords.shape[1] == 2:
        fig.add_trace(density_contour(density))
    for tr in _point_traces(coords, color, color_label, hover, size, np.sort(idx)):
        fig.add_trace(tr)
    if highlight is not None:
        h = np.asarray(highlight)
        rows = np.flatnonzero(h) if h.dtype == bool else h.astype(int)
        if len(rows):
            fig.add_trace(_points_trace(coords, rows, highlight_label,
                                        dict(size=size + 6, color="black", symbol="circle-open", line=dict(width=1.5)), hover))
    if coords.shape[1] == 3:
        fig.update_layout(scene=dict(xaxis_title="dim 1", yaxis_title="dim 2", zaxis_title="dim 3"))
        return layout(fig, title, height=520)
    fig.update_xaxes(title="dim 1")
    fig.update_yaxes(title="dim 2")
    fig.update_layout(dragmode="lasso")   # selecting points is the main interaction
    return layout(fig, title, height=480)


def embedding_pair(left: np.ndarray, right: np.ndarray, color: np.ndarray | None = None,
                   titles: tuple[str, str] = ("PCA", "UMAP"), color_label: str = "label",
                   hover: Mapping[str, np.ndarray] | None = None, size: float = 4.0) -> go.Figure:
    """Two 2-D views of the same points side by side (seed 003: PCA vs UMAP). Legend entries are shared,
    so hiding a class hides it in both; ``customdata[0]`` is the row index in both panels."""
    left, right = np.asarray(left, dtype=float), np.asarray(right, dtype=float)
    if left.shape[0] != right.shape[0] or left.shape[1] != 2 or right.shape[1] != 2:
        raise ValueError(f"need two (n, 2) views of the same points, got {left.shape} and {right.shape}")
    fig = make_subplots(rows=1, cols=2, subplot_titles=list(titles))
    idx = np.arange(len(left))
    for col, view in ((1, left), (2, right)):
        for tr in _point_traces(view, color, color_label, hover, size, idx, showlegend=(col == 1)):
            fig.add_trace(tr, row=1, col=col)
    fig.update_layout(dragmode="lasso")
    return layout(fig, height=460)


#: The linked views' marks: selected rows outlined in black, the picked point a red star, its neighbours orange.
SELECTED_COLOR = "black"
FOCUS_COLOR = "#d62728"
NEIGHBOUR_COLOR = "#ff7f0e"
#: Opacity of the points that are not selected while a selection is shown (so the selection stands out).
DIMMED = 0.15


def _marks(view: np.ndarray, rows: np.ndarray, name: str, marker: dict, hover: Mapping | None,
           showlegend: bool) -> go.BaseTraceType:
    """One highlight trace (its points carry their row in customdata[0], like every other point)."""
    if view.shape[1] == 3 and marker.get("symbol") == "star":   # 3-D scatters have no star
        marker = {**marker, "symbol": "cross"}
    return _points_trace(view, rows, name, marker, hover, showlegend=showlegend, legendgroup=name)


def _colours_of(color: np.ndarray | None, rows: np.ndarray) -> dict:
    """Marker colours of ``rows`` as :func:`_point_traces` draws them (a class's colour, or the colour scale over
    every row's values), so a highlighted point keeps the colour it has in the view."""
    if color is None:
        return dict(color=REAL_COLOR)
    values = np.asarray(color)
    if _is_categorical(values):
        order = {c: i for i, c in enumerate(np.unique(values))}
        return dict(color=[CATEGORY_COLORS[order[v] % len(CATEGORY_COLORS)] for v in values[rows]])
    vals = values.astype(float)
    return dict(color=vals[rows], colorscale="Viridis", cmin=float(np.nanmin(vals)), cmax=float(np.nanmax(vals)),
                showscale=False)


def _spokes(view: np.ndarray, focus: int, rows: np.ndarray, showlegend: bool) -> go.BaseTraceType:
    """Lines from the picked point to each neighbour: one trace, segments separated by gaps (None)."""
    pts: list[list[float | None]] = [[] for _ in range(view.shape[1])]
    for r in rows:
        for d in range(view.shape[1]):
            pts[d] += [float(view[focus, d]), float(view[r, d]), None]
    common = dict(mode="lines", name="to its neighbours", line=dict(color=NEIGHBOUR_COLOR, width=1.5),
                  hoverinfo="skip", showlegend=showlegend, legendgroup="to its neighbours")
    if view.shape[1] == 3:
        return go.Scatter3d(x=pts[0], y=pts[1], z=pts[2], **common)
    return go.Scattergl(x=pts[0], y=pts[1], **common)


def projector_views(pca: np.ndarray, umap: np.ndarray | None = None, color: np.ndarray | None = None,
                    color_label: str = "label", hover: Mapping[str, np.ndarray] | None = None,
                    selected: Sequence[int] | np.ndarray | None = None, focus: int | None = None,
                    neighbours: Sequence[int] | np.ndarray | None = None, size: float = 4.0) -> go.Figure:
    """The explorer's linked views, as the Embedding Projector draws them: PCA (2-D) and, once projected, UMAP
    (2-D or 3-D) side by side, the same rows marked in both. ``selected`` rows keep their colour, outlined, and
    the other points fade; ``focus`` (a picked point) is a red star and its ``neighbours`` orange, with lines to them.
    Legend entries are shared by both panels; ``customdata[0]`` of every point is its row."""
    pca = np.asarray(pca, dtype=float)
    if pca.ndim != 2 or pca.shape[1] != 2:
        raise ValueError(f"the PCA view must be (n, 2), got shape {pca.shape}")
    views: list[tuple[str, np.ndarray]] = [("PCA of the codes", pca)]
    if umap is not None:
        umap = np.asarray(umap, dtype=float)
        if umap.ndim != 2 or umap.shape[1] not in (2, 3) or len(umap) != len(pca):
            raise ValueError(f"the UMAP view must be (n, 2) or (n, 3) for the {len(pca)} rows, got {umap.shape}")
        views.append(("UMAP of the codes" + (" (3-D, drag to rotate)" if umap.shape[1] == 3 else ""), umap))
    n = len(pca)
    sel = np.unique(np.asarray([] if selected is None else selected, dtype=int))
    sel = sel[(sel >= 0) & (sel < n)]
    near = np.asarray([] if neighbours is None else neighbours, dtype=int)
    if focus is not None and not 0 <= int(focus) < n:
        raise ValueError(f"the picked point must be a row between 0 and {n - 1}, got {focus}")
    specs = [[{"type": "scene" if v.shape[1] == 3 else "xy"} for _, v in views]]
    fig = make_subplots(rows=1, cols=len(views), subplot_titles=[t for t, _ in views], specs=specs,
                        horizontal_spacing=0.06)
    idx = np.arange(n)
    for col, (_, view) in enumerate(views, start=1):
        first = col == 1
        base = _point_traces(view, color, color_label, hover, size, idx, showlegend=first)
        for tr in base:
            if len(sel) or focus is not None:
                tr.marker.opacity = DIMMED
            fig.add_trace(tr, row=1, col=col)
        if len(sel):   # the selected points in their own colours, full strength, outlined
            fig.add_trace(_marks(view, sel, "selected", dict(size=size + 4, opacity=1.0, **_colours_of(color, sel),
                                                             line=dict(width=1.5, color=SELECTED_COLOR)), hover,
                                 first), row=1, col=col)
        if focus is not None:
            if len(near):
                fig.add_trace(_spokes(view, int(focus), near, first), row=1, col=col)
                fig.add_trace(_marks(view, near, "neighbours", dict(size=size + 5, color=NEIGHBOUR_COLOR,
                                                                    symbol="diamond"), hover, first),
                              row=1, col=col)
            fig.add_trace(_marks(view, np.array([int(focus)]), "picked point",
                                 dict(size=size + 12, color=FOCUS_COLOR, symbol="star",
                                      line=dict(width=1, color="white")), hover, first), row=1, col=col)
    fig.update_layout(dragmode="lasso", uirevision="projector")   # selecting points is the main interaction
    return layout(fig, height=480)


def view_names(fig: go.Figure) -> list[str]:
    """The view ("PCA" or "UMAP") of each trace of a :func:`projector_views` figure, by trace number: a selection
    event names its points' traces (``curve_number``), so the page can say where a selection was made."""
    names = []
    for tr in fig.data:
        axis = getattr(tr, "xaxis", None)
        names.append("UMAP" if tr.type == "scatter3d" or (axis not in (None, "x")) else "PCA")
    return names


def bic_aic_figure(curve: pd.DataFrame, criterion: str = "bic", chosen: int | None = None) -> go.Figure:
    """BIC and AIC against the number of components k (lower is better), the criterion's best k starred and the
    user's ``chosen`` k (when it differs) drawn as a dashed line."""
    fig = go.Figure()
    for i, (col, label) in enumerate((("bic", "BIC"), ("aic", "AIC"))):
        fig.add_trace(go.Scatter(x=curve["k"], y=curve[col], mode="lines+markers", name=label,
                                 line=dict(color=PALETTE[i])))
    k = best_k(curve, criterion)  # type: ignore[arg-type]
    y = float(curve.loc[curve["k"] == k, criterion].iloc[0])
    fig.add_trace(go.Scatter(x=[k], y=[y], mode="markers", name=f"best k = {k} ({criterion.upper()})",
                             marker=dict(size=14, symbol="star", color=REAL_DARK)))
    fig.add_vline(x=k, line=dict(dash="dot", color=REAL_DARK))
    if chosen is not None and int(chosen) != k:
        fig.add_vline(x=int(chosen), line=dict(dash="dash", color=PALETTE[2]),
                      annotation_text=f"your k = {int(chosen)}", annotation_position="top")
    fig.update_xaxes(title="number of components k", dtick=1)
    fig.update_yaxes(title="criterion (lower is better)")
    return layout(fig, height=340)


def image_strip(images: np.ndarray, image_shape: tuple[int, ...], col_captions: Sequence[str] | None = None,
                row_captions: Sequence[str] | None = None, n_cols: int | None = None, vmax: float | None = None,
                title: str | None = None) -> go.Figure:
    """Decoded images as a strip (one row: an interpolation) or a grid (rows × columns: a traversal per latent
    dimension), drawn with :func:`genlib.samples.image_grid`; captions label the columns (t, z value, class) and
    the rows (which dimension). Rows are filled left to right; ``vmax`` fixes the grey scale (digits: 16)."""
    images = np.asarray(images, dtype=float)
    n = len(images)
    n_cols = int(n_cols or max(n, 1))
    n_rows = int(np.ceil(n / n_cols)) if n else 1
    fig = samples.image_grid(images, image_shape, n_cols=n_cols, max_images=n, vmax=vmax)
    h, w = image_shape[-2:]
    if col_captions is not None:
        fig.update_xaxes(visible=True, showgrid=False, zeroline=False, showline=False, ticks="",
                         tickvals=[c * (w + 1) + (w - 1) / 2 for c in range(len(col_captions))],
                         ticktext=list(col_captions), tickfont=dict(size=10), side="bottom")
    if row_captions is not None:
        fig.update_yaxes(visible=True, showgrid=False, zeroline=False, showline=False, ticks="",
                         tickvals=[r * (h + 1) + (h - 1) / 2 for r in range(len(row_captions))],
                         ticktext=list(row_captions), tickfont=dict(size=10))
    fig.update_layout(height=max(140, 70 * n_rows + (60 if title else 30)), title=title)
    return fig


def purity_heatmap(table: pd.DataFrame) -> go.Figure:
    """Seed 003's cluster × label table (:func:`genlib.latent.clusters.purity_table`) as a heatmap of shares;
    rows are ordered by their majority label, so a clean clustering shows as a diagonal."""
    label_cols = [c for c in table.columns if c not in ("majority", "size", "purity")]
    order = sorted(range(len(table)), key=lambda i: (label_cols.index(table["majority"].iloc[i]),
                                                     -table["purity"].iloc[i]))
    t = table.iloc[order]
    z = t[label_cols].to_numpy(dtype=float)
    ys = [f"cluster {c} (n={int(s)}, purity {p:.0%})" for c, s, p in zip(t.index, t["size"], t["purity"])]
    fig = go.Figure(go.Heatmap(z=z, x=[str(c) for c in label_cols], y=ys, zmin=0, zmax=1, colorscale="Blues",
                               text=np.vectorize(lambda v: f"{v:.0%}" if v >= 0.005 else "")(z),
                               texttemplate="%{text}", colorbar=dict(title="share"),
                               hovertemplate="%{y}<br>label %{x}: %{z:.1%}<extra></extra>"))
    fig.update_xaxes(title="label", type="category")
    fig.update_yaxes(autorange="reversed", type="category")
    return layout(fig, height=max(260, 60 + 28 * len(t)))


def loglik_histogram(loglik: np.ndarray, threshold: float | None = None, bins: int = 60) -> go.Figure:
    """Histogram of log p(z) under the latent mixture with the outlier threshold log ε marked."""
    ll = np.asarray(loglik, dtype=float)
    ll = ll[np.isfinite(ll)]
    fig = go.Figure(go.Histogram(x=ll, nbinsx=bins, marker_color=REAL_COLOR, name="points"))
    if threshold is not None:
        share = float(np.mean(ll < threshold)) if len(ll) else 0.0
        fig.add_vline(x=threshold, line=dict(color=FAKE_COLOR, dash="dash"),
                      annotation_text=f"log ε = {threshold:.3g}: {share:.1%} flagged", annotation_position="top left")
    fig.update_xaxes(title="log p(z) (nats, code space)")
    fig.update_yaxes(title="points")
    return layout(fig, height=300)


def explained_variance_figure(ratios: np.ndarray) -> go.Figure:
    """PCA scree: variance share per component and the cumulative share."""
    r = np.asarray(ratios, dtype=float)
    k = np.arange(1, len(r) + 1)
    fig = go.Figure([go.Bar(x=k, y=r, name="per component", marker_color=REAL_COLOR),
                     go.Scatter(x=k, y=np.cumsum(r), mode="lines+markers", name="cumulative",
                                line=dict(color=FAKE_COLOR))])
    fig.update_xaxes(title="component")
    fig.update_yaxes(title="share of variance", range=[0, 1.02])
    return layout(fig, height=300)


SHADES = " ░▒▓█"


def ascii_images(rows: np.ndarray, image_shape: tuple[int, ...], vmax: float | None = None) -> np.ndarray:
    """Each grey-scale image as a block of shade characters, one line per pixel row joined by <br>: a picture of
    the digit in a Plotly hover label, which cannot show a real image (a hover is text only)."""
    arr = np.asarray(rows, dtype=float).reshape(len(rows), *image_shape[-2:])
    top = float(vmax if vmax is not None else max(np.max(arr), 1e-12))
    levels = np.clip(np.rint(arr / top * (len(SHADES) - 1)), 0, len(SHADES) - 1).astype(int)
    chars = np.array(list(SHADES))[levels]
    return np.array(["<br>".join("".join(r) for r in img) for img in chars], dtype=object)


def selected_rows(event: object) -> list[int]:
    """Row indices (``customdata[0]``) of the points selected in a chart drawn by this module, from the value
    ``st.plotly_chart(..., on_select="rerun")`` returns; empty when nothing is selected."""
    try:
        points = event["selection"]["points"]  # type: ignore[index]
    except (KeyError, TypeError):
        points = getattr(getattr(event, "selection", None), "points", None) or []
    rows = set()
    for p in points or []:
        data = p.get("customdata") if isinstance(p, dict) else None
        if data is not None and len(data):
            try:
                rows.add(int(data[0]))
            except (TypeError, ValueError):
                continue
    return sorted(rows)
