"""Sample-quality metrics (numpy only, no Streamlit) shared by the pages, CLI and benchmarks.

- ``fidelity``: the GenHack 2022 metrics (Anderson-Darling, Kendall error) and the MetricInfo registry.
- ``distances``: Wasserstein (per column, sliced), MMD, energy distance, correlation gaps.
- ``two_sample``: classifier two-sample test, PRDC, distance-to-closest-record (memorisation).
- ``likelihood``: held-out log-likelihood in data units (nats/dim).
- ``suite``: the table's metric set (SUITE) scored fast against a cached real-data Reference.
- ``inputs``: the input checks every metric shares (``as_2d``, ``as_pair``).
"""
from __future__ import annotations

from genlib.metrics.distances import (
    correlation_distance,
    correlation_matrix,
    energy_distance,
    mmd_rbf,
    sliced_wasserstein,
    wasserstein,
    wasserstein_per_column,
)
from genlib.metrics.fidelity import (
    METRICS,
    MetricInfo,
    anderson_darling,
    anderson_darling_per_column,
    evaluate,
    kendall_error,
    kendall_pseudo_observations,
    oracle_floor,
    subsample_message,
    subsample_pair,
)
from genlib.metrics.likelihood import held_out_log_likelihood, log_abs_det_jacobian
from genlib.metrics.suite import (
    DEFAULT_EVAL_ROWS,
    SUITE,
    Reference,
    floor,
    make_reference,
    per_column,
    reference_for,
    score_model,
    score_arrays,
    score_samples,
)
from genlib.metrics.two_sample import (
    classifier_auc,
    closest_record_distances,
    copy_fraction,
    dcr_ratio,
    prdc,
)

__all__ = [
    "DEFAULT_EVAL_ROWS",
    "METRICS",
    "MetricInfo",
    "Reference",
    "SUITE",
    "anderson_darling",
    "anderson_darling_per_column",
    "classifier_auc",
    "closest_record_distances",
    "copy_fraction",
    "correlation_distance",
    "correlation_matrix",
    "dcr_ratio",
    "energy_distance",
    "evaluate",
    "floor",
    "held_out_log_likelihood",
    "kendall_error",
    "kendall_pseudo_observations",
    "log_abs_det_jacobian",
    "make_reference",
    "mmd_rbf",
    "oracle_floor",
    "per_column",
    "prdc",
    "reference_for",
    "score_model",
    "score_arrays",
    "score_samples",
    "sliced_wasserstein",
    "subsample_message",
    "subsample_pair",
    "wasserstein",
    "wasserstein_per_column",
]
