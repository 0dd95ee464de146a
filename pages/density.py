"""Density (the GenHack tutorial and the astronomy lecture): how likely is an observation? A Gaussian mixture on an
encoder's codes (the lecture's "AE + GMM" generator and its p(x) < ε outliers), and parametric vs non-parametric densities, a flow and a GAN's
discriminator on 2-D toy data. Thin: genlib.latent and genlib.density do the work."""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from genlib import latent as lt
from genlib import figures
from genlib.data import DataError
from genlib.cache import array_digest
from genlib.params import Param
from genlib.sources import cite
from pages import urlstate
from pages.text import md
from pages.addressing import url_value
from pages.common import csv_bytes, ensure_app_shell, param_widget
from pages.density_toy import toy_section
from pages.latent_common import codes_of, data_picker, pick_source, pixel_range, shown_rows, train_controls
from pages.presets_ui import page_state
from pages.presentation import page_sections, presenting

ensure_app_shell()

st.title("Density")
st.markdown(
    f"A density p(x) answers {cite('astro_lecture')}'s third question — *how likely is this new observation?* — and, if it can "
    "be sampled, its second: *how do I draw new data?* Below, first a mixture of Gaussians fitted to the codes "
    "of an encoder (sample codes, decode them: a generator; score codes: an outlier detector), then the "
    "classic density estimators side by side on 2-D data you can see.")
page_state("density")
SECTIONS = ["1 · Gaussian mixture on latent codes", "2 · Densities on 2-D toy data"]
if url_value("flow") and "dn_section" not in st.session_state:   # a link to a flow run opens its section
    st.session_state["dn_section"] = SECTIONS[1]
if presenting():   # one section at a time, with ◀ Previous / Next ▶ (pages/presentation.py)
    if url_value("flow") and "section" not in st.query_params:
        st.query_params["section"] = SECTIONS[1]
    show = page_sections("density", SECTIONS)
else:              # the page's own picker (its choice in the address), which names the section
    section = urlstate.choice("Section", SECTIONS, "dn_section", radio=True)

    def show(title: str) -> bool:
        return title == section


EPS = Param("eps", 0.01, "the share of rows with the lowest p(z) flagged as outliers",
            choices=(0.001, 0.005, 0.01, 0.02, 0.05, 0.1), widget="slider",
            label="outlier threshold ε: lowest share flagged", labels={q: f"{100 * q:g} %" for q in
                                                                  (0.001, 0.005, 0.01, 0.02, 0.05, 0.1)})
N_SAMPLES = Param("ns", 32, "", choices=(8, 16, 32, 64), widget="slider", label="samples")
SAMPLE_SEED = Param("seed", 0, "", range=(0, 10_000), label="random seed")


@st.cache_data(show_spinner="Fitting mixtures for k = 1…15…", max_entries=16)
def _curve(fp: str, _codes: np.ndarray, cov: str) -> pd.DataFrame:
    return lt.bic_aic_curve(_codes, covariance_type=cov)


@st.cache_resource(show_spinner="Fitting the mixture…", max_entries=16)
def _gmm(fp: str, _codes: np.ndarray, k: int, cov: str):
    return lt.fit_gmm(_codes, n_components=k, covariance_type=cov)


