r"""Seed 003's WGAN anomaly score and the numbers used to judge any anomaly score.

    AS = λ·G + (1 − λ)·C
    G  = RMS over features of (x − x̂)               (residual: in pixels for images, else in model space)
    C  = RMS over units of (f(x) − f(x̂))            (f = the critic's last hidden layer)

Where the residual is measured (:func:`residual_in_data_units`): a table's columns have different units, so G is
taken after the run's transform, where every column has a comparable spread. An image's pixels share one unit, and
the transform (rank-Gauss per pixel, for digits) blows up nearly blank border pixels, so there G is taken in pixels:
on digits with one class held out, that raised the encoder score's mean AUROC from 0.91 to 0.94 (RESULTS.md).

with x̂ = G(z*) the best reconstruction (:mod:`genlib.anomaly.reconstruct`). Note the convention: the seed's λ
weights the RESIDUAL, so Schlegl et al.'s "λ = 0.1 on the feature term" is the seed's λ = 0.9 (the default).

Why keep G and C apart (:class:`ScoreParts`): finding z* is the expensive part; with both parts stored per row,
changing λ is one multiply-add, so a slider re-scores instantly without retraining or re-optimising.
Higher scores mean more anomalous, everywhere in this package.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

import numpy as np
import torch
from sklearn.metrics import roc_auc_score, roc_curve

from genlib.models.fitted import FittedModel

from .reconstruct import Encoder, encode_reconstruct, encode_units, gan_networks, optimise_latent, optimise_units

__all__ = ["ScenarioScores", "score_scenario", "score_units", "ScoreParts", "combine", "parts_from_reconstruction", "parts_for", "residual_in_data_units", "Thresholds", "thresholds", "roc",
           "auroc", "precision_at_k", "DEFAULT_LAMBDA"]

from .settings import DEFAULT_LAMBDA


@dataclass
class ScoreParts:
    """Per-row residual G and critic-feature distance C (both ≥ 0, shape (n,)); combine with any λ."""

    G: np.ndarray
    C: np.ndarray

    def __post_init__(self) -> None:
        self.G = np.asarray(self.G, dtype=np.float64).reshape(-1)
        self.C = np.asarray(self.C, dtype=np.float64).reshape(-1)
        if self.G.shape != self.C.shape:
            raise ValueError(f"G and C must have one value per row each, got {self.G.shape} and {self.C.shape}")

    def __len__(self) -> int:
        return len(self.G)

    def score(self, lam: float = DEFAULT_LAMBDA) -> np.ndarray:
        return combine(self, lam)


def combine(parts: ScoreParts, lam: float = DEFAULT_LAMBDA) -> np.ndarray:
    """AS = λ·G + (1 − λ)·C per row; λ in [0, 1] (λ = 1: pure residual, λ = 0: pure feature distance)."""
    lam = float(lam)
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"λ must be between 0 and 1, got {lam}")
    return lam * parts.G + (1.0 - lam) * parts.C


def parts_from_reconstruction(fitted: FittedModel, x_model: np.ndarray, x_hat_model: np.ndarray,
                              batch: int = 1024) -> ScoreParts:
    """G and C for rows x and their reconstructions x̂, both already in MODEL space (f is the critic's features,
    evaluated on a private frozen copy). Identical x and x̂ give G = C = 0 exactly."""
    _, f, _ = gan_networks(fitted)
    x = np.asarray(x_model, dtype=np.float64)
    xh = np.asarray(x_hat_model, dtype=np.float64)
    if x.shape != xh.shape:
        raise ValueError(f"x and x̂ must have the same shape, got {x.shape} and {xh.shape}")
    g_part = np.sqrt(np.mean((x - xh).reshape(len(x), -1) ** 2, axis=1))
    c_part = np.empty(len(x))
    device = fitted.model.device
    with torch.no_grad():
        for s in range(0, len(x), batch):
            a = torch.as_tensor(x[s:s + batch], dtype=torch.float32, device=device)
            b = torch.as_tensor(xh[s:s + batch], dtype=torch.float32, device=device)
            diff = (f(a) - f(b)).flatten(1).double()
            c_part[s:s + batch] = diff.pow(2).mean(1).sqrt().cpu().numpy()
    return ScoreParts(g_part, c_part)


def residual_in_data_units(fitted: FittedModel) -> bool:
    """True for image runs (pixels share one unit: G is measured in pixels), False for tables (model space)."""
    return fitted.model.image_shape is not None


def parts_for(fitted: FittedModel, x: np.ndarray, method: Literal["encoder", "optimise"] = "optimise",
              encoder: Encoder | None = None, iters: int = 200, lam_feature: float = 0.1, lr: float = 0.05,
              batch: int = 256, seed: int = 0) -> ScoreParts:
    """G and C for rows ``x`` (DATA units): reconstruct by an encoder (one pass) or by latent optimisation."""
    return parts_and_reconstructions(fitted, x, method, encoder, iters, lam_feature, lr, batch, seed)[0]


def parts_and_reconstructions(fitted: FittedModel, x: np.ndarray,
                              method: Literal["encoder", "optimise"] = "optimise", encoder: Encoder | None = None,
                              iters: int = 200, lam_feature: float = 0.1, lr: float = 0.05, batch: int = 256,
                              seed: int = 0, progress: Callable[[int], None] | None = None
                              ) -> tuple[ScoreParts, np.ndarray]:
    """:func:`parts_for`, plus each row's best reconstruction x̂ in DATA units (what a gallery shows).
    ``progress(1)`` after each unit of work (see :func:`score_units`)."""
    x_model = fitted.transform.forward(np.asarray(x, dtype=np.float64))
    if method == "encoder":
        if encoder is None:
            raise ValueError("method 'encoder' needs a trained encoder (genlib.anomaly.train_encoder)")
        _, x_hat = encode_reconstruct(fitted, encoder, x, progress=progress)
    elif method == "optimise":
        _, x_hat = optimise_latent(fitted, x, iters=iters, lr=lr, lam_feature=lam_feature, batch=batch, seed=seed,
                                   progress=progress)
    else:
        raise ValueError(f"method must be 'encoder' or 'optimise', got {method!r}")
    x_hat = np.asarray(x_hat, dtype=np.float64)
    parts = parts_from_reconstruction(fitted, x_model, x_hat)
    x_hat_data = fitted.transform.inverse(x_hat)
    if residual_in_data_units(fitted):
        diff = (np.asarray(x, dtype=np.float64) - x_hat_data).reshape(len(x_hat_data), -1)
        parts = ScoreParts(np.sqrt(np.mean(diff ** 2, axis=1)), parts.C)
    return parts, x_hat_data


@dataclass
class ScenarioScores:
    """A GAN's score of a scenario's test rows, kept as parts so any λ re-scores instantly, beside the parts of
    held-out NORMAL rows that set the alarm thresholds, and each test row's best reconstruction (data units)."""

    test: ScoreParts
    normal: ScoreParts
    reconstructions: np.ndarray

    def scores(self, lam: float = DEFAULT_LAMBDA) -> np.ndarray:
        return combine(self.test, lam)

    def thresholds(self, lam: float = DEFAULT_LAMBDA) -> "Thresholds":
        return thresholds(combine(self.normal, lam))


