"""`agent.init`: the value tables start at zero or, optimistically, at value_max / (1 - gamma).

Optimistic must start every entry there (kernel and reference alike), must agree between the
two, and must change what the agent does: a knob that silently does nothing is a bug. Where a
world defines no largest per-step value (the gridworlds), `optimistic` is refused, naming
`agent.init`.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from tests.conftest import scenario, tiny
from tests.experiments.runs.test_reference import (
    _deterministic,
    assert_equivalent,
    assert_identical,
    both,
)
from tests.test_cli import assert_one_line_error, goaldrift

from goaldrift.agents.config import initial_value
from goaldrift.errors import ConfigError
from goaldrift.experiments.runs.reference import run_reference
from goaldrift.experiments.runs.runner import run_batch
from goaldrift.experiments.scenarios import validate
from goaldrift.worlds.family import AgentDefaults
from goaldrift.worlds.qa import kernel as qa_kernel
from goaldrift.worlds.qa.family import QA_FAMILY

START = {"schedule": "start"}


def seeker(init: str, **agent: object) -> object:
    """A pure register-seeker (flag 1 on register_match, aware of it and of tampered from
    the start) with write access 0.2 under a supervisor with 10% label noise."""
    return scenario(
        world={"access": 0.2, "noise": 0.1},
        agent={
            "init": init,
            "flag": {"correct": 0.0, "register_match": 1.0},
            "awareness": {"register_match": START, "tampered": START},
            **agent,
        },
        phases=[{"name": "train", "steps": 1000}],
    )


def test_initial_value_is_value_max_over_one_minus_gamma() -> None:
    defaults = AgentDefaults(alpha=0.1, gamma=0.9, gamma_fixed=False, write_cost=False,
                             value_max=2.0)  # fmt: skip
    assert initial_value(SimpleNamespace(init="zero", gamma=0.9), defaults) == 0.0
    assert initial_value(SimpleNamespace(init="optimistic", gamma=0.9), defaults) == pytest.approx(
        20.0
    )
    assert QA_FAMILY.agent_defaults().value_max == 1.0  # Register QA's concepts are 0 or 1


@pytest.mark.parametrize("kind", ["flagged", "qlearning"])
def test_optimistic_tables_start_at_the_largest_value(kind: str) -> None:
    """With learning off the tables keep their start: every successor feature is 1 (gamma 0,
    concepts 0/1) and the action values are the flag-weighted sum minus the write cost."""
    for init, start in (("optimistic", 1.0), ("zero", 0.0)):
        agent: dict[str, Any] = {"kind": kind, "init": init}
        if kind == "flagged":
            agent["awareness"] = {"register_match": START}
        sc = validate(tiny(agent=agent, phases=[{"name": "rest", "steps": 200,
                                                 "learn_world": False}]))  # fmt: skip
        res = run_batch(sc, 0, np.arange(3))
        assert res.live is not None
        st = res.live.agent.state
        assert (st.psi == start).all()
        want = np.einsum("bc,bcsa->bsa", st.w * st.aware, st.psi) - QA_FAMILY.action_costs(sc)
        np.testing.assert_allclose(st.q, want, atol=1e-6)


def test_zero_is_the_default() -> None:
    assert scenario().agent.init == "zero"


def test_optimistic_kernel_and_reference_agree_exactly() -> None:
    """The deterministic scenario of test_reference (no randomness left; alpha 1 keeps every
    value dyadic), optimistic: every count, mask, event and flag must be equal."""
    sc = _deterministic(agent={"flag_rule": "anchored", "init": "optimistic"})
    k, r = both(sc, n_ref=24, n_kernel=24)
    assert_identical(k, r)
    # the start shows: this scenario writes from step 0 on, where zero init waits
    z = both(_deterministic(agent={"flag_rule": "anchored"}), n_ref=24, n_kernel=24)[0]
    assert (k.ev_other[:, 0] != z.ev_other[:, 0]).any() or (k.counts != z.counts).any()


def test_optimistic_kernel_and_reference_agree_in_distribution() -> None:
    k, r = both(seeker("optimistic"))
    assert_equivalent(k, r)


def _writes(res: object) -> np.ndarray:
    return res.counts[:, :, qa_kernel.WRITES].sum(axis=1)  # type: ignore[attr-defined,no-any-return]


def _tamper_share(res: object) -> float:
    c = res.counts.sum(axis=1)  # type: ignore[attr-defined]
    return float(c[:, qa_kernel.TAMPERS].sum() / c[:, qa_kernel.ACCESS].sum())


@pytest.mark.parametrize("twin", ["kernel", "reference"])
def test_optimistic_changes_behaviour(twin: str) -> None:
    """Greedy (epsilon 0) and zero-initialised, the register-seeker never tries a write: the
    first answer's value stays >= 0 > -write_cost. Optimistic, every untried action looks
    best, so every run writes. With exploration, optimism makes it tamper more early on."""
    run = run_batch if twin == "kernel" else run_reference
    greedy_zero = run(seeker("zero", epsilon=0.0), 0, np.arange(32))
    greedy_opt = run(seeker("optimistic", epsilon=0.0), 0, np.arange(32))
    assert (_writes(greedy_zero) == 0).all()
    assert (_writes(greedy_opt) > 0).all()
    zero = run(seeker("zero"), 0, np.arange(128))
    opt = run(seeker("optimistic"), 0, np.arange(128))
    assert _tamper_share(opt) > _tamper_share(zero) + 0.05


def test_optimistic_is_refused_on_a_gridworld() -> None:
    data = {
        "name": "g",
        "world": {"kind": "tomato_watering"},
        "agent": {"init": "optimistic"},
        "phases": [{"name": "train", "steps": 100}],
    }
    with pytest.raises(ConfigError) as err:
        validate(data)
    assert err.value.key == "agent.init"
    data["agent"] = {"init": "zero"}
    assert validate(data).agent.init == "zero"


def test_cli_refuses_optimistic_on_a_gridworld(tmp_path: Path) -> None:
    proc = goaldrift("run", "tomato-watering", "--out", tmp_path / "o", "--set",
                     "agent.init=optimistic")  # fmt: skip
    assert_one_line_error(proc, "'agent.init'", "zero", "tomato_watering")
