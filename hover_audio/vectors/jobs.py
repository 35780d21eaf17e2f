"""One clip's work: parse its key, read it, hash it, look up the cache, decode, compute, store.

A *job* is one clip of a batch; :func:`clip_vector` turns it into an *outcome* (a
vector, or the kind and message of what went wrong) and never raises for bad
input. :func:`run_jobs` is the unit of work a runner (``runners.py``) hands to a
process. The vectorizer is used through its contract
(:class:`~hover_audio.vectors.contract.AudioVectorizer`): ``vector(samples, sr)``,
``dim``, ``fingerprint``, ``max_duration``, ``cache`` and ``cache_dir``.
"""
from __future__ import annotations

import os
import threading
import time
import warnings
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np

from ..audio import native_notes
from ..audio.decode import KINDS as DECODE_KINDS
from ..audio.decode import DecodeError, decode
from ..audio.sources import KINDS as SOURCE_KINDS
from ..audio.sources import ClipRef, SourceError, local_path, parse_key, read_source
from ..common.paths import default_cache_dir, key_text
from ..common.progress import progress_bar
from ..common.values import optional_number, optional_text
from .cache import VectorCache
from .content import content_hash, read_hashed
from .snapshot import file_states


class Job(NamedTuple):
    """One clip to vectorize: its row in the batch and where it is."""

    row: int
    key: str
    start: float | None = None
    end: float | None = None
    channel: int | None = None


class Outcome(NamedTuple):
    """The vector of a job (None when it failed) and what went wrong, if anything.

    ``learned`` is what the cache should store for a vector computed (not found):
    ``(cache key, file-hash memo row or None)``; see :func:`save_outcomes`. ``note``:
    ``(kind, text)`` of a vector that comes with a note (``kind`` and ``message`` say it
    in the report, see :func:`noted`), stored with the vector and found with it again.
    """

    row: int
    vector: np.ndarray | None
    kind: str | None = None
    message: str | None = None
    learned: tuple | None = None
    note: tuple | None = None


def noted(row: int, key: str, vector: np.ndarray, note: tuple, learned: tuple | None = None
          ) -> Outcome:
    """The outcome of a vector that comes with a note ``(kind, text)``, computed or found in
    the cache alike: a report row of that kind whose message is ``"{key}: {text}"``."""
    kind, text = note
    return Outcome(row, vector, kind, note_message(key, text), learned, note)


def note_message(key: str, text: str) -> str:
    """The report message of a clip's note: the clip, then what of it."""
    return f"{key}: {text}"


_CACHES: dict = {}
_CACHES_LOCK = threading.Lock()  # two threads (searches, batches) share one cache object
FLUSH_EVERY = 256  # at most this many clips run in this process between cache writes,
FLUSH_SECONDS = 0.5  # and at most about this long: a killed run loses half a second of work
LOOK_UP_GROUP = 64  # clips looked up in the cache together
RECENT_HASHES = 256  # files whose hash this process keeps (see _digest)
KEEP_BYTES = 1 << 20  # a file up to this size is decoded from the bytes read to hash it
SILENT_PEAK = 2.0**-15  # a clip none of whose samples reaches this (one 16-bit step) is silent
_RECENT: dict = {}  # (absolute path, size, mtime_ns) -> content hash
# Clips are decoded a few at a time, then their vectors computed: alternating the
# decoder and the feature code clip by clip took ~10% more (1000 demo clips on one
# core: 379 against 340 ms). At most this many clips or samples wait at once.
DECODED_CLIPS = 32
DECODED_SAMPLES = 1 << 20  # 4 MB of float32: one long clip goes alone


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
    with _CACHES_LOCK:
        if place not in _CACHES:
            _CACHES[place] = VectorCache(folder, namespace=vectorizer.fingerprint)
        return _CACHES[place]


def cache_key(digest: str, start, end, channel) -> str:
    """The cache key of a clip: its content hash plus its range and channel."""
    return "|".join([digest, optional_text(start), optional_text(end), optional_text(channel)])


class Found(NamedTuple):
    """What the cache knows of a job's clip: where it is, its key, and its vector if stored."""

    ref: ClipRef
    source: Path | bytes
    stored_as: str | None  # the cache key (None: no cache)
    memo: tuple | None  # the file-hash memo row to store, if the file was hashed afresh
    hit: np.ndarray | None
    data: bytes | None = None  # the local file's bytes, read to hash it (small files)
    note: tuple | None = None  # the hit's note, (kind, text), if stored with one


def look_up(job: Job, cache) -> Found:
    """Locate one job's clip, hash it and ask ``cache``; raises for a bad key or source."""
    ref = parse_key(job.key, job.start, job.end, job.channel)
    source = read_source(ref)
    if cache is None:
        return Found(ref, source, None, None, None)
    digest, memo = (cache.hash_file(source) if isinstance(source, Path)
                    else (content_hash(source), None))
    stored_as = cache_key(digest, ref.start, ref.end, ref.channel)
    hits, notes = cache.get_many([stored_as], with_notes=True)
    return Found(ref, source, stored_as, memo, hits.get(stored_as), note=notes.get(stored_as))


