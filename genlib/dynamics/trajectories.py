r"""Is the chaos preserved? Real vs generated Lorenz trajectories, compared like seed 001 and more.

Generated rows (images or windows) are decoded with :mod:`genlib.data.trajectory_codec`, the representation the
datasets are built with. :func:`chaos_table` compares real and generated trajectories like seed 001's table
(Lyapunov exponent per coordinate, real vs generated), with the Rosenstein estimator of
:mod:`genlib.dynamics.lyapunov`, and adds distribution checks: 1-Wasserstein and Kolmogorov-Smirnov distances
between the marginals of x, y, z, the rate of z maxima, and the distance of the generated points to the real
*Lorenz map* z_{n+1} = f(z_n) of successive maxima of z (Lorenz 1963: a thin, cusp-shaped curve, increasing
left of its peak and decreasing right of it, with |f'| > 1 everywhere, which is where the chaos comes from).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from genlib.data.base import DataError
from genlib.data.trajectory_codec import COORDS, as_batch

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
_STSP = "state-space divergence D_stsp (KL)"
_PSD = "power-spectrum distance D_H (Hellinger)"
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
    reconstruction: bool = False,
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
        reconstruction: add the state-space divergence and the power-spectrum distance of
            :mod:`genlib.dynamics.reconstruction` (long free-running trajectories of one length on both sides).

    Rows (``check``, ``coordinate``): the Lyapunov exponent for x, y, z and the full state xyz (the largest
    exponent of the Lorenz system is 0.9056); W1 and KS distances between the marginals of x, y, z; the rate of
    z maxima; the mean step between samples (jitter shows here first); and the mean distance of the generated
    (z_n, z_{n+1}) pairs to the real Lorenz map. For the
    distances, the ``real`` column is the same distance between two halves of the real data (its noise floor).
    Garbage never raises: a cell that cannot be computed is NaN and its reason is in ``note``.
    """
    from scipy import stats

    real_b, fake_b = as_batch(real, "real"), as_batch(fake, "fake")
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
    if reconstruction and len(real_b) >= 2 and len(fake_b) >= 2 and real_b.shape[1] == fake_b.shape[1]:
        from genlib.dynamics.reconstruction import power_spectrum_distance, state_space_divergence

        # Same sizes on both sides: the floor compares the two real halves, the model each half with one half
        # of the generated set.
        fake_a, fake_c = fake_b[0::2][: len(half_a)], fake_b[1::2][: len(half_b)]
        for check, measure in ((_STSP, state_space_divergence), (_PSD, power_spectrum_distance)):
            add(check, "xyz", measure(half_a, half_b), float(np.mean([measure(half_a, fake_a), measure(half_b, fake_c)])),
                n_r=len(real_b), n_g=len(fake_b), note=floor_note)
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)
