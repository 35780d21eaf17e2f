"""Which vectors separate *your* classes best: every vectorizer and aspect on your labels.

:func:`compare` takes a dataset with some labeled clips and reports, per
vectorizer and aspect, how often a clip's nearest neighbours share its label,
how well a kNN vote predicts it, how many lasso actions a listener would need to
label the map, and how long the vectors took. The "labels" aspect (a distance
learned from labels) learns from half of each label's clips and is measured on
the other half, so its figures are those of clips it has not seen.
"""
from __future__ import annotations

import sys
import time
from typing import Iterable

import numpy as np
import pandas as pd

from ..dataset.embedding import LABELS_ASPECT
from ..dataset.schema import ABSTAIN, LABEL, SUBSET
from ..maps.layout import fit_layout
from ..vectors import registry
from ..vectors.contract import Vectorizer, aspect_weights, as_vectorizer
from .evaluation import (knn_accuracy, labeling_effort, learning_split, precision_at_k,
                         precision_ceiling)

COLUMNS = ["vectorizer", "aspect", "clips", "classes", "precision_at_10", "precision_ceiling",
           "knn_accuracy", "actions_per_100", "effort_accuracy", "seconds_per_clip", "failed"]


def _vectorizers(vectorizers) -> list[tuple[str, Vectorizer]]:
    if vectorizers is None:
        vectorizers = [name for name in registry.names() if registry.is_installed(name)]
    chosen = []
    for item in ([vectorizers] if isinstance(vectorizers, (str, Vectorizer)) else vectorizers):
        if isinstance(item, str):
            chosen.append((item, registry.make(item)))
        else:
            vectorizer = as_vectorizer(item)
            chosen.append((type(vectorizer).__name__, vectorizer))
    return chosen


def compare(dataset, vectorizers=None, aspects: Iterable[str] | None = None, *,
            k: int = 10, folds: int = 5, map_method: str | None = "umap", seed: int = 0,
            workers: int | None = None, progress: bool = False) -> pd.DataFrame:
    """Measure vectorizers and their aspects on the labeled clips of ``dataset``.

    Parameters
    ----------
    dataset
        An :class:`~hover_audio.dataset.AudioDataset`; its rows labeled other than
        ``ABSTAIN`` (any subset) are used, at least two labels.
    vectorizers
        Registered names (``hover-audio vectorizers``), vectorizer objects or
        callables; default: every installed registered vectorizer.
    aspects
        Aspects to measure (those a vectorizer lacks are skipped); default: all, and
        "labels" (learned from half of each label's clips, measured on the rest).
    k, folds
        Neighbours for precision@k, folds for the kNN accuracy.
    map_method
        How to draw the 2-D map for the labeling effort ("umap" or "pca");
        None skips the effort (it is the slow part).

    Returns
    -------
    pandas.DataFrame
        One row per vectorizer and aspect: ``precision_at_10`` and
        ``precision_ceiling`` (the most any vectors could reach with these class
        sizes, see :func:`~hover_audio.model.evaluation.precision_ceiling`), ``knn_accuracy``,
        ``actions_per_100`` and ``effort_accuracy`` (see
        :func:`~hover_audio.model.evaluation.labeling_effort`), ``seconds_per_clip``
        (wall time of vectorizing, cache hits included) and ``failed`` clips.
        ``attrs["failures"]`` maps each vectorizer's name to the report rows
        (row, key, kind, message) of its clips that got no vector.

    Raises
    ------
    ValueError
        When fewer than two labels have clips, or an aspect is one no vectorizer has.
    """
    from ..dataset.audio_dataset import AudioDataset
    from ..vectors.batch import failed_rows

    table = dataset.to_pandas()
    labeled = table[table[LABEL] != ABSTAIN].reset_index(drop=True)
    if labeled[LABEL].nunique() < 2:
        raise ValueError(f"compare needs clips of at least 2 labels; found "
                         f"{sorted(labeled[LABEL].unique())}")
    wanted = None if aspects is None else list(aspects)
    rows, failures = [], {}
    chosen = _vectorizers(vectorizers)
    offered = {LABELS_ASPECT}.union(*(vectorizer.aspects() for _, vectorizer in chosen))
    unknown = sorted(set(wanted or ()) - offered)
    if unknown:  # (before any clip is read)
        raise ValueError(f"no vectorizer measured here has the aspect(s) {unknown}; they "
                         f"offer {sorted(offered)}")
    for number, (name, vectorizer) in enumerate(chosen, 1):
        if progress:  # which one the bars are for, and what follows them (the slow maps)
            print(f"[{number}/{len(chosen)}] {name}: vectorizing {len(labeled)} clips, then "
                  f"measuring its aspects", file=sys.stderr, flush=True)
        clips = AudioDataset.from_pandas(labeled.drop(columns=[SUBSET]))
        start = time.perf_counter()
        report = clips.vectorize(vectorizer, workers=workers, progress=progress)
        seconds = (time.perf_counter() - start) / max(1, len(clips))
        failures[name] = failed_rows(report)
        failed = len(failures[name])
        vectors, labels = clips.vectors, clips.column(LABEL)
        valid = np.isfinite(vectors).all(axis=1)  # the clips precision@k counts
        for aspect in [*vectorizer.aspects(), LABELS_ASPECT]:
            if wanted is not None and aspect not in wanted:
                continue
            figures = _measure(vectors, labels, valid, vectorizer, aspect, k=k, folds=folds,
                               map_method=map_method, seed=seed)
            rows.append({"vectorizer": name, "aspect": aspect, "clips": len(clips),
                         "classes": int(pd.Series(labels).nunique()), **figures,
                         "seconds_per_clip": seconds, "failed": failed})
    table = pd.DataFrame(rows, columns=COLUMNS)
    table.attrs["failures"] = failures
    return table


