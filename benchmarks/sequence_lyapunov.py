"""Does a sequence generator keep the chaos? (issue 20, point 2, first part: the largest Lyapunov exponent.)

For each dt: train the echo state network (``esn``, its defaults) on ``lorenz_series`` through the training engine,
free-run 16 generated trajectories of 10,000 steps from starts of the model's own choosing, and estimate the largest
exponent with the same Rosenstein estimator (``genlib.dynamics.lyapunov.rosenstein``, its defaults, full state) on
them and on 16 real trajectories of the same length. The estimator's own spread is measured the same way: the
relative gap between the means of two independent sets of 8 real trajectories, over 4 such pairs.

    python benchmarks/sequence_lyapunov.py [--dts 0.01 0.1] [--n 16] [--steps 10000]

Prints one row per dt: training seconds, λ real (mean ± sd), λ generated, their ratio, the real-vs-real spread and
the target (dt 0.01: within max(2 %, 2 × spread); dt 0.1: within 5 %). State-space divergence and power-spectrum
distance (the rest of point 2) are not measured here yet.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genlib.data import load_dataset  # noqa: E402
from genlib.data.lorenz import lorenz_trajectories  # noqa: E402
from genlib.dynamics.lyapunov import rosenstein  # noqa: E402
from genlib.train.loop import TrainSpec, build, train  # noqa: E402


def exponents(trajectories: np.ndarray, dt: float) -> np.ndarray:
    """Rosenstein's estimate on each trajectory (n, steps, 3); NaN for one that is not finite."""
    return np.array([rosenstein(t, dt).exponent if np.all(np.isfinite(t)) else np.nan for t in trajectories])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dts", type=float, nargs="+", default=[0.01, 0.1])
    parser.add_argument("--n", type=int, default=16, help="trajectories per side")
    parser.add_argument("--steps", type=int, default=10_000, help="steps per trajectory")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print("| dt | train s | λ real (mean ± sd) | λ generated (mean ± sd) | generated / real | real-vs-real spread "
          "| target | met |\n|---|---|---|---|---|---|---|---|")
    for dt in args.dts:
        ds = load_dataset("lorenz_series", dt=dt)
        spec = TrainSpec(model="esn", dataset=ds, device="cpu", eval_period_s=None, eval_samples=500)
        fitted = build(spec, torch.device("cpu"))
        start = time.perf_counter()
        train(spec, fitted, lambda _: None, lambda: False)
        seconds = time.perf_counter() - start
        fitted.model.rng.manual_seed(2026)
        z = fitted.model.generate_trajectories(args.n, args.steps).numpy()
        gen = fitted.transform.inverse(z.reshape(-1, 3)).reshape(z.shape)
        real = lorenz_trajectories(args.n, args.steps, dt=dt, seed=777)
        lam_real, lam_gen = exponents(real, dt), exponents(gen, dt)
        pairs = [lorenz_trajectories(16, args.steps, dt=dt, seed=1000 + k) for k in range(4)]
        spread = float(np.mean([abs(exponents(p[:8], dt).mean() / exponents(p[8:], dt).mean() - 1) for p in pairs]))
        ratio = float(np.nanmean(lam_gen) / lam_real.mean())
        target = max(0.02, 2 * spread) if dt <= 0.01 else 0.05
        finite = int(np.isfinite(lam_gen).sum())
        print(f"| {dt:g} | {seconds:.1f} | {lam_real.mean():.3f} ± {lam_real.std():.3f} | {np.nanmean(lam_gen):.3f} "
              f"± {np.nanstd(lam_gen):.3f} ({finite}/{args.n} finite) | {ratio:.3f} | {spread:.1%} | "
              f"±{target:.1%} | {'yes' if abs(ratio - 1) <= target and finite == args.n else 'no'} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
