"""How close is a generated attractor to the real one? The two measures of dynamical-systems reconstruction.

Hess, Monfared, Brenner & Durstewitz (ICML 2023) and the papers before them score a model that free-runs by
comparing its long trajectories with real ones, never step by step (two chaotic trajectories part exponentially,
whatever the model):

* the **state-space divergence** D_stsp: Kullback–Leibler divergence between the real and the generated
  occupation of state space, both binned on one grid (the geometry of the attractor);
* the **power-spectrum distance** D_H: the Hellinger distance between the real and generated power spectra of
  each coordinate, smoothed and normalised, averaged over coordinates (the time scales of the dynamics).

Written by hand (numpy): each is a few lines, and what they compare is the lesson. Neither means much alone: read
them against the same measure between two independent sets of *real* trajectories of the same size (the floor),
which is where finite samples put it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

__all__ = ["ReconstructionSettings", "power_spectrum_distance", "state_space_divergence"]


@dataclass(frozen=True)
class ReconstructionSettings:
    """The settings both measures depend on (a floor must be computed with the same ones).

    bins: cells per coordinate of the state-space grid, which spans the real data's range widened by ``margin`` on
    each side (points outside are clipped into the edge cells). alpha: a pseudo-count added to every cell of both
    histograms, so that a cell the model never visits costs a finite amount (Laplace smoothing). smoothing: the
    standard deviation, in frequency bins, of the Gaussian that smooths each power spectrum. max_frequency: the
    fraction of the frequencies (from 0 to Nyquist) compared; the rest is numerical noise at small dt."""

    bins: int = 20
    margin: float = 0.1
    alpha: float = 1e-6
    smoothing: float = 20.0
    max_frequency: float = 0.2


def _batch(trajectories: np.ndarray) -> np.ndarray:
    """(steps, d) or (n, steps, d) → (n, steps, d) floats; any d (trajectory_codec.as_batch is for x, y, z only)."""
    t = np.asarray(trajectories, dtype=float)
    if t.ndim == 2:
        t = t[None]
    if t.ndim != 3:
        raise ValueError(f"trajectories must be (n, steps, d); got shape {t.shape}")
    return t


def state_space_divergence(real: np.ndarray, generated: np.ndarray,
                           settings: ReconstructionSettings = ReconstructionSettings()) -> float:
    """KL(p_real ‖ p_generated) of the two sets' occupation of a common grid over the real data's range. A set
    with non-finite states (a diverged trajectory) scores infinity."""
    real, generated = _batch(real), _batch(generated)
    real, generated = real.reshape(-1, real.shape[-1]), generated.reshape(-1, generated.shape[-1])
    if not np.all(np.isfinite(generated)):
        return float("inf")
    lo, hi = real.min(axis=0), real.max(axis=0)
    pad = settings.margin * (hi - lo)
    edges = [np.linspace(a - p, b + p, settings.bins + 1) for a, b, p in zip(lo, hi, pad)]

    def occupation(points: np.ndarray) -> np.ndarray:
        clipped = np.clip(points, [e[0] for e in edges], [e[-1] for e in edges])
        counts, _ = np.histogramdd(clipped, bins=edges)
        p = counts.ravel() / len(points) + settings.alpha
        return p / p.sum()

    p, q = occupation(real), occupation(generated)
    return float(np.sum(p * np.log(p / q)))


def _spectra(trajectories: np.ndarray, settings: ReconstructionSettings) -> np.ndarray:
    """Each coordinate's power spectrum, averaged over trajectories, smoothed, cut and normalised: (d, f)."""
    t = _batch(trajectories)
    t = (t - t.mean(axis=1, keepdims=True)) / np.maximum(t.std(axis=1, keepdims=True), 1e-12)
    power = (np.abs(np.fft.rfft(t, axis=1)) ** 2).mean(axis=0).T     # (d, frequencies)
    keep = max(2, int(round(settings.max_frequency * power.shape[1])))
    power = gaussian_filter1d(power[:, :keep], settings.smoothing, axis=1, mode="nearest")
    return power / power.sum(axis=1, keepdims=True)


def power_spectrum_distance(real: np.ndarray, generated: np.ndarray,
                            settings: ReconstructionSettings = ReconstructionSettings()) -> float:
    """Mean over coordinates of the Hellinger distance √(1 − Σ√(p q)) between the smoothed, normalised power
    spectra of the two sets (both sets must have trajectories of the same length). 0: the same time scales; 1:
    no frequency in common. A set with non-finite states scores 1."""
    real, generated = _batch(real), _batch(generated)
    if real.shape[1:] != generated.shape[1:]:
        raise ValueError(f"trajectories of different shapes: {real.shape[1:]} vs {generated.shape[1:]}")
    if not np.all(np.isfinite(generated)):
        return 1.0
    p, q = _spectra(real, settings), _spectra(generated, settings)
    return float(np.mean(np.sqrt(np.clip(1.0 - np.sum(np.sqrt(p * q), axis=1), 0.0, 1.0))))
