"""Putting vector dimensions on a common scale before distances are taken."""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .label_metric import Whitening, row_labels, within_class_whitening


@dataclass(frozen=True)
class Scaler:
    """Center, scale and weight of each dimension: ``(x - center) / scale * weights``,
    then ``whitening`` when a distance was learned from labels.

    ``weights`` come from a vectorizer's aspect (what "similar" means); None
    weighs every dimension alike. ``whitening`` (None: none) comes from
    :func:`~hover_audio.maps.label_metric.within_class_whitening`.
    """

    center: np.ndarray
    scale: np.ndarray
    weights: np.ndarray | None = None
    whitening: Whitening | None = None

    @classmethod
    def fit(cls, vectors: np.ndarray, weights: np.ndarray | None = None,
            labels=None) -> "Scaler":
        """Fit on the finite rows of ``vectors``.

        Each dimension is divided by its standard deviation, but never by less
        than the mean standard deviation of all dimensions: a dimension that
        hardly varies (e.g. the time shape of stationary sounds) is not blown up
        into noise that would drown the informative ones. ``labels`` (one per
        row, None where unlabeled) add a distance learned from them; they raise
        ValueError when too few to learn from.
        """
        vectors = np.asarray(vectors, dtype=np.float32)
        dim = vectors.shape[1] if vectors.ndim == 2 else 0
        if weights is not None:
            weights = np.asarray(weights, dtype=np.float32)
            if weights.shape != (dim,):
                raise ValueError(f"weights must have one value per dimension ({dim}), "
                                 f"got shape {weights.shape}")
        finite = np.isfinite(vectors).all(axis=1) if vectors.ndim == 2 else None
        rows = vectors[finite] if finite is not None else vectors
        if len(rows) == 0:
            scaler = cls(np.zeros(dim, np.float32), np.ones(dim, np.float32), weights)
        else:
            center = rows.mean(axis=0)
            spread = rows.std(axis=0)
            floor = float(spread.mean()) if spread.mean() > 0 else 1.0
            scaler = cls(center.astype(np.float32),
                         np.maximum(spread, floor).astype(np.float32), weights)
        if labels is None:
            return scaler
        labels = row_labels(labels, len(vectors))
        kept = labels[finite] if finite is not None else labels
        return replace(scaler, whitening=within_class_whitening(scaler.transform(rows), kept))

    def transform(self, vectors: np.ndarray) -> np.ndarray:
        """Scaled (and weighted) float32 copy of ``vectors`` (NaN rows stay NaN)."""
        scaled = (np.asarray(vectors, dtype=np.float32) - self.center) / self.scale
        if self.weights is not None:
            scaled = scaled * self.weights
        if self.whitening is not None:
            scaled = self.whitening.apply(scaled)
        return scaled.astype(np.float32, copy=False)


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to length one (zero rows stay zero, NaN rows stay NaN)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)
