"""Checks of the data itself: suspect labels, near-duplicates, outliers.

:func:`label_issues` finds labels out-of-fold predictions disagree with,
:func:`near_duplicates` clips that sound the same, :func:`outliers` clips far from
all others; :func:`flag_columns` gathers them per row.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..dataset.embedding import LABELS_ASPECT
from ..dataset.schema import SUBSET
from ..maps.scaling import Scaler
from .classifier import AudioModel, checkable, classifier

SEED = 0
CHUNK = 2048  # rows compared at once: CHUNK x rows float32 scores in memory


def label_issues(dataset, folds: int = 5, C: float = 1.0) -> pd.DataFrame:
    """Labeled rows whose label disagrees with out-of-fold predictions, most suspect first.

    Probabilities come from ``cross_val_predict`` over the labeled train and dev
    rows (a shuffled, seeded ``StratifiedKFold`` of ``folds`` folds, fewer only when
    even the largest class has fewer rows; classes with a single row are left out).
    Each class ``j`` gets a threshold ``t_j``, the mean probability of ``j`` over
    rows labeled ``j``. A row is suspect when its label's probability is below that
    label's threshold, another class reaches its own threshold, and the most
    probable such class, ``suggested``, is more probable than the label:
    ``score = p(suggested) - p(label)`` is always positive. (A class of a few rows
    has a threshold near 0 that almost any row clears; without that last condition
    it would be suggested for rows the model is sure of.)

    Returns
    -------
    pandas.DataFrame
        ``audio`` (the row key), ``label``, ``suggested``, ``score``, ``subset``,
        ``position``: suspects only, highest score first.
    """
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    positions, labels = checkable(dataset)
    classes, counts = np.unique(labels, return_counts=True)
    classes = classes.tolist()
    if len(classes) < 2:
        raise ValueError(f"label_issues needs 2+ classes with 2+ labeled train/dev rows each; "
                         f"found {classes}")
    # as many folds as the largest class allows: a class of 2 rows still has one in every
    # training fold, and must not cut the folds (and the predictions) of all the others
    splits = int(max(2, min(folds, counts.max())))
    vectors = Scaler.fit(dataset.vectors[positions]).transform(dataset.vectors[positions])
    cv = StratifiedKFold(n_splits=splits, shuffle=True, random_state=SEED)
    with warnings.catch_warnings():  # "the least populated class has only 2 members"
        warnings.filterwarnings("ignore", message="The least populated class",
                                category=UserWarning)
        proba = cross_val_predict(classifier(C, 1000), vectors, labels, cv=cv,
                                  method="predict_proba")
    given = np.array([classes.index(label) for label in labels], dtype=np.int64)
    thresholds = np.array([proba[given == j, j].mean() for j in range(len(classes))])
    rows = np.arange(len(labels))
    confident = proba >= thresholds
    confident[rows, given] = False
    suggested = np.argmax(np.where(confident, proba, -np.inf), axis=1)
    score = proba[rows, suggested] - proba[rows, given]
    # a class of a few rows has a threshold near 0 (its rows are hard to predict from
    # each other), which nearly every row clears: only a suggestion the model finds more
    # probable than the label itself counts
    suspect = (proba[rows, given] < thresholds[given]) & confident.any(axis=1) & (score > 0)
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
        ``position_a < position_b``, ``audio_a``, ``audio_b``, ``score`` (5 decimals);
        highest first, ties by row.
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
    score = np.concatenate(scores).astype(np.float64)
    # ties (exact copies score 1.0 give or take a rounding of the matrix product,
    # which depends on the chunking) are broken by row, so the order is the same
    # however the rows were chunked
    score = np.round(score, 5)
    order = np.lexsort((b, a, -score))
    keys = np.asarray(dataset.keys, dtype=object)
    return pd.DataFrame({"position_a": a[order], "position_b": b[order],
                         "audio_a": keys[a[order]], "audio_b": keys[b[order]],
                         "score": score[order]})


def outliers(dataset, k: int = 10, quantile: float = 0.99) -> pd.Series:
    """Rows far from every other in some respect (failed rows: False).

    For each aspect of the vectors (``dataset.aspects()`` but "labels": e.g. a white noise
    among words stands out by its shape, a hum among hums by nothing), the mean
    cosine distance of a row to its ``k`` nearest neighbours; a row is an outlier
    when it is above the top ``1 - quantile`` share in any aspect (that share is
    split between the aspects, so about ``1 - quantile`` of the rows are flagged).
    """
    aspects = [aspect for aspect in dataset.aspects() if aspect != LABELS_ASPECT]
    share = (1.0 - quantile) / len(aspects)
    flags = pd.Series(False, index=pd.RangeIndex(len(dataset)), name="outlier")
    for aspect in aspects:
        index = dataset.similarity_index(aspect=aspect)  # unit rows, zero for failed clips
        usable = np.flatnonzero(index.valid)
        k_used = min(int(k), len(usable) - 1)
        if k_used < 1:
            return flags
        distance = _neighbour_distance(index.unit[usable], k_used)
        far = distance > np.quantile(distance, 1.0 - share)
        flags.iloc[usable[far]] = True
    return flags


def _neighbour_distance(unit: np.ndarray, k: int) -> np.ndarray:
    """Mean cosine distance of each unit row to its ``k`` nearest others, CHUNK rows at a time."""
    distance = np.zeros(len(unit))
    for start in range(0, len(unit), CHUNK):
        block = unit[start:start + CHUNK] @ unit.T
        block[np.arange(len(block)), np.arange(start, start + len(block))] = -np.inf  # not itself
        nearest = -np.partition(-block, k - 1, axis=1)[:, :k]
        distance[start:start + len(block)] = 1.0 - nearest.mean(axis=1)
    return distance


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
    if len(set(checkable(dataset)[1])) >= 2:
        issues = label_issues(dataset)
        flags.loc[issues["position"], "suspect_label"] = True
        flags.loc[issues["position"], "suggested"] = issues["suggested"].to_numpy()
    pairs = near_duplicates(dataset)
    first = pairs.groupby("position_b")["position_a"].min()
    flags.loc[first.index, "duplicate_of"] = first.to_numpy(dtype=np.int64)
    if model is not None:
        flags = pd.concat([flags, model.predictions()], axis=1)
    return flags
