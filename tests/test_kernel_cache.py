"""The kernel cache folder follows the sources, so an edit never loads stale machine code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from goaldrift import kernel_cache


def _package(tmp_path: Path, text: str) -> Path:
    pkg = tmp_path / "pkg"
    (pkg / "agents").mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "agents" / "memory.py").write_text(text)
    return pkg


def test_digest_changes_with_any_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kernel_cache, "PACKAGE", _package(tmp_path, "x = 1\n"))
    before = kernel_cache.source_digest()
    assert kernel_cache.source_digest() == before  # stable
    _package(tmp_path, "x = 2\n")  # an edit in a module the kernel inlines
    assert kernel_cache.source_digest() != before


def test_folder_is_keyed_by_the_digest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    folder = kernel_cache.cache_folder()
    assert folder == tmp_path / "goaldrift" / "numba" / kernel_cache.source_digest()
    assert folder.is_dir()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_unwritable_home_falls_back_to_a_private_temp_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "ro"
    home.mkdir()
    home.chmod(0o500)
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "t"))
    (tmp_path / "t").mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    folder = kernel_cache.cache_folder()
    assert folder.is_relative_to(tmp_path / "t") and folder.is_dir()


def test_unwritable_home_falls_back_as_root_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")  # a file where the cache folder's parent should be: never writable
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    (tmp_path / "t").mkdir()
    monkeypatch.setattr(kernel_cache.tempfile, "gettempdir", lambda: str(tmp_path / "t"))
    folder = kernel_cache.cache_folder()
    assert folder.is_relative_to(tmp_path / "t") and folder.is_dir()
    assert (folder.parent.stat().st_mode & 0o777) == 0o700


def test_import_points_numba_at_the_folder_unless_told(tmp_path: Path) -> None:
    code = "import goaldrift, numba, os; print(numba.config.CACHE_DIR)"
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["XDG_CACHE_HOME"] = str(tmp_path)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip().startswith(str(tmp_path / "goaldrift" / "numba")), out.stderr
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "mine")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == str(tmp_path / "mine"), out.stderr
    # numba imported first: its config is updated too
    code = "import numba, goaldrift; print(numba.config.CACHE_DIR)"
    env.pop("NUMBA_CACHE_DIR")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip().startswith(str(tmp_path / "goaldrift" / "numba")), out.stderr


def test_a_temp_folder_someone_else_can_write_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    monkeypatch.setattr(kernel_cache.tempfile, "gettempdir", lambda: str(tmp_path / "t"))
    planted = tmp_path / "t" / f"goaldrift-numba-{os.getuid()}"
    planted.mkdir(parents=True)
    planted.chmod(0o777)  # anyone could have put cached machine code here
    monkeypatch.setattr(kernel_cache.tempfile, "mkdtemp", lambda prefix: str(tmp_path / "fresh"))
    assert kernel_cache.cache_folder() == tmp_path / "fresh"


def _tree(root: Path) -> dict[str, int]:
    """Every path below ``root`` with its size (a folder: -1)."""
    return {
        str(p.relative_to(root)): (-1 if p.is_dir() else p.stat().st_size) for p in root.rglob("*")
    }


@pytest.mark.slow
def test_a_run_from_a_read_only_copy_of_the_package_writes_nothing_into_it(
    tmp_path: Path,
) -> None:
    """A read-only install (issue 11): a copy of the package, its folders and files without
    write permission, and a cache home no user can write (a regular file where the folder
    should be, which binds root too). `goaldrift run` from the copy must succeed, compile its
    kernel into the private temporary folder, and leave the copy byte-for-byte alone (numba's
    default would put its cache beside the sources)."""
    import shutil

    site = tmp_path / "site"
    pkg = site / "goaldrift"
    # follow links: in a source tree goaldrift/scenarios links to the repository's scenarios
    shutil.copytree(kernel_cache.PACKAGE, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    for p in [pkg, *pkg.rglob("*")]:
        p.chmod(0o555 if p.is_dir() else 0o444)
    before = _tree(pkg)
    blocker = tmp_path / "home-is-a-file"
    blocker.write_text("")
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "PYTHONPATH")}
    env |= {
        "PYTHONPATH": str(site),
        "PYTHONDONTWRITEBYTECODE": "1",  # what a read-only install gets anyway
        "XDG_CACHE_HOME": str(blocker),
        "TMPDIR": str(temp),
    }
    code = (
        "import sys, goaldrift; print(goaldrift.__file__, flush=True); "
        "from goaldrift.cli import main; sys.argv[0] = 'goaldrift'; main()"
    )
    args = ["run", "aligned-qa", "--runs", "1", "--out", str(tmp_path / "out")]
    args += ["--set", "phases.0.steps=200", "--set", "phases.1.steps=200"]
    args += ["--set", "sample_every=100"]
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code, *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith(str(pkg / "__init__.py")), proc.stdout[:300]
        assert (tmp_path / "out" / "run.json").is_file()
        assert _tree(pkg) == before  # no numba cache, no bytecode, nothing
        cached = temp / f"goaldrift-numba-{os.getuid()}" / kernel_cache.source_digest()
        assert any(p.suffix == ".nbi" for p in cached.rglob("*")), "the kernel was not cached"
    finally:
        for p in [pkg, *pkg.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)  # so that pytest can remove tmp_path
