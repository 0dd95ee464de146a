"""Quality on the built-in `finance` and `finance_tail` tables: every tabular model with its default settings, scored
on the held-out split by the GenHack Anderson–Darling distance and absolute Kendall error, next to the oracle floor,
with the held-out log-likelihood of the models that define a density.

Protocol (issue 3): default config and transform, at most ``--budget`` seconds (60) of CPU training per run,
``--seeds`` training seeds (3). Each trained model is scored on ``--draws`` (10) independent draws of 144 samples
(the test split's size) against the 144-row test split, because one 144-sample AD is very noisy. The oracle
floor is the same metric between the test split and ``--draws`` random 144-row subsets of the training split.
Ratios are model / floor (1.0 = as good as real data can tell). Target (issue 20): vae, wgan_gp and the best flow
≤ 1.3× on both metrics on both tables; on finance_tail the Gaussian copula ≥ 1.3× on one (the harder table).

    python benchmarks/quality_finance.py [--models vae,wgan_gp,...] [--data finance,finance_tail] [--seeds 3]
                                         [--budget 60]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np
import torch

from genlib.data import load_dataset
from genlib.data.finance import tail_dependence
from genlib.metrics import anderson_darling, kendall_error, oracle_floor
from genlib.metrics.likelihood import held_out_log_likelihood
from genlib.models import REGISTRY
from genlib.train.jobs import configure_torch_threads
from genlib.train.loop import TrainSpec, build, train

TARGETS = ("vae", "wgan_gp")  # plus the best flow
TARGET = 1.3                  # issue 20: ≤ 1.3× the floor on both metrics, on both tables


def score(fitted, test: np.ndarray, draws: int) -> tuple[float, float]:
    ad, ke = [], []
    for k in range(draws):
        fake = fitted.sample(len(test), seed=1000 + k)
        ad.append(anderson_darling(test, fake))
        ke.append(kendall_error(test, fake))
    return float(np.mean(ad)), float(np.mean(ke))


def run_one(name: str, seed: int, budget: float, draws: int, ds) -> dict[str, float]:
    spec = TrainSpec(model=name, dataset=ds, seed=seed, device="cpu", eval_period_s=None)
    t0 = time.process_time()
    fitted = build(spec, torch.device("cpu"))
    steps = train(spec, fitted, lambda p: None, lambda: time.process_time() - t0 > budget)
    cpu = time.process_time() - t0
    ad, ke = score(fitted, ds.test, draws)
    ll = held_out_log_likelihood(fitted, ds.test)
    return {"ad": ad, "ke": ke, "steps": steps, "cpu": cpu, "ll": float("nan") if ll is None else ll}


def table(data: str, names: list[str], args: argparse.Namespace) -> bool:
    """One table: every model on ``data``, the targets checked; True when they all pass."""
    ds = load_dataset(data)
    floor = oracle_floor(ds.test, ds.train, repeats=args.draws * 5)
    print(f"\n### {data}: {len(ds.train)} train / {len(ds.test)} test rows; upper-tail dependence (q 0.95) "
          f"{tail_dependence(ds.train):.2f}, lower {tail_dependence(ds.train, upper=False):.2f}")
    print(f"oracle floor (test vs train subsets): AD {floor['anderson_darling']:.3f}, "
          f"Kendall {floor['kendall_error']:.4f}\n")
    print("| model | family | AD | Kendall | AD / floor | Kendall / floor | held-out log-lik. (nats/dim) | steps | CPU s |")
    print("|" + "---|" * 9)
    print(f"| oracle floor (real vs real) | — | {floor['anderson_darling']:.3f} | {floor['kendall_error']:.4f} "
          "| 1.00 | 1.00 | — | — | — |")
    results = {}
    for name in names:
        runs = [run_one(name, seed, args.budget, args.draws, ds) for seed in range(args.seeds)]
        ad = [r["ad"] for r in runs]
        ke = [r["ke"] for r in runs]
        res = {"ad": statistics.mean(ad), "ke": statistics.mean(ke),
               "ad_sd": statistics.pstdev(ad), "ke_sd": statistics.pstdev(ke), "ll": statistics.mean(r["ll"] for r in runs)}
        res["ad_ratio"] = res["ad"] / floor["anderson_darling"]
        res["ke_ratio"] = res["ke"] / floor["kendall_error"]
        results[name] = res
        ll = "—" if np.isnan(res["ll"]) else f"{res['ll']:.3f}"
        print(f"| {name} | {REGISTRY[name].family} | {res['ad']:.3f} ± {res['ad_sd']:.3f} | "
              f"{res['ke']:.4f} ± {res['ke_sd']:.4f} | {res['ad_ratio']:.2f} | {res['ke_ratio']:.2f} | {ll} | "
              f"{int(statistics.mean(r['steps'] for r in runs))} | {statistics.mean(r['cpu'] for r in runs):.1f} |",
              flush=True)
    flows = [n for n in results if REGISTRY[n].family == "Flow"]
    best_flow = min(flows, key=lambda n: results[n]["ad_ratio"] + results[n]["ke_ratio"]) if flows else None
    print()
    ok = True
    for name in [n for n in TARGETS if n in results] + ([best_flow] if best_flow else []):
        r = results[name]
        passed = r["ad_ratio"] <= TARGET and r["ke_ratio"] <= TARGET
        ok &= passed
        print(f"target {name}{' (best flow)' if name == best_flow else ''} on {data}: AD ×{r['ad_ratio']:.2f}, "
              f"Kendall ×{r['ke_ratio']:.2f} of the floor → {'PASS' if passed else 'FAIL'} (≤ {TARGET}×)")
    if "copula" in results:
        r = results["copula"]
        harder = max(r["ad_ratio"], r["ke_ratio"]) >= 1.3
        print(f"Gaussian-copula baseline on {data}: AD ×{r['ad_ratio']:.2f}, Kendall ×{r['ke_ratio']:.2f}"
              + (f" → {'harder than a Gaussian copula (≥ 1.3× on one)' if harder else 'NOT harder (< 1.3× on both)'}"
                 if data == "finance_tail" else ""))
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="", help="comma-separated names (default: every tabular model)")
    parser.add_argument("--data", default="finance,finance_tail", help="comma-separated built-in tables")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--budget", type=float, default=60.0, help="CPU seconds of training per run at most")
    parser.add_argument("--draws", type=int, default=10)
    args = parser.parse_args()
    configure_torch_threads(1)
    names = [n for n in (args.models.split(",") if args.models else sorted(REGISTRY))
             if not REGISTRY[n].needs_images and not REGISTRY[n].needs_labels and not REGISTRY[n].needs_series]
    print(f"torch threads {torch.get_num_threads()}, {os.cpu_count()} CPUs; {args.seeds} seeds × {args.draws} "
          f"draws of the test split's size; budget {args.budget:.0f} CPU s per run")
    ok = True
    for data in args.data.split(","):
        ok &= table(data, names, args)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
