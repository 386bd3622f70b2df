"""A run folder holds one result, whole or not at all, and `run` never touches files it did
not write."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from tests.conftest import scenario

from goaldrift.errors import ConfigError
from goaldrift.experiments.runs import store
from goaldrift.experiments.runs.execute import run_to
from goaldrift.experiments.sweeps.store import connect
from goaldrift.report import write_report


def _tree(d: Path) -> dict[str, bytes]:
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in d.rglob("*") if p.is_file()}


def _run(out: Path, seed: int = 1, **over: object) -> None:
    sc = scenario(**over)
    run_to(sc, out, runs=2, seed=seed)


@pytest.mark.parametrize("user_file", ["parts/thesis.tex", "notes.txt", "sweep.json"])
def test_a_folder_with_files_run_did_not_write_is_refused_untouched(
    tmp_path: Path, user_file: str
) -> None:
    out = tmp_path / "d"
    (out / user_file).parent.mkdir(parents=True)
    (out / user_file).write_text("x")
    before = _tree(out)
    with pytest.raises(ConfigError, match=user_file.replace(".", r"\.")) as err:
        _run(out)
    assert err.value.key == "--out" and "\n" not in str(err.value)
    assert _tree(out) == before


def test_another_runs_folder_is_refused_its_own_is_rerun(tmp_path: Path) -> None:
    out = tmp_path / "r"
    _run(out)
    first = _tree(out)
    _run(out)  # the same scenario and seed: a rerun, same bytes
    assert _tree(out) == first
    for kwargs in ({"seed": 2}, {"sample_every": 50}):
        with pytest.raises(ConfigError, match="another run"):
            _run(out, **kwargs)  # type: ignore[arg-type]
        assert _tree(out) == first
    # a run written before manifests existed is recognised by its scenario.json
    (out / store.MANIFEST).unlink()
    _run(out)
    assert _tree(out) == first


def test_a_second_writer_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "busy"
    out.mkdir()
    with store.locked(out), pytest.raises(ConfigError, match="in use"):
        _run(out)


def test_a_commit_that_fails_leaves_no_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Disk full while the result files are replaced: the old result is gone as a result
    (its manifest went first), the new one never became one; report and query refuse the
    folder, and a rerun repairs it."""
    out = tmp_path / "full"
    _run(out)
    real = store.write_json

    def full(data: object, path: Path) -> None:
        if path.name == "summary.json":
            raise OSError(28, "No space left on device")
        real(data, path)

    monkeypatch.setattr(store, "write_json", full)
    with pytest.raises(OSError):
        _run(out)  # the rerun of the same scenario dies while committing
    monkeypatch.undo()
    for reader in (write_report, connect):
        with pytest.raises(ConfigError, match=r"no run\.json"):
            reader(out)
    _run(out)
    store.verify_run(out)


def test_a_damaged_file_is_named(tmp_path: Path) -> None:
    out = tmp_path / "dmg"
    _run(out)
    data = bytearray((out / "series.parquet").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (out / "series.parquet").write_bytes(bytes(data))
    for reader in (write_report, connect):
        with pytest.raises(ConfigError, match=r"series\.parquet does not match run\.json"):
            reader(out)
    assert pq.read_metadata(out / "runs.parquet").num_rows == 2  # the rest is untouched
