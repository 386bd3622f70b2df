"""Compile-time dispatch for numba kernels: a *trait* is a function whose implementation is
chosen by the class of its first argument, a namedtuple bundle of arrays and scalars.

The run kernel (``experiments/runs/kernel.py``) calls ``world_respond(world, ...)``; Register QA
registers one implementation for its ``QAWorld`` bundle, the gridworlds one for theirs, and
numba compiles the kernel once per bundle class with the matching implementation inlined, as
if it had been written there. No runtime branch, no function pointers, and (unlike passing a
jitted function as an argument) the compiled kernel stays cacheable on disk.

Declaring a trait::

    @trait
    def world_open(world, r):
        '''What the kernel calls; the body never runs.'''

    @world_open.register(QAWorld)
    def _open(world, r):          # a plain Python function: numba compiles it in place
        return 0

Implementations must take the trait's parameters, with the same names.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from typing import Any, Protocol

from numba.core.errors import NumbaIRAssumptionWarning
from numba.extending import overload

# Numba's internal IR check warns "variable ... is not in scope" about variables that inlined
# trait implementations assign in branches, once compiled into the parallel loop; the code is
# right (the reference-equivalence and batch tests check it), the check is pedantic.
warnings.filterwarnings("ignore", category=NumbaIRAssumptionWarning)


class Trait:
    """The registry behind one trait: its parameters and one implementation per class."""

    def __init__(self, stub: Callable[..., Any]):
        self.name = stub.__name__
        self.params = tuple(inspect.signature(stub).parameters)
        self.impls: dict[type, Callable[..., Any]] = {}
        # overload's typing function must name the stub's parameters exactly
        src = f"def typer({', '.join(self.params)}):\n    return lookup({self.params[0]})\n"
        ns: dict[str, Any] = {"lookup": self._lookup}
        exec(src, ns)
        # inlined into the caller's numba IR: a call would take a reference on every array of
        # the bundle, twice per step
        overload(stub, jit_options={"cache": True}, inline="always")(ns["typer"])  # type: ignore[typeddict-unknown-key]

    def _lookup(self, bundle_type: Any) -> Callable[..., Any] | None:
        cls: type | None = getattr(bundle_type, "instance_class", None)
        return None if cls is None else self.impls.get(cls)

    def register(self, cls: type) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator: ``fn`` implements this trait for bundles of class ``cls``."""

        def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
            py = getattr(fn, "py_func", fn)  # a jitted function: numba compiles its source
            names = tuple(inspect.signature(py).parameters)
            if names != self.params:
                raise TypeError(
                    f"{py.__qualname__} must take the parameters of {self.name}: "
                    f"{', '.join(self.params)} (got {', '.join(names)})"
                )
            self.impls[cls] = py
            return fn

        return deco


class TraitFunction(Protocol):
    """A declared trait: callable from kernels, and ``register(cls)`` for implementations."""

    trait: Trait

    def __call__(self, *args: Any) -> Any: ...

    def register(self, cls: type) -> Callable[[Callable[..., Any]], Callable[..., Any]]: ...


def trait(stub: Callable[..., Any]) -> TraitFunction:
    """Declare a trait from a stub function (its name, parameters and docstring). The stub
    itself is what kernels call; ``stub.register(cls)`` adds an implementation."""
    t = Trait(stub)
    stub.register = t.register  # type: ignore[attr-defined]
    stub.trait = t  # type: ignore[attr-defined]
    return stub  # type: ignore[return-value]
