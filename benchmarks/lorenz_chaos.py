"""Is chaos preserved? The Lorenz lab's default DCGAN, trained on `lorenz_images`, scored by its largest Lyapunov
exponent (Rosenstein, full state) against the same estimate on real held-out trajectories.

Protocol (issue 5, target: generated exponent within 15 % of the real-data estimate): the page's defaults (256
trajectories at dt = 0.1, batch 64, the DCGAN's default settings) trained for ``--steps`` on the CPU; at every
``--every`` steps, ``--n`` generated trajectories are decoded from images and put through
:func:`genlib.dynamics.trajectories.chaos_table` beside ``--n`` real test trajectories. Baselines measured in the
same run, so the ratio means something: the untrained generator (step 0) and white noise images of the data's
per-pixel mean and spread, both decoded the same way (Rosenstein returns a positive number for noise too, so a
"λ > 0" alone proves nothing).

    python benchmarks/lorenz_chaos.py [--steps 1500] [--every 250] [--n 32] [--seeds 1]
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from genlib.data import load_dataset
from genlib.data import trajectory_codec as codec
from genlib.data.lorenz_images import lorenz_images_scaler
from genlib.dynamics import trajectories as tr
from genlib.train.jobs import configure_torch_threads
from genlib.params import parse_pairs
from genlib.train.loop import TrainSpec, build


def chaos_row(real: np.ndarray, fake: np.ndarray, dt: float) -> dict[str, float]:
    """The headline numbers of the chaos table: exponents (full state, z), marginal W1 of z, Lorenz-map error."""
    table = tr.chaos_table(real, fake, dt, max_traj=len(real))
    get = {(r.check, r.coordinate): r for r in table.itertuples()}
    lyap = [k for k in get if k[0].startswith("Lyapunov")]
    out = {}
    for check, coord in lyap:
        if coord in ("xyz", "z"):
            out[f"lyap_{coord}_real"] = get[(check, coord)].real
            out[f"lyap_{coord}_fake"] = get[(check, coord)].generated
    w1 = [k for k in get if "W1" in k[0] and k[1] == "z"]
    if w1:
        out["w1_z"] = get[w1[0]].generated
        out["w1_z_floor"] = get[w1[0]].real
    lmap = [k for k in get if "return-map" in k[0]]
    if lmap:
        out["map_err"] = get[lmap[0]].generated
        out["map_err_floor"] = get[lmap[0]].real
    # Roughness: mean step-to-step change, generated over real (1 = as smooth as the real system; noise is ≫ 1).
    out["roughness"] = float(np.mean(np.abs(np.diff(fake, axis=1))) / np.mean(np.abs(np.diff(real, axis=1))))
    return out


def fmt(name: str, r: dict[str, float], steps: int | str, secs: float | str) -> str:
    ratio = r["lyap_xyz_fake"] / r["lyap_xyz_real"]
    return (f"| {name} | {steps} | {secs if isinstance(secs, str) else f'{secs:.0f}'} | {r['lyap_xyz_real']:.3f} "
            f"| {r['lyap_xyz_fake']:.3f} | {ratio:.2f} | {'yes' if abs(ratio - 1) <= 0.15 else 'no'} "
            f"| {r.get('lyap_z_fake', float('nan')):.3f} | {r.get('w1_z', float('nan')):.2f} "
            f"| {r.get('map_err', float('nan')):.2f} | {r['roughness']:.2f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--every", type=int, default=250)
    parser.add_argument("--n", type=int, default=32, help="trajectories per side in the chaos table")
    parser.add_argument("--n-traj", type=int, default=256)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: all cores)")
    parser.add_argument("--set", action="append", default=[], help="model setting K=V, repeatable")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    if args.threads:
        configure_torch_threads(args.threads)
    config = parse_pairs(args.set)  # strings; TrainSpec checks (model_config) converts and checks them
    ds = load_dataset("lorenz_images", n_traj=args.n_traj)
    dt = float(ds.params["dt"])
    scaler = lorenz_images_scaler(ds)
    real = codec.from_images(ds.test[: args.n], scaler)
    print(f"lorenz_images: {len(ds.train)} train / {len(ds.test)} test trajectories at dt = {dt}; "
          f"torch threads {torch.get_num_threads()}, {os.cpu_count()} CPUs, device {args.device}; "
          f"chaos table on {len(real)} real vs {args.n} generated trajectories; settings {config or 'defaults'}\n")
    print("| run | steps | train s | λ real (xyz) | λ generated | ratio | within 15 % | λ generated (z) "
          "| W1 z | Lorenz-map error | roughness |")
    print("|" + "---|" * 11)
    rng = np.random.default_rng(0)
    mean, std = ds.train.mean(0), ds.train.std(0)
    noise = np.clip(mean + std * rng.standard_normal((args.n, ds.train.shape[1])), -1, 1)
    print(fmt("baseline: per-pixel Gaussian noise", chaos_row(real, codec.from_images(noise, scaler), dt), "—", "—"),
          flush=True)
    for seed in range(args.seeds):
        spec = TrainSpec(model="dcgan", dataset=ds, config=config, steps=args.steps, batch_size=64, seed=seed,
                         device=args.device, eval_period_s=None)
        fitted = build(spec, torch.device(args.device))
        done, secs = 0, 0.0
        while True:
            fake = codec.from_images(fitted.sample(args.n, seed=7), scaler)
            print(fmt(f"dcgan seed {seed}" + (" (untrained)" if done == 0 else ""), chaos_row(real, fake, dt), done,
                      secs), flush=True)
            if done >= args.steps:
                break
            chunk = min(args.every, args.steps - done)
            part = TrainSpec(**{**spec.__dict__, "steps": chunk, "seed": seed * 100_003 + done})
            t0 = time.perf_counter()
            done += _train_chunk(part, fitted, done, args.steps)
            secs += time.perf_counter() - t0
    return 0


def _train_chunk(spec: TrainSpec, fitted, offset: int, total: int) -> int:
    """Train ``spec.steps`` more steps, keeping the model's schedule (instance-noise decay) on the whole run."""
    model = fitted.model
    x = fitted.to_model_space(spec.dataset.train)
    gen = torch.Generator(device=model.device).manual_seed(spec.seed + 1)
    model.train(True)
    model.total_steps = total
    for i in range(spec.steps):
        idx = torch.randint(len(x), (spec.batch_size,), generator=gen, device=model.device)
        model.steps_done = offset + i
        model.train_step(x[idx], None)
    return spec.steps


if __name__ == "__main__":
    raise SystemExit(main())
