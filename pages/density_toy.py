"""Density page, second half: parametric vs non-parametric densities on 2-D toy data (seeds 000 and 003), a flow
beside them, and a GAN's discriminator over the plane while it trains. Not a page of its own: pages/density.py
calls :func:`toy_section`."""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from genlib import density as dn
from genlib import figures
from genlib.data import Dataset
from genlib.data.toy2d import SHAPES
from genlib.models.classical import rule_of_thumb_bandwidth
from genlib.models.fitted import FittedModel
from genlib import catalog
from genlib.params import Param
from genlib.store import StoreError
from genlib.train import Job, TrainSpec
from pages import urlstate
from pages.text import md
from pages.addressing import load_model, not_found, set_url_value, url_value
from pages.common import (_builtin, csv_bytes, job_manager, page_jobs, param_widget, progress_text, run_store,
                          start_page_job)
from pages.instrument import control_strip, start_button

FLOWS = ("maf", "realnvp", "nsf")
GANS = ("gan", "wgan_gp")
SHAPE = Param("shape", "moons", "the 2-D toy distribution", choices=tuple(SHAPES), label="toy data")
POINTS = Param("n", 2000, "points drawn (80 % train, 20 % held out)", choices=(500, 1000, 2000, 5000), widget="slider",
               label="points")
NOISE = Param("noise", 0.05, "Gaussian noise added to each point", choices=(0.0, 0.02, 0.05, 0.1, 0.2),
              widget="slider")
COMPONENTS = Param("k", 8, "Gaussians in the mixture", range=(1, 20), widget="slider", label="GMM components K")
FLOW_STEPS = Param("flow_steps", 1500, "optimiser steps of the flow", range=(100, 50_000), step=500,
                   label="flow steps")
GAN_STEPS = Param("gan_steps", 3000, "optimiser steps of the GAN", range=(100, 50_000), step=500, label="steps")
STRETCH = Param("gan_stretch", True, "label smoothing and instance noise keep D near ½; stretching shows its shape",
                label="stretch colours")
GRID_N = 120  # cells per side: a KDE on a 200×200 grid takes seconds, 120 keeps a slider responsive


@st.cache_resource(show_spinner="Fitting Gaussian, GMM and KDE…", max_entries=16)
def _classical(shape: str, n: int, noise: float, k: int, h: float) -> dict[str, FittedModel]:
    ds = _dataset(shape, n, noise)
    return dn.fit_density_models(ds.train, n_components=k, bandwidth=h)


@st.cache_data(show_spinner="Scoring bandwidths…", max_entries=16)
def _sweep(shape: str, n: int, noise: float) -> pd.DataFrame:
    ds = _dataset(shape, n, noise)
    return dn.kde_bandwidth_sweep(ds.train, ds.test)


@st.cache_data(show_spinner="Evaluating densities on the grid…", max_entries=32)
def _grids(key: tuple[Any, ...], _models: dict[str, FittedModel], _grid: dn.Grid,
           _test: np.ndarray) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    """Densities on the grid and the held-out table, cached per (data, settings, flow run)."""
    dens = {name: dn.density_on_grid(m, _grid) for name, m in _models.items()}
    table = dn.heldout_table(_models, _test, grid=_grid)
    return dens, table


def _dataset(shape: str, n: int, noise: float) -> Dataset:
    return _builtin("toy2d", (("n", int(n)), ("noise", float(noise)), ("seed", 0), ("shape", shape)))


def _jobs(kind: str) -> list[Job]:
    return page_jobs(f"dn_{kind}_jobs")


def _start(kind: str, spec: TrainSpec) -> None:
    if start_page_job(spec, f"dn_{kind}_jobs") is None:
        return
    if kind == "flow":
        set_url_value("flow", None)   # show the new flow once it is done


def _flow_runs(ds: Dataset) -> list[catalog.Entry]:
    """Flows on these data that can be drawn now: finished jobs of this process and stored runs."""
    return [e for e in catalog.runs_on(ds, job_manager().jobs(), run_store(), usable_only=True) if e.model in FLOWS]


def _named_flow(flows: list[catalog.Entry]) -> catalog.Entry | None:
    """The flow run the URL names (``?flow=<run id>``); an unknown one gets one line."""
    wanted = url_value("flow")
    if wanted is None:
        return None
    hit = next((e for e in flows if e.run_id == wanted), None)
    if hit is None:
        not_found("flow run", wanted, "flow")
    return hit


def _newest(flows: list[catalog.Entry], model: str) -> catalog.Entry | None:
    """The flow shown by default: the newest of this model (a job of this process first, then a stored run)."""
    live = [e for e in flows if e.source == "live" and e.model == model]
    older = [e for e in flows if e.source == "stored" and e.model == model]
    return live[-1] if live else (older[0] if older else None)


