"""genlib.params: the one parameter system (metadata → validation → widgets → CLI) every configurable thing uses."""
from __future__ import annotations

import argparse
import dataclasses

import pytest

from genlib.anomaly.settings import SCENARIO_SETTINGS, ScoreSettings
from genlib.avo import AVOConfig, SimulatorError, fit_avo
from genlib.data import DATASETS
from genlib.models import REGISTRY
from genlib.models.flow import FlowOptimiser
from genlib.params import Param, ParamError, add_arguments, check_config, make_config, param, params_of

CONFIGS = ([cls.Config for cls in REGISTRY.values()] + [info.Params for info in DATASETS.values()]
           + [AVOConfig, ScoreSettings] + list(SCENARIO_SETTINGS.values()))


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.__name__)
def test_every_setting_is_declared_with_help_and_a_valid_default(config) -> None:
    for p in params_of(config):
        assert p.help, f"{config.__name__}.{p.name} has no help text"
        assert p.validate(p.default) == p.default  # every default passes its own checks
    make_config(config)  # the defaults build


def test_datasets_declare_their_parameters_the_same_way() -> None:
    for info in DATASETS.values():
        assert dataclasses.is_dataclass(info.Params)
        assert all(isinstance(p, Param) for p in info.params) and [p.name for p in info.params] == [
            f.name for f in dataclasses.fields(info.Params)]


def test_flows_share_one_declaration_of_their_optimiser_settings() -> None:
    shared = [f.name for f in dataclasses.fields(FlowOptimiser)]
    for name in ("realnvp", "maf", "nsf"):
        config = REGISTRY[name].Config
        assert issubclass(config, FlowOptimiser)
        grouped = [p.name for p in params_of(config) if p.group == "optimiser"]
        assert grouped == shared


@dataclasses.dataclass
class Demo:
    n: int = param(3, "a count", range=(1, 10))
    rate: float = param(0.1, "a rate", range=(0.0, 1.0))
    on: bool = param(True, "a switch")
    kind: str = param("a", "a choice", choices=("a", "b"))
    theta: tuple[float, ...] | None = param(None, "a vector", kind=tuple, item=float, range=(-5.0, 5.0))
    free: float = param(1.0, "an unbounded number")


def test_strings_are_coerced_and_checked() -> None:
    c = make_config(Demo, {"n": "4", "rate": "0.5", "on": "no", "kind": "b", "theta": "1, -2.5"})
    assert (c.n, c.rate, c.on, c.kind, c.theta) == (4, 0.5, False, "b", (1.0, -2.5))


@pytest.mark.parametrize("overrides, message", [
    ({"n": "0"}, "n must be between 1 and 10; got 0"),
    ({"n": "2.5"}, "n must be an integer, got '2.5'"),
    ({"rate": "nan"}, "rate must be between 0 and 1; got nan"),
    ({"free": "inf"}, "free must be a finite number"),
    ({"on": "maybe"}, "on must be true or false"),
    ({"kind": "c"}, "kind must be one of a, b; got 'c'"),
    ({"theta": "1, 9"}, "theta must be between -5 and 5; got 9"),
    ({"nope": 1}, "unknown setting 'nope'; valid settings: n, rate, on, kind, theta, free"),
])
def test_bad_values_name_the_setting_in_one_sentence(overrides, message) -> None:
    with pytest.raises(ParamError) as info:
        make_config(Demo, overrides)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_check_config_catches_a_config_built_directly_and_normalises_tuples() -> None:
    c = Demo(theta=[1, 2])  # type: ignore[arg-type]
    check_config(c)
    assert c.theta == (1.0, 2.0)
    with pytest.raises(ParamError, match="n must be between"):
        check_config(Demo(n=0))
    with pytest.raises(SimulatorError, match="batch must be between 2 and"):
        fit_avo(AVOConfig(batch=1, steps=1))


def test_cli_options_come_from_the_same_metadata() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser, ScoreSettings)
    args = parser.parse_args(["--lam", "0.5", "--encoder-steps", "20"])
    assert vars(args) == {"lam": "0.5", "encoder_steps": "20"}  # only what was given; checked by make_config
    settings = make_config(ScoreSettings, vars(args))
    assert (settings.lam, settings.encoder_steps, settings.method) == (0.5, 20, "encoder")
    help_text = parser.format_help()
    assert "--iters" in help_text and "encoder, optimise" in help_text and "[0..1]" in help_text
