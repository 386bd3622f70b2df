"""Agent kinds (``agent.kind``): the flagged world-model agent and its variants.

Every agent kind runs on the one run kernel. A kind says, in Python, how the flagged agent is
set up (its initial flag, awareness, flag rule, memory and learning switches: ``Plan``) and,
in numba, how it chooses and learns: the traits ``agent_act`` and ``agent_learn``, dispatched
on the kind's kernel bundle (``goaldrift.traits``). ``Plain`` is the bundle of the kinds that
act epsilon-greedily and learn by TD on the concept values, as docs/model.md §3 describes; a
mitigation (docs/extending.md) brings its own bundle class, with its own state and knobs, and
its own implementations.

- ``flagged``: the flagged world-model agent, set up as the scenario says;
- ``qlearning``: tabular Q-learning on the signal (Watkins 1989): the flagged agent that knows
  only the register concept, flagged 1, from the start, with the flag anchored.

Third parties add kinds through the ``goaldrift.agents`` entry-point group (a ``Variant``).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import Any

import numpy as np
from pydantic import BaseModel

from goaldrift import plugins
from goaldrift.agents.flagged import learn
from goaldrift.agents.planning import epsilon_greedy
from goaldrift.traits import trait
from goaldrift.worlds.base import WorldSpec


@dataclass(frozen=True)
class Plan:
    """How the flagged agent is set up for one run batch."""

    flag: np.ndarray  # (C,) float32: the initial flag
    schedules: Any  # the awareness table (one schedule per concept), or None: `aware`
    aware: tuple[str, ...] = ()  # concepts aware from the start when ``schedules`` is None
    rule: str = "anchored"  # the flag rule
    memory: int = 1000  # replay memory size
    learns_relations: bool = True  # relations may be judged (else off in every phase)
    learns_flag: bool = True  # the flag rule may act (else off in every phase)


@trait
def agent_act(variant, r, q, s, epsilon, key, k):
    """(action, counter): the agent's choice in state ``s`` (``epsilon``: a 32-bit
    threshold), drawing from the run's stream ``key`` at counter ``k``."""


@trait
def agent_learn(variant, r, psi, q, w, aware, knobs, s, a, s2, term, phi, world, ws, key, k):
    """Learn from the step (s, a) -> s2 with concept values ``phi`` (``term``: the episode
    terminated); returns the run's advanced counter ``k``. ``world``
    and ``ws`` are the world's bundle and its scalars after the step: a mitigation reads the
    feedback it is given through the world's traits (``worlds/hooks.world_feedback``)."""


Plain = namedtuple("Plain", ["runs"])  # no state of its own; runs: the batch size


@agent_act.register(Plain)
def _plain_act(variant, r, q, s, epsilon, key, k):
    return epsilon_greedy(q, s, epsilon, key, k)


@agent_learn.register(Plain)
def _plain_learn(variant, r, psi, q, w, aware, knobs, s, a, s2, term, phi, world, ws, key, k):
    learn(psi, q, w, aware, knobs, s, a, s2, term, phi)
    return k


