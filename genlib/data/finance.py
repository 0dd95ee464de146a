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
