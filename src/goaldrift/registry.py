"""Registered worlds, agents, flag rules, split policies and shipped scenarios.

Third parties add worlds through the ``goaldrift.worlds`` entry-point group (a ``WorldSpec``);
``goaldrift list`` shows them beside the built-in ones.
"""

from __future__ import annotations

import re
from importlib import metadata, resources
from pathlib import Path

from goaldrift.agents.flag_rules import FLAG_RULE_DOCS, SPLIT_DOCS
from goaldrift.errors import UnknownNameError
from goaldrift.worlds.base import WorldSpec
from goaldrift.worlds.qa import QA_WORLD

AGENTS = {
    "flagged": "world-model agent with a goal flag over concepts, awareness and relations",
    "qlearning": "tabular Q-learning on the observed reward (gridworlds)",
}


def worlds() -> dict[str, WorldSpec]:
    """Built-in worlds and those registered by installed packages."""
    from goaldrift.worlds.gridworlds.concepts import WORLDS as GRIDWORLDS

    found = {"qa": QA_WORLD, **GRIDWORLDS}
    for ep in metadata.entry_points(group="goaldrift.worlds"):
        if ep.name in found:
            continue
        try:
            spec = ep.load()
        except Exception:  # a broken plugin must not break goaldrift
            continue
        if isinstance(spec, WorldSpec):
            found[ep.name] = spec
    return found


def flag_rules() -> dict[str, str]:
    return dict(FLAG_RULE_DOCS)


def split_policies() -> dict[str, str]:
    return dict(SPLIT_DOCS)


def scenario_dir() -> Path:
    return Path(str(resources.files("goaldrift") / "scenarios"))


def _named(d: Path) -> dict[str, Path]:
    """TOML files of a folder by name (the stem without its ordering prefix), in the order
    of the prefixes."""
    if not d.is_dir():
        return {}
    return {re.sub(r"^\d+-", "", p.stem): p for p in sorted(d.glob("*.toml"), key=_order)}


def scenarios() -> dict[str, Path]:
    """Shipped scenarios by name."""
    return _named(scenario_dir())


def sweeps() -> dict[str, Path]:
    """Shipped sweeps by name (scenarios/sweeps/)."""
    return _named(scenario_dir() / "sweeps")


def _order(p: Path) -> tuple[int, str]:
    """Files by their numeric prefix (so 10- follows 9-), then by name."""
    m = re.match(r"^(\d+)-", p.name)
    return (int(m.group(1)) if m else 1 << 30, p.name)


def _resolve(kind: str, name_or_path: str, shipped: dict[str, Path]) -> Path:
    """A path to an existing file, or the path of the shipped file of that name."""
    p = Path(name_or_path)
    if p.is_file():
        return p
    if name_or_path in shipped:
        return shipped[name_or_path]
    if p.suffix == ".toml" or "/" in name_or_path:
        return p  # let the reader report the missing file
    raise UnknownNameError(kind, name_or_path, list(shipped))


def resolve_scenario(name_or_path: str) -> Path:
    return _resolve("scenario", name_or_path, scenarios())


def resolve_sweep(name_or_path: str) -> Path:
    return _resolve("sweep", name_or_path, sweeps())
