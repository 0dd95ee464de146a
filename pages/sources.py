"""Sources: the documents GenLab comes from, what it takes from each, and where in the app to see it.

Pages name a document by what it is ("the astronomy lecture", genlib.sources.cite), never by a file number; this page
is where a student finds out what each one is. Each document gets a card: what GenLab takes from it, a link to
every page that uses it with what to look at there, and the short formulas the app reproduces from it.
"""
from __future__ import annotations

import re

import streamlit as st

from genlib.metrics.suite import SUITE
from genlib.sources import SOURCES, Source
from pages.common import ensure_app_shell
from pages.presentation import page_sections
from pages.presets_ui import TITLES

ensure_app_shell()

#: Page title (as the navigation shows it) → its file, for st.page_link.
PAGE_FILES: dict[str, str] = {title: f"pages/{stem}.py" for stem, title in TITLES.items()}

#: (document, page title) → what a student should look at on that page. Every page a document names in
#: ``Source.where`` has a line here (tests/test_words.py checks).
LOOK: dict[tuple[str, str], str] = {
    ("tutorial", "Home"): "the two ways to fit a density side by side: a family fitted by maximum likelihood, and "
                          "a kernel bump of width h on every point.",
    ("tutorial", "Density"): "the Gaussian mixture and the kernel estimate on 2-D shapes; move the bandwidth h and "
                             "watch the held-out curve fall while the training curve keeps rising (over-fitting).",
    ("lorenz_study", "Lorenz lab"): "the simulator and its largest Lyapunov exponent (≈ 0.906), the parametric fits "
                                    "at dt 0.01 and 0.1, and a DCGAN trained on whole trajectories drawn as images.",
    ("lorenz_study", "Train"): "the GAN stabilisers, each a setting you can switch: spectral normalisation, separate "
                               "learning rates (TTUR), label smoothing, instance noise and label flipping.",
    ("avo_talk", "Simulator fitting"): "the proposal q(θ|ψ) closing in on the true parameters while a critic tells "
                                       "observed from simulated data, with likelihood-free baselines beside it.",
    ("astro_lecture", "Home"): "the three questions a generative model answers, and the table of which model "
                               "(VAE, GAN, flow, classical) can do what.",
    ("astro_lecture", "Latent explorer"): "PCA next to an autoencoder's latent space, the clusters in it and a "
                                          "Gaussian mixture fitted there.",
    ("astro_lecture", "Density"): "a normalizing flow's exact density next to the mixture and the kernel estimate, "
                                  "and a GAN's discriminator drawn over the plane.",
    ("astro_lecture", "Anomalies"): "the WGAN anomaly score: move λ and watch which rows stand out, with each row's "
                                    "rebuild and residual.",
    ("astro_lecture", "Train"): "VAE, conditional VAE, GAN and RealNVP, each with its formula beside its settings.",
    ("finance_study", "Compare"): "each run's Anderson–Darling distance and Kendall error against the oracle floor "
                                  "(real data scored against real data), and a sweep over σ and the encoder size.",
    ("finance_study", "Train"): "the VAE's decoder σ (small: sharp but over-fitted samples; large: blurry ones), "
                                "the WAE and the resampled (LARS) prior on the finance data.",
}

