"""Latent-space explorer (seed 003): encode rows with an autoencoder-type model or PCA, view the codes with
UMAP/PCA, walk between codes, cluster them against the labels, and model them with a Gaussian mixture
("AE + GMM") to sample new rows and flag low-density points; search, neighbours and a shared selection for the
views (:mod:`.projector`).

Nothing here imports Streamlit or umap at import time (umap costs 10+ s cold; see :mod:`.embed`).
Note: ``genlib.latent.embed`` is the *function*; ``from genlib.latent.embed import …`` still reaches the module.
"""
from .arithmetic import LatentPath, class_means, class_rows, interpolate, traverse
from .clusters import CLUSTER_METHODS, ClusterReport, cluster_codes, cluster_report, overall_purity, purity_table
from .codes import (Encoder, ModelEncoder, PCAEncoder, as_encoder, decode, fit_pca, has_encoder, latent_codes,
                    reconstruct, reconstruction_error)
from .embed import (METHODS, METRICS, EmbedResult, check_codes, clear_embed_cache, embed, embed_cache_info,
                    embed_with_info, umap_error, umap_ready, warm_up_umap)
from .projector import (NEIGHBOUR_METRICS, SEARCH_HELP, Neighbours, SearchResult, Selection, nearest_neighbours,
                        parse_search, rows_from_event)
from .task import ProjectionSettings, ProjectionTask, find_projection, projection_source
from .gmm import (COVARIANCE_TYPES, DensityGrid, best_k, bic_aic_curve, density_grid, fit_gmm, fit_view_density,
                  grid_limits, log_likelihood, outlier_threshold, outliers, sample_and_decode, sample_codes)

__all__ = [
    "LatentPath", "class_means", "class_rows", "interpolate", "traverse",
    "CLUSTER_METHODS", "ClusterReport", "cluster_codes", "cluster_report", "overall_purity", "purity_table",
    "Encoder", "ModelEncoder", "PCAEncoder", "as_encoder", "decode", "fit_pca", "has_encoder", "latent_codes",
    "reconstruct", "reconstruction_error",
    "METHODS", "METRICS", "EmbedResult", "check_codes", "clear_embed_cache", "embed", "embed_cache_info", "embed_with_info",
    "umap_error", "umap_ready", "warm_up_umap",
    "COVARIANCE_TYPES", "DensityGrid", "best_k", "bic_aic_curve", "density_grid", "fit_gmm", "fit_view_density",
    "grid_limits", "log_likelihood", "outlier_threshold", "outliers", "sample_and_decode", "sample_codes",
    "ProjectionSettings", "ProjectionTask", "find_projection", "projection_source",
    "NEIGHBOUR_METRICS", "SEARCH_HELP", "Neighbours", "SearchResult", "Selection", "nearest_neighbours",
    "parse_search", "rows_from_event",
]
