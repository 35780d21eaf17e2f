"""Where a dataset persists: a workspace folder with an atomic snapshot, a journal and a lock.

Layout of a workspace::

    table.parquet    the clip table; its schema metadata holds the workspace state
                     (journal position, label order, undo/redo stacks)
    vectors.npy      the float32 vectors aligned with the table rows (optional)
    journal.jsonl    operations since the snapshot, one JSON line each
    .lock            held by the process the workspace is attached to
"""
from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from ..common.files import LockBusy, atomic_write, hold_lock, save_npy
from .history import Journal, JournalRead

TABLE = "table.parquet"
VECTORS = "vectors.npy"
JOURNAL = "journal.jsonl"
LOCK = ".lock"
META_KEY = b"hover_audio"
FORMAT = "hover-audio-workspace"
VERSION = 1


def is_workspace(folder: str | os.PathLike) -> bool:
    """True when ``folder`` holds a hover-audio workspace."""
    return (Path(folder) / TABLE).is_file()


def write_snapshot(folder: Path, table: pd.DataFrame, meta: dict, vectors) -> None:
    """Write the table (with ``meta`` inside it) and the vectors, each atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        arrow = pa.Table.from_pandas(table, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
        raise ValueError(
            f"cannot store the table in a workspace: {error}. "
            "Give each user column a single type (e.g. df[col].astype(str))."
        ) from error
    state = dict(meta, format=FORMAT, version=VERSION)
    schema_meta = dict(arrow.schema.metadata or {})
    schema_meta[META_KEY] = json.dumps(state).encode()
    arrow = arrow.replace_schema_metadata(schema_meta)
    vectors_path = folder / VECTORS
    if vectors is not None:
        atomic_write(vectors_path, lambda tmp: save_npy(tmp, vectors))
    elif vectors_path.exists():
        vectors_path.unlink()
    atomic_write(folder / TABLE, lambda tmp: pq.write_table(arrow, tmp))


def read_snapshot(folder: Path) -> tuple[pd.DataFrame, dict, np.ndarray | None]:
    """Read the table, its workspace state and the vectors (or None)."""
    import pyarrow.parquet as pq

    path = folder / TABLE
    if not path.is_file():
        raise FileNotFoundError(f"{folder} is not a hover-audio workspace (no {TABLE})")
    arrow = pq.read_table(path)
    raw = (arrow.schema.metadata or {}).get(META_KEY)
    if raw is None:
        raise ValueError(f"{path} has no hover-audio workspace state")
    meta = json.loads(raw)
    if meta.get("format") != FORMAT or int(meta.get("version", 0)) > VERSION:
        raise ValueError(f"{path}: unsupported workspace format {meta.get('format')!r} "
                         f"version {meta.get('version')!r}")
    table = arrow.to_pandas()
    vectors = None
    vectors_path = folder / VECTORS
    if vectors_path.is_file():
        vectors = np.load(vectors_path, mmap_mode=None)
        if vectors.shape[0] != len(table):
            warnings.warn(
                f"{vectors_path}: {vectors.shape[0]} vectors for {len(table)} rows; ignored",
                stacklevel=2,
            )
            vectors = None
    return table, meta, vectors


class WorkspaceInUse(RuntimeError):
    """A workspace another dataset holds (its lock): in another process, or in this one."""

    def __init__(self, folder: Path, owner: str):
        self.folder, self.owner = folder, owner
        self.here = owner == str(os.getpid())  # flock is per open file: this process, again
        if self.here:
            text = (f"workspace {folder} is already open in this process (a dataset saved to "
                    "or loaded from it); call its close() first, or load it with "
                    "attach=False to read it")
        else:
            text = (f"workspace {folder} is open in another process (pid {owner}); close it "
                    "there first, or load it with attach=False to read it")
        super().__init__(text)

    def __reduce__(self):
        return (type(self), (self.folder, self.owner))


class WorkspaceLock:
    """An exclusive lock on a workspace folder, held while a dataset is attached.

    It is released by the operating system when the process dies, so a killed
    process never leaves a workspace locked.
    """

    def __init__(self, folder: Path):
        self.path = folder / LOCK
        self._handle = None

    def acquire(self) -> None:
        try:
            self._handle = hold_lock(self.path)
        except LockBusy as busy:
            raise WorkspaceInUse(self.path.parent, busy.owner) from None

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


class Workspace:
    """A workspace folder a dataset is attached to: its lock held, its journal open.

    Use :meth:`create` for a new folder and :meth:`attach` for an existing one.
    """

    def __init__(self, folder: Path):
        self.folder = folder
        self._lock = WorkspaceLock(folder)
        self._lock.acquire()
        self.journal = Journal(folder / JOURNAL)

    @classmethod
    def create(cls, folder: Path, overwrite: bool = False) -> "Workspace":
        """Lock a new (or, with ``overwrite``, an existing) workspace folder."""
        if folder.exists() and any(folder.iterdir()):
            if not (overwrite and is_workspace(folder)):
                raise FileExistsError(
                    f"{folder} is not empty; pick a new folder"
                    + (" or pass overwrite=True" if is_workspace(folder) else "")
                )
        folder.mkdir(parents=True, exist_ok=True)
        return cls(folder)

    @classmethod
    def attach(cls, folder: Path) -> "Workspace":
        """Lock an existing workspace; raises if another process holds it."""
        if not is_workspace(folder):
            raise FileNotFoundError(f"{folder} is not a hover-audio workspace (no {TABLE})")
        return cls(folder)

    def append(self, entry: dict) -> None:
        """Journal one operation, durably."""
        self.journal.append(entry)

    def snapshot(self, table: pd.DataFrame, meta: dict, vectors) -> None:
        """Replace the snapshot; journal entries up to ``meta['journal_seq']`` become redundant."""
        write_snapshot(self.folder, table, meta, vectors)

    def checkpoint(self, table: pd.DataFrame, meta: dict, vectors) -> None:
        """Write a fresh snapshot, then empty the journal."""
        self.snapshot(table, meta, vectors)
        self.journal.close()
        atomic_write(self.journal.path, lambda tmp: open(tmp, "w").close())
        self.journal.open()

    def set_aside_journal(self) -> Path:
        """Copy the journal beside itself as ``journal.damaged-<time>.jsonl`` (never deleted)."""
        import shutil
        import time

        stamp = time.strftime("%Y%m%dT%H%M%S") + f"-{time.time_ns() % 10**6:06d}"
        target = self.folder / f"journal.damaged-{stamp}.jsonl"
        shutil.copy2(self.journal.path, target)
        return target

    def recover(self, journal: JournalRead, table: pd.DataFrame, meta: dict, vectors) -> Path:
        """After replaying a damaged journal: keep it aside, say what was lost, checkpoint.

        ``table``/``meta``/``vectors`` are the state with every intact operation
        applied; the checkpoint makes it the snapshot, so new operations are
        appended to an empty, clean journal.
        """
        kept = self.set_aside_journal()
        lost = [f"{len(journal.damaged)} damaged line(s) (line "
                f"{', '.join(map(str, journal.damaged[:10]))})"] if journal.damaged else []
        lost += ["an incomplete last line"] if journal.torn else []
        warnings.warn(f"{self.journal.path}: skipped {' and '.join(lost)}; restored "
                      f"{len(journal.entries)} intact operation(s); the journal as it was is "
                      f"kept as {kept}", stacklevel=4)
        self.checkpoint(table, meta, vectors)
        return kept

    def close(self) -> None:
        self.journal.close()
        self._lock.release()


class SavedState(NamedTuple):
    """What a workspace holds: the snapshot (table, state, vectors) and the journal after it."""

    table: pd.DataFrame
    meta: dict
    vectors: np.ndarray | None
    journal: JournalRead


def read_workspace(folder: Path) -> SavedState:
    """Read a workspace without locking it: its snapshot and its journal's intact entries."""
    table, meta, vectors = read_snapshot(folder)
    return SavedState(table, meta, vectors, Journal(folder / JOURNAL).read())


def open_dataset(cls, folder: Path, attach: bool):
    """``cls.load(folder, attach)``: a dataset of class ``cls`` from the workspace's snapshot
    and journal; attached, the workspace is locked and a damaged journal repaired."""
    workspace = Workspace.attach(folder) if attach else None
    try:
        saved = read_workspace(folder)
        dataset = cls(saved.table, saved.vectors)
        dataset._restore(saved.meta, saved.journal.entries)
        if workspace is not None and (saved.journal.damaged or saved.journal.torn):
            workspace.recover(saved.journal, dataset._clips.frame, dataset._meta(),
                              dataset._vectors)
    except BaseException:
        if workspace is not None:
            workspace.close()
        raise
    if workspace is not None:
        workspace.journal.open()
        dataset._workspace = workspace
    elif saved.journal.damaged:
        warnings.warn(f"{folder}: {len(saved.journal.damaged)} damaged journal line(s) "
                      "skipped; open the workspace attached to repair it", stacklevel=3)
    return dataset