def look_up_local(jobs: Sequence[Job], cache) -> dict[int, Found]:
    """:func:`look_up` for the jobs on local files, with one cache query per table.

    Per clip, two queries cost more than the hashing (on a cold cache, a third of
    the time beside decoding and MFCC with two workers). Jobs left out (URLs,
    anything that fails here) are looked up alone, where their errors are reported.
    """
    if cache is None or len(jobs) < 2:
        return {}
    located = {}
    for job in jobs:
        try:
            ref = parse_key(job.key, job.start, job.end, job.channel)
            path = local_path(ref.location)
        except (SourceError, ValueError):
            continue
        if path is not None:
            located[job.row] = (ref, path)
    paths = {row: os.path.abspath(source) for row, (_, source) in located.items()}
    # each file looked at once for the group: one missing (no state) or not a file
    # (it cannot be read) is left to look_up, which says what is wrong
    states = file_states(paths.values())
    known = cache.known_hashes(list(paths.values()), states)
    found, digests = {}, {}
    for row, (ref, source) in located.items():
        path = paths[row]
        if path not in digests:
            digests[path] = _digest(cache, path, known.get(path), states.get(path))
        if digests[path] is not None:
            digest, memo, data = digests[path]
            found[row] = Found(ref, source, cache_key(digest, ref.start, ref.end, ref.channel),
                               memo, None, data)
    hits, notes = cache.get_many([entry.stored_as for entry in found.values()], with_notes=True)
    return {row: entry._replace(hit=hit, data=None if hit is not None else entry.data,
                                note=notes.get(entry.stored_as))
            for row, entry in found.items() for hit in [hits.get(entry.stored_as)]}


def _digest(cache, path: str, known: str | None, state: tuple | None) -> tuple | None:
    """``(hash, memo row or None, bytes or None)`` of the local file at absolute ``path``
    (its bytes when read here and at most ``KEEP_BYTES``), whose
    ``(size, mtime_ns)`` is ``state`` (None: it could not be looked at, nor read here).

    A file this process hashed lately and that has not changed since is not read
    again: the ranges of one long recording share its hash (the memo rows reach
    the cache only when the parent stores a chunk's outcomes).
    """
    if known is not None:
        return known, None, None
    if state is None:
        return None
    if (path, *state) in _RECENT:
        return _RECENT[(path, *state)], None, None
    try:
        digest, memo, data = read_hashed(path, state, keep_bytes=KEEP_BYTES)
    except OSError:
        return None
    if memo is not None:  # (path, size, mtime_ns, hash)
        _RECENT[tuple(memo[:3])] = digest
        while len(_RECENT) > RECENT_HASHES:
            _RECENT.pop(next(iter(_RECENT)))
    return digest, memo, data


class Decoded(NamedTuple):
    """A job whose clip is decoded and waits for its vector (see :func:`run_jobs`)."""

    job: Job
    audio: object  # hover_audio.audio.decode.Audio
    learned: tuple | None


def clip_vector(vectorizer, job: Job, cache, found: Found | None = None) -> Outcome:
    """Fetch from ``cache`` (or compute) the vector of one job; never raises for bad input.

    ``found``: the job's :func:`look_up`, if done already. Nothing is written
    here: what the cache should learn travels in the outcome.
    """
    step = decode_job(vectorizer, job, cache, found)
    return step if isinstance(step, Outcome) else vector_of(vectorizer, step)


def decode_job(vectorizer, job: Job, cache, found: Found | None = None) -> Outcome | Decoded:
    """The first half of :func:`clip_vector`: the outcome of a cache hit or of a clip that
    cannot be read, else the decoded clip."""
    try:
        ref, source, stored_as, memo, hit, data, note = (found if found is not None
                                                         else look_up(job, cache))
        if hit is not None:  # with the note it was stored with: as if computed again
            learned = (None, memo) if memo else None
            return (Outcome(job.row, hit, learned=learned) if note is None
                    else noted(job.row, job.key, hit, note, learned))
        with native_notes.caught(job.key, ref.location):  # (libmpg123's notes: said once)
            audio = decode(source, start=ref.start, end=ref.end, channel=ref.channel,
                           max_duration=vectorizer.max_duration, name=job.key, data=data)
        return Decoded(job, audio, None if stored_as is None else (stored_as, memo))
    except (SourceError, DecodeError) as error:
        return Outcome(job.row, None, error.kind, str(error))
    except (OSError, ValueError, RuntimeError, MemoryError) as error:
        return _failed(job, error)


def vector_of(vectorizer, decoded: Decoded) -> Outcome:
    """The second half of :func:`clip_vector`: the vector of a decoded clip."""
    job, audio, learned = decoded
    try:
        vector = vectorizer.vector(audio.samples, audio.sr)
    except (OSError, ValueError, RuntimeError, MemoryError) as error:
        return _failed(job, error)
    note = clip_note(vectorizer, audio)
    if note is None:
        return Outcome(job.row, vector, learned=learned)
    return noted(job.row, job.key, vector, note, learned)


