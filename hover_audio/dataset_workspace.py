"""The persistence side of :class:`~hover_audio.dataset.AudioDataset`: workspaces, exports."""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from .history import History, Journal, replay
from .tables import write_table
from .workspace import JOURNAL, Workspace, read_snapshot

if TYPE_CHECKING:
    from .dataset import AudioDataset


class WorkspaceMixin:
    """save, load, export and close."""

    def save(self, folder: str | os.PathLike | None = None, overwrite: bool = False) -> Path:
        """Write a workspace and attach this dataset to it.

        With no ``folder``, checkpoint the attached workspace (a fresh snapshot
        and an empty journal). Saving to a new folder detaches from the old one.
        """
        with self._mutex:
            if folder is not None and Path(folder).absolute() != self.workspace:
                workspace = Workspace.create(Path(folder).absolute(), overwrite)
                self.close()
                self._workspace = workspace
            if self._workspace is None:
                raise ValueError("this dataset is not attached to a workspace: save(folder)")
            self._workspace.checkpoint(self._table, self._meta(), self._vectors)
            return self._workspace.folder

    @classmethod
    def load(cls, folder: str | os.PathLike, attach: bool = True) -> "AudioDataset":
        """Open a workspace: its snapshot plus every journaled operation.

        With ``attach=False`` the workspace is only read: nothing is locked and
        later operations are not journaled.
        """
        folder = Path(folder).absolute()
        workspace = Workspace.attach(folder) if attach else None
        try:
            table, meta, vectors = read_snapshot(folder)
            dataset = cls(table, vectors)
            dataset.label_order = list(meta.get("label_order", dataset.label_order))
            dataset.history = History.from_json(meta.get("history"))
            if dataset._vectors is not None:
                from .features import rebuild_vectorizer

                dataset.vectorizer = rebuild_vectorizer(meta.get("vectorizer"))
            dataset._seq = int(meta.get("journal_seq", 0))
            dataset._seq = replay(Journal(folder / JOURNAL).entries(), dataset.history,
                                  dataset._apply, after=dataset._seq)
        except BaseException:
            if workspace is not None:
                workspace.close()
            raise
        if workspace is not None:
            workspace.journal.open()
            dataset._workspace = workspace
        return dataset

    def export(self, path: str | os.PathLike) -> Path:
        """Write the table to ``.csv``, ``.json`` or ``.parquet`` (by suffix), atomically."""
        return write_table(self.to_pandas(), path)

    def close(self) -> None:
        """Detach from the workspace (everything acknowledged is already on disk)."""
        if self._workspace is not None:
            self._workspace.close()
            self._workspace = None

    def __enter__(self) -> "AudioDataset":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