def score_scenario(fitted: FittedModel, test_x: np.ndarray, normal_holdout: np.ndarray,
                   method: Literal["encoder", "optimise"] = "optimise", encoder: Encoder | None = None,
                   iters: int = 200, seed: int = 0, progress: Callable[[int], None] | None = None
                   ) -> ScenarioScores:
    """Score ``test_x`` and the held-out normal rows the same way.

    The thresholds must come from normal rows the GAN never trained on: training rows are rebuilt better than new
    normal ones, so thresholds set on them would flag too many normal test rows. ``progress(1)`` is called
    :func:`score_units` times in all (a job reports it, and may stop from inside it)."""
    parts, recon = parts_and_reconstructions(fitted, test_x, method, encoder, iters, seed=seed, progress=progress)
    normal = parts_and_reconstructions(fitted, normal_holdout, method, encoder, iters, seed=seed,
                                       progress=progress)[0]
    return ScenarioScores(parts, normal, recon)


def score_units(n_test: int, n_normal: int, method: Literal["encoder", "optimise"] = "optimise",
                iters: int = 200) -> int:
    """How many ``progress`` calls :func:`score_scenario` makes (its step count in a job)."""
    if method == "encoder":
        return encode_units(n_test) + encode_units(n_normal)
    return optimise_units(n_test, iters) + optimise_units(n_normal, iters)


@dataclass
class Thresholds:
    """Alarm levels from scores of NORMAL rows: mean + 1σ (lenient) and mean + 3σ (strict)."""

    mean: float
    std: float
    one_sigma: float
    three_sigma: float


def thresholds(scores_normal: np.ndarray) -> Thresholds:
    """mean + kσ of the scores of normal rows (k = 1, 3): a row scoring above is flagged."""
    s = np.asarray(scores_normal, dtype=np.float64).reshape(-1)
    if len(s) < 2:
        raise ValueError("need at least 2 normal scores to set a threshold")
    m, sd = float(np.mean(s)), float(np.std(s, ddof=1))
    return Thresholds(m, sd, m + sd, m + 3 * sd)


def _check_labels(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y).astype(np.int64).reshape(-1)
    s = np.asarray(s, dtype=np.float64).reshape(-1)
    if y.shape != s.shape:
        raise ValueError(f"one label per score needed, got {y.shape} and {s.shape}")
    if len(np.unique(y)) != 2:
        raise ValueError("ROC needs both normal (0) and anomalous (1) rows")
    return y, s


def roc(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(fpr, tpr, thresholds, AUROC) of scores ``s`` against labels ``y`` (1 = anomaly), via scikit-learn."""
    y, s = _check_labels(y, s)
    fpr, tpr, thr = roc_curve(y, s)
    return fpr, tpr, thr, float(roc_auc_score(y, s))


def auroc(y: np.ndarray, s: np.ndarray) -> float:
    """Area under the ROC curve: 0.5 = chance, 1 = every anomaly scores above every normal row."""
    y, s = _check_labels(y, s)
    return float(roc_auc_score(y, s))


def precision_at_k(y: np.ndarray, s: np.ndarray, k: int | None = None) -> float:
    """Share of true anomalies among the ``k`` highest scores (default k = number of anomalies: R-precision).
    Ties at the cut are broken by a stable sort on the order of the rows."""
    y = np.asarray(y).astype(np.int64).reshape(-1)
    s = np.asarray(s, dtype=np.float64).reshape(-1)
    k = int(y.sum()) if k is None else int(k)
    if k < 1 or k > len(y):
        raise ValueError(f"k must be between 1 and {len(y)}, got {k}")
    top = np.argsort(-s, kind="stable")[:k]
    return float(y[top].mean())
