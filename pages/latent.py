"""Latent-space explorer (seed 003): how can data be represented more efficiently? Encode every row with an
autoencoder-type model (or PCA, the linear baseline), look at the codes with UMAP, walk between them, and check
how well they separate the classes. Thin: genlib.latent does the work, genlib.figures.latent draws."""
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
from genlib.store import JobStatus, RunKind
from pages import urlstate
from pages.text import md
from pages.addressing import not_found, results, set_url_value, stored, url_value
from pages.common import csv_bytes, ensure_app_shell, fmt_time, follow_job, job_manager, param_widget, run_store, \
    submit_job
from pages.presets_ui import page_state
from pages.latent_common import (PCA, codes_of, data_picker, pca_encoder, pick_source, pixel_range, shown_index,
                                 shown_rows, train_controls)

ensure_app_shell()

# The page's settings; each widget's value lives in the address under its key ("lt_" + the name: ``?lt_nn=30``).
# The projection form (a ``?proj=`` link to a stored projection sets these four from its settings instead).
_UMAP = lt.ProjectionSettings()
NEIGHBORS = Param("nn", _UMAP.n_neighbors, "", range=(2, 100), widget="slider", label="n_neighbors")
MIN_DIST = Param("md", _UMAP.min_dist, "", range=(0.0, 0.99), widget="slider", step=0.01, label="min_dist")
METRIC = Param("metric", lt.METRICS[0], "", choices=tuple(lt.METRICS))
DIMS = Param("dims", 2, "", choices=(2, 3), widget="radio", label="dimensions")
# Walking in the latent space (the rows' range, row B's default and the code dimensions depend on the data)
ROW_A = Param("row_a", 0, "", range=(0, 0), label="row A")
ROW_B = Param("row_b", 0, "", range=(0, 0), label="row B")
PATH = Param("mode", "linear", "", choices=("linear", "slerp"), widget="radio", label="path")
STEPS = Param("interp_steps", 10, "", range=(3, 16), widget="slider", label="steps")
CODE_DIM = Param("dim", 0, "", range=(0, 0), widget="slider", label="traverse code dimension")
# Clusters (K's default: the data's number of classes)
CLUSTERS = Param("k", 10, "", range=(2, 30), widget="slider", label="clusters")
CLUSTERING = Param("cluster_method", lt.CLUSTER_METHODS[0], "", choices=tuple(lt.CLUSTER_METHODS), widget="radio",
                   label="clustering")
lt.warm_up_umap()  # no-op after the first call; app.py starts it too

st.title("Latent-space explorer")
page_state("latent")
st.markdown(
    "An **autoencoder** squeezes each row x through a few numbers z = f(x) (the *code*) and rebuilds it as "
    "g(z); what survives the squeeze is what the data are made of. **PCA** does the same with a linear f and g "
    "— the baseline seed 003 starts from. A **VAE** also asks the codes to look like draws from N(0, I), so "
    "that decoding a fresh z gives a new row. With 64 pixels per digit and a handful of codes, can you see the "
    "ten digits in the codes?")
c = st.columns(3)
c[0].latex(r"\text{PCA: } z = W^\top(x-\mu),\ \hat x = \mu + Wz")
c[1].latex(r"\text{AE: } \min_{f,g}\ \lVert x - g(f(x)) \rVert^2")
c[2].latex(r"\text{VAE: } \mathbb{E}_{q(z|x)}[\log p(x|z)] - \mathrm{KL}(q(z|x)\,\|\,\mathcal N(0,I))")

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
st.subheader("1 · The encoder")
train_controls(ds, "lt")
source = pick_source(ds, "lt_source")
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
c = st.columns(4)
c[0].metric("rows shown", f"{len(x):,}")
c[1].metric("code size", codes.shape[1], f"from {ds.n_features} columns", delta_color="off")
c[2].metric("reconstruction error", f"{err.mean():.3f}", "mean squared, in training std units", delta_color="off")
if baseline is not None:
    pca_err = float(lt.reconstruction_error(baseline, x, scale=scale).mean())
    c[3].metric("PCA, same code size", f"{pca_err:.3f}",
                f"{'better' if err.mean() < pca_err else 'worse'}: the model's error is {err.mean() / pca_err:.2f}×",
                delta_color="off", help="the linear baseline: PCA keeping as many components as the model's code")
