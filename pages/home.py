"""Home: what GenLab is, the built-in data at a glance, and which model can do what."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from genlib import figures
from genlib.models import capability_table
from genlib.sources import cite
from pages.common import csv_bytes, dataset_picker, describe, ensure_app_shell
from pages.presets_ui import page_state, presets_list
from pages.presentation import page_sections
from pages.text import md

ensure_app_shell()

st.title("GenLab")
page_state("home")
st.markdown(
    "GenLab trains **generative models** — variational autoencoders, GANs, normalizing flows and classical "
    "density estimators — on tabular data, images and dynamical systems, and shows how well each one "
    "reproduces the data. Models train in the background: start a job on **Train**, keep browsing, and "
    "find every finished run on **Runs**.")

st.markdown(
    f"A generative model answers three questions ({cite('astro_lecture')}): *how can I represent my data more efficiently?* "
    "(a latent space), *how can I sample new data from the same unknown distribution?*, and *how likely is a "
    "new observation?* (a density). The first way to answer the last two is to fit a density by maximum "
    f"likelihood, parametric or not ({cite('tutorial')}):")
c1, c2 = st.columns(2)
c1.latex(r"L(\theta) = \prod_{i=1}^{n} f(x_i \mid \theta)")
c1.caption("Parametric: choose a family (Gaussian, mixture…) and maximise the likelihood of its parameters θ.")
c2.latex(r"\hat f_h(x) = \frac{1}{n h^d}\sum_{i=1}^{n} K\!\left(\frac{x - X_i}{h}\right)")
c2.caption("Non-parametric (kernel density): a bump K of width h on every point; h trades smoothness for detail.")

SECTIONS = ["Built-in data", "Which model can do what", "Presets"]
show = page_sections("home", SECTIONS)   # in presentation mode, one at a time (pages/presentation.py)
ds = dataset_picker("home") if show("Built-in data") else None
if ds is not None:
    left, right = st.columns([2, 3])
    with left:
        st.markdown(f"**{md(ds.name)}** — {len(ds.train)} training rows, {len(ds.test)} held-out test rows, "
                    f"{ds.n_features} columns" + (f", {ds.n_classes} classes" if ds.n_classes else ""))
        if ds.image_shape is None:
            st.dataframe(describe(ds).style.format("{:.4g}"), width="stretch")
        st.download_button("Download training split (CSV)",  # built only when clicked: image data are MBs
                           lambda: pd.DataFrame(ds.train, columns=ds.columns).pipe(csv_bytes),
                           file_name=f"{ds.name}_train.csv", mime="text/csv")
    with right:
        if ds.image_shape is not None:
            st.plotly_chart(figures.samples.image_grid(ds.train[:40], ds.image_shape), key="home_images")
            st.caption("The first 40 training images (8×8 pixels, grey levels 0–16)." if len(ds.image_shape) == 2
                       else "The first 40 training images: each is one trajectory, its 1,024 steps in raster "
                            "order, red/green/blue = x/y/z. The Lorenz lab page trains on them.")
        elif ds.n_features == 3 and ds.name == "lorenz":
            st.plotly_chart(figures.samples.trajectory_3d(ds.train), key="home_3d")
            st.caption("States on the Lorenz attractor: the butterfly. Drag to rotate.")
        elif ds.n_features == 3 and ds.is_series:
            st.plotly_chart(figures.samples.trajectory_3d(ds.train[ds.trajectory_train == 0]), key="home_3d")
            st.caption("The first training trajectory, in time order: what a sequence model (the echo state "
                       "network) learns to continue on its own. Drag to rotate.")
        elif ds.n_features == 2:
            st.plotly_chart(figures.samples.scatter_2d(ds.train, columns=ds.columns), key="home_2d")
        else:
            log = figures.style.prefers_log_axes(ds)
            st.plotly_chart(figures.samples.marginal_histograms(ds.train, ds.columns, log_x=log), key="home_hist")
            if log:
                st.caption("Positive, heavy-tailed columns: log-scaled axes show the bulk near zero and the rare "
                           "extremes. Training maps each column onto a standard normal by its ranks (rank-Gauss) "
                           "and maps samples back through the same quantiles, so they stay positive.")
    if ds.image_shape is None and 2 < ds.n_features <= 8:
        a, b = st.columns(2)
        a.plotly_chart(figures.samples.pair_scatter(ds.train, ds.columns, log=figures.style.prefers_log_axes(ds)),
                       key="home_pairs")
        b.plotly_chart(figures.samples.correlation_heatmap(ds.train, ds.columns, title="Kendall τ between columns"),
                       key="home_corr")

if show("Which model can do what"):
    st.markdown("GANs and VAEs sample in one pass but give no exact likelihood; flows and classical densities do "
                f"({cite('astro_lecture')}'s table). Pages only offer what a model's capabilities allow.")
    table = pd.DataFrame(capability_table())
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={k: st.column_config.CheckboxColumn(k) for k in
                                ("sample", "exact log-likelihood", "ELBO", "encoder", "conditional")})
if show("Presets"):
    st.markdown("Saved page states, each a link to its page with its settings (save one from any page's **Presets** "
                "box; import a colleague's JSON file there too).")
    presets_list()
st.page_link("pages/train.py", label="Train a model →", icon=":material/model_training:")
st.page_link("pages/compare.py", label="Compare several models side by side →", icon=":material/leaderboard:")
