"""Simulator fitting by adversarial variational optimisation (seed 002), with likelihood-free baselines."""
from .baselines import ABCSettings, BaselineResult, abc_rejection, direct_fit, summary_statistics, weinberg_loglik_grid
from .fit import AVOConfig, AVOHistory, AVOResult, AVORun, fit_avo, make_observed, marginal_samples
from .proposal import GaussianProposal, analytic_score, score_function_surrogate
from .simulators import SIMULATORS, Simulator, SimulatorError, get_simulator, weinberg_afb, weinberg_density

__all__ = ["ABCSettings", "BaselineResult", "abc_rejection", "direct_fit", "summary_statistics", "weinberg_loglik_grid", "AVOConfig", "AVOHistory", "AVOResult", "AVORun", "fit_avo", "make_observed", "marginal_samples",
           "GaussianProposal", "analytic_score", "score_function_surrogate", "SIMULATORS", "Simulator",
           "SimulatorError", "get_simulator", "weinberg_afb", "weinberg_density"]
