"""The clip table in memory: one row per clip, found by key, changed by operations.

:class:`ClipTable` owns the pandas table and the key -> row index of an
:class:`~hover_audio.dataset.AudioDataset`. It knows how to read columns, turn
"set this column of these keys" into an undoable operation, and apply an operation
forwards or backwards; history, journaling and events are the dataset's business.
"""
from __future__ import annotations

import threading
from typing import Iterable, Mapping, NamedTuple

import numpy as np
import pandas as pd

from ..audio.key_forms import absolute_key, canonical_key, may_have_another_spelling
from ..audio.sources import clip_id
from .history import VECTOR, Change, Operation, RowChange
from .schema import (ABSTAIN, AUDIO, LABEL, SUBSET, SUBSETS, TAGS, TRANSCRIPT, dedup_rows,
                     key_list, row_ids)

PROTECTED = (AUDIO, LABEL, SUBSET, TRANSCRIPT, TAGS)  # change only through operations


class Rows(NamedTuple):
    """How an operation reshaped the table: where each row now comes from.

    ``origin[i] >= 0``: row ``i`` was row ``origin[i]`` before; ``-1 - j``: it is
    new, with vector ``added[j]`` (a list of floats, or None).
    """

    origin: np.ndarray
    added: list

    def vectors(self, before: np.ndarray | None) -> np.ndarray | None:
        """The vector matrix after the operation, given the one before it."""
        if before is None:
            return None
        dim = before.shape[1]
        fresh = np.full((len(self.added), dim), np.nan, dtype=np.float32)
        for at, vector in enumerate(self.added):
            if vector is not None and len(vector) == dim:
                fresh[at] = vector
        old = self.origin >= 0
        out = np.empty((len(self.origin), dim), dtype=np.float32)
        out[old] = before[self.origin[old]]
        out[~old] = fresh[-1 - self.origin[~old]]
        return out


def record_id(record: Mapping) -> str:
    """The identity of a row record (as :func:`~hover_audio.dataset.schema.row_ids` gives)."""
    return clip_id(record[AUDIO], record.get("start"), record.get("end"))


def to_record(row: pd.Series, vector) -> dict:
    """One row as a JSON-safe record, with its vector under ``VECTOR``."""
    record = {}
    for name, value in row.items():
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, float) and value != value:
            value = None
        record[str(name)] = value
    record[VECTOR] = None if vector is None or not np.isfinite(vector).all() else [
        float(x) for x in vector]
    return record


