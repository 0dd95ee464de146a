"""The model protocol: one surface for every generative model, neural or classical.

A model is chosen by name from ``REGISTRY``. Its hyperparameters are a dataclass (``Config``) declared with
:func:`genlib.params.param`, whose metadata is enough for the UI to build widgets and for the CLI to accept
``--set key=value`` (:func:`model_config`), so no page hard-codes a model's knobs.

Models work in *model space*: the standardised / log-transformed coordinates produced by
:mod:`genlib.transforms`. :class:`genlib.models.fitted.FittedModel` wraps a model with its transform so
users only ever see data in its own units.
"""
from __future__ import annotations

import contextlib
import dataclasses
import enum
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Iterator, Type, TypeVar

import torch

from genlib.errors import UserError
from genlib.limits import check_memory
from genlib.params import make_config

class Capability(str, enum.Enum):
    """What a model can do, beyond sampling; each model lists the ones it honestly has, and callers test
    ``model.has(Capability.ENCODE)`` (never ``hasattr`` or strings). Registration checks that a model declaring a
    capability implements the methods it promises (see :data:`REQUIRED_METHODS`)."""

    SAMPLE = "sample"
    LOG_PROB = "log_prob"
    ELBO = "elbo"
    ENCODE = "encode"
    DECODE = "decode"
    CONDITION = "condition"
    ADVERSARIAL = "adversarial"
    SEQUENCE = "sequence"

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]


_DESCRIPTIONS = {
    Capability.SAMPLE: "draws new samples in one pass",
    Capability.LOG_PROB: "exact log-likelihood",
    Capability.ELBO: "lower bound on the log-likelihood (ELBO)",
    Capability.ENCODE: "maps data to a latent code",
    Capability.DECODE: "maps a latent code to data",
    Capability.CONDITION: "generates for a given class label",
    Capability.ADVERSARIAL: "a generator trained against a discriminator (critic) that can score data; such a "
                            "model carries ``generator``, ``discriminator`` (with ``features``), "
                            "``sampling_generator`` and ``loss_kind``",
    Capability.SEQUENCE: "learns a dynamical system from trajectories (rows in time order, one label per "
                         "trajectory) and generates new trajectories by running on its own",
}

#: The methods (or properties) a capability promises; :func:`register` refuses a model that lacks one.
REQUIRED_METHODS: dict[Capability, tuple[str, ...]] = {
    Capability.LOG_PROB: ("log_prob",),
    Capability.ELBO: ("iwae_log_likelihood",),
    Capability.ENCODE: ("encode_mean",),
    Capability.DECODE: ("decode",),
    Capability.ADVERSARIAL: ("sampling_generator", "critic"),
    Capability.SEQUENCE: ("generate_trajectories",),
}


class ModelError(UserError):
    """A user-facing problem with a model choice or configuration."""


class NonFiniteLossError(RuntimeError):
    """Training produced NaN/inf; the message names the loss that went non-finite and the step."""


