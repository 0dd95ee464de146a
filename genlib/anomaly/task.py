"""Anomaly scoring as a job of the engine: encoder (f-AnoGAN, when asked), the GAN score of every test row and of
held-out normal rows, the GAN-free baselines and, optionally, a VAE baseline, all in one :class:`AnomalyScoringTask`.

Why a task: scoring costs from seconds (an encoder pass) to minutes (latent optimisation, a VAE to train). As a job
it gets the sidebar entry, progress, stop and cancel, and its results become a run of the store (kind
``anomaly``): the score PARTS (G and C, so any λ re-scores instantly), the reconstructions, the labels and every
baseline's scores. :class:`AnomalyResult` rebuilds the same objects from those stored arrays, so a page reloaded
tomorrow shows the same numbers without recomputing anything.

What a stopped job keeps is what was complete: nothing while the encoder trains or the rows are reconstructed,
the GAN's scores once they are, then each baseline as it is fitted.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal

import numpy as np
import pandas as pd

from genlib.models.base import ModelError
from genlib.models.fitted import FittedModel
from genlib.store import RunKind, RunStore, StoreError
from genlib.train.task import JobContext, Progress, Task, TaskResult

from .baselines import VAE_BASELINE, baseline_detectors, rank_mean, vae_scores
from .reconstruct import train_encoder
from .scenarios import Scenario, load_scenario, scenario_dataset
from .scoring import (DEFAULT_LAMBDA, ScenarioScores, ScoreParts, auroc, precision_at_k, roc, score_units,
                      score_scenario)

__all__ = ["AnomalyScoringTask", "AnomalyResult", "stored_result", "UPLOAD"]

#: The scenario name of a task scoring the user's own tables (passed in built, as ``scenario``).
UPLOAD = "upload"
_BASELINE = "baseline_{}"   # array name of the i-th baseline; the summary's "baselines" lists their names in order


class _Stopped(Exception):
    """Raised from a progress callback when the job's stop flag is set: unwinds out of a library loop."""


