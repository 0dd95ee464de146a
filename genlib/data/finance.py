r"""`finance`: a synthetic stand-in for a small heavy-tailed financial data set (720 rows × 4 features).

Why synthetic: the original table (four non-negative features centred near zero, with rare extreme
values, and f2/f3 the most correlated pair) cannot be shipped, so we generate data with the same
character from a process simple enough to write on one line.

Generating process (a Gaussian copula with heavy-tailed positive marginals), for each row i = 1..720:

    z_i ~ N(0, R)                                   correlated standard normals, z_i in R^4
    u_ij = Phi(z_ij)                                 uniform(0, 1) marginals, dependence kept (the copula)
    x_ij = s_j * G_xi^{-1}(u_ij)                     heavy-tailed, non-negative marginals

where Phi is the standard normal CDF and G_xi is the generalized Pareto CDF with location 0, scale 1 and
shape xi = 0.4:

    G_xi(x) = 1 - (1 + xi * x)^(-1/xi),   so   G_xi^{-1}(u) = ((1 - u)^(-xi) - 1) / xi   (x >= 0).

The density is largest at 0 (most values sit near zero) and the tail decays like x^(-2.5), the same
tail as a Student-t with 2.5 degrees of freedom: the variance exists, the kurtosis does not, so a
sample of 720 shows a few values 20-50× the median. The per-column scales are
s = (0.01, 0.02, 0.03, 0.05), and the correlation matrix of the copula is

          f1    f2    f3    f4
    R = [[1.00, 0.30, 0.25, 0.20],   f1
         [0.30, 1.00, 0.85, 0.35],   f2
         [0.25, 0.85, 1.00, 0.40],   f3
         [0.20, 0.35, 0.40, 1.00]]   f4

Because the marginal transforms are increasing, Kendall's tau of each pair equals that of the normals,
tau = (2 / pi) * arcsin(R_jk): about 0.64 for (f2, f3) and 0.13-0.26 for every other pair.

The 720 rows are shuffled with the same seeded generator and split 576 train / 144 held-out test.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from genlib.data.base import Dataset
from genlib.params import param
from genlib.data.csv_loader import split_rows

N_ROWS = 720
TEST_FRACTION = 0.2
COLUMNS = ["f1", "f2", "f3", "f4"]
XI = 0.4  # generalized Pareto shape: tail index 1/xi = 2.5
SCALES = np.array([0.01, 0.02, 0.03, 0.05])
CORR = np.array(
    [
        [1.00, 0.30, 0.25, 0.20],
        [0.30, 1.00, 0.85, 0.35],
        [0.25, 0.85, 1.00, 0.40],
        [0.20, 0.35, 0.40, 1.00],
    ]
)

@dataclass
class FinanceParams:
    seed: int = param(0, "random seed of the generator and of the train/test split", range=(0, 2**32 - 1),
                      label="random seed")


def sample_finance(n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw n rows from the copula process in the module docstring (shape (n, 4), all >= 0)."""
    z = rng.standard_normal((n, len(COLUMNS))) @ np.linalg.cholesky(CORR).T
    # G^{-1}(Phi(z)) computed as isf(sf(z)): exact in the upper tail, where Phi(z) would round to 1.
    return SCALES * stats.genpareto.isf(stats.norm.sf(z), XI)


def load_finance(seed: int = 0) -> Dataset:
    """720 × 4 heavy-tailed, non-negative synthetic 'financial' table; f2 and f3 are the most dependent pair."""
    rng = np.random.default_rng(seed)
    x = sample_finance(N_ROWS, rng)
    train, test, _, _ = split_rows(x, rng, TEST_FRACTION)
    return Dataset(
        name="finance",
        description=(
            "Synthetic stand-in for a heavy-tailed financial table: 720 rows × 4 non-negative features "
            "clustered near zero with rare extreme values; f2 and f3 are the most correlated pair."
        ),
        columns=list(COLUMNS),
        train=train,
        test=test,
        params={"seed": int(seed)},
    )


# --- finance_tail: the same marginals, dependence with joint crashes -----------------------------------------
#: Share of rows drawn in the crisis regime, and the dependence of that regime (Clayton θ: Kendall τ = θ / (θ + 2)).
CRISIS_SHARE, CRISIS_THETA = 0.5, 4.0


