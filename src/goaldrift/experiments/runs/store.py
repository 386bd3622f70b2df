"""Results on disk: Parquet and JSON only, every file written to a temporary name and renamed.

A run directory holds ``runs.parquet``, ``series.parquet``, ``scenario.json`` (the validated
scenario, whole), ``summary.json`` and, written last, ``run.json``: the manifest, with the
scenario's fingerprint and each result file's SHA-256. A folder without a manifest, or whose
files do not match it, is not a result (``verify_run``): a run that died while committing
leaves no half-old, half-new folder that looks complete. While a run is in progress each
finished batch lands in ``parts/`` with the fingerprint, so an interrupted run keeps what it
finished and a rerun with the same scenario and seed computes only the missing batches. One
process at a time writes a folder (``locked``), and ``run`` writes only into an empty folder
or its own run of the same scenario and seed (``check_out``), never touching other files.
"""

from __future__ import annotations

import contextlib
import fcntl
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

from goaldrift.errors import ConfigError, WriteError
from goaldrift.experiments.scenarios import Scenario


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success. A
    write that fails (a full disk, a size limit, no permission) leaves nothing behind and is
    a one-line ``WriteError`` naming the file."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; results follow the umask
        os.replace(tmp, path)
    except WriteError:
        raise
    except OSError as exc:
        raise WriteError(path, exc) from exc
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_parquet(table: pa.Table, path: Path) -> None:
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def write_text(text: str, path: Path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(data: Any, path: Path) -> None:
    write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n", path)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def fingerprint(sc: Scenario, seed: int) -> str:
    """A digest of everything a run's result depends on besides its index."""
    return _fingerprint(sc.model_dump(mode="json"), seed)


def _fingerprint(scenario: Any, seed: Any) -> str:
    blob = json.dumps({"scenario": scenario, "seed": seed}, sort_keys=True)
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


MANIFEST = "run.json"
RESULT_FILES = ("runs.parquet", "series.parquet", "scenario.json", "summary.json")
PARTS = "parts"
LOCK = ".lock"
# what a run folder may hold besides its results: the manifest, batches in progress, the
# lock, a report (``goaldrift report``) and temporary files of an interrupted write
OWN = {*RESULT_FILES, MANIFEST, PARTS, LOCK, "report.html", "plots"}


def _ours(name: str) -> bool:
    return name in OWN or (name.startswith(".") and name.endswith(".tmp"))


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _folder_fingerprint(out: Path) -> str | None:
    """The fingerprint of the run a folder holds or is computing (None: none found)."""
    try:
        fp = read_json(out / MANIFEST).get("fingerprint")
        if isinstance(fp, str):
            return fp
    except (OSError, ValueError, AttributeError):
        pass
    for part in sorted((out / PARTS).glob("*.parquet")) if (out / PARTS).is_dir() else ():
        return part.name.split("-", 1)[0]
    return None


def check_out(out: Path, fp: str) -> None:
    """Refuse ``--out`` unless it is absent, empty, or a run folder of the run with
    fingerprint ``fp`` (a rerun or a resumption): files ``run`` does not own are never
    overwritten or deleted."""
    if not out.exists():
        return
    if not out.is_dir():
        raise ConfigError("--out", "a folder (it is a file)", str(out))
    names = sorted(p.name for p in out.iterdir())
    foreign = [n for n in names if not _ours(n)]
    parts = out / PARTS
    if parts.is_dir():
        foreign += [
            f"{PARTS}/{p.name}"
            for p in sorted(parts.iterdir())
            if not (p.name.endswith((".runs.parquet", ".series.parquet")) or _ours(p.name))
        ]
    if foreign:
        raise ConfigError(
            "--out",
            "an empty folder or a run folder of this scenario and seed (it holds files "
            "goaldrift did not write; nothing was changed)",
            f"{out}: {foreign[0]}",
        )
    theirs = _folder_fingerprint(out)
    if theirs is None and (out / "scenario.json").is_file():  # a run without a manifest
        try:
            meta = read_json(out / "scenario.json")
            theirs = _fingerprint(meta["scenario"], meta["seed"])
        except (OSError, ValueError, KeyError, TypeError):
            theirs = "unknown"
    if theirs is not None and theirs != fp:
        raise ConfigError(
            "--out",
            "an empty folder or a run folder of this scenario and seed (it holds another "
            "run: pass another --out; nothing was changed)",
            str(out),
        )


@contextmanager
def locked(directory: Path, what: str = "run") -> Iterator[None]:
    """Hold ``DIR/.lock`` for the duration; a second writer of the same folder is refused.
    The kernel drops the lock when the holder dies, SIGKILL included."""
    path = directory / LOCK
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise ConfigError(
            "--out", "a folder this user can write", f"{directory}: {exc.strerror}"
        ) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(
                "--out", f"a folder no other {what} is writing (it is in use)", str(directory)
            ) from None
        try:
            yield
        finally:
            path.unlink(missing_ok=True)  # while still held: another writer fails, not races
    finally:
        os.close(fd)


def write_manifest(out: Path, fp: str, runs: int, seed: int) -> None:
    """Commit the run: the manifest, written last, names each result file's digest."""
    files = {name: sha256(out / name) for name in RESULT_FILES}
    write_json({"fingerprint": fp, "seed": seed, "runs": runs, "files": files}, out / MANIFEST)


def verify_run(directory: Path) -> None:
    """Refuse a run folder that is incomplete or whose files do not match its manifest, with
    one line naming the file."""

    def bad(why: str) -> ConfigError:
        return ConfigError(
            "DIR", f"a complete run folder written by `goaldrift run` ({why})", str(directory)
        )

    try:
        files = read_json(directory / MANIFEST)["files"]
    except FileNotFoundError:
        raise bad(f"no {MANIFEST}: the run did not finish; rerun it") from None
    except (OSError, ValueError, KeyError, TypeError):
        raise bad(f"{MANIFEST} is damaged; rerun the run") from None
    for name in RESULT_FILES:
        path = directory / name
        if not path.is_file():
            raise bad(f"no {name}")
        if not isinstance(files, dict) or files.get(name) != sha256(path):
            raise bad(f"{name} does not match {MANIFEST}: damaged or changed; rerun the run")


def remove_parts(out: Path, fp: str) -> None:
    """Delete this run's finished batches (only files it wrote), and ``parts/`` if empty."""
    parts = out / PARTS
    if not parts.is_dir():
        return
    for p in parts.glob(f"{fp}-*.parquet"):
        p.unlink(missing_ok=True)
    remove_if_empty(parts)


def remove_if_empty(folder: Path) -> None:
    """Remove ``folder`` if it exists and is empty (never anything in it)."""
    with contextlib.suppress(OSError):
        folder.rmdir()