def toy_section() -> None:
    st.markdown(
        "Four answers to *how likely is this point?* on data you can see. A **Gaussian** is one parametric guess; "
        "a **mixture** of K Gaussians bends around the shape; a **kernel density estimate** puts a bump of "
        "width h on every training point and needs no shape at all; a **normalizing flow** learns an invertible "
        "map to a Gaussian and gets an exact density by the change of variables. The table scores each on "
        "held-out points: the mean log p(x) in nats, higher is better.")
    c = st.columns(4)
    c[0].latex(r"\mathcal N(x\mid\mu,\Sigma)")
    c[1].latex(r"p(x)=\sum_{k=1}^{K}\pi_k\,\mathcal N(x\mid\mu_k,\Sigma_k)")
    c[2].latex(r"\hat p_h(x)=\frac{1}{n h^2}\sum_{i=1}^{n}K\!\left(\frac{x-x_i}{h}\right)")
    c[3].latex(r"\log p(x)=\log p_z(f(x))+\log\left|\det\frac{\partial f}{\partial x}\right|")

    c = st.columns(3)
    shape = param_widget(SHAPE, "dn", where=c[0])
    n = int(param_widget(POINTS, "dn", where=c[1]))
    noise = float(param_widget(NOISE, "dn", where=c[2]))
    ds = _dataset(shape, n, noise)
    sweep = _sweep(shape, n, noise)
    best_h = dn.best_bandwidth(sweep)
    hs = [float(h) for h in sweep["bandwidth"]]
    c = st.columns(3)
    k = int(param_widget(COMPONENTS, "dn", where=c[0]))
    h = float(param_widget(replace(urlstate.choice_param(
        "h", hs, min(hs, key=lambda v: abs(v - best_h)),
        "Too small: a spike on every point (under-smoothed); too large: one blur (over-smoothed). The star on the "
        "curve below is the held-out best.", labels={v: f"{v:.3g}" for v in hs}), widget="slider",
        label="KDE bandwidth h"), "dn", where=c[1]))
    flows = _flow_runs(ds)
    named = _named_flow(flows)
    if named is not None:   # the flow run the address names (?flow=<run id>) sets the flow choice
        st.session_state["dn_flow"] = named.model
    flow_name = urlstate.choice("flow", FLOWS, "dn_flow", where=c[2], on_change=set_url_value, args=("flow", None))

    models: dict[str, Any] = dict(_classical(shape, n, noise, k, h))
    flow = named or _newest(flows, flow_name)
    set_url_value("flow", flow.run_id if flow is not None else None)
    if flow is not None:
        try:
            models[f"flow ({flow.model})"] = flow.job.fitted if flow.job is not None else load_model(flow.run_id)
        except StoreError as exc:
            st.error(f"Cannot load flow run {flow.run_id}: {md(exc)}")
            flow = None
    grid = dn.Grid.around(ds.train, ds.test, n=GRID_N, margin=0.5, square=True)
    key = (shape, n, noise, k, h, flow.run_id or flow.key if flow is not None else None)
    dens, table = _grids(key, models, grid, ds.test)
    subtitles = {name: f"held-out {ll:.2f} nats" for name, ll in zip(table["model"], table["heldout_ll"])}
    st.plotly_chart(figures.density.density_row(dens, grid, train=ds.train, subtitles=subtitles), key="dn_row")

    left, right = st.columns([2, 3])
    with left:
        st.markdown("**Held-out log-likelihood** (nats per point; grid mass ≈ 1 checks the density is one)")
        st.dataframe(table.style.format({"heldout_ll": "{:.3f}", "heldout_ll_per_dim": "{:.3f}",
                                         "grid_integral": "{:.3f}"}).highlight_max("heldout_ll", color="#d3f9d8"),
                     hide_index=True, key="dn_table")
        st.download_button("Held-out table (CSV)", table.pipe(csv_bytes), "density_heldout.csv",
                           "text/csv", key="dn_table_dl")
        running = [j for j in _jobs("flow") if not j.status.finished]
        steps = int(param_widget(FLOW_STEPS, "dn"))
        spec = TrainSpec(model=flow_name, dataset=ds, steps=steps, batch_size=256, eval_period_s=None,
                         name=f"{flow_name} on {shape}")
        start_button(f"Train the {flow_name} flow", spec, "dn_flow_start", _start, args=("flow", spec),
                     disabled=bool(running), primary=False)
        if running:
            _flow_progress(running[-1])
        elif flow is None:
            st.caption("Train a flow to add its density to the row and the table (about 10–30 s on a laptop).")
    with right:
        scott = rule_of_thumb_bandwidth(ds.train, "scott")
        st.plotly_chart(figures.density.bandwidth_sweep_curve(sweep, marks={"your h": h, "Scott's rule": scott}),
                        key="dn_sweep")
        st.caption(f"The training curve keeps rising as h shrinks (each point scores its own spike) while the "
                   f"held-out one falls: over-fitting, made visible. Best held-out h = {best_h:.3g}; Scott's rule of thumb "
                   f"(the kde model's default) gives {scott:.3g}, tuned for one Gaussian bump, so it over-smooths "
                   "shapes like these.")
    st.divider()
    gan_section(ds, shape)


