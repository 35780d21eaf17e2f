"""AudioDataset: the one table of clips, its subsets, labels, history and workspace."""
from __future__ import annotations

import logging
import os
import threading
import warnings
from pathlib import Path
from typing import Callable, Iterable, Mapping

import numpy as np
import pandas as pd

from . import schema
from .folder import folder_table
from .history import Change, ChangeEvent, History, operation_to_json
from .schema import ABSTAIN, AUDIO, LABEL, SUBSET, SUBSETS
from .tables import read_table
from .workspace import Workspace
from .dataset_vectors import VectorsMixin
from .dataset_workspace import WorkspaceMixin

log = logging.getLogger(__name__)


class DuplicateKeysWarning(UserWarning):
    """Input rows shared a key; all but one of each were dropped by ``dedup()``."""


class AudioDataset(WorkspaceMixin, VectorsMixin):
    """Clips keyed by path or URL, in subsets raw/train/dev/test, with labels.

    Build one with :meth:`from_pandas`, :meth:`from_folder`, :meth:`from_file` or
    :meth:`load`. The dataset is the single source of truth: views (``dfs``,
    ``to_pandas()``) are copies, and every change goes through :meth:`set_labels`
    and :meth:`commit`, which can be undone and, once the dataset is saved to a
    workspace, are journaled to disk before they return.
    """

    def __init__(self, table: pd.DataFrame, vectors=None):
        self._table = table.reset_index(drop=True)
        self._ids = pd.Index(self._identities(self._table))
        self._workspace: Workspace | None = None
        self._vectors = None
        self.vectors = vectors
        self.label_order: list[str] = self._initial_label_order()
        self.history = History()
        self.vectorizer = None  # what made ``vectors``, for queries by new files
        self._seq = 0
        self._listeners: list[Callable[[ChangeEvent], None]] = []
        self._mutex = threading.RLock()

    # ----------------------------------------------------------------- building
    @classmethod
    def from_pandas(
        cls,
        df: pd.DataFrame,
        feature_key: str = AUDIO,
        label_key: str = LABEL,
        subset_key: str = SUBSET,
    ) -> "AudioDataset":
        """Build a dataset from a DataFrame, as hover does.

        No ``subset_key`` column puts every row in ``raw``; no ``label_key``
        column labels every row ``ABSTAIN``. Other columns are kept untouched.
        Rows sharing a key are resolved by :meth:`dedup` with a warning.

        Raises
        ------
        ValueError
            Naming each bad row: empty or missing key, unknown subset,
            missing or non-string label.
        """
        table = schema.normalize_table(df, feature_key, label_key, subset_key)
        dataset = cls(table)
        dropped = dataset.dedup()
        dataset.label_order = dataset._initial_label_order()
        if len(dropped):
            examples = ", ".join(repr(key) for key in dropped[AUDIO].unique()[:5])
            warnings.warn(
                f"{len(dropped)} duplicate row(s) dropped (kept by priority "
                f"test > dev > train > raw, then the later row): {examples}",
                DuplicateKeysWarning,
                stacklevel=2,
            )
        unlabeled = dataset._table[
            (dataset._table[SUBSET] != "raw") & (dataset._table[LABEL] == ABSTAIN)
        ]
        if len(unlabeled):
            warnings.warn(
                f"{len(unlabeled)} row(s) in train/dev/test are {ABSTAIN}, e.g. "
                f"{unlabeled[AUDIO].iloc[0]!r}; label them or commit them to raw",
                stacklevel=2,
            )
        return dataset

    @classmethod
    def from_folder(
        cls,
        root: str | os.PathLike,
        split: Mapping[str, float] | None = None,
        seed: int = 0,
        segment: float | Mapping | None = None,
    ) -> "AudioDataset":
        """Build a dataset from the audio files under ``root``.

        The label of a file is the name of its first-level subfolder; files
        directly under ``root`` are ``ABSTAIN`` in ``raw``. Labeled files go to
        ``train``, or, with ``split={"train": .8, "dev": .1, "test": .1}``, to
        subsets by a seeded split stratified by label.

        ``segment`` cuts each file into clips (rows with ``#t=`` ranges): a number
        is a window length in seconds; a dict is passed to
        :func:`hover_audio.segments.segment` (e.g. ``{"mode": "nonsilent"}``).
        Files are split before they are cut, so one file's clips share a subset.
        """
        table = folder_table(root, split=split, seed=seed, segment=segment)
        return cls.from_pandas(table)

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> "AudioDataset":
        """Read a table written by :meth:`export` (``.csv``, ``.json``, ``.parquet``)."""
        return cls.from_pandas(read_table(path))

    # ------------------------------------------------------------------ reading
    def __len__(self) -> int:
        return len(self._table)

    def __repr__(self) -> str:
        counts = self._table[SUBSET].value_counts()
        parts = ", ".join(f"{name} {int(counts.get(name, 0))}" for name in SUBSETS)
        where = f"; workspace {self.workspace}" if self._workspace else ""
        return f"AudioDataset({len(self)} clips: {parts}{where})"

    def to_pandas(self) -> pd.DataFrame:
        """A copy of the table: ``audio``, ``label``, ``SUBSET`` and every other column."""
        return self._table.copy()

    @property
    def columns(self) -> list[str]:
        """The table's column names, without copying the table."""
        return list(self._table.columns)

    def column(self, name: str) -> np.ndarray:
        """The values of one column, in row order (read-only; change them through operations)."""
        values = self._table[name].to_numpy()
        values.flags.writeable = False
        return values

    @property
    def keys(self) -> list[str]:
        """The identity of each row: its ``audio`` key, plus ``#t=`` when ranged by columns."""
        return list(self._ids)

    @property
    def dfs(self) -> dict[str, pd.DataFrame]:
        """Subset name -> a copy of that subset's rows (as hover's ``dataset.dfs``)."""
        return {
            name: self._table[self._table[SUBSET] == name].reset_index(drop=True)
            for name in SUBSETS
        }

    @property
    def classes(self) -> list[str]:
        """Sorted labels seen in train/dev/test, ``ABSTAIN`` excluded."""
        labeled = self._table[self._table[SUBSET] != "raw"][LABEL]
        return sorted(set(labeled) - {ABSTAIN})

    def population(self) -> pd.DataFrame:
        """Counts of rows per label (``ABSTAIN`` first) and subset."""
        counts = self._table.value_counts([LABEL, SUBSET]).unstack(fill_value=0)
        labels = [ABSTAIN] + sorted(set(self._table[LABEL]) - {ABSTAIN})
        table = counts.reindex(index=labels, columns=list(SUBSETS), fill_value=0).astype(int)
        table.index.name, table.columns.name = LABEL, None
        return table

    @property
    def vectors(self) -> np.ndarray | None:
        """Float32 vectors aligned with the rows of ``to_pandas()``, or None."""
        return self._vectors

    @vectors.setter
    def vectors(self, value) -> None:
        if value is not None:
            value = np.asarray(value, dtype=np.float32)
            if value.ndim != 2 or value.shape[0] != len(self._table):
                raise ValueError(
                    f"vectors must be a (rows, dim) matrix with {len(self._table)} rows, "
                    f"got shape {value.shape}"
                )
        self._vectors = value
        if self._workspace is not None:
            self._workspace.snapshot(self._table, self._meta(), self._vectors)

    @property
    def workspace(self) -> Path | None:
        """The folder this dataset is attached to, or None."""
        return self._workspace.folder if self._workspace else None

    def positions(self, keys: Iterable[str] | str) -> np.ndarray:
        """Row positions of ``keys``; raises KeyError naming the unknown ones."""
        keys = [keys] if isinstance(keys, str) else list(keys)
        found = self._ids.get_indexer(keys)
        if (found < 0).any():
            missing = [key for key, at in zip(keys, found) if at < 0]
            raise KeyError(f"{len(missing)} key(s) not in the dataset: {missing[:10]}")
        return found

    # --------------------------------------------------------------- operations
    def set_labels(self, keys: Iterable[str] | str, label: str) -> int:
        """Label the rows ``keys``; returns how many rows changed.

        ``ABSTAIN`` may only be given to ``raw`` rows (commit others to raw first).
        """
        label = schema.check_label(label)
        with self._mutex:
            positions = self.positions(keys)
            if label == ABSTAIN:
                labeled_subsets = self._table[SUBSET].to_numpy()[positions] != "raw"
                if labeled_subsets.any():
                    bad = self._ids[positions[labeled_subsets]]
                    raise ValueError(
                        f"cannot set {ABSTAIN} on {len(bad)} row(s) outside raw; "
                        f"commit them to raw first: {list(bad[:10])}"
                    )
            return self._do(self._change(LABEL, positions, label))

    def commit(self, keys: Iterable[str] | str, subset: str) -> int:
        """Move the rows ``keys`` to ``subset``; returns how many rows moved.

        Raises
        ------
        ValueError
            When an ``ABSTAIN`` row would enter train/dev/test (listing the keys).
        """
        subset = schema.check_subset(subset)
        with self._mutex:
            positions = self.positions(keys)
            if subset != "raw":
                unlabeled = self._table[LABEL].to_numpy()[positions] == ABSTAIN
                if unlabeled.any():
                    bad = self._ids[positions[unlabeled]]
                    raise ValueError(
                        f"cannot commit {len(bad)} {ABSTAIN} row(s) to {subset}; "
                        f"label them first: {list(bad[:10])}"
                    )
            return self._do(self._change(SUBSET, positions, subset))

    def undo(self) -> int:
        """Revert the last operation; returns how many rows changed (0: nothing to undo)."""
        with self._mutex:
            op = self.history.pop_undo()
            if op is None:
                return 0
            return self._record("undo", op, forward=False)

    def redo(self) -> int:
        """Re-apply the last undone operation; returns how many rows changed."""
        with self._mutex:
            op = self.history.pop_redo()
            if op is None:
                return 0
            return self._record("redo", op, forward=True)

    def dedup(self) -> pd.DataFrame:
        """Keep one row per key: test > dev > train > raw, then the later row.

        Returns
        -------
        pandas.DataFrame
            The dropped rows (``position``, key, subset, label) with the
            ``kept_subset`` and ``kept_label`` of the row that won.
        """
        with self._mutex:
            keep, report = schema.dedup_rows(self._table, self._ids)
            if len(keep) == len(self._table):
                return report
            self._table = self._table.iloc[keep].reset_index(drop=True)
            self._ids = pd.Index(self._identities(self._table))
            if self._vectors is not None:
                self._vectors = self._vectors[keep]
            if self._workspace is not None:
                self._workspace.snapshot(self._table, self._meta(), self._vectors)
            return report

    def on_change(self, callback: Callable[[ChangeEvent], None]) -> Callable[[], None]:
        """Call ``callback(event)`` after every change; returns a function to stop."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    # -------------------------------------------------------------- persistence
    # ----------------------------------------------------------------- internal
    @staticmethod
    def _identities(table: pd.DataFrame) -> list[str]:
        if "start" not in table.columns and "end" not in table.columns:
            return list(table[AUDIO])
        starts = table["start"] if "start" in table.columns else [None] * len(table)
        ends = table["end"] if "end" in table.columns else [None] * len(table)
        return [schema.clip_id(*row) for row in zip(table[AUDIO], starts, ends)]

    def _initial_label_order(self) -> list[str]:
        labels = set(self._table[LABEL]) - {ABSTAIN}
        classes = set(self.classes)
        return sorted(classes) + sorted(labels - classes)

    def _change(self, column: str, positions: np.ndarray, value) -> tuple:
        positions = pd.unique(positions)  # a key given twice is changed once
        current = self._table[column].to_numpy()[positions]
        moving = current != value
        if not moving.any():
            return ()
        keys = tuple(self._ids[positions[moving]])
        return (Change(column, keys, tuple(current[moving]), value),)

    def _do(self, op: tuple) -> int:
        if not op:
            return 0
        changed = self._record("do", op, forward=True)
        self.history.record(op)
        return changed

    def _record(self, kind: str, op: tuple, forward: bool) -> int:
        positions = self._apply(op, forward)
        self._seq += 1
        if self._workspace is not None:
            entry = {"seq": self._seq, "op": kind}
            if kind == "do":
                entry["changes"] = operation_to_json(op)
            try:
                self._workspace.append(entry)
            except BaseException:
                self._apply(op, not forward)
                self._seq -= 1
                raise
        self._notify(ChangeEvent(positions, tuple(change.column for change in op), kind))
        return len(positions)

    def _apply(self, op: tuple, forward: bool) -> np.ndarray:
        touched = []
        for change in (op if forward else reversed(op)):
            positions = self._ids.get_indexer(list(change.keys))
            known = positions >= 0
            values = change.new if forward else np.asarray(change.old, dtype=object)[known]
            column = self._table.columns.get_loc(change.column)
            self._table.iloc[positions[known], column] = values
            if change.column == LABEL:
                for label in ([change.new] if forward else set(change.old)):
                    if label != ABSTAIN and label not in self.label_order:
                        self.label_order.append(label)
            touched.append(positions[known])
        return np.unique(np.concatenate(touched)) if touched else np.array([], dtype=int)

    def _notify(self, event: ChangeEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a broken view must never break labeling
                log.exception("change listener %r failed", listener)

    def _meta(self) -> dict:
        return {
            "journal_seq": self._seq,
            "label_order": self.label_order,
            "history": self.history.to_json(),
            "vectorizer": _describe(self.vectorizer),
        }


def _describe(vectorizer):
    from .features import describe_vectorizer

    return describe_vectorizer(vectorizer)


SupervisableAudioDataset = AudioDataset
"""hover's name for :class:`AudioDataset`."""
