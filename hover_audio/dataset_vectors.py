"""The vector side of :class:`~hover_audio.dataset.AudioDataset`: vectors, map, search.

Kept apart from the table/label logic in ``dataset.py``; these methods only read
the table and write derived columns through the dataset's own lock and events.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from .history import ChangeEvent
from .schema import AUDIO, LABEL, SUBSET


class VectorsMixin:
    """vectorize, compute_nd_embedding, set_derived and similarity_index."""

    def vectorize(self, vectorizer=None, **options) -> pd.DataFrame:
        """Compute ``vectors`` for every row; returns the report of failed clips.

        ``vectorizer`` is an :class:`~hover_audio.features.MFCCVectorizer` (the
        default) or any callable ``key -> vector``. Failed rows get NaN vectors and
        a ``vector_error`` message; they are left out of the map. ``options`` go to
        ``transform`` (``workers``, ``progress``, ``client``).
        """
        from .pipeline import vectorize_table

        if vectorizer is None:
            from .features import MFCCVectorizer

            vectorizer = MFCCVectorizer()
        matrix, report, errors = vectorize_table(self._table, vectorizer, **options)
        self.vectorizer = vectorizer
        with self._mutex:
            self._table["vector_error"] = errors
            self.vectors = matrix
        return report

    def compute_nd_embedding(self, vectorizer=None, method: str | None = "umap",
                             dimension: int = 2, seed: int | None = 0, **options):
        """Map the vectors to ``dimension`` coordinates (hover's signature).

        Vectorizes first when there are no vectors yet (or ``vectorizer`` is not
        the one that made them); fits on raw+train+dev and transforms test;
        writes columns ``embed_{dimension}d_{i}`` (NaN for failed clips). The
        layout is stored (in the workspace, else under ``custom_cache/``) and
        reused while the vectors and parameters are the same.

        Returns
        -------
        hover_audio.reduce.LayoutReducer
            ``coords``, ``estimator`` and ``transform(new_vectors)``.
        """
        from .reduce import layout_store, stored_reduce

        if self._vectors is None or (vectorizer is not None and vectorizer is not self.vectorizer):
            self.vectorize(vectorizer, progress=options.pop("progress", True))
        options.pop("progress", None)
        reducer = stored_reduce(layout_store(self.workspace), self._vectors,
                                self._table[SUBSET].to_numpy(),
                                method or "umap", dimension, seed, **options)
        columns = tuple(f"embed_{dimension}d_{i}" for i in range(dimension))
        with self._mutex:
            unchanged = all(name in self._table.columns and np.array_equal(
                self._table[name].to_numpy(dtype=np.float32), reducer.coords[:, i], equal_nan=True)
                for i, name in enumerate(columns))
            for i, name in enumerate(columns):
                self._table[name] = reducer.coords[:, i]
            if self._workspace is not None and not unchanged:
                self._workspace.snapshot(self._table, self._meta(), self._vectors)
        self._notify(ChangeEvent(np.arange(len(self._table)), columns, "layout"))
        return reducer

    def set_derived(self, columns: Mapping[str, np.ndarray | list]) -> None:
        """Write columns computed from the data (predictions, quality flags).

        They are not labels: they are not journaled or undone, and are saved with
        the next snapshot. Open pages are told with a "derived" change event.
        """
        with self._mutex:
            for name, values in columns.items():
                if name in (AUDIO, LABEL, SUBSET):
                    raise ValueError(f"{name!r} changes only through operations")
                if len(values) != len(self._table):
                    raise ValueError(f"column {name!r}: {len(values)} values for "
                                     f"{len(self._table)} rows")
                self._table[name] = values
        self._notify(ChangeEvent(np.arange(len(self._table)), tuple(columns), "derived"))

    def similarity_index(self, vectorizer=None):
        """A :class:`~hover_audio.search.SimilarityIndex` over this dataset's vectors."""
        from .search import SimilarityIndex

        if self._vectors is None:
            raise ValueError("no vectors yet: call vectorize() or compute_nd_embedding() first")
        return SimilarityIndex(self._vectors, self.keys, vectorizer or self.vectorizer)

