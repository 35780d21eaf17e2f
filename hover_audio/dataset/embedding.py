"""The vector side of a dataset: vectors for its rows, their layout, search over them.

:class:`DatasetEmbedding` is a collaborator of
:class:`~hover_audio.dataset.AudioDataset`. It works through the dataset's public
interface only (``keys``, ``column``, ``columns``, ``vectors``, ``vectorizer``,
``set_derived``, ``workspace``, ``save``), so the table stays the dataset's.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..maps.layout import LayoutReducer, layout_store, stored_layout
from ..maps.search import SimilarityIndex
from ..vectors import as_vectorizer, default_vectorizer
from ..vectors.contract import Vectorizer, aspect_weights
from .schema import ABSTAIN, LABEL, RANGE_COLUMNS, SUBSET

VECTOR_ERROR = "vector_error"
# the aspect whose distance is learned from the dataset's own labels (outside test)
LABELS_ASPECT = "labels"


def learning_labels(dataset) -> np.ndarray:
    """The label of each row of ``dataset`` that the labels aspect learns from: None for
    ``ABSTAIN`` and for test rows (kept out so that test scores stay honest)."""
    labels = dataset.column(LABEL).astype(object)
    labels[(labels == ABSTAIN) | (dataset.column(SUBSET) == "test")] = None
    return labels


class DatasetEmbedding:
    """Vectorize a dataset, lay it out and search it (see the dataset's methods)."""

    def __init__(self, dataset):
        self.dataset = dataset

    def _range(self, name: str):
        return self.dataset.column(name) if name in self.dataset.columns else None

    def vectorize(self, vectorizer=None, **options) -> pd.DataFrame:
        from ..vectors.batch import failed_rows

        dataset = self.dataset
        vectorizer = default_vectorizer() if vectorizer is None else as_vectorizer(vectorizer)
        starts, ends, channels = (self._range(name) for name in RANGE_COLUMNS)
        matrix, report = vectorizer.transform(dataset.keys, starts=starts, ends=ends,
                                              channels=channels, **options)
        errors = np.full(len(dataset), None, dtype=object)
        failed = failed_rows(report)
        if len(failed):
            errors[failed["row"].to_numpy(dtype=int)] = (
                failed["kind"] + ": " + failed["message"]).to_numpy()
        dataset.vectorizer = vectorizer
        dataset.set_derived({VECTOR_ERROR: errors})
        dataset.vectors = matrix
        return report

    def compute_nd_embedding(self, vectorizer=None, method: str | None = "umap",
                             dimension: int = 2, seed: int | None = 0, aspect: str | None = None,
                             **options) -> LayoutReducer:
        dataset = self.dataset
        progress = options.pop("progress", True)
        current = dataset.vectorizer
        if dataset.vectors is None or (vectorizer is not None and not (
                current is not None and current.wraps(vectorizer))):
            self.vectorize(vectorizer, progress=progress)
        vectors = dataset.vectors
        if len(vectors) and (vectors.shape[1] == 0 or not np.isfinite(vectors).all(axis=1).any()):
            raise ValueError(f"no clip has a vector: all {len(vectors)} failed to vectorize "
                             "(the vector_error column, or vectorize's report, says why)")
        weights, labels = self._aspect(dataset.vectorizer, aspect)
        reducer = stored_layout(layout_store(dataset.workspace), dataset.vectors,
                                dataset.column(SUBSET), method or "umap", dimension, seed,
                                weights, labels=labels, **options)
        columns = [f"embed_{dimension}d_{i}" for i in range(dimension)]
        unchanged = all(name in dataset.columns and np.array_equal(
            dataset.column(name).astype(np.float32), reducer.coords[:, i], equal_nan=True)
            for i, name in enumerate(columns))
        dataset.set_derived({name: reducer.coords[:, i] for i, name in enumerate(columns)},
                            kind="layout")
        if dataset.workspace is not None and not unchanged:
            dataset.save()
        return reducer

    def similarity_index(self, vectorizer=None, aspect: str | None = None) -> SimilarityIndex:
        dataset = self.dataset
        if dataset.vectors is None:
            raise ValueError("no vectors yet: call vectorize() or compute_nd_embedding() first")
        vectorizer = vectorizer or dataset.vectorizer
        weights, labels = self._aspect(vectorizer, aspect)
        return SimilarityIndex(dataset.vectors, dataset.keys, vectorizer, weights, labels)

    def _aspect(self, vectorizer, aspect: str | None):
        """The weights of ``aspect`` and, for the labels aspect, the labels to learn from."""
        if aspect != LABELS_ASPECT:
            return aspect_weights(vectorizer, aspect), None
        return aspect_weights(vectorizer, None), learning_labels(self.dataset)

    def aspects(self) -> list[str]:
        vectorizer = self.dataset.vectorizer
        offered = (list(vectorizer.aspects()) if isinstance(vectorizer, Vectorizer)
                   else ["overall"])
        return offered + [LABELS_ASPECT]


def compute_2d_embedding(dataset, vectorizer=None, method: str | None = "umap", **options):
    """hover's shortcut: ``dataset.compute_nd_embedding`` with ``dimension=2`` (bound to
    :class:`~hover_audio.dataset.AudioDataset` as a method)."""
    return dataset.compute_nd_embedding(vectorizer, method, dimension=2, **options)
