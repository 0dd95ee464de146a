r"""Largest Lyapunov exponent: how fast nearby states separate, |delta(t)| ~ |delta(0)| exp(lambda t).

lambda > 0 means chaos (errors grow exponentially), lambda = 0 a periodic or quasi-periodic motion,
lambda < 0 a motion that settles. For Lorenz-63 at (10, 28, 8/3), lambda = 0.9056 per unit time.

Two estimators, both hand-written because *how* they work is the lesson (scipy/sklearn-style
library calls would hide it):

- `benettin` / `benettin_rhs` (Benettin et al. 1980) needs the EQUATIONS f: run two copies of the
  system d0 apart, after every step measure their distance d, add ln(d / d0), pull the copy back to
  distance d0 along the same direction, and average: lambda = (1 / T) sum ln(d_i / d0).
  Accurate (within ~3% on Lorenz for T = 200; the spread is the finite length T), and it works on any
  system, including one fitted to data by sparse regression.
- `rosenstein` (Rosenstein, Collins & De Luca 1993) needs only a TIME SERIES (real or generated):
  pair every point with its nearest neighbour on another stretch of the trajectory, follow both pairs
  forward, average ln(distance) over the pairs, and fit a line to the early, straight part of that
  curve: its slope is lambda. Rougher (±10-25% on Lorenz, depending on the fit range) but it needs no
  model at all.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.spatial import cKDTree

from genlib.dynamics.lorenz import DynamicsError
from genlib.systems.lorenz import (
    BETA,
    DIVERGENCE_LIMIT,
    MAX_STEPS,
    RHO,
    SIGMA,
    lorenz_derivative,
    step_rk4,
)

__all__ = [
    "BenettinResult",
    "RosensteinResult",
    "benettin",
    "benettin_rhs",
    "delay_embed",
    "lyapunov_by_coordinate",
    "rosenstein",
]

# ============================================================================ Benettin (needs f)


@dataclass
class BenettinResult:
    """Arguments:
        exponent: the estimate of lambda (per unit time), = running[-1].
        times: time since the end of the transient at each renormalisation, shape (n_renorm,).
        running: the estimate using the renormalisations up to that time (it settles as T grows).
        n_renorm: how many renormalisations were averaged.
    """

    exponent: float
    times: np.ndarray
    running: np.ndarray
    n_renorm: int


def _rowwise(rhs: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> bool:
    """True when rhs maps rows (k, d) -> (k, d) correctly, so both copies advance in one call."""
    rows = np.stack([x, x + 1e-3 * np.arange(1, x.size + 1)])
    try:
        with np.errstate(all="ignore"):
            both = np.asarray(rhs(rows), dtype=np.float64)
            single = [np.asarray(rhs(r), dtype=np.float64) for r in rows]
    except Exception:  # noqa: BLE001 - an rhs written for one state only is fine, just slower
        return False
    return both.shape == rows.shape and all(np.allclose(both[i], single[i], equal_nan=True) for i in range(2))


def benettin_rhs(
    rhs: Callable[[np.ndarray], np.ndarray],
    x0: np.ndarray | tuple[float, ...] | list[float],
    dt: float = 0.01,
    t_max: float = 200.0,
    transient: float = 10.0,
    d0: float = 1e-8,
    renorm_every: int = 1,
) -> BenettinResult:
    """Largest Lyapunov exponent of dx/dt = rhs(x) by two-trajectory renormalisation (Benettin).

    Both copies advance with the same RK4 step (`step_rk4`) of size dt. Every `renorm_every` steps:

        d_i = |y - x|,   S += ln(d_i / d0),   y <- x + (y - x) * d0 / d_i
        lambda ~ S / (elapsed time)

    During the first `transient` time units the pair already runs and is renormalised but nothing is
    added, so x falls onto the attractor and y - x turns into the most unstable direction first.

    `rhs` takes a state (d,) and returns its derivative (d,); any dimension d works, so this also measures
    a system FITTED to data. If rhs also accepts rows (k, d) it is called once for both copies (faster).
    A system that blows up (NaN/inf, or the pair's norm above 1e6) raises DynamicsError saying when.
    """
    x = np.asarray(x0, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise DynamicsError(f"The initial state must be a 1-D array, got shape {x.shape}.")
    if not np.all(np.isfinite(x)):
        raise DynamicsError(f"The initial state must be finite, got {x.tolist()}.")
    for name, v in (("dt", dt), ("t_max", t_max), ("d0", d0)):
        if not (np.isfinite(v) and v > 0):
            raise DynamicsError(f"{name} must be > 0, got {v}.")
    if not (np.isfinite(transient) and transient >= 0):
        raise DynamicsError(f"The transient must be >= 0, got {transient}.")
    renorm_every = int(renorm_every)
    if renorm_every < 1:
        raise DynamicsError(f"renorm_every must be a whole number >= 1, got {renorm_every}.")
    n_tr = int(math.ceil(round(transient / dt, 9) / renorm_every)) * renorm_every  # whole renorm blocks
    n_meas = int(round(t_max / dt)) // renorm_every * renorm_every
    if n_meas < renorm_every:
        raise DynamicsError(f"t_max = {t_max:g} is shorter than one renormalisation period ({renorm_every} x dt).")
    if n_tr + n_meas > MAX_STEPS:
        raise DynamicsError(
            f"(transient + t_max) / dt = {n_tr + n_meas:,} steps is over the {MAX_STEPS:,} limit; use a larger dt."
        )
    raw = rhs(x)
    f0 = np.asarray(raw, dtype=np.float64)
    if f0.shape != x.shape:
        raise DynamicsError(f"The system's derivative has shape {f0.shape} for a state of shape {x.shape}.")
    f = rhs if isinstance(raw, np.ndarray) else (lambda s: np.asarray(rhs(s), dtype=np.float64))  # lists too

    u = np.ones_like(x) / math.sqrt(x.size)  # any direction works: it turns into the unstable one
    pair = np.stack([x, x + d0 * u])
    if _rowwise(f, x):
        def advance(p: np.ndarray) -> np.ndarray:
            return step_rk4(f, p, dt)
    else:
        def advance(p: np.ndarray) -> np.ndarray:
            return np.stack([step_rk4(f, p[0], dt), step_rk4(f, p[1], dt)])

    n_renorm = n_meas // renorm_every
    logs = np.empty(n_renorm)
    limit2 = DIVERGENCE_LIMIT**2
    k = 0
    # The loop is plain Python on purpose: each step depends on the previous one. ~2 numpy calls per
    # line keep it at ~50 us per step for both copies (20 000 steps in about a second).
    with np.errstate(over="ignore", invalid="ignore"):
        for i in range(1, n_tr + n_meas + 1):
            pair = advance(pair)
            flat = pair.ravel()
            if not float(flat @ flat) < limit2:  # |both states| > 1e6; also catches NaN and inf
                raise DynamicsError(
                    f"The system diverges at t = {i * dt:.4g} (its state grew past {DIVERGENCE_LIMIT:.0e} or "
                    "became NaN): the trajectory is unbounded, so it has no finite Lyapunov exponent. "
                    "A fitted system does this when its coefficients are off (e.g. fitted from data sampled "
                    "too coarsely, as with dt = 0.1 in the seed study)."
                )
            if i % renorm_every == 0:
                diff = pair[1] - pair[0]
                dist = math.sqrt(float(diff @ diff))
                if dist == 0.0:
                    raise DynamicsError(
                        f"The two copies merged at t = {i * dt:.4g} (distance 0): the system contracts "
                        "everything to a point faster than double precision can follow; try a larger d0."
                    )
                if i > n_tr:
                    logs[k] = math.log(dist / d0)
                    k += 1
                pair[1] = pair[0] + diff * (d0 / dist)
    times = np.arange(1, n_renorm + 1) * (renorm_every * dt)
    running = np.cumsum(logs) / times
    return BenettinResult(exponent=float(running[-1]), times=times, running=running, n_renorm=n_renorm)


def benettin(
    sigma: float = SIGMA,
    rho: float = RHO,
    beta: float = BETA,
    x0: np.ndarray | tuple[float, float, float] | list[float] | None = None,
    dt: float = 0.01,
    t_max: float = 200.0,
    transient: float = 10.0,
    d0: float = 1e-8,
) -> BenettinResult:
    """Largest Lyapunov exponent of Lorenz-63 by `benettin_rhs` (x0 = None starts at (1, 1, 1)).

    Measured with the defaults: 0.9124 (+0.75% from 0.9056), ~1 s of CPU (21 000 RK4 steps of the pair,
    ~50 us each, almost all numpy's per-call overhead on 3-element arrays). Eight other starts on the
    attractor (`on_attractor(0..7)`) gave 0.891-0.933 (-1.6% to +3.0%): that spread is the finite-time
    (T = 200) fluctuation of the estimate, not integration error; it shrinks like 1 / sqrt(t_max).
    """
    start = (1.0, 1.0, 1.0) if x0 is None else x0

    def rhs(s: np.ndarray) -> np.ndarray:
        return lorenz_derivative(s, sigma, rho, beta)

    return benettin_rhs(rhs, start, dt=dt, t_max=t_max, transient=transient, d0=d0)


# ============================================================================ Rosenstein (needs data)


@dataclass
class RosensteinResult:
    """Arguments:
        exponent: the fitted slope of `mean_log_divergence` per unit TIME (slope per step / dt).
        steps: k = 0, 1, ..., trajectory_len (steps after the pairing).
        times: k * dt.
        mean_log_divergence: y(k) = mean over pairs of ln |X[i + k] - X[j(i) + k]|.
        fit_start, fit_stop: the line was fitted to steps[fit_start:fit_stop] (stop exclusive).
        intercept: the fitted line is y = intercept + exponent * times.
        emb_dim: delay copies per input column (1: the input rows are the states as they are).
        lag: delay between the copies, in samples (0 when no embedding was done).
        min_tsep: pairs closer than this many samples in time were not allowed as neighbours.
    """

    exponent: float
    steps: np.ndarray
    times: np.ndarray
    mean_log_divergence: np.ndarray
    fit_start: int
    fit_stop: int
    intercept: float
    emb_dim: int
    lag: int
    min_tsep: int


#: Fewest samples a series may have (after embedding, before following pairs forward).
MIN_POINTS = 50
#: Default trajectory_len in mean periods: long enough for the Lorenz curve to reach its plateau.
FOLLOW_PERIODS = 8
#: Automatic fit: from where the curve has made FIT_FROM of its rise to the plateau, to FIT_TO of it.
FIT_FROM, FIT_TO = 0.1, 0.7
#: Plateau level = mean of the last PLATEAU_TAIL of the curve.
PLATEAU_TAIL = 0.2
#: Distances below REPEAT_TOL x (largest column std) count as "the same state" (exact repeats).
REPEAT_TOL = 1e-9
#: A curve rising less than this (in nats, i.e. distances grow < 1.65x) is "flat": fit all of it.
FLAT_RISE = 0.5


def delay_embed(x: np.ndarray, emb_dim: int, lag: int) -> np.ndarray:
    """Takens delay vectors: row i = (x[i], x[i + lag], ..., x[i + (emb_dim - 1) lag]).

    x of shape (n,) gives (n - (emb_dim - 1) lag, emb_dim); x of shape (n, d) embeds every column and
    puts the copies side by side, giving (n - (emb_dim - 1) lag, d * emb_dim).
    """
    a = np.asarray(x, dtype=np.float64)
    a2 = a[:, None] if a.ndim == 1 else a
    n = a2.shape[0] - (emb_dim - 1) * lag
    if n < 1:
        raise DynamicsError(f"The series ({a2.shape[0]} samples) is shorter than one delay vector "
                            f"(emb_dim = {emb_dim}, lag = {lag}).")
    return np.concatenate([a2[i * lag: i * lag + n] for i in range(emb_dim)], axis=1)


def _autocorrelation_lag(x: np.ndarray) -> int:
    """First lag where the autocorrelation drops below 1 - 1/e (Rosenstein et al.'s rule), else 1."""
    c = x - x.mean()
    n = len(c)
    spec = np.fft.rfft(c, 2 * n)
    ac = np.fft.irfft(spec * np.conj(spec))[:n]
    below = np.flatnonzero(ac < (1.0 - 1.0 / np.e) * ac[0])
    return int(below[0]) if below.size else 1


def _mean_period(a: np.ndarray) -> float:
    """1 / (mean frequency of the power spectrum), in samples; columns standardised, spectra summed."""
    c = a - a.mean(axis=0)
    sd = c.std(axis=0)
    c = c / np.where(sd > 0, sd, 1.0)
    power = (np.abs(np.fft.rfft(c, axis=0)) ** 2).sum(axis=1)[1:]
    freq = np.fft.rfftfreq(len(c))[1:]  # cycles per sample
    return float(np.sum(power) / np.sum(freq * power))


def _check_series(series: np.ndarray, dt: float) -> np.ndarray:
    if not (np.isscalar(dt) and np.isfinite(dt) and dt > 0):
        raise DynamicsError(f"The sampling interval dt must be > 0, got {dt}.")
    a = np.asarray(series, dtype=np.float64)
    if a.ndim not in (1, 2) or a.size == 0:
        raise DynamicsError(f"The series must be 1-D (n,) or a state table (n, d), got shape {a.shape}.")
    bad = ~np.isfinite(a)
    if bad.any():
        row = int(np.flatnonzero(bad.reshape(len(a), -1).any(axis=1))[0])
        raise DynamicsError(f"The series contains NaN or infinite values (first at sample {row}).")
    if len(a) < MIN_POINTS:
        raise DynamicsError(f"The series has {len(a)} samples; a Lyapunov estimate needs at least "
                            f"{MIN_POINTS} (in practice thousands).")
    if np.all(np.ptp(a, axis=0) <= 1e-12 * max(1.0, float(np.max(np.abs(a))))):
        raise DynamicsError("The series is constant: nothing moves, so there is no divergence to measure.")
    return a


def _nearest_neighbours(points: np.ndarray, refs: np.ndarray, min_tsep: int, tol: float) -> np.ndarray:
    """For each reference index, the index of its nearest point at least min_tsep samples away in time
    and farther than tol (-1 if none). k-d tree queries with k growing until every one is found.

    tol (1e-9 x the data's spread) skips exact repeats: a sine sampled at a whole number of samples per
    period returns to the same state up to rounding, and ln(1e-16) noise would swamp the curve.
    """
    tree = cKDTree(points)
    n = len(points)
    nbr = np.full(len(refs), -1)
    todo = np.arange(len(refs))
    k = 8
    while todo.size:
        k = min(k, n)
        dist, idx = tree.query(points[refs[todo]], k=k)
        dist, idx = dist.reshape(len(todo), -1), idx.reshape(len(todo), -1)
        ok = (np.abs(idx - refs[todo, None]) >= min_tsep) & (dist > tol) & (idx < n)
        found = ok.any(axis=1)
        nbr[todo[found]] = idx[found, np.argmax(ok[found], axis=1)]
        todo = todo[~found]
        if k == n:
            break
        k *= 4
    return nbr


def _auto_fit_range(y: np.ndarray) -> tuple[int, int]:
    """Where the curve is straight: from FIT_FROM to FIT_TO of its rise to the plateau.

    rise = plateau - y[0], plateau = mean of the last 20% of the curve. The line is fitted from the last
    step below y[0] + 0.1 rise (skipping the first few steps, where the neighbour's offset is still
    turning into the unstable direction) to the first step at or above y[0] + 0.7 rise (before the
    saturation bends the curve). A curve that rises less than 0.5 nat is flat (periodic signal, lambda
    ~ 0) and is fitted whole. For a falling curve (a contracting system) the same rule runs downwards.
    """
    n = len(y)
    tail = y[int(n * (1 - PLATEAU_TAIL)):]
    plateau = float(np.nanmean(tail)) if np.any(np.isfinite(tail)) else float(np.nanmean(y))
    rise = plateau - y[0]
    if not np.isfinite(rise) or abs(rise) < FLAT_RISE:
        return 0, n
    frac = (y - y[0]) / rise
    frac = np.where(np.isfinite(frac), frac, -np.inf)
    above_from, above_to = frac >= FIT_FROM, frac >= FIT_TO
    start = max(int(np.argmax(above_from)) - 1, 0) if above_from.any() else 0
    stop = int(np.argmax(above_to)) + 1 if above_to.any() else n
    stop = min(max(stop, start + 3), n)  # a line through at least three points
    return max(min(start, stop - 2), 0), stop


def rosenstein(
    series: np.ndarray,
    dt: float,
    emb_dim: int | None = None,
    lag: int | None = None,
    min_tsep: int | None = None,
    trajectory_len: int | None = None,
    fit_range: tuple[int, int] | None = None,
    max_points: int = 4000,
) -> RosensteinResult:
    """Largest Lyapunov exponent from a sampled trajectory (Rosenstein, Collins & De Luca 1993).

    1. States: a 1-D series is delay-embedded (`delay_embed`) with emb_dim copies (default 3, enough for
       Lorenz) at `lag` samples (default: first lag where the autocorrelation falls below 1 - 1/e, the
       paper's rule). A table (n, d) is used as the state directly (emb_dim 1), or embedded column by
       column if emb_dim > 1 is given.
    2. Pairs: every reference point i (at most `max_points`, evenly spread) gets its nearest neighbour
       j among all points, excluding |i - j| < min_tsep (default: the mean period, 1 / mean frequency
       of the power spectrum, as the paper suggests), so neighbours lie on *different* passes.
    3. Curve: y(k) = mean_i ln |X[i + k] - X[j + k]| for k = 0..trajectory_len (default: 8 mean periods).
       For chaos it rises like y(0) + lambda k dt, then saturates at the attractor's size.
    4. Fit: least squares line on steps[fit_range] (default `_auto_fit_range`: from 10% to 70% of the
       rise to the plateau); exponent = slope / dt.

    Measured on clean RK4 Lorenz (lambda = 0.9056), mean ± sd over 5 trajectories from `on_attractor`:

        samples            x            y            z            full state (x, y, z)
        6000 at dt 0.01    0.99 ± 0.11  1.02 ± 0.09  0.89 ± 0.07  0.875 ± 0.05
        1000 at dt 0.1     0.94 ± 0.07  1.12 ± 0.13  0.87 ± 0.10  0.82 ± 0.07
        10000 at dt 0.1    0.92         1.05         0.93         0.87   (3 trajectories)
        500 at dt 0.1      0.58         1.06         0.68         0.70   (1 trajectory, on_attractor(1))

    At dt = 0.1 (the seed study's sampling) the straight part of the curve is only ~20 samples long and
    the first 1-2 samples are the alignment transient, so the fit rests on few points; with 1000 samples
    the nearest neighbours are also farther apart, which shortens the straight part further. The
    low values there come from the short series more than from dt (10 000 samples at dt 0.1 give 0.87).
    The fit-range rule itself moves every value by up to ±20% (fitting 0-70% of the rise instead gives
    0.94 / 0.91 on the state): read Rosenstein as "about 0.9", not to two digits.

    Not chaos: a sine gives 0.000 (flat curve); white noise gives ~1.25 / dt (12.5 at dt = 0.1, 125 at
    dt = 0.01): its curve jumps to the plateau in one step, so the "slope" is set by dt, not by any
    dynamics. Beware: a random walk (cumulated noise) gives ~1.2 at dt = 0.01, and a two-frequency
    quasi-periodic signal 0.33 at dt = 0.01: a positive value alone does not prove chaos.

    Raises DynamicsError for a series that is too short, constant, non-finite, or for bad parameters.
    """
    a = _check_series(series, dt)
    multi = a.ndim == 2 and a.shape[1] > 1
    col = a if a.ndim == 2 else a[:, None]
    if emb_dim is None:
        emb_dim = 1 if multi else 3
    emb_dim = int(emb_dim)
    if emb_dim < 1:
        raise DynamicsError(f"emb_dim must be >= 1, got {emb_dim}.")
    if lag is None:
        lag = 0 if emb_dim == 1 else int(min(_autocorrelation_lag(col[:, j]) for j in range(col.shape[1])))
    lag = int(lag)
    if emb_dim > 1 and lag < 1:
        raise DynamicsError(f"lag must be >= 1 sample, got {lag}.")
    X = delay_embed(col, emb_dim, lag) if emb_dim > 1 else col
    period = _mean_period(col)
    min_tsep = int(math.ceil(period)) if min_tsep is None else int(min_tsep)
    if min_tsep < 1:
        raise DynamicsError(f"min_tsep must be >= 1 sample, got {min_tsep}.")
    m = len(X)
    if trajectory_len is None:
        trajectory_len = min(max(int(round(FOLLOW_PERIODS * period)), 10), m // 2)
    trajectory_len = int(trajectory_len)
    if trajectory_len < 2:
        raise DynamicsError(f"trajectory_len must be >= 2 steps, got {trajectory_len}.")
    n_cand = m - trajectory_len  # points whose next trajectory_len steps exist
    if n_cand < max(2 * min_tsep + 2, MIN_POINTS // 2):
        raise DynamicsError(
            f"The series is too short: {len(a)} samples leave {max(n_cand, 0)} usable points after embedding "
            f"(emb_dim {emb_dim}, lag {lag}) and following pairs for {trajectory_len} steps, but pairs must "
            f"be >= {min_tsep} samples apart. Use a longer series (thousands of samples), or a smaller "
            "trajectory_len or min_tsep."
        )
    if fit_range is not None:
        f0, f1 = (int(v) for v in fit_range)
        if not (0 <= f0 and f1 <= trajectory_len + 1 and f1 - f0 >= 2):
            raise DynamicsError(
                f"fit_range must satisfy 0 <= start, stop <= {trajectory_len + 1} (trajectory_len + 1) and "
                f"stop - start >= 2, got {fit_range}."
            )
    if int(max_points) < 10:
        raise DynamicsError(f"max_points must be >= 10, got {max_points}.")

    refs = np.unique(np.linspace(0, n_cand - 1, min(int(max_points), n_cand)).round().astype(int))
    tol = REPEAT_TOL * float(np.max(np.std(X, axis=0)))
    nbr = _nearest_neighbours(X[:n_cand], refs, min_tsep, tol)
    keep = nbr >= 0
    refs, nbr = refs[keep], nbr[keep]
    if refs.size == 0:
        raise DynamicsError("No point has a neighbour far enough in time (or all neighbours coincide); "
                            "use a longer series or a smaller min_tsep.")

    steps = np.arange(trajectory_len + 1)
    total = np.zeros(trajectory_len + 1)
    count = np.zeros(trajectory_len + 1)
    chunk = max(1, 2_000_000 // (X.shape[1] * (trajectory_len + 1)))  # ~16 MB at a time
    for c in range(0, refs.size, chunk):
        r, q = refs[c:c + chunk, None] + steps, nbr[c:c + chunk, None] + steps
        dist = np.linalg.norm(X[r] - X[q], axis=2)
        ok = dist > tol  # a pair that meets (up to rounding) is left out of that step
        total += np.log(np.where(ok, dist, 1.0)).sum(axis=0)
        count += ok.sum(axis=0)
    with np.errstate(invalid="ignore"):
        y = total / count
    if not np.all(np.isfinite(y)):
        raise DynamicsError("Every neighbour pair coincided at some step; the series repeats itself exactly.")

    start, stop = (f0, f1) if fit_range is not None else _auto_fit_range(y)
    slope, intercept = np.polyfit(steps[start:stop].astype(float), y[start:stop], 1)
    return RosensteinResult(
        exponent=float(slope / dt),
        steps=steps,
        times=steps * float(dt),
        mean_log_divergence=y,
        fit_start=int(start),
        fit_stop=int(stop),
        intercept=float(intercept),
        emb_dim=emb_dim,
        lag=lag,
        min_tsep=min_tsep,
    )


def lyapunov_by_coordinate(states: np.ndarray, dt: float, **kw) -> dict[str, RosensteinResult]:
    """`rosenstein` on each coordinate alone (delay-embedded) and on the full state (n, 3).

    Keys "x", "y", "z", "xyz". Comparing them shows what a single observed coordinate can tell:
    z alone cannot tell the two lobes apart (the system is symmetric under (x, y) -> (-x, -y)).
    """
    s = np.asarray(states, dtype=np.float64)
    if s.ndim != 2 or s.shape[1] != 3:
        raise DynamicsError(f"states must have shape (n, 3), got {s.shape}.")
    out = {name: rosenstein(s[:, i], dt, **kw) for i, name in enumerate(("x", "y", "z"))}
    out["xyz"] = rosenstein(s, dt, **kw)
    return out
