"""An AVO fit as a task of the one engine (:mod:`genlib.train.jobs`), and the way back from its stored run.

Why a task: a fit takes seconds to minutes; as a job it gets the sidebar entry, stop and cancel, the engine's
thread-count policy, and a run in the store, so the Simulator fitting page can show it again after a reload, or
from another tab, without fitting again (:func:`avo_result_from_run`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from genlib.params import config_dict, make_config
from genlib.store import JobStatus, RunKind, RunRecord
from genlib.train.task import JobContext, Progress, Task, TaskResult

from .fit import AVOConfig, AVOHistory, AVOResult, fit_avo, run_simulator
from .simulators import SimulatorError, get_simulator

__all__ = ["AVOTask", "avo_result_from_run", "OBSERVED_KEPT", "HISTORY_FIELDS"]

#: Observed rows kept with a run: enough for the page's histograms, small enough for the run folder.
OBSERVED_KEPT = 20_000
#: The per-step arrays of an :class:`AVOHistory`, stored under these names in the run's ``results.npz``.
HISTORY_FIELDS = ("step", "mu", "sigma", "critic_loss", "wasserstein", "simulations", "elapsed")


@dataclass
class AVOTask(Task):
    """One AVO fit run by the JobManager. ``observed``: the experiment's data (None: drawn from the simulator at the
    config's true θ, as :func:`~genlib.avo.fit.fit_avo` does)."""

    config: AVOConfig
    observed: np.ndarray | None = None
    name: str | None = None
    live_every_s: float = 0.1   # at most this often a copy of the history for the page (a copy is O(steps))

    kind = RunKind.AVO
    device = "cpu"              # the simulators are numpy and the critic is tiny: a GPU would only add transfers

    def __post_init__(self) -> None:
        self.seed = int(self.config.seed)

    def label(self) -> str:
        return self.name or f"AVO fit of {get_simulator(self.config.simulator).label}"

    @property
    def model_name(self) -> str:
        return "avo"

    @property
    def dataset_name(self) -> str:
        return self.config.simulator

    def settings(self) -> dict[str, Any]:
        return config_dict(self.config)

    def planned_steps(self) -> int:
        return int(self.config.steps)

    def describe(self) -> dict[str, Any]:
        sim = get_simulator(self.config.simulator)
        return {"kind": self.kind.value, "inputs": config_dict(self.config), "columns": list(sim.feature_names),
                "dataset_params": {"true_theta": list(self.config.true_theta or sim.true_theta),
                                   "n_observed": (int(self.config.n_observed) if self.observed is None
                                                  else int(len(self.observed)))}}

    def execute(self, ctx: JobContext) -> TaskResult:
        """Fit, reporting the critic's losses every step and a copy of the history at most every ``live_every_s``."""
        last_copy = [-np.inf]

        def report(step: int, total: int, history: AVOHistory) -> None:
            now = time.monotonic()
            live = None
            if step == total or now - last_copy[0] >= self.live_every_s:
                live, last_copy[0] = history.copy(), now
            ctx.report(Progress(step, total, losses={"critic_loss": history.critic_loss[-1],
                                                     "wasserstein": history.wasserstein[-1]}, live=live))

        res = fit_avo(self.config, self.observed, report=report, should_stop=ctx.should_stop)
        # the last steps may have fallen between two copies (a stop, say): the page ends on the whole history
        ctx.report(Progress(len(res.history.step), int(self.config.steps), live=res.history.copy()))
        return TaskResult(arrays=result_arrays(res), summary=result_summary(res), metrics=result_metrics(res),
                          value=res, stopped=res.stopped)


def result_arrays(res: AVOResult) -> dict[str, np.ndarray]:
    """What the page draws again: the history, the estimate and the first observed rows (for the histograms)."""
    p = res.simulator.n_params
    h = res.history
    arrays = {"step": np.asarray(h.step, np.int64),
              "mu": np.asarray(h.mu, float).reshape(-1, p), "sigma": np.asarray(h.sigma, float).reshape(-1, p),
              "critic_loss": np.asarray(h.critic_loss, float), "wasserstein": np.asarray(h.wasserstein, float),
              "simulations": np.asarray(h.simulations, np.int64), "elapsed": np.asarray(h.elapsed, float),
              "estimate_mu": np.asarray(res.mu, float), "estimate_sigma": np.asarray(res.sigma, float),
              "observed": np.asarray(res.observed[:OBSERVED_KEPT], float)}
    if res.mu_last is not None:
        arrays["mu_last"] = np.asarray(res.mu_last, float)
    return arrays


def result_summary(res: AVOResult) -> dict[str, Any]:
    """Small results kept in the run's row (the Runs page and the comparison table read these)."""
    return {"estimate": [float(v) for v in res.mu], "sigma": [float(v) for v in res.sigma],
            "simulations": int(res.simulations), "seconds": round(float(res.seconds), 3),
            "truth": [float(v) for v in res.simulator.true_theta], "param_names": list(res.simulator.param_names),
            "steps_done": len(res.history.step), "observed_rows": int(len(res.observed))}


def result_metrics(res: AVOResult) -> dict[str, float]:
    """The estimate of each fitted parameter and its distance to the truth in % (where the truth is not 0)."""
    out: dict[str, float] = {}
    for i, name in enumerate(res.simulator.param_names):
        if name in res.config.fixed:
            continue
        out[f"{name}_estimate"] = float(res.mu[i])
        truth = float(res.simulator.true_theta[i])
        if truth != 0:
            out[f"{name}_error_pct"] = 100 * abs(float(res.mu[i]) - truth) / abs(truth)
    return out


def avo_result_from_run(record: RunRecord, arrays: Mapping[str, np.ndarray]) -> AVOResult | None:
    """Rebuild a stored fit as the :class:`AVOResult` the page draws (its ``observed``: the rows kept with the run),
    without fitting again. None when the run kept no results (it failed, or its process died before the end).
    Raises :class:`SimulatorError` when the record is not an AVO fit this version can read."""
    if record.kind != RunKind.AVO.value:
        raise SimulatorError(f"run {record.id} is a {record.kind} run, not an AVO fit")
    config = make_config(AVOConfig, record.inputs, where=f"run {record.id}: ", error=SimulatorError)
    if "step" not in arrays:
        return None
    history = AVOHistory(
        step=[int(s) for s in arrays["step"]], mu=np.asarray(arrays["mu"], float).tolist(),
        sigma=np.asarray(arrays["sigma"], float).tolist(),
        critic_loss=[float(v) for v in arrays["critic_loss"]], wasserstein=[float(v) for v in arrays["wasserstein"]],
        simulations=[int(v) for v in arrays["simulations"]], elapsed=[float(v) for v in arrays["elapsed"]])
    summary = record.summary or {}
    mu_last = arrays.get("mu_last")
    return AVOResult(config=config, simulator=run_simulator(config), observed=np.asarray(arrays["observed"], float),
                     history=history, mu=np.asarray(arrays["estimate_mu"], float),
                     sigma=np.asarray(arrays["estimate_sigma"], float),
                     simulations=int(summary.get("simulations", history.simulations[-1] if history.simulations
                                                 else 0)),
                     seconds=float(summary.get("seconds", record.elapsed)),
                     stopped=record.status == JobStatus.STOPPED.value,
                     mu_last=None if mu_last is None else np.asarray(mu_last, float))
