r"""Lorenz trajectories as training data for generative models, and the checks that ask "is the chaos preserved?".

Seed 001 trains a DCGAN on 1,000 Lorenz trajectories sampled at dt = 0.1 ("T = 100 temps de Lorenz"), each
turned into one 32×32 RGB image whose three channels are x, y and z. The seed does not say how the time
steps fill the 32×32 pixels (its series have 1,000 steps, the image 1,024 pixels) nor how values are scaled.
Here each image holds exactly ``STEPS_PER_IMAGE`` = 32² = 1,024 consecutive steps (102.3 time units), laid out
**row-major (raster order)**: time runs left to right along a row, rows run top to bottom, so

    image[c, r, k] = scaled[32·r + k, c],     c = 0, 1, 2 for x, y, z,

i.e. ``traj.reshape(32, 32, 3).transpose(2, 0, 1)``. Each coordinate is min-max scaled to [-1, 1] with one
(low, high) pair per channel for the whole data set (:class:`ChannelScaler`):

    s = 2 (v − low) / (high − low) − 1,      v = low + (s + 1) (high − low) / 2,

so a generated image (whatever its range) decodes back to a trajectory in the system's units. The layout
change is a pure reshape (bit-exact); only the scaling rounds, at float64 precision.

For VAEs and flows, :func:`windows` cuts trajectories into short flattened windows (x0, y0, z0, x1, …).

:func:`chaos_table` compares real and generated trajectories like seed 001's table (Lyapunov exponent per
coordinate, real vs generated), with the Rosenstein estimator of :mod:`genlib.dynamics.lyapunov`, and adds
distribution checks: 1-Wasserstein and Kolmogorov-Smirnov distances between the marginals of x, y, z, the rate
of z maxima, and the distance of the generated points to the real *Lorenz map* z_{n+1} = f(z_n) of
successive maxima of z (Lorenz 1963: a thin, cusp-shaped curve, increasing left of its peak and decreasing
right of it, with |f'| > 1 everywhere, which is where the chaos comes from).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from genlib.cache import LRUCache
from genlib.data.base import DataError
from genlib.systems.lorenz import MAX_STATES, random_initial_states, simulate_lorenz

IMAGE_SIDE = 32
STEPS_PER_IMAGE = IMAGE_SIDE**2  # 1024 time steps per image
COORDS = ("x", "y", "z")

# ----------------------------------------------------------------------------- simulation

# The integrator costs ~2 s whatever n_traj: keep recent results (read-only) in memory, 64 MB at most.
_CACHE: LRUCache[np.ndarray] = LRUCache(max_entries=64, max_bytes=64 * 2**20)


def lorenz_trajectories(
    n_traj: int,
    n_steps: int,
    dt: float = 0.1,
    seed: int = 0,
    sigma: float = 10.0,
    rho: float = 28.0,
    beta: float = 8.0 / 3.0,
    burn_in: float = 10.0,
) -> np.ndarray:
    """``n_traj`` Lorenz trajectories of ``n_steps`` states every ``dt``, shape (n_traj, n_steps, 3).

    Starts are random (``random_initial_states`` with ``default_rng(seed)``) and the first ``burn_in`` time units
    are dropped so every kept state lies on the attractor. All trajectories are integrated as one stacked
    3·n_traj-dimensional system by :func:`genlib.systems.lorenz.simulate_lorenz` (DOP853, rtol = atol = 1e-9): the
    solver's per-step overhead dominates, so 1,000 trajectories cost about what one does (~2-4 s for 1,024 steps
    at dt = 0.1). Results are memoised (same arguments → same array, copied), since datasets are rebuilt often.
    """
    n_traj, n_steps = int(n_traj), int(n_steps)
    if n_traj < 1 or n_steps < 1:
        raise DataError(f"n_traj and n_steps must be at least 1 (got {n_traj}, {n_steps}).")
    if not (np.isfinite(dt) and dt > 0) or not (np.isfinite(burn_in) and burn_in >= 0):
        raise DataError(f"dt must be > 0 and burn_in >= 0 (got dt={dt}, burn_in={burn_in}).")
    n_burn = int(round(burn_in / dt))
    if n_traj * (n_burn + n_steps) > MAX_STATES:
        raise DataError(
            f"{n_traj} trajectories × {n_burn + n_steps} steps is over the {MAX_STATES:,}-state limit; "
            "use fewer trajectories, fewer steps or a larger dt."
        )
    key = (n_traj, n_steps, float(dt), int(seed), float(sigma), float(rho), float(beta), n_burn)

    def simulate() -> np.ndarray:
        rng = np.random.default_rng(int(seed))
        x0 = random_initial_states(n_traj, rng)
        traj = simulate_lorenz(x0, sigma, rho, beta, dt, (n_burn + n_steps - 1) * dt)[:, n_burn:, :]
        traj = np.ascontiguousarray(traj)
        traj.setflags(write=False)
        return traj

    return _CACHE.get_or_build(key, simulate).copy()


def _as_batch(traj: np.ndarray, name: str = "traj") -> np.ndarray:
    """(T, 3) → (1, T, 3); (n, T, 3) unchanged; anything else is a DataError."""
    arr = np.asarray(traj)
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[-1] != 3:
        raise DataError(f"{name} must have shape (n, T, 3) or (T, 3), got {np.shape(traj)}.")
    return arr


# ----------------------------------------------------------------------------- scaling and images

@dataclass
class ChannelScaler:
    """Per-coordinate min-max map of (x, y, z) onto [-1, 1]: s = 2 (v − low) / (high − low) − 1.

    One (low, high) pair per channel, shared by every image and every time step, so relative sizes within a
    trajectory survive and the map is affine (its inverse is exact up to rounding).
    """

    low: np.ndarray
    high: np.ndarray

    def __post_init__(self) -> None:
        self.low = np.asarray(self.low, dtype=np.float64).reshape(3)
        self.high = np.asarray(self.high, dtype=np.float64).reshape(3)

    @classmethod
    def fit(cls, traj: np.ndarray) -> ChannelScaler:
        """Min and max of each coordinate over all trajectories and steps (array of shape (..., 3))."""
        arr = np.asarray(traj, dtype=np.float64)
        if arr.ndim < 1 or arr.shape[-1] != 3 or arr.size == 0:
            raise DataError(f"ChannelScaler.fit needs an array of shape (..., 3), got {arr.shape}.")
        flat = arr.reshape(-1, 3)
        if not np.all(np.isfinite(flat)):
            raise DataError("ChannelScaler.fit got non-finite values.")
        low, high = flat.min(axis=0), flat.max(axis=0)
        # A constant channel would divide by zero: give it a unit-wide span around its value instead.
        flat_ch = high - low <= 1e-12 * np.maximum(1.0, np.abs(high))
        low, high = np.where(flat_ch, low - 0.5, low), np.where(flat_ch, high + 0.5, high)
        return cls(low, high)

    @property
    def span(self) -> np.ndarray:
        return self.high - self.low

    def scale(self, traj: np.ndarray) -> np.ndarray:
        """Data units → [-1, 1] (values outside the fitted range land outside [-1, 1], linearly)."""
        arr = np.asarray(traj)
        return (2.0 * (arr - self.low) / self.span - 1.0).astype(np.result_type(arr.dtype, np.float32))

    def unscale(self, scaled: np.ndarray) -> np.ndarray:
        """[-1, 1] → data units, the exact inverse of :meth:`scale`."""
        arr = np.asarray(scaled)
        return (self.low + (arr + 1.0) * (self.span / 2.0)).astype(np.result_type(arr.dtype, np.float32))

    def state_dict(self) -> dict[str, Any]:
        return {"low": self.low.tolist(), "high": self.high.tolist()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ChannelScaler:
        return cls(np.asarray(state["low"], dtype=np.float64), np.asarray(state["high"], dtype=np.float64))


def to_images(traj: np.ndarray, scaler: ChannelScaler | None = None) -> np.ndarray:
    """Trajectories (n, 1024, 3) → images (n, 3, 32, 32), raster order: image[c, r, k] = traj[32r + k, c].

    With a scaler, values are first mapped to [-1, 1]; without one they stay in data units (the layout alone,
    bit-exact). The dtype follows the input (float32 stays float32, float64 stays float64).
    """
    arr = _as_batch(traj)
    if arr.shape[1] != STEPS_PER_IMAGE:
        raise DataError(f"an image holds exactly {STEPS_PER_IMAGE} steps; got trajectories of {arr.shape[1]}.")
    if scaler is not None:
        arr = scaler.scale(arr)
    return np.ascontiguousarray(arr.reshape(len(arr), IMAGE_SIDE, IMAGE_SIDE, 3).transpose(0, 3, 1, 2))


def from_images(images: np.ndarray, scaler: ChannelScaler | None = None) -> np.ndarray:
    """Images (n, 3, 32, 32), or rows of 3072 values flattened in that order → trajectories (n, 1024, 3).

    The inverse of :func:`to_images` (a generated image of any range decodes to a trajectory in data units).
    """
    arr = np.asarray(images)
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    if arr.ndim == 2 and arr.shape[1] == 3 * STEPS_PER_IMAGE:
        arr = arr.reshape(len(arr), 3, IMAGE_SIDE, IMAGE_SIDE)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.shape[1:] != (3, IMAGE_SIDE, IMAGE_SIDE):
        raise DataError(f"images must have shape (n, 3, {IMAGE_SIDE}, {IMAGE_SIDE}) or (n, "
                        f"{3 * STEPS_PER_IMAGE}), got {np.shape(images)}.")
    traj = np.ascontiguousarray(arr.transpose(0, 2, 3, 1).reshape(len(arr), STEPS_PER_IMAGE, 3))
    return traj if scaler is None else scaler.unscale(traj)


# ----------------------------------------------------------------------------- windows for VAEs and flows

def windows(traj: np.ndarray, length: int, stride: int = 1) -> np.ndarray:
    """Sliding windows of ``length`` steps every ``stride`` steps, flattened: shape (m, length·3).

    Row order: trajectory by trajectory, then by start time; within a row the states follow each other,
    (x0, y0, z0, x1, y1, z1, …). Windows never straddle two trajectories. m = n·(⌊(T − length)/stride⌋ + 1).
    """
    arr = _as_batch(traj)
    length, stride = int(length), int(stride)
    if length < 1 or stride < 1:
        raise DataError(f"window length and stride must be at least 1 (got {length}, {stride}).")
    if length > arr.shape[1]:
        raise DataError(f"window length {length} is longer than the trajectories ({arr.shape[1]} steps).")
    view = np.lib.stride_tricks.sliding_window_view(arr, length, axis=1)[:, ::stride]  # (n, w, 3, length)
    return np.ascontiguousarray(view.transpose(0, 1, 3, 2)).reshape(-1, length * 3)


def unwindow(flat: np.ndarray, length: int) -> np.ndarray:
    """Flattened windows (m, length·3) → (m, length, 3), the inverse of the flattening in :func:`windows`."""
    arr = np.asarray(flat)
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != 3 * int(length):
        raise DataError(f"windows of length {length} need {3 * int(length)} columns, got shape {np.shape(flat)}.")
    return arr.reshape(len(arr), int(length), 3)


# ----------------------------------------------------------------------------- the Lorenz map

REFINE = ("spline", "parabola", "none")


def z_maxima(z: np.ndarray, refine: str | bool = "spline") -> np.ndarray:
    """Successive strict local maxima of a sampled series z(t): z[i−1] < z[i] > z[i+1] (plateaus don't count).

    At dt = 0.1 a z oscillation spans only ~7 samples, so a sampled peak falls up to ~1 unit short of the true
    one and the Lorenz map smears into a cloud. ``refine`` replaces each sampled peak value (never the count):

    - ``"spline"`` (default): the maximum of the series' cubic interpolating spline within one sample of the
      peak. On 64 trajectories at dt = 0.1 the real-vs-real return-map distance is 0.65 (0.97 with the
      parabola, 1.23 unrefined, 0.07 for true maxima at dt = 0.01).
    - ``"parabola"``: the top of the parabola through the three samples,
      z_i − (z_{i+1} − z_{i−1})² / (8 (z_{i+1} − 2z_i + z_{i−1})); exact for a sampled parabola.
    - ``"none"`` (or False): the sampled values.

    Non-finite samples never count as peaks (a series with any falls back from spline to parabola).
    """
    kind = ("spline" if refine else "none") if isinstance(refine, bool) else str(refine)
    if kind not in REFINE:
        raise DataError(f"refine must be one of {', '.join(REFINE)} (got {refine!r}).")
    arr = np.asarray(z, dtype=np.float64).ravel()
    if len(arr) < 3:
        return np.empty(0)
    a, b, c = arr[:-2], arr[1:-1], arr[2:]
    with np.errstate(invalid="ignore"):
        peak = (b > a) & (b > c) & np.isfinite(a) & np.isfinite(b) & np.isfinite(c)
    if kind == "none" or not np.any(peak):
        return b[peak]
    if kind == "spline" and np.all(np.isfinite(arr)):
        from scipy.interpolate import CubicSpline

        idx = np.flatnonzero(peak) + 1
        grid = idx[:, None] + np.linspace(-1.0, 1.0, 81)  # 1/40-sample resolution: error ~1e-3 of a unit
        values = CubicSpline(np.arange(len(arr), dtype=np.float64), arr)(grid)
        return np.maximum(values.max(axis=1), arr[idx])
    a, b, c = a[peak], b[peak], c[peak]
    return b - (c - a) ** 2 / (8.0 * (c - 2.0 * b + a))  # curvature < 0 at a strict peak


def return_map(z: np.ndarray, refine: str | bool = "spline") -> tuple[np.ndarray, np.ndarray]:
    """Pairs (z_n, z_{n+1}) of successive z maxima: Lorenz's map. ``z`` is one series (T,) or several (n, T);
    pairs are formed within each series, never across two."""
    arr = np.asarray(z, dtype=np.float64)
    rows = arr[None] if arr.ndim == 1 else arr.reshape(-1, arr.shape[-1])
    xs, ys = [], []
    for row in rows:
        m = z_maxima(row, refine)
        xs.append(m[:-1])
        ys.append(m[1:])
    return np.concatenate(xs) if xs else np.empty(0), np.concatenate(ys) if ys else np.empty(0)


def fit_return_map(zn: np.ndarray, zn1: np.ndarray, n_bins: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """The map z_{n+1} = f(z_n) as knots (medians of z_n and z_{n+1} in quantile bins of z_n), for np.interp.

    A median per bin follows the thin curve and ignores the odd outlier; beyond the knots np.interp holds the
    end values, so a generated point far outside the real range is judged against the nearest end of the map.
    """
    zn, zn1 = np.asarray(zn, dtype=np.float64), np.asarray(zn1, dtype=np.float64)
    if len(zn) < 2:
        raise DataError("the return map needs at least 2 pairs of successive z maxima.")
    n_bins = max(1, min(int(n_bins), len(zn) // 5 or 1))
    edges = np.quantile(zn, np.linspace(0.0, 1.0, n_bins + 1))
    idx = np.clip(np.searchsorted(edges, zn, side="right") - 1, 0, n_bins - 1)
    kx, ky = [], []
    for b in range(n_bins):
        sel = idx == b
        if np.any(sel):
            kx.append(np.median(zn[sel]))
            ky.append(np.median(zn1[sel]))
    kx_arr, ky_arr = np.asarray(kx), np.asarray(ky)
    order = np.argsort(kx_arr, kind="stable")
    return kx_arr[order], ky_arr[order]


def return_map_distance(real_pairs: tuple[np.ndarray, np.ndarray], other_pairs: tuple[np.ndarray, np.ndarray],
                        n_bins: int = 30) -> float:
    """Mean |z_{n+1} − f_real(z_n)| of the other series' pairs to the map fitted on the real pairs (data units)."""
    kx, ky = fit_return_map(*real_pairs, n_bins=n_bins)
    zn, zn1 = other_pairs
    if len(zn) == 0:
        raise DataError("no pairs of successive z maxima in the generated series.")
    return float(np.mean(np.abs(zn1 - np.interp(zn, kx, ky))))


# ----------------------------------------------------------------------------- "is the chaos preserved?"

_LYAP = "Lyapunov exponent (Rosenstein, 1/time)"
_W1 = "marginal W1 distance"
_KS = "marginal KS statistic"
_RATE = "z maxima per time unit"
_MAP = "return-map distance |z_{n+1} − f_real(z_n)|"
_STEP = "mean |state change| per step"
TABLE_COLUMNS = ["check", "coordinate", "real", "real_std", "generated", "generated_std", "n_real", "n_generated",
                 "note"]


def _finite_rows(traj: np.ndarray) -> tuple[np.ndarray, int]:
    ok = np.all(np.isfinite(traj.reshape(len(traj), -1)), axis=1)
    return traj[ok], int(np.sum(~ok))


def _halves(traj: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint halves of the real data (alternate trajectories, or the two halves in time of a single one):
    the real-vs-real value of a distance is its noise floor, what 'small' means for the generated column."""
    if len(traj) >= 2:
        return traj[0::2], traj[1::2]
    t = traj.shape[1] // 2
    return traj[:, :t], traj[:, t:]


def _pooled(traj: np.ndarray, j: int, rng: np.random.Generator, max_points: int) -> np.ndarray:
    v = traj[..., j].ravel()
    return rng.choice(v, max_points, replace=False) if len(v) > max_points else v


def _lyap_cells(traj: np.ndarray, dt: float, max_traj: int, kwargs: dict[str, Any]
                ) -> dict[str, tuple[float, float, int, str]]:
    """Rosenstein exponent of each of the first ``max_traj`` trajectories, per coordinate and for the full state:
    {coord: (mean, std, n_ok, note)}. A failure (ValueError, e.g. a constant or too short series) is skipped and
    reported in the note; NaN when every trajectory failed."""
    from genlib.dynamics.lyapunov import rosenstein  # written alongside; imported late so this module loads alone

    out: dict[str, tuple[float, float, int, str]] = {}
    for name, j in (("x", 0), ("y", 1), ("z", 2), ("xyz", None)):
        values, errors = [], []
        for tr in traj[:max_traj]:
            series = tr if j is None else tr[:, j]
            try:
                value = float(rosenstein(series, dt, **kwargs).exponent)
            except (ValueError, FloatingPointError, np.linalg.LinAlgError) as exc:
                errors.append(str(exc))
                continue
            if np.isfinite(value):
                values.append(value)
            else:
                errors.append("non-finite exponent")
        note = "" if not errors else f"{len(errors)} of {len(errors) + len(values)} failed: {errors[0]}"
        if values:
            out[name] = (float(np.mean(values)), float(np.std(values)), len(values), note)
        else:
            out[name] = (float("nan"), float("nan"), 0, note or "no trajectories")
    return out


def chaos_table(
    real: np.ndarray,
    fake: np.ndarray,
    dt: float,
    max_traj: int = 8,
    max_points: int = 20_000,
    seed: int = 0,
    lyapunov: bool = True,
    rosenstein_kwargs: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Seed 001's "chaos preserved?" table, extended: real vs generated trajectories, one row per check.

    Arguments:
        real, fake: trajectories (n, T, 3) and (m, T', 3) (or single (T, 3)) in data units, sampled every dt.
        max_traj: Lyapunov exponents are estimated on at most this many trajectories of each side (each one
            separately: gluing trajectories together would create false neighbours at the joins);
            ``real``/``generated`` are the mean, ``*_std`` the spread over trajectories.
        max_points: pooled states per side used for the marginal distances (a seeded subsample).
        lyapunov: False skips the exponents (the slowest part).
        rosenstein_kwargs: passed to :func:`genlib.dynamics.lyapunov.rosenstein` (emb_dim, lag, …).

    Rows (``check``, ``coordinate``): the Lyapunov exponent for x, y, z and the full state xyz (the largest
    exponent of the Lorenz system is 0.9056); W1 and KS distances between the marginals of x, y, z; the rate of
    z maxima; the mean step between samples (jitter shows here first); and the mean distance of the generated
    (z_n, z_{n+1}) pairs to the real Lorenz map. For the
    distances, the ``real`` column is the same distance between two halves of the real data (its noise floor).
    Garbage never raises: a cell that cannot be computed is NaN and its reason is in ``note``.
    """
    from scipy import stats

    real_b, fake_b = _as_batch(real, "real"), _as_batch(fake, "fake")
    real_b, n_bad_real = _finite_rows(real_b.astype(np.float64))
    fake_b, n_bad_fake = _finite_rows(fake_b.astype(np.float64))
    if len(real_b) == 0:
        raise DataError("chaos_table needs at least one finite real trajectory.")
    bad_note = f"{n_bad_fake} generated trajectories with non-finite values left out" if n_bad_fake else ""
    nan = float("nan")
    rows: list[dict[str, Any]] = []

    def add(check: str, coord: str, r: float, g: float, r_std: float = nan, g_std: float = nan,
            n_r: int = 0, n_g: int = 0, note: str = "") -> None:
        notes = "; ".join(s for s in (note, bad_note) if s)
        rows.append(dict(check=check, coordinate=coord, real=r, real_std=r_std, generated=g, generated_std=g_std,
                         n_real=n_r, n_generated=n_g, note=notes))

    if lyapunov:
        kwargs = dict(rosenstein_kwargs or {})
        lr = _lyap_cells(real_b, dt, max_traj, kwargs)
        lf = _lyap_cells(fake_b, dt, max_traj, kwargs) if len(fake_b) else {
            k: (nan, nan, 0, "no finite generated trajectories") for k in lr}
        for coord in ("x", "y", "z", "xyz"):
            (rm, rs, rn, rnote), (fm, fs, fn, fnote) = lr[coord], lf[coord]
            note = "; ".join(f"{side}: {n}" for side, n in (("real", rnote), ("generated", fnote)) if n)
            add(_LYAP, coord, rm, fm, rs, fs, rn, fn, note)

    # Separate streams, so the real column does not depend on what the generated data look like.
    rng_real, rng_fake = np.random.default_rng(seed), np.random.default_rng(seed + 1)
    half_a, half_b = _halves(real_b)
    floor_note = "real column: the same distance between two halves of the real data (noise floor)"
    for j, coord in enumerate(COORDS):
        ra, rb = _pooled(half_a, j, rng_real, max_points), _pooled(half_b, j, rng_real, max_points)
        r_all = _pooled(real_b, j, rng_real, max_points)
        if len(fake_b):
            f_all = _pooled(fake_b, j, rng_fake, max_points)
            w_g, ks_g = stats.wasserstein_distance(r_all, f_all), stats.ks_2samp(r_all, f_all).statistic
        else:
            w_g = ks_g = nan
        add(_W1, coord, stats.wasserstein_distance(ra, rb), float(w_g), n_r=len(real_b), n_g=len(fake_b),
            note=floor_note)
        add(_KS, coord, float(stats.ks_2samp(ra, rb).statistic), float(ks_g), n_r=len(real_b), n_g=len(fake_b),
            note=floor_note)

    def rate(traj: np.ndarray) -> tuple[float, float]:
        if len(traj) == 0 or traj.shape[1] < 3:
            return nan, nan
        r = [len(z_maxima(tr[:, 2], refine=False)) / ((traj.shape[1] - 1) * dt) for tr in traj]
        return float(np.mean(r)), float(np.std(r))

    (rr, rrs), (fr, frs) = rate(real_b), rate(fake_b)
    add(_RATE, "z", rr, fr, rrs, frs, len(real_b), len(fake_b))

    # How far the state moves between samples. Cheap and telling: pixel noise makes a generated trajectory
    # jitter (a larger value), and that jitter alone inflates a Rosenstein exponent towards noise's ~1.25/dt.
    def step_size(traj: np.ndarray) -> tuple[float, float]:
        if len(traj) == 0 or traj.shape[1] < 2:
            return nan, nan
        per = np.linalg.norm(np.diff(traj, axis=1), axis=2).mean(axis=1)
        return float(per.mean()), float(per.std())

    (sr, srs), (sf, sfs) = step_size(real_b), step_size(fake_b)
    add(_STEP, "xyz", sr, sf, srs, sfs, len(real_b), len(fake_b))

    r_pairs = return_map(real_b[..., 2])
    f_pairs = return_map(fake_b[..., 2]) if len(fake_b) else (np.empty(0), np.empty(0))
    notes = [floor_note]
    try:
        r_dist = return_map_distance(return_map(half_a[..., 2]), return_map(half_b[..., 2]))
    except DataError as exc:
        r_dist, notes = nan, notes + [f"real: {exc}"]
    try:
        g_dist = return_map_distance(r_pairs, f_pairs)
    except DataError as exc:
        g_dist, notes = nan, notes + [f"generated: {exc}"]
    add(_MAP, "z", r_dist, g_dist, n_r=len(r_pairs[0]), n_g=len(f_pairs[0]), note="; ".join(notes))
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)
