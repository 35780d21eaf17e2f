"""A distance learned from labels: what the labeled classes tell apart counts most.

Clips of one class vary in ways that do not matter to the person labeling (the
speaker of a digit, the kit of a snare). Whitening the spread *within* the
labeled classes shrinks those directions and leaves the ones that separate the
classes. The whitening keeps every dimension, so sounds of a class nobody has
labeled yet still have a place; with few labels the estimate is shrunk towards
plain distances (Ledoit-Wolf), so a handful of labels changes little.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MIN_CLASSES = 2
MIN_PER_CLASS = 2


def label_counts(labels) -> dict:
    """Labeled rows per class (None and NaN are "not labeled")."""
    labels = np.asarray(labels, dtype=object)
    counts = pd.Series(labels[_labeled(labels)]).astype(str).value_counts()
    return {name: int(count) for name, count in counts.items()}


def usable_counts(counts: dict) -> dict:
    """The classes of ``counts`` with enough rows to learn from; a distance can be
    learned when there are at least :data:`MIN_CLASSES` of them."""
    return {name: n for name, n in counts.items() if n >= MIN_PER_CLASS}


def row_labels(labels, rows: int) -> np.ndarray:
    """``labels`` as an object array of one label per row; ValueError otherwise."""
    labels = np.asarray(labels, dtype=object)
    if labels.shape != (rows,):
        raise ValueError(f"one label per row expected: {rows} rows, "
                         f"labels of shape {labels.shape}")
    return labels


def _labeled(labels: np.ndarray) -> np.ndarray:
    """Which rows of an object array carry a label (not None, not NaN)."""
    return np.asarray(pd.notna(labels), dtype=bool)


def check_labels(labels) -> None:
    """Raise ValueError unless ``labels`` can teach a distance: at least two classes
    with two labeled rows each."""
    _check_counts(label_counts(labels))


def _check_counts(counts: dict) -> None:
    if len(usable_counts(counts)) < MIN_CLASSES:
        found = ", ".join(f"{name}: {n}" for name, n in sorted(counts.items())) or "none"
        raise ValueError(
            f"a distance learned from labels needs at least {MIN_CLASSES} labels with "
            f"{MIN_PER_CLASS} clips each outside test (labeled clips per label: {found})")


@dataclass(frozen=True)
class Whitening:
    """The within-class whitening of :func:`within_class_whitening`, kept low-rank.

    Inside the span of ``basis`` (orthonormal columns, the directions labeled
    clips vary in) each direction is multiplied by its ``factors`` entry; every
    other direction by ``rest``. Stored this way it costs ``dim x rank`` numbers,
    not ``dim x dim``, so a few hundred labels on 6000-dimensional vectors stay
    cheap; when ``rank`` is over half of ``dim``, the same map as one ``dim x dim``
    ``matrix`` is one product instead of two.
    """

    basis: np.ndarray
    factors: np.ndarray
    rest: float
    matrix: np.ndarray | None = None

    @classmethod
    def of(cls, basis: np.ndarray, factors: np.ndarray, rest: float) -> "Whitening":
        """The whitening with these parts, with its ``matrix`` when that is cheaper."""
        basis, factors = basis.astype(np.float32), factors.astype(np.float32)
        matrix = None
        if 2 * basis.shape[1] >= basis.shape[0]:
            matrix = (basis * (factors - np.float32(rest))) @ basis.T
            matrix[np.diag_indices_from(matrix)] += np.float32(rest)
        return cls(basis, factors, float(rest), matrix)

    def apply(self, scaled: np.ndarray) -> np.ndarray:
        """``scaled`` rows whitened (float32; same shape)."""
        scaled = np.asarray(scaled, dtype=np.float32)
        if self.matrix is not None:
            return scaled @ self.matrix
        inside = (scaled @ self.basis) * (self.factors - np.float32(self.rest))
        return (scaled * np.float32(self.rest) + inside @ self.basis.T).astype(np.float32,
                                                                                copy=False)


def within_class_whitening(scaled: np.ndarray, labels) -> Whitening:
    """The whitening of the within-class spread of ``scaled``.

    The spread is the Ledoit-Wolf shrunk covariance of each labeled row around its
    class mean; its inverse square root, scaled so that the mean variance maps to
    one, weighs each direction by how little it varies inside a class.

    Parameters
    ----------
    scaled
        ``(rows, dim)`` finite vectors, already on a common scale.
    labels
        One per row; None (or NaN) for rows without a label. Classes with a single
        labeled row are left out of the estimate.

    Returns
    -------
    Whitening
        Its :meth:`~Whitening.apply` maps rows to the learned space, where
        distances and cosines are taken as usual.

    Raises
    ------
    ValueError
        With fewer than two classes of two labeled rows (see :func:`check_labels`).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(200, 2)) * [5.0, 1.0]   # classes differ in the 2nd dim only
    >>> y = np.where(np.arange(200) % 2 == 0, "a", "b")
    >>> x[:, 1] += np.where(y == "a", 2.0, -2.0)
    >>> w = within_class_whitening(x, y).apply(np.eye(2))
    >>> bool(np.linalg.norm(w[1]) > np.linalg.norm(w[0]))   # the 2nd dimension counts more
    True
    """
    from sklearn.covariance import ledoit_wolf_shrinkage

    scaled = np.asarray(scaled, dtype=np.float64)
    labels = row_labels(labels, len(scaled))
    labeled = np.flatnonzero(_labeled(labels))
    names, classes, sizes = np.unique(labels[labeled].astype(str), return_inverse=True,
                                      return_counts=True)
    _check_counts(dict(zip(names.tolist(), sizes.tolist())))
    keep = sizes[classes] >= MIN_PER_CLASS
    rows, classes = labeled[keep], classes[keep]
    means = np.zeros((len(names), scaled.shape[1]))
    np.add.at(means, classes, scaled[rows])
    means /= np.maximum(sizes, 1)[:, None]
    residuals = scaled[rows] - means[classes]
    # covariance = (1 - shrink) * residuals.T @ residuals / n + shrink * mean_variance * I:
    # its eigenvectors are the residuals' right singular vectors, plus any direction
    # orthogonal to them (eigenvalue shrink * mean_variance)
    shrink = float(ledoit_wolf_shrinkage(residuals, assume_centered=True))
    _, singular, right = np.linalg.svd(residuals, full_matrices=False)
    mean_variance = float((singular ** 2).sum() / len(residuals) / scaled.shape[1])
    if mean_variance <= 0:  # every class is one repeated vector: nothing to learn
        return Whitening.of(np.zeros((scaled.shape[1], 0)), np.zeros(0), 1.0)
    values = (1 - shrink) * singular ** 2 / len(residuals) + shrink * mean_variance
    floor = 1e-6 * float(values.max())
    factors = 1 / np.sqrt(np.maximum(values, floor) / mean_variance)
    rest = 1 / np.sqrt(max(shrink * mean_variance, floor) / mean_variance)
    return Whitening.of(right.T, factors, rest)
