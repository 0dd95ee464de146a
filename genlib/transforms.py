"""Invertible preprocessing applied before a model sees the data, and undone on its samples.

Why: models train best on roughly unit-scale, roughly Gaussian inputs, but every metric and
plot must be in the data's own units. Each transform is therefore fitted on the TRAIN split
only (test statistics never leak into training), maps numpy float64 arrays of shape (n, d)
to the same shape, and has an exact (or documented) inverse.

A fitted transform is saved in checkpoints as JSON via ``state_dict()`` and rebuilt with
``transform_from_state(state)``.

Kinds accepted by ``make_transform``: the keys of :data:`TRANSFORMS` ("auto", "standardize",
"log1p+standardize", "rankgauss", "none"), each with a sentence and its formula for menus and ``--help``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
from scipy.special import ndtr, ndtri

from genlib.data.base import DataError

__all__ = [
    "TRANSFORMS",
    "TRANSFORM_KINDS",
    "TransformInfo",
    "is_heavy_tailed",
    "Chain",
    "Identity",
    "Log1p",
    "RankGauss",
    "Standardize",
    "Transform",
    "auto_kind",
    "make_transform",
    "transform_from_state",
]

@dataclass(frozen=True)
class TransformInfo:
    """What a preprocessing choice does, for menus and ``--help``: one sentence and its formula (LaTeX)."""

    kind: str
    help: str
    latex: str


#: Every preprocessing choice, the default ("auto") first.
TRANSFORMS: dict[str, TransformInfo] = {t.kind: t for t in (
    TransformInfo("auto", "rank-Gauss for non-negative heavy-tailed data (samples stay positive), else standardise",
                  r"\text{rank-Gauss or standardise, chosen from the training data}"),
    TransformInfo("standardize", "z = (x − mean) / std per column", r"z_j = \frac{x_j - m_j}{s_j}"),
    TransformInfo("log1p+standardize", "z = standardise(log(1 + x)); the inverse maps back to x ≥ 0",
                  r"z_j = \frac{\log(1 + x_j) - m_j}{s_j}"),
    TransformInfo("rankgauss", "map each column through its empirical CDF onto a standard normal",
                  r"z_j = \Phi^{-1}\big(\hat F_j(x_j)\big)"),
    TransformInfo("none", "train on raw values (heavy tails may make training diverge)", r"z = x"),
)}
TRANSFORM_KINDS: tuple[str, ...] = tuple(TRANSFORMS)

#: Skewness above which a non-negative column counts as heavy tailed for kind="auto".
AUTO_SKEW_THRESHOLD = 2.0

#: Largest number of quantiles RankGauss keeps per column (bounds checkpoint size).
MAX_QUANTILES = 2000

# expm1 overflows to inf just above 709.78; clip there so a diverging model gives huge, finite values.
_MAX_LOG = 709.0


@runtime_checkable
class Transform(Protocol):
    """An invertible, train-fitted map between data units (x) and model units (z)."""

    kind: str

    def fit(self, x: np.ndarray) -> Transform: ...

    def forward(self, x: np.ndarray) -> np.ndarray: ...

    def inverse(self, z: np.ndarray) -> np.ndarray: ...

    def state_dict(self) -> dict[str, Any]: ...


# ----------------------------------------------------------------------------- helpers


def _as_2d(x: np.ndarray, name: str = "x") -> tuple[np.ndarray, bool]:
    """Return a float64 (n, d) copy-free view and whether the input was 1-D (a single column)."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        return arr[:, None], True
    if arr.ndim != 2:
        raise DataError(f"{name} must be a 1-D or 2-D array, got shape {arr.shape}.")
    return arr, False


def _restore(z: np.ndarray, was_1d: bool) -> np.ndarray:
    return z[:, 0] if was_1d else z


def _check_fit_input(x: np.ndarray) -> np.ndarray:
    arr, _ = _as_2d(x)
    if arr.shape[0] == 0:
        raise DataError("Cannot fit a transform on an empty training set.")
    if not np.all(np.isfinite(arr)):
        raise DataError("Training data contain NaN or infinite values; clean them before fitting a transform.")
    return arr


