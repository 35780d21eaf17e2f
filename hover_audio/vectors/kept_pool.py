"""Worker processes kept between batches where they cannot be forked cheaply.

Where this process runs other threads (a notebook kernel, the server), workers come
from the fork server, and starting a pool of them cost every batch 20-40 ms before its
first clip (1,000 demo clips take ~0.25 s on 2 cores). A :class:`KeptPool` keeps the
last batch's pool and hands it to the next batch of the same size; its workers exit
after :data:`IDLE_SECONDS` unused, when a worker died (the pool is broken: the next
batch starts a new one), or with this process. Workers keep no state between batches
that a batch relies on: every chunk carries its vectorizer and jobs.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Callable, Iterable

IDLE_SECONDS = 60.0  # a kept pool's workers exit after this long without a batch


class Lease:
    """One batch's use of a pool: :meth:`done` gives it back (or shuts a one-off down)."""

    def __init__(self, pool: ProcessPoolExecutor, owner: "KeptPool | None") -> None:
        self.pool = pool
        self._owner = owner

    def done(self, futures: Iterable[Future] = (), *, broken: bool = False) -> None:
        """The batch is over: cancel its chunks not yet started; a pool in which a
        worker died (``broken``) is never used again."""
        if self._owner is None:
            self.pool.shutdown(wait=False, cancel_futures=True)  # waiting: 7-9 ms
            return
        for future in futures:
            future.cancel()
        self._owner._give_back(self.pool, broken)


class KeptPool:
    """At most one pool kept for the next batch of the same number of workers.

    ``make(workers)`` starts a pool. A batch that finds the kept pool busy with
    another size, or in a process forked from the one that started it, gets a
    one-off pool instead.
    """

    def __init__(self, make: Callable[[int], ProcessPoolExecutor], *,
                 idle_seconds: float = IDLE_SECONDS) -> None:
        self.make = make
        self.idle_seconds = idle_seconds
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._workers = 0
        self._pid = os.getpid()
        self._users = 0
        self._generation = 0  # which idle timer may still shut the pool down

    def lease(self, workers: int) -> Lease:
        with self._lock:
            if self._pid != os.getpid():  # forked: the parent's pool is not ours
                self._pool, self._users, self._pid = None, 0, os.getpid()
            if self._pool is not None and getattr(self._pool, "_broken", False):
                self._shutdown_locked()  # a worker died since the last batch
            if self._pool is not None and self._workers != workers and self._users == 0:
                self._shutdown_locked()
            if self._pool is None:
                self._pool, self._workers = self.make(workers), workers
            if self._workers != workers:
                return Lease(self.make(workers), None)
            self._users += 1
            self._generation += 1
            return Lease(self._pool, self)

    def shutdown(self) -> None:
        """Let the kept workers exit now (a batch still using them finishes first)."""
        with self._lock:
            if self._users == 0:
                self._shutdown_locked()

    @property
    def alive(self) -> bool:
        """Whether a pool is kept (its workers may still be starting or running)."""
        return self._pool is not None

    @property
    def pids(self) -> list[int]:
        """The kept pool's worker processes started so far (none when no pool is kept)."""
        pool = self._pool
        return sorted(getattr(pool, "_processes", None) or ()) if pool is not None else []

    def _give_back(self, pool: ProcessPoolExecutor, broken: bool) -> None:
        with self._lock:
            if pool is not self._pool:  # shut down or replaced meanwhile
                pool.shutdown(wait=False, cancel_futures=True)
                return
            self._users -= 1
            if broken:
                self._shutdown_locked()
            elif self._users == 0:
                timer = threading.Timer(self.idle_seconds, self._expire, (self._generation,))
                timer.daemon = True
                timer.start()

    def _expire(self, generation: int) -> None:
        with self._lock:
            if generation == self._generation and self._users == 0:
                self._shutdown_locked()

    def _shutdown_locked(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool, self._workers, self._users = None, 0, 0  # a lease still out: see _give_back
        self._generation += 1
