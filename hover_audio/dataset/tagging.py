"""Several tags per clip, beside its one label: added and removed as operations.

Bound to :class:`~hover_audio.dataset.AudioDataset` as ``add_tags``, ``remove_tags``
and ``tags_of``. A row's tags are a set, kept in the ``tags`` column as sorted
``;``-joined text (``"applause;crowd"``, ``""`` for none), so they survive every table
format and a CSV opens readably. One call is one operation (one undo step),
journaled like labels.

Tags compare without regard to case, everywhere (search, colour, counts, add, remove,
suggestions): ``drum`` and ``Drum`` are one tag. Adding a tag spelled like one already
in the dataset but for case reuses the dataset's spelling (the most used one), so a tag
keeps one spelling and its count is not split; a row that carries it in any case
already is left as it is. Removing a tag removes it in every case. :func:`changed_since_vectors` tells the files whose audio no
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

from ..common.values import fold, is_missing
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


def spellings(cells) -> dict[str, str]:
    """``{fold(tag): spelling}`` over ``tags`` cells: each tag's most used spelling
    (ties: the first in sorted order)."""
    return {folded: _usual(ways) for folded, ways in _uses(cells)[1].items()}


def tag_counts(cells) -> list[tuple[str, int, list[str]]]:
    """``(spelling, rows, other spellings)`` per tag (any case), most used first."""
    rows, uses = _uses(cells)
    named = {folded: _usual(ways) for folded, ways in uses.items()}
    return sorted(((named[folded], count, sorted(set(uses[folded]) - {named[folded]}))
                   for folded, count in rows.items()), key=lambda item: (-item[1], item[0]))


def _uses(cells) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """In one pass over ``tags`` cells: rows per tag (any case), and the rows of each of
    its spellings."""
    rows: dict[str, int] = {}
    uses: dict[str, dict[str, int]] = {}
    for cell in cells:
        carried = parse_tags(cell)
        for folded in {fold(tag) for tag in carried}:
            rows[folded] = rows.get(folded, 0) + 1
        for tag in carried:
            ways = uses.setdefault(fold(tag), {})
            ways[tag] = ways.get(tag, 0) + 1
    return rows, uses


def _usual(ways: dict[str, int]) -> str:
    """The most used spelling (ties: the first in sorted order)."""
    return min(ways, key=lambda way: (-ways[way], way))


def carries(cell, wanted: Iterable[str]) -> bool:
    """Whether a ``tags`` cell carries any of ``wanted`` (in any case)."""
    folded = {fold(tag) for tag in wanted}
    return any(fold(tag) in folded for tag in parse_tags(cell))


def tags_of(dataset, key: str) -> set[str]:
    """The tags of the row ``key`` (KeyError for an unknown key)."""
    position = dataset.positions([one_key(key)])[0]
    if TAGS not in dataset.columns:
        return set()
    return parse_tags(dataset.column(TAGS)[position])


def add_tags(dataset, keys: Iterable[str] | str, tags: Iterable[str] | str) -> int:
    """Add ``tags`` to the rows ``keys`` (one operation); returns how many rows changed.

    A row carrying a tag in another case keeps it; a tag the dataset spells otherwise
    (case only) is added in the dataset's spelling."""
    return _retag(dataset, keys, tags, lambda have, wanted: have | {
        tag for tag in wanted if fold(tag) not in {fold(mine) for mine in have}}, True)


def remove_tags(dataset, keys: Iterable[str] | str, tags: Iterable[str] | str) -> int:
    """Remove ``tags`` (in any case) from the rows ``keys`` (one operation); returns how
    many rows changed."""
    return _retag(dataset, keys, tags, lambda have, wanted: {
        tag for tag in have if fold(tag) not in {fold(gone) for gone in wanted}})


def _retag(dataset, keys, tags, combine, respell: bool = False) -> int:
    keys = list(dict.fromkeys(key_list(keys)))
    wanted = {check_tag(tag) for tag in ([tags] if isinstance(tags, str) else tags)}
    with dataset._mutex:
        positions = dataset.positions(keys)
        table = dataset._clips
        if respell and TAGS in table.columns:  # the dataset's spelling of each tag
            known = spellings(table.column(TAGS))
            wanted = {known.get(fold(tag), tag) for tag in wanted}
        if respell:  # "drum, Drum" typed together: one of them
            wanted = set({fold(tag): tag for tag in sorted(wanted, reverse=True)}.values())
        op = tag_changes(table, positions, lambda at, have: combine(have, wanted))
        return dataset._do(op) if op else 0


def tag_changes(table, positions, retag) -> tuple:
    """The changes giving the rows at ``positions`` of the clip table ``table`` the tags
    ``retag(position, their tags)``, rows that end alike grouped (unchanged ones left out)."""
    current = (table.column(TAGS)[positions] if TAGS in table.columns
               else np.full(len(positions), "", dtype=object))
    groups: dict[str, tuple[list, list]] = {}
    for at, text in zip(positions, current):
        old = "" if is_missing(text) else str(text)
        new = join_tags(retag(at, parse_tags(old)))
        if new != old:
            ids, olds = groups.setdefault(new, ([], []))
            ids.append(table.ids[at])
            olds.append(old)
    return tuple(Change(TAGS, tuple(ids), tuple(olds), new) for new, (ids, olds) in groups.items())