#: Document → the short formulas GenLab reproduces from it: (what it is, LaTeX). The two scores of the financial
#: study come from the metric metadata, so this page and the Compare page show the same formula.
FORMULAS: dict[str, list[tuple[str, str]]] = {
    "tutorial": [
        ("Parametric: the likelihood of a family's parameters θ",
         r"L(\theta) = \prod_{i=1}^{n} f(x_i \mid \theta)"),
        ("Non-parametric: the kernel density estimate with bandwidth h",
         r"\hat f_h(x) = \frac{1}{n h^d}\sum_{i=1}^{n} K\!\left(\frac{x - X_i}{h}\right)"),
    ],
    "lorenz_study": [
        ("The Lorenz system",
         r"\dot x = \sigma (y - x),\quad \dot y = x(\rho - z) - y,\quad \dot z = xy - \beta z"),
        ("The largest Lyapunov exponent (≈ 0.906 at σ = 10, ρ = 28, β = 8/3)",
         r"\lambda_1 = \lim_{N\to\infty} \frac{1}{N\,\Delta t}\sum_{k=1}^{N} \ln\frac{d_k}{d_0}"),
    ],
    "avo_talk": [
        ("Fitting a simulator: the parameters whose data look like the observed data",
         r"\theta^* = \arg\min_\theta\ \rho\big(p_r(x),\ p(x|\theta)\big)"),
        ("Variational optimisation: minimise an upper bound over a proposal q(θ|ψ)",
         r"\min_\theta f(\theta)\ \le\ \mathbb E_{\theta\sim q(\theta|\psi)}[f(\theta)] = U(\psi),\quad "
         r"\nabla_\psi U = \mathbb E_{q}\big[f(\theta)\,\nabla_\psi \log q(\theta|\psi)\big]"),
    ],
    "astro_lecture": [
        ("The VAE's evidence lower bound (ELBO)",
         r"\log p(x) \ge \mathbb{E}_{q(z|x)}[\log p(x|z)] - \mathrm{KL}\big(q(z|x)\,\|\,\mathcal N(0,I)\big)"),
        ("A normalizing flow's exact log-density",
         r"\log p(x)=\log p_z(f(x))+\log\left|\det\frac{\partial f}{\partial x}\right|"),
        ("The WGAN anomaly score: residual G and critic-feature distance C",
         r"\mathrm{AS}(x) = \lambda\,G + (1-\lambda)\,C"),
    ],
    "finance_study": [
        ("The VAE loss with a decoder σ (the study tunes σ)",
         r"\mathcal{L}(x) = \frac{\lVert x - D(z)\rVert^2}{2\sigma^2} + \beta\,\mathrm{KL}\big(q(z|x)\,\|\,N(0, I)\big)"),
        (SUITE["anderson_darling"].title + " (averaged over the columns)", SUITE["anderson_darling"].latex),
        (SUITE["kendall_error"].title, SUITE["kendall_error"].latex),
    ],
}


def _capital(text: str) -> str:
    return text[0].upper() + text[1:]


def _lines(tex: str) -> list[str]:
    """A formula of several parts joined by ``\\quad`` as one line per part, so that none is wider than a projector
    at 150 % zoom (the metric formulas come from the metadata as one line)."""
    return [part.strip().rstrip(",") for part in re.split(r",?\\quad", tex) if part.strip()]


def source_card(s: Source) -> None:
    """One document: what it is, what GenLab takes from it, where to see it (links), and its formulas."""
    st.caption(s.title)
    left, right = st.columns([2, 3], gap="large")
    with left:
        st.markdown("**What GenLab takes from it**")
        st.markdown("\n".join(f"- {_capital(t)}" for t in s.takes))
    with right:
        st.markdown("**Where to see it**")
        for title in s.where:
            st.page_link(PAGE_FILES[title], label=title, icon=":material/arrow_forward:")
            st.caption(_capital(LOOK[(s.key, title)]))
    formulas = FORMULAS.get(s.key, [])
    if formulas:
        with st.expander(f"Formulas GenLab reproduces from {s.name}", expanded=True):
            for what, tex in formulas:
                st.markdown(what)
                for part in _lines(tex):
                    st.latex(part)


st.title("Sources")
st.markdown(
    "GenLab reproduces — and goes beyond — the formulas, tricks and tables of five documents. The other pages name "
    "them by what they are (*the astronomy lecture*, *the Lorenz study*…); here is each one, what GenLab takes from "
    "it, and where in the app to look.")
st.dataframe(
    [{"document": _capital(s.name), "what it is": s.title, "pages": ", ".join(s.where)} for s in SOURCES.values()],
    hide_index=True, width="stretch", key="sources_table",
    column_config={"document": "Document", "what it is": "What it is", "pages": "Pages that use it"})

show = page_sections("sources", [_capital(s.name) for s in SOURCES.values()])
for s in SOURCES.values():
    if show(_capital(s.name)):
        source_card(s)
