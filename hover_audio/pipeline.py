"""Keys -> vectors: fetch, hash, look up the cache, decode, compute, store.

One clip's work is :func:`clip_vector`; :func:`vectorize_many` runs it over a
batch (see ``parallel.py`` for where it runs) and turns every failure into a
report row instead of an exception.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, NamedTuple, Sequence

import numpy as np
import pandas as pd

from .schema import format_number, is_missing

REPORT_COLUMNS = ["row", "key", "kind", "message"]


class Job(NamedTuple):
    """One clip to vectorize: its row in the batch and where it is."""

    row: int
    key: str
    start: float | None = None
    end: float | None = None
    channel: int | None = None


class Outcome(NamedTuple):
    """The vector of a job (None when it failed) and what went wrong, if anything."""

    row: int
    vector: np.ndarray | None
    kind: str | None = None
    message: str | None = None


_CACHES: dict = {}


def open_cache(vectorizer):
    """The vectorizer's cache, or None when it has caching turned off.

    One cache object per folder and namespace in a process, so calling a
    vectorizer key by key (hover's style) does not reopen the database each time;
    the object reopens its connection itself after a fork.
    """
    if not getattr(vectorizer, "cache", False):
        return None
    from .cache import VectorCache, default_cache_dir

    folder = vectorizer.cache_dir if vectorizer.cache_dir is not None else default_cache_dir()
    place = (str(Path(folder).absolute()), vectorizer.fingerprint)
    if place not in _CACHES:
        _CACHES[place] = VectorCache(folder, namespace=vectorizer.fingerprint)
    return _CACHES[place]


def cache_key(digest: str, start, end, channel) -> str:
    """The cache key of a clip: its content hash plus its range and channel."""
    return "|".join([digest, _text(start), _text(end), _text(channel)])


def cached_rows(vectorizer, jobs: Sequence[Job]) -> tuple[np.ndarray, np.ndarray, list[Job]]:
    """Answer from the cache, in bulk, the jobs on unchanged local files hashed before.

    Returns ``(rows, vectors, remaining)``: the batch rows found, their vectors
    (one matrix) and the jobs still to run. No file is read, so a warm library
    of 100,000 clips loads in about a second.
    """
    cache = open_cache(vectorizer)
    empty = np.zeros(0, dtype=np.int64), np.zeros((0, vectorizer.dim), dtype=np.float32)
    if cache is None or not jobs:
        if cache is not None:
            cache.close()
        return (*empty, list(jobs))
    from .sources import SourceError, local_path, parse_key

    located = []  # (job index, path, start, end, channel)
    for at, job in enumerate(jobs):
        if job.start is None and job.end is None and "#" not in job.key \
                and "://" not in job.key:  # a plain path: nothing to parse
            located.append((at, job.key, None, None, job.channel))
            continue
        try:
            ref = parse_key(job.key, job.start, job.end, job.channel)
            path = local_path(ref.location)
        except SourceError:
            continue  # reported by the worker
        if path is not None:
            located.append((at, str(path), ref.start, ref.end, ref.channel))
    digests = cache.known_hashes([entry[1] for entry in located])
    located = [entry for entry in located if entry[1] in digests]
    keys = [digests[path] + "|||" if start is None and end is None and channel is None
            else cache_key(digests[path], start, end, channel)
            for _, path, start, end, channel in located]
    found, matrix = cache.get_matrix(keys, vectorizer.dim)
    cache.close()  # no open database handle may cross the fork into workers
    hits = np.fromiter((entry[0] for entry in located), dtype=np.int64, count=len(located))
    hits, matrix = hits[found], matrix[found]
    if len(hits) == len(jobs):
        return np.arange(len(jobs)), matrix, []
    done = set(hits.tolist())
    rows = np.fromiter((jobs[at].row for at in hits), dtype=np.int64, count=len(hits))
    return rows, matrix, [job for at, job in enumerate(jobs) if at not in done]


def clip_vector(vectorizer, job: Job, cache) -> Outcome:
    """Compute (or fetch from ``cache``) the vector of one job; never raises for bad input."""
    from .cache import content_hash
    from .decode import DecodeError, decode
    from .sources import SourceError, parse_key, read_source

    try:
        ref = parse_key(job.key, job.start, job.end, job.channel)
        source = read_source(ref)
        stored_as = None
        if cache is not None:
            digest = cache.file_hash(source) if isinstance(source, Path) else content_hash(source)
            stored_as = cache_key(digest, ref.start, ref.end, ref.channel)
            hit = cache.get(stored_as)
            if hit is not None:
                return Outcome(job.row, hit)
        audio = decode(source, start=ref.start, end=ref.end, channel=ref.channel,
                       max_duration=vectorizer.max_duration, name=job.key)
        vector = vectorizer.vector(audio.samples, audio.sr)
        if cache is not None:
            cache.put(stored_as, vector)
        if audio.truncated:
            return Outcome(job.row, vector, "truncated",
                           f"{job.key}: only the first {vectorizer.max_duration:g} s were used")
        return Outcome(job.row, vector)
    except (SourceError, DecodeError) as error:
        return Outcome(job.row, None, error.kind, str(error))
    except (OSError, ValueError, RuntimeError, MemoryError) as error:
        return Outcome(job.row, None, "error", f"{job.key}: {type(error).__name__}: {error}")


def _text(value) -> str:
    if value is None:
        return ""
    return str(value) if isinstance(value, int) else format_number(value)


def run_jobs(vectorizer, jobs: Sequence[Job], progress: bool = False) -> list[Outcome]:
    """Run jobs in this process, one after another (a worker's unit of work)."""
    try:
        cache = open_cache(vectorizer)
    except Exception as error:  # an unusable cache costs speed, never the batch
        import warnings

        warnings.warn(f"vector cache unavailable, computing without it: {error}")
        cache = None
    return [clip_vector(vectorizer, job, cache)
            for job in _progress(jobs, progress, "vectorizing")]


def vectorize_one(vectorizer, key: str) -> np.ndarray:
    """The vector of one key; raises the clip's error when it fails."""
    from .decode import DecodeError
    from .sources import SourceError

    outcome = clip_vector(vectorizer, Job(0, key), open_cache(vectorizer))
    if outcome.vector is None:
        error_type = SourceError if outcome.kind in SOURCE_KINDS else DecodeError
        raise error_type(outcome.kind, outcome.message)
    return outcome.vector


SOURCE_KINDS = {"bad_key", "not_found", "fetch", "timeout", "too_large"}


def make_jobs(keys: Sequence[str], starts=None, ends=None, channels=None) -> list[Job]:
    """Jobs for ``keys``, with optional per-key range and channel sequences."""
    count = len(keys)
    if starts is None and ends is None and channels is None:
        return [Job(row, key) for row, key in enumerate(keys)]

    def column(values, cast):
        if values is None:
            return [None] * count
        return [None if is_missing(value) else cast(value) for value in values]

    return [
        Job(row, key, start, end, channel)
        for row, (key, start, end, channel) in enumerate(
            zip(keys, column(starts, float), column(ends, float), column(channels, int))
        )
    ]


def collect(outcomes: Sequence[Outcome], count: int, dim: int | None,
            matrix: np.ndarray | None = None) -> tuple:
    """Stack outcomes into ``(matrix, report)``: NaN rows and report rows for failures.

    ``matrix``, when given, already holds some rows (from the cache).
    """
    if dim is None:
        dims = {len(o.vector) for o in outcomes if o.vector is not None}
        dim = dims.pop() if len(dims) == 1 else None
    if matrix is None:
        matrix = np.full((count, dim or 0), np.nan, dtype=np.float32)
    plain = [o for o in outcomes if o.kind is None and o.vector is not None
             and dim is not None and len(o.vector) == dim]
    if plain:  # the common case, in one step
        matrix[[o.row for o in plain]] = np.stack([o.vector for o in plain])
    rows = []
    for outcome in outcomes:
        if outcome.kind is None and dim is not None and outcome.vector is not None \
                and len(outcome.vector) == dim:
            continue
        vector = outcome.vector
        if vector is not None and dim is not None and np.shape(vector) != (dim,):
            outcome = Outcome(outcome.row, None, "dimension",
                              f"vector of shape {np.shape(vector)}, expected ({dim},)")
            vector = None
        if vector is not None:
            matrix[outcome.row] = vector
        if outcome.kind is not None:
            rows.append((outcome.row, None, outcome.kind, outcome.message))
    report = pd.DataFrame(rows, columns=REPORT_COLUMNS).sort_values("row", ignore_index=True)
    return matrix, report


def ensure_persist_folder(function: Callable) -> None:
    """Create the folder a ``wrappy.memoize(persist_path=...)`` callable writes to.

    wrappy writes its pickle every ``persist_batch_size`` calls and raises when
    the folder is missing (hover's documented ``custom_cache/`` setup crashed so).
    """
    import inspect

    try:
        persist_path = inspect.getclosurevars(function).nonlocals.get("persist_path")
    except (TypeError, ValueError):
        return
    if isinstance(persist_path, str) and persist_path:
        Path(persist_path).absolute().parent.mkdir(parents=True, exist_ok=True)


def call_each(function: Callable, jobs: Sequence[Job], progress: bool) -> list[Outcome]:
    """Run a user's ``key -> vector`` callable (e.g. wrapped in wrappy.memoize) on every job."""
    ensure_persist_folder(function)
    outcomes = []
    for job in _progress(jobs, progress, "vectorizing"):
        try:
            vector = np.asarray(function(job.key), dtype=np.float32).ravel()
            if not np.isfinite(vector).all():
                outcomes.append(Outcome(job.row, None, "nonfinite",
                                        f"{job.key}: the vectorizer returned NaN or inf"))
            else:
                outcomes.append(Outcome(job.row, vector))
        except Exception as error:  # a user's function may raise anything
            outcomes.append(Outcome(job.row, None, "error",
                                    f"{job.key}: {type(error).__name__}: {error}"))
    return outcomes


def _progress(items, enabled: bool, label: str, total: int | None = None):
    if not enabled:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=label, total=total, unit="clip")


def vectorize_many(vectorizer, keys: Sequence[str], *, workers: int | None = None,
                   progress: bool = True, client=None, starts=None, ends=None,
                   channels=None) -> tuple[np.ndarray, pd.DataFrame]:
    """Vectors of ``keys`` as ``(matrix, report)``; see ``MFCCVectorizer.transform``."""
    keys = list(keys)
    jobs = make_jobs(keys, starts, ends, channels)
    if hasattr(vectorizer, "vector") and hasattr(vectorizer, "fingerprint"):
        from .parallel import run_parallel

        dim = vectorizer.dim
        # answer what the cache knows here; this also creates the database
        # before workers could race to create it
        rows, vectors, jobs = cached_rows(vectorizer, jobs)
        matrix = np.full((len(keys), dim), np.nan, dtype=np.float32)
        matrix[rows] = vectors
        outcomes = run_parallel(vectorizer, jobs, workers=workers, progress=progress,
                                client=client)
    else:
        outcomes = call_each(vectorizer, jobs, progress)
        dim = matrix = None
    matrix, report = collect(outcomes, len(keys), dim, matrix)
    report["key"] = [keys[row] for row in report["row"]]
    return matrix, report


def vectorize_table(table: pd.DataFrame, vectorizer=None, **options) -> tuple:
    """Vectors of a clip table's rows: ``(matrix, report, errors)``.

    Uses the table's ``start``/``end``/``channel`` columns when present;
    ``errors`` is a Series of "kind: message" per row (None where it worked).
    """
    if vectorizer is None:
        from .features import MFCCVectorizer

        vectorizer = MFCCVectorizer()
    ranges = {name: table[name] if name in table.columns else None
              for name in ("start", "end", "channel")}
    matrix, report = vectorize_many(vectorizer, list(table["audio"]), starts=ranges["start"],
                                    ends=ranges["end"], channels=ranges["channel"], **options)
    errors = pd.Series(None, index=table.index, dtype=object)
    failed = report[report["kind"] != "truncated"]
    if len(failed):
        errors.iloc[failed["row"].to_numpy(dtype=int)] = (
            failed["kind"] + ": " + failed["message"]).to_numpy()
    return matrix, report, errors
