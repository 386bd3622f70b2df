"""Settings that would change nothing (silent no-ops), refused in one line naming the key.

Each world family refuses its own on every scenario it validates (``Family.check``: Register
QA's label noise that mislabels no label, diversity where every question is of one kind).
This module holds the agent's, which are the same in every family: a flag rule's table
(``agent.regression``, ``agent.association``, ``agent.merge``) and the concept costs
(``world.costs``, read only by the ``regression`` lasso's penalty) are read only while their
rule acts. A scenario *file* may carry the tables of rules it does not use (a sweep over
``agent.flag_rule`` needs them, and ``--set agent.flag_rule=...`` switches to them), so they
are refused only where someone asks for them explicitly: a ``--set`` on a scenario whose rule
does not read the key, and a sweep axis (or a sweep's ``--set``) that no point's rule reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from goaldrift.errors import ConfigError
from goaldrift.experiments.scenarios.model import Scenario

READERS = {
    "agent.regression": "regression",
    "agent.association": "association",
    "agent.merge": "merge",
    "world.costs": "regression",
}
"""Key prefixes read by one flag rule only."""


def reader(key: str) -> str | None:
    """The flag rule that alone reads ``key`` (None: not a rule's key)."""
    for prefix, rule in READERS.items():
        if key == prefix or key.startswith(prefix + "."):
            return rule
    return None


def acting_rule(sc: Scenario) -> tuple[str | None, str]:
    """(the flag rule that acts in ``sc``, or None if none does; why, in words)."""
    from goaldrift.agents.variants import variants
    from goaldrift.registry import family

    fam = family(sc.world.kind)
    plan = variants()[sc.agent.kind].plan(sc.agent, fam.spec(sc), fam.signal_concept(sc))
    if not plan.learns_flag:
        return None, f"agent.kind '{sc.agent.kind}' moves no flag"
    if not any(p.learn_flag for p in sc.phases):
        return None, "learn_flag is off in every phase"
    return plan.rule, f"agent.flag_rule is '{plan.rule}'"


def unread(sc: Scenario, key: str) -> str | None:
    """Why ``key`` changes nothing in ``sc`` (None: it is read, or not a rule's key)."""
    rule = reader(key)
    if rule is None:
        return None
    acting, why = acting_rule(sc)
    return None if acting == rule else why


def _expected(key: str, why: str) -> str:
    return f"left out when {why} (only the '{reader(key)}' flag rule reads it)"


def set_keys(assignments: Iterable[str]) -> list[str]:
    """The key paths of ``--set key.path=VALUE`` assignments."""
    return [a.partition("=")[0].strip() for a in assignments]


def check_overrides(sc: Scenario, keys: Sequence[str]) -> None:
    """Refuse a ``--set`` of a key that ``sc``'s acting flag rule does not read."""
    for key in keys:
        why = unread(sc, key)
        if why is not None:
            raise ConfigError(key, _expected(key, why), show_got=False)


def check_swept(points: Sequence[Scenario], key: str, where: str) -> None:
    """Refuse a swept (or ``--set``) key that the acting rule of no point reads; ``where``
    names it in the error (``sweep.axes.<key>`` or the key itself)."""
    whys = [unread(sc, key) for sc in points]
    if points and all(w is not None for w in whys):
        reasons = sorted({w for w in whys if w is not None})
        raise ConfigError(
            where, _expected(key, " / ".join(reasons)) + "; no point of the sweep runs it",
            show_got=False,
        )  # fmt: skip
