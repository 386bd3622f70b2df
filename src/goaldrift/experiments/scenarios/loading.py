"""Scenario files: TOML read, `--set a.b.c=VALUE` overrides applied, and validation into the
model of the file's ``world.kind`` (``model.scenario_model``), with every error turned into one
line naming the key path and what was expected."""

from __future__ import annotations

import difflib
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from goaldrift.agents.config import SCHEDULE_TAGS
from goaldrift.errors import ConfigError
from goaldrift.experiments.scenarios.model import Scenario, scenario_model

MAX_DEPTH = 32  # nesting of TOML tables and arrays a scenario file may have


def _loc(loc: tuple[int | str, ...]) -> str:
    parts = [str(x) for x in loc if not (isinstance(x, str) and x in SCHEDULE_TAGS)]
    return ".".join(parts) or "scenario"


def _model_at(model: type[BaseModel], parts: list[str]) -> type[BaseModel] | None:
    """The model of the table at a key path (list items by index), or None."""
    for part in parts:
        if part.isdigit():
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        ann = field.annotation
        args = getattr(ann, "__args__", ())
        inner = args[0] if getattr(ann, "__origin__", None) is list and args else ann
        if not (isinstance(inner, type) and issubclass(inner, BaseModel)):
            return None
        model = inner
    return model


def _unknown_key(key: str, kind: str) -> ConfigError:
    """An unknown key: owned by another world, a concept of another world, or a near miss."""
    from goaldrift.registry import family, worlds

    parts = key.split(".")
    name = parts[-1]
    fam = family(kind)
    owner = fam.world_key_owner(name) if parts[0] in ("world", "phases") else None
    if owner is not None and owner != kind:
        return ConfigError(
            key, f"left out when world.kind is '{kind}' (it applies to '{owner}')", show_got=False
        )
    where = ".".join(parts[:-1])
    concepts = worlds()[kind].concept_names
    if where in ("agent.flag", "agent.awareness", "world.costs"):
        return ConfigError(key, f"a concept of {kind} ({', '.join(concepts)})", name, show_got=True)
    for other in worlds():  # a key of another family's worlds
        if other != kind and family(other) is not fam:
            m = _model_at(scenario_model(other), parts[:-1])
            if m is not None and name in m.model_fields:
                return ConfigError(
                    key, f"left out when world.kind is '{kind}' (it applies to '{other}')",
                    show_got=False,
                )  # fmt: skip
    model = _model_at(scenario_model(kind), parts[:-1])
    known = list(model.model_fields) if model is not None else []
    near = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean '{'.'.join([*parts[:-1], near[0]])}'?" if near else ""
    return ConfigError(key, f"a known key (it is not one{hint})", show_got=False)


def _first_error(exc: ValidationError, kind: str = "qa") -> ConfigError:
    """Turn pydantic's first error into one line naming the key path and what was expected."""
    err = exc.errors()[0]
    key = _loc(err["loc"])
    etype = err["type"]
    if etype == "extra_forbidden":
        return _unknown_key(key, kind)
    if etype == "missing":
        return ConfigError(key, "given (it is required)", show_got=False)
    msg = str(err["msg"])
    got = err.get("input")
    if etype == "union_tag_invalid":  # e.g. agent.awareness.X.schedule
        ctx = err.get("ctx") or {}
        tag = str(ctx.get("discriminator", "")).strip("'")
        value = got.get(tag) if isinstance(got, dict) else ctx.get("tag")
        return ConfigError(f"{key}.{tag}", f"one of {ctx.get('expected_tags', '')}", value)
    if msg.startswith("Value error, "):
        # our own validators say "subkey|expected|got" ("-": nothing to show)
        sub, expected, value = msg.removeprefix("Value error, ").split("|")
        if key == "scenario" and sub.split(".")[0].isdigit():
            sub = f"phases.{sub}"
        key = sub if key == "scenario" else f"{key}.{sub}"
        if value == "-":
            return ConfigError(key, expected, show_got=False)
        return ConfigError(key, expected, _parse_literal(value))
    expected = msg.removeprefix("Input should be ").removeprefix("Value should be ")
    expected = expected[:1].lower() + expected[1:]
    if isinstance(got, dict | list):
        return ConfigError(key, expected, show_got=False)
    return ConfigError(key, expected, got)


def _parse_literal(text: str) -> Any:
    if text in ("True", "False"):
        return text == "True"
    try:
        return float(text) if "." in text else int(text)
    except ValueError:
        return text