def _check_width(arr: np.ndarray, expected: int | None, cls: str) -> None:
    if expected is None:
        raise RuntimeError(f"{cls} is not fitted yet; call fit(x_train) first.")
    if arr.shape[1] != expected:
        raise DataError(f"{cls} was fitted on {expected} columns but got {arr.shape[1]}.")


def _skewness(x: np.ndarray) -> np.ndarray:
    """Per-column sample skewness (biased, like scipy.stats.skew); 0 for constant columns."""
    mu = x.mean(axis=0)
    c = x - mu
    m2 = (c**2).mean(axis=0)
    m3 = (c**3).mean(axis=0)
    ok = m2 > 0
    s = np.zeros_like(m2)
    s[ok] = m3[ok] / m2[ok] ** 1.5
    return s


# ----------------------------------------------------------------------------- transforms


class Identity:
    """No-op transform (kind "none"); keeps the same interface so callers need no special case."""

    kind = "none"

    def __init__(self) -> None:
        self.n_features: int | None = None

    def fit(self, x: np.ndarray) -> Identity:
        self.n_features = _check_fit_input(x).shape[1]
        return self

    def forward(self, x: np.ndarray) -> np.ndarray:
        arr, was_1d = _as_2d(x)
        return _restore(arr.copy(), was_1d)

    def inverse(self, z: np.ndarray) -> np.ndarray:
        arr, was_1d = _as_2d(z, "z")
        return _restore(arr.copy(), was_1d)

    def state_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "n_features": self.n_features if self.n_features is not None else -1}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Identity:
        t = cls()
        n = int(state.get("n_features", -1))
        t.n_features = None if n < 0 else n
        return t