if source.key == PCA:
    st.plotly_chart(figures.latent.explained_variance_figure(enc.explained_variance_ratio), key="lt_scree")

# --------------------------------------------------------------------------------------------- projection
st.subheader("2 · UMAP of the codes, beside PCA")
st.markdown(
    "UMAP draws the codes in 2-D (or 3-D) so that points that are neighbours among the codes stay neighbours "
    "on the screen. **n_neighbors** sets how local that notion is (small: fine clusters, large: the global "
    "layout); **min_dist** how tightly points may pack. Distances *between* clusters on a UMAP plot mean "
    "little; PCA's axes are honest but linear.")
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

# The projection shown is a run of the store named in the address (?proj=<run id>): the job this session started
# (drawn from its result as soon as it is done) or a stored run (its arrays, nothing recomputed).
manager, store = job_manager(), run_store()
view_settings = lt.ProjectionSettings(n_neighbors=n_neighbors, min_dist=min_dist, metric=metric, dims=dims)
proj_source = lt.projection_source(source.run_id or source.key, ds.name, ds.params, int(codes.shape[1]))
rows_shown = shown_index(len(ds.train) + len(ds.test))


def _same_rows(arrays: dict) -> bool:
    """A projection drawn here must be of exactly the rows shown (the same count, and the same subset if any)."""
    emb, rows = arrays.get("embedding"), arrays.get("rows")
    if emb is None or len(emb) != len(codes):
        return False
    return (rows is None) == (rows_shown is None) and (rows is None or np.array_equal(rows, rows_shown))


if projected:
    found = lt.find_projection(store.list(kinds=(RunKind.PROJECTION.value,)), proj_source, view_settings, len(codes))
    same = [j for j in manager.jobs() if isinstance(j.spec, lt.ProjectionTask) and j.spec.source == proj_source
            and j.spec.view == view_settings and len(j.spec.codes) == len(codes) and j.status in
            (JobStatus.QUEUED, JobStatus.RUNNING)]
    if found is not None:   # the same source and settings were projected before: show that run
        set_url_value("proj", found)
        st.session_state.pop("lt_proj_pending", None)
    elif same:             # already being computed (a second press)
        st.session_state["lt_proj_pending"] = same[-1].id
    else:
        job = submit_job(lt.ProjectionTask(codes, proj_source, view_settings, rows=rows_shown,
                                           name=f"UMAP of {source.label.split(' (')[0]} on {ds.name}"))
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
    found = lt.find_projection(store.list(kinds=(RunKind.PROJECTION.value,)), proj_source, view_settings, len(codes))
    if found is not None and _same_rows(results(found)):
        proj = results(found)
        proj_note = f"UMAP: from the store (run {found})"
        set_url_value("proj", found)

color_options = (["label"] if labels is not None else []) + ["reconstruction error"] + list(ds.columns)[:50]
color_by = urlstate.choice("colour by", color_options, "lt_color")
if color_by == "label":
    color = labels
elif color_by == "reconstruction error":
    color = err
else:
    color = x[:, list(ds.columns).index(color_by)]
hover = {"image": figures.latent.ascii_images(x, ds.image_shape)} if ds.image_shape and len(ds.image_shape) == 2 \
    else {c: x[:, j] for j, c in enumerate(list(ds.columns)[:6])}
if labels is not None:
    hover = {"label": labels, **hover}

