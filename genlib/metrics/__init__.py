"""Sample-quality metrics (numpy only, no Streamlit) shared by the pages, CLI and benchmarks."""
from __future__ import annotations

from genlib.metrics.fidelity import (
    METRICS,
    MetricInfo,
    anderson_darling,
    anderson_darling_per_column,
    evaluate,
    kendall_error,
    kendall_pseudo_observations,
    oracle_floor,
)

__all__ = [
    "METRICS",
    "MetricInfo",
    "anderson_darling",
    "anderson_darling_per_column",
    "evaluate",
    "kendall_error",
    "kendall_pseudo_observations",
    "oracle_floor",
]
