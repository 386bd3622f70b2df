"""Scenario files: the model of each world kind (``model``), reading, `--set` overrides and
one-line errors (``loading``), and the generated file reference (``reference``)."""

from goaldrift.experiments.scenarios.loading import (
    apply_set,
    load,
    parse_value,
    read_toml,
    set_path,
    validate,
    world_kind,
)
from goaldrift.experiments.scenarios.model import Scenario, scenario_model

__all__ = [
    "Scenario",
    "apply_set",
    "load",
    "parse_value",
    "read_toml",
    "scenario_model",
    "set_path",
    "validate",
    "world_kind",
]
