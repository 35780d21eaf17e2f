"""Where vectorization runs: this process, local worker processes, or a Dask cluster.

Workers pin BLAS/OpenMP/numba to one thread each (oversubscribed BLAS threads
halve MFCC throughput on a 2-core machine). A worker that dies (a decoder crash on
a broken file) never stops the batch: its chunk is retried clip by clip, and the
clip that kills a worker again is reported as a "crash".
"""
from __future__ import annotations

import importlib
import multiprocessing
import os
import sys
import threading
import warnings
from contextlib import contextmanager, nullcontext
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Sequence

from ..common.progress import progress_bar
from .jobs import Job, Outcome, run_jobs, save_outcomes
from .kept_pool import KeptPool, Lease

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "NUMBA_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")
SMALL_BATCH = 8  # fewer jobs than this per worker are not worth starting processes for
# what a worker imports to run jobs: imported before workers are forked (or into
# the fork server) so that each one does not import them again
WORKER_MODULES = ("hover_audio.vectors.jobs", "hover_audio.vectors.mfcc", "scipy.fft",
                  "miniaudio", "threadpoolctl")
# what only some clips need (libsndfile: formats and sizes the miniaudio readers do not
# take): preloaded into the fork server, which starts once per process, but imported by
# a forked worker only when a clip needs it (before every fork: 1,000 FLAC clips took
# 3% longer, 0.251 -> 0.245 s)
SERVER_MODULES = WORKER_MODULES + ("soundfile",)
_WARNED: set = set()
_HOLDS, _HOLDS_LOCK = 0, threading.Lock()  # one_native_thread(): holds open in this process


