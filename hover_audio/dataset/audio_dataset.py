"""AudioDataset: the one table of clips, its subsets, labels, history and workspace.

The dataset is a facade over collaborators, each with one job:
:class:`~hover_audio.dataset.clip_table.ClipTable` (the table in memory),
:class:`~hover_audio.dataset.history.History` (undo/redo),
:class:`~hover_audio.dataset.store.Workspace` (the folder it persists to) and
:class:`~hover_audio.dataset.embedding.DatasetEmbedding` (vectors, layout, search);
row edits (ranges, transcripts) are operations written in :mod:`.editing`.
"""
from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Callable, Iterable, Mapping

import numpy as np
import pandas as pd

from ..vectors.contract import describe, outdated, rebuild, warn_outdated
from . import copies, editing, embedding, merging, schema, subset_frames, tagging
from . import tag_suggestions as suggestions
from .clip_table import ClipTable
from .folder import folder_table
from .hover_names import HoverNames
from .history import ChangeEvent, History, Operation, changed_rows, operation_to_json, replay
from .schema import ABSTAIN, AUDIO, LABEL, SUBSET, SUBSETS, DuplicateKeysWarning  # noqa: F401
from .store import Workspace, open_dataset
from .formats import read_file, write_file

log = logging.getLogger(__name__)


