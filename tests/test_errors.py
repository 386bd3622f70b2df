"""goaldrift's errors survive pickling whole: one raised in a worker process reaches the
coordinator as itself (a ConfigError used to fail to unpickle, which broke the process pool)."""

from __future__ import annotations

import pickle

import pytest

from goaldrift.errors import (
    ConfigError,
    GoaldriftError,
    RenderModeError,
    UnknownNameError,
    WriteError,
)


@pytest.mark.parametrize(
    "error",
    [
        GoaldriftError("plain"),
        ConfigError("--threads", "an integer between 1 and 2", 99),
        ConfigError("reset", "called first", show_got=False),
        RenderModeError("human"),
        UnknownNameError("world", "qq", ["qa"]),
        WriteError("out/runs.parquet", OSError(28, "No space left on device")),
    ],
    ids=lambda e: type(e).__name__,
)
def test_errors_pickle_whole(error: GoaldriftError) -> None:
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is type(error)
    assert str(back) == str(error) and "\n" not in str(back)
    assert back.__dict__ == error.__dict__
