"""Search by example: cosine similarity over scaled, unit-length vectors.

hover compared raw MFCC means, where one dimension (loudness) dominates and every
clip looks alike (its default threshold matched all 2000 digits for every query).
Here each dimension is put on a common scale first, then rows are normalized, so
a score of 1 means "the same sound" and 0 "unrelated". How high "similar" runs
differs between aspects and datasets (a shape score of 0.2 can beat 90% of pairs of
clips, where an overall one needs 0.3): :meth:`SimilarityIndex.chance_score` gives
the score that a share of pairs reach, a minimum score that means the same everywhere.
"""
from __future__ import annotations

import os
from typing import Callable, Sequence, Union

import numpy as np
import pandas as pd

from .scaling import Scaler, unit_rows

Query = Union[int, Sequence[int], str, os.PathLike, np.ndarray]


class SimilarityIndex:
    """Cosine scores of every row against a query.

    Parameters
    ----------
    vectors
        ``(rows, dim)`` float32; NaN rows (failed clips) are never returned.
    keys
        The key of each row, so a query can name a clip.
    vectorizer
        ``key -> vector`` for queries that are new files or URLs.
    weights
        Per-dimension weights after scaling: an aspect of the vectorizer
        (``vectorizer.aspects()["timbre"]``); None weighs all dimensions alike.
    labels
        One per row (None where unlabeled): search with a distance learned from
        them (:mod:`~hover_audio.maps.label_metric`); None: no learned distance.
    """

    def __init__(self, vectors: np.ndarray, keys: Sequence[str] | None = None,
                 vectorizer: Callable[[str], np.ndarray] | None = None,
                 weights: np.ndarray | None = None, labels=None):
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2:
            raise ValueError(f"vectors must be a (rows, dim) matrix, got shape {vectors.shape}")
        self.valid = np.isfinite(vectors).all(axis=1)
        self.scaler = Scaler.fit(vectors, weights, labels)  # fitted on the finite rows
        unit = unit_rows(self.scaler.transform(vectors))
        unit[~self.valid] = 0.0
        self.unit = np.ascontiguousarray(unit, dtype=np.float32)
        self.keys = list(keys) if keys is not None else None
        self._key_index = pd.Index(self.keys if self.keys is not None else [])
        self.vectorizer = vectorizer
        self._chance: dict[tuple, float] = {}

    def __len__(self) -> int:
        return len(self.unit)

    def query_vector(self, query: Query) -> tuple[np.ndarray, np.ndarray]:
        """The unit vector of ``query`` and the rows it names (excluded from results).

        A query is a row position, a list of positions (their centroid), a key in
        the index, a new file or URL (vectorized), or a raw vector.
        """
        if isinstance(query, os.PathLike):
            query = os.fspath(query)
        if isinstance(query, (list, tuple)) and query and np.asarray(query).dtype.kind == "f":
            query = np.asarray(query, dtype=np.float32)  # a raw vector, not positions
        if isinstance(query, (int, np.integer)):
            rows = np.array([int(query)])
        elif isinstance(query, str):
            found = self._key_index.get_indexer([query])
            if found[0] >= 0:
                rows = found.astype(np.int64)
            else:
                return self._outside(self._vectorize(query)), np.zeros(0, dtype=np.int64)
        elif isinstance(query, np.ndarray) and query.dtype.kind == "f":
            return self._outside(query), np.zeros(0, dtype=np.int64)
        else:
            rows = np.unique(np.asarray(list(query), dtype=np.int64))
        if len(rows) == 0:
            raise ValueError("empty query: select at least one row")
        if rows.min() < 0 or rows.max() >= len(self.unit):
            raise IndexError(f"row positions must be in [0, {len(self.unit)}), got {rows.tolist()}")
        usable = rows[self.valid[rows]]
        if len(usable) == 0:
            raise ValueError(f"no vector for row(s) {rows.tolist()[:10]} (their clips failed)")
        centroid = self.unit[usable].mean(axis=0)
        return unit_rows(centroid[None, :])[0], rows

    def _vectorize(self, key: str) -> np.ndarray:
        if self.vectorizer is None:
            raise KeyError(f"{key!r} is not in the index and no vectorizer was given")
        return np.asarray(self.vectorizer(key), dtype=np.float32)

    def _outside(self, vector: np.ndarray) -> np.ndarray:
        vector = np.asarray(vector, dtype=np.float32).ravel()
        if vector.shape != (self.unit.shape[1],) or not np.isfinite(vector).all():
            raise ValueError(f"query vector must be finite with {self.unit.shape[1]} values")
        return unit_rows(self.scaler.transform(vector[None, :]))[0]

    def scores(self, query: Query) -> np.ndarray:
        """Cosine score of every row (NaN where the clip failed)."""
        vector, _ = self.query_vector(query)
        scores = self.unit @ vector
        scores[~self.valid] = np.nan
        return scores

    def _ranked(self, query: Query) -> tuple[np.ndarray, np.ndarray]:
        vector, rows = self.query_vector(query)
        scores = self.unit @ vector
        scores[~self.valid] = -np.inf
        scores[rows] = -np.inf
        return scores, rows

    def search(self, query: Query, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """``(scores(query), top_k(query, k))`` with the query read (a URL fetched) once."""
        vector, rows = self.query_vector(query)
        scores = self.unit @ vector
        scores[~self.valid] = np.nan
        ranked = np.where(np.isnan(scores), -np.inf, scores)
        ranked[rows] = -np.inf
        return scores, self._best(ranked, k)

    def top_k(self, query: Query, k: int = 10) -> np.ndarray:
        """Positions of the ``k`` best rows, best first (never the query, never a failed row)."""
        scores, _ = self._ranked(query)
        return self._best(scores, k)

    @staticmethod
    def _best(scores: np.ndarray, k: int) -> np.ndarray:
        candidates = int(np.isfinite(scores).sum())
        k = max(0, min(int(k), candidates))
        if k == 0:
            return np.zeros(0, dtype=np.int64)
        if k < len(scores):  # the k best, and every row tied with the k-th
            kth = np.partition(-scores, k - 1)[k - 1]
            best = np.flatnonzero(-scores <= kth)
        else:
            best = np.arange(len(scores))
        # best first; ties by row, so the same query always gives the same answer
        return best[np.lexsort((best, -scores[best]))][:k].astype(np.int64)

    def above(self, query: Query, threshold: float) -> np.ndarray:
        """Positions of the rows scoring at least ``threshold``, best first."""
        scores, _ = self._ranked(query)
        hits = np.flatnonzero(np.isfinite(scores) & (scores >= threshold))
        return hits[np.argsort(-scores[hits], kind="stable")].astype(np.int64)

    def chance_score(self, share: float = 0.1, *, queries: int = 256, rows: int = 4096,
                     seed: int = 0) -> float:
        """The score that ``share`` of the pairs of distinct clips reach.

        A minimum score relative to this index: results above ``chance_score(0.1)``
        are closer to the query than 90% of pairs of clips are to each other, in
        whatever aspect and dataset (absolute cosine scores run lower in some, e.g.
        the shape of speech). Measured on up to ``queries`` x ``rows`` pairs drawn
        with ``seed`` (every pair when the index is that small); kept per arguments.

        Returns
        -------
        float
            NaN when fewer than two clips have vectors.

        Examples
        --------
        >>> index = SimilarityIndex(np.eye(4, dtype=np.float32))  # four unrelated clips
        >>> round(index.chance_score(0.5), 6)
        -0.333333
        """
        if not 0.0 < share < 1.0:
            raise ValueError(f"share must be between 0 and 1, got {share}")
        key = (float(share), int(queries), int(rows), int(seed))
        if key not in self._chance:
            usable = np.flatnonzero(self.valid)
            if len(usable) < 2:
                return float("nan")
            rng = np.random.default_rng(seed)

            def drawn(count: int) -> np.ndarray:
                return usable if len(usable) <= count else np.sort(
                    rng.choice(usable, count, replace=False))

            left, right = drawn(queries), drawn(rows)
            scores = self.unit[left] @ self.unit[right].T
            distinct = left[:, None] != right[None, :]
            self._chance[key] = float(np.quantile(scores[distinct], 1.0 - share))
        return self._chance[key]
