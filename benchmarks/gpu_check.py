"""The prepared GPU check (issue 18, point 4): one script for a lent GPU machine, one table at the end.

Run it through ``benchmarks/gpu_check.sh`` (which installs carried wheels first, caps the whole run with
``timeout`` and copies the logs to ``$OUT``); see that file's header for the exact device-tool call. Sections, each
with its own time budget (a failing section puts its error in the table and the script goes on):

env         torch, CUDA, cuDNN and GPU; Python, CPUs and the versions of the packages genlib imports; torch >= 2.11
overhead    engine overhead on the device: the VAE on ``finance`` trained N steps by a bare loop in the main thread
            (the baseline), through ``JobManager`` with the ``thread`` executor (its ``loop.train()`` call timed
            alone, and submit-to-wait), and with the ``local`` executor (a spawned worker process; its steady
            in-loop rate read from the job's progress). Same seed and batches, so the final weights must match.
dcgan       the Lorenz lab's default DCGAN on ``lorenz_images`` (256 trajectories, batch 64): steps/s of the same
            bare loop on the CPU (all cores) and on the GPU, in the same process; ratio GPU / CPU.
concurrent  two jobs at once on one GPU (``JobManager(max_concurrent=2)``, as the app runs them): the summed
            steady-state steps/s of two concurrent jobs over that of one job alone, for the DCGAN with the thread
            and the local executor and for the VAE on ``finance`` with the thread executor.
families    a short training of every registered model (VAE, GAN, flow and classical families) with its
            default settings through the engine and a temporary run store, ``device="auto"``: it must pick the
            GPU, finish ``done``, and leave finite losses and finite final metrics (``log_likelihood`` is NaN by
            design on discrete data such as the digits' pixel levels).
imports     every module of genlib imports on this torch (``genlib.figures`` needs plotly, carried as a wheel;
            umap is imported lazily and is not needed). Also lists which optional third-party packages the
            training sections loaded (none of plotly, umap, streamlit should be).

    python benchmarks/gpu_check.py                       # on the GPU machine (estimated 4-5 min on one H200)
    python benchmarks/gpu_check.py --device cpu          # CPU mode: tiny budgets, GPU cells say "not run"
    python benchmarks/gpu_check.py --sections dcgan,families

``GENLAB_GPU_CHECK_DEVICE=cpu`` is the same as ``--device cpu``; ``GPU_CHECK_SECTIONS`` as ``--sections``. The
table also goes to ``$OUT/gpu_check.md`` when ``OUT`` is set (rewritten after each section, so a run killed by
its time limit still leaves what it measured). Exit status 1 when a row says FAIL or ERROR.
"""
from __future__ import annotations

import argparse
import importlib
import math
import os
import pkgutil
import platform
import statistics
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # genlib from this checkout, before any installed copy

import torch

SECTIONS = ("env", "overhead", "dcgan", "concurrent", "families", "imports")
#: Optional packages the training path must not need (the GPU machine lacks plotly, umap-learn, pynndescent and
#: streamlit; numba, llvmlite and tqdm are there).
OPTIONAL = ("plotly", "umap", "pynndescent", "numba", "llvmlite", "tqdm", "streamlit", "matplotlib")
ENGINE_TARGET = 0.95   # issue 2's target for engine / bare (in the training loop)


