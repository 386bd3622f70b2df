"""A property-based fuzzer (issue 11): every bad value is one line naming a key, never a traceback.

Every shipped scenario (scenarios/*.toml) and sweep file (scenarios/sweeps/*.toml) has one key
mutated to a bad value -- huge integers, NaN/inf, booleans or strings for numbers, negative
values, empty strings, deep nesting, absurd sweep ranges -- and is validated through the path
the CLI takes (``scenarios.load`` with a ``--set`` override, ``sweeps.sweep.load``/``build``).
The only exception allowed is a ``ConfigError`` whose message is one line naming a key; a value
of the wrong type (a boolean, string, NaN, table, ... for a number) must be refused. A few
``--set`` strings also go through the command line in-process: exit 2, one line on stderr, no
traceback and nothing written in ``--out``. Validation only, no simulation.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.test_cli import cli_in_process

from goaldrift.errors import ConfigError, GoaldriftError
from goaldrift.experiments.scenarios import load, read_toml
from goaldrift.experiments.sweeps import sweep as sweeps

ROOT = Path(__file__).resolve().parents[3]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.toml"))
SWEEPS = sorted((ROOT / "scenarios" / "sweeps").glob("*.toml"))
CASES: dict[str, int] = {}  # cases run per test (printed at the end of the module)

HUGE = [2**63, 2**63 - 1 + 2, 2**64, 10**30, -(2**63) - 1, 10**400]
NUMBER_BAD = [math.nan, math.inf, -math.inf, True, False, "1", "abc", "", [1], {"a": 1}]
NUMBER_ODD = [*HUGE, -1, -1.5, -(10**30), 0, 1e308, 1e-300, -0.0]
STRING_BAD = [1, 1.5, math.nan, True, [], {"a": "b"}]
STRING_ODD = ["", " ", "\n", "x" * 10_000, "\x00", "naïve ☃"]
BOOL_BAD = [0, 1, 2**63, math.nan, "true", "", [], {"a": True}]


@dataclass(frozen=True)
class Deep:
    """Arrays nested ``n`` deep (built when used: Hypothesis cannot print them)."""

    n: int

    def build(self) -> Any:
        v: Any = 1
        for _ in range(self.n):
            v = [v]
        return v


def _real(v: Any) -> Any:
    """``v`` with every ``Deep`` built."""
    if isinstance(v, Deep):
        return v.build()
    if isinstance(v, list):
        return [_real(x) for x in v]
    if isinstance(v, dict):
        return {k: _real(x) for k, x in v.items()}
    return v


DEEP = [Deep(40), Deep(1000)]


def _toml(v: Any) -> str:
    """A value as the TOML text of a `--set` value."""
    if isinstance(v, Deep):
        return "[" * v.n + "1" + "]" * v.n
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return (
            '"'
            + v.replace("\\", "\\\\")
            .replace('"', '\\"')
            .replace("\n", "\\n")
            .replace("\x00", "\\u0000")
            + '"'
        )
    if isinstance(v, list):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    return "{" + ", ".join(f"{k} = {_toml(x)}" for k, x in v.items()) + "}"


def _leaves(data: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted path, value) of every scalar leaf; list items by index."""
    items = data.items() if isinstance(data, dict) else enumerate(data)
    for k, v in items:
        path = f"{prefix}{k}"
        if isinstance(v, dict | list) and v:
            yield from _leaves(v, path + ".")
        else:
            yield path, v


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _bad_values(orig: Any) -> tuple[list[Any], list[Any]]:
    """(values that must be refused, values that may be accepted) in place of ``orig``."""
    if _is_number(orig):
        return [*NUMBER_BAD, *DEEP], NUMBER_ODD
    if isinstance(orig, bool):
        return [*BOOL_BAD, *DEEP], []
    if isinstance(orig, str):
        return [*STRING_BAD, *DEEP], STRING_ODD
    return DEEP, [*NUMBER_BAD, *NUMBER_ODD, *STRING_ODD]


