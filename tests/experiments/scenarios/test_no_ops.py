"""Settings that would change nothing are refused: end to end through the command line, each
is one line on stderr naming the key, exit 2, no traceback, and no output folder.

A world family refuses its own (``Family.check``); a flag rule's table and the concept costs
are refused where they are asked for explicitly (``--set``, a sweep axis) and no acting flag
rule reads them. The shipped scenarios and sweeps carry none (they still validate), and the
boundary cases that do change something are accepted.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import tiny
from tests.test_cli import assert_one_line_error, goaldrift

from goaldrift.errors import ConfigError
from goaldrift.experiments.scenarios import load, validate
from goaldrift.experiments.scenarios.no_ops import unread
from goaldrift.experiments.sweeps import sweep
from goaldrift.registry import scenarios, sweeps

NO_OPS = [
    # systematic noise mislabels round(noise x types) types: 0.02 x 16 rounds to none
    (
        "aligned-qa",
        ["world.noise_kind=systematic", "world.noise=0.02"],
        ["'world.noise'", "0.02", "mislabels none"],
    ),
    # noise corrupts only labels a supervisor writes
    (
        "aligned-qa",
        ["world.supervisor=false", "phases.1.supervisor=false"],
        ["'world.noise'", "supervisor"],
    ),
    # every question is easy, or every one hard: the share of hard ones changes nothing
    ("aligned-qa", ["world.hard_types=0"], ["'world.diversity'", "hard_types is 0"]),
    ("signal-forever", ["world.hard_types=16"], ["diversity'", "every question is hard"]),
    # a rule's table that the acting rule does not read
    ("aligned-qa", ["agent.regression.l1=0.2"], ["'agent.regression.l1'", "anchored"]),
    ("aligned-qa", ["agent.merge.split=even"], ["'agent.merge.split'", "'merge'"]),
    ("deployment-drift", ["world.costs.register_match=8"], ["'world.costs.register_match'"]),
]


@pytest.mark.parametrize(("name", "sets", "needles"), NO_OPS)
def test_cli_refuses_a_no_op(
    tmp_path: Path, name: str, sets: list[str], needles: list[str]
) -> None:
    args: list[str | Path] = ["run", name, "--out", tmp_path / "o", "--runs", "1"]
    for s in sets:
        args += ["--set", s]
    assert_one_line_error(goaldrift(*args), *needles)
    assert not (tmp_path / "o").exists()


def test_cli_refuses_costs_for_an_agent_that_moves_no_flag(tmp_path: Path) -> None:
    p = tmp_path / "q.toml"
    p.write_text('name = "q"\n[agent]\nkind = "qlearning"\n[[phases]]\nname = "t"\nsteps = 100\n')
    proc = goaldrift("run", p, "--out", tmp_path / "o", "--set", "world.costs.correct=2")
    assert_one_line_error(proc, "'world.costs.correct'", "qlearning", "moves no flag")


def test_cli_refuses_a_sweep_axis_no_point_reads(tmp_path: Path) -> None:
    """noise-cost sweeps the register's cost, which only the regression lasso reads."""
    proc = goaldrift("sweep", "noise-cost", "--out", tmp_path / "o", "--set",
                     "agent.flag_rule=association")  # fmt: skip
    assert_one_line_error(proc, "'sweep.axes.world.costs.register_match'", "no point")


def test_cli_refuses_a_sweep_set_no_point_reads(tmp_path: Path) -> None:
    proc = goaldrift("sweep", "noise-cost", "--out", tmp_path / "o", "--set",
                     "agent.merge.split=even")  # fmt: skip
    assert_one_line_error(proc, "'agent.merge.split'", "no point")


def test_sweep_over_a_point_that_mislabels_nothing(tmp_path: Path) -> None:
    """A swept value that is a no-op is refused, naming the point."""
    p = tmp_path / "s.toml"
    p.write_text(
        'name = "s"\n[world]\nnoise_kind = "systematic"\n[[phases]]\nname = "t"\nsteps = 100\n'
        '[sweep]\nseeds = 2\n[sweep.axes]\n"world.noise" = [0.0, 0.02, 0.25]\n'
    )
    proc = goaldrift("sweep", p, "--out", tmp_path / "o")
    assert_one_line_error(proc, "'world.noise'", "world.noise = 0.02")


# ---- the boundaries: what changes something is accepted -------------------------------------


def _qa(**world: object) -> dict[str, object]:
    return tiny(world={"types": 16, "hard_types": 8, **world})


@pytest.mark.parametrize(
    ("noise", "ok"),
    [(0.0, True), (0.02, False), (1 / 32, False), (0.04, True), (0.25, True)],
    ids=["zero", "none", "half-rounds-down", "one", "four"],
)
def test_systematic_noise_must_mislabel_a_type(noise: float, ok: bool) -> None:
    data = _qa(noise=noise, noise_kind="systematic")
    if ok:
        validate(data)
    else:
        with pytest.raises(ConfigError) as err:
            validate(data)
        assert err.value.key == "world.noise"


def test_random_noise_mislabels_at_any_level() -> None:
    validate(_qa(noise=0.001))


def test_noise_needs_one_supervised_phase() -> None:
    data = _qa(noise=0.1)
    data["phases"] = [
        {"name": "a", "steps": 100, "supervisor": False},
        {"name": "b", "steps": 100},
    ]
    validate(data)  # phase b has a supervisor
    data["phases"][1]["supervisor"] = False  # type: ignore[index]
    with pytest.raises(ConfigError) as err:
        validate(data)
    assert err.value.key == "world.noise"


def test_diversity_is_refused_only_where_explicit() -> None:
    validate(tiny(world={"types": 4, "hard_types": 0}))  # diversity left out: fine
    data = tiny(world={"types": 4, "hard_types": 4})
    data["phases"] = [{"name": "a", "steps": 100, "diversity": 0.3}]
    with pytest.raises(ConfigError) as err:
        validate(data)
    assert err.value.key == "phases.0.diversity"


def test_a_rule_table_in_a_file_is_kept_for_other_rules() -> None:
    """A file may carry every rule's table (rule-awareness does, for its flag_rule axis)."""
    sc = validate(tiny(agent={"flag_rule": "anchored", "merge": {"split": "even"}}))
    assert unread(sc, "agent.merge.split") == "agent.flag_rule is 'anchored'"
    assert unread(sc, "agent.epsilon") is None
    sc = validate(tiny(agent={"flag_rule": "regression"}))
    assert unread(sc, "world.costs.proxy") is None
    sc = validate(tiny(agent={"flag_rule": "regression"}, phases=[
        {"name": "a", "steps": 100, "learn_flag": False}]))  # fmt: skip
    assert unread(sc, "agent.regression.l1") == "learn_flag is off in every phase"


@pytest.mark.parametrize("name", sorted(scenarios()))
def test_shipped_scenarios_have_no_no_op(name: str) -> None:
    load(scenarios()[name])


@pytest.mark.parametrize("name", sorted(sweeps()))
def test_shipped_sweeps_have_no_no_op(name: str) -> None:
    assert sweep.load(sweeps()[name]).n_points > 1
