"""Where sweep chunks run: in this process, in a local process pool, or on Dask.

A backend is a context manager with ``workers`` and ``map(fn, tasks)``, which yields
``(task, fn(task))`` as results arrive, in any order. Leaving the context (normally, on an
error or on Ctrl-C) stops every worker: what finished has been stored, the rest is redone
by the next run.
"""

from __future__ import annotations

import ipaddress
import logging
import multiprocessing
import os
import pickle
import signal
import socket
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from types import TracebackType
from typing import Any, TypeVar

from goaldrift.errors import ConfigError, GoaldriftError

T = TypeVar("T")
R = TypeVar("R")
BACKENDS = ("local", "dask")
DEFAULT_HOST = "127.0.0.1"
WORKERS_PER_CORE = 4  # the most worker processes a sweep starts per core of the machine


def _ignore_sigint() -> None:
    """Workers leave Ctrl-C to the coordinator, which stops them."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Start child processes with Ctrl-C ignored from their first instruction (a terminal
    sends SIGINT to the whole process group; the coordinator alone handles it)."""
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


class Backend:
    """Leaving the context stops the workers: gracefully after success, at once otherwise."""

    workers: int

    def stop(self, failed: bool) -> None:
        raise NotImplementedError

    def __exit__(
        self,
        et: type[BaseException] | None,
        ev: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop(failed=et is not None)


class Local(Backend):
    """A pool of ``workers`` processes (spawned, so numba's threads are never forked);
    one worker runs in this process. A worker that dies (killed, out of memory) stops the
    sweep with an error instead of leaving it waiting."""

    def __init__(self, workers: int):
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> Local:
        if self.workers > 1:
            ctx = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=ctx, initializer=_ignore_sigint
            )
        return self

    def map(self, fn: Callable[[T], R], tasks: Sequence[T]) -> Iterator[tuple[T, R]]:
        if self._pool is None:
            for t in tasks:
                yield t, fn(t)
            return
        with _sigint_ignored():  # the pool starts its processes on the first submissions
            futures = {self._pool.submit(fn, t): t for t in tasks}
        try:
            for fut in as_completed(futures):
                yield futures[fut], fut.result()
        except BrokenProcessPool:
            raise GoaldriftError(
                "a worker process died (killed, or out of memory?); finished chunks are "
                "kept: rerun the same command to resume"
            ) from None

    def stop(self, failed: bool) -> None:
        if self._pool is None:
            return
        if not failed:
            self._pool.shutdown(wait=True)
            return
        # stop at once: queued chunks are dropped, running ones killed (they are redone)
        procs = list(getattr(self._pool, "_processes", {}).values())
        self._pool.shutdown(wait=False, cancel_futures=True)
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.join()


class _Call:
    """``fn(arg)``, computed when this is unpickled (``pickle.loads`` of ``_packed(fn, arg)``)."""

    def __init__(self, fn: Callable[[Any], Any], arg: Any):
        self.fn, self.arg = fn, arg

    def __reduce__(self) -> tuple[Callable[[Any], Any], tuple[Any]]:
        return self.fn, (self.arg,)


def _packed(fn: Callable[[Any], Any], arg: Any) -> bytes:
    import cloudpickle

    return cloudpickle.dumps(_Call(fn, arg))