def default_workers() -> int:
    """All the cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def pin_threads(scan: bool = True) -> None:
    """Limit native thread pools of this process to one thread.

    Only pools that run more: setting the limit where OpenBLAS has one thread
    already (a worker forked while its parent held the limit, or from the fork
    server started with it) restarts its threads, which then spin for 0.1 s of
    CPU each before the first clip. ``scan=False``: only set the variables, for
    a worker forked while its parent held the limit (looking through the loaded
    libraries costs a new worker 1-4 ms before its first clip).
    """
    for name in THREAD_VARIABLES:
        os.environ[name] = "1"
    if not scan:
        return
    from threadpoolctl import threadpool_info, threadpool_limits

    if any(info["num_threads"] > 1 for info in threadpool_info()):
        threadpool_limits(1)


def chunks(jobs: Sequence[Job], workers: int) -> list[list[Job]]:
    """Jobs in chunks for ``workers``, handed out in this order: each chunk half of a
    worker's share of the jobs not yet handed out, 64 at most, 4 at least (fewer where
    there are fewer than 8 jobs per worker, so that every worker gets some).

    Large enough that sending a chunk to a process costs little next to its work,
    small enough to show progress, and smaller towards the end, so that the workers
    finish together (with equal chunks one worker idled for ~half a chunk at the end:
    1,000 demo clips, ~11 ms of 0.25 s).

    Examples
    --------
    >>> [len(part) for part in chunks(list(range(100)), 2)]
    [25, 18, 14, 10, 8, 6, 4, 4, 4, 4, 3]
    >>> [len(part) for part in chunks(list(range(3)), 2)]
    [1, 1, 1]
    """
    least = max(1, min(4, len(jobs) // (workers * 2)))  # (a few jobs: one each, in parallel)
    parts, at = [], 0
    while at < len(jobs):
        size = min(64, max(least, (len(jobs) - at) // (workers * 2)))
        parts.append(list(jobs[at:at + size]))
        at += size
    return parts


@contextmanager
def one_native_thread():
    """Hold this process's native thread pools (BLAS, OpenMP) at one thread.

    Holds are counted per process (the limit is the process's): a nested hold, or one
    taken while another thread holds, costs nothing and changes nothing.
    """
    global _HOLDS
    with _HOLDS_LOCK:
        _HOLDS += 1
        first = _HOLDS == 1
    try:
        if first:
            from threadpoolctl import threadpool_limits

            with threadpool_limits(1):
                yield
        else:
            yield
    finally:
        with _HOLDS_LOCK:
            _HOLDS -= 1


def batch_threads(count: int, workers: int | None = None, client=None):
    """What a batch of ``count`` jobs holds from before it runs until its report and
    snapshot are written: :func:`one_native_thread` when the jobs run in this process
    or in workers forked from it, else nothing.

    Before forking workers, this process (then its only thread, computing nothing)
    imports :data:`WORKER_MODULES` and holds its native thread pools at one thread, so
    that workers start with both. Imported in each worker instead, ``scipy.fft`` alone
    cost every later batch of a notebook or server 0.1 s again (1,000 clips: 0.32 s ->
    0.22 s). Given back as soon as the jobs were done, before the report and snapshot,
    the hold made 1,000 clips 3% slower where the BLAS runs threads (13 fresh runs
    each, medians 0.277 -> 0.269 s; no change where it is pinned to one thread).
    """
    if count == 0 or client is not None:
        return nullcontext()
    workers = default_workers() if workers is None else max(1, int(workers))
    if _in_this_process(count, workers):
        return one_native_thread()
    if _start_method() == "fork":
        _import_for_workers()  # first: a library loaded after the limit is set runs free
        return one_native_thread()
    return nullcontext()


def _in_this_process(count: int, workers: int) -> bool:
    return workers == 1 or count < SMALL_BATCH * workers


def run_parallel(vectorizer, jobs: Sequence[Job], *, workers: int | None = None,
                 progress: bool = True, client=None) -> list[Outcome]:
    """Run ``jobs`` and return one outcome per job (in no particular order)."""
    if not jobs:
        return []
    if client is not None:
        return _run_dask(vectorizer, jobs, client, progress)
    workers = default_workers() if workers is None else max(1, int(workers))
    with batch_threads(len(jobs), workers):  # (free within the caller's own hold)
        if _in_this_process(len(jobs), workers):
            return run_jobs(vectorizer, jobs, progress=progress)
        return _run_processes(vectorizer, chunks(jobs, workers), workers, progress, len(jobs))


def _start_method() -> str:
    """"fork" when it is safe (no other threads), else "forkserver" or "spawn".

    Forking a threaded process (a Bokeh server, a Jupyter kernel) can deadlock;
    the other methods re-import ``__main__`` (see :func:`_main_hidden`).
    """
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


def _in_main_top_level() -> bool:
    """True when called (through any depth) from the top-level code of a ``__main__`` script.

    A worker started by "spawn" or "forkserver" imports the main script again; a
    script without ``if __name__ == "__main__":`` would then run its top level,
    and so this very call, once more in every worker.
    """
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "<module>" and frame.f_globals.get("__name__") == "__main__":
            return getattr(sys.modules.get("__main__"), "__file__", None) is not None
        frame = frame.f_back
    return False


@contextmanager
def _main_hidden():
    """Start workers without re-importing the main script (its top level is not guarded)."""
    main = sys.modules.get("__main__")
    saved = {name: main.__dict__[name] for name in ("__file__", "__spec__") if name in main.__dict__}
    main.__dict__.pop("__file__", None)
    main.__spec__ = None
    try:
        yield
    finally:
        main.__dict__.pop("__spec__", None)
        main.__dict__.update(saved)


def _warn_once(message: str) -> None:
    if message not in _WARNED:
        _WARNED.add(message)
        warnings.warn(message, RuntimeWarning, stacklevel=4)


def _pool(workers: int) -> ProcessPoolExecutor:
    method = _start_method()
    if method == "forkserver":
        _start_forkserver()
    return ProcessPoolExecutor(max_workers=workers, initializer=pin_threads,
                               initargs=(method != "fork",),
                               mp_context=multiprocessing.get_context(method))


_KEPT = KeptPool(_pool)  # workers from the fork server, kept for the next batch


def _lease(workers: int) -> Lease:
    """A pool for one batch: a fresh one where this process can fork (forking costs
    little, and a kept pool's threads would make the next batch use the fork server),
    else the kept one (:mod:`.kept_pool`)."""
    if _start_method() == "fork":
        return Lease(_pool(workers), None)
    return _KEPT.lease(workers)


def _start_forkserver() -> None:
    """Start the fork server, once per process, with what workers need imported.

    Where forking this process is unsafe (a notebook kernel, the server: other
    threads), workers are forked from that server; without the modules preloaded
    each one imported them again (1,000 clips: 0.60 s, against 0.31 s by fork).
    Its native thread pools start at one thread, so the workers need no limit set.
    """
    from multiprocessing import forkserver

    forkserver.set_forkserver_preload(["__main__", *SERVER_MODULES])
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    os.environ.update(dict.fromkeys(THREAD_VARIABLES, "1"))
    try:
        forkserver.ensure_running()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _import_for_workers() -> None:
    """Import :data:`WORKER_MODULES` here, so that workers forked from now on have them
    (and the native libraries they load are there when the thread limit is set)."""
    for name in WORKER_MODULES:
        if name not in sys.modules:
            importlib.import_module(name)


def _run_processes(vectorizer, parts, workers, progress, total) -> list[Outcome]:
    """Run ``parts`` in worker processes; in this process when workers cannot start."""
    guard = nullcontext()
    if _start_method() != "fork" and _in_main_top_level():
        if type(vectorizer).__module__ == "__main__":
            _warn_once("vectorizing in this process: worker processes would run this script "
                       "again (no `if __name__ == '__main__':` guard) and the vectorizer is "
                       "defined in it")
            return _in_process(vectorizer, parts, progress)
        guard = _main_hidden()
    outcomes: list[Outcome] = []
    broken: list[Job] = []
    with guard:
        lease = _lease(workers)
        pool = lease.pool
        importing = threading.Thread(target=_import_quietly, args=("pandas",), daemon=True)
        try:
            futures = {}
            for part in parts:
                try:
                    futures[pool.submit(run_jobs, vectorizer, part, False, False)] = part
                except BrokenProcessPool:  # the pool broke while work was being handed out
                    broken.extend(part)
            # the workers are forked by now (all at the first submit): pandas, which
            # the report needs next, is imported while this process mostly waits
            # (a fresh process's first batch: ~0.05 s sooner)
            if "pandas" not in sys.modules:
                importing.start()
            bar = progress_bar(None, progress, "vectorizing", total=total) if progress else None
            for future in as_completed(futures):
                try:
                    done = future.result()
                except BrokenProcessPool:  # a worker died: these chunks never finished
                    broken.extend(futures[future])
                    continue
                save_outcomes(vectorizer, done)
                outcomes.extend(done)
                if bar is not None:
                    bar.update(len(done))
        finally:  # every chunk is back (or lost with its worker)
            lease.done(futures, broken=bool(broken))
            if importing.ident is not None:
                importing.join()  # no thread of ours runs when workers start again below
        if broken and len(outcomes) == 0 and not _pool_works():
            _warn_once("worker processes cannot start here; vectorizing in this process")
            if bar is not None:
                bar.close()
            return _in_process(vectorizer, parts, progress)
        for job in broken:  # one clip at a time, each in a worker of its own
            outcomes.append(_run_isolated(vectorizer, job))
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    return outcomes


def _import_quietly(name: str) -> None:
    """Import a module ahead of need; any error shows where it is really imported."""
    try:
        importlib.import_module(name)
    except Exception:  # pragma: no cover - a broken install fails at the real import
        pass


def _in_process(vectorizer, parts, progress) -> list[Outcome]:
    with one_native_thread():
        return run_jobs(vectorizer, [job for part in parts for job in part], progress=progress)


def _pool_works() -> bool:
    """Whether a worker process can start and answer at all (not: whether a clip crashes it)."""
    try:
        with _pool(1) as pool:
            return pool.submit(os.getpid).result(timeout=60) > 0
    except Exception:
        return False


def _run_isolated(vectorizer, job: Job) -> Outcome:
    with _pool(1) as pool:
        try:
            outcome = pool.submit(run_jobs, vectorizer, [job], False, False).result()[0]
            save_outcomes(vectorizer, [outcome])
            return outcome
        except BrokenProcessPool:
            return Outcome(job.row, None, "crash",
                           f"{job.key}: decoding this clip crashed the worker process")


def _run_dask(vectorizer, jobs, client, progress) -> list[Outcome]:
    from dask.distributed import Client, as_completed as dask_completed

    own = isinstance(client, str)
    if own:
        client = Client(client)
    try:
        workers = max(1, sum(client.nthreads().values()))
        parts = chunks(jobs, workers)
        futures = client.map(run_jobs, [vectorizer] * len(parts), parts, progress=False,
                             save=False, pure=False)
        outcomes: list[Outcome] = []
        bar = progress_bar(None, progress, "vectorizing (dask)", total=len(jobs)) if progress else None
        for future in dask_completed(futures):
            done = future.result()
            save_outcomes(vectorizer, done)
            outcomes.extend(done)
            if bar is not None:
                bar.update(len(done))
        if bar is not None:
            bar.close()
        return outcomes
    finally:
        if own:
            client.close()
