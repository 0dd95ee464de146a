"""AVO on the paper's simulators, against the exact likelihood fit and rejection ABC on the same data (issue 8).

Targets: Poisson λ within 5 % of the truth (7), Weinberg θ within 5 % of (42, 0.9), within a few minutes on 2 CPU
cores; the simulator-call count needed is recorded. Every case runs over several seeds of the observed data (no
seed is picked), with one torch thread. The Weinberg data depend on θ only through A_FB(E_beam, G_f), so with both
parameters free the identifiable quantity A_FB is what can be scored; each parameter is also fitted with the
other one known (as an experiment knows its beam energy).

    python benchmarks/avo_fit.py [--seeds 0,1,2,3,4] [--steps 600]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from genlib.avo import AVOConfig, abc_rejection, direct_fit, fit_avo, get_simulator, make_observed, weinberg_afb

CASES = [  # (label, simulator, fixed parameters, the quantity scored)
    ("Poisson λ", "poisson", (), "lambda"),
    ("Weinberg G_f (E_beam known)", "weinberg", ("E_beam",), "G_f"),
    ("Weinberg E_beam (G_f known)", "weinberg", ("G_f",), "E_beam"),
    ("Weinberg (E_beam, G_f) both free", "weinberg", (), "A_FB"),
]


def scored(sim_name: str, quantity: str, theta: np.ndarray) -> float:
    if quantity == "A_FB":
        return float(weinberg_afb(theta[0], theta[1]))
    return float(theta[list(get_simulator(sim_name).param_names).index(quantity)])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--steps", type=int, default=600)
    args = parser.parse_args()
    torch.set_num_threads(1)
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"AVO {args.steps} proposal steps (defaults otherwise), torch threads {torch.get_num_threads()}\n")
    print("| case | seed | truth | exact MLE | ABC (sims) | AVO estimate | AVO error vs truth | AVO sims | AVO s | "
          "within 5 % |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    verdicts: dict[str, list[bool]] = {}
    for label, name, fixed, quantity in CASES:
        sim = get_simulator(name)
        truth = scored(name, quantity, np.asarray(sim.true_theta))
        for seed in seeds:
            cfg = AVOConfig(simulator=name, fixed=fixed, steps=args.steps, seed=seed)
            obs = make_observed(sim, cfg.n_observed, seed)
            t0 = time.perf_counter()
            res = fit_avo(cfg, obs)
            secs = time.perf_counter() - t0
            mle = direct_fit(sim, obs, fixed)
            abc = abc_rejection(sim, obs, fixed=fixed, seed=seed)
            est = scored(name, quantity, res.mu)
            err = abs(est - truth) / abs(truth)
            ok = err <= 0.05
            verdicts.setdefault(label, []).append(ok)
            extra = ""
            if quantity == "A_FB":
                extra = f" (E_beam {res.mu[0]:.2f}, G_f {res.mu[1]:.3f})"
            print(f"| {label} | {seed} | {truth:.4g} | {scored(name, quantity, mle.theta):.4g} | "
                  f"{scored(name, quantity, abc.theta):.4g} ({abc.simulations:,}) | {est:.4g}{extra} | "
                  f"{100 * err:.1f} % | {res.simulations:,} | {secs:.1f} | {'yes' if ok else 'NO'} |", flush=True)
    print()
    for label, oks in verdicts.items():
        print(f"{label}: within 5 % on {sum(oks)}/{len(oks)} seeds")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
