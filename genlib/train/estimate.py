"""Honest time: a speed that never reads "0 steps/s" while a job moves, a time left on every progress line, and an
estimate of a training budget before it starts.

Why: a DCGAN at 0.07 steps/s used to show "0 steps/s" and no time left, and a page's default of 1,500 steps took
anywhere from 14 minutes to over an hour with no warning. Before a start the estimate comes from the steps/s of
earlier stored runs of the same model, data and settings on the same device, else from a short timed probe: a few
real training steps of the chosen model on the chosen device (cached per model, data, settings and device).
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field, replace
from statistics import median
from typing import Any, Callable, Iterable

import torch

from ..models import get_model_class
from ..store import RunRecord
from .loop import TrainSpec, build, resolve_device, train
from .task import JobContext, Progress, Task, TaskResult

__all__ = ["Estimate", "ProbeTask", "WARN_ABOVE_S", "estimate_spec", "format_eta", "format_rate", "probe_rate", "rate_from_runs",
           "spec_key"]

#: A budget estimated above this many seconds asks for a confirmation before it starts (issue 19: 5 minutes).
WARN_ABOVE_S = 300.0
#: Steps the probe times (after one untimed warm-up step that builds buffers and caches).
PROBE_STEPS = 3
#: The probe stops timing after this many seconds even if it has not done all its steps (a very slow model).
PROBE_MAX_S = 20.0


def format_rate(steps_per_s: float | None) -> str:
    """A speed in words that never rounds a moving job to "0 steps/s": "35 steps/s", "2.4 steps/s", "0.07 steps/s"
    or, below one step every two seconds, "1 step / 14 s". Empty for no speed yet (None, 0, not finite)."""
    if steps_per_s is None or not math.isfinite(steps_per_s) or steps_per_s <= 0:
        return ""
    if steps_per_s >= 10:
        return f"{steps_per_s:,.0f} steps/s"
    if steps_per_s >= 0.5:
        return f"{steps_per_s:.2g} steps/s" if steps_per_s < 1 else f"{steps_per_s:.1f} steps/s"
    seconds = 1.0 / steps_per_s
    return f"1 step / {seconds:.0f} s" if seconds < 600 else f"1 step / {seconds / 60:.0f} min"


def format_duration(seconds: float) -> str:
    """"45 s", "3 min 05 s", "1 h 12 min"."""
    seconds = int(round(max(0.0, seconds)))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def format_eta(eta_s: float | None, paused: bool = False) -> str:
    """The time-left part of a progress line: "about 2 min 10 s left", "paused" while held, "" when unknown."""
    if paused:
        return "paused"
    if eta_s is None or not math.isfinite(eta_s):
        return ""
    return f"about {format_duration(eta_s)} left"


@dataclass(frozen=True)
class Estimate:
    """How long a budget of ``steps`` should take: its speed, where that speed comes from, and the device."""

    steps: int
    steps_per_s: float
    source: str          # "earlier runs" or "a timed probe"
    device: str          # "cpu", "cuda"

    @property
    def seconds(self) -> float:
        return self.steps / self.steps_per_s if self.steps_per_s > 0 else math.inf

    @property
    def too_long(self) -> bool:
        return self.seconds > WARN_ABOVE_S

    def text(self) -> str:
        """"about 3 min on CPU (1.2 steps/s, from a timed probe)"."""
        where = "GPU" if self.device.startswith("cuda") else "CPU"
        return (f"about {format_duration(self.seconds)} on {where} ({format_rate(self.steps_per_s)}, "
                f"from {self.source})")


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((str(k), _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value if isinstance(value, (int, float, str, bool, type(None))) else repr(value)


def _device_name(spec: TrainSpec) -> str:
    return resolve_device(spec.device).type


def spec_key(spec: TrainSpec) -> tuple[Any, ...]:
    """What the speed of a step depends on: model, data (name, parameters, size), settings, batch, device."""
    return (spec.model, spec.dataset.name, _freeze(spec.dataset.params), len(spec.dataset.train),
            _freeze(spec.config), spec.batch_size, spec.transform, _device_name(spec), torch.get_num_threads())


def rate_from_runs(records: Iterable[RunRecord], spec: TrainSpec, newest: int = 5) -> float | None:
    """The median steps/s of the newest earlier runs of the same model, data, settings and batch on the same kind of
    device (finished or stopped, not continued, at least 10 steps); None when there is none."""
    device = _device_name(spec)
    rates = []
    for r in records:
        if (r.model != spec.model or r.dataset != spec.dataset.name or r.parent is not None
                or r.status not in ("done", "stopped") or r.steps < 10 or not r.elapsed or r.elapsed <= 0):
            continue
        if _freeze(r.dataset_params) != _freeze(spec.dataset.params) or _freeze(r.config) != _freeze(spec.config):
            continue
        if (r.inputs or {}).get("batch_size", spec.batch_size) != spec.batch_size:
            continue
        if not (r.device or "cpu").startswith(device):
            continue
        rates.append(r.steps / r.elapsed)
        if len(rates) >= newest:
            break
    return median(rates) if rates else None


_probes: dict[tuple[Any, ...], float] = {}
_probe_lock = threading.Lock()


def time_steps(spec: TrainSpec, device: torch.device, steps: int = PROBE_STEPS, max_s: float = PROBE_MAX_S) -> float:
    """Steps per second of ``spec``'s model on ``device``, timed here over a few real training steps of a throwaway
    copy (after one untimed warm-up step); nothing is stored."""
    probe = replace(spec, steps=steps + 1, eval_period_s=None, preview_samples=0, checkpoint_every_s=None,
                    resume=None, parent=None, parent_history=None, start_step=0, out_dir=None)
    fitted = build(probe, device)
    times: list[float] = []

    def report(p: Progress) -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter())

    train(probe, fitted, report, lambda: len(times) >= 2 and times[-1] - times[0] > max_s)
    if len(times) < 2:
        raise RuntimeError("the probe could not time a step")
    return (len(times) - 1) / max(times[-1] - times[0], 1e-9)


@dataclass
class ProbeTask(Task):
    """The timed probe as a task of the engine, so it runs where jobs run (a worker process, a Ray actor): the app's
    own process trains nothing. Run it with :meth:`genlib.train.JobManager.run_now` (no queue, no run stored)."""

    spec: TrainSpec
    steps: int = PROBE_STEPS
    max_s: float = PROBE_MAX_S
    device: str = field(init=False, default="auto")

    def __post_init__(self) -> None:
        self.device = self.spec.device
        self.checkpoint_every_s = None

    def label(self) -> str:
        return f"timing a few steps of {self.spec.label()}"

    @property
    def model_name(self) -> str:
        return self.spec.model

    @property
    def dataset_name(self) -> str:
        return self.spec.dataset.name

    def execute(self, ctx: JobContext) -> TaskResult:
        return TaskResult(value=time_steps(self.spec, ctx.device, self.steps, self.max_s))


def probe_rate(spec: TrainSpec, steps: int = PROBE_STEPS, max_s: float = PROBE_MAX_S,
               run: Callable[[Task], TaskResult] | None = None) -> float:
    """Steps per second of ``spec``'s model on its device from a few real training steps, cached per
    :func:`spec_key`. ``run``: where to run the probe (an engine's ``run_now``: a worker); None: in this thread."""
    key = spec_key(spec)
    with _probe_lock:
        if key in _probes:
            return _probes[key]
    if run is None:
        rate = time_steps(spec, resolve_device(spec.device), steps, max_s)
    else:
        rate = float(run(ProbeTask(spec, steps, max_s)).value)
    with _probe_lock:
        _probes[key] = rate
    return rate


def estimate_spec(spec: TrainSpec, records: Iterable[RunRecord] = (), probe: bool = True,
                  run: Callable[[Task], TaskResult] | None = None) -> Estimate | None:
    """The time ``spec`` should take: from earlier runs when there are some, else (``probe``) from a timed probe (run
    by ``run``, see :func:`probe_rate`); None for a model fitted in one call (no steps to count), or when neither is
    available."""
    cls = get_model_class(spec.model)
    if not cls.iterative:
        return None
    steps = int(spec.steps or cls.default_steps)
    device = _device_name(spec)
    rate = rate_from_runs(records, spec)
    if rate is not None:
        return Estimate(steps, rate, "earlier runs", device)
    with _probe_lock:
        cached = _probes.get(spec_key(spec))
    if cached is None and not probe:
        return None
    return Estimate(steps, cached if cached is not None else probe_rate(spec, run=run), "a timed probe", device)