def _one_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Dask(Backend):
    """dask.distributed: a LocalCluster of ``workers`` processes bound to ``host``, or the
    scheduler at ``address``.

    A task travels as bytes that the worker unpickles inside the task (``pickle.loads``, a
    builtin every worker has): a worker that cannot import the function or its argument (an
    older goaldrift, none at all) fails that task, which ends the sweep with one line. Unpickled
    by Dask itself, it would break the worker's connection instead, and Dask would hand the
    task to the next worker forever."""

    def __init__(
        self,
        workers: int,
        address: str | None = None,
        host: str = DEFAULT_HOST,
        timeout: float = 10,
    ):
        try:
            import distributed
        except ImportError:
            raise ConfigError(
                "--backend",
                "'local' unless the Dask extra is installed (pip install 'goaldrift[dask]')",
                "dask",
            ) from None
        self._distributed = distributed
        self.address = address
        self.host = host
        self.workers = workers
        self.timeout = timeout
        self._cluster: Any = None
        self._client: Any = None

    def __enter__(self) -> Dask:
        import dask

        d = self._distributed
        if self.address is None:
            # TLS with a key that exists only in this process and its workers' memory: another
            # user on the machine can reach the port but cannot complete a handshake, so cannot
            # submit tasks (which would run as this user)
            self.security = d.Security.temporary()
            # distributed always starts an HTTP server per node: give it no pages, on a free
            # loopback port (no dashboard, no metrics, nothing on 8787). Workers log nothing,
            # those a nanny restarts included (set before their logging is): a failed chunk is
            # the sweep's one line
            environ = dask.config.get("distributed.nanny.pre-spawn-environ", {})
            quiet = dask.config.set(
                {
                    "distributed.scheduler.http.routes": [],
                    "distributed.worker.http.routes": [],
                    "distributed.nanny.pre-spawn-environ": {
                        **environ,
                        "DASK_LOGGING__DISTRIBUTED": "critical",
                    },
                }
            )
            with _sigint_ignored(), quiet, _cluster_start(self.host):
                self._cluster = d.LocalCluster(
                    n_workers=self.workers,
                    threads_per_worker=1,
                    processes=True,
                    host=self.host,
                    protocol="tls://",
                    security=self.security,
                    dashboard_address=f"{self.host}:0",
                    scheduler_kwargs={"dashboard": False},
                    worker_dashboard_address=f"{self.host}:0",
                    silence_logs=logging.CRITICAL,
                )
            self._client = d.Client(self._cluster, security=self.security)
        else:
            try:
                self._client = d.Client(self.address, timeout=f"{self.timeout}s")
            except (OSError, TimeoutError, ValueError, TypeError) as exc:
                msg = " ".join(str(exc).split())[:200]
                raise ConfigError(
                    "--address", "a reachable Dask scheduler", f"{self.address}: {msg}"
                ) from None
            n = len(self._client.scheduler_info().get("workers", {}))
            self.workers = max(1, n)
        return self

    def map(self, fn: Callable[[T], R], tasks: Sequence[T]) -> Iterator[tuple[T, R]]:
        d = self._distributed
        submit = self._client.submit
        futures = {submit(pickle.loads, _packed(fn, t), pure=False): t for t in tasks}
        try:
            for fut in d.as_completed(futures):
                try:
                    result = fut.result()
                except GoaldriftError:
                    raise
                except Exception as exc:  # raised on the worker, or the worker died
                    raise GoaldriftError(
                        f"a chunk failed on a Dask worker ({_one_line(exc)}); finished chunks "
                        "are kept: rerun the same command to resume"
                    ) from exc
                yield futures[fut], result
        finally:
            self._client.cancel(list(futures))

    def stop(self, failed: bool) -> None:
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()


@contextmanager
def _cluster_start(host: str) -> Iterator[None]:
    """A local cluster that cannot start (``--host`` is not this machine's) is one line."""
    try:
        yield
    except (OSError, RuntimeError) as exc:
        cause = exc.__cause__ or exc
        raise GoaldriftError(
            f"the Dask cluster could not start on --host {host}: {_one_line(cause)}"
        ) from exc


def check_host(host: str) -> str:
    """``host`` as an IP address or a name that resolves, else a ``ConfigError``."""
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    try:
        if host.replace(".", "").isdigit():  # a malformed IPv4 address: no name lookup
            raise OSError
        socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        raise ConfigError(
            "--host", "an IP address or host name of this machine, such as 127.0.0.1", host
        ) from None
    return host


def make(
    name: str, workers: int | None, address: str | None, host: str = DEFAULT_HOST
) -> Local | Dask:
    """The backend of that name; ``workers`` defaults to the machine's cores, and is at most
    ``WORKERS_PER_CORE`` per core: each worker is a process holding its own kernels, so more
    only cost memory, and a million of them never finish starting."""
    if name not in BACKENDS:
        raise ConfigError("--backend", "'local' or 'dask'", name)
    cores = os.cpu_count() or 1
    n = workers if workers is not None else cores
    if n < 1:
        raise ConfigError("--workers", "at least 1", n)
    if n > WORKERS_PER_CORE * cores:
        raise ConfigError(
            "--workers", f"at most {WORKERS_PER_CORE * cores} ({WORKERS_PER_CORE} per core)", n
        )
    if address is not None:
        if name != "dask":
            raise ConfigError("--address", "given only with --backend dask", address)
        if "://" not in address:
            raise ConfigError("--address", "a scheduler address such as tcp://HOST:8786", address)
    if name == "local":
        return Local(n)
    return Dask(n, address, host if address is not None else check_host(host))
