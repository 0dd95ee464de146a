"""Figure builders: numbers in, ``plotly.graph_objects.Figure`` out; no Streamlit, testable without a browser.

One module per subject, reached as attributes (imported on first use, so a page pays only for the figures it
draws: ``latent`` pulls in umap's helpers, ``avo`` the simulators)::

    from genlib import figures as fig
    fig.samples.histogram_overlay(real, {"vae": fake}, columns)
    fig.curves.loss_curves(steps, losses)

- ``style``: colours and the shared layout; ``curves``: losses, metric histories, sweep heatmaps;
  ``samples``: real vs generated (marginals, ECDF, QQ, pairs, correlations, image grids);
- ``anomaly``, ``avo``, ``density``, ``latent``, ``lorenz``: the figures of the page of the same name.
"""
from __future__ import annotations

import importlib
from types import ModuleType

SUBMODULES = ("style", "curves", "samples", "anomaly", "avo", "density", "latent", "lorenz")


def __getattr__(name: str) -> ModuleType:
    if name in SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = list(SUBMODULES)
