"""Compare-page refresh: the full metric table for 5 runs against one warm Reference vs the naive way.

    python benchmarks/compare_refresh.py [--runs 5] [--rows 10000] [--cols 8] [--repeats 7]
                                         [--naive-repeats 1] [--threads K] [--check]

Data: a synthetic 10 000 x 8 train split and 10 000 x 8 test split (Gaussian copula, correlation 0.6, log-normal
marginals) and 5 "runs", each 10 000 fake rows of a different quality (a fresh real draw, a shift, a broken
dependence, extra noise, a copy of the training set).

(a) suite (what the Compare page does): ``reference_for``-style warm ``Reference`` (1000 test rows, every
    real-only quantity cached, oracle floor already computed), then one refresh = ``score_samples(ref, fake)``
    for each of the 5 runs (each truncated to 1000 rows): all 14 sample metrics. Median of R repeats;
    target < 1 s on 2 CPU cores.
(b) naive baseline, same run: every metric's standalone function (``SUITE[key].fn``) on the FULL 10 000 test
    rows and 10 000 fake rows, no subsampling and no cache. MMD, energy and PRDC are left out of it: at 10k
    rows each needs several 10k x 10k float64 matrices (0.8 GB each), which is absurd, so the naive time is a
    LOWER bound on the naive cost and the printed ratio understates the speed-up.
(c) for reference, the standalone functions on the same 1000-row subsample without the cache (all 14): the
    part of the gain that comes from the cache rather than from subsampling.

``--check`` exits with status 1 when the refresh misses the target.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time


import numpy as np
from scipy.special import ndtr
from threadpoolctl import threadpool_info, threadpool_limits

from genlib.metrics.suite import (
    DEFAULT_EVAL_ROWS,
    SAMPLE_METRICS,
    SUITE,
    floor,
    make_reference,
    score_samples,
)

TARGET_S = 1.0
NOISY_SPREAD = 1.5
#: Metrics the naive baseline skips at full size: each needs several n x n float64 matrices.
NAIVE_SKIPPED = ("mmd", "energy", "precision", "recall", "density", "coverage")


def copula_table(n: int, d: int, rho: float, seed: int, shift: float = 0.0, noise: float = 0.0) -> np.ndarray:
    """Gaussian copula with log-normal marginals: skewed, positive, correlated columns."""
    rng = np.random.default_rng(seed)
    cov = np.full((d, d), rho) + (1.0 - rho) * np.eye(d)
    g = rng.multivariate_normal(np.zeros(d), cov, size=n) + shift
    g = g + noise * rng.standard_normal(g.shape)
    return np.exp(0.5 * g) * (1.0 + ndtr(g))


def make_runs(train: np.ndarray, rows: int, cols: int) -> dict[str, np.ndarray]:
    return {
        "fresh real draw": copula_table(rows, cols, 0.6, seed=11),
        "shifted 0.5 sd": copula_table(rows, cols, 0.6, seed=12, shift=0.5),
        "independent cols": copula_table(rows, cols, 0.0, seed=13),
        "noisy": copula_table(rows, cols, 0.6, seed=14, noise=0.5),
        "copies train": train[np.random.default_rng(15).choice(len(train), size=rows, replace=len(train) < rows)],
    }


def standalone(key: str, real: np.ndarray, fake: np.ndarray, train: np.ndarray) -> float:
    fn = SUITE[key].fn
    return fn(real, fake, train) if key == "dcr_ratio" else fn(real, fake)


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs in the table (default 5, at most 5)")
    parser.add_argument("--rows", type=int, default=10_000, help="rows of train, test and each run (default 10000)")
    parser.add_argument("--cols", type=int, default=8, help="columns (default 8)")
    parser.add_argument("--repeats", type=int, default=7, help="timed refreshes of the suite (default 7)")
    parser.add_argument("--naive-repeats", type=int, default=1,
                        help="timed naive refreshes (default 1: one takes ~10-30 s)")
    parser.add_argument("--threads", type=int, default=None,
                        help="limit BLAS/OpenMP threads with threadpoolctl (default: leave as is)")
    parser.add_argument("--check", action="store_true", help="exit with status 1 when the target is missed")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.naive_repeats < 0 or not 1 <= args.runs <= 5:
        parser.error("--repeats >= 1, --naive-repeats >= 0 and 1 <= --runs <= 5")
    if args.rows <= DEFAULT_EVAL_ROWS or args.cols < 2:
        parser.error(f"--rows must exceed {DEFAULT_EVAL_ROWS} and --cols be at least 2")
    limiter = threadpool_limits(limits=args.threads) if args.threads is not None else None

    try:
        cpus_usable = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus_usable = os.cpu_count()
    blas = ", ".join(f"{p['internal_api']}={p['num_threads']}" for p in threadpool_info()) or "none found"
    try:
        load1 = f"{os.getloadavg()[0]:.2f}"
    except OSError:
        load1 = "n/a"
    print(f"GenLab compare refresh: {args.runs} runs x {args.rows} rows x {args.cols} columns, reference "
          f"{DEFAULT_EVAL_ROWS} test rows, {len(SAMPLE_METRICS)} sample metrics")
    print(f"numpy {np.__version__} | Python {platform.python_version()} | os.cpu_count() = {os.cpu_count()}, "
          f"usable CPUs = {cpus_usable} | thread pools: {blas} | 1-min load average at start: {load1}")

    train = copula_table(args.rows, args.cols, 0.6, seed=1)
    test = copula_table(args.rows, args.cols, 0.6, seed=2)
    runs = dict(list(make_runs(train, args.rows, args.cols).items())[: args.runs])
    t_start = time.perf_counter()

    # --- cold Reference + floor (once per dataset in the app) -------------------------------------------
    ref = None
    build_s = []
    for _ in range(3):
        t0 = time.perf_counter()
        ref = make_reference(test, train, n_rows=DEFAULT_EVAL_ROWS)
        build_s.append(time.perf_counter() - t0)
    floor_s = timed(lambda: floor(ref))

    # --- (a) the suite: one refresh = score_samples for every run ----------------------------------------
    for fake in runs.values():  # warm-up (imports, allocator)
        score_samples(ref, fake)
    refresh = []
    tables = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        table = {label: score_samples(ref, fake) for label, fake in runs.items()}
        refresh.append(time.perf_counter() - t0)
        tables.append(table)
    med = statistics.median
    fast = med(refresh)

    # --- (c) same subsample, standalone functions, no cache ----------------------------------------------
    sub = {label: fake[: ref.n_rows] for label, fake in runs.items()}
    uncached = [timed(lambda: [standalone(k, ref.test, f, ref.train) for f in sub.values() for k in SAMPLE_METRICS])
                for _ in range(max(1, min(3, args.repeats)))]

    # --- (b) naive: full size, no cache ---------------------------------------------------------------
    naive_keys = [k for k in SAMPLE_METRICS if k not in NAIVE_SKIPPED]
    naive = []
    per_metric_naive: dict[str, float] = dict.fromkeys(naive_keys, 0.0)
    for _ in range(args.naive_repeats):
        total = 0.0
        for fake in runs.values():
            for key in naive_keys:
                dt = timed(lambda: standalone(key, test, fake, train))
                per_metric_naive[key] += dt / args.naive_repeats
                total += dt
        naive.append(total)

    # --- per-metric cost of one warm score_samples call (each key alone, so shared work is counted in each)
    one = next(iter(runs.values()))
    per_metric = {k: med(timed(lambda: score_samples(ref, one, [k])) for _ in range(3)) for k in SAMPLE_METRICS}
    total_s = time.perf_counter() - t_start
    if limiter is not None:
        limiter.restore_original_limits()

    print()
    print(f"cold Reference build (make_reference, {args.rows} + {args.rows} rows): median "
          f"{med(build_s):.3f} s (min {min(build_s):.3f}, max {max(build_s):.3f}) | oracle floor once: "
          f"{floor_s:.3f} s")
    print(f"{'figure':<44} {'median s':>9} {'min':>7} {'max':>7} {'per run':>8}")
    print(f"{'(a) suite refresh, warm Reference':<44} {fast:>9.3f} {min(refresh):>7.3f} {max(refresh):>7.3f} "
          f"{fast / len(runs):>8.3f}")
    unc = med(uncached)
    print(f"{'(c) standalone fns, same 1000 rows, no cache':<44} {unc:>9.3f} {min(uncached):>7.3f} "
          f"{max(uncached):>7.3f} {unc / len(runs):>8.3f}")
    if naive:
        nv = med(naive)
        print(f"{'(b) naive, full ' + str(args.rows) + ' rows, no cache':<44} {nv:>9.3f} {min(naive):>7.3f} "
              f"{max(naive):>7.3f} {nv / len(runs):>8.3f}")
        print(f"    naive ran {len(naive_keys)} of {len(SAMPLE_METRICS)} metrics ({', '.join(naive_keys)}); "
              f"skipped as absurd at {args.rows} rows (n x n matrices): {', '.join(NAIVE_SKIPPED)}")
        print("    naive seconds per metric, all runs: " + ", ".join(
            f"{k} {v:.2f}" for k, v in sorted(per_metric_naive.items(), key=lambda kv: -kv[1])))
    print("one warm score_samples call, each metric alone (ms): " + ", ".join(
        f"{k} {1000 * v:.1f}" for k, v in per_metric.items()))
    print()
    print("table of the last refresh (suite values on 1000 rows):")
    keys = list(SAMPLE_METRICS)
    print(f"  {'run':<18}" + "".join(f"{k[:9]:>10}" for k in keys))
    fl = floor(ref)
    print(f"  {'oracle floor':<18}" + "".join(f"{fl[k]:>10.3f}" for k in keys))
    for label, row in tables[-1].items():
        print(f"  {label:<18}" + "".join(f"{row[k]:>10.3f}" for k in keys))

    verdict = "PASS" if fast < TARGET_S else "FAIL"
    print()
    ratio = f"naive/suite = {med(naive) / fast:.1f}x (a lower bound: naive skipped 6 metrics)" if naive else \
        "naive not run (--naive-repeats 0)"
    print(f"RESULT: refresh of {len(runs)} runs = {fast:.3f} s (target < {TARGET_S:.1f} s: {verdict}); {ratio}; "
          f"uncached same-size/suite = {unc / fast:.1f}x")
    spread = max(refresh) / min(refresh)
    if spread > NOISY_SPREAD:
        try:
            load_end = f"{os.getloadavg()[0]:.2f}"
        except OSError:
            load_end = "n/a"
        print(f"  WARNING: noisy timings: the refresh varied {spread:.1f}x between repeats (1-min load average "
              f"{load1} at start, {load_end} at end, on {cpus_usable} usable CPUs); rerun on an idle machine.")
    print(f"benchmark wall time {total_s:.1f} s")
    return 1 if (args.check and verdict == "FAIL") else 0


if __name__ == "__main__":
    raise SystemExit(main())
