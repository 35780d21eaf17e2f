"""A classifier over the dataset's vectors: :func:`fit` predicts any clip (a row or a new file)."""
from __future__ import annotations

import os
from typing import Iterable

import numpy as np
import pandas as pd

from ..dataset.schema import ABSTAIN, LABEL, SUBSET
from ..maps.scaling import Scaler



class AudioModel:
    """A fitted classifier over the vectors of ``dataset`` (made by :func:`fit`).

    It reads the dataset's current vectors: fit again after vectorizing anew.

    Attributes
    ----------
    classes
        The labels it predicts, in the order of ``predict_proba`` columns.
    dev_accuracy
        Accuracy on the labeled dev rows, or None when there are none.
    """

    def __init__(self, dataset, scaler: Scaler, estimator, dev_accuracy: float | None):
        self.dataset = dataset
        self.scaler = scaler
        self.estimator = estimator
        self.classes: list[str] = [str(label) for label in estimator.classes_]
        self.dev_accuracy = dev_accuracy
        self.vectorizer = dataset.vectorizer

    def predict_proba(self, vectors: np.ndarray) -> np.ndarray:
        """Class probabilities, shape ``(rows, len(classes))``; NaN for non-finite rows."""
        vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        proba = np.full((len(vectors), len(self.classes)), np.nan)
        finite = np.isfinite(vectors).all(axis=1)
        if finite.any():
            proba[finite] = self.estimator.predict_proba(self.scaler.transform(vectors[finite]))
        return proba

    def predict(self, keys: Iterable[str] | str, top: int = 5, threshold: float | None = None,
                labels: Iterable[str] | None = None) -> list[list[dict]]:
        """The best labels of each key, like IBM's MAX audio classifier API.

        Parameters
        ----------
        keys
            Keys of dataset rows, or new files/URLs (vectorized by the dataset's vectorizer).
        top
            At most this many labels per key.
        threshold
            Only labels with at least this probability.
        labels
            Only these labels (each must be one of ``classes``).

        Returns
        -------
        list of list of dict
            Per key, ``{"label", "probability"}`` dicts, best first ([] if its clip failed).

        Raises
        ------
        SourceError, DecodeError, KeyError, ValueError
            A new key that cannot be read or decoded, or (KeyError) when the dataset
            has no vectorizer; ``labels`` naming a label the model does not know.
        """
        keys = [keys] if isinstance(keys, (str, os.PathLike)) else list(keys)
        allowed = np.ones(len(self.classes), dtype=bool)
        if labels is not None:
            labels = [labels] if isinstance(labels, str) else list(labels)
            unknown = sorted(set(labels) - set(self.classes))
            if unknown:
                raise ValueError(f"unknown label(s) {unknown}; the model knows {self.classes}")
            allowed = np.isin(self.classes, labels)
        proba = self.predict_proba(self._vectors(keys))
        results = []
        for row in proba:
            order = [at for at in np.argsort(-row, kind="stable") if allowed[at]
                     and np.isfinite(row[at]) and (threshold is None or row[at] >= threshold)]
            results.append([{"label": self.classes[at], "probability": float(row[at])}
                            for at in order[:max(0, int(top))]])
        return results

    def _vectors(self, keys: list) -> np.ndarray:
        keys = [os.fspath(key) for key in keys]
        rows = []
        for key, at in zip(keys, self.dataset.positions(keys, missing="skip")):
            if at >= 0:
                rows.append(self.dataset.vectors[at])
            elif self.vectorizer is None:
                raise KeyError(f"{key!r} is not in the dataset and the dataset has no vectorizer")
            else:
                rows.append(np.asarray(self.vectorizer(key), dtype=np.float32))
        return np.stack(rows) if rows else np.zeros((0, len(self.scaler.center)), np.float32)

    def predictions(self) -> pd.DataFrame:
        """Per dataset row: ``pred_label``, ``pred_probability`` and ``pred_margin``.

        The margin is the best probability minus the second best. Rows whose clip
        failed get None and NaN.
        """
        proba = self.predict_proba(_require_vectors(self.dataset))
        finite = np.isfinite(proba).all(axis=1)
        filled = np.where(finite[:, None], proba, 0.0)
        ranked = -np.sort(-filled, axis=1)
        best = [self.classes[at] if ok else None for at, ok in zip(filled.argmax(axis=1), finite)]
        return pd.DataFrame({"pred_label": pd.Series(best, dtype=object),
                             "pred_probability": np.where(finite, ranked[:, 0], np.nan),
                             "pred_margin": np.where(finite, ranked[:, 0] - ranked[:, 1], np.nan)})


def _require_vectors(dataset) -> np.ndarray:
    if dataset.vectors is None:
        raise ValueError("the dataset has no vectors yet: call vectorize() first")
    return dataset.vectors


def _labeled(dataset, subsets: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Positions and labels of the rows in ``subsets`` that are labeled and have vectors."""
    vectors = _require_vectors(dataset)
    labels = dataset.column(LABEL)
    keep = (np.isin(dataset.column(SUBSET), subsets) & (labels != ABSTAIN)
            & np.isfinite(vectors).all(axis=1))
    return np.flatnonzero(keep), labels[keep]


def checkable(dataset) -> tuple[np.ndarray, np.ndarray]:
    """Labeled train/dev rows of classes with 2+ such rows (others cannot be cross-validated)."""
    positions, labels = _labeled(dataset, ("train", "dev"))
    names, counts = np.unique(labels, return_counts=True)
    keep = np.isin(labels, names[counts >= 2])
    return positions[keep], labels[keep]


def classifier(C: float, max_iter: int):
    from sklearn.linear_model import LogisticRegression

    # lbfgs fits a multinomial (softmax) model whenever there are more than 2 classes
    return LogisticRegression(C=C, solver="lbfgs", max_iter=max_iter)


def fit(dataset, C: float = 1.0, max_iter: int = 1000) -> AudioModel:
    """Train a logistic regression on the labeled train rows; score it on dev.

    Rows labeled ``ABSTAIN`` and rows whose clip failed (NaN vectors) are left
    out. Vectors are standardized by a :class:`~hover_audio.maps.scaling.Scaler`
    fitted on the training rows.

    Raises
    ------
    ValueError
        When there are no vectors, or fewer than 2 classes among usable train rows.
    """
    positions, labels = _labeled(dataset, ("train",))
    found = sorted(set(labels))
    if len(found) < 2:
        raise ValueError(
            f"fit needs labeled train rows (not {ABSTAIN}, with vectors) of at least 2 "
            f"classes; found {len(positions)} row(s) of {len(found)} class(es) {found}")
    scaler = Scaler.fit(dataset.vectors[positions])
    estimator = classifier(C, max_iter).fit(scaler.transform(dataset.vectors[positions]), labels)
    model = AudioModel(dataset, scaler, estimator, None)
    dev, dev_labels = _labeled(dataset, ("dev",))
    if len(dev):
        guessed = np.asarray(model.classes)[np.argmax(model.predict_proba(dataset.vectors[dev]), 1)]
        model.dev_accuracy = float(np.mean(guessed == dev_labels))
    return model
