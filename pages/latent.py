"""Latent-space explorer (seed 003): how can data be represented more efficiently? Encode every row with an
autoencoder-type model (or PCA, the linear baseline), look at the codes with PCA and UMAP side by side — with the
Embedding Projector's touches: a selection shared by both views, search by label or row, a point's nearest
neighbours — walk between codes, and check how well they separate the classes. Thin: genlib.latent does the work
(genlib.latent.projector: search, neighbours, selections), genlib.figures.latent draws."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import streamlit as st

from genlib import latent as lt
from genlib import figures
from genlib.data import DataError
from genlib.cache import array_digest
from genlib.params import Param
from genlib.sources import cite
from genlib.words import MISSING, plain_columns
from genlib.store import JobStatus, RunKind
from pages import urlstate
from pages.text import md
from pages.addressing import not_found, results, set_url_value, stored, url_value
from pages.common import csv_bytes, ensure_app_shell, fmt_time, follow_job, job_manager, param_widget, run_store, \
    submit_job
from pages.presets_ui import page_state
from pages.presentation import page_sections
from pages.latent_common import (PCA, codes_of, data_picker, pca_encoder, pick_source, pixel_range, shown_index,
                                 shown_rows, train_controls)

ensure_app_shell()

# The page's settings; each widget's value lives in the address under its key ("lt_" + the name: ``?lt_nn=30``).
# The projection form (a ``?proj=`` link to a stored projection sets these four from its settings instead).
_UMAP = lt.ProjectionSettings()
NEIGHBORS = Param("nn", _UMAP.n_neighbors, "UMAP's n_neighbors: small keeps fine clusters, large the global layout",
                  range=(2, 100), widget="slider", label="neighbours per point")
MIN_DIST = Param("md", _UMAP.min_dist, "UMAP's min_dist: how tightly points may pack on the screen",
                 range=(0.0, 0.99), widget="slider", step=0.01, label="minimum distance")
METRIC = Param("metric", lt.METRICS[0], "how UMAP measures the distance between two codes",
               choices=tuple(lt.METRICS), label="distance")
DIMS = Param("dims", 2, "", choices=(2, 3), widget="radio", label="dimensions")
# Walking in the latent space (the rows' range, row B's default and the code dimensions depend on the data)
ROW_A = Param("row_a", 0, "", range=(0, 0), label="row A")
ROW_B = Param("row_b", 0, "", range=(0, 0), label="row B")
PATH = Param("mode", "linear", "", choices=("linear", "slerp"), widget="radio", label="path")
STEPS = Param("interp_steps", 10, "", range=(3, 16), widget="slider", label="points along the path")
CODE_DIM = Param("dim", 0, "", range=(0, 0), widget="slider", label="traverse code dimension")
# Clusters (K's default: the data's number of classes)
CLUSTERS = Param("k", 10, "", range=(2, 30), widget="slider", label="clusters")
CLUSTERING = Param("cluster_method", lt.CLUSTER_METHODS[0], "", choices=tuple(lt.CLUSTER_METHODS), widget="radio",
                   label="clustering")
# The projector (search, neighbours): k and the distance between codes
K_NEAR = Param("near_k", 10, "how many of the picked point's nearest neighbours to list and draw", range=(1, 50),
               widget="slider", label="neighbours to show")
NEAR_METRIC = Param("near_metric", lt.NEIGHBOUR_METRICS[0], "how the distance between two codes is measured",
                    choices=tuple(lt.NEIGHBOUR_METRICS), widget="radio", label="distance between codes")
#: The cluster table's own columns in words (the other columns are the labels themselves).
PURITY_COLUMNS = {"majority": "majority label", "size": "rows in the cluster",
                  "purity": "purity (share of the majority label)"}
SECTIONS = ["The encoder", "The codes, drawn: PCA beside UMAP", "Walking in the latent space",
            "Do the codes separate the classes?"]
lt.warm_up_umap()  # no-op after the first call; app.py starts it too

st.title("Latent-space explorer")
page_state("latent")
st.markdown(
    "An **autoencoder** squeezes each row x through a few numbers z = f(x) (the *code*) and rebuilds it as "
    f"g(z); what survives the squeeze is what the data are made of. **PCA** does the same with a linear f and g "
    f"— the baseline {cite('astro_lecture')} starts from. A **VAE** also asks the codes to look like draws from "
    "N(0, I), so that decoding a fresh z gives a new row. With 64 pixels per digit and a handful of codes, can you "
    "see the ten digits in the codes?")
# one formula per line, full width: a long formula in a third of the page is clipped on a projector
st.latex(r"\text{PCA: } z = W^\top(x-\mu),\ \hat x = \mu + Wz \qquad "
         r"\text{AE: } \min_{f,g}\ \lVert x - g(f(x)) \rVert^2")
st.latex(r"\text{VAE: } \mathbb{E}_{q(z|x)}[\log p(x|z)] - \mathrm{KL}\big(q(z|x)\,\|\,\mathcal N(0,I)\big)")

ds = data_picker("lt")
if ds is None:
    st.stop()
_linked = stored(url_value("proj"), kinds=(RunKind.PROJECTION.value,))
if _linked is not None and "lt_source" not in st.session_state:
    # a link to a projection (?proj=, e.g. from Runs) opens on its encoder and with its settings
    _encoder = (_linked.inputs.get("source") or {}).get("encoder")
    if _encoder == PCA:
        st.session_state["lt_source"] = PCA
    elif _encoder and not url_value("run"):
        set_url_value("run", _encoder)
    _view = lt.ProjectionSettings.from_dict(_linked.inputs.get("settings") or {})
    st.session_state.update({"lt_nn": _view.n_neighbors, "lt_md": _view.min_dist, "lt_dims": _view.dims})
    if _view.metric in lt.METRICS:
        st.session_state["lt_metric"] = _view.metric
# The encoder picker stays above the sections: every section (and presentation mode's one-at-a-time view) needs it.
source = pick_source(ds, "lt_source")
show = page_sections("latent", SECTIONS)
enc = source.encoder
x, labels = shown_rows(ds)
cond_labels = labels if getattr(enc, "conditional", False) else None
try:
    codes = codes_of(source.cache_key, array_digest(x), enc, x, cond_labels)
except (DataError, ValueError) as exc:
    st.error(f"Cannot encode these rows with {md(source.label)}: {md(exc)}")
    st.stop()
std = ds.train.std(axis=0)
err = lt.reconstruction_error(enc, x, cond_labels, scale=np.where(std > 0, std, 1.0))  # digits: blank pixels
scale = np.where(std > 0, std, 1.0)
baseline = None if source.key == PCA else pca_encoder(ds, codes.shape[1])

if show("The encoder"):
    train_controls(ds, "lt")
    c = st.columns(4)
    c[0].metric("rows shown", f"{len(x):,}")
    c[1].metric("code size", codes.shape[1], f"from {ds.n_features} columns", delta_color="off")
    c[2].metric("reconstruction error", f"{err.mean():.3f}", "mean squared, in training std units",
                delta_color="off")
    if baseline is not None:
        pca_err = float(lt.reconstruction_error(baseline, x, scale=scale).mean())
        c[3].metric("PCA, same code size", f"{pca_err:.3f}",
                    f"{'better' if err.mean() < pca_err else 'worse'}: the model's error is "
                    f"{err.mean() / pca_err:.2f}×",
                    delta_color="off", help="the linear baseline: PCA keeping as many components as the model's code")
    if source.key == PCA:
        st.plotly_chart(figures.latent.explained_variance_figure(enc.explained_variance_ratio), key="lt_scree")


# --------------------------------------------------------------------------------------------- projection
def _projection_section() -> None:
    """UMAP of the codes beside PCA, with the projector: one selection for both views, search, neighbours."""
    st.markdown(
        "UMAP draws the codes in 2-D (or 3-D) so that points that are neighbours among the codes stay neighbours "
        "on the screen. **Neighbours per point** (UMAP's n_neighbors) sets how local that notion is (small: fine "
        "clusters, large: the global layout); **minimum distance** how tightly points may pack. Distances "
        "*between* clusters on a UMAP plot mean little; PCA's axes are honest but linear.")
    st.latex(r"\min_{Y}\ \sum_{i,j} \Big[ v_{ij}\log\frac{v_{ij}}{w_{ij}} + (1-v_{ij})\log\frac{1-v_{ij}}{1-w_{ij}}"
             r"\Big],\quad w_{ij} = \big(1 + a\lVert y_i-y_j\rVert^{2b}\big)^{-1}")
    with st.form("lt_umap_form"):
        c = st.columns(4)
        n_neighbors = int(param_widget(NEIGHBORS, "lt", where=c[0]))
        min_dist = float(param_widget(MIN_DIST, "lt", where=c[1]))
        metric = param_widget(METRIC, "lt", where=c[2])
        dims = int(param_widget(DIMS, "lt", where=c[3]))
        projected = st.form_submit_button("Project", type="primary",
                                          help="a background job; its embedding is kept in the run store (?proj=)")
    if not lt.umap_ready():
        st.caption("UMAP is still warming up in the background (numba compiles it once per process, 10+ s).")
    proj, proj_job, proj_note = _projection(lt.ProjectionSettings(n_neighbors=n_neighbors, min_dist=min_dist,
                                                                  metric=metric, dims=dims), projected)
    _projector(proj, proj_job, proj_note)


def _projection(view_settings: lt.ProjectionSettings, projected: bool) -> tuple[dict | None, object, str]:
    """The projection shown: a run of the store named in the address (?proj=<run id>), the job this session
    started (drawn from its result as soon as it is done) or a stored run (its arrays, nothing recomputed).
    Returns (arrays or None, the job followed or None, a note on where the arrays came from)."""
    manager, store = job_manager(), run_store()
    proj_source = lt.projection_source(source.run_id or source.key, ds.name, ds.params, int(codes.shape[1]))
    rows_shown = shown_index(len(ds.train) + len(ds.test))

    def _same_rows(arrays: dict) -> bool:
        """A projection drawn here must be of exactly the rows shown (the same count, and the same subset if any)."""
        emb, rows = arrays.get("embedding"), arrays.get("rows")
        if emb is None or len(emb) != len(codes):
            return False
        return (rows is None) == (rows_shown is None) and (rows is None or np.array_equal(rows, rows_shown))

    if projected:
        found = lt.find_projection(store.list(kinds=(RunKind.PROJECTION.value,)), proj_source, view_settings,
                                   len(codes))
        same = [j for j in manager.jobs() if isinstance(j.spec, lt.ProjectionTask) and j.spec.source == proj_source
                and j.spec.view == view_settings and len(j.spec.codes) == len(codes) and j.status in
                (JobStatus.QUEUED, JobStatus.RUNNING)]
        if found is not None:   # the same source and settings were projected before: show that run
            set_url_value("proj", found)
            st.session_state.pop("lt_proj_pending", None)
        elif same:             # already being computed (a second press)
            st.session_state["lt_proj_pending"] = same[-1].id
        else:
            v = view_settings
            how = f"{v.n_neighbors} neighbours, minimum distance {v.min_dist:g}" + \
                ("" if v.metric == lt.METRICS[0] else f", {v.metric} distance") + (", 3-D" if v.dims == 3 else "")
            job = submit_job(lt.ProjectionTask(codes, proj_source, view_settings, rows=rows_shown,
                                               name=f"UMAP of {source.label.split(' (')[0]} on {ds.name} ({how})"))
            if job is not None:
                st.session_state["lt_proj_pending"] = job.id
                set_url_value("proj", None)

    def _of_these_codes(job: object) -> bool:
        """A projection job of the encoder and rows shown now (not of the encoder shown before a change)."""
        spec = getattr(job, "spec", None)
        return isinstance(spec, lt.ProjectionTask) and spec.source == proj_source and len(spec.codes) == len(codes)

    pending_id = st.session_state.get("lt_proj_pending")
    proj_job = next((j for j in manager.jobs() if j.id == pending_id), None) if pending_id else None
    if proj_job is not None and not _of_these_codes(proj_job):
        proj_job = None
        st.session_state.pop("lt_proj_pending", None)
    if proj_job is not None and proj_job.run_id:
        set_url_value("proj", proj_job.run_id)   # all a reload or a link needs
    proj_id = url_value("proj")
    if proj_job is None and proj_id:
        proj_job = manager.find_run(proj_id)
        if proj_job is not None and not _of_these_codes(proj_job):
            proj_job, proj_id = None, None
            set_url_value("proj", None)   # a projection of the encoder shown before: not of these codes
    proj: dict | None = None      # the arrays drawn: embedding, pca (2-D), rows
    proj_note = ""
    if proj_job is not None and not proj_job.status.finished:
        follow_job(proj_job, with_steps=False)   # the whole page reruns when it ends: the projection is drawn
    elif proj_job is not None:
        snap = proj_job.snapshot()
        st.session_state.pop("lt_proj_pending", None)
        if snap.status is JobStatus.DONE and proj_job.result is not None:
            proj, info = proj_job.result.arrays, proj_job.result.summary
            how = "from the cache" if info.get("cached") else f"fitted in {float(info.get('seconds', 0.0)):.1f} s"
            proj_note = f"UMAP: {how} (run {snap.run_id or proj_job.id})"
        elif snap.status is JobStatus.FAILED:
            st.error(f"The projection failed: {md(snap.error)}")
        else:
            st.warning(f"The projection was {snap.status.value} before UMAP finished: press **Project** again.")
    elif proj_id:
        record = stored(proj_id, kinds=(RunKind.PROJECTION.value,))
        if record is None:
            not_found("projection", proj_id, "proj")
        elif record.inputs.get("source") != proj_source:
            set_url_value("proj", None)   # a projection of another encoder (the encoder was changed): not these codes
        elif record.status == JobStatus.FAILED.value:
            st.error(f"The projection {record.id} failed: {md(record.error)}")
        elif record.status != JobStatus.DONE.value:
            st.warning(f"The projection {record.id} was {record.status} before UMAP finished: press **Project** again.")
        elif "embedding" not in results(proj_id) or not _same_rows(results(proj_id)):
            not_found("projection", proj_id, "proj")
        else:
            proj = results(proj_id)
            proj_note = f"UMAP: from the store (run {record.id}, {fmt_time(record.created)})"
    if proj is None and proj_job is None and not url_value("proj"):   # the same source and settings may be stored
        found = lt.find_projection(store.list(kinds=(RunKind.PROJECTION.value,)), proj_source, view_settings,
                                   len(codes))
        if found is not None and _same_rows(results(found)):
            proj = results(found)
            proj_note = f"UMAP: from the store (run {found})"
            set_url_value("proj", found)
    return proj, proj_job, proj_note


def _reset_projector(n: int) -> None:
    """Forget the selection, the picked point and the search when the rows shown change (other data or encoder
    with fewer rows): row numbers of other rows mean nothing here."""
    scope = f"{ds.name}:{n}"
    if st.session_state.get("lt_sel_scope") != scope:
        st.session_state["lt_sel_scope"] = scope
        st.session_state["lt_sel"] = lt.Selection()
        st.session_state["lt_focus"] = None
        st.session_state.pop("lt_search_note", None)


def _clear_selection() -> None:
    """The Clear button: no selection, no picked point, an empty search box."""
    st.session_state["lt_sel"] = lt.Selection()
    st.session_state["lt_focus"] = None
    st.session_state["lt_search"] = ""
    st.session_state.pop("lt_search_note", None)


def _search(labels: np.ndarray | None, n: int) -> None:
    """The search box changed: select what it names in both views (one row searched is also the picked point)."""
    text = st.session_state.get("lt_search", "")
    found = lt.parse_search(text, labels, n)
    st.session_state.pop("lt_search_note", None)
    if found.error:
        st.session_state["lt_search_note"] = found.error
    if not text.strip():
        return
    st.session_state["lt_sel"] = lt.Selection.of(found.rows, f"search “{text.strip()}”: {found.description}"
                                                 if not found.empty else "")
    if len(found.rows) == 1 and found.description.startswith("row "):
        st.session_state["lt_focus"] = int(found.rows[0])


def _take_chart_selection(n: int) -> None:
    """A box, lasso or click in either view (the chart's value under its key, before it is drawn again) becomes
    the shared selection; one clicked point is also the picked point. The chart is drawn anew with the highlights,
    so its own selection resets: a selection already taken is not taken twice."""
    event = st.session_state.get("lt_view")
    rows = lt.rows_from_event(event, n)
    if not rows:
        st.session_state["lt_sel_seen"] = []
        return
    if rows == st.session_state.get("lt_sel_seen"):
        return
    st.session_state["lt_sel_seen"] = rows
    selection = (event or {}).get("selection", {}) if isinstance(event, dict) else getattr(event, "selection", {})
    gesture = "box" if selection.get("box") else "lasso" if selection.get("lasso") else "click"
    panels = st.session_state.get("lt_view_panels") or []
    curves = {p.get("curve_number") for p in selection.get("points", []) if isinstance(p, dict)}
    views = sorted({panels[c] for c in curves if isinstance(c, int) and c < len(panels)})
    where = f" in the {' and '.join(views)} view" if views else ""
    st.session_state["lt_sel"] = lt.Selection.of(rows, f"{gesture}{where}")
    if len(rows) == 1 and gesture == "click":
        st.session_state["lt_focus"] = rows[0]


@st.fragment
def _projector(proj: dict | None, proj_job: object, proj_note: str) -> None:
    """The linked views (PCA, and UMAP once projected), the search box, the selection and the neighbours. A
    fragment: a box, a click or a search reruns only this part (about a second), not the whole page."""
    n = len(codes)
    color_options = (["label"] if labels is not None else []) + ["reconstruction error"] + list(ds.columns)[:50]
    color_by = urlstate.choice("colour by", color_options, "lt_color")
    if color_by == "label":
        color = labels
    elif color_by == "reconstruction error":
        color = err
    else:
        color = x[:, list(ds.columns).index(color_by)]
    hover = {"image": figures.latent.ascii_images(x, ds.image_shape)} if ds.image_shape and \
        len(ds.image_shape) == 2 else {c: x[:, j] for j, c in enumerate(list(ds.columns)[:6])}
    if labels is not None:
        hover = {"label": labels, **hover}

    _reset_projector(n)
    _take_chart_selection(n)
    st.markdown("**Explore the points.** Select with the box or lasso in either view: the same rows stand out in "
                "both, the others fade. Click a point (or type its row) to list and draw its nearest neighbours "
                "among the codes.")
    c = st.columns([3, 1])
    c[0].text_input("Search by label or row", key="lt_search", on_change=_search, args=(labels, n),
                    placeholder="7, label 7, #123 or row 123", help=f"Type {lt.SEARCH_HELP}.")
    c[1].button("Clear selection", key="lt_clear", on_click=_clear_selection, use_container_width=True,
                help="forget the selection, the picked point and the search")
    if st.session_state.get("lt_search_note"):
        st.warning(st.session_state["lt_search_note"])
    c = st.columns([1, 2, 2])
    if not (st.session_state.get("lt_focus") is None or 0 <= int(st.session_state["lt_focus"]) < n):
        st.session_state["lt_focus"] = None
    focus = c[0].number_input("picked point (row)", min_value=0, max_value=n - 1, value=None, step=1, key="lt_focus",
                              placeholder="click a point",
                              help="the point whose nearest neighbours are listed and drawn; clicking a point in "
                                   "either view picks it")
    k = int(param_widget(replace(K_NEAR, range=(1, min(50, n - 1))), "lt", where=c[1]))
    near_metric = param_widget(NEAR_METRIC, "lt", where=c[2])
    near = None if focus is None else lt.nearest_neighbours(codes, int(focus), k, labels, near_metric)
    sel: lt.Selection = st.session_state["lt_sel"].valid_for(n)

    umap = np.asarray(proj["embedding"]) if proj is not None else None
    pca2 = lt.embed(codes, "pca", n_components=2)
    fig = figures.latent.projector_views(pca2, umap, color=color, color_label=color_by, hover=hover,
                                         selected=sel.rows, focus=None if focus is None else int(focus),
                                         neighbours=None if near is None else near.rows)
    fig.update_layout(hoverlabel=dict(font_family="monospace"))  # the digit drawn in shade characters
    st.session_state["lt_view_panels"] = figures.latent.view_names(fig)
    st.plotly_chart(fig, key="lt_view", on_select="rerun", selection_mode=("points", "box", "lasso"))
    if proj is not None:
        st.caption(f"{proj_note} · {len(codes):,} codes of size {codes.shape[1]}.")
    elif proj_job is None:
        st.info("Press **Project** to draw UMAP beside PCA: it runs in the background (the first of a process "
                "compiles for a few seconds) and its embedding is kept, so a reload or a link shows it again.")

    if sel:
        rows = np.array(sel.rows)[:32]
        st.markdown(f"**{len(sel.rows):,} selected** ({md(sel.how)}) — first {len(rows)}: input (top) and its "
                    "reconstruction (bottom)")
        recon = lt.reconstruct(enc, x[rows], None if cond_labels is None else cond_labels[rows])
        if ds.image_shape:
            lo, hi = pixel_range(ds) or (None, None)
            both = np.concatenate([x[rows], np.clip(recon, lo, hi)])
            st.plotly_chart(figures.latent.image_strip(both, ds.image_shape, n_cols=len(rows), vmax=hi,
                                                     col_captions=[f"#{r}" for r in rows],
                                                     row_captions=["input", "decoded"]), key="lt_sel_imgs")
        else:
            st.dataframe(pd.DataFrame(np.vstack([x[rows], recon]), columns=ds.columns)
                         .assign(row=np.concatenate([rows, rows]),
                                 kind=["input"] * len(rows) + ["decoded"] * len(rows)),
                         key="lt_sel_table", hide_index=True)
    if near is not None:
        st.markdown(f"**The {len(near.rows)} nearest neighbours of row {near.row}** in the code space "
                    f"({near_metric} distance between codes, nearest first; UMAP only approximates these distances)")
        if ds.image_shape:
            rows = np.concatenate([[near.row], near.rows])
            caps = [f"#{near.row} (picked)"] + [f"#{r} · {d:.2g}" for r, d in zip(near.rows, near.distances)]
            st.plotly_chart(figures.latent.image_strip(x[rows], ds.image_shape, col_captions=caps,
                                                     vmax=(pixel_range(ds) or (None, None))[1]), key="lt_near_imgs")
        st.dataframe(near.table(), key="lt_near_table", hide_index=True)

    columns = {f"code z{i}": codes[:, i] for i in range(codes.shape[1])}
    columns.update({"PCA x": pca2[:, 0], "PCA y": pca2[:, 1]})
    if umap is not None:
        columns.update({f"UMAP {a}": umap[:, i] for i, a in enumerate("xyz"[:umap.shape[1]])})
    table = pd.DataFrame(columns).assign(label=labels if labels is not None else MISSING,
                                         **{"in the selection": np.isin(np.arange(n), sel.rows)})
    st.download_button("Codes and views (CSV)", table.pipe(csv_bytes), "latent_codes.csv", "text/csv", key="lt_dl",
                       help="one line per row shown: its code, where each view draws it, its label, and whether "
                            "it is in the selection")


if show("The codes, drawn: PCA beside UMAP"):
    _projection_section()

# --------------------------------------------------------------------------------------------- arithmetic
if show("Walking in the latent space"):
    st.markdown(
        "Decode points *between* two codes: a smooth morph means the code space is continuous, a jump or a blur "
        "means the model left holes there (a VAE's KL term exists to fill them). A **traversal** moves one "
        "coordinate and keeps the rest: what does that single number control? *Slerp* follows the sphere where "
        "Gaussian codes live instead of cutting through its low-density middle.")
    st.latex(r"z_t = (1-t)\,z_a + t\,z_b \qquad \text{slerp: } z_t = \frac{\sin((1-t)\Omega)}{\sin\Omega}z_a + "
             r"\frac{\sin(t\Omega)}{\sin\Omega}z_b")
    c = st.columns(4)
    n = len(x)
    row_a_p = replace(ROW_A, range=(0, n - 1))
    urlstate.keep_valid(row_a_p, "lt_row_a")   # fewer rows than before (other data): back to the default
    row_a = int(param_widget(row_a_p, "lt", where=c[0]))
    default_b = int(np.flatnonzero(labels != labels[row_a])[0]) if labels is not None and \
        np.any(labels != labels[row_a]) else min(1, n - 1)
    row_b_p = replace(ROW_B, default=default_b, range=(0, n - 1))
    urlstate.keep_valid(row_b_p, "lt_row_b")
    row_b = int(param_widget(row_b_p, "lt", where=c[1]))
    mode = param_widget(PATH, "lt", where=c[2])
    steps = int(param_widget(STEPS, "lt", where=c[3]))
    clip = pixel_range(ds)
    lab_a = None if cond_labels is None else int(cond_labels[row_a])
    path = lt.interpolate(codes[row_a], codes[row_b], steps, mode, label=lab_a)
    decoded = lt.decode(enc, path.z, path.labels, clip=clip)
    if ds.image_shape:
        st.plotly_chart(figures.latent.image_strip(decoded, ds.image_shape, col_captions=path.captions,
                                                 vmax=clip[1] if clip else None), key="lt_interp")
    else:
        st.dataframe(pd.DataFrame(decoded, columns=ds.columns).assign(t=path.captions), key="lt_interp_table")

    c = st.columns(2)
    dim_p = replace(CODE_DIM, range=(0, codes.shape[1] - 1))
    urlstate.keep_valid(dim_p, "lt_dim")   # a smaller code than before (another encoder): back to z0
    dim = int(param_widget(dim_p, "lt", where=c[0]))
    spread = float(np.std(codes[:, dim])) or 1.0
    values = np.linspace(-3, 3, 9) * spread + float(np.mean(codes[:, dim]))
    trav = lt.traverse(codes[row_a], dim, values, label=lab_a)
    decoded = lt.decode(enc, trav.z, trav.labels, clip=clip)
    c[1].caption(f"z{dim} from −3 to +3 standard deviations of its codes ({spread:.2g}), the other coordinates "
                 f"those of row A.")
    if ds.image_shape:
        st.plotly_chart(figures.latent.image_strip(decoded, ds.image_shape, col_captions=trav.captions,
                                                 vmax=clip[1] if clip else None), key="lt_trav")
    else:
        st.dataframe(pd.DataFrame(decoded, columns=ds.columns).assign(value=trav.captions), key="lt_trav_table")
    if getattr(enc, "conditional", False) and ds.image_shape:
        st.markdown("**Conditional VAE: the same code, every class.** The label says *which* digit; the code keeps "
                    "*how* it is written (slant, thickness), so each row should share a style.")
        rows_cls = lt.class_rows(codes[row_a], enc.n_classes)
        st.plotly_chart(figures.latent.image_strip(lt.decode(enc, rows_cls.z, rows_cls.labels, clip=clip),
                                                 ds.image_shape, col_captions=rows_cls.captions,
                                                 vmax=clip[1] if clip else None), key="lt_classes")

# --------------------------------------------------------------------------------------------- clusters
if show("Do the codes separate the classes?"):
    if labels is None:
        st.info("These data have no labels, so cluster purity cannot be measured; colour the views by a column.")
        st.stop()
    st.markdown(
        f"{cite('astro_lecture', capital=True)}'s table: cluster the codes without looking at the labels, then "
        "read each cluster's share of every label. A pure cluster holds one class; purity 1 means the codes alone "
        "sort the classes. The adjusted Rand index is 0 for a random clustering and 1 for a perfect one.")
    st.latex(r"\text{purity} = \frac{1}{n}\sum_{c}\max_{\ell}\,\#\{i \in c : y_i = \ell\}")
    c = st.columns(2)
    k = int(param_widget(replace(CLUSTERS, default=min(max(int(ds.n_classes or 10), 2), 30)), "lt", where=c[0]))
    method = param_widget(CLUSTERING, "lt", where=c[1])
    report = lt.cluster_report(codes, labels, k=k, method=method)
    c = st.columns(4)
    c[0].metric("purity", f"{report.purity:.3f}")
    if baseline is not None:
        base_codes = lt.latent_codes(baseline, x)
        base_purity = lt.cluster_report(base_codes, labels, k=k, method=method).purity
        c[3].metric("PCA, same code size: purity", f"{base_purity:.3f}",
                    help="the same clustering on the linear baseline's codes")
    c[1].metric("adjusted Rand index", f"{report.ari:.3f}")
    c[2].metric("normalised mutual information", f"{report.nmi:.3f}")
    st.plotly_chart(figures.latent.purity_heatmap(report.table), key="lt_purity")
    shares = plain_columns(report.table.rename(columns=str), extra=PURITY_COLUMNS, keep=[str(c) for c in
                                                                                  report.table.columns
                                                                                  if c not in PURITY_COLUMNS])
    st.download_button("Cluster × label table (CSV)", shares.rename_axis("cluster").pipe(csv_bytes, index=True),
                       "cluster_purity.csv", "text/csv", key="lt_purity_dl",
                       help="one line per cluster: the share of each label in it, its majority label, size and purity")
