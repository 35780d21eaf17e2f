"""Where vectorization runs: this process, local worker processes, or a Dask cluster.

Workers pin BLAS/OpenMP/numba to one thread each (oversubscribed BLAS threads
halve MFCC throughput on a 2-core machine). A worker that dies (a decoder crash on
a broken file) never stops the batch: its chunk is retried clip by clip, and the
clip that kills a worker again is reported as a "crash".
"""
from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Sequence

from ..common.progress import progress_bar
from .jobs import Job, Outcome, run_jobs

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "NUMBA_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")
SMALL_BATCH = 8  # fewer jobs than this per worker are not worth starting processes for


def default_workers() -> int:
    """All the cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def pin_threads() -> None:
    """Limit native thread pools of this process to one thread."""
    for name in THREAD_VARIABLES:
        os.environ[name] = "1"
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def chunks(jobs: Sequence[Job], workers: int) -> list[list[Job]]:
    """Jobs in chunks for ``workers``: about 8 chunks per worker, 1 to 64 jobs each.

    Small enough to balance the load and show progress, large enough that
    sending a chunk to a process costs little next to its work.
    """
    size = max(1, min(64, len(jobs) // (workers * 8)))
    return [list(jobs[i:i + size]) for i in range(0, len(jobs), size)]


def run_parallel(vectorizer, jobs: Sequence[Job], *, workers: int | None = None,
                 progress: bool = True, client=None) -> list[Outcome]:
    """Run ``jobs`` and return one outcome per job (in no particular order)."""
    if not jobs:
        return []
    if client is not None:
        return _run_dask(vectorizer, jobs, client, progress)
    workers = default_workers() if workers is None else max(1, int(workers))
    if workers == 1 or len(jobs) < SMALL_BATCH * workers:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            return run_jobs(vectorizer, jobs, progress=progress)
    return _run_processes(vectorizer, chunks(jobs, workers), workers, progress, len(jobs))


def _start_method() -> str:
    """"fork" when it is safe (no other threads), else "forkserver" or "spawn".

    Forking a threaded process (a Bokeh server, a Jupyter kernel) can deadlock;
    the other methods re-import ``__main__``, which needs a script's main guard.
    """
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


def _pool(workers: int) -> ProcessPoolExecutor:
    method = _start_method()
    return ProcessPoolExecutor(max_workers=workers, initializer=pin_threads,
                               mp_context=multiprocessing.get_context(method))


def _run_processes(vectorizer, parts, workers, progress, total) -> list[Outcome]:
    outcomes: list[Outcome] = []
    bar = progress_bar(None, progress, "vectorizing", total=total) if progress else None
    broken: list[Job] = []
    with _pool(workers) as pool:
        futures = {pool.submit(run_jobs, vectorizer, part): part for part in parts}
        for future in as_completed(futures):
            try:
                done = future.result()
            except BrokenProcessPool:  # a worker died: these chunks never finished
                broken.extend(futures[future])
                continue
            outcomes.extend(done)
            if bar is not None:
                bar.update(len(done))
    for job in broken:  # one clip at a time, each in a worker of its own
        outcomes.append(_run_isolated(vectorizer, job))
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return outcomes


def _run_isolated(vectorizer, job: Job) -> Outcome:
    with _pool(1) as pool:
        try:
            return pool.submit(run_jobs, vectorizer, [job]).result()[0]
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
        futures = client.map(run_jobs, [vectorizer] * len(parts), parts, pure=False)
        outcomes: list[Outcome] = []
        bar = progress_bar(None, progress, "vectorizing (dask)", total=len(jobs)) if progress else None
        for future in dask_completed(futures):
            done = future.result()
            outcomes.extend(done)
            if bar is not None:
                bar.update(len(done))
        if bar is not None:
            bar.close()
        return outcomes
    finally:
        if own:
            client.close()