@dataclass
class AnomalyResult:
    """Everything the Anomalies page shows of one scoring run, in this process or rebuilt from the store.

    ``scores`` is None when the run was stopped before every row was scored; ``baselines`` holds the detectors
    that were complete (by display name)."""

    scores: ScenarioScores | None
    baselines: dict[str, np.ndarray]
    test_x: np.ndarray                    # the scored rows (data units)
    test_y: np.ndarray | None             # 1 = anomaly, when the scenario has labels
    columns: list[str]
    image_shape: tuple[int, ...] | None
    description: str
    scale: np.ndarray                     # per-column std of the normal training rows (residual bars)
    vmax: float                           # largest normal training value (the images' colour scale)
    method: str = "optimise"
    info: dict[str, Any] = field(default_factory=dict)   # the rest of the summary (settings, AUROCs, n rows…)
    #: (detector, λ or None) → its ROC, AUROC and precision@k: the baselines' never change, so a λ move only
    #: recomputes the GAN's two rows (scikit-learn's ROC costs ~30 ms a detector on a busy 2-core machine)
    _stats: dict[tuple[str, float | None], tuple[np.ndarray, np.ndarray, float, float]] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    @property
    def complete(self) -> bool:
        return self.scores is not None

    def detectors(self, lam: float = DEFAULT_LAMBDA) -> dict[str, np.ndarray]:
        """The GAN's score at ``λ``, every stored baseline, and the GAN + GMM rank mean, by display name."""
        out: dict[str, np.ndarray] = {}
        if self.scores is not None:
            out[f"WGAN ({self.method}, λ = {lam:g})"] = self.scores.scores(lam)
        out.update(self.baselines)
        if self.scores is not None and "GMM on PCA" in self.baselines:
            out["WGAN + GMM (rank mean)"] = rank_mean(self.scores.scores(lam), self.baselines["GMM on PCA"])
        return out

    def auroc(self, lam: float = DEFAULT_LAMBDA) -> float | None:
        """The GAN score's AUROC at ``λ`` (None without labels or scores)."""
        if self.scores is None or self.test_y is None or len(np.unique(self.test_y)) != 2:
            return None
        return next(iter(self.detector_stats(lam).values()))[2]   # the GAN's row comes first

    def table(self, lam: float = DEFAULT_LAMBDA) -> pd.DataFrame:
        """Every detector's AUROC and precision@k at ``λ``, best first (``ValueError`` without labels); the same
        table as :func:`compare_detectors`, from :meth:`detector_stats`."""
        if self.test_y is None:
            raise ValueError("this result has no test labels: nothing to compare against")
        k = int(np.asarray(self.test_y).sum())
        rows = [{"detector": name, "AUROC": auc, f"precision@{k}": prec}
                for name, (_, _, auc, prec) in self.detector_stats(lam).items()]
        return pd.DataFrame(rows).sort_values("AUROC", ascending=False, ignore_index=True)

    def detector_stats(self, lam: float = DEFAULT_LAMBDA) -> dict[str, tuple[np.ndarray, np.ndarray, float, float]]:
        """Each detector's (fpr, tpr, AUROC, precision@k) at ``λ`` (k = the number of anomalies), by display name,
        in :meth:`detectors`' order; the baselines' are computed once per result (``ValueError`` without labels)."""
        if self.test_y is None:
            raise ValueError("this result has no test labels: nothing to compare against")
        if len(self._stats) > 256:   # a long session of λ moves: keep the baselines', drop the rest
            for key in [key for key in self._stats if key[1] is not None]:
                self._stats.pop(key, None)
        out = {}
        for name, s in self.detectors(lam).items():
            key = (name, None if name in self.baselines else float(lam))
            if key not in self._stats:
                fpr, tpr, _, auc = roc(self.test_y, s)
                self._stats[key] = (fpr, tpr, auc, precision_at_k(self.test_y, s))
            out[name] = self._stats[key]
        return out

    def summary(self) -> dict[str, Any]:
        """Small JSON results for the run's row (AUROCs and thresholds at the default λ, what was scored)."""
        out: dict[str, Any] = dict(self.info)
        out.update(description=self.description, columns=list(self.columns), method=self.method,
                   image_shape=None if self.image_shape is None else list(self.image_shape), vmax=float(self.vmax),
                   n_test=int(len(self.test_x)), n_anomalies=None if self.test_y is None else int(self.test_y.sum()),
                   baselines=list(self.baselines), complete=self.complete, lam=DEFAULT_LAMBDA)
        if self.scores is not None:
            th = self.scores.thresholds(DEFAULT_LAMBDA)
            out.update(n_normal=len(self.scores.normal), auroc=self.auroc(),
                       thresholds={"mean": th.mean, "std": th.std, "one_sigma": th.one_sigma,
                                   "three_sigma": th.three_sigma},
                       flagged_one_sigma=int((self.scores.scores() > th.one_sigma).sum()))
        if self.test_y is not None and len(np.unique(self.test_y)) == 2:
            out["baseline_auroc"] = {name: auroc(self.test_y, s) for name, s in self.baselines.items()}
        return out

    def arrays(self) -> dict[str, np.ndarray]:
        """What the store keeps in ``results.npz`` (parts in float64: λ re-scores them exactly)."""
        out: dict[str, np.ndarray] = {"test_x": np.asarray(self.test_x, np.float32),
                                      "scale": np.asarray(self.scale, np.float64)}
        if self.test_y is not None:
            out["test_y"] = np.asarray(self.test_y, np.int64)
        if self.scores is not None:
            out.update(test_G=self.scores.test.G, test_C=self.scores.test.C, normal_G=self.scores.normal.G,
                       normal_C=self.scores.normal.C,
                       reconstructions=np.asarray(self.scores.reconstructions, np.float32))
        for i, s in enumerate(self.baselines.values()):
            out[_BASELINE.format(i)] = np.asarray(s, np.float64)
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], summary: dict[str, Any]) -> "AnomalyResult":
        """Rebuild a result from a stored run's arrays and summary (:meth:`arrays`, :meth:`summary`)."""
        try:
            scores = None
            if "test_G" in arrays:
                scores = ScenarioScores(ScoreParts(arrays["test_G"], arrays["test_C"]),
                                        ScoreParts(arrays["normal_G"], arrays["normal_C"]),
                                        np.asarray(arrays["reconstructions"], np.float64))
            baselines = {name: arrays[_BASELINE.format(i)] for i, name in enumerate(summary.get("baselines", []))}
            shape = summary.get("image_shape")
            known = {"description", "columns", "method", "image_shape", "vmax"}
            return cls(scores=scores, baselines=baselines, test_x=np.asarray(arrays["test_x"], np.float64),
                       test_y=arrays.get("test_y"), columns=list(summary["columns"]),
                       image_shape=None if shape is None else tuple(shape), description=summary["description"],
                       scale=arrays["scale"], vmax=float(summary["vmax"]), method=summary.get("method", "optimise"),
                       info={k: v for k, v in summary.items() if k not in known})
        except KeyError as exc:
            raise StoreError(f"this anomaly result lacks {exc}: it was written by another version") from None


