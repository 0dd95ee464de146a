"""The short way to use GenLab from Python or a notebook: ``import genlib`` and call these.

Each function is the same code the app and the CLI run (the registry of datasets and models, the one training
loop, the metric suite, the run store); nothing here imports Streamlit.

Example:
    >>> import genlib
    >>> data = genlib.load_dataset("toy2d", shape="moons", n=1000)
    >>> gmm = genlib.fit("gmm", data, n_components=8)
    >>> genlib.sample(gmm, 5, seed=0).shape
    (5, 2)
    >>> sorted(genlib.evaluate(data.test, genlib.sample(gmm, 200, seed=1)))
    ['anderson_darling', 'kendall_error']
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from .data import Dataset, load_any
from .data import list_datasets as _dataset_infos
from .models import FittedModel, ModelError, capability_table
from .store import CHECKPOINT_NAME, RunStore, read_run_dir

__all__ = ["list_datasets", "list_models", "load_dataset", "fit", "sample", "log_likelihood", "evaluate",
           "save_run", "load_run", "open_store"]


def list_datasets() -> list[str]:
    """Names of the built-in datasets (any numeric CSV file works too).

    Example:
        >>> "finance" in list_datasets() and "digits" in list_datasets()
        True
    """
    return [info.name for info in _dataset_infos()]


def list_models() -> list[dict[str, Any]]:
    """One row per registered model: name, family and what it can do (sample, exact log-likelihood, ELBO, encoder,
    conditional) — seed 003's capability table.

    Example:
        >>> {row["model"]: row["exact log-likelihood"] for row in list_models()}["maf"]
        True
    """
    return capability_table()


def load_dataset(name: str, **params: Any) -> Dataset:
    """A built-in dataset by name with its generator parameters, or a CSV file by path (checked: numeric columns,
    no missing values, at least 28 rows at the default 20% test split). Returns a train/test split in the data's own units.

    Example:
        >>> data = load_dataset("finance")
        >>> data.train.shape, data.test.shape, data.columns
        ((576, 4), (144, 4), ['f1', 'f2', 'f3', 'f4'])
    """
    return load_any(name, **params)


def fit(model: str, data: Dataset | str, *, steps: int | None = None, seed: int = 0, batch_size: int = 256,
        device: str = "auto", transform: str = "auto", progress: bool = False, **settings: Any) -> FittedModel:
    """Train ``model`` (a registered name, see :func:`list_models`) on ``data`` and return it, ready to sample.

    ``settings`` are the model's own (``sigma=0.2`` for a VAE …), checked like ``--set`` on the CLI; ``steps``
    defaults to the model's own budget. Training runs here, in the calling thread, through the same loop as the
    app's jobs: the same spec and seed give the same model. ``progress=True`` shows a progress bar.

    Example:
        >>> data = load_dataset("toy2d", shape="moons", n=1000)
        >>> flow = fit("realnvp", data, steps=50, n_layers=4)
        >>> flow.name, flow.info["steps"]
        ('realnvp', 50)
    """
    from .train.loop import TrainSpec, build, resolve_device, train

    from .models import check_model_memory, model_config

    dataset = data if isinstance(data, Dataset) else load_dataset(data)
    # Bounded work: refused before building when its memory estimate exceeds half of what the machine has.
    check_model_memory(model, dataset.train.shape[1], model_config(model, settings), batch_size, len(dataset.train))
    spec = TrainSpec(model=model, dataset=dataset, config=settings, steps=steps, batch_size=batch_size, seed=seed,
                     device=device, transform=transform, eval_period_s=None)
    fitted = build(spec, resolve_device(device))
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=1, unit="step", desc=model)

    def report(p: Any) -> None:
        if bar is not None:
            bar.total, bar.n = max(p.total, 1), p.step
            bar.refresh()

    try:
        done = train(spec, fitted, report, should_stop=lambda: False)
    finally:
        if bar is not None:
            bar.close()
    fitted.info.update(steps=int(done), seed=int(seed), config=dict(settings))
    return fitted


def sample(model: FittedModel, n: int, seed: int | None = None) -> np.ndarray:
    """``n`` new rows in the data's own units (a conditional model draws every class in turn). Same seed, same rows.

    Example:
        >>> gmm = fit("gmm", load_dataset("finance"))
        >>> rows = sample(gmm, 3, seed=7)
        >>> bool((rows == sample(gmm, 3, seed=7)).all()) and bool((rows >= 0).all())   # finance stays positive
        True
    """
    from .limits import SAMPLE_ROWS

    SAMPLE_ROWS.check(int(n), "n")  # $GENLAB_MAX_SAMPLE_ROWS, before any work
    return model.sample(int(n), seed=seed)


def log_likelihood(model: FittedModel, x: np.ndarray, labels: np.ndarray | None = None) -> float:
    """Mean log-likelihood of rows ``x`` in data units, in nats per dimension (higher is better): exact for flows
    and classical densities, an importance-weighted lower bound for VAEs. A GAN defines no density: ModelError.

    Example:
        >>> moons = load_dataset("toy2d", shape="moons", n=1000)
        >>> log_likelihood(fit("gmm", moons, n_components=8), moons.test) > \\
        ...     log_likelihood(fit("gaussian", moons), moons.test)          # a mixture follows the two moons
        True
    """
    from .metrics.likelihood import held_out_log_likelihood

    value = held_out_log_likelihood(model, x, labels=labels)
    if value is None:
        raise ModelError(f"{model.name} defines no density (it can only sample); use a flow, a VAE or a "
                         "classical density")
    if math.isnan(value):
        raise ModelError("no finite log-likelihood for these rows: integer-valued data (pixels) have no density "
                         "without dequantization, or the model diverged")
    return value


def evaluate(real: np.ndarray, fake: np.ndarray, *, suite: bool = False,
             train: np.ndarray | None = None) -> dict[str, Any]:
    """How far generated rows ``fake`` are from held-out ``real`` ones (lower is better unless a metric says
    otherwise). By default the GenHack metrics of the financial-data study: the Anderson–Darling distance and the
    absolute Kendall error. ``suite=True`` adds every metric of the Compare page (W1, MMD, energy, C2ST AUC,
    precision/recall/density/coverage, correlation gaps; ``train`` rows enable the memorisation check), on at most
    1,000 rows. Above ``$GENLAB_EVAL_ROWS`` rows (20,000) a side, a fixed seeded subsample is compared and the
    result has a "subsampled" entry saying how many rows of how many were used.

    Example:
        >>> data = load_dataset("finance")
        >>> floor = evaluate(data.test, data.train[:144])           # two real samples: the oracle floor
        >>> far = evaluate(data.test, data.test * 3)                # every value tripled
        >>> far["anderson_darling"] > floor["anderson_darling"]
        True
    """
    from .metrics import anderson_darling, kendall_error, subsample_pair

    real, fake, note = subsample_pair(np.asarray(real), np.asarray(fake))
    out: dict[str, Any] = {"anderson_darling": float(anderson_darling(real, fake)),
                           "kendall_error": float(kendall_error(real, fake))}
    if suite:
        from .metrics.suite import score_arrays
        out.update({k: float(v) for k, v in score_arrays(real, fake, train)[1].items()})
    if note is not None:
        out["subsampled"] = note
    return out


def save_run(model: FittedModel, folder: str | Path) -> Path:
    """Write ``model`` (weights, settings, preprocessing) to ``folder``/model.pt, read back by :func:`load_run`
    with ``torch.load(weights_only=True)``; returns the checkpoint's path.

    Example:
        >>> import tempfile
        >>> gmm = fit("gmm", load_dataset("finance"))
        >>> path = save_run(gmm, tempfile.mkdtemp())
        >>> bool((load_run(path.parent).sample(4, seed=1) == gmm.sample(4, seed=1)).all())
        True
    """
    return model.save(Path(folder) / CHECKPOINT_NAME)


def load_run(ref: str | Path, device: str = "cpu") -> FittedModel:
    """A trained model from a run folder, a checkpoint file, or a run id of the run store (see :func:`open_store`).
    A corrupt or foreign file gives one clear error; nothing is unpickled blindly.

    Example:
        >>> import tempfile
        >>> folder = save_run(fit("gaussian", load_dataset("finance")), tempfile.mkdtemp()).parent
        >>> load_run(folder).name
        'gaussian'
        >>> load_run(folder / "model.pt").sample(2, seed=0).shape
        (2, 4)
    """
    path = Path(ref)
    if path.exists():
        return read_run_dir(path, device)[1]
    return open_store().load(str(ref), device)


def open_store(root: str | Path | None = None) -> RunStore:
    """The run store (default: ``$GENLAB_HOME``): every run the app or the CLI saved, with its metrics.

    Example:
        >>> import tempfile
        >>> store = open_store(tempfile.mkdtemp())
        >>> len(store), store.list()
        (0, [])
    """
    return RunStore(root)
