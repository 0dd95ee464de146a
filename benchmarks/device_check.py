"""Does every registered model really train, sample, score and round-trip on the GPU?

GenLab trains "on the GPU when one is present", but CI has no GPU, so nothing else checks that claim. For every
model in the registry, on a dataset it accepts, this script trains the same spec (same seed, same steps) once
through the engine on CUDA and once on the CPU, in the same process, and prints one row per model:

- status and losses of the CUDA job (must be ``done`` and finite);
- a quality number of the untrained model vs the trained one on CUDA (see ``quality``; training must improve it,
  a broken device path would not);
- steps/s on CUDA over steps/s on the CPU (the ratio against a baseline measured in the same run; the CPU job
  runs at most 60 steps, enough to time it);
- the CUDA run's checkpoint reloaded on the CPU: its exact held-out log-likelihood (flows, classical densities)
  must agree with the value computed on CUDA within 1e-3 nats/dim, and its samples must be finite; a VAE's IWAE
  bound, whose noise differs between the devices' generators, must be reproduced by the checkpoint reloaded on
  CUDA.

Exit status 1 when a check fails, so ``benchmarks/gpu_check.sh`` shows it.

    python benchmarks/device_check.py [--steps 300] [--models vae,maf]
"""
from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time

import numpy as np
import torch

from genlib.data import load_dataset
from genlib.metrics import anderson_darling, held_out_log_likelihood
from genlib.models import REGISTRY, Capability
from genlib.store import RunStore
from genlib.train import JobManager, TrainSpec, build

# The dataset each kind of model is checked on: small enough to keep the whole script to a minute or two.
TABULAR = ("finance", {})
IMAGES = ("digits", {})           # 8×8 images with labels: conv_vae and the conditional VAE
# (the DCGAN too: its 32×32 Lorenz images need thousands of steps before anything moves; lorenz_chaos.py does that)


def dataset_for(name: str) -> tuple[str, dict]:
    cls = REGISTRY[name]
    if cls.needs_images or cls.needs_labels:
        return IMAGES
    return TABULAR


def quality(fitted, ds) -> tuple[str, float]:
    """A number that training must lower: minus the held-out log-likelihood where the model has one (an untrained
    flow is the identity, already close in AD under rank-Gauss), else Anderson–Darling on tables, else the error
    of per-pixel means and spreads on images (AD over 3,072 pixels is too noisy after a few hundred steps)."""
    n = min(len(ds.test), 500)
    labels = None if ds.labels_test is None else ds.labels_test[:n]
    ll = held_out_log_likelihood(fitted, ds.test[:n], labels=labels)  # None: no density; NaN: discrete data
    if ll is not None and not math.isnan(ll):
        return "−log-lik", -ll
    fake = fitted.sample(n, seed=3)
    if ds.image_shape is None:
        return "AD", float(anderson_darling(ds.test[:n], fake))
    real = ds.test[:n]
    scale = real.std(0).mean()
    return "moment error", float((np.abs(fake.mean(0) - real.mean(0)).mean()
                                  + np.abs(fake.std(0) - real.std(0)).mean()) / scale)