@dataclass
class Plan:
    """Budgets (seconds) and sizes. ``gpu()`` for the device machine; ``cpu()`` for CPU mode on a small machine."""

    device: str
    total_s: float
    budget_s: dict[str, float]
    overhead_steps: int
    overhead_repeats: int
    dcgan_window_s: dict[str, float]          # per device: how long the timed loop runs
    dcgan_n_traj: int
    conc_window_s: float
    conc_warm_steps: int
    conc_start_s: float                       # how long two jobs may take to start (a worker spawns and imports)
    conc_variants: tuple[tuple[str, str, int, str], ...]   # (model, dataset, batch, executor)
    family_steps: int
    eval_rows: int

    @property
    def cpu_mode(self) -> bool:
        return self.device == "cpu"

    @classmethod
    def gpu(cls) -> Plan:
        return cls(device="cuda", total_s=420.0,
                   budget_s={"env": 30, "overhead": 70, "dcgan": 60, "concurrent": 110, "families": 120,
                             "imports": 30},
                   overhead_steps=600, overhead_repeats=3, dcgan_window_s={"cpu": 12.0, "cuda": 8.0},
                   dcgan_n_traj=256, conc_window_s=6.0, conc_warm_steps=30, conc_start_s=60.0,
                   conc_variants=(("dcgan", "lorenz_images", 64, "thread"), ("dcgan", "lorenz_images", 64, "local"),
                                  ("vae", "finance", 256, "thread")),
                   family_steps=200, eval_rows=1000)

    @classmethod
    def cpu(cls) -> Plan:
        return cls(device="cpu", total_s=420.0,
                   budget_s={"env": 30, "overhead": 60, "dcgan": 40, "concurrent": 120, "families": 120,
                             "imports": 40},
                   overhead_steps=150, overhead_repeats=1, dcgan_window_s={"cpu": 3.0, "cuda": 0.0},
                   dcgan_n_traj=64, conc_window_s=3.0, conc_warm_steps=3, conc_start_s=90.0,
                   conc_variants=(("dcgan", "lorenz_images", 64, "thread"), ("dcgan", "lorenz_images", 64, "local")),
                   family_steps=10, eval_rows=200)


# ----------------------------------------------------------------------------------------------------- the table
@dataclass
class Row:
    section: str
    what: str
    device: str = ""
    value: str = ""
    ratio: str = ""
    result: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    times: dict[str, float] = field(default_factory=dict)
    current: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, section: str, what: str, device: str = "", value: str = "", ratio: str = "", result: str = "") -> Row:
        row = Row(section, what, device, value, ratio, result)
        with self.lock:
            self.rows.append(row)
        print(f"  [{section}] {what} | {device} | {value} | {ratio} | {result}", flush=True)
        return row

    def failed(self) -> list[Row]:
        return [r for r in self.rows if r.result.startswith(("FAIL", "ERROR"))]

    def markdown(self, title: str, note: str = "") -> str:
        def cell(s: str) -> str:
            return str(s).replace("|", "\\|").replace("\n", " ")
        with self.lock:
            rows = list(self.rows)
            times = dict(self.times)
        lines = [f"### {title}", ""]
        if note:
            lines += [note, ""]
        lines += ["| section | what | device | value | ratio | result |", "|---|---|---|---|---|---|"]
        lines += [f"| {cell(r.section)} | {cell(r.what)} | {cell(r.device)} | {cell(r.value)} | {cell(r.ratio)} "
                  f"| {cell(r.result)} |" for r in rows]
        if times:
            spent = ", ".join(f"{k} {v:.0f} s" for k, v in times.items())
            lines.append(f"| time | wall time per section | | {cell(spent)} | | total {sum(times.values()):.0f} s |")
        return "\n".join(lines) + "\n"


def fmt_rate(x: float | None) -> str:
    return "—" if x is None or not math.isfinite(x) else (f"{x:.0f} steps/s" if x >= 100 else f"{x:.1f} steps/s")


def fmt_ratio(x: float | None) -> str:
    return "—" if x is None or not math.isfinite(x) else f"{x:.2f}"


def short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    return text if len(text) <= 300 else text[:297] + "..."


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def dev_label(device: Any) -> str:
    d = str(device)
    if d.startswith("cuda") and torch.cuda.is_available():
        return f"{d} ({torch.cuda.get_device_name(0)})"
    return d


class Deadline:
    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()


# ------------------------------------------------------------------------------------------------- the sections
def section_env(plan: Plan, rep: Report, dl: Deadline) -> None:
    S = "env"
    rep.add(S, "torch", value=torch.__version__,
            result=("ok (≥ 2.11)" if _version_tuple(torch.__version__) >= (2, 11) else
                    f"FAIL: torch {torch.__version__} is older than 2.11"))
    rep.add(S, "CUDA (torch.version.cuda) / cuDNN", value=f"{torch.version.cuda} / "
            f"{torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None}")
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        rep.add(S, "GPU", device="cuda:0", value=f"{props.name}, {props.total_memory / 2**30:.0f} GiB, "
                f"{props.multi_processor_count} SMs, capability {props.major}.{props.minor}",
                result=f"ok ({torch.cuda.device_count()} visible)")
    elif plan.cpu_mode:
        rep.add(S, "GPU", value="none seen by PyTorch", result="not run (CPU mode)")
    else:
        rep.add(S, "GPU", value="none seen by PyTorch", result="FAIL: --device cuda but torch.cuda.is_available() "
                "is False; every GPU row below fails")
    versions = []
    for name in ("numpy", "scipy", "sklearn", "pandas"):
        try:
            versions.append(f"{name} {importlib.import_module(name).__version__}")
        except Exception as exc:  # noqa: BLE001 - a missing one is a finding, not a crash
            versions.append(f"{name} missing ({type(exc).__name__})")
    rep.add(S, "Python / packages", value=f"Python {platform.python_version()}; " + ", ".join(versions),
            result=f"{os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}")
    import genlib
    wheels = os.environ.get("GPU_CHECK_WHEELS", "").strip()
    rep.add(S, "genlib / carried wheels", value=f"{Path(genlib.__file__).parent}; wheels: {wheels or 'none'}")