class ClipTable:
    """A validated clip table (see :func:`~hover_audio.dataset.schema.normalize_table`)."""

    def __init__(self, table: pd.DataFrame):
        # column name -> its values as NumPy, read-only: converting a string column of
        # 100,000 rows takes 2-3 ms, and one label action on a page reads a few columns
        # several times over; every change empties it
        self._arrays: dict[str, np.ndarray] = {}
        self._arrays_lock = threading.Lock()
        self._generation = 0
        self._key_list: tuple[pd.Index, list[str]] | None = None
        self.frame = table.reset_index(drop=True)
        self.ids = pd.Index(row_ids(self.frame))

    @property
    def frame(self) -> pd.DataFrame:
        return self._frame

    @frame.setter
    def frame(self, table: pd.DataFrame) -> None:
        self._frame = table
        self._changed()

    def _changed(self) -> None:
        """Forget the columns read so far: call after every change to the table."""
        with self._arrays_lock:
            self._generation += 1
            self._arrays = {}

    def __len__(self) -> int:
        return len(self.frame)

    # ------------------------------------------------------------------ reading
    @property
    def columns(self) -> list[str]:
        return list(self.frame.columns)

    def keys(self) -> list[str]:
        """The keys as a new list, copied from a kept one (from the index: 50 ms at 100k)."""
        ids, kept = self.ids, self._key_list
        if kept is None or kept[0] is not ids:  # kept for the index it was made from
            kept = self._key_list = (ids, list(ids))
        return list(kept[1])

    def column(self, name: str) -> np.ndarray:
        """One column's values in row order, read-only."""
        values = self._arrays.get(name)
        if values is not None:
            return values
        generation = self._generation
        values = self.frame[name].to_numpy()
        values.flags.writeable = False
        with self._arrays_lock:  # kept only if the table did not change while it was read
            if generation == self._generation:
                self._arrays[name] = values
        return values

    def positions(self, keys: Iterable[str] | str, missing: str = "raise") -> np.ndarray:
        """Row positions of ``keys``: the one key -> row map of a dataset.

        ``missing="raise"`` raises KeyError naming unknown keys; ``"skip"``
        gives -1 for them.
        """
        keys = key_list(keys)
        found = self.ids.get_indexer(keys)
        # another spelling: '#t=1.0,2' for '#t=1,2', then 'clips/a.wav' (or 'file://',
        # './') for its full path
        for spelling in (canonical_key, lambda key: canonical_key(absolute_key(key))):
            retry = [at for at in np.flatnonzero(found < 0) if isinstance(keys[at], str)
                     and may_have_another_spelling(keys[at])]
            if retry:
                found[retry] = self.ids.get_indexer([spelling(keys[at]) for at in retry])
        if missing == "raise" and (found < 0).any():
            unknown = [key for key, at in zip(keys, found) if at < 0]
            raise KeyError(f"{len(unknown)} key(s) not in the dataset: {unknown[:10]}")
        return found

    def counts(self) -> pd.Series:
        return self.frame[SUBSET].value_counts()

    def subsets(self) -> dict[str, pd.DataFrame]:
        return {name: self.frame[self.frame[SUBSET] == name].reset_index(drop=True)
                for name in SUBSETS}

    def classes(self) -> list[str]:
        labeled = self.frame[self.frame[SUBSET] != "raw"][LABEL]
        return sorted(set(labeled) - {ABSTAIN})

    def population(self) -> pd.DataFrame:
        # counted over integer codes: a group-by over the two string columns took 50 ms at
        # 100,000 rows, and every open page asks after every label action
        label_codes, label_names = pd.factorize(self.frame[LABEL])
        subset_codes = pd.Categorical(self.frame[SUBSET], categories=list(SUBSETS)).codes
        counts = np.bincount(label_codes * len(SUBSETS) + subset_codes,
                             minlength=len(label_names) * len(SUBSETS))
        names = [str(name) for name in label_names]
        counts = pd.DataFrame(counts.reshape(len(names), len(SUBSETS)), index=names,
                              columns=list(SUBSETS))
        labels = [ABSTAIN] + sorted(set(names) - {ABSTAIN})
        table = counts.reindex(index=pd.Index(labels, dtype=self.frame[LABEL].dtype),
                               fill_value=0).astype(int)
        table.index.name, table.columns.name = LABEL, None
        return table

    def initial_label_order(self) -> list[str]:
        """Labels in train/dev/test first (sorted), then other labels seen (sorted)."""
        labels = set(self.frame[LABEL]) - {ABSTAIN}
        classes = set(self.classes())
        return sorted(classes) + sorted(labels - classes)

    # ----------------------------------------------------------------- changing
    def change(self, column: str, positions: np.ndarray, value) -> Operation:
        """The operation setting ``column`` of ``positions`` to ``value`` (empty: no change)."""
        positions = pd.unique(positions)  # a key given twice is changed once
        current = self.column(column)[positions]
        moving = current != value
        if not moving.any():
            return ()
        keys = tuple(self.ids[positions[moving]])
        return (Change(column, keys, tuple(current[moving]), value),)

    def apply(self, op: Operation, forward: bool) -> tuple[np.ndarray, set, Rows | None]:
        """Apply ``op`` (or undo it).

        Returns the rows touched, the labels it set, and how rows were added or
        removed (None when the rows stayed as they were: then positions hold).
        """
        touched, labels, rows = [], set(), None
        for change in (op if forward else reversed(op)):
            if isinstance(change, RowChange):
                rows = self._move_rows(change, forward, rows)
                arriving = change.added if forward else change.removed  # their labels too
                labels.update(str(record.get(LABEL)) for record in arriving
                              if record.get(LABEL) is not None)
                continue
            if change.column not in self.frame.columns:  # first use, e.g. a transcript
                self.frame[change.column] = "" if change.column in (TRANSCRIPT, TAGS) else None
            positions = self.ids.get_indexer(list(change.keys))
            known = positions >= 0
            values = change.new if forward else np.asarray(change.old, dtype=object)[known]
            column = self.frame.columns.get_loc(change.column)
            self.frame.iloc[positions[known], column] = values
            self._changed()
            if change.column == LABEL:
                labels.update([change.new] if forward else set(change.old))
            touched.append(positions[known])
        if rows is not None:  # row numbers moved: every row counts as touched
            return np.arange(len(self.frame)), labels - {ABSTAIN}, rows
        positions = np.unique(np.concatenate(touched)) if touched else np.array([], dtype=int)
        return positions, labels - {ABSTAIN}, None

    def _move_rows(self, change: RowChange, forward: bool, rows: Rows | None) -> Rows:
        leaving, arriving = (change.removed, change.added) if forward else \
            (change.added, change.removed)
        origin = np.arange(len(self.frame)) if rows is None else rows.origin
        added = [] if rows is None else list(rows.added)
        gone = self.ids.get_indexer([record_id(record) for record in leaving])
        keep = np.ones(len(self.frame), dtype=bool)
        keep[gone[gone >= 0]] = False
        new = pd.DataFrame([{k: v for k, v in record.items() if k != VECTOR}
                            for record in arriving])
        parts = [self.frame[keep]] + ([new] if len(new) else [])
        self.frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else \
            self.frame[keep].reset_index(drop=True)
        self.ids = pd.Index(row_ids(self.frame))
        origin = np.concatenate([origin[keep], -1 - np.arange(len(added),
                                                               len(added) + len(arriving))])
        added.extend(record.get(VECTOR) for record in arriving)
        return Rows(origin.astype(np.int64), added)

    def check_vectors(self, vectors) -> np.ndarray | None:
        """``vectors`` as a float32 (rows, dim) matrix, or None; ValueError for another shape."""
        if vectors is None:
            return None
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(self.frame):
            raise ValueError(f"vectors must be a (rows, dim) matrix with {len(self.frame)} "
                             f"rows, got shape {vectors.shape}")
        return vectors

    def write_columns(self, columns: Mapping[str, object]) -> None:
        """Set derived columns (not the key, label or subset), checking their lengths."""
        for name, values in columns.items():
            if name in PROTECTED:
                raise ValueError(f"{name!r} changes only through operations")
            if len(values) != len(self.frame):
                raise ValueError(f"column {name!r}: {len(values)} values for "
                                 f"{len(self.frame)} rows")
        for name, values in columns.items():
            self.frame[name] = values
        self._changed()

    def keep(self) -> tuple[np.ndarray | None, pd.DataFrame]:
        """Drop duplicate identities (see :func:`dedup_rows`).

        Returns the kept positions (None when nothing was dropped) and the report.
        """
        kept, report = dedup_rows(self.frame, self.ids)
        if len(kept) == len(self.frame):
            return None, report
        self.frame = self.frame.iloc[kept].reset_index(drop=True)
        self.ids = pd.Index(row_ids(self.frame))
        return kept, report
