"""Where numba caches goaldrift's compiled kernels: one folder per version of the sources.

numba invalidates a cached function only when the file that defines it changes, but the run
kernel inlines code from many modules (the world hooks, the memory, the agent's step:
``goaldrift.traits``). An edit to any of them must never load stale machine code, so the
cache folder is named by a digest of every source file of the package and numba's version:
``$XDG_CACHE_HOME/goaldrift/numba/<digest>`` (``~/.cache`` by default), or a folder only this
user owns under the system's temporary folder when that cannot be written (a read-only home).
``NUMBA_CACHE_DIR``, when set, is used as given.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from importlib import metadata
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def source_digest() -> str:
    """A digest of the package's Python sources and numba's version (16 hex digits)."""
    h = hashlib.sha256(metadata.version("numba").encode())
    for path in sorted(PACKAGE.rglob("*.py")):
        h.update(str(path.relative_to(PACKAGE)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError:
        return False
    return True


def cache_folder() -> Path:
    """The folder for this version of the sources (created)."""
    digest = source_digest()
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = home / "goaldrift" / "numba" / digest
    if _writable(folder):
        return folder
    # a shared temporary folder: use ours only if nobody else owns or can write it (cached
    # machine code is executed), else a fresh private one
    uid = os.getuid()
    base = Path(tempfile.gettempdir()) / f"goaldrift-numba-{uid}"
    base.mkdir(mode=0o700, exist_ok=True)
    st = base.lstat()
    if base.is_symlink() or st.st_uid != uid or st.st_mode & 0o022:
        return Path(tempfile.mkdtemp(prefix="goaldrift-numba-"))
    folder = base / digest
    folder.mkdir(exist_ok=True)
    return folder


def configure() -> None:
    """Point numba's cache at ``cache_folder()`` unless ``NUMBA_CACHE_DIR`` is set. Runs when
    goaldrift is imported, before any kernel is defined; worker processes inherit it."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    try:
        folder = str(cache_folder())
    except OSError:  # nowhere to write: numba's default (beside the sources)
        return
    os.environ["NUMBA_CACHE_DIR"] = folder
    numba = sys.modules.get("numba")
    if numba is not None:  # imported before goaldrift: its config has read the environment
        numba.config.CACHE_DIR = folder
