"""The settings of the anomaly workflow, declared once with genlib.params: the built-in scenarios' parameters and
the score's (λ, how z* is found). The page builds its widgets from them and ``genlib score`` its options, so both
check a value the same way. No torch here: the CLI's ``--help`` reads these defaults without loading it.
"""
from __future__ import annotations

from dataclasses import dataclass

from genlib.params import param

#: The seed's λ on the residual G in AS = λ·G + (1 − λ)·C (= Schlegl's 0.1 on the feature term).
DEFAULT_LAMBDA = 0.9


@dataclass
class DigitsScenario:
    """Digit ``k`` is the anomaly: train on the other nine classes, test on every held-out digit."""

    k: int = param(0, "the digit held out of training: its test images are the anomalies", choices=tuple(range(10)),
                   label="anomalous digit")
    seed: int = param(0, "seed of the digits' train/test split", range=(0, 2**32 - 1), advanced=True,
                      label="random seed")


@dataclass
class FinanceScenario:
    """A share of the finance test rows is corrupted: half scaled up, half with their columns reversed."""

    frac: float = param(0.1, "share of the test rows that are corrupted (the anomalies)", range=(0.05, 0.5),
                        label="share of corrupted test rows", step=0.05)
    scale: float = param(5.0, "factor applied to every value of half the corrupted rows (the 'extreme' rows)",
                         range=(1.5, 20.0), label="×scale of the extreme rows", step=1.0)
    seed: int = param(0, "seed of the data and of which rows are corrupted", range=(0, 2**32 - 1), advanced=True,
                      label="random seed")


@dataclass
class LorenzScenario:
    """Windows of Lorenz-63 at (σ, ρ) = (10, 28) are normal; windows of a perturbed system are anomalous."""

    perturbed: str = param("rho", "the system parameter changed for the anomalous windows",
                           choices=("rho", "sigma"), label="perturbed parameter",
                           labels={"rho": "ρ (Rayleigh number)", "sigma": "σ (Prandtl number)"})
    value: float | None = param(None, "its value in the perturbed system (default: ρ = 35 or σ = 14)", kind=float,
                                range=(0.1, 200.0), advanced=True, label="value in the perturbed system")
    frac: float = param(0.2, "share of anomalous windows among the test rows", range=(0.05, 0.5),
                        label="share of anomalous test windows", step=0.05)
    n_traj: int = param(32, "trajectories the windows are cut from, on each side", range=(4, 500), advanced=True,
                        label="trajectories on each side")
    seed: int = param(0, "seed of the trajectories and of the split", range=(0, 2**32 - 1), advanced=True,
                      label="random seed")


#: Built-in scenario name → its settings.
SCENARIO_SETTINGS: dict[str, type] = {"digits": DigitsScenario, "finance": FinanceScenario,
                                      "lorenz_windows": LorenzScenario}


@dataclass
class ScoreSettings:
    """How the GAN anomaly score of a row is computed (seed 003; Schlegl et al. 2017, f-AnoGAN)."""

    lam: float = param(DEFAULT_LAMBDA, "λ in AS = λ·G + (1−λ)·C: the weight of the residual G (0.9 = Schlegl's "
                       "setting)", range=(0.0, 1.0), label="λ (weight of the residual G)", widget="slider")
    method: str = param("encoder", "find z* by an encoder trained after the GAN (f-AnoGAN: one pass; the default, "
                        "the better score on digits) or by latent optimisation (AnoGAN: Adam on z for every row)",
                        choices=("encoder", "optimise"),
                        label="find z*", widget="radio")
    iters: int = param(200, "Adam steps on z per row (method optimise)", range=(0, 5000),
                       label="iterations per row", step=25)
    encoder_steps: int = param(1000, "training steps of a new encoder (method encoder)", range=(1, 100_000),
                               label="encoder training steps", step=100)
    seed: int = param(0, "seed of the latent starts and of the encoder's training", range=(0, 2**32 - 1),
                      label="random seed")