def _assert_one_line(exc: BaseException) -> None:
    assert isinstance(exc, GoaldriftError), repr(exc)
    msg = str(exc)
    assert "\n" not in msg, msg
    assert len(msg) < 2000, msg[:300]
    if isinstance(exc, ConfigError):
        assert exc.key, msg
        assert re.match(r"^'[^']+' must be ", msg), msg
    else:
        assert msg.strip(), repr(exc)


def _check(fn: Any, must_fail: bool, case: str) -> None:
    try:
        fn()
    except GoaldriftError as exc:
        _assert_one_line(exc)
    except Exception as exc:  # a traceback: the bug this file exists to find
        raise AssertionError(f"{case}: {type(exc).__name__}: {exc!s:.300}") from exc
    else:
        assert not must_fail, f"{case}: accepted"


def _scenario_cases() -> list[tuple[Path, str, Any]]:
    return [(p, k, v) for p in SCENARIOS for k, v in _leaves(read_toml(p))]


def _sweep_scenario_cases() -> list[tuple[Path, str, Any]]:
    return [
        (p, k, v)
        for p in SWEEPS
        for k, v in _leaves({a: b for a, b in read_toml(p).items() if a != "sweep"})
    ]


SCENARIO_CASES = _scenario_cases()
SWEEP_SCENARIO_CASES = _sweep_scenario_cases()


@st.composite
def _mutation(draw: st.DrawFn, cases: list[tuple[Path, str, Any]]) -> tuple[Path, str, Any, bool]:
    path, key, orig = draw(st.sampled_from(cases))
    bad, odd = _bad_values(orig)
    must = draw(st.booleans()) if odd else True
    value = draw(st.sampled_from(bad if must else odd))
    return path, key, value, must


@pytest.fixture(scope="module", autouse=True)
def _count() -> Iterator[None]:
    yield
    total = sum(CASES.values())
    print(f"\nfuzz cases run: {total} ({', '.join(f'{k} {n}' for k, n in CASES.items())})")


def _tick(name: str) -> None:
    CASES[name] = CASES.get(name, 0) + 1


def test_every_scenario_leaf_is_covered() -> None:
    assert len(SCENARIOS) >= 10 and len(SWEEPS) >= 3
    assert {p for p, _, _ in SCENARIO_CASES} == set(SCENARIOS)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutation(SCENARIO_CASES))
def test_scenario_set_fuzz(m: tuple[Path, str, Any, bool]) -> None:
    """`run FILE --set KEY=BAD`: one ConfigError line, or a valid scenario."""
    path, key, value, must = m
    _tick("scenario --set")
    assignment = f"{key}={_toml(value)}"
    _check(lambda: load(path, [assignment]), must, f"{path.name} --set {assignment[:200]}")


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutation(SCENARIO_CASES))
def test_scenario_data_fuzz(m: tuple[Path, str, Any, bool]) -> None:
    """The same values set in the file's data (no TOML round trip: NaN, huge ints as such)."""
    from goaldrift.experiments.scenarios import set_path, validate

    path, key, value, must = m
    _tick("scenario data")
    data = read_toml(path)
    set_path(data, key, _real(value))
    _check(lambda: validate(data), must, f"{path.name} {key} = {_toml(value)[:200]}")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutation(SWEEP_SCENARIO_CASES))
def test_sweep_base_fuzz(m: tuple[Path, str, Any, bool]) -> None:
    """`sweep FILE --set KEY=BAD` on the sweep's base scenario."""
    path, key, value, must = m
    _tick("sweep --set")
    assignment = f"{key}={_toml(value)}"
    _check(lambda: sweeps.load(path, [assignment]), must, f"{path.name} --set {assignment[:200]}")


RANGE_BAD: dict[str, list[Any]] = {
    "from": [math.nan, math.inf, -math.inf, True, "0", [], 10**400],
    "to": [math.nan, math.inf, -math.inf, True, "1", {}, 10**400],
    "num": [0, -1, 2**63, 10**30, 10**7, True, 1.5, math.nan, math.inf, "5"],
    "step": [1e-12, 1e-300, 5e-324, 0, -1, math.nan, math.inf, True, "1", 10**400],
    "scale": ["", "loglog", 1, True],
}
SEEDS_BAD = [0, -1, 2**63, 10**30, True, 1.5, math.nan, math.inf, "8", "", [], {}]
LIST_BAD: list[Any] = [[], [math.nan], [math.inf], [1, 1], "", 1, True, [Deep(1000)]]


