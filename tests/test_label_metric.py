"""The "labels" aspect: a distance learned from the dataset's own labels (outside test)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hover_audio import AudioDataset
from hover_audio.dataset.embedding import LABELS_ASPECT, learning_labels
from hover_audio.maps.label_metric import Whitening, check_labels, within_class_whitening
from hover_audio.maps.layout import fit_layout
from hover_audio.maps.scaling import Scaler
from hover_audio.maps.search import SimilarityIndex
from hover_audio.model.evaluation import knn_accuracy, learning_split, precision_at_k


def nuisance_data(rows_per_class: int = 100, seed: int = 0):
    """Three classes that differ in 2 of 20 dimensions, while a few loud hidden factors
    move every dimension within every class (as a speaker's voice moves every feature
    of a digit). Class "c" is never labeled."""
    rng = np.random.default_rng(seed)
    names = np.repeat(["a", "b", "c"], rows_per_class)
    factors = rng.normal(size=(len(names), 3)) * 4.0
    vectors = factors @ rng.normal(size=(3, 20)) + rng.normal(size=(len(names), 20)) * 0.5
    centres = {"a": (1.5, 0.0), "b": (-1.5, 0.0), "c": (0.0, 2.0)}
    vectors[:, :2] += np.array([centres[name] for name in names])
    labels = np.where(names == "c", None, names).astype(object)
    learn = np.zeros(len(names), dtype=bool)
    learn[np.flatnonzero(names != "c")[::2]] = True  # half of a and b are labeled
    labels[~learn] = None
    return vectors.astype(np.float32), names, labels, learn


def test_learned_distance_finds_the_labeled_difference_and_keeps_unlabeled_classes():
    vectors, names, labels, learn = nuisance_data()
    plain = precision_at_k(vectors, names, 10)
    learned = precision_at_k(vectors, names, 10, learned_from=learn)
    assert plain < 0.5 and learned > plain + 0.25, (plain, learned)  # chance: 1/3
    # class "c" had no label at all, and still finds its own kind
    unseen = np.flatnonzero(names == "c")

    def found_c(index):
        return np.mean([np.mean(names[index.top_k(int(row), 10)] == "c") for row in unseen])

    with_labels, without = found_c(SimilarityIndex(vectors, labels=labels)), found_c(
        SimilarityIndex(vectors))
    assert with_labels > 0.6 and with_labels > without + 0.2, (with_labels, without)


def test_whitening_evens_out_the_within_class_spread():
    vectors, names, labels, _ = nuisance_data()
    scaled = Scaler.fit(vectors).transform(vectors)
    whitening = within_class_whitening(scaled, labels)
    assert whitening.apply(scaled).shape == scaled.shape
    assert whitening.apply(scaled).dtype == np.float32
    rows = np.flatnonzero([value is not None for value in labels])

    def within_spread(matrix):  # loudest / quietest direction of the spread within classes
        residual = matrix[rows].astype(np.float64)
        for name in ("a", "b"):
            mine = labels[rows] == name
            residual[mine] -= residual[mine].mean(axis=0)
        values = np.linalg.eigvalsh(residual.T @ residual / len(rows))
        return np.sqrt(values.max() / values.min())

    before, after = within_spread(scaled), within_spread(whitening.apply(scaled))
    # the loud directions are brought near the others (shrinkage keeps it from exact)
    assert after < before / 5, (before, after)
    # a scaler with labels applies it, and NaN rows stay NaN
    scaler = Scaler.fit(np.vstack([vectors, np.full((1, 20), np.nan)]), labels=[*labels, None])
    out = scaler.transform(np.vstack([vectors[:2], np.full((1, 20), np.nan)]))
    assert np.isfinite(out[:2]).all() and np.isnan(out[2]).all()


def test_whitening_of_more_dimensions_than_labeled_clips_is_low_rank():
    """A pretrained embedder's thousands of dimensions: the whitening keeps one
    direction per labeled clip (not dim x dim), and acts on the rest alike."""
    rng = np.random.default_rng(1)
    scaled = rng.normal(size=(30, 3000))
    labels = np.array(["a", "b", "c"] * 10, dtype=object)
    whitening = within_class_whitening(scaled, labels)
    assert whitening.basis.shape == (3000, 30) and whitening.factors.shape == (30,)
    # a direction no labeled clip varies in is scaled by the single "rest" factor
    outside = rng.normal(size=3000)
    outside -= whitening.basis @ (whitening.basis.T @ outside)
    assert np.allclose(whitening.apply(outside[None])[0], whitening.rest * outside, atol=1e-4)
    assert whitening.matrix is None  # 3000 x 3000 would cost more than the low-rank form


def test_dense_and_low_rank_forms_of_the_whitening_agree():
    vectors, _, labels, _ = nuisance_data()
    whitening = within_class_whitening(vectors, labels)
    assert whitening.matrix is not None and whitening.matrix.shape == (20, 20)
    low_rank = Whitening(whitening.basis, whitening.factors, whitening.rest)
    np.testing.assert_allclose(whitening.apply(vectors), low_rank.apply(vectors), rtol=1e-4,
                               atol=1e-4)


@pytest.mark.parametrize("labels, message", [
    ([None] * 6, "labeled clips per label: none"),
    (["a", "a", "a", None, None, None], "a: 3"),
    (["a", "a", "b", None, None, None], "a: 2, b: 1"),
])
def test_too_few_labels_say_what_is_missing(labels, message):
    with pytest.raises(ValueError, match=f"at least 2 labels .*{message}"):
        check_labels(labels)
    with pytest.raises(ValueError, match=message):
        SimilarityIndex(np.random.default_rng(0).normal(size=(6, 3)), labels=labels)
    with pytest.raises(ValueError, match="one label per row"):
        SimilarityIndex(np.zeros((6, 3)), labels=["a", "b"])


def test_learning_split_and_knn_with_a_learned_distance():
    vectors, names, _, _ = nuisance_data()
    names = names.astype(object)
    mask = learning_split(names, 0.4, seed=3)
    for name in ("a", "b", "c"):
        assert (mask & (names == name)).sum() == 40  # 40% of each label's 100
    assert np.array_equal(mask, learning_split(names, 0.4, seed=3))
    plain = knn_accuracy(vectors, names, 5)
    learned = knn_accuracy(vectors, names, 5, learn=True)
    assert learned > plain + 0.3, (plain, learned)


def dataset_of(vectors, names, learn, subsets=None):
    table = pd.DataFrame({"audio": [f"clip{i}.wav" for i in range(len(names))],
                          "label": np.where(learn, names, "ABSTAIN"),
                          "SUBSET": subsets if subsets is not None
                          else np.where(learn, "train", "raw")})
    ds = AudioDataset.from_pandas(table)
    ds.vectors = vectors
    return ds


def test_dataset_offers_the_labels_aspect_for_search_and_map(tmp_path):
    vectors, names, _, learn = nuisance_data()
    subsets = np.where(learn, "train", "raw").astype(object)
    subsets[np.flatnonzero(names == "a")[1]] = "test"  # a test row keeps its label out
    ds = dataset_of(vectors, names, learn | (subsets == "test"), subsets)
    assert ds.aspects()[-1] == LABELS_ASPECT
    learning = learning_labels(ds)
    assert learning[np.flatnonzero(names == "a")[1]] is None
    assert sum(value is not None for value in learning) == learn.sum()
    index = ds.similarity_index(aspect=LABELS_ASPECT)
    unseen = np.flatnonzero(~learn & (names != "c"))
    hits = np.mean([np.mean(names[index.top_k(int(row), 10)] == names[row]) for row in unseen])
    plain = ds.similarity_index()
    plain_hits = np.mean([np.mean(names[plain.top_k(int(row), 10)] == names[row])
                          for row in unseen])
    assert hits > 0.85 > plain_hits + 0.2
    # the map: computed, then reused for the same labels, and redrawn when they change
    first = ds.compute_nd_embedding(method="pca", aspect=LABELS_ASPECT, progress=False).coords
    again = ds.compute_nd_embedding(method="pca", aspect=LABELS_ASPECT, progress=False).coords
    assert np.array_equal(first, again)
    overall = ds.compute_nd_embedding(method="pca", progress=False).coords
    assert not np.allclose(first, overall)
    ds.set_labels([ds.keys[int(row)] for row in np.flatnonzero(names == "c")[:30]], "c")
    relabeled = ds.compute_nd_embedding(method="pca", aspect=LABELS_ASPECT,
                                        progress=False).coords
    assert not np.allclose(first, relabeled)


def test_labels_aspect_without_labels_is_a_clear_error():
    vectors, names, _, learn = nuisance_data()
    ds = dataset_of(vectors, names, np.zeros(len(names), dtype=bool))
    with pytest.raises(ValueError, match="labels"):
        ds.similarity_index(aspect=LABELS_ASPECT)
    with pytest.raises(ValueError, match="labels"):
        ds.compute_nd_embedding(method="pca", aspect=LABELS_ASPECT, progress=False)


def test_layout_places_test_rows_with_the_learned_distance():
    vectors, names, labels, learn = nuisance_data()
    subsets = np.where(np.arange(len(names)) % 10 == 9, "test", "raw")
    reducer = fit_layout(vectors, subsets, "pca", 2, 0, labels=np.where(
        subsets == "test", None, labels))
    assert np.isfinite(reducer.coords).all()
    # the learned map separates a from b along its first axis
    a, b = reducer.coords[names == "a"], reducer.coords[names == "b"]
    gap = abs(a.mean(axis=0) - b.mean(axis=0)).max()
    assert gap > 2 * max(a.std(axis=0).max(), b.std(axis=0).max()) * 0.5