def stored_result(store: RunStore, run_id: str) -> AnomalyResult:
    """The result of a stored scoring run (``StoreError`` for an unknown run, another kind, or no results)."""
    record = store.get(run_id)
    if record.kind != RunKind.ANOMALY.value:
        raise StoreError(f"run {run_id} is a {record.kind} run, not anomaly scores")
    arrays = store.results(run_id)
    if not arrays:
        raise StoreError(f"run {run_id} has no stored scores (status {record.status})")
    return AnomalyResult.from_arrays(arrays, record.summary)


GanSource = FittedModel | Callable[[str], FittedModel]


@dataclass
class AnomalyScoringTask(Task):
    """Score a scenario with a trained GAN, and fit the baselines on the same split, as one job.

    ``gan``: the trained model, or a loader called with the job's device (e.g. ``functools.partial(store.load,
    run_id)``: the engine hands no store to tasks). ``scenario_name``/``scenario_params`` rebuild a built-in
    scenario inside the job; an uploaded one is passed built as ``scenario`` (name :data:`UPLOAD`)."""

    gan: GanSource
    scenario_name: str
    scenario_params: dict[str, Any] = field(default_factory=dict)
    scenario: Scenario | None = None
    gan_run: str | None = None            # the GAN's run id (kept in the row's inputs)
    method: Literal["optimise", "encoder"] = "encoder"
    iters: int = 200
    encoder_steps: int = 1000
    vae: bool = False
    vae_steps: int = 1500
    seed: int = 0
    device: str = "auto"
    name: str | None = None
    out_dir: str | None = None

    kind = RunKind.ANOMALY

    def __post_init__(self) -> None:
        if self.method not in ("optimise", "encoder"):
            raise ModelError(f"method must be 'optimise' or 'encoder', got {self.method!r}")
        if self.scenario is None and self.scenario_name == UPLOAD:
            raise ModelError("an uploaded scenario must be passed built (scenario=…)")

    def label(self) -> str:
        return self.name or f"anomaly scores on {self.dataset_name} ({self.method})"

    @property
    def model_name(self) -> str:
        return "anomaly"

    @property
    def dataset_name(self) -> str:
        return self.scenario.name if self.scenario is not None else self.scenario_name

    def settings(self) -> dict[str, Any]:
        out: dict[str, Any] = {"method": self.method, "seed": self.seed, "vae": self.vae}
        out.update({"iters": self.iters} if self.method == "optimise" else {"encoder_steps": self.encoder_steps})
        return out

    def planned_steps(self) -> int:
        """Exact once the scenario is known (an upload); else the fixed parts, corrected when the job starts."""
        if self.scenario is None:
            return self._fixed_steps()
        return self._steps_for(self.scenario, len(scenario_dataset(self.scenario).test))

    def _fixed_steps(self) -> int:
        return (self.encoder_steps if self.method == "encoder" else 0) + 3 + (self.vae_steps if self.vae else 0)

    def _steps_for(self, sc: Scenario, n_normal: int) -> int:
        return self._fixed_steps() + score_units(len(sc.test_x), n_normal, self.method, self.iters)

    def describe(self) -> dict[str, Any]:
        sc = self.scenario
        return {"kind": self.kind.value, "dataset_params": dict(sc.params if sc is not None else self.scenario_params),
                "columns": list(sc.columns) if sc is not None else [],
                "inputs": {"gan_run": self.gan_run, "scenario": self.scenario_name,
                           "scenario_params": dict(self.scenario_params), "method": self.method, "iters": self.iters,
                           "encoder_steps": self.encoder_steps, "vae": self.vae, "vae_steps": self.vae_steps}}

    def _load_gan(self, ctx: JobContext) -> FittedModel:
        return self.gan if isinstance(self.gan, FittedModel) else self.gan(str(ctx.device))

    def execute(self, ctx: JobContext) -> TaskResult:
        """Scenario → GAN → (encoder) → scores → baselines → (VAE); each phase reports its steps."""
        sc = self.scenario if self.scenario is not None else load_scenario(self.scenario_name,
                                                                          **self.scenario_params)
        normal = scenario_dataset(sc)   # the split the GAN was trained on: train → encoder, test → thresholds
        fitted = self._load_gan(ctx)
        if fitted.model.n_features != sc.n_features:
            raise ModelError(f"the GAN was trained on {fitted.model.n_features} columns, the scenario "
                             f"'{sc.name}' has {sc.n_features}: train a GAN on this scenario")
        total = self._steps_for(sc, len(normal.test))
        done = 0
        phase = "starting"

        def tick(n: int = 1) -> None:
            nonlocal done
            done += n
            ctx.report(Progress(done, total, live={"phase": phase}))
            if ctx.should_stop():
                raise _Stopped

        result = AnomalyResult(scores=None, baselines={}, test_x=sc.test_x, test_y=sc.test_y,
                               columns=list(sc.columns), image_shape=sc.image_shape, description=sc.description,
                               scale=sc.normal_train.std(axis=0), vmax=float(np.max(sc.normal_train)),
                               method=self.method,
                               info={"scenario": self.scenario_name, "scenario_params": dict(sc.params),
                                     "gan_run": self.gan_run, "iters": self.iters,
                                     "encoder_steps": self.encoder_steps, "vae": self.vae})
        ctx.report(Progress(0, total, live={"phase": phase}))
        try:
            encoder = None
            if self.method == "encoder":
                phase = "training the encoder (G and D frozen)"
                encoder = train_encoder(fitted, normal.train, steps=self.encoder_steps, seed=self.seed,
                                        progress=tick)
            phase = "reconstructing every row"
            result.scores = score_scenario(fitted, sc.test_x, normal.test, self.method, encoder, self.iters,
                                           seed=self.seed, progress=tick)
            for name, fit in baseline_detectors(sc).items():
                phase = f"fitting the baseline: {name}"
                result.baselines[name] = fit()
                tick()
            if self.vae:
                phase = "training the VAE baseline"
                result.baselines[VAE_BASELINE] = vae_scores(sc, steps=self.vae_steps, seed=self.seed,
                                                            device=str(ctx.device), progress=tick)
            stopped = False
        except _Stopped:
            stopped = True
        summary = result.summary()
        metrics = {} if summary.get("auroc") is None else {"auroc": float(summary["auroc"])}
        return TaskResult(metrics=metrics, arrays=result.arrays(), summary=summary, value=result, stopped=stopped)

