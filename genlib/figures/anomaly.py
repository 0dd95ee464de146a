"""Figures of the anomaly page (the astronomy lecture): score histograms with σ thresholds, ROC curves, and galleries
of the top anomalies with their reconstructions and residuals. No Streamlit.

Why three kinds: what a move of the λ slider redraws must be back in under 0.5 s (issue 19), and in a 2-core
browser each Plotly chart cost ~0.1 s of drawing (benchmarks/anomaly_lambda.py). So the histogram and the ROC are
Vega-Lite specs (plain dicts, counted here), the image gallery is HTML with small PNGs, and only the tabular
residual bars stay Plotly, built from dicts with ``_validate=False`` (Plotly's validation, mostly of its template,
cost 80–300 ms per figure)."""
from __future__ import annotations

import base64
import html
import io
from typing import Any, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

from genlib.figures.style import PALETTE, plain

NORMAL_COLOR, ANOMALY_COLOR = PALETTE[0], PALETTE[1]


def _figure(data: list[dict[str, Any]], height: int, top: int = 10, **layout: Any) -> go.Figure:
    """The shared look of :func:`genlib.figures.style.layout` (legend above the plot, plotly_white), unvalidated."""
    base: dict[str, Any] = {"height": height, "margin": {"l": 40, "r": 10, "t": top, "b": 40},
                            "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 1, "xanchor": "right"},
                            "template": pio.templates["plotly_white"]}
    return go.Figure({"data": data, "layout": {**base, **layout}}, _validate=False)


#: Each Vega-Lite chart's description (read by screen readers; also how a test finds the chart).
HISTOGRAM_DESCRIPTION = "Histogram of the anomaly scores, normal and anomalous rows, with the 1σ and 3σ thresholds"
ROC_DESCRIPTION = "ROC curves of the WGAN score and the simple detectors"


def _vega(layers: list[dict[str, Any]], height: int, **top: Any) -> dict[str, Any]:
    """A Vega-Lite spec of ``layers`` (each with its own inline data), the page's width, legend above the plot;
    ``height`` is the whole chart's, legend and axes included (Streamlit fits the spec to it)."""
    return {"$schema": "https://vega.github.io/schema/vega-lite/v5.json", "height": height, "layer": layers,
            "config": {"legend": {"orient": "top", "title": None}}, **top}


def score_histogram(scores: np.ndarray, labels: np.ndarray | None, one_sigma: float, three_sigma: float,
                    bins: int = 50) -> dict[str, Any]:
    """Scores split by ground truth (normal / anomalous) as overlaid histograms, with the lecture's thresholds: mean
    + 1σ (dashed) and mean + 3σ (dotted) of the normal rows' scores. A Vega-Lite spec (``st.vega_lite_chart``):
    counted here with numpy, so the browser draws 2×``bins`` bars and nothing else (issue 19: a λ move redraws this
    under 0.5 s; a Plotly histogram cost ~0.1 s more in the browser, measured in benchmarks/anomaly_lambda.py)."""
    s = np.asarray(scores, dtype=float)
    finite = s[np.isfinite(s)]
    edges = np.histogram_bin_edges(finite if len(finite) else [0.0, 1.0], bins=bins)
    groups = [("all rows", finite)] if labels is None else [
        (name, s[(np.asarray(labels) == flag) & np.isfinite(s)]) for name, flag in (("normal", 0), ("anomalous", 1))]
    bars = [{"truth": name, "from": float(lo), "to": float(hi), "rows": int(n)}
            for name, values in groups for lo, hi, n in zip(edges[:-1], edges[1:], np.histogram(values, edges)[0])]
    names = [name for name, _ in groups]
    axis_x = {"field": "from", "type": "quantitative", "title": "anomaly score AS (higher = more anomalous)",
              "scale": {"zero": False}}
    lines = [{"x": float(one_sigma), "label": "1σ", "dash": [6, 4]}, {"x": float(three_sigma), "label": "3σ",
                                                                      "dash": [2, 2]}]
    return _vega([
        {"data": {"values": bars}, "mark": {"type": "bar", "opacity": 0.65, "binSpacing": 0},
         "encoding": {"x": axis_x, "x2": {"field": "to"},
                      "y": {"field": "rows", "type": "quantitative", "stack": None, "title": "rows"},
                      "y2": {"datum": 0},
                      "color": {"field": "truth", "type": "nominal", "sort": names,
                                "scale": {"domain": names, "range": [NORMAL_COLOR, ANOMALY_COLOR][:len(names)]}},
                      "tooltip": [{"field": "truth"}, {"field": "from", "format": ".3g", "title": "score from"},
                                  {"field": "to", "format": ".3g", "title": "to"}, {"field": "rows"}]}},
        *({"data": {"values": [line]}, "mark": {"type": "rule", "color": "black", "strokeDash": line["dash"]},
           "encoding": {"x": {"field": "x", "type": "quantitative"}}} for line in lines),
        {"data": {"values": lines}, "mark": {"type": "text", "align": "left", "dx": 3, "baseline": "top", "y": 2},
         "encoding": {"x": {"field": "x", "type": "quantitative"}, "text": {"field": "label"}}},
    ], 340, description=HISTOGRAM_DESCRIPTION)