@dataclass
class FinanceTailParams:
    seed: int = param(0, "random seed of the generator and of the train/test split", range=(0, 2**32 - 1),
                      label="random seed")
    crisis: float = param(CRISIS_SHARE, "share of rows from the crisis regime, where all four move together into "
                          "their extremes", range=(0.0, 1.0), label="crisis share π")
    theta: float = param(CRISIS_THETA, "dependence of the crisis regime (survival Clayton copula θ; Kendall τ = "
                         "θ / (θ + 2))", range=(0.05, 50.0), log=True, label="crisis dependence θ")


def sample_finance_tail(n: int, rng: np.random.Generator, crisis: float = CRISIS_SHARE,
                        theta: float = CRISIS_THETA) -> np.ndarray:
    r"""n rows of ``finance_tail``: a two-regime copula with the marginals of ``finance``.

    Calm rows (share 1 − π) come from ``finance``'s Gaussian copula. Crisis rows (share π) come from a survival
    Clayton copula, drawn by Marshall–Olkin's frailty algorithm:

        V ~ Gamma(1/θ, 1),  E_j ~ Exp(1),  u_j = 1 − (1 + E_j / V)^(−1/θ)

    A shared frailty V makes all four large together: the crisis copula's upper-tail dependence is 2^(−1/θ)
    (0.84 at θ = 4), its lower-tail dependence 0. Both regimes have uniform marginals, so the mixture is a copula
    and x_j = s_j G_ξ^{-1}(u_j) keeps ``finance``'s generalized-Pareto marginals exactly. The mixture's
    upper-tail dependence is π·2^(−1/θ) (0.42 with the defaults) and its lower-tail dependence 0: joint extremes
    (the crash side of these loss-like features) are dependent, joint quiet days are not, which no Gaussian copula
    can reproduce (both its tail dependences are 0)."""
    d = len(COLUMNS)
    calm = stats.norm.sf(rng.standard_normal((n, d)) @ np.linalg.cholesky(CORR).T)   # 1 − u: the isf below
    v = rng.gamma(1.0 / theta, 1.0, size=(n, 1))
    e = rng.exponential(1.0, size=(n, d))
    tail = (1.0 + e / v) ** (-1.0 / theta)                                          # 1 − u of the crisis rows
    in_crisis = rng.random((n, 1)) < crisis
    return SCALES * stats.genpareto.isf(np.where(in_crisis, tail, calm), XI)


def load_finance_tail(seed: int = 0, crisis: float = CRISIS_SHARE, theta: float = CRISIS_THETA) -> Dataset:
    """720 × 4 like ``finance`` (same marginals, same split), with tail dependence: the harder table."""
    rng = np.random.default_rng(seed)
    x = sample_finance_tail(N_ROWS, rng, crisis, theta)
    train, test, _, _ = split_rows(x, rng, TEST_FRACTION)
    return Dataset(
        name="finance_tail",
        description=(
            "Heavy-tailed financial table with joint crashes: finance's marginals, but half the rows from a crisis "
            "regime where all four features reach their extremes together (upper-tail dependence, none in the "
            "lower tail)."
        ),
        columns=list(COLUMNS),
        train=train,
        test=test,
        params={"seed": int(seed), "crisis": float(crisis), "theta": float(theta)},
    )


def tail_dependence(x: np.ndarray, q: float = 0.95, upper: bool = True) -> float:
    """Empirical tail-dependence coefficient, averaged over column pairs: P(U_k > q | U_j > q) on the rows' ranks
    (upper), or P(U_k < 1 − q | U_j < 1 − q) (lower). 0 for independent extremes, 1 for extremes always shared."""
    u = stats.rankdata(np.asarray(x, dtype=float), axis=0) / (len(x) + 1)
    if not upper:
        u = 1.0 - u
    hit = u > q
    values = [np.mean(hit[hit[:, j], k]) for j in range(u.shape[1]) for k in range(u.shape[1])
              if j != k and hit[:, j].any()]
    return float(np.mean(values)) if values else float("nan")
