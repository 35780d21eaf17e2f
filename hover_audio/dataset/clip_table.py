"""The clip table in memory: one row per clip, found by key, changed by operations.

:class:`ClipTable` owns the pandas table and the key -> row index of an
:class:`~hover_audio.dataset.AudioDataset`. It knows how to read columns, turn
"set this column of these keys" into an undoable operation, and apply an operation
forwards or backwards; history, journaling and events are the dataset's business.
"""
from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from .history import Change, Operation
from .schema import ABSTAIN, AUDIO, LABEL, SUBSET, SUBSETS, dedup_rows, row_ids

PROTECTED = (AUDIO, LABEL, SUBSET)  # change only through operations


class ClipTable:
    """A validated clip table (see :func:`~hover_audio.dataset.schema.normalize_table`)."""

    def __init__(self, table: pd.DataFrame):
        self.frame = table.reset_index(drop=True)
        self.ids = pd.Index(row_ids(self.frame))

    def __len__(self) -> int:
        return len(self.frame)

    # ------------------------------------------------------------------ reading
    @property
    def columns(self) -> list[str]:
        return list(self.frame.columns)

    def column(self, name: str) -> np.ndarray:
        """One column's values in row order, read-only."""
        values = self.frame[name].to_numpy()
        values.flags.writeable = False
        return values

    def positions(self, keys: Iterable[str] | str, missing: str = "raise") -> np.ndarray:
        """Row positions of ``keys``: the one key -> row map of a dataset.

        ``missing="raise"`` raises KeyError naming unknown keys; ``"skip"``
        gives -1 for them.
        """
        keys = [keys] if isinstance(keys, str) else list(keys)
        found = self.ids.get_indexer(keys)
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
        counts = self.frame.value_counts([LABEL, SUBSET]).unstack(fill_value=0)
        labels = [ABSTAIN] + sorted(set(self.frame[LABEL]) - {ABSTAIN})
        table = counts.reindex(index=labels, columns=list(SUBSETS), fill_value=0).astype(int)
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
        current = self.frame[column].to_numpy()[positions]
        moving = current != value
        if not moving.any():
            return ()
        keys = tuple(self.ids[positions[moving]])
        return (Change(column, keys, tuple(current[moving]), value),)

    def apply(self, op: Operation, forward: bool) -> tuple[np.ndarray, set]:
        """Apply ``op`` (or undo it); returns the rows touched and the labels it set."""
        touched, labels = [], set()
        for change in (op if forward else reversed(op)):
            positions = self.ids.get_indexer(list(change.keys))
            known = positions >= 0
            values = change.new if forward else np.asarray(change.old, dtype=object)[known]
            column = self.frame.columns.get_loc(change.column)
            self.frame.iloc[positions[known], column] = values
            if change.column == LABEL:
                labels.update([change.new] if forward else set(change.old))
            touched.append(positions[known])
        rows = np.unique(np.concatenate(touched)) if touched else np.array([], dtype=int)
        return rows, labels - {ABSTAIN}

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
