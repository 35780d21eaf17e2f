"""Putting vector dimensions on a common scale before distances are taken."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Scaler:
    """Center and scale of each dimension: ``(x - center) / scale``."""

    center: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, vectors: np.ndarray) -> "Scaler":
        """Fit on the finite rows of ``vectors``.

        Each dimension is divided by its standard deviation, but never by less
        than the mean standard deviation of all dimensions: a dimension that
        hardly varies (e.g. the time shape of stationary sounds) is not blown up
        into noise that would drown the informative ones.
        """
        vectors = np.asarray(vectors, dtype=np.float32)
        rows = vectors[np.isfinite(vectors).all(axis=1)] if vectors.ndim == 2 else vectors
        if len(rows) == 0:
            dim = vectors.shape[1] if vectors.ndim == 2 else 0
            return cls(np.zeros(dim, np.float32), np.ones(dim, np.float32))
        center = rows.mean(axis=0)
        spread = rows.std(axis=0)
        floor = float(spread.mean()) if spread.mean() > 0 else 1.0
        return cls(center.astype(np.float32), np.maximum(spread, floor).astype(np.float32))

    def transform(self, vectors: np.ndarray) -> np.ndarray:
        """Scaled float32 copy of ``vectors`` (NaN rows stay NaN)."""
        return ((np.asarray(vectors, dtype=np.float32) - self.center) / self.scale).astype(
            np.float32, copy=False)


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to length one (zero rows stay zero, NaN rows stay NaN)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)
