"""How long each page's default training job takes here, against the 2-minute budget of issue 19.

For each default it builds the model the page would build, times a few real training steps (after one warm-up step)
for at most ``--seconds`` seconds, and one rescoring of the metric suite (the page rescores every ``eval_period_s``
seconds of training, which adds E / P of the training time), then extrapolates to the page's default budget:

    estimated seconds = steps / (steps per second) x (1 + rescoring seconds / rescoring period)

Every figure of one table comes from the same run (same load): the script prints ``os.getloadavg()`` before and
after. One torch thread, as the app's workers use on 2 CPUs (genlib.train.jobs.configure_torch_threads).

    .venv/bin/python benchmarks/default_budgets.py [--seconds 6] [--only lorenz]
"""
from __future__ import annotations

import argparse
import ast
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from genlib.data import load_dataset  # noqa: E402
from genlib.train import TrainSpec, build, evaluate_fitted, resolve_device  # noqa: E402
from genlib.train.loop import draw_preview, train  # noqa: E402

BUDGET_S = 120.0


def _constant(path: Path, name: str) -> int:
    """A module-level constant of a page file, read without running the page."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return int(ast.literal_eval(node.value))
    raise KeyError(name)


def _defaults() -> list[tuple[str, Callable[[], TrainSpec]]]:
    """(page · job, the spec the page builds by default). Imported lazily: building data takes a moment."""
    compare_steps = _constant(ROOT / "pages" / "compare.py", "COMPARE_STEPS")   # a page: importing runs it
    from pages.density_toy import FLOW_STEPS, GAN_STEPS
    from pages.lorenz_gen import DEFAULT_STEPS, spec_for
    from genlib.models import REGISTRY

    def toy() -> object:
        return load_dataset("toy2d", n=2000, noise=0.05, seed=0, shape="moons")

    def train_default(model: str, data: str) -> Callable[[], TrainSpec]:
        return lambda: TrainSpec(model, load_dataset(data), steps=REGISTRY[model].default_steps, eval_period_s=5.0)

    return [
        ("Train · vae on finance (the page's default)", train_default("vae", "finance")),
        ("Train · wgan_gp on finance", train_default("wgan_gp", "finance")),
        ("Train · nsf on finance", train_default("nsf", "finance")),
        ("Train · conv_vae on digits", train_default("conv_vae", "digits")),
        ("Train · dcgan on digits", train_default("dcgan", "digits")),
        ("Density · maf flow on moons", lambda: TrainSpec("maf", toy(), steps=int(FLOW_STEPS.default), batch_size=256,
                                                          eval_period_s=None)),
        ("Density · gan critic view on moons", lambda: TrainSpec("gan", toy(), steps=int(GAN_STEPS.default),
                                                                 batch_size=256, eval_period_s=None)),
        ("Lorenz · dcgan on lorenz_images", lambda: spec_for("dcgan", "lorenz_images", 256,
                                                             DEFAULT_STEPS["lorenz_images"], {}, "cpu")),
        ("Lorenz · vae on lorenz_windows", lambda: spec_for("vae", "lorenz_windows", 64,
                                                            DEFAULT_STEPS["lorenz_windows"], {}, "cpu")),
        ("Lorenz · neural_map on lorenz_series", lambda: spec_for("neural_map", "lorenz_series", 0.01,
                                                                  DEFAULT_STEPS["lorenz_series"], {}, "cpu")),
        ("Compare · vae on finance", lambda: TrainSpec("vae", load_dataset("finance"), steps=compare_steps,
                                                       eval_period_s=3.0)),
        ("Compare · nsf on finance", lambda: TrainSpec("nsf", load_dataset("finance"), steps=compare_steps,
                                                       eval_period_s=3.0)),
    ]


def measure(spec: TrainSpec, seconds: float) -> tuple[float, float]:
    """(steps per second over real steps, seconds of one rescoring with its preview; 0 without rescoring)."""
    device = resolve_device(spec.device)
    probe = replace(spec, steps=100_000, eval_period_s=None, checkpoint_every_s=None)
    fitted = build(probe, device)
    times: list[float] = []
    train(probe, fitted, lambda p: times.append(time.perf_counter()),
          lambda: len(times) >= 4 and times[-1] - times[1] > seconds)
    rate = (len(times) - 2) / (times[-1] - times[1])   # from the end of the warm-up step
    rescore = 0.0
    if spec.eval_period_s:
        t0 = time.perf_counter()
        evaluate_fitted(fitted, spec.dataset, spec.eval_samples)
        draw_preview(fitted, spec)
        rescore = time.perf_counter() - t0
    return rate, rescore


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=6.0, help="seconds of steps to time per default")
    ap.add_argument("--only", default="", help="only the defaults whose name contains this")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; torch threads 1")
    print(f"{'page · job':46} {'steps':>6} {'steps/s':>9} {'rescore s':>9} {'est. s':>8} {'/ 120 s':>8}")
    for name, make in _defaults():
        if args.only and args.only not in name:
            continue
        spec = make()
        rate, rescore = measure(spec, args.seconds)
        steps = int(spec.steps or 0)
        total = steps / rate * (1 + (rescore / spec.eval_period_s if spec.eval_period_s else 0.0))
        print(f"{name:46} {steps:>6} {rate:>9.2f} {rescore:>9.2f} {total:>8.0f} {total / BUDGET_S:>8.2f}",
              flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
