"""Results on disk: Parquet and JSON only, every file written to a temporary name and renamed.

A run directory holds ``runs.parquet``, ``series.parquet``, ``scenario.json`` (the validated
scenario, whole) and ``summary.json``. While a run is in progress each finished batch lands in
``parts/`` with the scenario's fingerprint, so an interrupted run keeps what it finished and a
rerun with the same scenario and seed computes only the missing batches.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from goaldrift.errors import ConfigError
from goaldrift.experiments.scenarios import Scenario


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; results follow the umask
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_parquet(table: pa.Table, path: Path) -> None:
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def write_json(data: Any, path: Path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def fingerprint(sc: Scenario, seed: int) -> str:
    """A digest of everything a run's result depends on besides its index."""
    blob = json.dumps({"scenario": sc.model_dump(mode="json"), "seed": seed}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def prepare_out(out: Path) -> Path:
    """Create the output folder (refusing a path that is a file)."""
    if out.exists() and not out.is_dir():
        raise ConfigError("--out", "a folder (it is a file)", str(out))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            "--out", "a folder that can be created", f"{out}: {exc.strerror}"
        ) from None
    return out


def part_paths(out: Path, fp: str, first: int, last: int) -> tuple[Path, Path]:
    """Paths of one finished batch covering runs [first, last)."""
    stem = f"{fp}-{first:09d}-{last:09d}"
    return out / "parts" / f"{stem}.runs.parquet", out / "parts" / f"{stem}.series.parquet"
