"""Suggested tags: one-vs-rest over labels and tags, and accepting them as one operation.

Bound to :class:`~hover_audio.dataset.AudioDataset` as ``suggest_tags`` and
``accept_suggested_tags``. Every label and every tag used on at least two rows is a
target; a logistic regression per target (its rows against the other labeled or
tagged rows) gives each row a probability per target, on standardized vectors. The
``suggested_tags`` column holds, per row, up to ``top`` targets at or above
``threshold`` that the row does not carry yet, as ``tag:probability`` pairs
(``"applause:0.91;crowd:0.40"``): a derived column, recomputed and not journaled,
except as accepting clears it (that is part of the accept's operation, so undoing it
offers the suggestions the accept cleared again).
Targets compare without regard to case (``drum`` and ``Drum`` are one target, named by
the dataset's most used spelling; a row carrying either is not offered it). Rows given
in ``leave_out`` (e.g. clips whose vectors are cut short or silent) neither teach the
models nor get suggestions. Accepting a row's suggestions removes them from its cell.

Examples
--------
>>> ds.suggest_tags(threshold=0.25, top=5)              # doctest: +SKIP
>>> ds.accept_suggested_tags(ds.keys[:100])             # one undo step   # doctest: +SKIP
"""
from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

from ..common.values import is_missing
from ..maps.scaling import Scaler
from .history import Change
from .schema import ABSTAIN, LABEL, TAGS, key_list
from .tagging import fold, parse_tags, spellings, tag_changes

SUGGESTED = "suggested_tags"


def suggested_pairs(cell) -> list[tuple[str, str]]:
    """``(tag, probability as written)`` of a ``suggested_tags`` cell, as
    :func:`suggest_tags` writes it.

    Examples
    --------
    >>> suggested_pairs("rain:0.61;crowd:0.30"), suggested_pairs(None)
    ([('rain', '0.61'), ('crowd', '0.30')], [])
    """
    if is_missing(cell):
        return []
    return [(tag.strip(), probability.strip()) for tag, _, probability in
            (part.rpartition(":") for part in str(cell).split(";") if ":" in part)]


def suggest_tags(dataset, threshold: float = 0.25, top: int = 5, C: float = 1.0,
                 leave_out: Iterable[int] = ()) -> pd.DataFrame:
    """Fill ``suggested_tags``; returns ``(key, tag, probability)`` of every suggestion.

    ``leave_out``: row positions neither learned from nor given suggestions.

    Raises ValueError when there are no vectors or no target with two examples.
    """
    from sklearn.linear_model import LogisticRegression

    if dataset.vectors is None:
        raise ValueError("suggest_tags needs vectors: run vectorize() first")
    if not 0 <= threshold <= 1 or top < 1:
        raise ValueError(f"threshold must be in [0, 1] and top >= 1, got {threshold}, {top}")
    vectors = dataset.vectors
    usable = np.isfinite(vectors).all(axis=1)
    usable[np.asarray(list(leave_out), dtype=np.int64)] = False
    carried, named = _carried(dataset)
    known = usable & np.array([bool(tags) for tags in carried])
    counts: dict[str, int] = {}
    for tags in np.asarray(carried, dtype=object)[known]:
        for tag in tags:
            counts[tag] = counts.get(tag, 0) + 1
    targets = sorted(tag for tag, count in counts.items() if count >= 2)
    if not targets or known.sum() < 3:
        raise ValueError("suggest_tags needs at least one label or tag on two rows with vectors")
    scaler = Scaler.fit(vectors[known])
    train = scaler.transform(vectors[known])
    scores = np.full((len(vectors), len(targets)), np.nan)
    everyone = scaler.transform(np.where(usable[:, None], vectors, 0.0))
    rows = np.flatnonzero(known)
    for column, target in enumerate(targets):
        wanted = np.array([target in carried[at] for at in rows])
        if wanted.all():  # every example carries it: nothing to tell it from
            scores[usable, column] = 1.0
            continue
        model = LogisticRegression(C=C, max_iter=1000).fit(train, wanted)
        scores[usable, column] = model.predict_proba(everyone[usable])[:, 1]
    cells, found = [], []
    keys = dataset.keys
    for at in range(len(vectors)):
        order = [c for c in np.argsort(-np.nan_to_num(scores[at], nan=-1.0))
                 if scores[at, c] >= threshold and targets[c] not in carried[at]][:top]
        cells.append(";".join(f"{named[targets[c]]}:{scores[at, c]:.2f}" for c in order))
        found += [(keys[at], named[targets[c]], float(scores[at, c])) for c in order]
    dataset.set_derived({SUGGESTED: cells})
    return pd.DataFrame(found, columns=["key", "tag", "probability"])


def accept_suggested_tags(dataset, keys: Iterable[str] | str) -> int:
    """Add each row's suggested tags to its tags: one operation; returns rows changed."""
    keys = list(dict.fromkeys(key_list(keys)))
    with dataset._mutex:
        if SUGGESTED not in dataset.columns:
            raise ValueError("no suggestions yet: call suggest_tags() first")
        positions = dataset.positions(keys)
        table = dataset._clips
        suggested = table.column(SUGGESTED)
        known = spellings(table.column(TAGS)) if TAGS in table.columns else {}

        def accepted(at: int, have: set) -> set:  # in the dataset's spelling, if it has one
            carried = {fold(tag) for tag in have}
            return have | {known.get(fold(tag), tag) for tag, _ in suggested_pairs(suggested[at])
                           if fold(tag) not in carried}

        op = tag_changes(table, positions, accepted)
        # accepted: no longer suggestions (the other rows keep theirs), in the same
        # operation: undoing it offers them again
        cells = table.column(SUGGESTED)
        offered = [at for at in positions if not is_missing(cells[at]) and cells[at]]
        if offered:
            op += (Change(SUGGESTED, tuple(table.ids[at] for at in offered),
                          tuple(str(cells[at]) for at in offered), ""),)
        dataset._do(op)
        return sum(len(change.keys) for change in op if change.column == TAGS)


def _carried(dataset) -> tuple[list[set], dict[str, str]]:
    """Each row's label (unless ABSTAIN) and tags, case folded, and ``{folded: name}``
    (a tag's most used spelling, else the label)."""
    labels = dataset.column(LABEL)
    tags = dataset.column(TAGS) if TAGS in dataset.columns else [""] * len(labels)
    named = {fold(str(label)): str(label) for label in labels if label != ABSTAIN}
    named.update(spellings(tags))
    return [({fold(str(label))} if label != ABSTAIN else set())
            | {fold(tag) for tag in parse_tags(text)}
            for label, text in zip(labels, tags)], named