def latent_gmm_section() -> None:
    st.markdown(
        f"{cite('astro_lecture', capital=True)}'s *AE + GMM*: an autoencoder alone cannot generate (nothing says which codes are valid), so "
        "fit a Gaussian mixture p(z) to the codes of the training rows, draw new codes from it and decode them. "
        "The same mixture scores every row: a code in a region with little mass — log p(z) below log ε — is an "
        "outlier. **BIC** and **AIC** pick the number of components k (lower is better; BIC penalises "
        "parameters more and prefers fewer).")
    # two short formulas, not one long line: each wraps on its own on a narrow screen (assets/formulas.css)
    st.latex(r"p(z) = \sum_{k=1}^{K}\pi_k\,\mathcal N(z\mid\mu_k,\Sigma_k), \qquad "
             r"\text{outlier} \iff p(z) < \varepsilon")
    st.latex(r"\mathrm{BIC} = -2\log L + p\log n, \qquad \mathrm{AIC} = -2\log L + 2p")
    ds = data_picker("dn")
    if ds is None:
        return
    with st.expander("Train an encoder here (or on the Latent explorer page)"):
        train_controls(ds, "dn")
    source = pick_source(ds, "dn_source")
    x, labels = shown_rows(ds)
    cond = labels if getattr(source.encoder, "conditional", False) else None
    try:
        codes = codes_of(source.cache_key, array_digest(x), source.encoder, x, cond)
    except (DataError, ValueError) as exc:
        st.error(f"Cannot encode these rows with {md(source.label)}: {md(exc)}")
        return
    fp = source.cache_key + array_digest(codes)
    c = st.columns(3)
    cov = urlstate.choice("covariance type", lt.COVARIANCE_TYPES, "dn_cov", where=c[0],
                          help="full: any ellipse per component; diag: axis-aligned; spherical: round; "
                              "tied: one shared ellipse")
    curve = _curve(fp, codes, cov)
    best = lt.best_k(curve, "bic")
    k = int(param_widget(Param(f"k_{cov}", best, f"BIC's choice: {best}", range=(1, int(curve["k"].max())),
                               widget="slider", label="components k"), "dn", where=c[1]))
    eps_q = float(param_widget(EPS, "dn", where=c[2]))
    gmm = _gmm(fp, codes, k, cov)
    ll = lt.log_likelihood(gmm, codes)
    thr = lt.outlier_threshold(ll, quantile=eps_q)
    flagged = ll < thr
    left, right = st.columns(2)
    left.plotly_chart(figures.latent.bic_aic_figure(curve, chosen=k), key="dn_bic")
    right.plotly_chart(figures.latent.loglik_histogram(ll, thr), key="dn_hist")
    st.caption(f"log ε = {thr:.2f} nats: {int(flagged.sum())} of {len(ll)} rows below it.")

    st.markdown("**Where the mass is.** The codes drawn in 2-D (PCA of the codes, or UMAP if you projected them on "
                "the Latent explorer), with contours of a 2-D mixture fitted to the view itself — a picture of "
                "p, not p itself when the codes have more than two dimensions — and the outliers ringed.")
    view_method = urlstate.choice("view", ["pca", "umap"], "dn_view", radio=True)
    try:
        view = codes[:, :2] if codes.shape[1] == 2 else lt.embed(codes, view_method, n_components=2)
    except DataError as exc:
        st.error(md(exc))
        return
    view_gmm = lt.fit_view_density(view, n_components=min(k, 15))
    (xl, yl) = lt.grid_limits(view)
    st.plotly_chart(figures.latent.embedding_scatter(view, color=labels, highlight=flagged,
                                                   density=lt.density_grid(view_gmm, xl, yl, n=80),
                                                   title="codes, contours and outliers (ringed)"),
                    key="dn_view_fig")

    st.markdown("**Sample new rows**: z ~ p(z), decoded by the encoder's decoder (or PCA's inverse).")
    c = st.columns([1, 3])
    n_samples = int(param_widget(N_SAMPLES, "dn", where=c[0]))
    seed = int(param_widget(SAMPLE_SEED, "dn", where=c[0]))
    clip = pixel_range(ds)
    _, rows = lt.sample_and_decode(gmm, source.encoder, n_samples, seed=seed, clip=clip)
    if ds.image_shape:
        c[1].plotly_chart(figures.latent.image_strip(rows, ds.image_shape, n_cols=8, vmax=clip[1] if clip else None),
                          key="dn_samples")
        worst = np.argsort(ll)[:8]
        st.markdown("**The least likely training rows** (lowest log p(z)): often odd or badly written digits.")
        st.plotly_chart(figures.latent.image_strip(x[worst], ds.image_shape, n_cols=8,
                                                 col_captions=[f"{v:.1f}" for v in ll[worst]],
                                                 vmax=clip[1] if clip else None), key="dn_worst")
    else:
        c[1].dataframe(pd.DataFrame(rows, columns=ds.columns), key="dn_samples_table")
    st.download_button("Samples (CSV)", pd.DataFrame(rows, columns=ds.columns).pipe(csv_bytes),
                       "gmm_samples.csv", "text/csv", key="dn_samples_dl")
    st.download_button("Log-likelihood per row (CSV)",
                       pd.DataFrame({"row": np.arange(len(ll)), "log_p": ll, "outlier": flagged})
                       .pipe(csv_bytes), "latent_loglik.csv", "text/csv", key="dn_ll_dl")


if show(SECTIONS[0]):
    latent_gmm_section()
if show(SECTIONS[1]):
    toy_section()
