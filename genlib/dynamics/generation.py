"""Generate Lorenz trajectories with a trained model and measure whether they are still chaotic, as a job.

Why a task: sampling a model, decoding its rows into trajectories and estimating Lyapunov exponents takes seconds
to minutes (Rosenstein's estimator on every trajectory). As a :class:`GenerationTask` it runs in the one
:class:`~genlib.train.JobManager` (sidebar entry, stop and cancel) and its result is a run of kind ``generation``:
the trajectories and the chaos table are stored with it (``results.npz``), so the Lorenz page shows them again
after a reload without recomputing. The inputs that define it are the training run it sampled and the settings.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..data import DataError, Dataset
from ..data import trajectory_codec as codec
from ..data.lorenz import lorenz_trajectories
from ..data.lorenz_images import lorenz_images_scaler
from ..systems.lorenz import BETA, RHO, SIGMA
from .lyapunov import benettin
from ..models import FittedModel
from ..store import RunKind
from ..train.task import JobContext, Progress, Task, TaskResult
from .trajectories import chaos_table

__all__ = ["GenerationResult", "GenerationTask", "TABLE_COLUMNS", "free_run", "series_steps", "trajectories_of"]

#: The chaos table's columns, each stored as one array of the run (text columns as unicode arrays, no pickle).
TABLE_COLUMNS = ("check", "coordinate", "real", "real_std", "generated", "generated_std", "n_real", "n_generated",
                 "note")
LYAPUNOV_CHECK = "Lyapunov"            # how the table's rows start (see chaos_table)
STEP_CHECK = "mean |state change|"
OWN_CHECK = "largest exponent by Benettin on the equations (1/time)"
TRAJECTORY_DATA = ("lorenz_images", "lorenz_windows", "lorenz_series")
#: Time units a sequence model's generated trajectory covers on the Lorenz page (and at least this many steps): long
#: enough for Rosenstein's estimator, short enough to measure 32 of them in seconds.
SERIES_TIME, SERIES_MIN_STEPS = 50.0, 1024


def series_steps(dt: float) -> int:
    """Steps of each trajectory a sequence model generates on the Lorenz page: 5,000 at dt = 0.01, 1,024 at 0.1."""
    return max(SERIES_MIN_STEPS, int(round(SERIES_TIME / float(dt))))


def free_run(fitted: FittedModel, n: int, steps: int, seed: int | None = None) -> np.ndarray:
    """n trajectories of ``steps`` states from a sequence model running on its own, in data units (n, steps, d);
    a trajectory that overflowed is NaN from there on."""
    from ..models.fitted import seeded

    with fitted.model.evaluating(), seeded(fitted.model, seed):
        z = fitted.model.generate_trajectories(int(n), int(steps)).detach().cpu().double().numpy()
    return fitted.transform.inverse(z.reshape(-1, z.shape[-1])).reshape(z.shape)


def trajectories_of(rows: np.ndarray, dataset: Dataset) -> np.ndarray:
    """Dataset rows (32×32 images or flattened windows) → trajectories (n, T, 3) in data units. Rows of
    ``lorenz_series`` are states in time order already: one trajectory (1, rows, 3)."""
    if dataset.name not in TRAJECTORY_DATA:
        raise DataError(f"{dataset.name} rows are not trajectories: generate from a model trained on "
                        f"{' or '.join(TRAJECTORY_DATA)}")
    if dataset.name == "lorenz_images":
        return codec.from_images(rows, lorenz_images_scaler(dataset))
    if dataset.name == "lorenz_series":
        return np.asarray(rows, dtype=float).reshape(1, -1, 3)
    return codec.unwindow(rows, int(dataset.params["length"]))


@dataclass
class GenerationResult:
    """Real and generated trajectories and the chaos table comparing them (None when stopped before it)."""

    real: np.ndarray
    generated: np.ndarray
    table: pd.DataFrame | None

    def to_arrays(self) -> dict[str, np.ndarray]:
        """What the run stores: the trajectories, and the table column by column."""
        out = {"real": np.asarray(self.real), "generated": np.asarray(self.generated)}
        if self.table is not None:
            for col in TABLE_COLUMNS:
                values = self.table[col].to_numpy()
                out[f"table_{col}"] = values.astype(str) if values.dtype == object else values
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> "GenerationResult":
        """The inverse of :meth:`to_arrays` (a stored run's ``store.results(run_id)``)."""
        table = None
        if f"table_{TABLE_COLUMNS[0]}" in arrays:
            table = pd.DataFrame({col: arrays[f"table_{col}"] for col in TABLE_COLUMNS})
        return cls(real=arrays["real"], generated=arrays["generated"], table=table)

    def lyapunov(self) -> tuple[float, float] | None:
        """Largest exponent of the full state (x, y, z), real and generated; None when not measured."""
        if self.table is None:
            return None
        rows = self.table[self.table["check"].str.startswith(LYAPUNOV_CHECK) & (self.table["coordinate"] == "xyz")]
        if rows.empty:
            return None
        return float(rows["real"].iloc[0]), float(rows["generated"].iloc[0])

    def summary(self) -> dict[str, Any]:
        """The headline numbers kept in the run's row: sizes and the full-state exponents."""
        out: dict[str, Any] = {"n_trajectories": int(len(self.generated)), "steps": int(self.generated.shape[1])}
        lyap = self.lyapunov()
        if lyap is not None:
            out["lyapunov_real"], out["lyapunov_generated"] = (v if np.isfinite(v) else None for v in lyap)
        if self.table is not None:
            step = self.table[self.table["check"].str.startswith(STEP_CHECK)]
            if not step.empty:
                out["step_real"], out["step_generated"] = float(step["real"].iloc[0]), float(step["generated"].iloc[0])
        return out


@dataclass
class GenerationTask(Task):
    """Sample ``n`` rows from a trained model, decode them into trajectories, and compare them with ``n`` real
    ones (:func:`~genlib.dynamics.trajectories.chaos_table`).

    The caller hands over the model and its data (a live job's or ``store.load(source_run)``): a task never
    touches the store. ``source_run`` is the training run's id, kept in the record's inputs."""

    source_run: str
    fitted: FittedModel
    dataset: Dataset
    n: int = 32
    seed: int = 7
    device: str = "cpu"
    model: str = field(default="")

    kind = RunKind.GENERATION

    def label(self) -> str:
        return f"{self.n} trajectories from {self.model_name} ({self.source_run[-6:]})"

    @property
    def model_name(self) -> str:
        return self.model or self.fitted.name

    @property
    def dataset_name(self) -> str:
        return self.dataset.name

    def settings(self) -> dict[str, Any]:
        return {"n": int(self.n), "seed": int(self.seed)}

    def planned_steps(self) -> int:
        return 3   # sample, decode, measure

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "dataset_params": dict(self.dataset.params),
                "inputs": {"source_run": self.source_run, "n": int(self.n), "seed": int(self.seed)}}

    def execute(self, ctx: JobContext) -> TaskResult:
        ds = self.dataset
        if ds.is_series:   # a sequence model runs on its own; real trajectories of the same length to compare
            steps, p = series_steps(float(ds.params["dt"])), ds.params
            generated = free_run(self.fitted, int(self.n), steps, int(self.seed))
            ctx.report(Progress(1, 3))
            real = lorenz_trajectories(int(self.n), steps, dt=float(p["dt"]), seed=int(p.get("seed", 0)) + 1000,
                                       sigma=float(p.get("sigma", SIGMA)), rho=float(p.get("rho", RHO)),
                                       beta=float(p.get("beta", BETA)))
        else:
            rows = self.fitted.sample(int(self.n), seed=int(self.seed))
            ctx.report(Progress(1, 3))
            generated = trajectories_of(np.asarray(rows), ds)
            real = trajectories_of(ds.test[: int(self.n)], ds)
        ctx.report(Progress(2, 3))
        if ctx.should_stop():   # keep the trajectories; the table was not measured
            result = GenerationResult(real, generated, None)
            return TaskResult(arrays=result.to_arrays(), summary=result.summary(), value=result, stopped=True)
        table = chaos_table(real, generated, float(ds.params["dt"]), lyapunov=ds.name != "lorenz_windows",
                            reconstruction=ds.is_series)
        own = getattr(self.fitted.model, "largest_exponent_per_step", None)
        if ds.is_series and own is not None:   # the model has equations: Benettin on them, and on Lorenz's
            p, dt = ds.params, float(ds.params["dt"])
            model_value = float(own(4, 2000, 300)) / dt
            lorenz_value = benettin(float(p.get("sigma", SIGMA)), float(p.get("rho", RHO)),
                                    float(p.get("beta", BETA))).exponent
            row = {"check": OWN_CHECK, "coordinate": "xyz", "real": lorenz_value, "real_std": float("nan"),
                   "generated": model_value, "generated_std": float("nan"), "n_real": 1, "n_generated": 4,
                   "note": "real: Benettin on Lorenz's equations; generated: on the model's own step map, along "
                           "4 free runs of 2,000 steps"}
            table = pd.concat([table, pd.DataFrame([row])], ignore_index=True)
        result = GenerationResult(real, generated, table)
        ctx.report(Progress(3, 3))
        return TaskResult(arrays=result.to_arrays(), summary=result.summary(), value=result,
                          stopped=ctx.should_stop())
