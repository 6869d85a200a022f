"""Each option declared once (training.options): the command line, the form, the run header,
validation, presets, claim matching and docs/training-options.md all follow the declarations."""

import argparse
import dataclasses
import math

import pytest

from training.cli import build_parser
from training.config import TrainConfig
from training.errors import InputError
from training.objectives import METHOD_OPTIONS, METHODS
from training.options import DOC, declared, default_of, documented_table, flag, markdown


def subcommand(name: str) -> argparse.ArgumentParser:
    return build_parser()._subparsers._group_actions[0].choices[name]


def arguments(parser) -> dict:
    return {a.dest: a for a in parser._actions}


def test_every_option_is_declared_with_a_help_a_label_and_a_group():
    fields = [f.name for f in dataclasses.fields(TrainConfig)]
    assert list(declared(TrainConfig)) == fields
    for name, option in declared(TrainConfig).items():
        assert option.help and option.label and option.group, name


def test_the_options_doc_matches_the_declarations():
    """Fails when an option is added, changed or removed without `python -m training.options`."""
    assert documented_table(DOC.read_text()) == markdown(TrainConfig, METHODS)


@pytest.mark.parametrize("command", ["train", "sweep"])
def test_the_command_line_is_derived_from_the_declarations(command):
    given = arguments(subcommand(command))
    for name, option in declared(TrainConfig).items():
        if command == "sweep" and name == "seed":
            continue  # a sweep's --seed is --seeds, several of them
        assert name in given, name
        action = given[name]
        assert flag(name) in action.option_strings
        if option.flag:
            assert action.help == option.full_help()
            assert action.default == default_of(TrainConfig, name)
            if option.allowed():
                assert tuple(action.choices) == option.allowed()


def test_the_form_the_run_header_and_claims_read_the_declarations():
    from ui.inspect.picker import SETUP_WORDS
    from ui.new_run import FORM_DEFAULTS, METHOD_FIELDS
    from ui.jobs import FORM_LABELS

    options = declared(TrainConfig)
    assert FORM_LABELS == {flag(name): option.label for name, option in options.items()}
    assert set(METHOD_FIELDS) == set(METHOD_OPTIONS)
    assert METHOD_FIELDS["regime"].kind == options["regime"].allowed()
    assert METHOD_FIELDS["arcface_margin"].kind is float and METHOD_FIELDS["magnet_k"].kind is int
    assert all(METHOD_FIELDS[o].help.startswith(options[o].help) for o in METHOD_OPTIONS)
    assert {o: FORM_DEFAULTS[o] for o in ("margin", "alpha", "proxy_alpha")} == {"margin": 1.0, "alpha": 1.0,
                                                                                 "proxy_alpha": 32.0}
    assert all(SETUP_WORDS[o] == options[o].short for o in METHOD_OPTIONS)
    from explorer import claim_runs  # a config without an option reads as the option's declared default

    assert all(claim_runs._value({}, o) == claim_runs._value({o: default_of(TrainConfig, o)}, o)
               for o in claim_runs.EXPERIMENT)
    assert set(claim_runs.EXPERIMENT) <= set(options)


def test_every_method_reads_declared_options_only():
    assert set(METHOD_OPTIONS) <= set(declared(TrainConfig))
    assert all(set(m.options) <= set(METHOD_OPTIONS) for m in METHODS.values())


@pytest.mark.parametrize("options, message", [
    ({"margin": 0.0}, "--margin must be positive, got 0.0"),
    ({"margin": math.nan}, "--margin must be positive, got nan"),
    ({"lr": math.inf}, "--lr must be a finite number, got inf"),
    ({"image_size": 8}, "--image-size must be at least 16, got 8"),
    ({"test_fraction": 1.0}, "--test-fraction must be between 0 and 1, got 1.0"),
    ({"epochs": 200_000}, "--epochs must be at most 100000, got 200000"),
    ({"weight_fn": -1.0, "loss": "contrastive-3way"}, "--weight-fn must be 0 or more, got -1.0"),
    ({"loss": "arcface", "arcface_margin": 120.0}, "--arcface-margin must be at most 90, got 120.0"),
    ({"loss": "hinge"}, "unknown --loss 'hinge'; choose one of: contrastive, triplet"),
    ({"classes_per_batch": 1, "loss": "triplet", "miner": "batch-hard"}, "--classes-per-batch must be at least 2"),
])
def test_validation_follows_the_declared_limits(options, message):
    with pytest.raises(InputError) as caught:
        TrainConfig(**options).validate()
    assert str(caught.value).startswith(message)


def test_a_preset_naming_an_undeclared_option_fails_on_import():
    from training.presets import Preset, _check_known

    with pytest.raises(ValueError, match="magin"):
        _check_known({"typo": Preset("a typo", {"magin": 2.0})})
