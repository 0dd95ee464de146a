"""Does a sequence generator keep the chaos? (issue 20, point 2.)

For each sequence model and each dt: train it (its defaults) on ``lorenz_series`` (its defaults: 4 trajectories of
100 time units) through the training engine, free-run 16 generated trajectories of 10,000 steps from starts of the
model's own choosing, and compare them with 16 real trajectories of the same length by three measures, each beside
the same measure between two independent sets of 16 real trajectories (the floor, where finite samples put it):

* the largest Lyapunov exponent, Rosenstein's estimator (``genlib.dynamics.lyapunov.rosenstein``, its defaults,
  full state), mean over the 16 trajectories; the floor is the relative gap between two real sets' means, averaged
  over the three pairs of three real sets;
* the state-space divergence D_stsp (KL between binned occupations; 20 bins per coordinate over the real range
  widened by 10 % on each side, pseudo-count 1e-6 per cell);
* the power-spectrum distance D_H (Hellinger distance of each coordinate's power spectrum, standardised, averaged
  over trajectories, Gaussian-smoothed with σ = 20 frequency bins, the lowest 20 % of frequencies, mean over x, y, z).

Settings are ``genlib.dynamics.reconstruction.ReconstructionSettings()``, the same for floor and model. The
generated value of each measure is its mean against the three real sets; the floor is the mean over the three
real-vs-real pairs (both orders for the asymmetric KL). Also: the exponent by Benettin's method on the model's own
equations (its Jacobian along a free run), against Lorenz's 0.9056.

    python benchmarks/sequence_lyapunov.py [--models esn neural_map] [--dts 0.01 0.1] [--n 16] [--steps 10000]

Targets (issue 20): exponent within max(2 %, twice the real-vs-real spread) at dt 0.01 and within 5 % at dt 0.1;
D_stsp and D_H within 1.5 × their floors; at most 2 minutes of training on 2 CPU cores.
"""
from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genlib.data import load_dataset  # noqa: E402
from genlib.data.lorenz import lorenz_trajectories  # noqa: E402
from genlib.dynamics import LYAPUNOV_REFERENCE  # noqa: E402
from genlib.dynamics.lyapunov import rosenstein  # noqa: E402
from genlib.dynamics.reconstruction import (ReconstructionSettings, power_spectrum_distance,  # noqa: E402
                                            state_space_divergence)
from genlib.train.loop import TrainSpec, build, train  # noqa: E402

SETTINGS = ReconstructionSettings()


def exponents(trajectories: np.ndarray, dt: float) -> np.ndarray:
    """Rosenstein's estimate on each trajectory (n, steps, 3); NaN for one that is not finite."""
    return np.array([rosenstein(t, dt).exponent if np.all(np.isfinite(t)) else np.nan for t in trajectories])


def floors(reals: list[np.ndarray], lams: list[float]) -> dict[str, float]:
    pairs = list(itertools.combinations(range(len(reals)), 2))
    return {"lyap": float(np.mean([abs(lams[i] / lams[j] - 1) for i, j in pairs])),
            "stsp": float(np.mean([state_space_divergence(reals[a], reals[b], SETTINGS)
                                   for i, j in pairs for a, b in ((i, j), (j, i))])),
            "psd": float(np.mean([power_spectrum_distance(reals[i], reals[j], SETTINGS) for i, j in pairs]))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["esn", "neural_map"])
    parser.add_argument("--dts", type=float, nargs="+", default=[0.01, 0.1])
    parser.add_argument("--n", type=int, default=16, help="trajectories per set")
    parser.add_argument("--steps", type=int, default=10_000, help="steps per trajectory")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the 2-core budget)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print("| model | dt | train s | λ real | λ generated | gen/real | real-vs-real spread | λ target | "
          "λ Benettin (own equations) | D_stsp gen / floor | D_H gen / floor | met |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|", flush=True)
    for dt in args.dts:
        reals = [lorenz_trajectories(args.n, args.steps, dt=dt, seed=1000 + k) for k in range(3)]
        lams = [float(exponents(r, dt).mean()) for r in reals]
        floor = floors(reals, lams)
        lam_real = float(np.mean(lams))
        for model in args.models:
            spec = TrainSpec(model=model, dataset=load_dataset("lorenz_series", dt=dt), device="cpu",
                             eval_period_s=None, eval_samples=500)
            fitted = build(spec, torch.device("cpu"))
            start = time.perf_counter()
            train(spec, fitted, lambda _: None, lambda: False)
            seconds = time.perf_counter() - start
            fitted.model.rng.manual_seed(2026)
            z = fitted.model.generate_trajectories(args.n, args.steps).cpu().numpy()
            gen = fitted.transform.inverse(z.reshape(-1, 3)).reshape(z.shape)
            lam_gen = exponents(gen, dt)
            ratio = float(np.nanmean(lam_gen) / lam_real)
            own = fitted.model.largest_exponent_per_step(4, 10_000) / dt
            stsp = float(np.mean([state_space_divergence(r, gen, SETTINGS) for r in reals]))
            psd = float(np.mean([power_spectrum_distance(r, gen, SETTINGS) for r in reals]))
            target = max(0.02, 2 * floor["lyap"]) if dt <= 0.01 else 0.05
            finite = int(np.isfinite(lam_gen).sum())
            met = (abs(ratio - 1) <= target and finite == args.n and stsp <= 1.5 * floor["stsp"]
                   and psd <= 1.5 * floor["psd"] and seconds <= 120)
            print(f"| {model} | {dt:g} | {seconds:.0f} | {lam_real:.3f} | {np.nanmean(lam_gen):.3f} "
                  f"({finite}/{args.n} finite) | {ratio:.3f} | {floor['lyap']:.1%} | ±{target:.1%} | "
                  f"{own:.3f} ({own / LYAPUNOV_REFERENCE:.2f}×) | {stsp:.4f} / {floor['stsp']:.4f} = "
                  f"{stsp / floor['stsp']:.2f}× | {psd:.4f} / {floor['psd']:.4f} = {psd / floor['psd']:.2f}× | "
                  f"{'yes' if met else 'no'} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
