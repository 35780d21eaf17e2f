"""The similarity index the annotator pages share, one per aspect (kept apart from
:mod:`.annotator` to keep modules small)."""
from __future__ import annotations

import threading

import numpy as np

from ...dataset.embedding import LABELS_ASPECT, learning_labels


class SharedSearchIndex:
    """``search_index(aspect)``: one index per aspect, shared by the sessions, rebuilt when
    the vectors change (and, for the aspect learned from labels, when those labels do)."""

    def __init__(self, dataset):
        self.dataset = dataset
        self._lock = threading.Lock()
        self._vectors = None
        self._built: dict = {}  # aspect -> (labels learned from or None, index)

    def __call__(self, aspect=None):
        dataset = self.dataset
        with self._lock:
            if self._vectors is not dataset.vectors:
                self._vectors, self._built = dataset.vectors, {}
            labels = learning_labels(dataset) if aspect == LABELS_ASPECT else None
            built = self._built.get(aspect)
            if built is None or (labels is not None and not np.array_equal(built[0], labels)):
                built = self._built[aspect] = (labels, dataset.similarity_index(aspect=aspect))
            return built[1]
