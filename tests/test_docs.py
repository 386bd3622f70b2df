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