def _flow_progress(job: Job) -> None:
    @st.fragment(run_every=1.0)
    def body() -> None:
        s = job.snapshot()
        st.progress(s.fraction, text=progress_text(s))
        if s.status.finished:
            st.rerun()  # the whole section, so the finished flow joins the row

    body()


def gan_section(ds: Dataset, shape: str) -> None:
    st.markdown("#### What the discriminator sees")
    st.markdown(
        "A GAN has no density to draw, but its discriminator has an opinion on every point of the plane. For a "
        "fixed generator the best discriminator is the ratio below: it says *real* where the data have more mass "
        "than the generator and *fake* where the generator over-produces, and the generator moves its points "
        "uphill on it. Watch the colours and the orange points chase each other while it trains (the view GAN "
        "Lab made famous).")
    st.latex(r"D^*(x) = \frac{p_{\text{data}}(x)}{p_{\text{data}}(x) + p_G(x)}")
    c = st.columns(3)
    model = urlstate.choice("GAN", GANS, "dn_gan", where=c[0])
    steps = int(param_widget(GAN_STEPS, "dn", where=c[1]))
    stretch = urlstate.bind(STRETCH, "dn_gan_stretch", lambda: c[2].toggle(STRETCH.title, key="dn_gan_stretch",
                                                                           help=STRETCH.help))
    spec = TrainSpec(model=model, dataset=ds, steps=steps, batch_size=256, eval_period_s=None,
                     name=f"{model} on {shape}")
    start_button(f"Train the {model}", spec, "dn_gan_start", _start, args=("gan", spec), primary=False)
    # The GAN shown: the one the address names (?gan=<run id>), else the newest this session started, else the newest
    # stored one on these data; a live job is drawn as it trains, a stored run from its checkpoint.
    gans = [e for e in catalog.runs_on(ds, job_manager().jobs(), run_store()) if e.model in GANS]
    wanted = url_value("gan")
    entry = next((e for e in gans if e.run_id == wanted), None) if wanted else None
    if wanted and entry is None:
        not_found("GAN run", wanted, "gan")
    mine = [j.id for j in _jobs("gan") if j.spec.dataset.params == ds.params]
    if entry is None and mine:
        entry = next((e for e in reversed(gans) if e.job is not None and e.job.id == mine[-1]), None)
    if entry is None:
        entry = next((e for e in gans if e.source == "stored" and e.usable), None)
    if entry is None:
        st.info("Press the button: the discriminator's map appears here and updates every second as it trains.")
        return
    set_url_value("gan", entry.run_id)
    job = entry.job
    grid = dn.Grid.around(ds.train, n=80, margin=0.3, square=True)

    every = control_strip(job, "dn_gan") if job is not None and not job.status.finished else None

    @st.fragment(run_every=every)
    def live() -> None:
        if job is not None:
            s = job.snapshot()
            st.progress(s.fraction, text=progress_text(s))
            if every is not None and s.status.finished:
                st.rerun()   # once: the strip goes, the finished run is drawn from its final model
            if s.error:
                st.error(md(s.error))
                return
            fitted = job.fitted
        else:
            st.caption(f"Stored run {entry.run_id}: {md(entry.label)} ({entry.status}).")
            try:
                fitted = load_model(entry.run_id)
            except StoreError as exc:
                st.error(f"Cannot load GAN run {entry.run_id}: {md(exc)}")
                return
        if fitted is None:
            st.caption("Building the model…")
            return
        # critic_on_grid / generated_points use private copies: safe while the job trains (genlib.density.critic).
        values = dn.critic_on_grid(fitted, grid)
        fake = dn.generated_points(fitted, 500, seed=3)
        st.plotly_chart(figures.density.critic_heatmap(values, grid, real=ds.train[:1000], generated=fake,
                                                     kind=dn.critic_kind(fitted), stretch=stretch),
                        key=f"dn_critic_{entry.key}")

    live()
