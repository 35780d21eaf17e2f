"""A batch of keys -> ``(matrix, report)``: the cache answers first, runners do the rest.

:func:`vectorize_many` is what :meth:`AudioVectorizer.transform
<hover_audio.vectors.contract.AudioVectorizer.transform>` runs: the bulk cache path
for unchanged local files, then the remaining jobs on a runner (this process,
worker processes or a Dask cluster), then every failure as a report row.
:func:`call_each` runs a plain ``key -> vector`` callable the same way, in this process.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from ..audio.sources import SourceError, local_path, parse_key
from ..common.paths import default_cache_dir
from ..common.progress import progress_bar
from . import snapshot
from .jobs import Job, Outcome, cache_key, clip_keys, make_jobs, noted, open_cache
from .runners import batch_threads, run_parallel

if TYPE_CHECKING:
    import pandas as pd

REPORT_COLUMNS = ["row", "key", "kind", "message"]
# kinds of report rows whose clip got a vector all the same: a long file of which only
# the first max_duration seconds were used, a file that holds less than its header says,
# a clip of silence
NOTE_KINDS = ("truncated", "cut short", "silent")


def cached_rows(vectorizer, jobs: Sequence[Job], states: dict | None = None
                ) -> tuple[np.ndarray, np.ndarray, list[Job], dict]:
    """Answer from the cache, in bulk, the jobs on unchanged local files hashed before.

    Returns ``(rows, vectors, remaining, notes)``: the batch rows found, their vectors
    (one matrix), the jobs still to run and ``{row: (kind, text)}`` of the rows found
    whose vector was stored with a note. No file is read (100,000 warm clips: about
    2.5 s; clips of a large batch seen before come from its snapshot first,
    ``snapshot.py``). ``states``: the files' sizes and mtimes, if just looked at.
    """
    cache = open_cache(vectorizer)
    empty = np.zeros(0, dtype=np.int64), np.zeros((0, vectorizer.dim), dtype=np.float32)
    if cache is None or not jobs:
        if cache is not None:
            cache.close()
        return (*empty, list(jobs), {})
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
    digests = cache.known_hashes([entry[1] for entry in located], states)
    located = [entry for entry in located if entry[1] in digests]
    keys = [digests[path] + "|||" if start is None and end is None and channel is None
            else cache_key(digests[path], start, end, channel)
            for _, path, start, end, channel in located]
    found, matrix, notes = cache.get_matrix(keys, vectorizer.dim, with_notes=True)
    cache.close()  # no open database handle may cross the fork into workers
    if notes:  # (a few rows, if any)
        notes = {jobs[entry[0]].row: notes[key] for entry, key in zip(located, keys)
                 if key in notes}
    hits = np.fromiter((entry[0] for entry in located), dtype=np.int64, count=len(located))
    hits, matrix = hits[found], matrix[found]
    if len(hits) == len(jobs):
        return np.array([job.row for job in jobs], dtype=np.int64), matrix, [], notes
    done = set(hits.tolist())
    rows = np.fromiter((jobs[at].row for at in hits), dtype=np.int64, count=len(hits))
    return rows, matrix, [job for at, job in enumerate(jobs) if at not in done], notes


def collect(outcomes: Sequence[Outcome], count: int, dim: int | None,
            matrix: np.ndarray | None = None, keys: Sequence | None = None) -> tuple:
    """Stack outcomes into ``(matrix, failures)``: NaN rows, and ``(row, kind, message)``
    of each failed or truncated clip.

    ``matrix``, when given, already holds some rows (from the cache). When ``dim`` is
    not known (a user's function), it is the length most vectors have; a vector of
    another length fails as a "dimension" row (``keys`` name the clips in its message).
    """
    if dim is None:
        lengths = [len(o.vector) for o in outcomes if o.vector is not None]
        dim = int(np.bincount(lengths).argmax()) if lengths else None
    if matrix is None:
        matrix = np.full((count, dim or 0), np.nan, dtype=np.float32)
    plain = [o for o in outcomes if o.kind is None and o.vector is not None
             and dim is not None and len(o.vector) == dim]
    if plain:  # the common case, in one step
        matrix[[o.row for o in plain]] = np.stack([o.vector for o in plain])
    failures = []
    for outcome in outcomes:
        if outcome.kind is None and dim is not None and outcome.vector is not None \
                and len(outcome.vector) == dim:
            continue
        vector = outcome.vector
        if vector is not None and dim is not None and np.shape(vector) != (dim,):
            name = f"{keys[outcome.row]}: " if keys is not None else ""
            outcome = Outcome(outcome.row, None, "dimension",
                              f"{name}a vector of length {np.size(vector)}, where the others "
                              f"have {dim}")
            vector = None
        if vector is not None:
            matrix[outcome.row] = vector
        if outcome.kind is not None:
            failures.append((outcome.row, outcome.kind, outcome.message))
    return matrix, failures


def call_each(function: Callable, jobs: Sequence[Job], progress: bool) -> list[Outcome]:
    """Run a user's ``key -> vector`` callable (e.g. wrapped in wrappy.memoize) on every job."""
    outcomes = []
    for job in progress_bar(jobs, progress, "vectorizing"):
        try:
            vector = np.asarray(function(job.key), dtype=np.float32)
            if sum(size > 1 for size in vector.shape) > 1:  # e.g. frames x coefficients
                outcomes.append(Outcome(job.row, None, "dimension", (
                    f"{job.key}: the vectorizer returned an array of shape {vector.shape}; "
                    "it must return one vector per clip (pool the frames, e.g. .mean(axis=1))")))
                continue
            vector = vector.ravel()
            if not np.isfinite(vector).all():
                outcomes.append(Outcome(job.row, None, "nonfinite",
                                        f"{job.key}: the vectorizer returned NaN or inf"))
            else:
                outcomes.append(Outcome(job.row, vector))
        except Exception as error:  # a user's function may raise anything
            outcomes.append(Outcome(job.row, None, "error",
                                    f"{job.key}: {type(error).__name__}: {error}"))
    return outcomes


def vectorize_many(vectorizer, keys: Sequence[str], *, workers: int | None = None,
                   progress: bool = True, client=None, starts=None, ends=None,
                   channels=None) -> tuple[np.ndarray, pd.DataFrame]:
    """Vectors of ``keys`` by an audio vectorizer, as ``(matrix, report)``.

    ``matrix`` is float32, one row per key, NaN where a key failed; ``report``
    has one row (``row``, ``key``, ``kind``, ``message``) per failure or warning.
    """
    keys = clip_keys(keys)
    ranged = starts is not None or ends is not None or channels is not None
    jobs = make_jobs(keys, starts, ends, channels) if ranged else None
    batch, place = _snapshot_rows(vectorizer, keys, jobs)
    found = states = None
    notes = {}  # row -> (kind, text): the notes of vectors found, not computed
    if place is not None:  # local clips the last large batch saw, their files unchanged
        found = snapshot.lookup(place, batch, vectorizer.dim)
        notes = {int(batch.at[at]): note for at, note in found.notes.items()}
        if found.whole and len(found.vectors) == len(keys):
            return found.vectors, finish(_noted(notes, keys, found.vectors), keys,
                                         vectorizer.dim, found.vectors)[1]
        # where every clip's file is and how it is now, before anything is computed:
        # what the next snapshot records
        files = snapshot.files_of(batch, keys, jobs)
        states = snapshot.file_states(files, known=found.states)
    jobs = make_jobs(keys) if jobs is None else jobs
    matrix = np.full((len(keys), vectorizer.dim), np.nan, dtype=np.float32)
    if found is not None and len(found.positions):
        matrix[batch.at[found.positions]] = found.vectors
        taken = np.zeros(len(jobs), dtype=bool)
        taken[batch.at[found.positions]] = True
        jobs = [job for job, done in zip(jobs, taken) if not done]
    # answer what the cache knows here; this also creates the database before
    # workers could race to create it
    rows, vectors, jobs, cached_notes = cached_rows(vectorizer, jobs, states)
    matrix[rows] = vectors
    notes.update(cached_notes)
    with batch_threads(len(jobs), workers, client):  # until the snapshot is written
        outcomes = run_parallel(vectorizer, jobs, workers=workers, progress=progress,
                                client=client)
        matrix, report = finish([*outcomes, *_noted(notes, keys, matrix)], keys,
                                vectorizer.dim, matrix)
        if place is not None and _learned(matrix[batch.at], found):
            notes.update((o.row, o.note) for o in outcomes if o.note is not None)
            try:  # clips new or changed since the snapshot now have vectors: write a new one
                snapshot.write(place, batch, files, states, matrix[batch.at],
                               _by_batch_row(notes, batch))
            except OSError as error:  # a snapshot is a shortcut: never fail the batch for it
                warnings.warn(f"vector snapshot not written ({place}): {error}")
    return matrix, report


def _noted(notes: dict, keys: list, matrix: np.ndarray) -> list[Outcome]:
    """The outcomes of the rows found (not computed) whose vector has a note: reported
    exactly as when it was computed."""
    return [noted(row, keys[row], matrix[row], note) for row, note in notes.items()]


def _by_batch_row(notes: dict, batch) -> dict:
    """``{row: note}`` as ``{index in batch.at: note}``, for the rows in the snapshot batch."""
    rows = np.fromiter(notes, dtype=np.int64, count=len(notes))
    at = np.minimum(np.searchsorted(batch.at, rows), max(len(batch.at) - 1, 0))
    return {int(i): notes[int(row)] for i, row in zip(at, rows)
            if len(batch.at) and batch.at[i] == row}


def _learned(vectors: np.ndarray, found) -> bool:
    """Whether rows the snapshot did not hold got a vector (a failed file alone is no news)."""
    new = np.isfinite(vectors).all(axis=1)
    new[found.positions] = False
    return bool(new.any())


def _snapshot_rows(vectorizer, keys: list, jobs: list[Job] | None):
    """The batch's local clips and its namespace's snapshot file (None: not used).

    ``jobs``: the batch's jobs when it has range or channel columns (None: keys only).
    """
    if not vectorizer.cache or len(keys) < snapshot.MIN_ROWS:
        return None, None
    batch = snapshot.rows(keys, jobs)
    if len(batch.at) < snapshot.MIN_ROWS:
        return batch, None
    folder = vectorizer.cache_dir if vectorizer.cache_dir is not None else default_cache_dir()
    return batch, snapshot.snapshot_path(Path(folder).expanduser().absolute(),
                                         vectorizer.fingerprint, snapshot.library_of(batch))


def finish(outcomes: Sequence[Outcome], keys: list, dim: int | None,
           matrix: np.ndarray | None = None) -> tuple[np.ndarray, pd.DataFrame]:
    """:func:`collect` the outcomes, and report the failures by row and key."""
    matrix, failures = collect(outcomes, len(keys), dim, matrix, keys)
    return matrix, report_frame(failures, keys)


def failed_rows(report: pd.DataFrame) -> pd.DataFrame:
    """The report's rows of clips that got no vector (a clip with a note has one), renumbered."""
    return report[~report["kind"].isin(NOTE_KINDS)].reset_index(drop=True)


def note_lines(report: pd.DataFrame, limit: int = 10) -> list[str]:
    """Lines naming the clips that got a vector with a note (kinds in ``NOTE_KINDS``):
    ``kind: message``, at most ``limit`` and a count of the rest."""
    return _lines(report[report["kind"].isin(NOTE_KINDS)], limit)


def _lines(rows: pd.DataFrame, limit: int) -> list[str]:
    """``kind: message`` of the first ``limit`` report rows, and a count of the rest."""
    return capped([f"{kind}: {message}" for kind, message in
                   zip(rows["kind"].head(limit), rows["message"].head(limit))], len(rows), limit)


def capped(lines: list[str], total: int, limit: int = 10) -> list[str]:
    """The first ``limit`` of ``lines`` (of ``total`` in all) and a count of the rest."""
    return lines[:limit] + ([f"... and {total - limit} more"] if total > limit else [])


def failure_lines(report: pd.DataFrame, limit: int = 10) -> list[str]:
    """Lines naming the clips of a report that got no vector (noted ones did), each
    as ``kind: message`` (the message names the clip), at most ``limit`` and a count
    of the rest.

    Examples
    --------
    >>> import pandas as pd
    >>> report = pd.DataFrame({"row": [4], "key": ["a.wav"], "kind": ["decode"],
    ...                        "message": ["a.wav: cannot decode: not audio"]})
    >>> failure_lines(report)
    ['decode: a.wav: cannot decode: not audio']
    """
    return _lines(failed_rows(report), limit)


def report_frame(failures: Sequence[tuple], keys: Sequence) -> pd.DataFrame:
    """The report of ``(row, kind, message)`` failures, in row order, each with its key.

    Its columns have the same types whether it is empty or not (an int64 row; key, kind
    and message as the text type pandas gives strings), so reports concatenate cleanly.
    """
    import pandas as pd  # here, not with the module: one hover-style call needs no report

    failures = sorted(failures, key=lambda failure: failure[0])
    text = pd.Series(["text"]).dtype  # object in pandas 2, "str" in pandas 3
    rows = np.array([failure[0] for failure in failures], dtype=np.int64)
    columns = {"row": rows, "key": [keys[row] for row in rows],
               "kind": [failure[1] for failure in failures],
               "message": [failure[2] for failure in failures]}
    return pd.DataFrame({name: pd.Series(values, dtype=None if name == "row" else text)
                         for name, values in columns.items()}, columns=REPORT_COLUMNS)
