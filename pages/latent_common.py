"""What the Latent explorer and the Density page share: the data set, the encoder (a model trained here, a stored
run, or the PCA baseline) and the codes of every row. The encoder shown is named in the page's address
(``?run=<run id>``; none for PCA), so a reload or a link shows it again; ``st.session_state["latent_source"]`` only
caches the last choice, so the Density page opens on the encoder the explorer showed last."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st

from genlib import catalog
from genlib import latent as lt
from genlib.data import Dataset
from genlib.cache import array_digest
from genlib.models import REGISTRY, Capability, models_with
from genlib.models.fitted import FittedModel
from genlib.train import Job, TrainSpec
from pages import addressing, urlstate
from pages.text import md
from pages.addressing import load_model, url_select
from pages.common import (config_widgets, dataset_picker, job_manager, page_jobs, run_store, start_page_job,
                          train_setting)

PCA = "pca"
DEFAULT_STEPS = 3000
MAX_ROWS = 5000  # rows encoded and shown; UMAP on more is slow on a laptop


@dataclass
class Source:
    """One encoder the user can pick: ``key`` is "pca", "job:<id>" or "run:<id>"."""

    key: str
    label: str
    encoder: Any           # genlib.latent Encoder (ModelEncoder or PCAEncoder)
    fitted: FittedModel | None
    run_id: str | None = None  # the run in the store (a live job's once it has started); None for PCA

    @property
    def cache_key(self) -> str:
        """What derived results (codes, projections) are cached under: the run id when there is one."""
        return f"run:{self.run_id}" if self.run_id else self.key


def data_picker(prefix: str) -> Dataset | None:
    """The data set (digits by default), shared by both pages through the widget key prefix."""
    return dataset_picker(prefix, default="digits")


@st.cache_resource(show_spinner="Fitting PCA…", max_entries=8)
def _pca(fp: str, _x: np.ndarray, k: int) -> Any:
    return lt.fit_pca(_x, n_components=k)


def pca_encoder(ds: Dataset, k: int) -> Any:
    """PCA with k components (at most min(columns, rows)) on the training rows, cached per (data, k): the
    baseline source, and the same-size linear twin shown beside a model."""
    k = int(min(k, ds.n_features, len(ds.train)))
    return _pca(array_digest(ds.train), ds.train, k)


def sources(ds: Dataset) -> dict[str, Source]:
    """PCA (always), then every finished run on these data with an encoder: jobs of this process and stored runs
    (from the one run catalog, genlib.catalog)."""
    pca = pca_encoder(ds, 16)
    out = {PCA: Source(PCA, f"PCA ({pca.latent_dim} components) — the linear baseline", pca, None)}
    for entry in catalog.runs_on(ds, job_manager().jobs(), run_store(), usable_only=True,
                                 capability=Capability.ENCODE):
        try:
            fitted = entry.job.fitted if entry.job is not None else load_model(entry.record.id)
        except Exception as exc:  # a corrupt or foreign checkpoint must not break the page
            st.caption(f"Stored run {entry.run_id} could not be loaded: {md(exc)}")
            continue
        where = "this session" if entry.source == "live" else "stored run"
        out[entry.key] = Source(entry.key, f"{entry.label} ({where})", lt.ModelEncoder(fitted), fitted,
                                entry.run_id)
    return out


def pick_source(ds: Dataset, key: str) -> Source:
    """A selectbox over :func:`sources`, its value in the URL (``?run=``); without one, the choice the other page
    made last. A model just trained from either page is shown once it is done."""
    options = sources(ds)
    keys = list(options)
    pending = st.session_state.get("latent_pending")
    if pending in keys:
        st.session_state.pop("latent_pending")
    shared = st.session_state.get("latent_source")
    by_run = {s.run_id: k for k, s in options.items() if s.run_id}
    choice = url_select("Encoder", keys, "run", key, format_func=lambda k: options[k].label,
                        url_of=lambda k: options[k].run_id, key_of=by_run.get,
                        prefer=pending if pending in keys else None,
                        default=shared if shared in keys else keys[-1])
    assert choice is not None  # PCA is always there
    st.session_state["latent_source"] = choice
    return options[choice]


def train_controls(ds: Dataset, prefix: str) -> None:
    """Pick an autoencoder-type model compatible with the data and train it in the background."""
    from genlib.models import compatible_models

    usable = [m for m in models_with(Capability.ENCODE) if m in compatible_models(ds.n_classes, ds.image_shape)]
    c = st.columns([2, 1, 1])
    model = urlstate.choice("Model to train", usable, f"{prefix}_model", where=c[0],
                            format_func=lambda n: f"{n} — {REGISTRY[n].label}")
    steps = int(train_setting("steps", prefix, c[1], default=DEFAULT_STEPS, step=500, range=(100, 100_000)))
    with st.expander(f"{model} settings"):
        config = config_widgets(model, f"{prefix}_{model}")
    spec = TrainSpec(model=model, dataset=ds, config=config, steps=steps, batch_size=128, eval_period_s=None,
                     name=f"{model} on {ds.name}")
    c[2].button("Train", type="primary", key=f"{prefix}_train", on_click=_start, args=(spec,))
    running = [j for j in page_jobs("latent_jobs") if not j.status.finished]
    if running:
        _progress(running[-1])


def _start(spec: TrainSpec) -> None:
    job = start_page_job(spec, "latent_jobs", "; it appears under Encoder when done.")
    if job is not None:
        st.session_state["latent_source"] = st.session_state["latent_pending"] = f"job:{job.id}"  # picked when done


def _progress(job: Job) -> None:
    @st.fragment(run_every=1.0)
    def body() -> None:
        s = job.snapshot()
        st.progress(s.fraction, text=f"{md(s.name)} — {s.status.value} · step {s.step}/{s.total}")
        if s.status.finished:
            if s.error:
                st.error(md(s.error))
            else:
                st.rerun()  # the whole page, so the new encoder joins the list

    body()


@st.cache_data(show_spinner="Encoding…", max_entries=16)
def codes_of(source_key: str, fp: str, _encoder: Any, _x: np.ndarray, _labels: np.ndarray | None) -> np.ndarray:
    """Codes of the shown rows, cached per (encoder, rows): read from a stored run's results when it kept them (a
    training run keeps the code of every row), else encoded here."""
    if source_key.startswith("run:"):
        stored = addressing.results(source_key.split(":", 1)[1]).get("latent_codes")
        if stored is not None:
            idx = shown_index(len(stored))
            codes = stored if idx is None else stored[idx]
            if len(codes) == len(_x):
                return np.asarray(codes, dtype=np.float64)
    return lt.latent_codes(_encoder, _x, _labels)


def shown_index(n: int) -> np.ndarray | None:
    """Which of ``n`` rows the views show (None: all of them): a fixed subset of MAX_ROWS when there are more."""
    if n <= MAX_ROWS:
        return None
    idx = np.random.default_rng(0).choice(n, MAX_ROWS, replace=False)
    idx.sort()
    return idx


def shown_rows(ds: Dataset) -> tuple[np.ndarray, np.ndarray | None]:
    """Every row, training then held-out (at most MAX_ROWS, a fixed subset), and their labels: what the views
    show. The held-out rows are included on purpose: they show whether unseen data land where the training
    data do."""
    x = np.concatenate([ds.train, ds.test])
    y = None if ds.labels_train is None or ds.labels_test is None else \
        np.concatenate([ds.labels_train, ds.labels_test])
    idx = shown_index(len(x))
    if idx is not None:
        x, y = x[idx], None if y is None else y[idx]
    return x, y


def pixel_range(ds: Dataset) -> tuple[float, float] | None:
    """Grey-scale bounds for decoded images (digits: 0..16), None for tabular data."""
    if ds.image_shape is None:
        return None
    return float(np.min(ds.train)), float(np.max(ds.train))
