"""Layer 4, dataset: the one table of clips, labels and subsets, its history and workspace.

- ``audio_dataset``: :class:`AudioDataset`, the facade; ``supervisable``: hover's
  ``SupervisableAudioDataset`` (and its constructor); ``hover_names``: hover's other names;
  ``subset_frames``: hover's ``dfs`` (a working copy, applied by ``synchronize_df_to_dictl``);
  ``copies``: pickled and copied datasets (detached from any workspace).
- ``clip_table``: the table in memory (rows by key, operations applied).
- ``schema``: column names, subsets, validation of tables at the edge.
- ``history``: undo/redo and the append-only journal; ``store``: the workspace folder.
- ``embedding``: the dataset's vector side (vectorize, layouts, search).
- ``folder``: a folder of audio -> a table; ``label_tree``: a table -> a folder tree.
- ``table_files``: CSV/JSON/Parquet; ``demo``: the embedded spoken digits.

Uses audio, vectors and maps; knows nothing of models or the app.
"""
from __future__ import annotations

from .audio_dataset import AudioDataset, DuplicateKeysWarning
from .supervisable import SupervisableAudioDataset
from .history import ChangeEvent

__all__ = ["AudioDataset", "ChangeEvent", "DuplicateKeysWarning", "SupervisableAudioDataset"]