class Standardize:
    """z = (x - mean) / std per column, statistics from the training split; std floored at 1e-12."""

    kind = "standardize"
    STD_FLOOR = 1e-12

    def __init__(self) -> None:
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None

    @property
    def n_features(self) -> int | None:
        return None if self.mean is None else int(self.mean.shape[0])

    def fit(self, x: np.ndarray) -> Standardize:
        arr = _check_fit_input(x)
        self.mean = arr.mean(axis=0)
        self.std = np.maximum(arr.std(axis=0), self.STD_FLOOR)
        return self

    def forward(self, x: np.ndarray) -> np.ndarray:
        arr, was_1d = _as_2d(x)
        _check_width(arr, self.n_features, "Standardize")
        return _restore((arr - self.mean) / self.std, was_1d)

    def inverse(self, z: np.ndarray) -> np.ndarray:
        arr, was_1d = _as_2d(z, "z")
        _check_width(arr, self.n_features, "Standardize")
        return _restore(arr * self.std + self.mean, was_1d)

    def state_dict(self) -> dict[str, Any]:
        if self.mean is None or self.std is None:
            raise RuntimeError("Standardize is not fitted yet; nothing to save.")
        return {"kind": self.kind, "mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Standardize:
        t = cls()
        t.mean = np.asarray(state["mean"], dtype=np.float64)
        t.std = np.asarray(state["std"], dtype=np.float64)
        return t


class Log1p:
    """z = log1p(max(x, 0)); inverse x = max(expm1(z), 0), so generated samples stay >= 0.

    Why: positive heavy-tailed data (rainfall, losses, yields) become near-symmetric after
    log1p, and the clipped inverse guarantees the model can never emit a negative value.
    Fitting on data with negative values raises, because the map would not be invertible there.
    """

    kind = "log1p"

    def __init__(self) -> None:
        self.n_features: int | None = None

    def fit(self, x: np.ndarray) -> Log1p:
        arr = _check_fit_input(x)
        if np.any(arr < 0):
            cols = np.flatnonzero(np.any(arr < 0, axis=0)).tolist()
            raise DataError(
                f"log1p needs non-negative training data, but column(s) {cols} contain negative values "
                f"(min {float(arr.min()):.4g}); use 'standardize' or 'rankgauss' instead."
            )
        self.n_features = arr.shape[1]
        return self

    def forward(self, x: np.ndarray) -> np.ndarray:
        arr, was_1d = _as_2d(x)
        _check_width(arr, self.n_features, "Log1p")
        return _restore(np.log1p(np.maximum(arr, 0.0)), was_1d)

    def inverse(self, z: np.ndarray) -> np.ndarray:
        arr, was_1d = _as_2d(z, "z")
        _check_width(arr, self.n_features, "Log1p")
        return _restore(np.maximum(np.expm1(np.minimum(arr, _MAX_LOG)), 0.0), was_1d)

    def state_dict(self) -> dict[str, Any]:
        if self.n_features is None:
            raise RuntimeError("Log1p is not fitted yet; nothing to save.")
        return {"kind": self.kind, "n_features": self.n_features}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Log1p:
        t = cls()
        t.n_features = int(state["n_features"])
        return t


class RankGauss:
    """Per-column quantile transform to a standard normal, implemented in numpy (no sklearn).

    Fit stores, per column, q quantiles of the training values (all sorted values when
    n <= 2000, else 2000 interpolated quantiles) at probabilities p_k spread evenly over
    [0.5/n, 1 - 0.5/n] -- the "(rank + 0.5) / n" plotting positions -- so that
    forward(x_train) ~ N(0, 1) and no value ever maps to +-inf.

    forward: u = empirical CDF (linear interpolation of (q_k, p_k); ties are averaged over
    both interpolation directions, as sklearn does), z = Phi^{-1}(u).
    inverse: u = Phi(z), x = linear interpolation of (p_k, q_k).

    Tails (values beyond the training min/max, or z beyond Phi^{-1}(p_0), Phi^{-1}(p_{q-1})):
    we EXTRAPOLATE LINEARLY IN z-SPACE from the last two quantiles, in both directions, so the
    map is a continuous strictly increasing bijection of the real line (round trips hold even
    for test values outside the training range). Why not clip to min/max: a generative model
    putting mass past the last quantile would otherwise pile it onto one atom at the training
    extreme, and the model could never produce a new record. The linear-in-z tail is far lighter
    than a true heavy tail (which grows exponentially in z), so it stays conservative. When the
    last two quantiles are tied (e.g. many zeros at the minimum) the slope is 0 and that tail is
    effectively clipped to the training extreme, which is what a point mass there should do.
    """

    kind = "rankgauss"

    def __init__(self, max_quantiles: int = MAX_QUANTILES) -> None:
        self.max_quantiles = int(max_quantiles)
        self.quantiles: np.ndarray | None = None  # (q, d), non-decreasing per column
        self.nonneg: np.ndarray | None = None
        self.references: np.ndarray | None = None  # (q,), strictly increasing probabilities in (0, 1)

    @property
    def n_features(self) -> int | None:
        return None if self.quantiles is None else int(self.quantiles.shape[1])

    def fit(self, x: np.ndarray) -> RankGauss:
        arr = _check_fit_input(x)
        n = arr.shape[0]
        q = max(2, min(n, self.max_quantiles))
        refs = np.linspace(0.5 / n, 1.0 - 0.5 / n, q) if n > 1 else np.array([0.25, 0.75])
        # Fractional rank r = p * n - 0.5 in the sorted column; r = 0..n-1 exactly when q == n.
        frac = np.clip((refs * n - 0.5) / max(n - 1, 1), 0.0, 1.0)
        self.quantiles = np.quantile(arr, frac, axis=0)
        self.quantiles = np.maximum.accumulate(self.quantiles, axis=0)  # guard against fp non-monotonicity
        self.references = refs
        # Non-negative columns extrapolate their lower tail geometrically, so samples stay positive.
        self.nonneg = np.all(arr >= 0, axis=0) & (self.quantiles[0] > 0)
        return self

    def _tails(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Return (z_lo, z_hi) end points and (slope_lo, slope_hi) dx/dz per column."""
        assert self.quantiles is not None and self.references is not None
        zr = ndtri(self.references)
        qs = self.quantiles
        slope_lo = (qs[1] - qs[0]) / (zr[1] - zr[0])
        slope_hi = (qs[-1] - qs[-2]) / (zr[-1] - zr[-2])
        # Tied end quantiles can differ by a rounding error (np.quantile interpolates): a slope of 1e-12 would
        # send a test value just past the training extreme to z ~ 1e12. Treat such slopes as the tie they are.
        tiny = 1e-9 * np.maximum(qs[-1] - qs[0], np.finfo(float).tiny)
        slope_lo = np.where(slope_lo > tiny, slope_lo, 0.0)
        slope_hi = np.where(slope_hi > tiny, slope_hi, 0.0)
        return np.full(qs.shape[1], zr[0]), np.full(qs.shape[1], zr[-1]), slope_lo, slope_hi

    def forward(self, x: np.ndarray) -> np.ndarray:
        arr, was_1d = _as_2d(x)
        _check_width(arr, self.n_features, "RankGauss")
        assert self.quantiles is not None and self.references is not None
        refs = self.references
        z = np.empty_like(arr)
        z_lo, z_hi, s_lo, s_hi = self._tails()
        for j in range(arr.shape[1]):
            qj, col = self.quantiles[:, j], arr[:, j]
            u = 0.5 * (np.interp(col, qj, refs) - np.interp(-col, -qj[::-1], -refs[::-1]))
            zj = ndtri(np.clip(u, refs[0], refs[-1]))
            lo, hi = col < qj[0], col > qj[-1]
            if s_lo[j] > 0 and self._nonneg(j):
                # inverse of the geometric lower tail below: z = z_lo + (q0 / s) log(x / q0)
                zj[lo] = z_lo[j] + qj[0] / s_lo[j] * np.log(np.maximum(col[lo], 1e-300) / qj[0])
            elif s_lo[j] > 0:
                zj[lo] = z_lo[j] + (col[lo] - qj[0]) / s_lo[j]
            if s_hi[j] > 0:
                zj[hi] = z_hi[j] + (col[hi] - qj[-1]) / s_hi[j]
            z[:, j] = zj
        return _restore(z, was_1d)

    def inverse(self, z: np.ndarray) -> np.ndarray:
        arr, was_1d = _as_2d(z, "z")
        _check_width(arr, self.n_features, "RankGauss")
        assert self.quantiles is not None and self.references is not None
        refs = self.references
        x = np.empty_like(arr)
        z_lo, z_hi, s_lo, s_hi = self._tails()
        for j in range(arr.shape[1]):
            qj, col = self.quantiles[:, j], arr[:, j]
            xj = np.interp(ndtr(col), refs, qj)
            lo, hi = col < z_lo[j], col > z_hi[j]
            if self._nonneg(j) and s_lo[j] > 0:
                # x = q0 exp((z − z_lo) s / q0): same value and slope as the linear tail at z_lo, but > 0
                xj[lo] = qj[0] * np.exp((col[lo] - z_lo[j]) * s_lo[j] / qj[0])
            else:
                xj[lo] = qj[0] + (col[lo] - z_lo[j]) * s_lo[j]
            xj[hi] = qj[-1] + (col[hi] - z_hi[j]) * s_hi[j]
            x[:, j] = xj
        return _restore(x, was_1d)

    def _nonneg(self, j: int) -> bool:
        return bool(self.nonneg is not None and self.nonneg[j])

    def state_dict(self) -> dict[str, Any]:
        if self.quantiles is None or self.references is None:
            raise RuntimeError("RankGauss is not fitted yet; nothing to save.")
        return {
            "kind": self.kind,
            "max_quantiles": self.max_quantiles,
            "quantiles": self.quantiles.tolist(),
            "references": self.references.tolist(),
            "nonneg": [] if self.nonneg is None else [bool(v) for v in self.nonneg],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> RankGauss:
        t = cls(max_quantiles=int(state.get("max_quantiles", MAX_QUANTILES)))
        t.quantiles = np.asarray(state["quantiles"], dtype=np.float64)
        t.references = np.asarray(state["references"], dtype=np.float64)
        nonneg = state.get("nonneg") or []
        t.nonneg = np.asarray(nonneg, dtype=bool) if len(nonneg) == t.quantiles.shape[1] else None
        return t


class Chain:
    """Apply transforms left to right (forward) and right to left (inverse).

    fit() fits each step on the output of the previous fitted steps, so e.g.
    Chain([Log1p(), Standardize()]) standardises log1p(x_train).
    """

    def __init__(self, steps: list[Transform], kind: str | None = None) -> None:
        self.steps = list(steps)
        self.kind = kind or "+".join(s.kind for s in self.steps)

    def fit(self, x: np.ndarray) -> Chain:
        cur = _check_fit_input(x)
        for step in self.steps:
            step.fit(cur)
            cur = step.forward(cur)
        return self

    def forward(self, x: np.ndarray) -> np.ndarray:
        arr, was_1d = _as_2d(x)
        for step in self.steps:
            arr = step.forward(arr)
        return _restore(arr, was_1d)

    def inverse(self, z: np.ndarray) -> np.ndarray:
        arr, was_1d = _as_2d(z, "z")
        for step in reversed(self.steps):
            arr = step.inverse(arr)
        return _restore(arr, was_1d)

    def state_dict(self) -> dict[str, Any]:
        return {"kind": "chain", "name": self.kind, "steps": [s.state_dict() for s in self.steps]}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Chain:
        return cls([transform_from_state(s) for s in state["steps"]], kind=state.get("name"))


# ----------------------------------------------------------------------------- factory


_CLASSES: dict[str, Any] = {
    "none": Identity,
    "standardize": Standardize,
    "log1p": Log1p,
    "rankgauss": RankGauss,
    "chain": Chain,
}


def auto_kind(x_train: np.ndarray) -> str:
    """The kind "auto" resolves to: "rankgauss" for non-negative data with some column of skewness > 2
    (heavy right tail), else "standardize".

    Why rank-Gauss rather than log1p there: with log1p the inverse must clip at 0, so any sample a model puts
    just below the data's minimum becomes an exact 0, below every real value, and the Anderson–Darling
    distance punishes that hard (finance, 3 seeds: wgan_gp AD 2.86 with log1p vs 1.79 with rank-Gauss;
    a plain Gaussian 28 vs 1.7). RankGauss maps each marginal onto N(0, 1) exactly and, for non-negative
    columns, extrapolates the lower tail geometrically so samples stay positive."""
    return "rankgauss" if is_heavy_tailed(x_train) else "standardize"


def is_heavy_tailed(x: np.ndarray) -> bool:
    """Non-negative data with some column of skewness > 2: a heavy right tail (log axes show such data best)."""
    arr = _check_fit_input(x)
    return bool(np.all(arr >= 0) and np.any(_skewness(arr) > AUTO_SKEW_THRESHOLD))


def make_transform(kind: str, x_train: np.ndarray) -> Transform:
    """Build the transform named by ``kind`` and fit it on ``x_train`` (the train split only).

    The returned object's ``kind`` is the resolved name (never "auto").
    """
    key = kind.strip().lower()
    if key == "auto":
        key = auto_kind(x_train)
    t: Transform
    if key == "none":
        t = Identity()
    elif key == "standardize":
        t = Standardize()
    elif key == "log1p+standardize":
        t = Chain([Log1p(), Standardize()])
    elif key == "rankgauss":
        t = RankGauss()
    else:
        raise DataError(f"Unknown transform kind {kind!r}; choose one of {', '.join(TRANSFORM_KINDS)}.")
    return t.fit(x_train)


def transform_from_state(state: dict[str, Any]) -> Transform:
    """Rebuild a fitted transform from its ``state_dict()`` (e.g. loaded from a checkpoint's JSON)."""
    kind = state.get("kind")
    cls = _CLASSES.get(str(kind))
    if cls is None:
        raise DataError(f"Unknown transform kind {kind!r} in saved state.")
    return cls.from_state(state)