def _measure(vectors, labels, valid, vectorizer, aspect: str, *, k: int, folds: int,
             map_method, seed: int) -> dict:
    """Precision@k (and its ceiling over the ``valid`` rows), kNN accuracy and labeling
    effort of one aspect (NaN when it cannot be measured: the labels aspect with too
    few clips per label to learn from)."""
    labels = np.asarray(labels, dtype=object)
    figures = dict.fromkeys(["precision_at_10", "precision_ceiling", "knn_accuracy",
                             "actions_per_100", "effort_accuracy"], np.nan)
    raw = np.full(len(labels), "raw")
    if aspect != LABELS_ASPECT:
        weights = aspect_weights(vectorizer, aspect)
        figures["precision_at_10"] = precision_at_k(vectors, labels, k, weights)
        figures["precision_ceiling"] = precision_ceiling(labels[valid], k)
        figures["knn_accuracy"] = knn_accuracy(vectors, labels, folds, weights=weights,
                                               seed=seed)
        shown, layout = np.ones(len(labels), dtype=bool), {}
    else:
        weights = aspect_weights(vectorizer, None)
        learned = learning_split(labels, 0.5, seed)
        shown, layout = ~learned, {"labels": np.where(learned, labels, None)}
        try:
            figures["precision_at_10"] = precision_at_k(vectors, labels, k, weights,
                                                        learned_from=learned)
            figures["precision_ceiling"] = precision_ceiling(labels[valid], k,
                                                             queries=~learned[valid])
            figures["knn_accuracy"] = knn_accuracy(vectors, labels, folds, weights=weights,
                                                   seed=seed, learn=True)
        except ValueError:  # too few clips per label to learn from
            return figures
    if map_method:
        coords = fit_layout(vectors, raw, map_method, 2, seed, weights, **layout).coords
        effort = labeling_effort(coords[shown], labels[shown], seed=seed)
        figures["actions_per_100"], figures["effort_accuracy"] = (effort["actions_per_100"],
                                                                  effort["accuracy"])
    return figures
