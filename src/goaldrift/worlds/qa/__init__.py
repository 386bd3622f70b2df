"""Register QA (docs/model.md §2.1): the seed's supervised question-answerer, whose label sits in a
register it may be able to write.

- ``world``: the concepts and the per-run tables (truth, proxy, systematic mislabels);
- ``kernel``: the world's part of each step of the run kernel (``worlds/hooks.py``).
"""

from goaldrift.worlds.qa.world import (
    CORRECT,
    N_CONCEPTS,
    PROXY,
    QA_WORLD,
    REGISTER_MATCH,
    TAMPERED,
    QAParams,
    QATables,
    draw_tables,
)

__all__ = [
    "CORRECT",
    "N_CONCEPTS",
    "PROXY",
    "QA_WORLD",
    "REGISTER_MATCH",
    "TAMPERED",
    "QAParams",
    "QATables",
    "draw_tables",
]
