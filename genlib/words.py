"""Words, not keys: how the app names a table column, a chart title or an axis.

Settings carry their own label (``genlib.params.param(label=...)``) and metrics theirs (``MetricInfo.label`` and
``unit`` in ``genlib.metrics.suite.SUITE``); this module holds the rest — the columns of run tables, compare tables
and page tables — and looks those two up for any key it does not hold itself, so that every page shows
"held-out log-likelihood (nats/row)" and not ``heldout_ll``, "latent dimensions" and not ``latent_dim``. Pages rename
a frame with :func:`plain_columns` on its way to ``st.dataframe`` and downloads, and show a missing value as
:data:`MISSING` with a tooltip.

One dictionary per area, each kept by the code of that area, merged into :data:`WORDS`.

Layer: reading the metric and settings metadata puts this module in the metrics layer (tests/test_architecture.py),
not at the bottom with errors and paths: anything from train upwards (store, compare, figures, the CLI) and every
page may use it; genlib.params, data and models, below it, name their settings with ``param(label=...)``.
"""
from __future__ import annotations

import functools
import math
import numbers
import re
from typing import Any, Iterable, Mapping

__all__ = ["MISSING", "MISSING_HELP", "WORDS", "word", "plain_columns", "shown_value", "metric_title", "metadata_words",
           "raw_keys", "column_help"]

try:   # pandas' own missing value, when pandas is there (it always is in the app)
    from pandas import NA as _PD_NA
except ImportError:  # pragma: no cover
    _PD_NA = object()

#: What a table shows for a value that does not exist (None, NaN): never "None" or "nan".
MISSING = "—"

#: The tooltip of a column that can show :data:`MISSING` (``st.column_config.Column(help=...)``).
MISSING_HELP = (f"{MISSING} means no value: not computed (yet) for this run, or not defined for this model "
                "(a GAN has no likelihood, for instance).")

# --- general: runs, jobs, data ---------------------------------------------------------------------------------
_GENERAL: dict[str, str] = {
    # training settings (genlib.train.TrainSettings sits above this layer: its labels, repeated here)
    "steps": "training steps",
    "batch_size": "batch size",
    "seed": "random seed",
    "transform": "preprocessing",
    "eval_period_s": "metrics every (s)",
    "checkpoint_every_s": "checkpoint every (s)",
    # runs and jobs, wherever a table shows them
    "run_id": "run id",
    "elapsed_s": "time (s)",
    "seconds": "time (s)",
    "fit_s": "fit time (s)",
    "steps_per_s": "steps per second",
    "n_params": "parameters",
    "n_rows": "rows",
    "n_cols": "columns",
    "n_train": "training rows",
    "n_test": "test rows",
    # density estimates (genlib.density.compare): per point = per row of the data
    "heldout_ll": "held-out log-likelihood (nats/row)",
    "heldout_ll_per_dim": "held-out log-likelihood (nats/dim)",
    "train_ll": "training log-likelihood (nats/row)",
    "train_ll_per_dim": "training log-likelihood (nats/dim)",
    "grid_integral": "integral of p over the grid",
    "bandwidth": "bandwidth h",
    # the metric suite's reference line
    "floor": "oracle floor (real vs real)",
    # summary statistics of a column (pages.common.describe, pandas' describe)
    "count": "rows",
    "std": "standard deviation",
    "min": "minimum",
    "50%": "median",
    "99%": "99th percentile",
    "max": "maximum",
    "skew": "skewness",
}

# --- runs and comparisons (Compare, Runs) -----------------------------------------------------------------------
_RUNS: dict[str, str] = {
    "run": "run",
    "run_id": "run id",
    "settings": "key settings",
    "progress": "progress (steps)",
    "steps_per_s": "speed (steps/s)",
    "elapsed": "time (s)",
    "created": "started",
    "data": "data",
    "continues": "continues run",
    "error": "problem",
    "owner": "owner",
    "note": "note",
    "changed": "changed from the default",
    "what_it_does": "what it does",
}