class AudioDataset(HoverNames):
    """Clips keyed by path or URL, in subsets raw/train/dev/test, with labels.

    Build one with :meth:`from_pandas`, :meth:`from_folder`, :meth:`from_file` or
    :meth:`load`. The single source of truth: ``to_pandas()`` is a copy and ``dfs`` a
    working copy whose label edits :meth:`synchronize_df_to_dictl` applies (see
    :mod:`.subset_frames`); every change is an operation (:meth:`set_labels`,
    :meth:`commit`, ...), undoable and, in a workspace, journaled before it returns.
    ``pickle``, ``copy.copy`` and ``copy.deepcopy`` give a detached copy, attached to no
    workspace (its changes stay in memory; see :mod:`.copies`).
    """

    def __init__(self, table: pd.DataFrame, vectors=None):
        self._mutex = threading.RLock()
        self._clips = ClipTable(table)
        self._workspace: Workspace | None = None
        self._vectors = None
        self.vectors = vectors
        self.label_order: list[str] = self._clips.initial_label_order()
        self.history = History()
        self.vectorizer = None  # what made ``vectors``, for queries by new files
        self._made_by = None  # what made the saved vectors, when it could not be rebuilt
        self._seq = 0
        self._listeners: list[Callable[[ChangeEvent], None]] = []
        self._embedding = embedding.DatasetEmbedding(self)
        self._working: subset_frames.WorkingFrames | None = None  # what ``dfs`` handed out
        self._changes = 0  # counts the changes (events), so ``dfs`` knows it is stale

    __getstate__, __deepcopy__ = copies.state_of, copies.deep_copy  # detached copies

    def __setstate__(self, state: dict) -> None:  # a fresh lock, no workspace or listeners
        AudioDataset.__init__(self, state["table"], state["vectors"])
        copies.restore(self, state)

    # ----------------------------------------------------------------- building
    @classmethod
    def from_pandas(cls, df: pd.DataFrame, feature_key: str = AUDIO, label_key: str = LABEL,
                    subset_key: str = SUBSET) -> "AudioDataset":
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
        dataset = cls(schema.normalize_table(df, feature_key, label_key, subset_key))
        dropped = dataset.dedup()
        dataset.label_order = dataset._clips.initial_label_order()
        schema.warn_about_import(dropped, dataset._clips.frame, stacklevel=3)
        return dataset

    @classmethod
    def from_folder(cls, root: str | os.PathLike, split: Mapping[str, float] | None = None,
                    seed: int = 0, segment: float | str | Mapping | None = None,
                    channels: str | None = None) -> "AudioDataset":
        """Build a dataset from the audio files under ``root``: a file's label is its
        first-level subfolder (``ABSTAIN`` in ``raw`` directly under ``root``), labeled files go
        to ``train`` or, with ``split={"train": .8, "dev": .1, "test": .1}``, to subsets by a
        seeded split stratified by label. ``segment`` cuts files into ``#t=`` range rows (a
        window in seconds, or ``"nonsilent"``: cut at silences) after the split, so a file's clips
        share a subset; ``channels="split"`` makes a row per channel (``#channel=N``)."""
        return cls.from_pandas(folder_table(root, split=split, seed=seed, segment=segment,
                                            channels=channels))

    @classmethod
    def from_file(cls, path: str | os.PathLike, format: str | None = None,
                  audio_root=None) -> "AudioDataset":
        """Read our table (``.csv``/``.json``/``.parquet``) or another tool's file (``format``:
        see :mod:`.formats`); records it cannot read are left out, with a warning naming them."""
        return cls.from_pandas(read_file(path, format, audio_root, warn=True)[0])

    # ------------------------------------------------------------------ reading
    def __len__(self) -> int:
        return len(self._clips)

    def __repr__(self) -> str:
        counts = self._clips.counts()
        parts = ", ".join(f"{name} {int(counts.get(name, 0))}" for name in SUBSETS)
        where = f"; workspace {self.workspace}" if self._workspace else ""
        return f"AudioDataset({len(self)} clips: {parts}{where})"

    def to_pandas(self) -> pd.DataFrame:
        """A copy of the table: ``audio``, ``label``, ``SUBSET`` and every other column."""
        return self._clips.frame.copy()

    @property
    def columns(self) -> list[str]:
        """The table's column names, without copying the table."""
        return self._clips.columns

    def column(self, name: str) -> np.ndarray:
        """The values of one column, in row order (read-only; change them through operations)."""
        return self._clips.column(name)

    @property
    def keys(self) -> list[str]:
        """The identity of each row: its ``audio`` key, plus ``#t=`` when ranged by columns."""
        return self._clips.keys()

    @property
    def classes(self) -> list[str]:
        """Sorted labels seen in train/dev/test, ``ABSTAIN`` excluded."""
        return self._clips.classes()

    def population(self) -> pd.DataFrame:
        """Counts of rows per label (``ABSTAIN`` first) and subset."""
        return self._clips.population()

    @property
    def vectors(self) -> np.ndarray | None:
        """Float32 vectors aligned with the rows of ``to_pandas()``, or None."""
        return self._vectors

    @vectors.setter
    def vectors(self, value) -> None:
        value = self._clips.check_vectors(value)
        with self._mutex:
            self._vectors, self._made_by = value, None
            self._snapshot()

    @property
    def workspace(self) -> Path | None:
        """The folder this dataset is attached to, or None."""
        return self._workspace.folder if self._workspace else None

    def positions(self, keys: Iterable[str] | str, missing: str = "raise") -> np.ndarray:
        """Row positions of ``keys``; unknown keys raise KeyError (``missing="skip"``: -1)."""
        return self._clips.positions(keys, missing)

    # --------------------------------------------------------------- operations
    def set_labels(self, keys: Iterable[str] | str, label: str | Iterable[str]) -> int:
        """Label the rows ``keys``: one ``label`` for all, or one label per key.

        One call is one operation (one undo step), however many labels it sets.
        ``ABSTAIN`` may only be given to ``raw`` rows (commit others to raw first).
        Returns how many rows changed.
        """
        keys = schema.key_list(keys)
        each = isinstance(label, (list, tuple, np.ndarray, pd.Series))
        labels = list(label) if each else [label] * len(keys)
        if len(labels) != len(keys):
            raise ValueError(f"{len(labels)} labels for {len(keys)} keys")
        labels = np.array([schema.check_label(value) for value in labels], dtype=object)
        with self._mutex:
            positions = self.positions(keys)
            self._refuse(positions, (labels == ABSTAIN)
                         & (self._clips.column(SUBSET)[positions] != "raw"),
                         f"cannot set {ABSTAIN} on {{}} row(s) outside raw; commit to raw first")
            op = sum((self._clips.change(LABEL, positions[labels == value], value)
                      for value in dict.fromkeys(labels)), ())
            return self._do(op)

    def commit(self, keys: Iterable[str] | str, subset: str) -> int:
        """Move the rows ``keys`` to ``subset``; returns how many rows moved.

        Raises ValueError when an ``ABSTAIN`` row would enter train/dev/test (listing the keys).
        """
        subset = schema.check_subset(subset)
        with self._mutex:
            positions = self.positions(keys)
            self._refuse(positions, (self._clips.column(LABEL)[positions] == ABSTAIN)
                         & (subset != "raw"),
                         f"cannot commit {{}} {ABSTAIN} row(s) to {subset}; label them first")
            return self._do(self._clips.change(SUBSET, positions, subset))

    def undo(self) -> int:
        """Revert the last operation; returns how many rows changed (0: nothing to undo)."""
        with self._mutex:
            return self._step("undo", self.history.pop_undo(), forward=False)

    def redo(self) -> int:
        """Re-apply the last undone operation; returns how many rows changed."""
        with self._mutex:
            return self._step("redo", self.history.pop_redo(), forward=True)

    # ranges of a file and transcripts, one undoable operation each (see dataset/editing.py)
    set_range, split, add_range = editing.set_range, editing.split, editing.add_range
    remove, set_transcript = editing.remove, editing.set_transcript
    merge = merging.merge  # labels from another tool's file: one undoable operation
    add_tags, remove_tags, tags_of = tagging.add_tags, tagging.remove_tags, tagging.tags_of
    suggest_tags, accept_suggested_tags = suggestions.suggest_tags, suggestions.accept_suggested_tags

    def dedup(self) -> pd.DataFrame:
        """Keep one row per key: test > dev > train > raw, then the later row. Returns the
        dropped rows (``position``, key, subset, label, ``kept_subset``, ``kept_label``)."""
        with self._mutex:
            kept, report = self._clips.keep()
            if kept is not None:
                if self._vectors is not None:
                    self._vectors = self._vectors[kept]
                self._changes += 1
                self._snapshot()
            return report

    def set_derived(self, columns: Mapping[str, np.ndarray | list], kind: str = "derived") -> None:
        """Write columns computed from the data (predictions, flags, layouts): not journaled
        or undone, saved with the next snapshot; pages get a ``kind`` change event."""
        with self._mutex:
            self._clips.write_columns(columns)
        self._notify(ChangeEvent(np.arange(len(self)), tuple(columns), kind))

    def on_change(self, callback: Callable[[ChangeEvent], None]) -> Callable[[], None]:
        """Call ``callback(event)`` after every change; returns a function to stop."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    # ------------------------------------------------------ vectors, map, search
    def vectorize(self, vectorizer=None, **options) -> pd.DataFrame:
        """Compute ``vectors`` for every row; returns the report of failed clips. ``vectorizer``:
        a :class:`~hover_audio.vectors.Vectorizer` (default MFCC) or hover's ``key -> vector``
        callable; failed rows get NaN and a ``vector_error``; ``options`` go to ``transform``."""
        return self._embedding.vectorize(vectorizer, **options)

    def compute_nd_embedding(self, vectorizer=None, method: str | None = "umap",
                             dimension: int = 2, seed: int | None = 0,
                             aspect: str | None = None, **options):
        """Map the vectors to ``dimension`` coordinates (hover's signature): vectorizes first if
        needed, fits on raw+train+dev, transforms test, writes ``embed_{dimension}d_{i}`` (NaN for
        failed clips), stores the layout for the same vectors and parameters; ``aspect`` (see
        :meth:`aspects`) says what near means. Returns the ``LayoutReducer``."""
        return self._embedding.compute_nd_embedding(vectorizer, method, dimension, seed,
                                                    aspect, **options)

    compute_2d_embedding = embedding.compute_2d_embedding  # hover's shortcut

    def similarity_index(self, vectorizer=None, aspect: str | None = None):
        """A :class:`~hover_audio.maps.search.SimilarityIndex` over this dataset's vectors;
        ``aspect`` (see :meth:`aspects`) says what "more like this" means."""
        return self._embedding.similarity_index(vectorizer, aspect)

    def aspects(self) -> list[str]:
        """What "similar" can mean: "overall" first, e.g. "timbre" (same voice or instrument),
        "shape" (same word or gesture); last "labels", learned from the labels outside test."""
        return self._embedding.aspects()

    # -------------------------------------------------------------- persistence
    def save(self, folder: str | os.PathLike | None = None, overwrite: bool = False) -> Path:
        """Write a workspace and attach this dataset to it.

        With no ``folder``, checkpoint the attached workspace (a fresh snapshot
        and an empty journal). Saving to a new folder detaches from the old one.
        """
        moving = folder is not None and Path(folder).absolute() != self.workspace
        if not (moving and self._workspace is not None):  # else close() warns
            subset_frames.warn_unsynced(self, "saved")
        with self._mutex:
            if moving:
                workspace = Workspace.create(Path(folder).absolute(), overwrite)
                self.close()
                self._workspace = workspace
            if self._workspace is None:
                raise ValueError("this dataset is not attached to a workspace: save(folder)")
            self._workspace.checkpoint(self._clips.frame, self._meta(), self._vectors)
            return self._workspace.folder

    @classmethod
    def load(cls, folder: str | os.PathLike, attach: bool = True) -> "AudioDataset":
        """Open a workspace: its snapshot plus every intact journaled operation.

        A damaged journal line costs only its own operation: the journal is kept
        aside (``journal.damaged-<time>.jsonl``), a warning names it, and an
        attached workspace is checkpointed at once, so new operations never sit
        behind the damage. With ``attach=False`` the workspace is only read:
        nothing is locked or written and later operations are not journaled.
        """
        return open_dataset(cls, Path(folder).absolute(), attach)

    def export(self, path: str | os.PathLike, format: str | None = None,
               include_unlabeled: bool = False) -> Path:
        """Write the table (``.csv``/``.json``/``.parquet``), or another tool's ``format``
        (:mod:`.formats`; ``ABSTAIN`` rows only with ``include_unlabeled``), atomically."""
        subset_frames.warn_unsynced(self, "exported")
        return write_file(self.to_pandas(), path, format, include_unlabeled=include_unlabeled)

    def close(self) -> None:
        """Checkpoint the workspace (one fresh snapshot, an empty journal) and detach."""
        if self._workspace is not None:
            subset_frames.warn_unsynced(self, "closed")
            with self._mutex:
                try:
                    self._workspace.checkpoint(self._clips.frame, self._meta(), self._vectors)
                finally:
                    self._workspace.close()
                    self._workspace = None

    def __enter__(self) -> "AudioDataset":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ----------------------------------------------------------------- internal
    def _refuse(self, positions: np.ndarray, bad: np.ndarray, message: str) -> None:
        if bad.any():
            keys = self._clips.ids[positions[bad]]
            raise ValueError(f"{message.format(len(keys))}: {list(keys[:10])}")

    def _step(self, kind: str, op: Operation | None, forward: bool) -> int:
        return 0 if op is None else self._record(kind, op, forward)

    def _do(self, op: Operation) -> int:
        if not op:
            return 0
        changed = self._record("do", op, forward=True)
        self.history.record(op)
        return changed

    def _record(self, kind: str, op: Operation, forward: bool) -> int:
        positions = self._apply(op, forward)
        self._seq += 1
        if self._workspace is not None:
            entry = {"seq": self._seq, "op": kind, "changes": operation_to_json(op)}
            try:
                self._workspace.append(entry)
            except BaseException:
                self._apply(op, not forward)
                self._seq -= 1
                raise
        self._notify(ChangeEvent(positions, tuple(change.column for change in op), kind))
        return changed_rows(op, len(positions))

    def _apply(self, op: Operation, forward: bool) -> np.ndarray:
        positions, labels, rows = self._clips.apply(op, forward)
        if rows is not None:  # rows added or removed: their vectors follow
            self._vectors = rows.vectors(self._vectors)
        self.label_order.extend(sorted(labels - set(self.label_order)))
        return positions

    def _restore(self, meta: dict, entries) -> None:
        """Take the state a snapshot holds, then replay the journal after it."""
        self.label_order = list(meta.get("label_order", self.label_order))
        self.history = History.from_json(meta.get("history"))
        if self._vectors is not None:
            self._made_by = meta.get("vectorizer")
            self.vectorizer = rebuild(self._made_by)
            warn_outdated(self.stale_vectorizer)
        self._seq = replay(entries, self.history, self._apply,
                           after=int(meta.get("journal_seq", 0)))

    def _snapshot(self) -> None:
        if self._workspace is not None:
            self._workspace.snapshot(self._clips.frame, self._meta(), self._vectors)

    def _notify(self, event: ChangeEvent) -> None:
        self._changes += 1
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a broken view must never break labeling
                log.exception("change listener %r failed", listener)

    def _meta(self) -> dict:
        made_by = self._made_by if self.vectorizer is None else describe(self.vectorizer)
        return {"journal_seq": self._seq, "label_order": self.label_order,
                "history": self.history.to_json(), "vectorizer": made_by}

    @property
    def stale_vectorizer(self) -> type | None:
        """The class whose older version made the saved vectors (vectorize again), or None."""
        return outdated(self._made_by) if self.vectorizer is None else None

