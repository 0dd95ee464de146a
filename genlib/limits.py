"""Bounded work per request: every size limit declared once, each with the environment variable that changes it.

A request (a CSV upload, ``genlib sample -n``, ``genlib evaluate``, a model to train) is checked against these
limits *before* the work starts, so a too-large request ends in one :class:`LimitError` sentence naming the limit,
the value asked and the variable that raises it, instead of minutes of work followed by a ``MemoryError``.

==========================  ===========================  =======================================================
limit                       environment variable         default
==========================  ===========================  =======================================================
columns of a CSV            ``GENLAB_MAX_COLUMNS``       1,000
rows one sample draws       ``GENLAB_MAX_SAMPLE_ROWS``   1,000,000
rows ``evaluate`` compares  ``GENLAB_EVAL_ROWS``         20,000 per side (a fixed, seeded subsample above it,
                                                         stated in the output)
a model's memory estimate   ``GENLAB_MAX_MODEL_MB``      half of the memory available when training starts
==========================  ===========================  =======================================================

The variables are read at each check, so a running app picks up a change on its next request. Bottom layer:
imports only :mod:`genlib.errors`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    import numpy as np

from genlib.errors import UserError

MB = 1024 * 1024


class LimitError(UserError):
    """A request over one of the limits below; the message names the limit, the value asked and the environment
    variable that changes it (also kept as attributes, for callers and tests)."""

    def __init__(self, message: str, *, limit: str = "", asked: float | None = None, allowed: float | None = None,
                 env: str = ""):
        super().__init__(message)
        self.limit, self.asked, self.allowed, self.env = limit, asked, allowed, env


@dataclass(frozen=True)
class Limit:
    """One limit: ``what`` is counted in ``unit``; ``env`` overrides ``default`` (a positive integer)."""

    name: str
    env: str
    default: int
    unit: str
    what: str

    def value(self) -> int:
        """The limit in force now: ``$env`` when set, else the default. A value that is not a positive integer is
        the user's mistake, said as such."""
        raw = os.environ.get(self.env, "").strip().replace("_", "").replace(",", "")
        if not raw:
            return self.default
        try:
            value = int(float(raw))
        except ValueError:
            value = 0
        if value < 1:
            raise UserError(f"{self.env}={os.environ.get(self.env)!r} is not a positive whole number; it sets the "
                            f"{self.name} limit ({self.what}, default {self.default:,}).")
        return value

    def check(self, asked: int, subject: str = "the request", verb: str = "asks for",
              error: type[LimitError] | None = None) -> int:
        """``asked`` when within the limit; otherwise ``error`` (default :class:`LimitError`) with one sentence:
        ``subject`` ``verb`` the value, the limit, and how to change it ("-n asks for 2,000,000 rows, over …")."""
        allowed = self.value()
        if asked <= allowed:
            return int(asked)
        cls = error or LimitError
        raise cls(f"{subject} {verb} {int(asked):,} {self.unit}, over the limit of {allowed:,} {self.unit} ({self.what}); "
                  f"set the environment variable {self.env}={int(asked)} (or higher) to allow it.",
                  limit=self.name, asked=asked, allowed=allowed, env=self.env)


COLUMNS = Limit("columns", "GENLAB_MAX_COLUMNS", 1000, "columns",
                "the most columns a CSV may have")
SAMPLE_ROWS = Limit("sample rows", "GENLAB_MAX_SAMPLE_ROWS", 1_000_000, "rows",
                    "the most rows one sample may draw")
EVAL_ROWS = Limit("evaluation rows", "GENLAB_EVAL_ROWS", 20_000, "rows",
                  "rows of each side `evaluate` compares; above it a fixed, seeded subsample is used")
#: Not a fixed count: by default half of :func:`available_memory`; ``GENLAB_MAX_MODEL_MB`` sets it in MB instead.
MODEL_MEMORY_ENV = "GENLAB_MAX_MODEL_MB"

LIMITS = (COLUMNS, SAMPLE_ROWS, EVAL_ROWS)


def available_memory() -> int | None:
    """Bytes of memory available now (Linux: free pages × page size), or None when the platform does not say."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_AVPHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def _fmt_bytes(n: float) -> str:
    for unit, size in (("GB", 1024 ** 3), ("MB", MB)):
        if n >= size / 10:
            return f"{n / size:,.1f} {unit}"
    return f"{n / 1024:,.1f} KB"


def check_memory(estimate: float, what: str, available: Callable[[], int | None] | None = None) -> None:
    """Refuse work whose memory ``estimate`` (bytes) exceeds the model-memory limit: ``$GENLAB_MAX_MODEL_MB`` when
    set, else half of the memory available (no check when the platform does not say how much that is).
    ``available`` defaults to :func:`available_memory` (looked up at call time, so tests can replace it)."""
    raw = os.environ.get(MODEL_MEMORY_ENV, "").strip()
    if raw:
        try:
            allowed = float(raw) * MB
        except ValueError:
            allowed = 0.0
        if not allowed > 0:
            raise UserError(f"{MODEL_MEMORY_ENV}={raw!r} is not a positive number of MB; it sets the most memory "
                            "a model may be estimated to need.")
        source = f"{MODEL_MEMORY_ENV}={raw}"
    else:
        free = (available or available_memory)()
        if not free:
            return
        allowed = free / 2
        source = f"half of the {_fmt_bytes(free)} available"
    if estimate <= allowed:
        return
    raise LimitError(f"{what} needs about {_fmt_bytes(estimate)} of memory (rough estimate), over the limit of "
                     f"{_fmt_bytes(allowed)} ({source}); use fewer columns or a smaller model, or set the "
                     f"environment variable {MODEL_MEMORY_ENV}={int(estimate / MB) + 1} (MB) to allow it.",
                     limit="model memory", asked=estimate, allowed=allowed, env=MODEL_MEMORY_ENV)


def subsample_rows(n: int, limit: int, seed: int = 0) -> "np.ndarray | None":
    """Sorted indices of a fixed, seeded subsample of ``limit`` of ``n`` rows (without replacement), or None when
    ``n`` is within the limit (use every row)."""
    if n <= limit:
        return None
    import numpy as np
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))
