"""The map and the search: ``reduce``, stored layouts, ``compute_nd_embedding``, ``SimilarityIndex``.

Done when: hover semantics (test transformed, not fitted), tiny and empty subsets,
stored layouts reused and invalidated when vectors change, search by every query
kind, and search quality on the demo beating hover's raw-cosine scheme.

UMAP JIT-compiles on its first fit in a process (10-25 s), so it is used only in a
few tests on small synthetic data (sharing a module-scoped fit); PCA elsewhere.
"""
from __future__ import annotations

import shutil
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile

import hover_audio.maps.layout as layout_module
from hover_audio import AudioDataset
from hover_audio.vectors.mfcc import MFCCVectorizer
from hover_audio.maps.layout import FIT_SUBSETS, LayoutStore, fit_layout, stored_layout
from hover_audio.maps.search import SimilarityIndex

CLUSTERS = 4


# ------------------------------------------------------------------ helpers
def clustered(per: int = 30, clusters: int = CLUSTERS, dim: int = 16, seed: int = 0,
              spread: float = 0.3):
    """Well separated Gaussian blobs: ``(vectors float32, cluster of each row)``."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0.0, 3.0, size=(clusters, dim))
    labels = np.repeat(np.arange(clusters), per)
    vectors = centers[labels] + rng.normal(0.0, spread, size=(len(labels), dim))
    return vectors.astype(np.float32), labels


def mixed_subsets(labels: np.ndarray) -> np.ndarray:
    """Within each cluster cycle raw, raw, train, dev, test: every subset in every cluster."""
    cycle = np.array(["raw", "raw", "train", "dev", "test"], dtype=object)
    order = np.zeros(len(labels), dtype=int)
    for label in np.unique(labels):
        where = np.flatnonzero(labels == label)
        order[where] = np.arange(len(where))
    return cycle[order % len(cycle)]


def centroids(coords: np.ndarray, labels: np.ndarray, rows: np.ndarray) -> np.ndarray:
    return np.stack([coords[rows[labels[rows] == c]].mean(axis=0) for c in range(CLUSTERS)])


def nearest_centroid(points: np.ndarray, cents: np.ndarray) -> np.ndarray:
    return np.argmin(((points[:, None, :] - cents[None, :, :]) ** 2).sum(axis=2), axis=1)


def finite_rows(coords: np.ndarray) -> np.ndarray:
    return np.isfinite(coords).all(axis=1)


def layout_files(folder: Path) -> set:
    return {path.name for path in folder.glob("*.npy")} if folder.is_dir() else set()


def tone(freq: float, seconds: float = 0.4, sr: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def synthetic_dataset(per: int = 15, seed: int = 0) -> tuple[AudioDataset, np.ndarray]:
    """A dataset of made-up keys with clustered vectors in every subset (no audio)."""
    vectors, labels = clustered(per=per, seed=seed)
    subsets = mixed_subsets(labels)
    table = pd.DataFrame({
        "audio": [f"clips/clip_{i:03d}.wav" for i in range(len(labels))],
        "label": np.where(subsets == "raw", "ABSTAIN", [f"c{c}" for c in labels]),
        "SUBSET": subsets,
    })
    ds = AudioDataset.from_pandas(table)
    ds.vectors = vectors
    return ds, labels


@pytest.fixture
def unattached_cache(tmp_path, monkeypatch):
    """Unattached datasets store layouts under $HOVER_AUDIO_CACHE/layouts."""
    folder = tmp_path / "cc"
    monkeypatch.setenv("HOVER_AUDIO_CACHE", str(folder))
    return folder


@pytest.fixture
def no_refit(monkeypatch):
    """Make any new fit fail: proves a layout was reused, not recomputed."""
    def refuse(*args, **kwargs):
        raise AssertionError("fit_layout() was called: the stored layout was not reused")

    monkeypatch.setattr(layout_module, "fit_layout", refuse)


# ====================================================== reduce: hover semantics
@pytest.fixture(scope="module")
def umap_map():
    """One UMAP fit shared by several tests: 120 clustered rows, every subset, 3 NaN rows."""
    vectors, labels = clustered(per=30)
    subsets = mixed_subsets(labels)
    vectors[[1, 34, 62]] = np.nan  # failed clips: a raw, a test and a train row
    reducer = fit_layout(vectors, subsets, "umap", 2, seed=0)
    return vectors, subsets, labels, reducer


def test_umap_fits_raw_train_dev_and_places_test_rows_on_the_map(umap_map):
    vectors, subsets, labels, reducer = umap_map
    valid = np.isfinite(vectors).all(axis=1)
    fit = valid & np.isin(subsets, FIT_SUBSETS)
    test = valid & (subsets == "test")
    assert reducer.method == "umap" and type(reducer.estimator).__name__ == "UMAP"
    assert reducer.coords.shape == (len(vectors), 2) and reducer.coords.dtype == np.float32
    np.testing.assert_array_equal(np.sort(reducer.fit_rows), np.flatnonzero(fit))
    assert not np.isin(reducer.fit_rows, np.flatnonzero(subsets == "test")).any()
    assert test.sum() >= 20
    # hover 0.8.1 left every test row NaN; here they are placed, and failed rows are NaN
    np.testing.assert_array_equal(finite_rows(reducer.coords), valid)
    # ... placed where their cluster is
    cents = centroids(reducer.coords, labels, np.flatnonzero(fit))
    placed = nearest_centroid(reducer.coords[test], cents)
    assert (placed == labels[test]).mean() >= 0.95


def test_umap_is_reproducible_with_a_seed(umap_map):
    vectors, subsets, _, reducer = umap_map
    again = fit_layout(vectors, subsets, "umap", 2, seed=0)
    np.testing.assert_array_equal(again.coords, reducer.coords)


def test_umap_in_three_dimensions():
    vectors, labels = clustered(per=15, seed=3)
    subsets = mixed_subsets(labels)
    reducer = fit_layout(vectors, subsets, "umap", dimension=3, seed=0)
    assert reducer.coords.shape == (len(vectors), 3)
    assert finite_rows(reducer.coords).all()


def test_umap_transform_places_new_vectors_and_keeps_nan(umap_map):
    vectors, subsets, labels, reducer = umap_map
    fresh, fresh_labels = clustered(per=5, seed=0, spread=0.3)  # same centers (same seed)
    rng = np.random.default_rng(9)
    fresh = fresh + rng.normal(0, 0.05, fresh.shape).astype(np.float32)
    fresh[3] = np.nan
    placed = reducer.transform(fresh)
    assert placed.shape == (len(fresh), 2)
    expected_valid = np.ones(len(fresh), bool)
    expected_valid[3] = False
    np.testing.assert_array_equal(finite_rows(placed), expected_valid)
    cents = centroids(reducer.coords, labels, reducer.fit_rows)
    assert (nearest_centroid(placed[expected_valid], cents) == fresh_labels[expected_valid]).all()
    one = reducer.transform(fresh[0])  # a single 1-D vector
    assert one.shape == (1, 2) and np.isfinite(one).all()


def test_stored_umap_layout_places_a_copy_of_a_fitted_row_near_it(umap_map, tmp_path, no_refit):
    vectors, subsets, labels, reducer = umap_map
    store = LayoutStore(tmp_path / "layouts")
    key = layout_module.layout_key(vectors, subsets, "umap", 2, 0, {})
    store.put(key, reducer.coords)
    loaded = stored_layout(store, vectors, subsets, "umap", 2, 0)  # no_refit: must not fit
    assert loaded.estimator is None
    np.testing.assert_array_equal(loaded.coords, reducer.coords)
    cents = centroids(reducer.coords, labels, reducer.fit_rows)
    spread = np.linalg.norm(cents[:, None] - cents[None], axis=2)
    gap = spread[spread > 0].min()  # distance between the two closest clusters
    rows = reducer.fit_rows[::7]
    placed = loaded.transform(vectors[rows])
    assert finite_rows(placed).all()
    distance = np.linalg.norm(placed - reducer.coords[rows], axis=1)
    assert (distance < 0.25 * gap).all(), (distance, gap)
    assert (nearest_centroid(placed, cents) == labels[rows]).all()
    nan_row = np.full((1, vectors.shape[1]), np.nan, np.float32)
    assert np.isnan(loaded.transform(nan_row)).all()


# ---------------------------------------------------------------- PCA / fit rows
def test_pca_test_rows_are_transformed_not_fitted():
    vectors, labels = clustered(per=20, seed=1)
    subsets = mixed_subsets(labels)
    base = fit_layout(vectors, subsets, "pca", 2, seed=0)
    fit = np.isin(subsets, FIT_SUBSETS)
    np.testing.assert_array_equal(base.fit_rows, np.flatnonzero(fit))
    assert finite_rows(base.coords).all()
    # test rows get exactly the transform of the fitted map
    expected = base.estimator.transform(base.scaler.transform(vectors[~fit]))
    np.testing.assert_allclose(base.coords[~fit], expected, rtol=1e-5, atol=1e-5)

    # turn the test rows into extreme outliers and append more test rows
    rng = np.random.default_rng(5)
    changed = vectors.copy()
    changed[~fit] = rng.normal(0, 1e6, size=changed[~fit].shape)
    extra = rng.normal(0, 1e5, size=(25, vectors.shape[1])).astype(np.float32)
    changed = np.vstack([changed, extra])
    changed_subsets = np.concatenate([subsets, np.array(["test"] * 25, dtype=object)])
    other = fit_layout(changed, changed_subsets, "pca", 2, seed=0)
    np.testing.assert_array_equal(other.fit_rows, base.fit_rows)
    np.testing.assert_array_equal(other.coords[fit.nonzero()[0]], base.coords[fit])
    assert finite_rows(other.coords).all()

    # control: had those outliers been fitted (in raw) the map would have moved
    fitted_outliers = fit_layout(changed, np.where(changed_subsets == "test", "raw", changed_subsets),
                             "pca", 2, seed=0)
    assert not np.allclose(fitted_outliers.coords[fit.nonzero()[0]], base.coords[fit])


def test_nan_rows_get_nan_and_do_not_change_the_fit():
    vectors, labels = clustered(per=10, seed=2)
    subsets = mixed_subsets(labels)
    clean = fit_layout(vectors, subsets, "pca", 2, seed=0)
    broken = np.vstack([vectors, np.full((3, vectors.shape[1]), np.nan, np.float32)])
    broken[0, 4] = np.nan  # one NaN value is enough to fail a row
    broken_subsets = np.concatenate([subsets, np.array(["raw", "train", "test"], dtype=object)])
    reducer = fit_layout(broken, broken_subsets, "pca", 2, seed=0)
    assert np.isnan(reducer.coords[[0, -3, -2, -1]]).all()
    assert finite_rows(reducer.coords).sum() == len(broken) - 4
    assert 0 not in reducer.fit_rows and len(broken) - 3 not in reducer.fit_rows
    # the other rows: same map as without the failed rows except row 0 (it left the fit)
    fewer = vectors.copy()
    fewer[0] = np.nan
    np.testing.assert_array_equal(reducer.coords[:len(vectors)],
                                  fit_layout(fewer, subsets, "pca", 2, seed=0).coords)
    assert not np.isnan(clean.coords).any()


@pytest.mark.parametrize("method", ["pca", "umap"])
def test_all_rows_nan_give_nan_coords_without_error(method):
    vectors = np.full((6, 8), np.nan, np.float32)
    reducer = fit_layout(vectors, ["raw", "raw", "train", "dev", "test", "test"], method, 2, seed=0)
    assert reducer.coords.shape == (6, 2) and np.isnan(reducer.coords).all()
    assert len(reducer.fit_rows) == 0
    assert np.isnan(reducer.transform(vectors[:2])).all()


def test_pca_is_reproducible_and_three_dimensional():
    vectors, labels = clustered(per=10, seed=4)
    subsets = mixed_subsets(labels)
    first = fit_layout(vectors, subsets, "pca", 3, seed=0)
    second = fit_layout(vectors, subsets, "pca", 3, seed=0)
    assert first.coords.shape == (len(vectors), 3) and finite_rows(first.coords).all()
    np.testing.assert_array_equal(first.coords, second.coords)


@pytest.mark.parametrize("method,dimension", [
    ("tsne", 2), ("UMAP", 2), ("", 2), (None, 2), ("pca", 0), ("umap", 0), ("pca", -1),
])
def test_invalid_method_or_dimension_raises(method, dimension):
    vectors, labels = clustered(per=5)
    with pytest.raises(ValueError):
        fit_layout(vectors, ["raw"] * len(vectors), method, dimension)


@pytest.mark.parametrize("method,rows,features,dimension", [
    ("pca", 10, 2, 3),   # 2-feature vectors, a 3-D map
    ("pca", 10, 1, 2),   # 1-feature vectors (e.g. a loudness vectorizer), a 2-D map
    ("umap", 3, 1, 2),   # tiny input: UMAP falls back to PCA, same crash
])
@pytest.mark.filterwarnings("ignore:.*too few for a UMAP map")
def test_fewer_features_than_dimension(method, rows, features, dimension):
    vectors = np.random.default_rng(0).normal(size=(rows, features)).astype(np.float32)
    reducer = fit_layout(vectors, ["raw"] * rows, method, dimension, seed=0)
    assert reducer.coords.shape == (rows, dimension)
    assert finite_rows(reducer.coords).all()


# ------------------------------------------------------------------------ tiny
@pytest.mark.parametrize("method", ["umap", "pca"])
@pytest.mark.parametrize("dimension", [2, 3])
def test_no_rows_at_all(method, dimension):
    reducer = fit_layout(np.zeros((0, 8), np.float32), [], method, dimension)
    assert reducer.coords.shape == (0, dimension)
    assert len(reducer.fit_rows) == 0


@pytest.mark.parametrize("rows", [1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize("dimension", [2, 3])
def test_fewer_rows_than_umap_neighbours(rows, dimension):
    vectors = np.random.default_rng(rows).normal(size=(rows, 8)).astype(np.float32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reducer = fit_layout(vectors, ["raw"] * rows, "umap", dimension, seed=0)
    said = [str(w.message) for w in caught if "too few for a UMAP map" in str(w.message)]
    tiny = 2 <= rows < 5  # (one row is put at the origin, without a method)
    assert len(said) == tiny and (reducer.method == "pca") == tiny
    assert reducer.coords.shape == (rows, dimension)
    assert finite_rows(reducer.coords).all()
    np.testing.assert_array_equal(reducer.fit_rows, np.arange(rows))
    assert finite_rows(reducer.transform(vectors + 0.01)).all()


@pytest.mark.parametrize("method", ["umap", "pca"])
@pytest.mark.parametrize("fit_count,test_count", [(0, 1), (0, 3), (0, 8), (1, 3), (3, 2),
                                                   (5, 3)])
@pytest.mark.filterwarnings("ignore:.*too few for a UMAP map")
def test_tiny_fit_subsets_with_test_rows(method, fit_count, test_count):
    """No raw/train/dev rows: fit on the test rows; one or a few: test still placed."""
    rows = fit_count + test_count
    vectors = np.random.default_rng(rows).normal(size=(rows, 8)).astype(np.float32)
    subsets = ["train"] * fit_count + ["test"] * test_count
    reducer = fit_layout(vectors, subsets, method, 2, seed=0)
    assert reducer.coords.shape == (rows, 2)
    assert finite_rows(reducer.coords).all()
    expected_fit = np.arange(rows) if fit_count == 0 else np.arange(fit_count)
    np.testing.assert_array_equal(reducer.fit_rows, expected_fit)


def test_empty_subsets_are_fine():
    vectors, labels = clustered(per=6, seed=6)
    only_raw = fit_layout(vectors, ["raw"] * len(vectors), "pca", 2)  # no train, dev, test
    only_dev_test = fit_layout(vectors, ["dev"] * 20 + ["test"] * 4, "pca", 2)  # no raw, train
    assert finite_rows(only_raw.coords).all() and finite_rows(only_dev_test.coords).all()
    np.testing.assert_array_equal(only_dev_test.fit_rows, np.arange(20))
    # test rows whose vectors all failed: an empty set to place
    broken = vectors.copy()
    broken[20:] = np.nan
    reducer = fit_layout(broken, ["raw"] * 20 + ["test"] * 4, "pca", 2)
    assert finite_rows(reducer.coords[:20]).all() and np.isnan(reducer.coords[20:]).all()


def test_single_row_and_one_fit_row():
    one = fit_layout(np.ones((1, 4), np.float32), ["raw"], "umap", 2)
    assert one.coords.shape == (1, 2) and finite_rows(one.coords).all()
    assert finite_rows(one.transform(np.zeros((2, 4), np.float32))).all()


# ================================================ compute_nd_embedding + storage
@pytest.fixture
def saved(tmp_path):
    ds, labels = synthetic_dataset()
    ds.save(tmp_path / "ws")
    yield ds, labels, tmp_path / "ws" / "layouts"
    ds.close()


def test_compute_nd_embedding_writes_columns_and_stores_the_layout(saved, monkeypatch):
    ds, labels, layouts = saved
    reducer = ds.compute_nd_embedding(progress=False)  # defaults: umap, 2-D, seed 0
    assert reducer.estimator is not None and reducer.method == "umap"
    table = ds.to_pandas()
    for i in range(2):
        np.testing.assert_array_equal(table[f"embed_2d_{i}"].to_numpy(), reducer.coords[:, i])
    assert finite_rows(reducer.coords).all()  # test rows included
    assert len(layout_files(layouts)) == 1

    def refuse(*args, **kwargs):
        raise AssertionError("fit_layout() was called: the stored layout was not reused")

    monkeypatch.setattr(layout_module, "fit_layout", refuse)
    start = time.perf_counter()
    again = ds.compute_nd_embedding(progress=False)
    elapsed = time.perf_counter() - start
    assert again.estimator is None
    np.testing.assert_array_equal(again.coords, reducer.coords)
    assert elapsed < 2.0
    assert len(layout_files(layouts)) == 1


def _double(ds):
    ds.vectors = ds.vectors * 2


def _nudge_one_row(ds):
    vectors = ds.vectors.copy()
    vectors[7, 3] += 0.5
    ds.vectors = vectors


def _raw_to_test(ds):
    key = ds.to_pandas().query("SUBSET == 'raw'")["audio"].iloc[0]
    ds.set_labels(key, "c0")
    ds.commit(key, "test")


@pytest.mark.parametrize("change,params,columns", [
    (_double, {}, "embed_2d_"),
    (_nudge_one_row, {}, "embed_2d_"),
    (_raw_to_test, {}, "embed_2d_"),
    (None, {"n_neighbors": 5}, "embed_2d_"),
    (None, {"method": "pca"}, "embed_2d_"),
    (None, {"dimension": 3}, "embed_3d_"),
    (None, {"seed": 1}, "embed_2d_"),
], ids=["vectors*2", "one-row", "raw->test", "n_neighbors", "method", "dimension", "seed"])
def test_stored_layout_is_invalidated_by_vectors_subsets_and_parameters(saved, change, params,
                                                                        columns):
    ds, labels, layouts = saved
    first = ds.compute_nd_embedding(progress=False)
    assert first.estimator is not None
    before = layout_files(layouts)
    if change is not None:
        change(ds)
    second = ds.compute_nd_embedding(progress=False, **params)
    assert second.estimator is not None  # refitted
    after = layout_files(layouts)
    assert len(after - before) == 1  # a new layout file
    dimension = params.get("dimension", 2)
    table = ds.to_pandas()
    for i in range(dimension):
        np.testing.assert_array_equal(table[f"{columns}{i}"].to_numpy(), second.coords[:, i])
    assert finite_rows(second.coords).all()
    # and the new layout is reused in turn
    third = ds.compute_nd_embedding(progress=False, **params)
    assert third.estimator is None
    np.testing.assert_array_equal(third.coords, second.coords)
    assert layout_files(layouts) == after


def test_relabeling_or_moving_between_fit_subsets_reuses_the_layout(saved):
    ds, labels, layouts = saved
    first = ds.compute_nd_embedding(progress=False)
    raw_key = ds.to_pandas().query("SUBSET == 'raw'")["audio"].iloc[0]
    ds.set_labels(raw_key, "c0")
    ds.commit(raw_key, "train")  # raw -> train: the fit rows are the same
    again = ds.compute_nd_embedding(progress=False)
    assert again.estimator is None
    np.testing.assert_array_equal(again.coords, first.coords)
    assert len(layout_files(layouts)) == 1


def test_reopened_workspace_keeps_the_map_without_recomputing(tmp_path, monkeypatch):
    ds, labels = synthetic_dataset()
    folder = ds.save(tmp_path / "ws")
    reducer = ds.compute_nd_embedding(progress=False)
    ds.close()

    def refuse(*args, **kwargs):
        raise AssertionError("recomputed")

    monkeypatch.setattr(layout_module, "fit_layout", refuse)
    reopened = AudioDataset.load(folder)
    try:
        table = reopened.to_pandas()
        for i in range(2):
            np.testing.assert_array_equal(table[f"embed_2d_{i}"].to_numpy(np.float32),
                                          reducer.coords[:, i])
        np.testing.assert_array_equal(reopened.vectors, ds.vectors)
        again = reopened.compute_nd_embedding(progress=False)  # from layouts/, no fit
        assert again.estimator is None
        np.testing.assert_array_equal(again.coords, reducer.coords)
    finally:
        reopened.close()


def test_unattached_dataset_stores_layouts_in_the_cache_dir(unattached_cache):
    ds, labels = synthetic_dataset(seed=8)
    vectors = ds.vectors.copy()
    vectors[[2, 30]] = np.nan
    ds.vectors = vectors
    first = ds.compute_nd_embedding(method="pca", progress=False)
    layouts = unattached_cache / "layouts"
    assert len(layout_files(layouts)) == 1
    table = ds.to_pandas()
    assert table.loc[[2, 30], ["embed_2d_0", "embed_2d_1"]].isna().all().all()
    assert table.drop(index=[2, 30])[["embed_2d_0", "embed_2d_1"]].notna().all().all()
    again = ds.compute_nd_embedding(method="pca", progress=False)
    assert again.estimator is None
    np.testing.assert_array_equal(again.coords, first.coords)
    assert len(layout_files(layouts)) == 1


def test_compute_nd_embedding_vectorizes_a_dataset_without_vectors(tmp_path, unattached_cache):
    root = tmp_path / "tones"
    for label, base in (("low", 220.0), ("mid", 880.0), ("high", 3000.0)):
        (root / label).mkdir(parents=True)
        for i in range(4):
            soundfile.write(str(root / label / f"{label}_{i}.wav"), tone(base * (1 + 0.03 * i)),
                            16000)
    for i in range(3):
        soundfile.write(str(root / f"unlabeled_{i}.wav"), tone(440.0 * (i + 1)), 16000)
    (root / "broken.wav").write_bytes(b"not audio at all" * 10)
    ds = AudioDataset.from_folder(root)
    assert ds.vectors is None
    vectorizer = MFCCVectorizer(cache_dir=tmp_path / "vector_cache")
    reducer = ds.compute_nd_embedding(vectorizer=vectorizer, method="pca", dimension=3,
                                      progress=False)
    assert ds.vectorizer is vectorizer
    assert ds.vectors.shape == (len(ds), vectorizer.dim)
    table = ds.to_pandas()
    broken = table["audio"].str.endswith("broken.wav").to_numpy()
    assert broken.sum() == 1
    embed = table[[f"embed_3d_{i}" for i in range(3)]].to_numpy()
    assert np.isnan(embed[broken]).all() and np.isfinite(embed[~broken]).all()
    np.testing.assert_array_equal(embed, reducer.coords)


# ======================================================================= search
@pytest.fixture(scope="module")
def index_data():
    vectors, labels = clustered(per=15, seed=11, dim=12)
    failed = np.array([4, 20, 21, 50])
    vectors[failed] = np.nan
    keys = [f"clips/{i:03d}.wav" for i in range(len(vectors))]
    return vectors, labels, keys, failed, SimilarityIndex(vectors, keys)


def candidates(n: int, failed, query_rows=()) -> set:
    return set(range(n)) - set(np.asarray(failed).tolist()) - set(query_rows)


def test_scores_are_nan_exactly_for_failed_rows(index_data):
    vectors, labels, keys, failed, index = index_data
    for query in (0, [0, 1, 2], keys[3], vectors[5]):
        scores = index.scores(query)
        assert scores.shape == (len(vectors),)
        np.testing.assert_array_equal(np.flatnonzero(np.isnan(scores)), failed)
        assert (np.abs(scores[np.isfinite(scores)]) <= 1.0 + 1e-5).all()
    assert index.scores(0)[0] == pytest.approx(1.0, abs=1e-5)


def _check_ranking(index, query, result, excluded, n, failed, k=None):
    scores = index.scores(query)
    pool = candidates(n, failed, excluded)
    assert set(result.tolist()) <= pool
    assert len(set(result.tolist())) == len(result)
    ranked = scores[result]
    assert (np.diff(ranked) <= 1e-7).all()  # best first
    if k is not None:
        assert len(result) == min(k, len(pool))
        rest = np.array(sorted(pool - set(result.tolist())), dtype=int)
        if len(rest) and len(result):
            assert scores[rest].max() <= ranked.min() + 1e-7  # really the top k


@pytest.mark.parametrize("k", [0, 1, 5, 14, 56, 57, 1000])
def test_top_k_by_position(index_data, k):
    vectors, labels, keys, failed, index = index_data
    n = len(vectors)
    for row in (0, 23, 59):
        result = index.top_k(row, k)
        assert result.dtype == np.int64
        _check_ranking(index, row, result, [row], n, failed, k)
    if k >= 5:  # the nearest rows are the row's own cluster
        assert (labels[index.top_k(0, 5)] == labels[0]).all()


def test_top_k_by_list_of_positions_is_the_centroid(index_data):
    vectors, labels, keys, failed, index = index_data
    query = [15, 16, 17, 18]  # cluster 1
    result = index.top_k(query, 10)
    _check_ranking(index, query, result, query, len(vectors), failed, 10)
    assert not set(query) & set(result.tolist())
    # cluster 1 (rows 15-29) has 9 rows left: 4 are the query and 20, 21 failed
    assert (labels[result[:9]] == 1).all() and labels[result[9]] != 1
    everything = index.top_k(query, 10_000)
    assert set(everything.tolist()) == candidates(len(vectors), failed, query)
    # a numpy array of positions, a tuple, duplicates: the same query
    np.testing.assert_array_equal(index.top_k(np.array(query), 10), result)
    np.testing.assert_array_equal(index.top_k(tuple(query) + (15,), 10), result)
    # failed rows in the list are ignored (and never returned)
    with_failed = index.top_k([20, 15, 16, 17, 18], 10)
    assert not {20, 15, 16, 17, 18} & set(with_failed.tolist())
    _check_ranking(index, [20, 15, 16, 17, 18], with_failed, [20, 15, 16, 17, 18],
                   len(vectors), failed, 10)


def test_query_by_key_equals_query_by_position(index_data):
    vectors, labels, keys, failed, index = index_data
    np.testing.assert_array_equal(index.top_k(keys[33], 8), index.top_k(33, 8))
    np.testing.assert_array_equal(index.scores(keys[33]), index.scores(33))
    assert 33 not in index.top_k(keys[33], 100).tolist()


def test_query_by_raw_vector(index_data):
    vectors, labels, keys, failed, index = index_data
    result = index.top_k(vectors[30], 100)
    # not a row of the index: nothing is excluded but failed rows; the row itself is first
    assert result[0] == 30
    assert set(result.tolist()) == candidates(len(vectors), failed)
    _check_ranking(index, vectors[30], result, [], len(vectors), failed, 100)
    assert index.scores(vectors[30])[30] == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_array_equal(index.top_k(vectors[30].astype(np.float64)[None, :], 5),
                                  result[:5])
    with pytest.raises(ValueError):
        index.top_k(vectors[30][:5])  # wrong length
    with pytest.raises(ValueError):
        index.top_k(vectors[4])  # a NaN vector


@pytest.mark.parametrize("threshold", [-1.0, -0.2, 0.0, 0.5, 0.9, 0.999, 1.01])
def test_above_threshold(index_data, threshold):
    vectors, labels, keys, failed, index = index_data
    for query, excluded in ((0, [0]), ([15, 16], [15, 16]), (vectors[31] + 0.1, [])):
        scores = index.scores(query)
        result = index.above(query, threshold)
        expected = {row for row in candidates(len(vectors), failed, excluded)
                    if scores[row] >= threshold}
        assert set(result.tolist()) == expected
        _check_ranking(index, query, result, excluded, len(vectors), failed)


def test_chance_score_is_the_quantile_of_the_scores_of_distinct_pairs(index_data):
    vectors, labels, keys, failed, index = index_data
    usable = np.flatnonzero(np.isfinite(vectors).all(axis=1))
    every = index.unit[usable] @ index.unit[usable].T
    pairs = every[~np.eye(len(usable), dtype=bool)]  # no clip with itself, no failed clip
    for share in (0.05, 0.1, 0.5):
        expected = np.quantile(pairs, 1 - share)
        assert index.chance_score(share) == pytest.approx(expected, abs=1e-6)
        assert np.mean(pairs >= index.chance_score(share)) == pytest.approx(share, abs=0.01)
    assert index.chance_score(0.01) > index.chance_score(0.1) > index.chance_score(0.5)
    for bad in (0.0, 1.0, -0.1, 2.0):
        with pytest.raises(ValueError, match="share"):
            index.chance_score(bad)


def test_chance_score_of_a_large_index_is_measured_on_a_sample_of_pairs():
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(3000, 12)).astype(np.float32)
    vectors[:1500] += rng.normal(size=12).astype(np.float32)  # two groups of clips
    index = SimilarityIndex(vectors)
    every = index.unit @ index.unit.T
    exact = np.quantile(every[~np.eye(len(vectors), dtype=bool)], 0.9)
    sampled = index.chance_score(0.1, queries=200, rows=1000)
    assert sampled == pytest.approx(exact, abs=0.02)  # 200k pairs of 9M
    assert index.chance_score(0.1, queries=200, rows=1000) == sampled  # the same draw
    assert index.chance_score(0.1, queries=200, rows=1000, seed=1) != sampled


def test_chance_score_needs_two_clips_with_vectors():
    vectors = np.full((3, 4), np.nan, dtype=np.float32)
    vectors[1] = 1.0
    assert np.isnan(SimilarityIndex(vectors).chance_score())
    assert np.isnan(SimilarityIndex(np.zeros((0, 4), np.float32)).chance_score())


def test_query_errors(index_data):
    vectors, labels, keys, failed, index = index_data
    n = len(vectors)
    for bad in (4, keys[4], [20, 21]):  # rows whose clips failed
        with pytest.raises(ValueError):
            index.top_k(bad)
        with pytest.raises(ValueError):
            index.scores(bad)
    for bad in (-1, n, [0, n], [-3, 2]):
        with pytest.raises(IndexError):
            index.top_k(bad)
    with pytest.raises(ValueError):
        index.top_k([])
    with pytest.raises(KeyError):
        index.top_k("clips/not-in-the-index.wav")
    with pytest.raises(KeyError):
        SimilarityIndex(vectors).scores("clips/000.wav")  # no keys at all


def test_dataset_similarity_index(tmp_path):
    ds, labels = synthetic_dataset(per=10, seed=12)
    index = ds.similarity_index()
    assert len(index) == len(ds)
    np.testing.assert_array_equal(index.top_k(ds.keys[3], 5), index.top_k(3, 5))
    assert (labels[index.top_k(3, 5)] == labels[3]).all()
    with pytest.raises(KeyError):  # vectors set directly: no vectorizer for new files
        index.top_k(str(tmp_path / "new.wav"))
    table = pd.DataFrame({"audio": ["a.wav", "b.wav"]})
    with pytest.raises(ValueError):
        AudioDataset.from_pandas(table).similarity_index()  # no vectors yet


def test_above_minus_infinity_never_returns_failed_or_query_rows(index_data):
    vectors, labels, keys, failed, index = index_data
    result = index.above(0, -np.inf)
    assert set(result.tolist()) == candidates(len(vectors), failed, [0])


def test_raw_vector_as_a_list_is_not_taken_for_positions(index_data):
    vectors, labels, keys, failed, index = index_data
    vector = vectors[30] - np.nanmin(vectors) + 0.5  # positive features, e.g. energies
    assert (vector < len(vectors)).all()  # so every value truncates to a valid position
    as_list = [float(x) for x in vector]
    try:
        result = index.top_k(as_list, 5)
    except (TypeError, ValueError):
        return  # refusing it is fine too
    np.testing.assert_array_equal(result, index.top_k(vector, 5))


def test_query_by_pathlib_path(demo):
    ds, index, vectorizer, tmp = demo
    copy = tmp / "path query.flac"
    shutil.copyfile(ds.keys[0], copy)
    assert index.top_k(copy, 1)[0] == 0


# ================================================================ demo quality
@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from hover_audio.dataset.demo import load_dataset

    tmp = tmp_path_factory.mktemp("demo")
    ds = load_dataset()
    vectorizer = MFCCVectorizer(cache_dir=tmp / "vector_cache")
    ds.vectorize(vectorizer, progress=False)
    assert np.isfinite(ds.vectors).all()
    return ds, ds.similarity_index(), vectorizer, tmp


def precision_at_10(unit_or_index, labels: np.ndarray) -> float:
    if isinstance(unit_or_index, SimilarityIndex):
        return float(np.mean([np.mean(labels[unit_or_index.top_k(row, 10)] == labels[row])
                              for row in range(len(labels))]))
    similar = unit_or_index @ unit_or_index.T
    np.fill_diagonal(similar, -np.inf)
    nearest = np.argsort(-similar, axis=1, kind="stable")[:, :10]
    return float(np.mean(labels[nearest] == labels[:, None]))


def unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_query_by_a_new_file_goes_through_the_vectorizer(demo):
    ds, index, vectorizer, tmp = demo
    original = ds.keys[0]
    copy = tmp / "a copy under a new name.flac"
    shutil.copyfile(original, copy)
    assert str(copy) not in ds.keys
    scores = index.scores(str(copy))  # the dataset's (caching) vectorizer
    assert scores[0] == pytest.approx(1.0, abs=1e-4)
    assert index.top_k(str(copy), 1)[0] == 0

    calls = []
    fresh = MFCCVectorizer(cache=False)  # really decodes and computes the copy

    def spy(key):
        calls.append(key)
        return fresh(key)

    direct = SimilarityIndex(ds.vectors, ds.keys, spy)
    top = direct.top_k(str(copy), 5)
    assert calls == [str(copy)]
    assert top[0] == 0 and direct.scores(str(copy))[0] == pytest.approx(1.0, abs=1e-4)
    labels = ds.to_pandas()["true_label"].to_numpy()
    assert (labels[top] == labels[0]).mean() >= 0.6


def test_demo_precision_at_10(demo):
    ds, index, vectorizer, tmp = demo
    labels = ds.to_pandas()["true_label"].to_numpy()
    assert len(labels) == 1000
    ours = precision_at_10(index, labels)
    assert ours >= 0.8, ours
    # the demo's labels are words: "shape" finds them best, "timbre" (the voice) worst
    shape = precision_at_10(ds.similarity_index(aspect="shape"), labels)
    timbre = precision_at_10(ds.similarity_index(aspect="timbre"), labels)
    assert shape > ours > timbre, (shape, ours, timbre)
    assert shape >= 0.85


def test_demo_beats_hover_raw_cosine_and_scores_spread(demo):
    """hover's scheme: cosine on raw, unscaled means of 32 MFCCs over every frame.

    Computed with our NumPy MFCC (librosa's import JIT-compiles for ~15 s on a
    cold numba cache); the vectors are what hover's ``mfcc(n_mfcc=32).mean(axis=1)`` is.
    """
    ds, index, vectorizer, tmp = demo
    labels = ds.to_pandas()["true_label"].to_numpy()
    hover_vectorizer = MFCCVectorizer(n_mfcc=32, stats=("mean",), whole_stats=(), segments=1,
                                      trim_db=None, envelope=False,
                                      cache_dir=tmp / "hover_cache")
    hover_vectors, report = hover_vectorizer.transform(ds.keys, progress=False)
    assert len(report) == 0 and hover_vectors.shape == (1000, 32)
    hover_unit = unit(hover_vectors.astype(np.float64))

    ours_p10 = precision_at_10(index, labels)
    hover_p10 = precision_at_10(hover_unit, labels)
    assert ours_p10 > hover_p10 + 0.1, (ours_p10, hover_p10)
    # scaling alone already helps hover's own vectors
    assert precision_at_10(SimilarityIndex(hover_vectors), labels) > hover_p10

    # hover's failure mode: every pair looks alike; ours spread over [-1, 1]
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, len(ds), 2000), rng.integers(0, len(ds), 2000)
    keep = a != b
    a, b = a[keep], b[keep]
    hover_pairs = np.sum(hover_unit[a] * hover_unit[b], axis=1)
    our_pairs = np.sum(index.unit[a] * index.unit[b], axis=1)
    assert np.median(hover_pairs) > 0.9 and np.percentile(hover_pairs, 5) > 0.9
    assert np.median(our_pairs) < 0.5
    assert our_pairs.min() < 0 < our_pairs.max()
    # so hover's "score >= 0.9" matches nearly everything, ours a few neighbours
    assert np.mean(hover_pairs >= 0.9) > 0.95 and np.mean(our_pairs >= 0.9) < 0.05


def test_top_k_breaks_ties_by_row():
    vectors = np.tile(np.array([[1.0, 0.0, 0.5]], dtype=np.float32), (30, 1))
    vectors[::2] += np.array([0.0, 1.0, 0.0], dtype=np.float32)  # two groups of equal rows
    index = SimilarityIndex(vectors)
    assert index.top_k(0, 5).tolist() == [2, 4, 6, 8, 10]
    assert index.top_k(1, 3).tolist() == [3, 5, 7]
    assert index.above(0, 0.99).tolist() == list(range(2, 30, 2))


def test_a_url_query_is_fetched_once(tmp_path):
    """Scores and the ranking of a new URL come from one download (search())."""
    import threading
    from functools import partial
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    from hover_audio.dataset.demo import demo_table

    clips = list(demo_table()["audio"][:30])
    shutil.copy(clips[0], tmp_path / "query.flac")
    requests = []

    class Counting(SimpleHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            super().do_GET()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Counting, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        vectorizer = MFCCVectorizer(cache=False)
        vectors, _ = vectorizer.transform(clips, workers=1, progress=False)
        index = SimilarityIndex(vectors, clips, vectorizer)
        url = f"http://127.0.0.1:{server.server_address[1]}/query.flac"
        scores, best = index.search(url, k=5)
        assert requests == ["/query.flac"]
        assert best[0] == 0 and scores[0] == pytest.approx(1.0, abs=1e-4)
    finally:
        server.shutdown()