def _version_tuple(v: str) -> tuple[int, ...]:
    out = []
    for part in v.split("+")[0].split(".")[:3]:
        digits = "".join(ch for ch in part if ch.isdigit())
        out.append(int(digits or 0))
    return tuple(out)


# --- engine overhead ------------------------------------------------------------------------------------------
class _TrainProbe:
    """Times the job's one call of ``genlib.train.loop.train`` (what TrainSpec.execute calls by its module-level
    name), as benchmarks/engine_overhead.py does: two perf_counter calls per job, nothing per step."""

    def __init__(self) -> None:
        from genlib.train import loop as loop_mod
        self.mod, self.orig, self.seconds = loop_mod, loop_mod.train, None

    def __enter__(self) -> _TrainProbe:  # noqa: PYI034
        probe = self

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return probe.orig(*args, **kwargs)
            finally:
                probe.seconds = time.perf_counter() - t0
        self.mod.train = timed
        return self

    def __exit__(self, *exc: object) -> None:
        self.mod.train = self.orig


class StepPoller:
    """Samples (time, total steps of some jobs) every 20 ms in a thread: steady-state rates for any executor
    (a worker's progress reaches its job in batches every 0.1 s)."""

    def __init__(self, jobs: list[Any]):
        self.jobs = jobs
        self.samples: list[tuple[float, list[int]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gpu-check-poller", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.perf_counter(), [j.step for j in self.jobs]))
            time.sleep(0.02)

    def __enter__(self) -> StepPoller:  # noqa: PYI034
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def steady_rate(self, lo: int, hi: int) -> float | None:
        """Steps/s of the summed steps between the first sample at >= lo steps and the last at <= hi."""
        pts = [(t, sum(s)) for t, s in self.samples]
        a = next((p for p in pts if p[1] >= lo), None)
        b = next((p for p in reversed(pts) if p[1] <= hi), None)
        if a is None or b is None or b[0] - a[0] <= 0.2 or b[1] <= a[1]:
            return None
        return (b[1] - a[1]) / (b[0] - a[0])


def _state(model_or_fitted: Any) -> dict[str, torch.Tensor]:
    model = getattr(model_or_fitted, "model", model_or_fitted)
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def _max_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    return max(float((a[k].double() - b[k].double()).abs().max()) for k in a if a[k].is_floating_point())


def section_overhead(plan: Plan, rep: Report, dl: Deadline) -> None:
    from genlib.data import load_dataset
    from genlib.train import JobManager, JobStatus, TrainSpec, build

    S, dev, steps = "overhead", plan.device, plan.overhead_steps
    ds = load_dataset("finance")

    def spec(n: int) -> TrainSpec:
        return TrainSpec(model="vae", dataset=ds, steps=n, seed=0, device=dev, eval_period_s=None,
                         checkpoint_every_s=None, eval_samples=plan.eval_rows)

    # Managers first: each sets torch's thread count (configure_torch_threads), so every variant runs with the same.
    thread_mgr = JobManager(max_concurrent=1, store=None, executor="thread")
    local_mgr = JobManager(max_concurrent=1, store=None, executor="local")

    def bare(n: int) -> dict:
        s = spec(n)
        d = torch.device(dev)
        fitted = build(s, d)
        model = fitted.model
        x = fitted.to_model_space(ds.train)
        gen = torch.Generator(device=d).manual_seed(s.seed + 1)   # the engine loop's batch stream
        batch = min(s.batch_size, len(x))
        model.train(True)
        model.total_steps = n
        sync(dev)
        t0 = time.perf_counter()
        for step in range(n):
            model.steps_done = step
            idx = torch.randint(len(x), (batch,), generator=gen, device=d)
            model.train_step(x[idx])
        sync(dev)
        return {"loop": n / (time.perf_counter() - t0), "state": _state(model)}

    def engine(mgr: Any, n: int, timeout: float) -> dict:
        sync(dev)
        with _TrainProbe() as probe:
            t0 = time.perf_counter()
            job = mgr.submit(spec(n))
            with StepPoller([job]) as poller:
                finished = job.wait(timeout)
            wall = time.perf_counter() - t0
        snap = job.snapshot()
        if not finished:
            job.stop()
            raise TimeoutError(f"{mgr.executor} job not finished after {timeout:.0f} s (step {snap.step}/{n})")
        if snap.status is not JobStatus.DONE or snap.step != n:
            raise RuntimeError(f"{mgr.executor} job ended {snap.status.value} at step {snap.step}/{n}: {snap.error}")
        loop = n / probe.seconds if (mgr.executor == "thread" and probe.seconds) else None
        return {"loop": loop, "steady": poller.steady_rate(int(0.1 * n), int(0.95 * n)), "e2e": n / wall,
                "wall": wall, "device": snap.device, "state": _state(job.fitted)}

    warm = min(steps, 100)
    bare(warm)
    engine(thread_mgr, warm, max(dl.left(), 1))
    runs: dict[str, list[dict]] = {"bare": [], "thread": []}
    for r in range(plan.overhead_repeats):
        if dl.left() < 5:
            break
        order = ["bare", "thread"] if r % 2 == 0 else ["thread", "bare"]
        for name in order:
            runs[name].append(bare(steps) if name == "bare" else engine(thread_mgr, steps, max(dl.left(), 1)))
    if not runs["bare"] or not runs["thread"]:
        raise TimeoutError("the section's budget ran out during the warm-up")
    med = statistics.median
    base = med(r["loop"] for r in runs["bare"])
    what = f"VAE on finance, {steps} steps, batch 256, median of {len(runs['bare'])}"
    rep.add(S, f"bare loop, main thread (baseline): {what}", dev_label(runs["thread"][-1]["device"]),
            fmt_rate(base), "1")
    loop = med(r["loop"] for r in runs["thread"])
    diff = _max_diff(runs["thread"][-1]["state"], runs["bare"][-1]["state"])
    rep.add(S, "engine, thread executor: its loop.train() call", dev, fmt_rate(loop), fmt_ratio(loop / base),
            ("ok" if loop / base >= ENGINE_TARGET else "below") + f" (target ≥ {ENGINE_TARGET}); final weights vs "
            f"bare: {'identical' if diff == 0 else f'max |diff| {diff:.2g}'}")
    e2e = med(r["e2e"] for r in runs["thread"])
    wall = med(r["wall"] for r in runs["thread"])
    rep.add(S, "engine, thread executor: submit → wait", dev, fmt_rate(e2e), fmt_ratio(e2e / base),
            f"info: {wall:.2f} s per job incl. build and final evaluation")
    # One job in a spawned worker: its start (fresh interpreter, torch import, CUDA context) is in submit → wait.
    if dl.left() < 15:
        rep.add(S, "engine, local executor (worker process)", dev, result="not run (section budget)")
        return
    loc = engine(local_mgr, steps, max(dl.left(), 1))
    diff = _max_diff(loc["state"], runs["bare"][-1]["state"])
    rep.add(S, "engine, local executor: steady in-loop rate (from job progress)", dev, fmt_rate(loc["steady"]),
            fmt_ratio(None if loc["steady"] is None else loc["steady"] / base),
            f"info; final weights vs bare: {'identical' if diff == 0 else f'max |diff| {diff:.2g}'}")
    rep.add(S, "engine, local executor: submit → wait", dev, fmt_rate(loc["e2e"]), fmt_ratio(loc["e2e"] / base),
            f"info: {loc['wall']:.1f} s per job incl. the worker's start")


# --- DCGAN on lorenz_images, CPU vs GPU ---------------------------------------------------------------------------
def timed_loop(fitted: Any, x: torch.Tensor, batch: int, seconds: float, seed: int = 1) -> tuple[int, float]:
    """Train for about ``seconds`` (after 3 warm-up steps); returns (steps, seconds) with the device synchronised."""
    model = fitted.model
    d = model.device
    gen = torch.Generator(device=d).manual_seed(seed)
    model.train(True)
    model.total_steps = 10**6
    for i in range(3):
        model.steps_done = i
        model.train_step(x[torch.randint(len(x), (batch,), generator=gen, device=d)], None)
    sync(str(d))
    n, t0 = 0, time.perf_counter()
    while True:
        model.steps_done = 3 + n
        model.train_step(x[torch.randint(len(x), (batch,), generator=gen, device=d)], None)
        n += 1
        if time.perf_counter() - t0 >= seconds:
            break
    sync(str(d))
    return n, time.perf_counter() - t0


def section_dcgan(plan: Plan, rep: Report, dl: Deadline) -> None:
    from genlib.data import load_dataset
    from genlib.train import TrainSpec, build

    S = "dcgan"
    ds = load_dataset("lorenz_images", n_traj=plan.dcgan_n_traj)
    what = f"DCGAN (defaults) on lorenz_images, {len(ds.train)} train images 3×32×32, batch 64, bare loop"
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    # Two CPU baselines: every core (the CPU at its best on an idle machine), and the torch threads the engine
    # gives one job when the app runs two at a time (configure_torch_threads: CPUs // (GENLAB_MAX_JOBS + 1)).
    engine_threads = max(1, cpus // (int(os.environ.get("GENLAB_MAX_JOBS", "2") or 2) + 1))
    runs = [("cpu", cpus, "every core")] + ([("cpu", engine_threads, "the engine's share for one of two jobs")]
                                           if engine_threads != cpus else []) + [("cuda", 0, "")]
    rates: dict[str, float] = {}
    best_cpu = None
    for device, threads, why in runs:
        if device == "cuda" and plan.cpu_mode:
            rep.add(S, what, "cuda", "not run", "—", "not run (CPU mode)")
            continue
        if dl.left() < 8:
            rep.add(S, what, device, result="not run (section budget)")
            continue
        window = min(plan.dcgan_window_s[device], max(dl.left() - 6, 1))
        spec = TrainSpec(model="dcgan", dataset=ds, steps=10**6, batch_size=64, seed=0, device=device,
                         eval_period_s=None)
        threads_before = torch.get_num_threads()
        if device == "cpu":
            torch.set_num_threads(threads)
        try:
            fitted = build(spec, torch.device(device))
            x = fitted.to_model_space(ds.train)
            n, secs = timed_loop(fitted, x, 64, window)
        finally:
            torch.set_num_threads(threads_before)
        ok = all(bool(torch.isfinite(v).all()) for v in _state(fitted).values() if v.is_floating_point())
        rate = n / secs
        if device == "cpu":
            label = f"cpu, {threads} torch thread{'s' if threads > 1 else ''} ({why})"
            best_cpu = rate if best_cpu is None else max(best_cpu, rate)
            ratio = ("baseline" if threads == cpus or "cpu" not in rates
                     else f"{fmt_ratio(rate / rates['cpu'])} of every core")
            rates.setdefault("cpu", rate)
        else:
            label = dev_label(fitted.model.device)
            ratio = fmt_ratio(None if not best_cpu else rate / best_cpu)
        rep.add(S, what, label, f"{fmt_rate(rate)} ({n} steps in {secs:.1f} s)", ratio,
                ("ok" if ok else "FAIL: non-finite weights") + (" (GPU / the faster CPU row)" if device == "cuda"
                                                                else ""))


# --- two concurrent jobs on one GPU -------------------------------------------------------------------------------
def section_concurrent(plan: Plan, rep: Report, dl: Deadline) -> None:
    from genlib.data import load_dataset
    from genlib.train import JobManager, JobStatus, TrainSpec

    S, dev = "concurrent", plan.device
    datasets: dict[str, Any] = {}
    for model, data, batch, executor in plan.conc_variants:
        what = f"{model} on {data}, batch {batch}, {executor} executor, max_concurrent=2"
        # alone + pair: each needs its start, the window and a stop (final evaluation); local workers start slowly
        need = 2 * (plan.conc_window_s + 5) + (2 * 10 if executor == "local" else 0)
        if dl.left() < need:
            rep.add(S, what, dev, result="not run (section budget)")
            continue
        try:
            if data not in datasets:
                datasets[data] = load_dataset(data, **({"n_traj": plan.dcgan_n_traj} if data == "lorenz_images"
                                                       else {}))
            ds = datasets[data]
            mgr = JobManager(max_concurrent=2, store=None, executor=executor)

            def measure(n_jobs: int, model: str = model, ds: Any = ds, batch: int = batch, mgr: Any = mgr
                        ) -> tuple[float, list[float]]:
                specs = [TrainSpec(model=model, dataset=ds, steps=10**6, batch_size=batch, seed=k, device=dev,
                                   eval_period_s=None, checkpoint_every_s=None,
                                   eval_samples=min(plan.eval_rows, 200 if ds.image_shape else plan.eval_rows))
                         for k in range(n_jobs)]
                jobs = [mgr.submit(s) for s in specs]
                try:
                    start = Deadline(min(plan.conc_start_s, max(dl.left() - plan.conc_window_s - 5, 1)))
                    while min(j.step for j in jobs) < plan.conc_warm_steps:
                        if any(j.status.finished for j in jobs):
                            bad = next(j for j in jobs if j.status.finished).snapshot()
                            raise RuntimeError(f"a job ended {bad.status.value} before training: {bad.error}")
                        if start.left() <= 0:
                            raise TimeoutError(f"{n_jobs} job(s) not at step {plan.conc_warm_steps} in time "
                                               f"(steps {[j.step for j in jobs]})")
                        time.sleep(0.02)
                    s0, t0 = [j.step for j in jobs], time.perf_counter()
                    time.sleep(plan.conc_window_s)
                    s1, t1 = [j.step for j in jobs], time.perf_counter()
                finally:
                    for j in jobs:
                        j.stop()
                    for j in jobs:
                        j.wait(max(dl.left(), 5))
                for j in jobs:
                    snap = j.snapshot()
                    if snap.status is not JobStatus.STOPPED:
                        raise RuntimeError(f"a job ended {snap.status.value} (expected stopped): {snap.error}")
                each = [(b - a) / (t1 - t0) for a, b in zip(s0, s1)]
                return sum(each), each

            alone, _ = measure(1)
            both, each = measure(2)
            rep.add(S, what, dev_label(dev), f"one alone {fmt_rate(alone)}; two at once "
                    f"{' + '.join(f'{e:.1f}' for e in each)} = {fmt_rate(both)}", fmt_ratio(both / alone),
                    "ok (two concurrent / one alone, summed steps/s)")
        except Exception as exc:  # noqa: BLE001 - one variant's failure must not hide the others
            rep.add(S, what, dev, result=f"ERROR {short(exc)}")
            traceback.print_exc()


# --- every model family, short default training -------------------------------------------------------------------
def section_families(plan: Plan, rep: Report, dl: Deadline) -> None:
    from genlib.data import load_dataset
    from genlib.metrics.likelihood import is_discrete
    from genlib.models import REGISTRY
    from genlib.store import RunStore
    from genlib.train import JobManager, JobStatus, TrainSpec

    S = "families"
    expect = "cpu" if plan.cpu_mode else "cuda"
    ask = "cpu" if plan.cpu_mode else "auto"     # on the GPU machine "auto" must choose CUDA by itself
    names = sorted(REGISTRY, key=lambda n: (REGISTRY[n].family, n))
    datasets: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="genlab_gpu_check_") as home:
        mgr = JobManager(max_concurrent=1, store=RunStore(home), executor="thread")
        for i, name in enumerate(names):
            cls = REGISTRY[name]
            data = "digits" if (cls.needs_images or cls.needs_labels) else "finance"
            steps = min(cls.default_steps, plan.family_steps) if cls.iterative else 1
            what = f"{name} ({cls.family}) on {data}, " + (f"{steps} steps" if cls.iterative else "one fit")
            if dl.left() < 4:
                rep.add(S, what, result="not run (section budget)")
                continue
            try:
                if data not in datasets:
                    datasets[data] = load_dataset(data)
                ds = datasets[data]
                job = mgr.submit(TrainSpec(model=name, dataset=ds, steps=steps, seed=0, device=ask,
                                           eval_period_s=None, eval_samples=plan.eval_rows))
                if not job.wait(max(dl.left(), 1)):
                    job.cancel()
                    job.wait(30)
                    rep.add(S, what, job.device, result=f"FAIL: not finished within the section budget "
                            f"(step {job.step}/{steps})")
                    continue
                snap = job.snapshot()
                problems = []
                if snap.status is not JobStatus.DONE:
                    problems.append(f"status {snap.status.value}: {snap.error}")
                if not snap.device.startswith(expect):
                    problems.append(f"ran on {snap.device!r}, expected {expect}")
                if snap.status is JobStatus.DONE and snap.step != steps:
                    problems.append(f"stopped at step {snap.step}/{steps}")
                bad_loss = sorted(k for k, v in snap.losses.items() if not all(math.isfinite(x) for x in v))
                if bad_loss:
                    problems.append(f"non-finite losses {bad_loss}")
                nan_by_design = {"log_likelihood"} if is_discrete(ds.test) else set()
                bad_metric = sorted(k for k, v in snap.metrics.items()
                                    if not math.isfinite(v) and k not in nan_by_design)
                if snap.status is JobStatus.DONE and not snap.metrics:
                    problems.append("no final metrics")
                if bad_metric:
                    problems.append(f"non-finite metrics {bad_metric}")
                warnings = (job.result.summary or {}).get("warnings", []) if job.result is not None else []
                if any("not finite" in w for w in warnings):
                    problems.append("non-finite samples")
                ll = snap.metrics.get("log_likelihood")
                speed = f"{fmt_rate(snap.steps_per_s)}, " if cls.iterative else ""
                value = (f"{speed}{snap.elapsed:.1f} s with the final evaluation; {len(snap.metrics)} metrics"
                         + (f", log-lik {ll:.3f}" if ll is not None and math.isfinite(ll) else "")
                         + (f", MMD {snap.metrics['mmd']:.3f}" if "mmd" in snap.metrics else ""))
                rep.add(S, what, snap.device, value, "",
                        "ok: done, finite losses and metrics" if not problems else "FAIL: " + "; ".join(problems))
            except Exception as exc:  # noqa: BLE001 - one model's crash must not hide the others
                rep.add(S, what, result=f"ERROR {short(exc)}")
                traceback.print_exc()


# --- imports -------------------------------------------------------------------------------------------------------
def section_imports(plan: Plan, rep: Report, dl: Deadline) -> None:
    S = "imports"
    loaded = [m for m in OPTIONAL if m in sys.modules]
    heavy = [m for m in loaded if m in ("plotly", "umap", "pynndescent", "streamlit")]
    rep.add(S, "optional packages loaded by the sections above (training path)", value=", ".join(loaded) or "none",
            result="FAIL: the training path needs " + ", ".join(heavy) if heavy else "ok (no plotly, umap, streamlit)")
    import genlib
    names = ["genlib"] + sorted(m.name for m in pkgutil.walk_packages(genlib.__path__, "genlib.")
                                if m.name != "genlib.__main__")
    failed, skipped = [], []
    for name in names:
        if dl.left() < 1:
            skipped.append(name)
            continue
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            # plotly is genlib's dependency for figures only (carried as a wheel); anything else missing is a
            # module that imports an optional package eagerly (umap and ray are imported lazily; streamlit never)
            (skipped if exc.name and exc.name.split(".")[0] == "plotly" else failed).append(f"{name} ({short(exc)})")
        except Exception as exc:  # noqa: BLE001 - collect them all
            failed.append(f"{name} ({short(exc)})")
    ok = len(names) - len(failed) - len(skipped)
    result = "ok" if not failed else "FAIL: " + "; ".join(failed[:5]) + (" …" if len(failed) > 5 else "")
    if skipped and not failed:
        missing = sorted({s.split("'")[1] for s in skipped if "'" in s})
        result = (f"ok; {len(skipped)} not imported: {', '.join(missing)} missing (carry the wheel)" if missing
                  else f"ok; {len(skipped)} not imported (section budget)")
    rep.add(S, "every genlib module imports (pkgutil.walk_packages)", value=f"{ok}/{len(names)} modules", result=result)


SECTION_FUNCS: dict[str, Callable[[Plan, Report, Deadline], None]] = {
    "env": section_env, "overhead": section_overhead, "dcgan": section_dcgan, "concurrent": section_concurrent,
    "families": section_families, "imports": section_imports,
}


# ----------------------------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cuda", "cpu"),
                        default=os.environ.get("GENLAB_GPU_CHECK_DEVICE") or "cuda",
                        help="cuda: the real check; cpu: CPU mode with tiny budgets (GPU cells say 'not run')")
    parser.add_argument("--sections", default=os.environ.get("GPU_CHECK_SECTIONS", ""),
                        help=f"comma-separated subset of {','.join(SECTIONS)} (env always runs)")
    parser.add_argument("--total-s", type=float, default=None, help="overall budget (default 420)")
    parser.add_argument("--out", default=os.environ.get("OUT", ""), help="folder for gpu_check.md (default $OUT)")
    args = parser.parse_args(argv)
    plan = Plan.cpu() if args.device == "cpu" else Plan.gpu()
    if args.total_s:
        plan.total_s = args.total_s
    chosen = [s.strip() for s in args.sections.split(",") if s.strip()] or list(SECTIONS)
    unknown = sorted(set(chosen) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s) {unknown}; choose from {', '.join(SECTIONS)}")
    os.environ.setdefault("GENLAB_HOME", tempfile.mkdtemp(prefix="genlab_home_"))   # genlib's log goes there
    out = Path(args.out) if args.out else None
    mode = ("CPU mode (dry run of the script: every timing is on the CPU of this machine; GPU cells are 'not run')"
            if plan.cpu_mode else "GPU check")
    title = (f"gpu_check — {mode}: torch {torch.__version__}, CUDA {torch.version.cuda}, "
             f"GPU {torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'none'}")
    rep = Report()
    run_start = time.monotonic()

    def write(note: str = "") -> str:
        text = rep.markdown(title, note)
        if out is not None:
            try:
                out.mkdir(parents=True, exist_ok=True)
                (out / "gpu_check.md").write_text(text)
            except OSError as exc:
                print(f"could not write {out}/gpu_check.md: {exc}", file=sys.stderr)
        return text

    # The watchdog: past the overall budget, print what was measured and end the process (a hung CUDA call or
    # job cannot be interrupted from Python), before the shell's `timeout` would kill it without a table.
    def watchdog() -> None:
        rep.add("run", f"overall budget of {plan.total_s:.0f} s exceeded", result=f"FAIL: stopped during section "
                f"'{rep.current}'")
        print("\n" + write(), flush=True)
        import faulthandler
        faulthandler.dump_traceback(all_threads=True)
        os._exit(3)
    timer = threading.Timer(plan.total_s, watchdog)
    timer.daemon = True
    timer.start()

    shown = ["env"] + [c for c in chosen if c != "env"]
    print(f"{title}\nGENLAB_HOME={os.environ['GENLAB_HOME']} | sections: {', '.join(shown)} | "
          f"overall budget {plan.total_s:.0f} s\n", flush=True)
    for name in SECTIONS:
        if name != "env" and name not in chosen:
            continue
        if name != "env" and not plan.cpu_mode and not torch.cuda.is_available() and name != "imports":
            rep.add(name, "section", result="FAIL: not run: PyTorch sees no GPU (use --device cpu for CPU mode)")
            continue
        budget = min(plan.budget_s[name], plan.total_s - (time.monotonic() - run_start) - 5)
        rep.current = name
        print(f"=== {name} (budget {budget:.0f} s) ===", flush=True)
        t0 = time.monotonic()
        try:
            if budget <= 1:
                raise TimeoutError("no time left in the overall budget")
            SECTION_FUNCS[name](plan, rep, Deadline(budget))
        except Exception as exc:  # noqa: BLE001 - a failing section reports and the next one runs
            rep.add(name, "section", result=f"ERROR {short(exc)}")
            traceback.print_exc()
        rep.times[name] = time.monotonic() - t0
        if time.monotonic() - t0 > budget + 10:
            rep.add(name, "section", result=f"FAIL: took {time.monotonic() - t0:.0f} s, budget {budget:.0f} s")
        write()
    timer.cancel()
    failed = rep.failed()
    note = ("All rows ok." if not failed else f"{len(failed)} row(s) FAIL or ERROR.") + (
        " CPU mode: the device column shows where each figure was taken; nothing here is a GPU measurement."
        if plan.cpu_mode else "")
    print("\n" + write(note), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
