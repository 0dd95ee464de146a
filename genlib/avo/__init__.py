"""Simulator fitting by adversarial variational optimisation (seed 002), with likelihood-free baselines. A fit runs
as a job of the engine (:class:`AVOTask`) and is stored as a run of kind ``avo``."""
from .baselines import ABCSettings, BaselineResult, abc_rejection, direct_fit, summary_statistics, weinberg_loglik_grid
from .fit import AVOConfig, AVOHistory, AVOResult, fit_avo, make_observed, marginal_samples, run_simulator
from .proposal import GaussianProposal, analytic_score, score_function_surrogate
from .simulators import SIMULATORS, Simulator, SimulatorError, get_simulator, weinberg_afb, weinberg_density
from .task import OBSERVED_KEPT, AVOTask, avo_result_from_run

__all__ = ["ABCSettings", "BaselineResult", "abc_rejection", "direct_fit", "summary_statistics",
           "weinberg_loglik_grid", "AVOConfig", "AVOHistory", "AVOResult", "AVOTask", "OBSERVED_KEPT",
           "avo_result_from_run", "fit_avo", "make_observed", "marginal_samples", "run_simulator",
           "GaussianProposal", "analytic_score", "score_function_surrogate", "SIMULATORS", "Simulator",
           "SimulatorError", "get_simulator", "weinberg_afb", "weinberg_density"]
