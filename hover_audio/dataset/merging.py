"""Merging labels from elsewhere into a dataset: one undoable operation, with a report.

Bound to :class:`~hover_audio.dataset.AudioDataset` as ``merge``. A row of the
incoming table is *new* (its key is not in the dataset: added, without a vector
until the next ``vectorize``), *updated* (it fills a label, subset or transcript the
dataset does not have, or adds tags to the row's), *conflicting* (both have a different
value: the dataset's is kept unless ``overwrite``) or *same*. Everything is checked
before anything changes.
"""
from __future__ import annotations

import pandas as pd

from ..common.values import is_missing
from .clip_table import to_record
from .history import VECTOR, Change, RowChange
from .schema import (ABSTAIN, AUDIO, LABEL, SUBSET, TAGS, TRANSCRIPT, dedup_rows,
                     normalize_table, row_ids, warn_about_import)
from .tagging import join_tags, parse_tags

REPORT_COLUMNS = ["key", "action", "column", "ours", "theirs"]


def merge(dataset, table: pd.DataFrame, overwrite: bool = False) -> pd.DataFrame:
    """Merge ``table`` (a clip table) into ``dataset`` as one operation; returns the report.

    The report has a row per new key (``action="new"``) and per changed or
    conflicting value (``"updated"``/``"conflict"``), naming the column and both values.
    Incoming rows that share a clip are resolved as :meth:`from_pandas` does (one kept, by
    subset priority, with a :class:`DuplicateKeysWarning`); a new clip that is
    ``ABSTAIN`` joins ``raw``, whatever subset it came with.
    """
    incoming = normalize_table(table, AUDIO, LABEL, SUBSET)
    ids = pd.Index(row_ids(incoming))
    kept, dropped = dedup_rows(incoming, ids)
    warn_about_import(dropped, stacklevel=2)  # (its new ABSTAIN rows go to raw)
    incoming, ids = incoming.iloc[kept].reset_index(drop=True), list(ids[kept])
    if TRANSCRIPT not in incoming.columns:
        incoming[TRANSCRIPT] = ""
    report, changes, added = [], {}, []
    with dataset._mutex:
        positions = dataset.positions(ids, missing="skip")
        frame = dataset._clips.frame
        for at, record in zip(positions, incoming.to_dict("records")):
            key = record[AUDIO]
            if at < 0:
                row = {name: None for name in frame.columns}
                row.update({name: value for name, value in record.items()
                            if not is_missing(value) or name not in row})
                if row[LABEL] == ABSTAIN:
                    row[SUBSET] = "raw"
                row[VECTOR] = None
                added.append(row)
                report.append((key, "new", "", "", record[LABEL]))
                continue
            final_label = _compare(report, changes, frame, at, key, LABEL, record[LABEL],
                                   overwrite, empty=ABSTAIN)
            if not (final_label == ABSTAIN and record[SUBSET] != "raw"):
                _compare(report, changes, frame, at, key, SUBSET, record[SUBSET], overwrite,
                         empty="raw")
            text = record.get(TRANSCRIPT)
            if not is_missing(text) and text != "":
                _compare(report, changes, frame, at, key, TRANSCRIPT, str(text), overwrite,
                         empty="")
            _add_tags(report, changes, frame, at, key, record.get(TAGS))
        op = tuple(Change(column, tuple(keys), tuple(olds), new)
                   for (column, new), (keys, olds) in changes.items())
        if added:
            op += (RowChange((), tuple(_clean(row) for row in added)),)
        if op:
            dataset._do(op)
    return pd.DataFrame(report, columns=REPORT_COLUMNS)


def _compare(report, changes, frame, at, key, column, theirs, overwrite, empty):
    """Record a change of ``column`` for row ``at`` when it fills a gap (or ``overwrite``)."""
    ours = frame[column].iloc[at] if column in frame.columns else empty
    ours = empty if is_missing(ours) else ours
    if theirs == ours or theirs == empty:
        return ours
    if ours == empty or overwrite:
        _change(report, changes, key, column, ours, theirs)
        return theirs
    report.append((key, "conflict", column, ours, theirs))
    return ours


def _add_tags(report, changes, frame, at, key, theirs) -> None:
    """Record the row's tags joined with the incoming ones, when that adds any (tags
    are a set: theirs never conflict with ours, nor replace them)."""
    wanted = parse_tags(theirs)
    if not wanted:
        return
    ours = frame[TAGS].iloc[at] if TAGS in frame.columns else ""
    ours = "" if is_missing(ours) else str(ours)
    joined = join_tags(parse_tags(ours) | wanted)
    if joined != ours:
        _change(report, changes, key, TAGS, ours, joined)


def _change(report, changes, key, column, ours, theirs) -> None:
    """Record that row ``key``'s ``column`` goes from ``ours`` to ``theirs`` (grouped by
    column and new value: one change per group), and report it."""
    keys, olds = changes.setdefault((column, theirs), ([], []))
    keys.append(key)
    olds.append(ours)
    report.append((key, "updated", column, ours, theirs))


def _clean(row: dict) -> dict:
    return to_record(pd.Series({k: v for k, v in row.items() if k != VECTOR}), None)