def clip_note(vectorizer, audio) -> tuple | None:
    """What to say of a decoded clip that gets a vector all the same, as ``(kind, text)``
    (the text without the clip's key, which :func:`noted` puts before it), or None."""
    if audio.truncated:
        return "truncated", f"only the first {vectorizer.max_duration:g} s were used"
    samples = audio.samples
    if max(float(samples.max()), -float(samples.min())) < SILENT_PEAK:  # (no copy, unlike abs)
        return "silent", ("silent (no sample reaches one 16-bit step); its vector says nothing"
                          " of a sound")
    if audio.promised is not None:
        return "cut short", (f"holds {len(samples) / audio.sr:.3f} s of the {audio.promised:.3f}"
                             " s its header says (a copy or download cut short?); the vector is"
                             " of what it holds")
    return None


def _failed(job: Job, error: Exception) -> Outcome:
    return Outcome(job.row, None, "error", f"{job.key}: {type(error).__name__}: {error}")


def _cache_or_none(vectorizer) -> VectorCache | None:
    try:
        return open_cache(vectorizer)
    except Exception as error:  # an unusable cache costs speed, never the batch
        warnings.warn(f"vector cache unavailable, computing without it: {error}")
        return None


def save_outcomes(vectorizer, outcomes: Sequence[Outcome]) -> None:
    """Store what ``outcomes`` computed (vectors, their notes, file hashes) in the
    vectorizer's cache, in one transaction.

    The process that runs the batch writes; workers only read, so they never wait
    for each other's write locks.
    """
    learned = [o for o in outcomes if o.learned is not None]
    if not learned:
        return
    cache = _cache_or_none(vectorizer)
    if cache is None:
        return
    computed = [o for o in learned if o.learned[0] is not None and o.vector is not None]
    try:
        cache.store([(o.learned[0], o.vector) for o in computed],
                    [o.learned[1] for o in learned if o.learned[1] is not None],
                    [(o.learned[0], *o.note) for o in computed if o.note is not None])
    except Exception as error:  # a cache that cannot be written costs speed, never the batch
        warnings.warn(f"vector cache not updated: {error}")


def run_jobs(vectorizer, jobs: Sequence[Job], progress: bool = False,
             save: bool = True) -> list[Outcome]:
    """Run jobs in this process, in order (a worker's unit of work): a few clips
    decoded, then their vectors computed (``DECODED_CLIPS``, ``DECODED_SAMPLES``).

    ``save``: store the new vectors in the cache every ``FLUSH_EVERY`` clips or
    ``FLUSH_SECONDS``, and at the end; a worker passes False and its parent saves
    (:func:`save_outcomes`).
    """
    cache = _cache_or_none(vectorizer)
    outcomes: list[Outcome] = []
    saved, last = 0, time.monotonic()
    found: dict[int, Found] = {}
    waiting: list[Outcome | Decoded] = []  # in job order; see DECODED_SAMPLES
    held = 0
    for at, job in enumerate(progress_bar(jobs, progress, "vectorizing")):
        if at % LOOK_UP_GROUP == 0:
            found = look_up_local(jobs[at:at + LOOK_UP_GROUP], cache)
        step = decode_job(vectorizer, job, cache, found.get(job.row))
        waiting.append(step)
        if isinstance(step, Decoded):
            held += step.audio.samples.size
        if held >= DECODED_SAMPLES or len(waiting) >= DECODED_CLIPS or at == len(jobs) - 1:
            outcomes += [done if isinstance(done, Outcome) else vector_of(vectorizer, done)
                         for done in waiting]
            waiting, held = [], 0
        if save and (len(outcomes) - saved >= FLUSH_EVERY
                     or time.monotonic() - last >= FLUSH_SECONDS):
            save_outcomes(vectorizer, outcomes[saved:])
            saved, last = len(outcomes), time.monotonic()
    if save and saved < len(outcomes):
        save_outcomes(vectorizer, outcomes[saved:])
    return outcomes


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
    outcome = clip_vector(vectorizer, Job(0, clip_keys([key])[0]), open_cache(vectorizer))
    save_outcomes(vectorizer, [outcome])
    if outcome.vector is None:
        raise clip_error(outcome.kind, outcome.message)
    return outcome.vector


def clip_keys(keys) -> list[str]:
    """``keys`` as a list of strings, a path object (``pathlib.Path``) as its path.

    Raises TypeError naming the first key that is neither a string nor a path (a
    number, None, a float NaN from an empty table cell), before any clip is read.
    """
    keys = list(keys)
    if all(type(key) is str for key in keys):  # the usual case, ~1 ms per 100,000 keys
        return keys
    texts = [key_text(key) for key in keys]
    for row, key in enumerate(texts):
        if not isinstance(key, str):
            raise TypeError(f"key {row}: a clip key is a path or URL (str or path object), "
                            f"got {type(key).__name__} {key!r}")
    return texts


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