def _axes(data: dict[str, Any]) -> list[tuple[str, Any]]:
    return sweeps._flatten_axes(data["sweep"]["axes"])


@st.composite
def _sweep_table_mutation(draw: st.DrawFn) -> tuple[Path, dict[str, Any], str]:
    """A sweep file's data with one bad value in its [sweep] table."""
    path = draw(st.sampled_from(SWEEPS))
    data = read_toml(path)
    table = data["sweep"]
    what = draw(st.sampled_from(["seeds", "range", "list", "views", "axes"]))
    axes = _axes(data)
    if what == "seeds":
        v = draw(st.sampled_from(SEEDS_BAD))
        table["seeds"] = v
        return path, data, f"sweep.seeds = {_toml(v)}"
    if what == "axes":
        v = draw(st.sampled_from([{}, [], 1, "x", math.nan, {"world.noise": {}}, Deep(1000)]))
        table["axes"] = _real(v)
        return path, data, f"sweep.axes = {_toml(v)[:80]}"
    if what == "views":
        v = draw(st.sampled_from([1, [1], [{}], [{"x": "nope"}], [{"x": 1, "fix": [1]}]]))
        table["views"] = v
        return path, data, f"sweep.views = {_toml(v)}"
    key, spec = draw(st.sampled_from(axes))
    new: Any
    if what == "range":
        base = spec if isinstance(spec, dict) else {"from": 1, "to": 2, "num": 2}
        new = dict(base)
        field = draw(st.sampled_from(sorted(RANGE_BAD)))
        new[field] = draw(st.sampled_from(RANGE_BAD[field]))
        if field == "step":
            new.pop("num", None)
        if field == "num":
            new.pop("step", None)
        if draw(st.booleans()) and field not in ("from", "to"):  # a wide range: 0 .. 1e6
            new.update({"from": 0, "to": 10**6})
    else:
        new = draw(st.sampled_from(LIST_BAD))
    _replace_axis(table["axes"], key, _real(new))
    return path, data, f"sweep.axes.{key} = {_toml(new)[:120]}"


def _replace_axis(table: dict[str, Any], key: str, new: Any) -> None:
    """Replace the axis ``key`` (quoted or nested TOML keys) by ``new``."""
    if key in table:
        table[key] = new
        return
    head, _, rest = key.partition(".")
    _replace_axis(table[head], rest, new)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_sweep_table_mutation())
def test_sweep_table_fuzz(m: tuple[Path, dict[str, Any], str]) -> None:
    """Absurd seeds, ranges (step=1e-12, to=inf, num=2**63, ...), lists and views are refused."""
    path, data, case = m
    _tick("sweep table")
    _check(lambda: sweeps.build(data), True, f"{path.name}: {case}")


# --- end to end: the command line in-process ------------------------------------------------


CLI_SETS = [
    ("aligned-qa", "seed=9223372036854775808", "seed"),
    ("aligned-qa", "runs=100000000000000000000000000000", "runs"),
    ("aligned-qa", "phases.0.steps=true", "phases.0.steps"),
    ("aligned-qa", "world.noise=nan", "world.noise"),
    ("aligned-qa", "agent.flag.correct=inf", "agent.flag.correct"),
    ("aligned-qa", "agent.awareness.register_match.at=9223372036854775808", "register_match"),
    ("aligned-qa", "name=", "name"),
    ("aligned-qa", "world.diversity=" + "[" * 2000 + "]" * 2000, "world.diversity"),
    ("tomato-watering", "phases.0.steps=-5", "phases.0.steps"),
    ("tomato-watering", "world.nosie=0.1", "world.nosie"),
]