if proj is not None:
    coords = np.asarray(proj["embedding"])
    dims_shown = coords.shape[1]
    st.caption(f"{proj_note} · {len(codes):,} codes of size {codes.shape[1]}. Select points (lasso or box) to see "
               f"them decoded.")
    if dims_shown == 2 and "pca" in proj:
        fig = figures.latent.embedding_pair(np.asarray(proj["pca"]), coords, color=color, color_label=color_by,
                                            hover=hover)
    else:
        title = "UMAP (3-D, drag to rotate)" if dims_shown == 3 else "UMAP"
        fig = figures.latent.embedding_scatter(coords, color=color, color_label=color_by, hover=hover, title=title)
    fig.update_layout(hoverlabel=dict(font_family="monospace"))  # the digit drawn in shade characters
    event = st.plotly_chart(fig, key="lt_view", on_select="rerun", selection_mode=("points", "box", "lasso"))
    picked = figures.latent.selected_rows(event)
    if picked:
        rows = np.array(sorted(picked))[:32]
        st.markdown(f"**{len(picked)} selected** — first {len(rows)}: input (top) and its reconstruction (bottom)")
        recon = lt.reconstruct(enc, x[rows], None if cond_labels is None else cond_labels[rows])
        if ds.image_shape:
            lo, hi = pixel_range(ds) or (None, None)
            both = np.concatenate([x[rows], np.clip(recon, lo, hi)])
            st.plotly_chart(figures.latent.image_strip(both, ds.image_shape, n_cols=len(rows), vmax=hi,
                                                     row_captions=["input", "decoded"]), key="lt_sel_imgs")
        else:
            st.dataframe(pd.DataFrame(np.vstack([x[rows], recon]), columns=ds.columns)
                         .assign(kind=["input"] * len(rows) + ["decoded"] * len(rows)), key="lt_sel_table")
    st.download_button("Codes and embedding (CSV)",
                       pd.DataFrame(np.column_stack([codes, coords]),
                                    columns=[f"z{i}" for i in range(codes.shape[1])]
                                    + [f"umap{i + 1}" for i in range(dims_shown)])
                       .assign(label=labels if labels is not None else np.nan).pipe(csv_bytes),
                       "latent_codes.csv", "text/csv", key="lt_dl")
elif proj_job is None:
    st.info("Press **Project** to draw the codes: UMAP runs in the background (the first of a process compiles for "
            "a few seconds) and its embedding is kept, so a reload or a link shows it again.")

# --------------------------------------------------------------------------------------------- arithmetic
st.subheader("3 · Walking in the latent space")
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
st.subheader("4 · Do the codes separate the classes?")
if labels is None:
    st.info("These data have no labels, so cluster purity cannot be measured; colour the views by a column.")
    st.stop()
st.markdown(
    "Seed 003's table: cluster the codes without looking at the labels, then read each cluster's share of "
    "every label. A pure cluster holds one class; purity 1 means the codes alone sort the classes. The "
    "adjusted Rand index is 0 for a random clustering and 1 for a perfect one.")
st.latex(r"\text{purity} = \frac{1}{n}\sum_{c}\max_{\ell}\,\#\{i \in c : y_i = \ell\}")
c = st.columns(2)
k = int(param_widget(replace(CLUSTERS, default=min(max(int(ds.n_classes or 10), 2), 30)), "lt", where=c[0]))
method = param_widget(CLUSTERING, "lt", where=c[1])
report = lt.cluster_report(codes, labels, k=k, method=method)
c = st.columns(4)
c[0].metric("purity", f"{report.purity:.3f}")
if baseline is not None:
    base_codes = lt.latent_codes(baseline, x)
    c[3].metric("PCA, same code size: purity", f"{lt.cluster_report(base_codes, labels, k=k, method=method).purity:.3f}",
                help="the same clustering on the linear baseline's codes")
c[1].metric("adjusted Rand index", f"{report.ari:.3f}")
c[2].metric("normalised mutual information", f"{report.nmi:.3f}")
st.plotly_chart(figures.latent.purity_heatmap(report.table), key="lt_purity")
st.download_button("Cluster × label table (CSV)", report.table.pipe(csv_bytes, index=True), "cluster_purity.csv",
                   "text/csv", key="lt_purity_dl")
