"""Keys -> vectors: fetch, hash, look up the cache, decode, compute, store.

One clip's work is :func:`clip_vector`; :func:`vectorize_many` runs it over a
batch (see ``parallel.py`` for where it runs) and turns every failure into a
report row instead of an exception.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from .schema import format_number, is_missing

REPORT_COLUMNS = ["row", "key", "kind", "message"]


@dataclass(frozen=True)
class Job:
    """One clip to vectorize: its row in the batch and where it is."""

    row: int
    key: str
    start: float | None = None
    end: float | None = None
    channel: int | None = None


@dataclass(frozen=True)
class Outcome:
    """The vector of a job (None when it failed) and what went wrong, if anything."""

    row: int
    vector: np.ndarray | None
    kind: str | None = None
    message: str | None = None


def open_cache(vectorizer):
    """The vectorizer's cache, or None when it has caching turned off."""
    if not getattr(vectorizer, "cache", False):
        return None
    from .cache import VectorCache

    return VectorCache(vectorizer.cache_dir, namespace=vectorizer.fingerprint)


def clip_vector(vectorizer, job: Job, cache) -> Outcome:
    """Compute (or fetch from ``cache``) the vector of one job; never raises for bad input."""
    from .cache import content_hash
    from .decode import DecodeError, decode
    from .sources import SourceError, parse_key, read_source

    try:
        ref = parse_key(job.key, job.start, job.end, job.channel)
        source = read_source(ref)
        cache_key = None
        if cache is not None:
            digest = cache.file_hash(source) if isinstance(source, Path) else content_hash(source)
            cache_key = "|".join(
                [digest, _text(ref.start), _text(ref.end), _text(ref.channel)]
            )
            hit = cache.get(cache_key)
            if hit is not None:
                return Outcome(job.row, hit)
        audio = decode(source, start=ref.start, end=ref.end, channel=ref.channel,
                       max_duration=vectorizer.max_duration, name=job.key)
        vector = vectorizer.vector(audio.samples, audio.sr)
        if cache is not None:
            cache.put(cache_key, vector)
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


def run_jobs(vectorizer, jobs: Sequence[Job]) -> list[Outcome]:
    """Run jobs in this process, one after another (a worker's unit of work)."""
    cache = open_cache(vectorizer)
    return [clip_vector(vectorizer, job, cache) for job in jobs]


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


def collect(outcomes: Sequence[Outcome], count: int, dim: int | None) -> tuple:
    """Stack outcomes into ``(matrix, report)``: NaN rows and report rows for failures."""
    if dim is None:
        dims = {len(o.vector) for o in outcomes if o.vector is not None}
        dim = dims.pop() if len(dims) == 1 else None
    matrix = np.full((count, dim or 0), np.nan, dtype=np.float32)
    rows = []
    for outcome in outcomes:
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

        open_cache(vectorizer)  # create the database here, before workers race to

        outcomes = run_parallel(vectorizer, jobs, workers=workers, progress=progress,
                                client=client)
        dim = vectorizer.dim
    else:
        outcomes = call_each(vectorizer, jobs, progress)
        dim = None
    matrix, report = collect(outcomes, len(keys), dim)
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
