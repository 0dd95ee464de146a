"""One view of "an encoder" for the latent-space explorer: a trained autoencoder-type model or a PCA baseline.

Why one view: seed 003 compares the latent space of an autoencoder with PCA's, and every later step (embedding,
clusters, the latent GMM, interpolation) only needs *rows → codes* and *codes → rows in data units*. Both
:class:`ModelEncoder` (any :class:`~genlib.models.FittedModel` whose model has the ``encode`` capability: vae,
cvae, conv_vae, wae, vae_lars, ae) and :class:`PCAEncoder` provide exactly that, so pages never branch on the kind.

Models work in model space (the fitted transform's coordinates); the functions here go through that transform in
both directions, so callers only ever see data in its own units.

Example:
    >>> from genlib.data import load_dataset
    >>> digits = load_dataset("digits")
    >>> enc = fit_pca(digits.train, n_components=8)
    >>> z = latent_codes(enc, digits.test)           # (n, 8)
    >>> x_back = decode(enc, z)                      # (n, d), data units
    >>> z.shape, x_back.shape
    ((360, 8), (360, 64))
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Union, runtime_checkable

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

from ..data.base import DataError
from ..models.base import Capability, ModelError
from ..models.fitted import FittedModel

__all__ = ["Encoder", "ModelEncoder", "PCAEncoder", "as_encoder", "has_encoder", "fit_pca", "latent_codes",
           "decode", "reconstruct", "reconstruction_error", "DEFAULT_BATCH"]

#: Rows per forward pass: bounds memory on large inputs (a 64-wide MLP on 1e5 rows would otherwise hold
#: every hidden activation at once).
DEFAULT_BATCH = 4096


@runtime_checkable
class Encoder(Protocol):
    """rows ↔ codes, in data units on the outside. ``conditional`` encoders need one class label per row."""

    name: str
    latent_dim: int
    conditional: bool
    n_classes: int

    def encode(self, x: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray: ...

    def decode(self, z: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray: ...


# ----------------------------------------------------------------------------- helpers

def _as_rows(x: np.ndarray, width: int | None, what: str) -> np.ndarray:
    """A finite float64 (n, width) array, or a :class:`DataError` naming the problem."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise DataError(f"{what} must be a 2-D array (rows × columns), got shape {arr.shape}")
    if width is not None and arr.shape[1] != width:
        raise DataError(f"{what} must have {width} columns, got {arr.shape[1]}")
    if not np.all(np.isfinite(arr)):
        bad = int((~np.isfinite(arr)).any(axis=1).sum())
        raise DataError(f"{what} contain NaN or infinite values ({bad} rows)")
    return arr


def _check_labels(labels: np.ndarray | None, n: int, enc: Encoder) -> np.ndarray | None:
    if not enc.conditional:
        return None
    if labels is None:
        raise DataError(f"{enc.name} is conditional: pass one class label per row")
    lab = np.asarray(labels).reshape(-1)
    if lab.size == 1 and n != 1:
        lab = np.full(n, lab.item())   # one label for every row (e.g. decoding a path for one class)
    if lab.size != n:
        raise DataError(f"{enc.name} needs one label per row: got {lab.size} labels for {n} rows")
    if n and (lab.min() < 0 or lab.max() >= enc.n_classes):
        raise DataError(f"labels must be between 0 and {enc.n_classes - 1}")
    return lab.astype(np.int64)


# ----------------------------------------------------------------------------- encoders