# --- training and live views (Train, Density, Lorenz generative section) ----------------------------------------
_TRAINING: dict[str, str] = {
}

# --- anomalies ---------------------------------------------------------------------------------------------------
_ANOMALY: dict[str, str] = {
}

# --- latent explorer ---------------------------------------------------------------------------------------------
_LATENT: dict[str, str] = {
}

# --- Lorenz lab, simulator fitting, home -------------------------------------------------------------------------
_LORENZ_SIM: dict[str, str] = {
}

WORDS: dict[str, str] = {**_GENERAL, **_RUNS, **_TRAINING, **_ANOMALY, **_LATENT, **_LORENZ_SIM}


def metric_title(name: str) -> str:
    """A metric of the suite as a table header or chart title: its label with its unit
    ("Held-out log-likelihood (nats/dim)", "Anderson–Darling distance"); KeyError for a name the suite lacks."""
    from genlib.metrics.suite import SUITE
    info = SUITE[name]
    return f"{info.title} ({info.unit})" if info.unit else info.title


@functools.lru_cache(maxsize=1)
def metadata_words() -> dict[str, str]:
    """Key → words from the metadata: every metric of the suite (:func:`metric_title`), then every setting of every
    registered model and built-in dataset (its ``param(label=...)``). Where two models label a key differently
    (``d_width``: discriminator or critic), the first registered wins; a page that knows better passes ``extra``."""
    from genlib.data.registry import list_datasets
    from genlib.metrics.suite import SUITE
    from genlib.models import REGISTRY
    from genlib.params import params_of

    out = {name: metric_title(name) for name in SUITE}
    settings = [p for cls in REGISTRY.values() for p in params_of(cls.Config)]
    settings += [p for info in list_datasets() for p in info.params]
    for p in settings:
        if p.label:
            out.setdefault(p.name, p.label)
    return out


def raw_keys() -> set[str]:
    """Every key the app must not show as it is: the keys of :data:`WORDS` and of :func:`metadata_words` whose
    words differ from the key (tests/test_words.py looks for these in widget labels and table columns)."""
    return {k for k, v in {**metadata_words(), **WORDS}.items() if v != k}


def word(key: str) -> str:
    """The plain words for ``key``: :data:`WORDS` first, then the metric and settings metadata
    (:func:`metadata_words`); a key nobody described becomes words by itself ("grad_clip" → "grad clip")."""
    return WORDS.get(key) or metadata_words().get(key) or key.replace("_", " ")


def short_label(label: str) -> str:
    """A label without its explanation in brackets ("β (weight of the KL term)" → "β"), for run names and grid
    points, where the value follows; widgets and settings tables keep the whole label."""
    return re.sub(r"\s*\([^)]*\)", "", label).strip() or label


def plain_columns(frame: Any, extra: Mapping[str, str] | None = None, keep: Iterable[str] = ()) -> Any:
    """``frame`` (a pandas DataFrame) with every column renamed to plain words (``extra`` first, then :func:`word`:
    :data:`WORDS`, metric labels with units, setting labels); columns in ``keep`` stay as they are (e.g. a user's
    own data columns)."""
    kept = set(keep)
    extra = dict(extra or {})
    return frame.rename(columns={c: c if c in kept else (extra.get(c) or word(str(c))) for c in frame.columns})


def shown_value(value: Any) -> Any:
    """A cell as a table shows it: :data:`MISSING` for None and NaN (numpy's and pandas' too), the value
    otherwise — never the text "None" or "nan" in front of a class."""
    if value is None or value is _PD_NA:
        return MISSING
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, numbers.Integral)):
        try:
            if math.isnan(float(value)):
                return MISSING
        except (TypeError, ValueError):
            return value
    return value


def column_help(key: str) -> str:
    """A column's tooltip: what the metric measures when ``key`` is one of the suite's (its description), then what
    :data:`MISSING` means — so a "—" cell is explained where it is shown."""
    from genlib.metrics.suite import SUITE
    info = SUITE.get(key)
    return f"{info.description} {MISSING_HELP}" if info is not None else MISSING_HELP
