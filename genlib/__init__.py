"""GenLab's core library: datasets, preprocessing, generative models (VAE, GAN, normalizing flows, classical
densities), one training loop and a background job engine, a run store, metrics, dynamics, latent spaces, anomaly
scores and simulator fitting. It never imports Streamlit: everything the app does can be done from Python or
``python -m genlib``.

The short way, in a notebook::

    import genlib
    data = genlib.load_dataset("finance")
    vae = genlib.fit("vae", data, steps=2000, sigma=0.2)
    fake = genlib.sample(vae, 1000, seed=0)
    genlib.evaluate(data.test, fake)          # {'anderson_darling': …, 'kendall_error': …}

The façade's functions live in :mod:`genlib.api` and are imported on first use, so ``import genlib`` is instant
and torch loads only when a model is needed.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_FACADE = ("list_datasets", "list_models", "load_dataset", "fit", "sample", "log_likelihood", "evaluate",
           "save_run", "load_run", "open_store")

__all__ = ["__version__", *_FACADE]


def __getattr__(name: str) -> Any:
    if name in _FACADE:
        return getattr(importlib.import_module("genlib.api"), name)
    raise AttributeError(f"module 'genlib' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_FACADE))
