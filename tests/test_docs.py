"""The docs and shipped scenarios keep their promises."""

from __future__ import annotations

from pathlib import Path

import pytest

from goaldrift.experiments.scenarios import load
from goaldrift.experiments.scenarios.reference import markdown
from goaldrift.registry import scenarios

ROOT = Path(__file__).resolve().parents[1]


def test_scenario_reference_is_generated_from_the_schema() -> None:
    page = (ROOT / "docs" / "scenario-reference.md").read_text()
    assert page.strip() == markdown().strip(), "run: goaldrift schema > docs/scenario-reference.md"


def test_readme_opens_with_the_two_commands() -> None:
    lines = [x for x in (ROOT / "README.md").read_text().splitlines() if x.strip()]
    block = lines[lines.index("```sh") + 1 : lines.index("```sh") + 3]
    assert [b.split()[:2] for b in block] == [["make", "demo"], ["make", "test"]]


def test_every_story_of_the_seed_has_a_scenario() -> None:
    assert len(scenarios()) >= 5


@pytest.mark.parametrize("name", sorted(scenarios()))
def test_shipped_scenario_validates_and_quotes_its_claim(name: str) -> None:
    path = scenarios()[name]
    sc = load(path)
    first = path.read_text().splitlines()[0]
    assert first.startswith('# "'), "a scenario opens with a comment quoting the claim it probes"
    assert sc.claim, "the claim is also recorded in the file's `claim` key"
    assert sc.name == name, "the shipped name is the file name without its ordering prefix"


def test_the_repository_stands_alone() -> None:
    """No file points outside the repository (the project's private notes are not shipped)."""
    skip = {
        ".git",
        ".venv",
        "out",
        "__pycache__",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
        ".hypothesis",
    }
    needles = ("../" + "shared", "MODEL" + ".md", "SPEC" + ".md")
    found = []
    for path in ROOT.rglob("*"):
        rel = path.relative_to(ROOT)
        if any(p in skip or p.endswith(".egg-info") for p in rel.parts) or not path.is_file():
            continue
        if path.suffix not in {".py", ".md", ".toml", ".txt", ".j2", ".yaml", ".yml", ".cfg", ""}:
            continue
        text = path.read_text("utf-8", errors="replace")
        found += [f"{rel}: {n}" for n in needles if n in text]
    assert not found, found
