"""One exception family: each subclasses the builtin that fits, and says what it expected."""

from __future__ import annotations

MAX_SHOWN = 200  # characters of a bad value an error message shows


def _abbreviated(got: object) -> str:
    """``repr(got)``, cut to ``MAX_SHOWN`` characters (a message stays one readable line)."""
    text = repr(got)
    if len(text) <= MAX_SHOWN:
        return text
    return f"{text[: MAX_SHOWN - 40]}... ({len(text)} characters)"


class GoaldriftError(Exception):
    """Base of every error goaldrift raises on purpose; the CLI prints it in one line."""

    def __reduce__(self) -> tuple[object, ...]:
        # as raised, attributes included, without calling ``__init__`` again (its arguments
        # are not ``args``): an error raised in a worker process reaches the coordinator
        return _restore, (type(self), self.args, self.__dict__)


def _restore(cls: type[GoaldriftError], args: tuple[object, ...], state: dict) -> GoaldriftError:
    exc = cls.__new__(cls, *args)
    exc.args = args
    exc.__dict__.update(state)
    return exc


class ConfigError(GoaldriftError, ValueError):
    """A scenario or option is invalid: the message names the key and what was expected."""

    def __init__(self, key: str, expected: str, got: object = None, *, show_got: bool = True):
        self.key = key
        self.expected = expected
        self.got = got
        msg = f"'{key}' must be {expected}"
        if show_got:
            msg += f" (got {_abbreviated(got)})"
        super().__init__(msg)


class WriteError(GoaldriftError, OSError):
    """A result file could not be written (a full disk, a size limit, a read-only folder)."""

    def __init__(self, path: object, exc: OSError):
        why = exc.strerror or " ".join(str(exc).split())
        super().__init__(
            f"cannot write {path}: {why}; finished work is kept (free space or fix the folder, "
            "then rerun the same command)"
        )


class RenderModeError(ConfigError, TypeError):
    """A Gymnasium environment was asked for a render mode it does not have. Also a
    TypeError, which tools that try ``render_mode="rgb_array"`` first and fall back without
    it on a TypeError (Stable-Baselines3's ``make_vec_env``) take as "not supported"."""

    def __init__(self, got: object):
        super().__init__("render_mode", "None, 'ansi' or 'rgb_array'", got)


class UnknownNameError(GoaldriftError, KeyError):
    """A world, rule, policy or scenario name is not registered; suggests near matches."""

    def __init__(self, kind: str, name: str, known: list[str]):
        import difflib

        near = difflib.get_close_matches(name, known, n=3)
        hint = f"; did you mean {', '.join(repr(n) for n in near)}?" if near else ""
        self.message = f"unknown {kind} {name!r}: expected one of {', '.join(known)}{hint}"
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message