@dataclass(frozen=True)
class Variant:
    """An agent kind: its name, what it is, the world families it runs on, its set-up, its
    kernel bundle (whose class selects its ``agent_act`` and ``agent_learn``) and the
    scenario keys it takes.

    ``keys`` names the ``agent`` keys of the flagged agent the kind takes (``None``: all of
    them); ``switches`` the per-phase learning switches it takes. ``options`` is the model of
    the kind's own table, ``agent.<name>`` (its knobs; ``None``: it has none). ``note`` is a
    sentence the report shows under the outcome definition. ``tally`` names the columns of
    the bundle's ``tally`` array (B, n) of per-run counts, which runs.parquet records as
    ``tally.<name>``. ``given``: what the kind is given beyond the training signal (a
    mitigation's price, docs/mitigations.md), or a function of the ``agent`` table that says
    it; ``requires(spec)``: why a world it could run on
    does not suit it (None: it does). ``tables(agent, spec)``: how many value tables of the
    agent's shape (S, A) per run its bundle holds in its field ``tables``, which the runner
    allocates at the agent's initial value (B, n, S, A) (None: the bundle holds none).
    ``refuse(agent, spec)``: a setting of the kind's own knobs that would change nothing on
    the world, as (key under ``agent``, what it must be, what it is) (None: none does)."""

    name: str
    description: str
    plan: Callable[[Any, WorldSpec, int], Plan]  # (agent config, world spec, signal concept)
    bundle: Callable[[Any, WorldSpec, np.ndarray], Any] = lambda agent, spec, runs: Plain(len(runs))
    families: tuple[str, ...] = ("qa", "gridworlds")
    keys: tuple[str, ...] | None = None
    switches: tuple[str, ...] = ("learn_world", "learn_relations", "learn_flag")
    options: type[BaseModel] | None = None
    note: str = ""
    tally: tuple[str, ...] = ()
    given: str | Callable[[dict[str, Any]], str] = ""
    requires: Callable[[WorldSpec], str | None] | None = None
    tables: Callable[[Any, WorldSpec], int] | None = None
    refuse: Callable[[Any, WorldSpec], tuple[str, str, Any] | None] | None = None


def _flagged(agent: Any, spec: WorldSpec, signal: int) -> Plan:
    names = spec.concept_names
    return Plan(
        flag=np.array([getattr(agent.flag, n) for n in names], np.float32),
        schedules=agent.awareness,
        rule=agent.flag_rule,
        memory=agent.memory,
    )


def signal_learner(agent: Any, spec: WorldSpec, signal: int) -> Plan:
    """The flagged agent that knows only the signal's concept, flagged 1 and anchored: a
    learner of the signal (Q-learning, and the mitigations, which change its feedback)."""
    flag = np.zeros(len(spec.concepts), np.float32)
    flag[signal] = 1.0
    return Plan(
        flag=flag,
        schedules=None,
        aware=(spec.concept_names[signal],),
        memory=1,
        learns_relations=False,
        learns_flag=False,
    )


LEARNER_KEYS = ("alpha", "gamma", "epsilon", "init", "write_cost")
"""The flagged agent's keys a learner of the signal takes (Q-learning, the mitigations)."""

FLAGGED = Variant(
    "flagged",
    "world-model agent with a goal flag over concepts, awareness and relations",
    _flagged,
)
QLEARNING = Variant(
    "qlearning",
    "tabular Q-learning on the signal: the flagged agent that knows only the register",
    signal_learner,
    keys=LEARNER_KEYS,
    switches=("learn_world",),
    given="nothing: the training signal only",
    note="A Q-learner maximises the signal: its flag is fixed on the register, so it is a "
    "wirehead by construction; the metrics below show what it does with it.",
)
BUILTIN = (FLAGGED, QLEARNING)
MODULES: tuple[str, ...] = ("goaldrift.agents.mitigations.dispatch",)
"""Modules of the other built-in kinds, each exporting ``VARIANT`` or a tuple ``VARIANTS``
(docs/extending.md): one line here adds a kind, and its module imports this one without a
circle. The mitigations (``agents/mitigations``) share one dispatch module, which exports the
``VARIANT`` of each."""


def _builtin() -> dict[str, Variant]:
    found = {v.name: v for v in BUILTIN}
    for module in MODULES:
        mod = import_module(module)
        for v in getattr(mod, "VARIANTS", None) or (mod.VARIANT,):
            found[v.name] = v
    return found


KINDS = plugins.Pieces("goaldrift.agents", Variant, _builtin)


def variants() -> dict[str, Variant]:
    """Agent kinds: built in, registered by installed packages or at run time."""
    return KINDS.all()


def register(variant: Variant) -> Variant:
    """Add an agent kind at run time (tests, notebooks); ``goaldrift list`` shows it."""
    return KINDS.add(variant.name, variant)