def roc_figure(curves: Mapping[str, tuple[np.ndarray, np.ndarray, float]]) -> dict[str, Any]:
    """ROC curves {name: (fpr, tpr, auroc)} and the chance diagonal (light grey), as a Vega-Lite spec (why not
    Plotly: see :func:`score_histogram`). Each curve keeps its points' order (a ROC has vertical steps)."""
    chance = "chance (AUROC 0.5)"
    named = {chance: ([0.0, 1.0], [0.0, 1.0])} | {plain(f"{name} (AUROC {auc:.3f})"): (fpr, tpr)
                                                  for name, (fpr, tpr, auc) in curves.items()}
    points = [{"detector": label, "i": i, "fpr": float(f), "tpr": float(t)}
              for label, (fpr, tpr) in named.items() for i, (f, t) in enumerate(zip(np.asarray(fpr), np.asarray(tpr)))]
    names = list(named)
    colors = ["#adb5bd"] + [PALETTE[i % len(PALETTE)] for i in range(len(names) - 1)]
    scale = {"domain": [0, 1], "nice": False}
    return _vega([
        {"data": {"values": points}, "mark": {"type": "line", "strokeWidth": 2},
         "encoding": {"x": {"field": "fpr", "type": "quantitative", "title": "false positive rate", "scale": scale},
                      "y": {"field": "tpr", "type": "quantitative", "title": "true positive rate", "scale": scale},
                      "order": {"field": "i", "type": "quantitative"},
                      "color": {"field": "detector", "type": "nominal", "sort": names,
                                "scale": {"domain": names, "range": colors},
                                "legend": {"columns": 1, "labelLimit": 400}},
                      "tooltip": [{"field": "detector"}, {"field": "fpr", "format": ".3f", "title": "false positives"},
                                  {"field": "tpr", "format": ".3f", "title": "true positives"}]}},
    ], 480, description=ROC_DESCRIPTION)   # the whole chart, legend included (Streamlit fits the spec's height with padding): ~330 px of plot


#: Gallery tiles on screen: an 8×8 digit drawn 56 CSS pixels wide, each pixel a sharp square.
TILE_PX = 56
GALLERY_ROWS = ("input", "reconstruction", "|residual|")


def _png_data_uri(image: np.ndarray, vmax: float) -> str:
    """A grey PNG of ``image`` (0 black, ``vmax`` white, clipped) as a data URI: a few hundred bytes per tile."""
    from PIL import Image   # Pillow ships with Streamlit

    grey = np.clip(np.nan_to_num(np.asarray(image, dtype=float) / max(vmax, 1e-12)), 0.0, 1.0)
    buf = io.BytesIO()
    Image.fromarray(np.round(grey * 255).astype(np.uint8), mode="L").save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def image_gallery_html(inputs: np.ndarray, recons: np.ndarray, image_shape: tuple[int, ...],
                       captions: Sequence[str], vmax: float | None = None,
                       hovers: Sequence[str] | None = None) -> str:
    """The top anomalies as HTML: one column per row of the data — its caption (the page's ✓/✗ and score:
    :func:`genlib.anomaly.gallery_marks`; a newline breaks the line) above its input, best reconstruction and
    |residual| — after a first column naming those three rows. Grey images on one scale (``vmax``, default the
    largest value shown); ``hovers``: each tile's tooltip (e.g. "anomalous, flagged").

    Why HTML and not a Plotly heatmap: the gallery is redrawn on every move of the λ slider (issue 19: under 0.5 s),
    and in the browser a Plotly heatmap with a dozen annotations costs a layout pass of its own; a row of small
    PNGs costs almost nothing. Inline styles only (``st.html`` keeps them)."""
    x, xh = np.asarray(inputs, dtype=float), np.asarray(recons, dtype=float)
    h, w = image_shape[-2:]
    residual = np.abs(x - xh)
    top = vmax if vmax is not None else (float(max(x.max(), xh.max(), residual.max())) if len(x) else 1.0)
    height = round(TILE_PX * h / w)
    column = "display:flex;flex-direction:column;gap:4px"
    img_style = f"width:{TILE_PX}px;height:{height}px;image-rendering:pixelated;display:block"
    cap_style = "font-size:0.8rem;line-height:1.2;text-align:center;min-height:2.4em;white-space:nowrap"
    label_style = f"height:{height}px;display:flex;align-items:center;justify-content:flex-end;font-size:0.8rem"
    labels = "".join(f'<div style="{label_style}">{html.escape(name)}</div>' for name in GALLERY_ROWS)
    columns = [f'<div style="{column}"><div style="{cap_style}"></div>{labels}</div>']
    for i, caption in enumerate(list(captions)[:len(x)]):
        tip = html.escape(hovers[i], quote=True) if hovers is not None else ""
        images = "".join(f'<img alt="{html.escape(name)}" src="{_png_data_uri(img.reshape(h, w), top)}" '
                         f'style="{img_style}">' for name, img in zip(GALLERY_ROWS, (x[i], xh[i], residual[i])))
        text = "<br>".join(html.escape(line) for line in str(caption).split("\n"))
        columns.append(f'<div class="genlab-tile" title="{tip}" style="{column}">'
                       f'<div class="genlab-tile-caption" style="{cap_style}">{text}</div>{images}</div>')
    return ('<div class="genlab-gallery" style="display:flex;flex-wrap:wrap;gap:10px;align-items:flex-start">'
            + "".join(columns) + "</div>")


def residual_bars(inputs: np.ndarray, recons: np.ndarray, columns: Sequence[str], scale: np.ndarray,
                  captions: Sequence[str]) -> go.Figure:
    """Tabular anomalies: per-feature residual (x − x̂) in units of the normal data's std, one group per row."""
    r = (np.asarray(inputs, dtype=float) - np.asarray(recons, dtype=float)) / np.maximum(scale, 1e-12)
    names = [plain(c) for c in columns]
    data = [{"type": "bar", "x": names, "y": row, "name": plain(cap), "marker": {"color": PALETTE[i % len(PALETTE)]}}
            for i, (row, cap) in enumerate(zip(r, captions))]
    return _figure(data, 360, barmode="group", yaxis={"title": {"text": "residual (normal std units)"}})
