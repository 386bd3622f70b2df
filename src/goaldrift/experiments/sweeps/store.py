"""A sweep folder on disk: chunks of finished runs, a manifest, and DuckDB views over them.

Layout of ``DIR``::

    sweep.json       the sweep: axes, seeds, seed, the base scenario, its fingerprint
    chunks/          c-p<a>-<b>-r<r0>-<r1>.parquet: runs r0..r1-1 of points a..b-1, each
                     with <chunk>.sha256, its SHA-256, written after it
    damaged/         chunks set aside by a rerun (unreadable, or not matching their checksum)
    manifest.json    an index of the chunks (rebuilt from chunks/ whenever a sweep starts)
    points.parquet   per-point statistics, written when the sweep is complete
    summary.json     the same, short, with timings

The chunk files are the truth: each lands whole (a temporary file, then a rename) and its
checksum lands after it, so a sweep killed at any moment leaves only finished chunks (a chunk
without its checksum counts as unfinished). A rerun sets aside, never deletes, every chunk
whose checksum is missing or wrong (``damaged/``) and computes what is missing; ``query`` and
``report`` refuse a damaged chunk, naming it. One sweep process at a time holds ``DIR/.lock``
(removed when it finishes).
"""

from __future__ import annotations

import re
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from goaldrift.errors import ConfigError
from goaldrift.experiments.runs import store

CHUNKS = "chunks"
SWEEP_FILE = "sweep.json"
MANIFEST = "manifest.json"
POINTS = "points.parquet"
DAMAGED = "damaged"
SUM = ".sha256"
LOCK = ".lock"
_CHUNK = re.compile(r"^c-p(\d{6,})-(\d{6,})-r(\d{8,})-(\d{8,})\.parquet$")


def chunk_name(a: int, b: int, r0: int, r1: int) -> str:
    """The file name of the chunk holding runs [r0, r1) of points [a, b)."""
    return f"c-p{a:06d}-{b:06d}-r{r0:08d}-{r1:08d}.parquet"


def parse_chunk_name(name: str) -> tuple[int, int, int, int] | None:
    m = _CHUNK.match(name)
    if m is None:
        return None
    a, b, r0, r1 = (int(g) for g in m.groups())
    return a, b, r0, r1


def chunk_files(directory: Path) -> list[tuple[Path, tuple[int, int, int, int]]]:
    """Finished chunks, in name order."""
    d = directory / CHUNKS
    if not d.is_dir():
        return []
    out = []
    for p in sorted(d.iterdir()):
        span = parse_chunk_name(p.name)
        if span is not None:
            out.append((p, span))
    return out


def clean_temporary(directory: Path) -> int:
    """Remove temporary files left by a process killed while writing; return how many."""
    n = 0
    for d in (directory, directory / CHUNKS):
        if d.is_dir():
            for p in d.glob(".*.tmp"):
                p.unlink(missing_ok=True)
                n += 1
    for p in (directory / CHUNKS).glob("*" + SUM) if (directory / CHUNKS).is_dir() else ():
        if not p.with_name(p.name.removesuffix(SUM)).exists():  # killed before the rename
            p.unlink()
            n += 1
    return n


def covered(directory: Path, n_points: int, seeds: int) -> np.ndarray:
    """A (points, seeds) mask of the runs that finished chunks hold."""
    done = np.zeros((n_points, seeds), bool)
    for _, (a, b, r0, r1) in chunk_files(directory):
        done[a : min(b, n_points), r0 : min(r1, seeds)] = True
    return done


def write_chunk(directory: Path, span: tuple[int, int, int, int], table: pa.Table) -> Path:
    """Write a chunk's checksum, then rename the chunk into place: a chunk in place always has
    its checksum, so a kill at any moment leaves no chunk that looks damaged (at worst a
    checksum without its chunk, which ``clean_temporary`` removes)."""
    path = directory / CHUNKS / chunk_name(*span)
    with store.atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")
        store.write_text(store.sha256(tmp) + "\n", path.with_name(path.name + SUM))
    return path


def damage(path: Path) -> str | None:
    """Why the chunk at ``path`` cannot be trusted (no checksum, a wrong one), or None."""
    sidecar = path.with_name(path.name + SUM)
    try:
        want = sidecar.read_text().strip()
    except OSError:
        return "it has no checksum (its write did not finish)"
    if store.sha256(path) != want:
        return "its content does not match its checksum"
    return None


