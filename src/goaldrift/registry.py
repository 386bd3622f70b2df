"""Registered world families and worlds, agent kinds, flag rules, split policies, and the
shipped scenarios and sweeps.

Third parties add world families through the ``goaldrift.families`` entry-point group (a
``worlds.family.Family``) and agent kinds through ``goaldrift.agents`` (an
``agents.variants.Variant``); ``goaldrift list`` shows them beside the built-in ones.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from goaldrift import plugins
from goaldrift.agents.flag_rules import FLAG_RULE_DOCS, SPLIT_DOCS
from goaldrift.errors import UnknownNameError
from goaldrift.worlds.base import WorldSpec
from goaldrift.worlds.family import Family


def _builtin() -> dict[str, Family]:
    from goaldrift.worlds.gridworlds.family import GRID_FAMILY
    from goaldrift.worlds.qa.family import QA_FAMILY

    return {"qa": QA_FAMILY, "gridworlds": GRID_FAMILY}


FAMILIES = plugins.Pieces("goaldrift.families", Family, _builtin)


def families() -> dict[str, Family]:
    """World families: built in, registered by installed packages or at run time."""
    return FAMILIES.all()


def add_family(fam: Family) -> Family:
    """Add a world family at run time (tests, notebooks)."""
    return FAMILIES.add(fam.name, fam)


def worlds() -> dict[str, WorldSpec]:
    """Every world kind (``world.kind``) with its concepts."""
    out: dict[str, WorldSpec] = {}
    for fam in families().values():
        out.update(fam.kinds())
    return out


def family(kind: str) -> Family:
    """The family of ``world.kind`` ``kind``."""
    for fam in families().values():
        if kind in fam.kinds():
            return fam
    raise UnknownNameError("world", kind, list(worlds()))


def agents() -> dict[str, str]:
    """Agent kinds (``agent.kind``) with one line each."""
    from goaldrift.agents.variants import variants

    return {name: v.description for name, v in variants().items()}


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


def compares() -> dict[str, Path]:
    """Shipped comparisons by name (scenarios/compare/, the files with a ``[[agents]]``
    table; the others there are their rows)."""
    return {
        n: p for n, p in _named(scenario_dir() / "compare").items() if "[[agents]]" in p.read_text()
    }


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


def resolve_compare(name_or_path: str) -> Path:
    return _resolve("comparison", name_or_path, compares())
