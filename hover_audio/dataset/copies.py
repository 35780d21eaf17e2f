"""Copies of a dataset: ``pickle`` (multiprocessing, joblib), ``copy.copy`` and
``copy.deepcopy``.

A copy is **detached**: it holds the rows (every column), labels, subsets, vectors,
label order and undo/redo history of the dataset as it was, and is attached to no
workspace. Its operations are kept in memory only, never written to the original's
journal or snapshot (the original's workspace stays locked by the original);
``copy.save(folder)`` makes it a workspace of its own. Pickling a workspace-backed
dataset does not reopen the workspace on unpickling: the lock would refuse it while the
original is open, and two datasets appending to one journal would corrupt it. Not
copied: ``on_change`` listeners (pages of the app), the lock (a copy gets its own) and
the unsynchronized edits of ``dfs`` frames. The ``vectorizer`` is shared by
``copy.copy`` and ``copy.deepcopy`` (it is settings, and may hold a large model) and
pickled by ``pickle`` (so it must pickle, as it must for worker processes); ``copy.copy``
also shares the ``vectors`` array, which a dataset replaces and never changes in place.

Examples
--------
>>> import copy, pickle
>>> import pandas as pd
>>> from hover_audio import AudioDataset
>>> ds = AudioDataset.from_pandas(pd.DataFrame({"audio": ["/a.wav", "/b.wav"]}))
>>> ds.set_labels("/a.wav", "dog")
1
>>> clone = pickle.loads(pickle.dumps(ds))
>>> clone.to_pandas()["label"].tolist(), clone.workspace
(['dog', 'ABSTAIN'], None)
>>> clone.undo(), ds.to_pandas()["label"].tolist()   # the copy's history is its own
(1, ['dog', 'ABSTAIN'])
"""
from __future__ import annotations

from collections import deque

from .history import History

STATE_VERSION = 1


def state_of(dataset) -> dict:
    """What a copy is made of, taken under the dataset's lock (a consistent state)."""
    with dataset._mutex:
        history = dataset.history
        return {
            "version": STATE_VERSION,
            "table": dataset._clips.frame.copy(),
            "vectors": dataset._vectors,  # never changed in place: replaced on every change
            "label_order": list(dataset.label_order),
            "history": History(history.depth, deque(history.undo_stack),
                               deque(history.redo_stack)),
            "vectorizer": dataset.vectorizer,
            "made_by": dataset._made_by,
            "seq": dataset._seq,
        }


def restore(dataset, state: dict) -> None:
    """Give a dataset built from ``state["table"]`` and ``state["vectors"]`` the rest."""
    if state.get("version", 0) > STATE_VERSION:
        raise ValueError(f"a dataset pickled by a newer hover-audio (state version "
                         f"{state.get('version')}); upgrade hover-audio to read it")
    dataset.label_order = list(state["label_order"])
    dataset.history = state["history"]
    dataset.vectorizer = state["vectorizer"]
    dataset._made_by = state.get("made_by")  # (pickled before it was kept)
    dataset._seq = int(state["seq"])


def deep_copy(dataset, memo: dict):
    """``copy.deepcopy(dataset)``: every value copied, the vectorizer shared."""
    import copy

    state = state_of(dataset)
    clone = memo[id(dataset)] = type(dataset).__new__(type(dataset))
    if state["vectorizer"] is not None:
        memo[id(state["vectorizer"])] = state["vectorizer"]
    clone.__setstate__(copy.deepcopy(state, memo))
    return clone
