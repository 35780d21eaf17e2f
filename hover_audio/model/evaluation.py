"""How well vectors separate known labels: neighbours, kNN, and the effort of labeling a map.

These measure vectors and maps against labels a person already has, so they can
choose the vectors that separate *their* classes (``hover_audio.compare``).
"""
from __future__ import annotations

import numpy as np

from ..maps.scaling import Scaler, unit_rows

CHUNK = 2048  # rows scored at once: CHUNK x rows float32 in memory


def _unit(vectors: np.ndarray, weights: np.ndarray | None,
          learning=None) -> tuple[np.ndarray, np.ndarray]:
    """Scaled unit rows of the valid vectors; ``learning``: labels to learn a distance from
    (one per row, None where not used)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    valid = np.isfinite(vectors).all(axis=1)
    unit = unit_rows(Scaler.fit(vectors, weights, learning).transform(vectors[valid]))
    return unit, valid


def _nearest(unit: np.ndarray, k: int, queries: np.ndarray | None = None) -> np.ndarray:
    """Positions in ``unit`` of the ``k`` nearest other rows of each query row (default: all)."""
    queries = np.arange(len(unit)) if queries is None else np.asarray(queries, dtype=np.int64)
    k = max(1, min(int(k), len(unit) - 1))
    nearest = np.zeros((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), CHUNK):
        rows = queries[start:start + CHUNK]
        block = unit[rows] @ unit.T
        block[np.arange(len(rows)), rows] = -np.inf
        part = np.argpartition(-block, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(block, part, axis=1), axis=1, kind="stable")
        nearest[start:start + len(rows)] = np.take_along_axis(part, order, axis=1)
    return nearest


def neighbours(vectors: np.ndarray, k: int = 10, weights: np.ndarray | None = None):
    """The ``k`` nearest rows of each valid row by cosine, as search ranks them.

    Returns ``(valid, nearest)``: the mask of rows with finite vectors and, for
    each of them, the positions (among valid rows) of its nearest others.
    """
    unit, valid = _unit(vectors, weights)
    return valid, _nearest(unit, k)


def precision_at_k(vectors: np.ndarray, labels, k: int = 10,
                   weights: np.ndarray | None = None, learned_from=None) -> float:
    """The share of each clip's ``k`` nearest clips that carry its label (mean over clips).

    ``learned_from`` (a boolean mask of rows) measures the distance learned from
    labels (the "labels" aspect) honestly: it learns from the labels of those rows
    only, and the mean is over the other rows (their neighbours may be any row).

    Examples
    --------
    >>> vectors = np.array([[0, 1], [0, 1.1], [1, 0], [1.1, 0]], dtype=np.float32)
    >>> precision_at_k(vectors, ["a", "a", "b", "b"], k=1)
    1.0
    """
    labels = np.asarray(labels, dtype=object)
    if learned_from is None:
        valid, nearest = neighbours(vectors, k, weights)
        kept = labels[valid]
        queries = kept
    else:
        learned_from = np.asarray(learned_from, dtype=bool)
        unit, valid = _unit(vectors, weights, np.where(learned_from, labels, None))
        kept = labels[valid]
        held = np.flatnonzero(~learned_from[valid])
        nearest, queries = _nearest(unit, k, held), kept[held]
    if len(kept) < 2 or len(queries) == 0:
        return float("nan")
    return float(np.mean(kept[nearest] == queries[:, None]))


def precision_ceiling(labels, k: int = 10, queries=None) -> float:
    """The highest precision@k any vectors could reach on ``labels`` (mean over clips).

    A clip whose label has ``n`` clips has at most ``n - 1`` neighbours of its own
    label, so with small classes even perfect vectors stay below 1: read a
    precision@k against this. ``queries`` (a boolean mask) averages over those clips
    only, whose neighbours may still be any clip.

    Examples
    --------
    >>> precision_ceiling(["a"] * 3 + ["b"] * 20, k=10)  # (3 x 0.2 + 20 x 1.0) / 23
    0.8956521739130435
    """
    labels = np.asarray(labels, dtype=object)
    if len(labels) < 2:
        return float("nan")
    k = max(1, min(int(k), len(labels) - 1))
    _, index, counts = np.unique(labels.astype(str), return_inverse=True, return_counts=True)
    reachable = np.minimum(counts[index] - 1, k) / k
    if queries is not None:
        reachable = reachable[np.asarray(queries, dtype=bool)]
    return float(reachable.mean()) if len(reachable) else float("nan")


def learning_split(labels, share: float = 0.5, seed: int = 0) -> np.ndarray:
    """A seeded mask of about ``share`` of the rows of each label (at least one per label),
    to learn a distance from while the other rows measure it."""
    labels = np.asarray(labels, dtype=object).astype(str)
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(labels), dtype=bool)
    for name in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == name))
        mask[rows[:max(1, int(round(share * len(rows))))]] = True
    return mask


def knn_accuracy(vectors: np.ndarray, labels, folds: int = 5, k: int = 5,
                 weights: np.ndarray | None = None, seed: int = 0,
                 learn: bool = False) -> float:
    """Accuracy of a ``k``-nearest-neighbour vote (cosine) in stratified ``folds``-fold CV;
    ``learn``: each fold also learns the distance from its training labels ("labels" aspect)."""
    from sklearn.model_selection import StratifiedKFold
    from sklearn.neighbors import KNeighborsClassifier

    labels = np.asarray(labels, dtype=object)
    vectors = np.asarray(vectors, dtype=np.float32)
    valid = np.isfinite(vectors).all(axis=1)
    kept = labels[valid].astype(str)
    names, counts = np.unique(kept, return_counts=True)
    usable = np.isin(kept, names[counts >= 2])
    rows, kept = vectors[valid][usable], kept[usable]
    splits = int(min(folds, counts[counts >= 2].min())) if usable.any() else 0
    if splits < 2 or len(set(kept)) < 2:
        return float("nan")
    unit = None if learn else _unit(rows, weights)[0]
    right = 0
    for train, test in StratifiedKFold(splits, shuffle=True, random_state=seed).split(rows, kept):
        if learn:
            learning = np.full(len(kept), None, dtype=object)
            learning[train] = kept[train]
            unit = _unit(rows, weights, learning)[0]
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
