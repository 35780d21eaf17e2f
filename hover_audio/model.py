"""A classifier over the dataset's vectors, and checks of the data itself.

:func:`fit` predicts any clip (a row or a new file); :func:`label_issues` finds labels
out-of-fold predictions disagree with, :func:`near_duplicates` clips that sound the same,
:func:`outliers` clips far from all others; :func:`flag_columns` gathers them per row.
"""
from __future__ import annotations

import os
from typing import Iterable

import numpy as np
import pandas as pd

from .normalize import Scaler
from .schema import ABSTAIN, LABEL, SUBSET

SEED = 0
CHUNK = 2048  # rows compared at once: CHUNK x rows float32 scores in memory


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
        positions = {key: at for at, key in enumerate(self.dataset.keys)}
        rows = []
        for key in map(os.fspath, keys):
            if key in positions:
                rows.append(self.dataset.vectors[positions[key]])
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


def _checkable(dataset) -> tuple[np.ndarray, np.ndarray]:
    """Labeled train/dev rows of classes with 2+ such rows (others cannot be cross-validated)."""
    positions, labels = _labeled(dataset, ("train", "dev"))
    names, counts = np.unique(labels, return_counts=True)
    keep = np.isin(labels, names[counts >= 2])
    return positions[keep], labels[keep]


def _classifier(C: float, max_iter: int):
    from sklearn.linear_model import LogisticRegression

    # lbfgs fits a multinomial (softmax) model whenever there are more than 2 classes
    return LogisticRegression(C=C, solver="lbfgs", max_iter=max_iter)


