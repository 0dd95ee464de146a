"""Anomaly detection with generative models (seed 003): a WGAN-GP learns the normal data, and a new object's
score is how badly the GAN can reconstruct it, AS = λ·G + (1 − λ)·C (residual and critic-feature distance).

- :mod:`.scenarios`: normal training rows + labelled test rows (digits with a class held out, finance with
  corrupted rows, Lorenz windows from a perturbed system, your own arrays/CSVs).
- :mod:`.reconstruct`: z* by latent optimisation (AnoGAN) or by an encoder trained after the GAN (f-AnoGAN).
- :mod:`.scoring`: per-row parts G and C (re-weighted by λ instantly), thresholds, ROC, precision@k.
- :mod:`.baselines`: isolation forest, GMM on PCA components, k-nearest-neighbour distance, VAE reconstruction error, and a comparison table.
- :mod:`.task`: all of it as one job of the engine (:class:`AnomalyScoringTask`), whose stored arrays rebuild the
  same result (:class:`AnomalyResult`, :func:`stored_result`) without recomputing.
- :mod:`.view`: what each gallery tile says (✓/✗ at the threshold, the score), as plain data.
"""
from __future__ import annotations

import importlib
from typing import Any

# Names → submodule, imported on first use (PEP 562): `python -m genlib --help` builds the `score` parser from
# .cli, and importing every submodule here would load torch and scikit-learn (~3 s) for a help text.
_WHERE = {
    **dict.fromkeys(("baseline_scores", "baseline_detectors", "comparison_table", "compare_detectors",
                     "gmm_pca_scores", "isolation_forest_scores", "knn_scores", "rank_mean", "vae_scores",
                     "VAE_BASELINE"), "baselines"),
    **dict.fromkeys(("ENCODER_FILE", "Encoder", "encode_reconstruct", "encode_units", "gan_networks", "load_encoder",
                     "optimise_latent", "optimise_units", "save_encoder", "train_encoder"), "reconstruct"),
    **dict.fromkeys(("AnomalyScoringTask", "AnomalyResult", "stored_result", "UPLOAD"), "task"),
    **dict.fromkeys(("SCENARIOS", "Scenario", "digits_holdout", "finance_injected", "from_arrays", "from_csv",
                     "load_scenario", "lorenz_perturbed", "scenario_dataset", "gan_transform"), "scenarios"),
    **dict.fromkeys(("DEFAULT_LAMBDA", "SCENARIO_SETTINGS", "ScoreSettings", "DigitsScenario", "FinanceScenario",
                     "LorenzScenario"), "settings"),
    **dict.fromkeys(("TileMark", "gallery_marks", "top_rows"), "view"),
    **dict.fromkeys(("ScenarioScores", "score_scenario", "ScoreParts", "Thresholds", "auroc", "combine", "parts_for",
                     "parts_from_reconstruction", "parts_and_reconstructions", "precision_at_k", "roc",
                     "score_units", "thresholds"), "scoring"),
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["TileMark", "gallery_marks", "top_rows", "AnomalyScoringTask", "AnomalyResult", "stored_result", "UPLOAD", "baseline_detectors",
           "compare_detectors", "VAE_BASELINE", "encode_units", "optimise_units", "score_units", "baseline_scores", "SCENARIO_SETTINGS", "ScoreSettings", "DigitsScenario", "FinanceScenario",
           "LorenzScenario", "ScenarioScores", "score_scenario", "comparison_table", "gmm_pca_scores", "knn_scores", "rank_mean", "isolation_forest_scores", "vae_scores", "ENCODER_FILE", "Encoder",
           "encode_reconstruct", "gan_networks", "load_encoder", "optimise_latent", "save_encoder", "train_encoder",
           "SCENARIOS", "Scenario", "digits_holdout", "finance_injected", "from_arrays", "from_csv", "load_scenario",
           "lorenz_perturbed", "scenario_dataset", "gan_transform", "DEFAULT_LAMBDA", "ScoreParts", "Thresholds", "auroc", "combine",
           "parts_for", "parts_from_reconstruction", "parts_and_reconstructions", "precision_at_k", "roc", "thresholds"]