def parse_value(text: str) -> Any:
    """Parse a `--set` value as a TOML value; a bare word is a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_set(data: dict[str, Any], assignment: str) -> None:
    """Apply one `a.b.c=VALUE` override to raw scenario data (lists take integer indices)."""
    if "=" not in assignment:
        raise ConfigError("--set", "of the form key.path=VALUE", assignment)
    path, _, raw = assignment.partition("=")
    try:
        value = parse_value(raw.strip())
    except RecursionError:
        raise ConfigError(
            path.strip(), f"a value nested at most {MAX_DEPTH - 1} deep", show_got=False
        ) from None
    set_path(data, path.strip(), value, "--set")


def set_path(data: dict[str, Any], path: str, value: Any, option: str = "--set") -> None:
    """Set ``value`` at the dotted ``path`` of raw scenario data, creating tables on the way;
    list elements are addressed by integer index. ``option`` names the source in errors."""
    keys = path.split(".")
    if not all(keys):
        raise ConfigError(option, "a dotted key path such as world.diversity", path)
    node: Any = data
    for i, k in enumerate(keys[:-1]):
        where = ".".join(keys[: i + 1])
        if isinstance(node, list):
            if not k.isdigit() or int(k) >= len(node):
                raise ConfigError(where, f"an index below {len(node)}", k)
            node = node[int(k)]
        elif isinstance(node, dict):
            node = node.setdefault(k, {})
        else:
            raise ConfigError(where, "a table", node)
        if not isinstance(node, dict | list):
            raise ConfigError(where, "a table", node)
    last = keys[-1]
    if isinstance(node, list):
        if not last.isdigit() or int(last) >= len(node):
            raise ConfigError(path, f"an index below {len(node)}", last)
        node[int(last)] = value
    else:
        node[last] = value


def world_kind(data: dict[str, Any]) -> str:
    """The `world.kind` of raw scenario data (`qa` when unset), checked against the known ids."""
    from goaldrift.registry import worlds

    world = data.get("world")
    kind = world.get("kind", "qa") if isinstance(world, dict) else "qa"
    known = list(worlds())
    if not isinstance(kind, str) or kind not in known:
        near = difflib.get_close_matches(str(kind), known, n=1)
        hint = f"; did you mean '{near[0]}'?" if near else ""
        raise ConfigError("world.kind", "one of " + ", ".join(f"'{k}'" for k in known) + hint,
                          kind)  # fmt: skip
    return kind


def _depth(v: Any, limit: int = MAX_DEPTH) -> int:
    """How deep tables and arrays nest in ``v`` (stops counting past ``limit``)."""
    if limit <= 0 or not isinstance(v, dict | list):
        return 0
    items = v.values() if isinstance(v, dict) else v
    return 1 + max((_depth(x, limit - 1) for x in items), default=0)


def validate(data: dict[str, Any]) -> Scenario:
    """Validate raw scenario data into the model of its `world.kind`."""
    if _depth(data) >= MAX_DEPTH:
        raise ConfigError("scenario", f"tables nested at most {MAX_DEPTH - 1} deep", show_got=False)
    kind = world_kind(data)
    model = scenario_model(kind)
    try:
        sc: Scenario = model.model_validate(data)
    except ValidationError as exc:
        raise _first_error(exc, kind) from None
    from goaldrift.registry import family

    family(kind).check(sc)  # settings that would change nothing (``no_ops``)
    return sc


def read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            "SCENARIO", "an existing file or shipped scenario name", str(path)
        ) from None
    except (IsADirectoryError, UnicodeDecodeError, PermissionError) as exc:
        raise ConfigError("SCENARIO", "a readable UTF-8 TOML file", f"{path}: {exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), "valid TOML", str(exc), show_got=True) from None
    except RecursionError:
        raise ConfigError(
            str(path), f"TOML nested at most {MAX_DEPTH - 1} deep", show_got=False
        ) from None


def load(path: Path, overrides: list[str] | tuple[str, ...] = ()) -> Scenario:
    """Read, override and validate a scenario file."""
    data = read_toml(path)
    if "sweep" in data:
        raise ConfigError(
            "sweep", "absent from a scenario file (this is a sweep file: use `goaldrift sweep`)",
            show_got=False,
        )  # fmt: skip
    for a in overrides:
        apply_set(data, a)
    sc = validate(data)
    from goaldrift.experiments.scenarios.no_ops import check_overrides, set_keys

    check_overrides(sc, set_keys(overrides))
    return sc
