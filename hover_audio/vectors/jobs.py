"""One clip's work: parse its key, read it, hash it, look up the cache, decode, compute, store.

A *job* is one clip of a batch; :func:`clip_vector` turns it into an *outcome* (a
vector, or the kind and message of what went wrong) and never raises for bad
input. :func:`run_jobs` is the unit of work a runner (``runners.py``) hands to a
process. The vectorizer is used through its contract
(:class:`~hover_audio.vectors.contract.AudioVectorizer`): ``vector(samples, sr)``,
``dim``, ``fingerprint``, ``max_duration``, ``cache`` and ``cache_dir``.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np

from ..audio.decode import KINDS as DECODE_KINDS
from ..audio.decode import DecodeError, decode
from ..audio.sources import KINDS as SOURCE_KINDS
from ..audio.sources import SourceError, parse_key, read_source
from ..common.paths import default_cache_dir
from ..common.progress import progress_bar
from ..common.values import format_number, optional_number
from .cache import VectorCache, content_hash


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


def open_cache(vectorizer) -> VectorCache | None:
    """The vectorizer's cache, or None when it has caching turned off.

    One cache object per folder and namespace in a process, so calling a
    vectorizer key by key (hover's style) does not reopen the database each time;
    the object reopens its connection itself after a fork.
    """
    if not vectorizer.cache:
        return None
    folder = vectorizer.cache_dir if vectorizer.cache_dir is not None else default_cache_dir()
    place = (str(Path(folder).absolute()), vectorizer.fingerprint)
    if place not in _CACHES:
        _CACHES[place] = VectorCache(folder, namespace=vectorizer.fingerprint)
    return _CACHES[place]


def cache_key(digest: str, start, end, channel) -> str:
    """The cache key of a clip: its content hash plus its range and channel."""
    return "|".join([digest, _text(start), _text(end), _text(channel)])


def _text(value) -> str:
    if value is None:
        return ""
    return str(value) if isinstance(value, int) else format_number(value)


def clip_vector(vectorizer, job: Job, cache) -> Outcome:
    """Compute (or fetch from ``cache``) the vector of one job; never raises for bad input."""
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


def run_jobs(vectorizer, jobs: Sequence[Job], progress: bool = False) -> list[Outcome]:
    """Run jobs in this process, one after another (a worker's unit of work)."""
    try:
        cache = open_cache(vectorizer)
    except Exception as error:  # an unusable cache costs speed, never the batch
        warnings.warn(f"vector cache unavailable, computing without it: {error}")
        cache = None
    return [clip_vector(vectorizer, job, cache)
            for job in progress_bar(jobs, progress, "vectorizing")]


class ClipError(Exception):
    """A clip failed for a reason that is not its source or its decoding (``kind``)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def clip_error(kind: str, message: str) -> Exception:
    """The exception of a failed outcome: ``SourceError``, ``DecodeError`` or ``ClipError``."""
    if kind in SOURCE_KINDS:
        return SourceError(kind, message)
    if kind in DECODE_KINDS:
        return DecodeError(kind, message)
    return ClipError(kind, message)


def vectorize_one(vectorizer, key: str) -> np.ndarray:
    """The vector of one key; raises the clip's error when it fails."""
    outcome = clip_vector(vectorizer, Job(0, key), open_cache(vectorizer))
    if outcome.vector is None:
        raise clip_error(outcome.kind, outcome.message)
    return outcome.vector


def make_jobs(keys: Sequence[str], starts=None, ends=None, channels=None) -> list[Job]:
    """Jobs for ``keys``, with optional per-key range and channel sequences."""
    count = len(keys)
    if starts is None and ends is None and channels is None:
        return [Job(row, key) for row, key in enumerate(keys)]

    def column(values, cast):
        if values is None:
            return [None] * count
        return [optional_number(value, cast) for value in values]

    return [
        Job(row, key, start, end, channel)
        for row, (key, start, end, channel) in enumerate(
            zip(keys, column(starts, float), column(ends, float), column(channels, int))
        )
    ]