def set_aside_damaged(directory: Path) -> list[Path]:
    """Move every chunk that ``damage`` finds (and its checksum) to ``DIR/damaged/``, where
    nothing reads it; return where they went. Nothing is deleted."""
    moved = []
    for p, _ in chunk_files(directory):
        if damage(p) is None:
            continue
        dest = directory / DAMAGED
        dest.mkdir(exist_ok=True)
        for f in (p, p.with_name(p.name + SUM)):
            if f.exists():
                target = dest / f.name
                n = 1
                while target.exists():  # an earlier set-aside of the same name
                    target = dest / f"{f.name}.{n}"
                    n += 1
                f.rename(target)
                if f == p:
                    moved.append(target)
    return moved


def verify_chunks(directory: Path) -> None:
    """Refuse a sweep folder with a damaged chunk, in one line naming it."""
    for p, _ in chunk_files(directory):
        why = damage(p)
        if why is not None:
            raise ConfigError(
                "DIR",
                f"a sweep folder whose chunks are whole ({p.relative_to(directory)}: {why}; "
                "rerun the sweep to set it aside and recompute it)",
                str(directory),
            )


def write_manifest(directory: Path, fingerprint: str, done: int, total: int) -> None:
    """Rewrite the manifest from the chunk files on disk."""
    chunks = [
        {"file": f"{CHUNKS}/{p.name}", "points": [a, b], "runs": [r0, r1]}
        for p, (a, b, r0, r1) in chunk_files(directory)
    ]
    store.write_json(
        {"fingerprint": fingerprint, "runs_done": done, "runs_total": total, "chunks": chunks},
        directory / MANIFEST,
    )


def locked(directory: Path) -> AbstractContextManager[None]:
    """Hold ``DIR/.lock`` for the duration; a second sweep on the same folder is refused."""
    return store.locked(directory, "sweep")


def is_sweep(directory: Path) -> bool:
    return (directory / SWEEP_FILE).is_file()


def read_sweep(directory: Path) -> dict[str, Any]:
    """The sweep.json of a sweep folder."""
    path = directory / SWEEP_FILE
    if not path.is_file():
        raise ConfigError("DIR", "a sweep folder written by `goaldrift sweep`", str(directory))
    data: dict[str, Any] = store.read_json(path)
    return data


def _dataset(files: list[Path]) -> ds.Dataset:
    """Parquet files as one Arrow dataset (columns united by name). DuckDB scans it through
    Arrow, so it needs no file access of its own, and a folder name with ``[``, ``*`` or
    ``?`` is a name, not a pattern."""
    schema = pa.unify_schemas([pq.read_schema(f) for f in files])
    return ds.dataset([str(f) for f in files], schema=schema, format="parquet")


def connect(directory: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with views over a sweep or run folder.

    Sweep folder: ``runs`` (every finished chunk, runs of the current seed count only) and,
    once complete, ``points``. Run folder: ``runs`` and ``series``. The connection reads and
    writes no file itself (external access off, no temporary folder): the views scan the
    folder's Parquet through Arrow, so a query can read nothing else and write nowhere.
    """
    if not directory.is_dir():
        raise ConfigError("DIR", "a sweep or run folder", str(directory))
    con = duckdb.connect(":memory:", config={"temp_directory": ""})
    if is_sweep(directory):
        seeds = int(read_sweep(directory)["seeds"])
        verify_chunks(directory)
        chunks = [p for p, _ in chunk_files(directory)]
        if chunks:
            con.register("_chunks", _dataset(chunks))
            con.execute(f"CREATE VIEW runs AS SELECT * FROM _chunks WHERE run < {seeds}")
        if (directory / POINTS).is_file():
            con.register("_points", _dataset([directory / POINTS]))
            con.execute("CREATE VIEW points AS SELECT * FROM _points")
    else:
        store.verify_run(directory)
        for name in ("runs", "series"):
            path = directory / f"{name}.parquet"
            con.register(f"_{name}", _dataset([path]))
            con.execute(f"CREATE VIEW {name} AS SELECT * FROM _{name}")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    names = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views()").fetchall()}
    if "runs" not in names:
        raise ConfigError(
            "DIR", "a sweep or run folder holding results (none found)", str(directory)
        )
    return con


def read_runs(directory: Path) -> pa.Table:
    """Every finished run of a sweep folder, ordered by (point, run)."""
    con = connect(directory)
    try:
        return con.sql("SELECT * FROM runs ORDER BY point, run").to_arrow_table()
    finally:
        con.close()
