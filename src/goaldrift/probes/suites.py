"""The probe suite of each world family (``Family.probe_suite`` names one): a family declares
which suite judges its agents, and the suites, which run batches, live above the worlds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from goaldrift.probes import grid, qa
from goaldrift.probes.score import Scores

SUITES: dict[str, Callable[[Any], Scores]] = {"qa": qa.probe, "grid": grid.probe}


def probe(res: Any) -> Scores:
    """Every objective's score for each run of the batch ``res``, by its family's suite."""
    suite = res.family.probe_suite
    if suite not in SUITES:
        raise ValueError(f"no probe suite {suite!r} (known: {', '.join(sorted(SUITES))})")
    return SUITES[suite](res)
