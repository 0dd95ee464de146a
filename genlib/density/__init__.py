"""Densities on 2-D toy data (seeds 000 and 003): a grid in data units, p(x) of classical models and flows on
it, held-out comparisons, a KDE bandwidth sweep, and a GAN discriminator's view of the plane.

Figures for these live in :mod:`genlib.figures.density`. Nothing here imports Streamlit.
"""
from .compare import (CLASSICAL, best_bandwidth, default_bandwidths, fit_classical, fit_density_models,
                      heldout_table, kde_bandwidth_sweep)
from .critic import critic_kind, critic_on_grid, critic_values, generated_points
from .grid import Grid, density_on_grid, integral, log_density

__all__ = ["CLASSICAL", "Grid", "best_bandwidth", "critic_kind", "critic_on_grid", "critic_values",
           "default_bandwidths", "density_on_grid", "fit_classical", "fit_density_models", "generated_points",
           "heldout_table", "integral", "kde_bandwidth_sweep", "log_density"]
