"""Putting vector dimensions on a common scale before distances are taken."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Scaler:
    """Center, scale and weight of each dimension: ``(x - center) / scale * weights``.

    ``weights`` come from a vectorizer's aspect (what "similar" means); None
    weighs every dimension alike.
    """

    center: np.ndarray
    scale: np.ndarray
    weights: np.ndarray | None = None

    @classmethod
    def fit(cls, vectors: np.ndarray, weights: np.ndarray | None = None) -> "Scaler":
        """Fit on the finite rows of ``vectors``.

        Each dimension is divided by its standard deviation, but never by less
        than the mean standard deviation of all dimensions: a dimension that
        hardly varies (e.g. the time shape of stationary sounds) is not blown up
        into noise that would drown the informative ones.
        """
        vectors = np.asarray(vectors, dtype=np.float32)
        dim = vectors.shape[1] if vectors.ndim == 2 else 0
        if weights is not None:
            weights = np.asarray(weights, dtype=np.float32)
            if weights.shape != (dim,):
                raise ValueError(f"weights must have one value per dimension ({dim}), "
                                 f"got shape {weights.shape}")
        rows = vectors[np.isfinite(vectors).all(axis=1)] if vectors.ndim == 2 else vectors
        if len(rows) == 0:
            return cls(np.zeros(dim, np.float32), np.ones(dim, np.float32), weights)
        center = rows.mean(axis=0)
        spread = rows.std(axis=0)
        floor = float(spread.mean()) if spread.mean() > 0 else 1.0
        return cls(center.astype(np.float32), np.maximum(spread, floor).astype(np.float32),
                   weights)

    def transform(self, vectors: np.ndarray) -> np.ndarray:
        """Scaled (and weighted) float32 copy of ``vectors`` (NaN rows stay NaN)."""
        scaled = (np.asarray(vectors, dtype=np.float32) - self.center) / self.scale
        if self.weights is not None:
            scaled = scaled * self.weights
        return scaled.astype(np.float32, copy=False)


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to length one (zero rows stay zero, NaN rows stay NaN)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)