def run_one(name: str, steps: int, store: RunStore, manager_for, accel: str = "cuda", cpu_steps: int = 60) -> dict:
    data_name, params = dataset_for(name)
    ds = load_dataset(data_name, **params)
    cls = REGISTRY[name]
    row: dict = {"model": name, "data": data_name, "failures": []}
    n_steps = steps if cls.iterative else 1
    rates = {}
    for device in (accel, "cpu"):
        # The CPU run is only the speed baseline: a few steps are enough to time it.
        spec = TrainSpec(model=name, dataset=ds, steps=n_steps if device == accel else min(n_steps, cpu_steps),
                         seed=0, device=device, eval_period_s=None, batch_size=128)
        if device == accel and cls.iterative:
            row["metric"], row["q_untrained"] = quality(build(spec, torch.device(accel)), ds)
        t0 = time.perf_counter()
        job = manager_for(device).submit(spec)
        job.wait()
        snap = job.snapshot()
        rates["cuda" if device == accel else device] = snap.step / max(time.perf_counter() - t0, 1e-9)
        if snap.status.value != "done":
            row["failures"].append(f"{device} job {snap.status.value}: {snap.error}")
            continue
        bad = [k for k, v in snap.losses.items() if not all(math.isfinite(x) for x in v)]
        if bad:
            row["failures"].append(f"{device} non-finite losses {bad}")
        if device == accel:
            row["device"] = snap.device
            row["run_id"] = snap.run_id
            row["metric"], row["q_trained"] = quality(job.fitted, ds)
            if cls.iterative and not row["q_trained"] < row["q_untrained"]:
                row["failures"].append(f"{row['metric']} did not improve "
                                       f"({row['q_untrained']:.3g} -> {row['q_trained']:.3g})")
            labels = None if ds.labels_test is None else ds.labels_test[:300]
            ll_gpu = held_out_log_likelihood(job.fitted, ds.test[:300], labels=labels)
            on_cpu = store.load(snap.run_id, device="cpu")
            ll_cpu = held_out_log_likelihood(on_cpu, ds.test[:300], labels=labels)
            row["ll_cuda"], row["ll_cpu"] = ll_gpu, ll_cpu
            if Capability.LOG_PROB in cls.capabilities and not abs(ll_gpu - ll_cpu) < 1e-3:
                row["failures"].append(f"log-likelihood cuda {ll_gpu:.5f} vs reloaded on cpu {ll_cpu:.5f}")
            if Capability.ELBO in cls.capabilities and ll_gpu is not None and not math.isnan(ll_gpu):
                # The IWAE bound draws its noise from the model's generator, and CUDA's and the CPU's generators
                # give different streams for one seed: the CPU value differs by Monte-Carlo noise. Reloaded on
                # the same device, the checkpoint must give the same number.
                again = held_out_log_likelihood(store.load(snap.run_id, device=accel), ds.test[:300], labels=labels)
                if not abs(ll_gpu - again) < 1e-4:
                    row["failures"].append(f"IWAE bound {ll_gpu:.5f} vs the checkpoint reloaded on {accel} {again:.5f}")
            x = on_cpu.sample(200, seed=1)
            if x.shape != (200, ds.n_features) or not np.all(np.isfinite(x)):
                row["failures"].append("samples of the checkpoint reloaded on the CPU are not finite")
    row["speedup"] = rates.get("cuda", float("nan")) / rates.get("cpu", float("nan"))
    row["steps_per_s_cuda"] = rates.get("cuda", float("nan"))
    row["steps_per_s_cpu"] = rates.get("cpu", float("nan"))
    row["steps"] = n_steps
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--models", default="", help="comma-separated names (default: every registered model)")
    parser.add_argument("--accel", default="cuda", help="device under test (cpu only to try this script itself)")
    args = parser.parse_args(argv)
    if args.accel == "cuda" and not torch.cuda.is_available():
        print(f"SKIPPED: PyTorch {torch.__version__} sees no GPU; nothing was measured.")
        return 0
    names = [n for n in args.models.split(",") if n] or sorted(REGISTRY)
    gpu = torch.cuda.get_device_name(0) if args.accel == "cuda" else args.accel
    print(f"torch {torch.__version__}, GPU {gpu}, {args.steps} steps per iterative model, "
          f"batch 128, seed 0; CPU baseline in the same process with {torch.get_num_threads()} torch threads\n")
    print("| model | data | device | quality: untrained → trained (cuda), lower is better | steps/s cuda | steps/s cpu | cuda/cpu "
          "| log-lik cuda | reloaded on cpu | result |")
    print("|" + "---|" * 10)
    failed = 0
    with tempfile.TemporaryDirectory() as home:
        store = RunStore(home)
        managers = {d: JobManager(max_concurrent=1, store=store) for d in {args.accel, "cpu"}}
        for name in names:
            try:
                row = run_one(name, args.steps, store, managers.__getitem__, args.accel)
            except Exception as exc:  # one model's crash must not hide the others' results
                row = {"model": name, "data": "?", "failures": [f"{type(exc).__name__}: {exc}"]}
            ok = not row["failures"]
            failed += not ok

            def f(key: str, fmt: str = ".3f") -> str:
                v = row.get(key)
                return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)
            print(f"| {name} | {row['data']} | {row.get('device', '?')} | {row.get('metric', '')} {f('q_untrained', '.2f')} → "
                  f"{f('q_trained', '.2f')} | {f('steps_per_s_cuda', '.0f')} | {f('steps_per_s_cpu', '.0f')} "
                  f"| {f('speedup', '.2f')} | {f('ll_cuda', '.4f')} | {f('ll_cpu', '.4f')} "
                  f"| {'ok' if ok else 'FAIL: ' + '; '.join(row['failures'])} |", flush=True)
    print(f"\n{len(names) - failed}/{len(names)} models passed every check on the GPU")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
