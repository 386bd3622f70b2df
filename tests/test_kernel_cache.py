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
