"""The documents GenLab comes from, named by what they are.

Users of the app are students and teachers, not readers of ``shared/seeds``: the app never says "seed 003", it says
"the astronomy lecture" (:func:`cite`). The Sources page lists every document, what GenLab takes from it and where.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Source", "SOURCES", "cite", "source"]


@dataclass(frozen=True)
class Source:
    """One source document: ``key`` is its short id in code, ``name`` how the app names it in a sentence."""

    key: str
    name: str            # "the astronomy lecture": fits after "from", "in", "as in"
    title: str           # a full, one-line description for the Sources page
    takes: tuple[str, ...]   # what GenLab takes from it
    where: tuple[str, ...]   # where in the app (page titles as the navigation shows them)


SOURCES: dict[str, Source] = {s.key: s for s in (
    Source("tutorial", "the GenHack tutorial",
           "GenHack 2022 generative-modelling challenge, first tutorial session (slides)",
           ("why generate data", "parametric (maximum likelihood) vs non-parametric (kernel) density",
            "Monte Carlo sampling", "noise → generator", "which distance to train with"),
           ("Home", "Density")),
    Source("lorenz_study", "the Lorenz study",
           "Lorenz system: parametric fits vs GANs (IMT Atlantique student project, slides)",
           ("the Lorenz simulator and its largest Lyapunov exponent 0.9056",
            "LASSO / Ridge / Galerkin / Jaya–Powell tables at dt 0.01 and 0.1",
            "DCGAN with spectral norm, TTUR, label smoothing, instance noise, label flipping",
            "trajectories as 32×32 RGB images", "Lyapunov exponent of real vs generated trajectories"),
           ("Lorenz lab", "Train")),
    Source("avo_talk", "the AVO talk",
           "Adversarial Variational Optimization of non-differentiable simulators (talk, 2017)",
           ("implicit models", "GAN and WGAN-GP losses", "variational optimisation with a proposal q(θ|ψ)",
            "adversarial variational optimisation (AVO)"),
           ("Simulator fitting",)),
    Source("astro_lecture", "the astronomy lecture",
           "Astronomy lecture: dimensionality reduction, generative modelling and density estimation",
           ("PCA and autoencoders", "latent clusters and a GMM in latent space", "VAE and the ELBO",
            "conditional VAE", "GAN", "the WGAN anomaly score AS = λ·G + (1−λ)·C with residuals",
            "normalizing flows (RealNVP)", "the capability table of VAE / GAN / flows"),
           ("Home", "Latent explorer", "Density", "Anomalies", "Train")),
    Source("finance_study", "the financial VAE study",
           "A VAE study of a 720×4 heavy-tailed financial data set (student project report)",
           ("VAE σ tuning", "asymmetric encoder/decoder", "WAE", "resampled prior (LARS)",
            "Anderson–Darling distance and absolute Kendall error tables"),
           ("Compare", "Train")),
)}


def source(key: str) -> Source:
    """The document with this key (KeyError names the known keys)."""
    try:
        return SOURCES[key]
    except KeyError:
        raise KeyError(f"no source {key!r}; known: {', '.join(SOURCES)}") from None


def cite(key: str, capital: bool = False) -> str:
    """How a sentence names the document: ``cite("astro_lecture")`` → "the astronomy lecture"."""
    name = source(key).name
    return name[0].upper() + name[1:] if capital else name