class GenerativeModel(ABC):
    """Base class. Subclasses set the class attributes and implement what their capabilities promise.

    Arguments:
        config: an instance of ``Config``.
        n_features: number of data columns d.
        device: where tensors live (``torch.device("cpu")`` or ``"cuda"``).
        n_classes: number of labels for conditional models (0 = unconditional).
        image_shape: (H, W) or (C, H, W) when each row is a flattened image (conv models need it).
    """

    name: ClassVar[str]
    label: ClassVar[str]
    family: ClassVar[str]
    Config: ClassVar[type]
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.SAMPLE})
    #: True: trained by repeated ``train_step`` calls; False: ``fit`` once on all data (classical models).
    iterative: ClassVar[bool] = True
    #: What data the model needs: pages only offer image models for image datasets, conditional ones for
    #: labelled datasets.
    needs_images: ClassVar[bool] = False
    needs_labels: ClassVar[bool] = False
    #: True for sequence models: they train on whole trajectories in time order (``Dataset.is_series``) only.
    needs_series: ClassVar[bool] = False
    #: Default number of optimiser steps for iterative models.
    default_steps: ClassVar[int] = 2000
    #: The model's defining formula (LaTeX, shown with ``st.latex``) and a few sentences a student can follow.
    formula: ClassVar[str] = ""
    summary: ClassVar[str] = ""

    def __init__(self, config: Any, n_features: int, device: torch.device | str = "cpu", n_classes: int = 0,
                 image_shape: tuple[int, ...] | None = None):
        self.config = config
        self.n_features = int(n_features)
        self.device = torch.device(device)
        self.n_classes = int(n_classes)
        self.image_shape = None if image_shape is None else tuple(int(s) for s in image_shape)
        # Each model owns its RNG: jobs train concurrently in threads, and torch's global RNG is shared,
        # so a per-model generator is what makes a seeded run reproducible.
        self.rng = torch.Generator(device=self.device)
        # Set by the training loop before each step, for schedules (e.g. a GAN's decaying instance noise).
        self.steps_done = 0
        self.total_steps = 1

    @classmethod
    def memory_estimate(cls, n_features: int, config: Any = None, batch_size: int = 256, n_rows: int = 0) -> int:
        """Rough bytes that training this model on ``n_features`` columns needs, known before building it (for
        :func:`check_model_memory`). The default is for neural models: parameters × 4 bytes × 4 (weights,
        gradients, Adam's two moments) + activations batch × widths × 4 bytes × 3 (forward and backward), with the
        network read from the config's ``*width``/``hidden``, ``*depth``, ``n_layers`` and ``latent_dim`` fields:
        ``n_layers`` blocks (2 when absent: encoder/decoder, generator/discriminator), each with its input and
        output layers touching every column (≈ 3 · d · width weights) and ``depth`` width × width hidden layers.
        Models that store d × d matrices (classical densities) override it."""
        c = config if config is not None else model_config(cls)
        ints = {f.name: getattr(c, f.name) for f in dataclasses.fields(c)
                if isinstance(getattr(c, f.name), int) and not isinstance(getattr(c, f.name), bool)}
        width = max([v for k, v in ints.items() if "width" in k or k == "hidden"], default=128)
        depth = max([v for k, v in ints.items() if "depth" in k], default=2)
        blocks = max(int(ints.get("n_layers", 2)), 2)
        d = int(n_features) + int(ints.get("latent_dim", 0))
        params = blocks * (3 * d * width + depth * width * width)
        activations = int(batch_size) * blocks * (2 * d + depth * width) * 4 * 3
        return int(params * 4 * 4 + activations)

    def randn(self, *shape: int) -> torch.Tensor:
        """Standard normal noise from the model's own generator."""
        return torch.randn(*shape, generator=self.rng, device=self.device)

    def randn_like(self, t: torch.Tensor) -> torch.Tensor:
        return torch.randn(t.shape, generator=self.rng, device=t.device, dtype=t.dtype)

    # --- training -------------------------------------------------------------------------------------
    def fit(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, float]:
        """One-call fit (classical models). Neural models train through :meth:`train_step` instead."""
        raise NotImplementedError(f"{self.name} is trained step by step")

    def training_rows(self, x: torch.Tensor, labels: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """What an iterative model's batches are drawn from, given the training rows (model space) and their labels.
        The rows themselves for most models; a sequence model trained by gradient steps turns its trajectories
        (``labels``: which trajectory each row is on) into windows of consecutive states, since a batch of rows
        drawn at random would lose their order."""
        return x, labels

    def train_step(self, batch: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, float]:
        """One optimiser step on a batch in model space; returns the named losses as floats."""
        raise NotImplementedError(f"{self.name} is fitted in one call")

    # --- inference ------------------------------------------------------------------------------------
    @abstractmethod
    def sample(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        """n samples in model space, shape (n, d), drawn with ``self.rng``."""

    def has(self, capability: Capability) -> bool:
        """True when the model can do ``capability`` (what pages test before offering a view)."""
        return capability in self.capabilities

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log-density in model space, shape (n,). Only with :attr:`Capability.LOG_PROB`."""
        raise NotImplementedError(f"{self.name} has no exact log-likelihood")

    def iwae_log_likelihood(self, x: torch.Tensor, k: int = 64, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Importance-weighted lower bound on log p(x) with k samples, shape (n,). Only with
        :attr:`Capability.ELBO`."""
        raise NotImplementedError(f"{self.name} has no likelihood bound")

    def encode_mean(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The latent code of each row (the posterior mean for VAEs), shape (n, latent_dim). Only with
        :attr:`Capability.ENCODE`."""
        raise NotImplementedError(f"{self.name} has no encoder")

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Rows (model space) from latent codes. Only with :attr:`Capability.DECODE`."""
        raise NotImplementedError(f"{self.name} has no decoder")

    def generate_trajectories(self, n: int, steps: int) -> torch.Tensor:
        """n new trajectories of ``steps`` states, shape (n, steps, d), in model space, each from a start of the
        model's own choosing. Only with :attr:`Capability.SEQUENCE`."""
        raise NotImplementedError(f"{self.name} does not generate trajectories")

    # --- persistence ----------------------------------------------------------------------------------
    @abstractmethod
    def state_dict(self) -> dict[str, torch.Tensor]:
        """Everything needed to rebuild the trained model, as tensors (safe to load with weights_only)."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore from :meth:`state_dict`."""

    def optimizer_states(self) -> dict[str, dict[str, Any]]:
        """Every optimiser the model holds (its attributes), by attribute name: saved with a mid-training checkpoint
        so that a continued run keeps Adam's moments instead of restarting them."""
        return {name: opt.state_dict() for name, opt in vars(self).items() if isinstance(opt, torch.optim.Optimizer)}

    def load_optimizer_states(self, states: dict[str, dict[str, Any]]) -> None:
        for name, state in states.items():
            opt = getattr(self, name, None)
            if isinstance(opt, torch.optim.Optimizer):
                opt.load_state_dict(state)

    def train(self, mode: bool = True) -> "GenerativeModel":
        """Switch dropout/batch-norm layers; a no-op for models without them."""
        for module in self._modules():
            module.train(mode)
        return self

    @contextlib.contextmanager
    def evaluating(self) -> Iterator["GenerativeModel"]:
        """Eval mode for a block (sampling, scoring, encoding), then each network's own previous mode: a caller
        between two training steps leaves training as it found it, and a finished model is not forced back."""
        modules = self._modules()
        before = [m.training for m in modules]
        for m in modules:
            m.train(False)
        try:
            yield self
        finally:
            for m, mode in zip(modules, before):
                m.train(mode)

    def _modules(self) -> list[torch.nn.Module]:
        return [v for v in vars(self).values() if isinstance(v, torch.nn.Module)]


REGISTRY: dict[str, Type[GenerativeModel]] = {}
M = TypeVar("M", bound=Type[GenerativeModel])


def register(cls: M) -> M:
    """Class decorator adding a model to :data:`REGISTRY` under ``cls.name``, after checking that it implements
    what its capabilities promise (a flag a page trusts must not be a lie)."""
    if cls.name in REGISTRY:
        raise ValueError(f"model name {cls.name!r} registered twice")
    for cap in cls.capabilities:
        if not isinstance(cap, Capability):
            raise TypeError(f"{cls.__name__}.capabilities must hold Capability members, got {cap!r}")
        for method in REQUIRED_METHODS.get(cap, ()):
            if getattr(cls, method, None) is getattr(GenerativeModel, method, None):
                raise TypeError(f"{cls.__name__} declares {cap.value} but does not implement {method}")
    REGISTRY[cls.name] = cls
    return cls


def get_model_class(name: str) -> Type[GenerativeModel]:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ModelError(f"unknown model {name!r}; choose one of: {', '.join(sorted(REGISTRY))}") from None


# --- configs: one parameter system (genlib.params) --------------------------------------------------------

def model_config(model: str | Type[GenerativeModel], overrides: dict[str, Any] | None = None) -> Any:
    """The model's Config from its defaults plus ``overrides`` (strings allowed, as from ``--set``), every value
    checked against the field metadata; a bad name or value raises :class:`ModelError` naming the setting."""
    cls = get_model_class(model) if isinstance(model, str) else model
    return make_config(cls.Config, overrides, error=ModelError)


def check_model_memory(model: str | Type[GenerativeModel], n_features: int, config: Any = None,
                       batch_size: int = 256, n_rows: int = 0) -> int:
    """The model's :meth:`GenerativeModel.memory_estimate` (bytes), after refusing it with a
    :class:`genlib.limits.LimitError` when it exceeds the model-memory limit (half of the memory available, or
    ``$GENLAB_MAX_MODEL_MB``). Call it before building a model: where a training spec is turned into a model."""
    cls = get_model_class(model) if isinstance(model, str) else model
    estimate = cls.memory_estimate(int(n_features), config, batch_size=int(batch_size), n_rows=int(n_rows))
    check_memory(estimate, f"model '{cls.name}' on {int(n_features):,} columns")
    return estimate


def models_with(capability: Capability) -> list[str]:
    """Names of the registered models that have ``capability`` (e.g. every model with an encoder)."""
    return sorted(name for name, cls in REGISTRY.items() if capability in cls.capabilities)


def require(model: GenerativeModel, capability: Capability, purpose: str) -> None:
    """:class:`ModelError` naming the models that would do, when ``model`` lacks ``capability``."""
    if not model.has(capability):
        raise ModelError(f"{purpose} needs a model with the capability '{capability.value}' "
                         f"({', '.join(models_with(capability))}); got {model.name}")


def compatible_models(n_classes: int = 0, image_shape: tuple[int, ...] | None = None, series: bool = False
                      ) -> list[str]:
    """Names of the models that can train on a dataset with these labels / image shape; sequence models only
    when the dataset is a time series (``series``)."""
    return sorted(name for name, cls in REGISTRY.items()
                  if (image_shape or not cls.needs_images) and (n_classes or not cls.needs_labels)
                  and (series or not cls.needs_series))


def capability_table() -> list[dict[str, Any]]:
    """One row per registered model: the seed-003 table (sample / exact log-likelihood / ELBO / encoder…)."""
    rows = []
    for name, cls in sorted(REGISTRY.items(), key=lambda kv: (kv[1].family, kv[0])):
        caps = cls.capabilities
        rows.append({
            "model": name,
            "description": cls.label,
            "family": cls.family,
            "sample": Capability.SAMPLE in caps,
            "exact log-likelihood": Capability.LOG_PROB in caps,
            "ELBO": Capability.ELBO in caps,
            "encoder": Capability.ENCODE in caps,
            "conditional": Capability.CONDITION in caps,
        })
    return rows