@pytest.mark.parametrize(("scenario", "assignment", "needle"), CLI_SETS)
def test_cli_run_set(
    scenario: str,
    assignment: str,
    needle: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _tick("cli")
    out = tmp_path / "out"
    argv = ["run", scenario, "--out", str(out), "--set", assignment]
    line = cli_in_process(argv, capsys, monkeypatch)
    assert needle in line, line
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize(
    "assignment",
    ["seed=9223372036854775808", "sweep.seeds=true", "world.diversity=nan", "sweep.axes=1"],
)
def test_cli_sweep_set(
    assignment: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _tick("cli")
    out = tmp_path / "out"
    argv = ["sweep", "noise-cost", "--out", str(out), "--set", assignment]
    line = cli_in_process(argv, capsys, monkeypatch)
    assert assignment.partition("=")[0].split(".")[-1] in line, line
    assert not out.exists() or not any(out.iterdir())


# --- regressions: each a traceback or an accepted bad value the fuzzer found -----------------

ALIGNED = ROOT / "scenarios" / "5-aligned-qa.toml"
NOISE_COST = ROOT / "scenarios" / "sweeps" / "2-noise-cost.toml"

SET_REGRESSIONS = [
    # RecursionError in the TOML parser
    ("world.diversity=" + "[" * 2000 + "1" + "]" * 2000, "'world.diversity' must be a value"),
    # lax coercion: a boolean or string taken for a number, a number for a boolean
    ("phases.0.steps=true", "'phases.0.steps' must be a valid integer (got True)"),
    ("seed=true", "'seed' must be a valid integer"),
    ('seed="1"', "'seed' must be a valid integer"),
    ("world.noise=true", "'world.noise' must be a valid number"),
    ("agent.flag.correct=false", "'agent.flag.correct' must be a valid number"),
    ("phases.1.supervisor=1", "'phases.1.supervisor' must be a valid boolean"),
    ('phases.1.supervisor="true"', "'phases.1.supervisor' must be a valid boolean"),
    ("outcome.window=true", "'outcome.window' must be a valid integer"),
    # a message over two lines (pydantic's union-tag text echoes the value)
    (
        'agent.awareness.correct.schedule="a\\nb"',
        "'agent.awareness.correct.schedule' must be one of 'start', 'step'",
    ),
    # a 10,000-character value echoed whole
    (f'agent.flag_rule="{"x" * 10_000}"', "... (10002 characters)"),
]


@pytest.mark.parametrize(("assignment", "needle"), SET_REGRESSIONS)
def test_set_regression(assignment: str, needle: str) -> None:
    with pytest.raises(ConfigError) as ei:
        load(ALIGNED, [assignment])
    _assert_one_line(ei.value)
    assert needle in str(ei.value), str(ei.value)


RANGE_REGRESSIONS: list[tuple[dict[str, Any], str]] = [
    ({"from": 1, "to": 2, "step": 1e-12}, "'sweep.axes.world.noise.step' must be a step giving"),
    ({"from": 1, "to": 2, "step": 5e-324}, "'sweep.axes.world.noise.step' must be a step giving"),
    ({"from": 1, "to": 2, "step": math.nan}, "'sweep.axes.world.noise.step' must be a finite"),
    ({"from": 0, "to": math.inf, "step": 0.1}, "'sweep.axes.world.noise.to' must be a finite"),
    ({"from": 10**400, "to": 1, "num": 3}, "'sweep.axes.world.noise.from' must be a finite"),
    ({"from": 0, "to": 1, "num": 2**63}, "'sweep.axes.world.noise.num' must be an integer from"),
    ({"from": 0, "to": 1, "num": 10**30}, "'sweep.axes.world.noise.num' must be an integer from"),
    ({}, "'sweep.axes.world.noise.from' must be a finite number"),  # was a sweep with no axis
]


@pytest.mark.parametrize(("spec", "needle"), RANGE_REGRESSIONS)
def test_sweep_range_regression(spec: dict[str, Any], needle: str) -> None:
    data = read_toml(NOISE_COST)
    data["sweep"]["axes"]["world.noise"] = spec
    with pytest.raises(ConfigError) as ei:
        sweeps.build(data)
    _assert_one_line(ei.value)
    assert needle in str(ei.value), str(ei.value)


def test_sweep_deep_axis_regression() -> None:
    """An axis list nested 1,000 deep overflowed the stack in ``deepcopy``."""
    data = read_toml(NOISE_COST)
    data["sweep"]["axes"]["world.noise"] = Deep(1000).build()
    with pytest.raises(ConfigError, match="nested at most"):
        sweeps.build(data)