def fit(dataset, C: float = 1.0, max_iter: int = 1000) -> AudioModel:
    """Train a logistic regression on the labeled train rows; score it on dev.

    Rows labeled ``ABSTAIN`` and rows whose clip failed (NaN vectors) are left
    out. Vectors are standardized by a :class:`~hover_audio.normalize.Scaler`
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
    estimator = _classifier(C, max_iter).fit(scaler.transform(dataset.vectors[positions]), labels)
    model = AudioModel(dataset, scaler, estimator, None)
    dev, dev_labels = _labeled(dataset, ("dev",))
    if len(dev):
        guessed = np.asarray(model.classes)[np.argmax(model.predict_proba(dataset.vectors[dev]), 1)]
        model.dev_accuracy = float(np.mean(guessed == dev_labels))
    return model


def label_issues(dataset, folds: int = 5, C: float = 1.0) -> pd.DataFrame:
    """Labeled rows whose label disagrees with out-of-fold predictions, most suspect first.

    Probabilities come from ``cross_val_predict`` over the labeled train and dev
    rows (a shuffled, seeded ``StratifiedKFold``; fewer folds when a class has
    fewer rows; classes with a single row are left out). Each class ``j`` gets a
    threshold ``t_j``, the mean probability of ``j`` over rows labeled ``j``. A
    row is suspect when its label's probability is below that label's threshold
    and another class reaches its own threshold; ``suggested`` is the most
    probable such class and ``score`` is ``p(suggested) - p(label)``.

    Returns
    -------
    pandas.DataFrame
        ``audio`` (the row key), ``label``, ``suggested``, ``score``, ``subset``,
        ``position``: suspects only, highest score first.
    """
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    positions, labels = _checkable(dataset)
    classes, counts = np.unique(labels, return_counts=True)
    classes = classes.tolist()
    if len(classes) < 2:
        raise ValueError(f"label_issues needs 2+ classes with 2+ labeled train/dev rows each; "
                         f"found {classes}")
    splits = int(max(2, min(folds, counts.min())))
    vectors = Scaler.fit(dataset.vectors[positions]).transform(dataset.vectors[positions])
    cv = StratifiedKFold(n_splits=splits, shuffle=True, random_state=SEED)
    proba = cross_val_predict(_classifier(C, 1000), vectors, labels, cv=cv, method="predict_proba")
    given = np.array([classes.index(label) for label in labels], dtype=np.int64)
    thresholds = np.array([proba[given == j, j].mean() for j in range(len(classes))])
    rows = np.arange(len(labels))
    confident = proba >= thresholds
    confident[rows, given] = False
    suggested = np.argmax(np.where(confident, proba, -np.inf), axis=1)
    suspect = (proba[rows, given] < thresholds[given]) & confident.any(axis=1)
    score = proba[rows, suggested] - proba[rows, given]
    table = pd.DataFrame({
        "audio": np.asarray(dataset.keys, dtype=object)[positions], "label": labels,
        "suggested": np.asarray(classes, dtype=object)[suggested], "score": score,
        "subset": dataset.column(SUBSET)[positions], "position": positions,
    })[suspect]
    return table.sort_values(["score", "position"], ascending=[False, True], ignore_index=True)


def near_duplicates(dataset, threshold: float = 0.98) -> pd.DataFrame:
    """Pairs of rows whose cosine score (as in search) is at least ``threshold``.

    Rows are compared ``CHUNK`` at a time, so memory stays ``CHUNK x rows``.

    Returns
    -------
    pandas.DataFrame
        ``position_a < position_b``, ``audio_a``, ``audio_b``, ``score``; highest first.
    """
    index = dataset.similarity_index()  # unit rows, zero for failed clips
    unit, valid = index.unit, index.valid
    none = np.zeros(0, dtype=np.int64)
    found_a, found_b, scores = [none], [none], [np.zeros(0, dtype=np.float32)]
    for start in range(0, len(unit), CHUNK):
        block = unit[start:start + CHUNK] @ unit[start:].T  # columns: rows from ``start`` on
        rows, cols = np.nonzero(block >= threshold)
        a, b = rows + start, cols + start
        keep = (b > a) & valid[a] & valid[b]
        found_a.append(a[keep])
        found_b.append(b[keep])
        scores.append(block[rows[keep], cols[keep]])
    a, b = np.concatenate(found_a).astype(np.int64), np.concatenate(found_b).astype(np.int64)
    keys = np.asarray(dataset.keys, dtype=object)
    table = pd.DataFrame({"position_a": a, "position_b": b, "audio_a": keys[a],
                          "audio_b": keys[b], "score": np.concatenate(scores).astype(np.float64)})
    return table.sort_values(["score", "position_a", "position_b"],
                             ascending=[False, True, True], ignore_index=True)


def outliers(dataset, k: int = 10, quantile: float = 0.99) -> pd.Series:
    """Rows far from every other: mean cosine distance to the ``k`` nearest neighbours
    above the ``quantile`` of that statistic over all rows (failed rows: False)."""
    index = dataset.similarity_index()  # unit rows, zero for failed clips
    unit, valid = index.unit, index.valid
    flags = pd.Series(False, index=pd.RangeIndex(len(unit)), name="outlier")
    usable = np.flatnonzero(valid)
    k = min(int(k), len(usable) - 1)
    if k < 1:
        return flags
    others = unit[usable]
    distance = np.zeros(len(usable))
    for start in range(0, len(usable), CHUNK):
        block = others[start:start + CHUNK] @ others.T
        block[np.arange(len(block)), np.arange(start, start + len(block))] = -np.inf  # not itself
        nearest = -np.partition(-block, k - 1, axis=1)[:, :k]
        distance[start:start + len(block)] = 1.0 - nearest.mean(axis=1)
    flags.iloc[usable] = distance > np.quantile(distance, quantile)
    return flags


def flag_columns(dataset, model: AudioModel | None = None) -> pd.DataFrame:
    """Per dataset row: ``suspect_label``, ``suggested``, ``duplicate_of``, ``outlier``.

    ``duplicate_of`` is the first row a row nearly duplicates (-1 if none, and for
    that first row itself). Without 2 classes of 2+ labeled rows no label is
    suspect. With ``model``, its ``pred_label``, ``pred_probability`` and
    ``pred_margin`` columns are added.
    """
    count = len(dataset)
    flags = pd.DataFrame({"suspect_label": np.zeros(count, dtype=bool),
                          "suggested": np.full(count, None, dtype=object),
                          "duplicate_of": np.full(count, -1, dtype=np.int64),
                          "outlier": outliers(dataset).to_numpy(dtype=bool)})
    if len(set(_checkable(dataset)[1])) >= 2:
        issues = label_issues(dataset)
        flags.loc[issues["position"], "suspect_label"] = True
        flags.loc[issues["position"], "suggested"] = issues["suggested"].to_numpy()
    pairs = near_duplicates(dataset)
    first = pairs.groupby("position_b")["position_a"].min()
    flags.loc[first.index, "duplicate_of"] = first.to_numpy(dtype=np.int64)
    if model is not None:
        flags = pd.concat([flags, model.predictions()], axis=1)
    return flags
