r"""One parameter system for everything a user can set: models, datasets, AVO fits, anomaly scenarios and scores.

A configurable thing declares its settings once, as a dataclass whose fields are made by :func:`param`. The
field's metadata (help text, range, choices, log scale, label, group) is all that is needed to

- validate and coerce a value (:func:`make_config`, :func:`check_config`): strings from the CLI (``--set k=v``)
  and numbers from Python alike, with one-sentence errors that name the setting;
- build a widget in the app (``pages/common.py`` reads :func:`params_of`) and an argparse option on the CLI
  (:func:`add_arguments`);
- name table columns and store the values with a run (:func:`config_dict`, :func:`config_to_json`).

Example:
    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Toy:
    ...     k: int = param(3, "number of components", range=(1, 10))
    ...     kind: str = param("full", "covariance shape", choices=("full", "diag"))
    >>> make_config(Toy, {"k": "5"})
    Toy(k=5, kind='full')
    >>> make_config(Toy, {"k": 50})
    Traceback (most recent call last):
    ...
    genlib.params.ParamError: k must be between 1 and 10; got 50
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import numbers
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from genlib.errors import UserError

__all__ = ["ParamError", "Param", "param", "params_of", "make_config", "check_config", "config_dict",
           "config_to_json", "parse_pairs", "add_arguments"]


class ParamError(UserError):
    """A setting with a bad name or value (the message names the setting and what it must be)."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_KIND_NAMES = {int: "an integer", float: "a number", str: "text", bool: "true or false"}


def param(default: Any, help: str, range: tuple[float, float] | None = None, choices: tuple[Any, ...] | None = None,
          log: bool = False, label: str | None = None, group: str | None = None, kind: type | None = None,
          item: type | None = None, widget: str | None = None, step: float | None = None,
          labels: dict[Any, str] | None = None, advanced: bool = False) -> Any:
    """A dataclass field with the metadata every consumer reads.

    Arguments:
        default: the default value; its type is the setting's type unless ``kind`` says otherwise.
        help: one or two sentences for the widget's tooltip and ``--help``.
        range: inclusive (low, high) for numbers (each item of a tuple setting).
        choices: the allowed values.
        log: numbers spanning decades (learning rates): widgets step multiplicatively.
        label: what the app calls the setting, in plain words with the unit (e.g. "learning rate",
            "noise (std, data units)"): every setting shown in the app has one (tests/test_words.py checks).
        group: a heading that gathers settings in the app (e.g. "optimiser").
        kind: the type when the default does not show it (``None`` defaults, tuples).
        item: for ``kind=tuple``, the type of each item (float or str).
        widget: a hint for the app when the default widget is not the best one: "slider" (a bounded number
            moved often, like λ), "radio" (a few choices side by side) or "toggle" (a switch for a yes/no setting).
        step: the increment of the app's +/− buttons (default: a hundredth of the range).
        labels: how the app shows each choice (e.g. {"loo": "leave-one-out mean"}); values stay the choices.
        advanced: a setting most users leave alone (seeds, sizes): a page may keep it out of its main controls.
    """
    meta: dict[str, Any] = {"help": help}
    for key, value in (("range", range), ("choices", choices), ("label", label), ("group", group),
                       ("kind", kind), ("item", item), ("widget", widget), ("step", step), ("labels", labels)):
        if value is not None:
            meta[key] = value
    if log:
        meta["log"] = True
    if advanced:
        meta["advanced"] = True
    return dataclasses.field(default=default, metadata=meta)


@dataclass(frozen=True)
class Param:
    """The read-only view of one setting, built from a field by :func:`params_of`."""

    name: str
    default: Any
    help: str = ""
    range: tuple[float, float] | None = None
    choices: tuple[Any, ...] | None = None
    log: bool = False
    label: str | None = None
    group: str | None = None
    kind: type | None = None   # None: the default's type
    item: type | None = None
    widget: str | None = None
    step: float | None = None
    labels: dict[Any, str] | None = None
    advanced: bool = False

    def __post_init__(self) -> None:
        if self.kind is None:
            object.__setattr__(self, "kind", type(self.default))

    @property
    def title(self) -> str:
        """What a widget or a table column calls the setting: its label, else the name as words (never a raw
        key such as ``grad_clip`` in front of a student)."""
        return self.label or self.name.replace("_", " ")

    def show(self, choice: Any) -> str:
        """How the app shows one of the choices."""
        return (self.labels or {}).get(choice, str(choice))

    def validate(self, value: Any, where: str = "") -> Any:
        """``value`` coerced to this setting's type and checked; :class:`ParamError` with one sentence if not.

        ``where`` prefixes the message (e.g. "dataset 'toy2d': ")."""
        name = f"{where}{self.name}"
        if value is None and self.default is None:
            return None
        if self.kind is tuple:
            out: Any = self._tuple(value, name)
        else:
            out = _coerce(self.kind, value, name)
            self._check_one(out, name)
        return out

    def _check_one(self, value: Any, name: str) -> None:
        if self.choices is not None and value not in self.choices:
            raise ParamError(f"{name} must be one of {', '.join(map(str, self.choices))}; got {value!r}")
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            if self.range is not None:
                lo, hi = self.range
                if not (lo <= value <= hi):  # also False for NaN
                    raise ParamError(f"{name} must be between {_num(lo)} and {_num(hi)}; got {_num(value)}")
            elif not math.isfinite(value):
                raise ParamError(f"{name} must be a finite number; got {value!r}")

    def _tuple(self, value: Any, name: str) -> tuple[Any, ...]:
        items = [v.strip() for v in value.replace(";", ",").split(",") if v.strip()] if isinstance(value, str) \
            else value
        try:
            seq = list(items)
        except TypeError:
            raise ParamError(f"{name} must be a list of values; got {value!r}") from None
        out = tuple(_coerce(self.item or str, v, name) for v in seq)
        for v in out:
            self._check_one(v, name)
        return out


