"""Several tags per clip, beside its one label: added and removed as operations.

Bound to :class:`~hover_audio.dataset.AudioDataset` as ``add_tags``, ``remove_tags``
and ``tags_of``. A row's tags are a set, kept in the ``tags`` column as sorted
``;``-joined text (``"applause;crowd"``, ``""`` for none), so they survive every table
format and a CSV opens readably. One call is one operation (one undo step),
journaled like labels. :func:`changed_since_vectors` tells the files whose audio no
longer gives the vectors the labels were given by (``hover-audio tag`` skips them).

Examples
--------
>>> ds.add_tags(["sfx/Track 18.wav"], ["applause", "crowd"])   # doctest: +SKIP
1
>>> ds.tags_of("sfx/Track 18.wav")                              # doctest: +SKIP
{'applause', 'crowd'}
"""
from __future__ import annotations

import os
from typing import Iterable

import numpy as np

from ..common.values import is_missing
from .history import Change
from .schema import TAG_SEPARATOR, TAGS, key_list, one_key


def changed_since_vectors(dataset, rows: dict, progress: bool = False
                          ) -> tuple[dict[str, str], str | None]:
    """The files whose audio changed since the dataset's vectors were made, by content.

    ``rows``: ``{file: (key, position)}`` of a whole-file row of each file. Each key is
    vectorized again with the dataset's vectorizer and compared with the row's stored
    vector: the vector cache is keyed by the file's content, so a file whose bytes did
    not change costs a look-up, one whose bytes changed (its tags only, or its audio)
    is vectorized afresh, and only one whose audio changed gives another vector. Times
    are not the test (saving the workspace, touching a file, writing tags: none of these
    changes the audio), except as the cache uses them: it reads a file again when its
    size or modification time changed, so audio rewritten keeping both, to the
    nanosecond, passes for unchanged here as everywhere else.

    Returns ``({file: why}, note)``; ``note`` (else None) says why nothing was checked:
    the dataset has vectors but its vectorizer cannot be rebuilt or run in this process.
    """
    from ..vectors.batch import failed_rows

    if dataset.vectors is None or not rows:
        return {}, None
    if dataset.vectorizer is None:
        return {}, ("the workspace's vectorizer cannot be rebuilt here, so files changed "
                    "since its vectors were made are not looked for")
    files = sorted(rows)
    try:
        matrix, report = dataset.vectorizer.transform([rows[name][0] for name in files],
                                                      progress=progress)
    except (ImportError, OSError) as error:  # its extra not installed, its cache unwritable
        return {}, (f"the workspace's vectorizer cannot run here ({error}), so files changed "
                    "since its vectors were made are not looked for")
    failed = failed_rows(report)
    failures = dict(zip(failed["row"].astype(int), failed["message"]))
    changed = {}
    for at, name in enumerate(files):
        stored = np.asarray(dataset.vectors[rows[name][1]], dtype=np.float32)
        if at in failures:  # (a file gone is named by the caller, which reads it first)
            if np.isfinite(stored).any() and os.path.exists(name):
                changed[name] = f"its audio cannot be read now, as it was then ({failures[at]})"
        elif stored.shape != matrix[at].shape or not np.allclose(
                matrix[at], stored, rtol=1e-4, atol=1e-6, equal_nan=True):
            changed[name] = "its audio changed since the workspace's vectors were made"
    return changed, None


def check_tag(tag) -> str:
    """A tag as stored: stripped text, not empty, without ``;``."""
    if not isinstance(tag, str) or not tag.strip():
        raise ValueError(f"a tag is non-empty text, got {tag!r}")
    if TAG_SEPARATOR in tag:
        raise ValueError(f"a tag cannot contain {TAG_SEPARATOR!r}: {tag!r}")
    return tag.strip()


def parse_tags(text) -> set[str]:
    """The set of tags of a ``tags`` cell (``"a;b"``; missing or ``""``: none)."""
    if is_missing(text) or text == "":
        return set()
    if isinstance(text, (set, list, tuple, frozenset)):
        return {check_tag(tag) for tag in text}
    return {tag.strip() for tag in str(text).split(TAG_SEPARATOR) if tag.strip()}


def join_tags(tags: Iterable[str]) -> str:
    return TAG_SEPARATOR.join(sorted(set(tags)))


def tags_of(dataset, key: str) -> set[str]:
    """The tags of the row ``key`` (KeyError for an unknown key)."""
    position = dataset.positions([one_key(key)])[0]
    if TAGS not in dataset.columns:
        return set()
    return parse_tags(dataset.column(TAGS)[position])


def add_tags(dataset, keys: Iterable[str] | str, tags: Iterable[str] | str) -> int:
    """Add ``tags`` to the rows ``keys`` (one operation); returns how many rows changed."""
    return _retag(dataset, keys, tags, lambda have, wanted: have | wanted)


def remove_tags(dataset, keys: Iterable[str] | str, tags: Iterable[str] | str) -> int:
    """Remove ``tags`` from the rows ``keys`` (one operation); returns how many rows changed."""
    return _retag(dataset, keys, tags, lambda have, wanted: have - wanted)


def _retag(dataset, keys, tags, combine) -> int:
    keys = list(dict.fromkeys(key_list(keys)))
    wanted = {check_tag(tag) for tag in ([tags] if isinstance(tags, str) else tags)}
    with dataset._mutex:
        positions = dataset.positions(keys)
        table = dataset._clips
        current = (table.column(TAGS)[positions] if TAGS in table.columns
                   else np.full(len(positions), "", dtype=object))
        groups: dict[str, tuple[list, list]] = {}
        for at, text in zip(positions, current):
            old = "" if is_missing(text) else str(text)
            new = join_tags(combine(parse_tags(old), wanted))
            if new != old:
                ids, olds = groups.setdefault(new, ([], []))
                ids.append(table.ids[at])
                olds.append(old)
        op = tuple(Change(TAGS, tuple(ids), tuple(olds), new)
                   for new, (ids, olds) in groups.items())
        return dataset._do(op) if op else 0
