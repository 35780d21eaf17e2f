"""How well vectors separate known labels: neighbours, kNN, and the effort of labeling a map.

These measure vectors and maps against labels a person already has, so they can
choose the vectors that separate *their* classes (``hover_audio.compare``).
"""
from __future__ import annotations

import numpy as np

from ..maps.scaling import Scaler, unit_rows

CHUNK = 2048  # rows scored at once: CHUNK x rows float32 in memory


def _unit(vectors: np.ndarray, weights: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    vectors = np.asarray(vectors, dtype=np.float32)
    valid = np.isfinite(vectors).all(axis=1)
    unit = unit_rows(Scaler.fit(vectors[valid], weights).transform(vectors[valid]))
    return unit, valid


def neighbours(vectors: np.ndarray, k: int = 10, weights: np.ndarray | None = None):
    """The ``k`` nearest rows of each valid row by cosine, as search ranks them.

    Returns ``(valid, nearest)``: the mask of rows with finite vectors and, for
    each of them, the positions (among valid rows) of its nearest others.
    """
    unit, valid = _unit(vectors, weights)
    k = max(1, min(int(k), len(unit) - 1))
    nearest = np.zeros((len(unit), k), dtype=np.int64)
    for start in range(0, len(unit), CHUNK):
        block = unit[start:start + CHUNK] @ unit.T
        block[np.arange(len(block)), np.arange(start, start + len(block))] = -np.inf
        part = np.argpartition(-block, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(block, part, axis=1), axis=1, kind="stable")
        nearest[start:start + len(block)] = np.take_along_axis(part, order, axis=1)
    return valid, nearest


def precision_at_k(vectors: np.ndarray, labels, k: int = 10,
                   weights: np.ndarray | None = None) -> float:
    """The share of each clip's ``k`` nearest clips that carry its label (mean over clips).

    Examples
    --------
    >>> vectors = np.array([[0, 1], [0, 1.1], [1, 0], [1.1, 0]], dtype=np.float32)
    >>> precision_at_k(vectors, ["a", "a", "b", "b"], k=1)
    1.0
    """
    labels = np.asarray(labels, dtype=object)
    valid, nearest = neighbours(vectors, k, weights)
    kept = labels[valid]
    return float(np.mean(kept[nearest] == kept[:, None])) if len(kept) > 1 else float("nan")


def knn_accuracy(vectors: np.ndarray, labels, folds: int = 5, k: int = 5,
                 weights: np.ndarray | None = None, seed: int = 0) -> float:
    """Accuracy of a ``k``-nearest-neighbour vote (cosine) in stratified ``folds``-fold CV."""
    from sklearn.model_selection import StratifiedKFold
    from sklearn.neighbors import KNeighborsClassifier

    labels = np.asarray(labels, dtype=object)
    unit, valid = _unit(vectors, weights)
    kept = labels[valid].astype(str)
    names, counts = np.unique(kept, return_counts=True)
    usable = np.isin(kept, names[counts >= 2])
    unit, kept = unit[usable], kept[usable]
    splits = int(min(folds, counts[counts >= 2].min())) if usable.any() else 0
    if splits < 2 or len(set(kept)) < 2:
        return float("nan")
    right = 0
    for train, test in StratifiedKFold(splits, shuffle=True, random_state=seed).split(unit, kept):
        model = KNeighborsClassifier(n_neighbors=min(k, len(train)), metric="cosine")
        right += int((model.fit(unit[train], kept[train]).predict(unit[test]) == kept[test]).sum())
    return right / len(kept)


def labeling_effort(coords: np.ndarray, labels, regions: int = 10, listen: int = 5,
                    seed: int = 0) -> dict:
    """Simulate labeling a 2-D map by lassoing regions, and count the actions.

    A listener lassos each of ``regions`` k-means regions of the map, listens to
    ``listen`` random clips in it and, if they agree, labels the whole region with
    one action; otherwise the region is split in two (k-means) and looked at again.
    A region of at most ``listen`` clips is labeled clip by clip: one action per
    distinct label in it. Clips without coordinates are left out.

    Returns
    -------
    dict
        ``actions``, ``clips``, ``actions_per_100`` and ``accuracy`` (the share of
        clips that received their true label).
    """
    from sklearn.cluster import KMeans

    labels = np.asarray(labels, dtype=object)
    coords = np.asarray(coords, dtype=np.float64)
    valid = np.flatnonzero(np.isfinite(coords).all(axis=1))
    rng = np.random.default_rng(seed)

    def split(rows: np.ndarray, parts: int) -> list[np.ndarray]:
        parts = min(parts, len(np.unique(coords[rows], axis=0)))
        if parts < 2:  # every point in one place: halve the region
            return [rows[: len(rows) // 2], rows[len(rows) // 2:]]
        found = KMeans(parts, n_init=4, random_state=seed).fit_predict(coords[rows])
        return [rows[found == part] for part in range(parts) if (found == part).any()]

    pending = split(valid, regions) if len(valid) > listen else [valid]
    actions = right = 0
    while pending:
        rows = pending.pop()
        if len(rows) == 0:
            continue
        if len(rows) <= listen:
            actions += len(set(labels[rows]))
            right += len(rows)
            continue
        heard = labels[rng.choice(rows, listen, replace=False)]
        if (heard == heard[0]).all():
            actions += 1
            right += int((labels[rows] == heard[0]).sum())
        else:
            pending.extend(split(rows, 2))
    clips = len(valid)
    return {"actions": actions, "clips": clips,
            "actions_per_100": 100.0 * actions / clips if clips else float("nan"),
            "accuracy": right / clips if clips else float("nan")}