@dataclass
class ModelEncoder:
    """A fitted autoencoder-type model seen as an :class:`Encoder`: codes are the posterior means μ(x)
    (``encode_mean``: the point a latent explorer plots, no sampling noise), decoding is the decoder mean f(z)
    mapped back through the fitted transform's inverse (as :meth:`FittedModel.sample` does)."""

    fitted: FittedModel
    batch_size: int = DEFAULT_BATCH

    def __post_init__(self) -> None:
        if not has_encoder(self.fitted):
            raise ModelError(f"{self.fitted.name} has no encoder; use a VAE-family model or the PCA baseline")

    @property
    def name(self) -> str:
        return self.fitted.name

    @property
    def latent_dim(self) -> int:
        return int(self.fitted.model.config.latent_dim)

    @property
    def conditional(self) -> bool:
        return bool(getattr(self.fitted.model, "conditional", False))

    @property
    def n_classes(self) -> int:
        return int(self.fitted.model.n_classes)

    @property
    def n_features(self) -> int:
        return int(self.fitted.model.n_features)

    def _labels_tensor(self, lab: np.ndarray | None) -> torch.Tensor | None:
        return None if lab is None else torch.as_tensor(lab, device=self.fitted.model.device)

    def encode(self, x: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        arr = _as_rows(x, self.n_features, "rows to encode")
        lab = _check_labels(labels, len(arr), self)
        return self.fitted.encode(arr, lab, self.batch_size)

    def decode(self, z: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        codes = _as_rows(z, self.latent_dim, "codes")
        lab = _check_labels(labels, len(codes), self)
        model, out = self.fitted.model, []
        with model.evaluating(), torch.no_grad():
            for s in range(0, len(codes), self.batch_size):
                zb = torch.as_tensor(codes[s:s + self.batch_size], dtype=torch.float32, device=model.device)
                lb = None if lab is None else self._labels_tensor(lab[s:s + self.batch_size])
                out.append(model.decode(zb, lb).detach().cpu().double().numpy())
        x_model = np.concatenate(out) if out else np.zeros((0, self.n_features))
        if not np.all(np.isfinite(x_model)):
            raise FloatingPointError(f"{self.name} decoded to non-finite values; the model has diverged")
        return self.fitted.transform.inverse(x_model)


@dataclass
class PCAEncoder:
    """Seed 003's linear baseline: PCA on standardised columns (so a column's unit does not decide its weight).
    With every component kept, decode(encode(x)) gives x back up to round-off."""

    pca: PCA
    scaler: StandardScaler
    name: str = "pca"
    conditional: bool = False
    n_classes: int = 0
    columns: list[str] = field(default_factory=list)

    @property
    def latent_dim(self) -> int:
        return int(self.pca.n_components_)

    @property
    def explained_variance_ratio(self) -> np.ndarray:
        """Share of the standardised data's variance each component carries (for a scree plot)."""
        return np.asarray(self.pca.explained_variance_ratio_, dtype=np.float64)

    def encode(self, x: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        arr = _as_rows(x, int(self.scaler.n_features_in_), "rows to encode")
        return np.asarray(self.pca.transform(self.scaler.transform(arr)), dtype=np.float64)

    def decode(self, z: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        codes = _as_rows(z, self.latent_dim, "codes")
        return np.asarray(self.scaler.inverse_transform(self.pca.inverse_transform(codes)), dtype=np.float64)


AnyEncoder = Union[Encoder, FittedModel]


def has_encoder(fitted: FittedModel) -> bool:
    """True for models a latent explorer can use: an encoder and a decoder."""
    return fitted.model.has(Capability.ENCODE) and fitted.model.has(Capability.DECODE)


def as_encoder(obj: AnyEncoder) -> Encoder:
    """Wrap a :class:`FittedModel` as a :class:`ModelEncoder`; encoders pass through unchanged."""
    if isinstance(obj, FittedModel):
        return ModelEncoder(obj)
    if isinstance(obj, Encoder):
        return obj
    raise TypeError(f"expected a FittedModel or an Encoder, got {type(obj).__name__}")


def fit_pca(x: np.ndarray, n_components: int | None = None, columns: list[str] | None = None,
            seed: int = 0) -> PCAEncoder:
    """Fit the PCA baseline on standardised ``x`` (fit on the train split only, like every transform).

    ``n_components`` None keeps min(n, d) components (exact reconstruction); the full SVD is used, so the
    result does not depend on ``seed`` except for sklearn's randomised solver on very wide data."""
    arr = _as_rows(x, None, "rows to fit PCA on")
    limit = min(arr.shape)
    k = limit if n_components is None else int(n_components)
    if not 1 <= k <= limit:
        raise DataError(f"n_components must be between 1 and {limit} (min of rows and columns), got {k}")
    if len(arr) < 2:
        raise DataError("PCA needs at least 2 rows")
    scaler = StandardScaler().fit(arr)   # zero-variance columns keep scale 1 (digits' always-blank pixels)
    pca = PCA(n_components=k, svd_solver="full", random_state=seed).fit(scaler.transform(arr))
    return PCAEncoder(pca, scaler, columns=list(columns or []))


# ----------------------------------------------------------------------------- the functions pages call

def latent_codes(encoder: AnyEncoder, x: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
    """Codes (n, latent_dim) of rows in data units; conditional models need one label per row."""
    return as_encoder(encoder).encode(x, labels)


def decode(encoder: AnyEncoder, z: np.ndarray, labels: np.ndarray | None = None,
           clip: tuple[float | np.ndarray, float | np.ndarray] | None = None) -> np.ndarray:
    """Rows in data units (n, d) for codes z. ``clip=(lo, hi)`` bounds the result (e.g. (0, 16) for digits'
    pixels): a decoder is not bounded, and images are drawn on a fixed grey scale. A single label decodes
    every row of a conditional model for that class."""
    out = as_encoder(encoder).decode(z, labels)
    return out if clip is None else np.clip(out, clip[0], clip[1])


def reconstruct(encoder: AnyEncoder, x: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
    """decode(encode(x)): what the model keeps of each row."""
    enc = as_encoder(encoder)
    return enc.decode(enc.encode(x, labels), labels)


def reconstruction_error(encoder: AnyEncoder, x: np.ndarray, labels: np.ndarray | None = None,
                         scale: np.ndarray | None = None) -> np.ndarray:
    """Mean squared reconstruction error per row, shape (n,), in data units (or per column divided by
    ``scale``, e.g. the training std, so wide-ranged columns do not dominate). High values mark rows the
    encoder cannot represent: a simple anomaly score next to the latent GMM's log-likelihood."""
    arr = _as_rows(x, None, "rows")
    diff = reconstruct(encoder, arr, labels) - arr
    if scale is not None:
        diff = diff / np.maximum(np.asarray(scale, dtype=np.float64), 1e-12)
    return np.mean(diff ** 2, axis=1)