def _num(v: float) -> str:
    """Numbers as people write them: 100000 not 1e+05, 0.0001 not 1.0e-04."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        return repr(v)
    if isinstance(v, numbers.Integral) or (math.isfinite(v) and float(v).is_integer() and abs(v) < 1e15):
        return str(int(v))
    return f"{v:g}"


def _coerce(kind: type, value: Any, name: str) -> Any:
    expected = _KIND_NAMES.get(kind, f"a {kind.__name__}")
    if isinstance(value, str):
        text = value.strip()
        if kind is str:
            return value
        if kind is bool:
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise ParamError(f"{name} must be true or false, got {value!r}")
        try:
            number = float(text)
        except ValueError:
            raise ParamError(f"{name} must be {expected}, got {value!r}") from None
        value = number
        if kind is int and not number.is_integer():
            raise ParamError(f"{name} must be {expected}, got {text!r}")
    if kind is bool:
        if isinstance(value, (bool, numbers.Integral)) and value in (0, 1):
            return bool(value)
        raise ParamError(f"{name} must be true or false, got {value!r}")
    if kind in (int, float):
        # Python callers (pages, notebooks) pass numbers: 3.0 is fine for an int, 2.5 or True is not.
        if isinstance(value, bool) or not isinstance(value, numbers.Real) \
                or (kind is int and not float(value).is_integer()):
            raise ParamError(f"{name} must be {expected}, got {value!r}")
        return kind(value)
    if kind is str:
        raise ParamError(f"{name} must be {expected}, got {value!r}")
    return value


def _param_of(f: dataclasses.Field) -> Param:
    meta = f.metadata
    default = f.default if f.default is not dataclasses.MISSING else None
    kind = meta.get("kind")
    return Param(f.name, default, meta.get("help", ""), meta.get("range"), meta.get("choices"),
                 bool(meta.get("log", False)), meta.get("label"), meta.get("group"), kind, meta.get("item"),
                 meta.get("widget"), meta.get("step"), meta.get("labels"), bool(meta.get("advanced", False)))


def params_of(config: Any) -> list[Param]:
    """The settings of a config dataclass (or instance), in declaration order."""
    return [_param_of(f) for f in dataclasses.fields(config)]


def make_config(config_cls: type, overrides: Mapping[str, Any] | None = None, *, where: str = "",
                error: type[Exception] = ParamError) -> Any:
    """A config from its defaults plus ``overrides`` (strings allowed, as from the CLI), every value checked.

    ``error`` is the exception type raised (a subclass of :class:`ParamError`'s base, e.g. ``ModelError``), so
    each caller keeps its own error type; ``where`` prefixes every message."""
    by_name = {p.name: p for p in params_of(config_cls)}
    values = {}
    for key, value in (overrides or {}).items():
        if key not in by_name:
            valid = ", ".join(by_name) or "none"
            raise error(f"{where}unknown setting {key!r}; valid settings: {valid}")
        try:
            values[key] = by_name[key].validate(value, where)
        except ParamError as exc:
            raise error(str(exc)) from None
    return config_cls(**values)


def check_config(config: Any, *, where: str = "", error: type[Exception] = ParamError) -> None:
    """Check every field of a config built directly (``AVOConfig(steps=0)``) against its metadata."""
    for p in params_of(config):
        value = getattr(config, p.name)
        try:
            checked = p.validate(value, where)
        except ParamError as exc:
            raise error(str(exc)) from None
        if checked != value or type(checked) is not type(value):
            object.__setattr__(config, p.name, checked)  # normalise, e.g. a list given for a tuple setting


def config_dict(config: Any) -> dict[str, Any]:
    """The values of a config as a plain dict (what a run stores)."""
    return dataclasses.asdict(config)


def config_to_json(config: Any) -> str:
    """The values as sorted JSON (what a checkpoint stores; read back with ``make_config(cls, json.loads(text))``)."""
    return json.dumps(config_dict(config), sort_keys=True)


def parse_pairs(pairs: Iterable[str], flag: str = "--set", error: type[Exception] = ParamError) -> dict[str, str]:
    """CLI ``["a=1", "b=x"]`` → ``{"a": "1", "b": "x"}``."""
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise error(f"{flag} expects key=value, got {pair!r}")
        key, value = pair.split("=", 1)
        out[key.strip()] = value
    return out


def add_arguments(parser: argparse.ArgumentParser, config_cls: type) -> None:
    """One ``--name`` option per setting (underscores become dashes), default and help from the metadata.

    Values stay strings (or the default) and are checked by :func:`make_config`, so the CLI and the app give the
    same messages for the same mistake."""
    for p in params_of(config_cls):
        extra = f" (one of {', '.join(map(str, p.choices))})" if p.choices else ""
        extra += f" [{_num(p.range[0])}..{_num(p.range[1])}]" if p.range else ""
        parser.add_argument(f"--{p.name.replace('_', '-')}", dest=p.name, default=argparse.SUPPRESS,
                            metavar=p.name.upper(), help=f"{p.help}{extra} (default {p.default})")
