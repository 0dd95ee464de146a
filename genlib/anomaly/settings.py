"""The anomaly score's settings, in a module without torch so the CLI's ``--help`` can show their defaults fast."""
from __future__ import annotations

#: The seed's λ on the residual G in AS = λ·G + (1 − λ)·C (= Schlegl's 0.1 on the feature term).
DEFAULT_LAMBDA = 0.9
