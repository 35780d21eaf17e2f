"""Clips whose vectors a model should not act on: failed ones, cut short or silent ones.

A clip that failed has no vector (NaN) and a ``vector_error`` cell saying why. A clip
that holds less than its header says ("cut short") or only silence got a vector all
the same: the dataset keeps no column of these notes, but the vector cache keeps each
vector's note beside it (``vectors.batch.NOTE_KINDS``), and :func:`unreliable_rows`
reads them there, in bulk, decoding nothing (as a warm ``vectorize`` would report
them). A vector that is only "truncated" (a long file of which the first
``max_duration`` seconds were used) is a fair vector and is not left out.
"""
from __future__ import annotations

import sqlite3

import numpy as np

from ..common.values import is_missing
from ..dataset.schema import RANGE_COLUMNS

UNRELIABLE_KINDS = ("cut short", "silent")


def cached_notes(dataset) -> dict[int, tuple[str, str]]:
    """``{row: (kind, text)}`` of the rows whose cached vector came with a note; empty
    when the dataset's vectorizer keeps no cache (or cannot be rebuilt here)."""
    from ..vectors.batch import cached_rows
    from ..vectors.contract import AudioVectorizer
    from ..vectors.jobs import clip_keys, make_jobs, open_cache

    vectorizer = dataset.vectorizer
    if not isinstance(vectorizer, AudioVectorizer) or not vectorizer.cache or not len(dataset):
        return {}
    starts, ends, channels = (dataset.column(name) if name in dataset.columns else None
                              for name in RANGE_COLUMNS)
    try:
        if not open_cache(vectorizer).has_notes():  # the usual case: no file looked at
            return {}
        jobs = make_jobs(clip_keys(dataset.keys), starts, ends, channels)
        return {int(row): note for row, note in cached_rows(vectorizer, jobs)[3].items()}
    except (OSError, sqlite3.Error, TypeError, ValueError):  # no cache to read: no notes
        return {}


def unreliable_rows(dataset) -> dict[int, str]:
    """``{row: why}`` of the rows a model should not label or tag: no vector (``failed:``
    and its ``vector_error``), or a vector noted ``cut short`` or ``silent``."""
    vectors = dataset.vectors
    if vectors is None:
        return {}
    errors = dataset.column("vector_error") if "vector_error" in dataset.columns else None
    found: dict[int, str] = {}
    for row in np.flatnonzero(~np.isfinite(vectors).all(axis=1)):
        error = None if errors is None or is_missing(errors[row]) else str(errors[row])
        found[int(row)] = f"failed: {error or 'no vector'}"
    keys = dataset.keys
    for row, (kind, text) in cached_notes(dataset).items():
        if kind in UNRELIABLE_KINDS and row not in found:
            found[row] = note_line(kind, keys[row], text)
    return found


def note_line(kind: str, key: str, text: str) -> str:
    """A note as vectorize's report prints it: ``kind: message``, the message naming the clip."""
    from ..vectors.jobs import note_message

    return f"{kind}: {note_message(key, text)}"
