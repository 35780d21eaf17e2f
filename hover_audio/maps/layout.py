"""Vectors -> a 2-D (or n-D) layout: UMAP or PCA, with hover's subset semantics.

The reducer is fitted on raw+train+dev and *transforms* test, so test points land
on the map the others made (hover 0.8.1 left every test row NaN). Rows whose
vector failed stay NaN and are left off the map. Tiny inputs work: fewer rows
than neighbours, one row, an empty subset.
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..common.files import atomic_write, save_npy
from ..common.paths import default_cache_dir
from . import jit
from .label_metric import row_labels
from .scaling import Scaler

METHODS = ("umap", "pca")
FIT_SUBSETS = ("raw", "train", "dev")
MIN_UMAP_ROWS = 5  # below this UMAP has no neighbourhood to speak of: PCA instead


@dataclass
class LayoutReducer:
    """A fitted reduction: coordinates of the rows and a way to place new vectors.

    Attributes
    ----------
    coords
        ``(rows, dimension)`` float32; NaN where the vector failed.
    estimator
        The fitted ``umap.UMAP`` or ``sklearn.decomposition.PCA`` (None when the
        layout was loaded from a store, or for a single row).
    """

    method: str
    dimension: int
    scaler: Scaler | None  # None until first needed, for a layout loaded from a store
    coords: np.ndarray
    estimator: object = None
    fit_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    fitted: np.ndarray | None = None  # the scaled vectors of fit_rows
    source: np.ndarray | None = None  # the vectors, to fit ``scaler`` on first use
    weights: np.ndarray | None = None  # the aspect's weights, for ``scaler``
    labels: np.ndarray | None = None  # labels of the rows of ``source``, for ``scaler``
    exact_metric: str | None = None  # the estimator was fitted on exact distances in this metric

    def __repr__(self) -> str:  # (the arrays would fill a notebook's cell)
        placed = int(np.isfinite(self.coords).all(axis=1).sum()) if self.coords.ndim == 2 else 0
        return (f"LayoutReducer(method={self.method!r}, dimension={self.dimension}, "
                f"rows={len(self.coords)}, placed={placed}, fit_rows={len(self.fit_rows)})")

    def _ensure_scaler(self) -> None:
        """Fit the scaler (and scale the fit rows) only when new vectors must be placed."""
        if self.scaler is None:
            self.scaler = _fit_scaler(self.source, self.fit_rows, self.weights, self.labels)
            self.fitted = self.scaler.transform(self.source[self.fit_rows])

    def transform(self, vectors: np.ndarray, method: str | None = None) -> np.ndarray:
        """Place new vectors on the map (NaN rows stay NaN).

        ``method``, as hover's ``transform(array, method)`` takes it, must be the
        map's own (None: it is).
        """
        if method is not None and method != self.method:
            raise ValueError(f"this map was made by {self.method!r}; it places vectors "
                             f"with {self.method!r}, not {method!r}")
        vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        out = np.full((len(vectors), self.dimension), np.nan, dtype=np.float32)
        valid = np.isfinite(vectors).all(axis=1)
        if valid.any():
            self._ensure_scaler()
            out[valid] = self._place(self.scaler.transform(vectors[valid]))
        return out

    def _place(self, scaled: np.ndarray) -> np.ndarray:
        placed = None
        if self.estimator is not None:
            query = scaled
            if self.exact_metric is not None:
                query = jit.exact_distances(scaled, self.fitted, metric=self.exact_metric)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                placed = np.asarray(self.estimator.transform(query), dtype=np.float32)
            placed = _pad(placed, self.dimension)
        if placed is None or not np.isfinite(placed).all():
            fallback = self._neighbours(scaled)
            placed = fallback if placed is None else np.where(np.isfinite(placed), placed, fallback)
        return placed

    def _neighbours(self, scaled: np.ndarray, k: int = 5) -> np.ndarray:
        """Mean position of the nearest fitted rows: a placement that never fails."""
        if self.fitted is None or len(self.fit_rows) == 0:
            return np.zeros((len(scaled), self.dimension), dtype=np.float32)
        from sklearn.neighbors import NearestNeighbors

        index = NearestNeighbors(n_neighbors=min(k, len(self.fitted))).fit(self.fitted)
        nearest = index.kneighbors(scaled, return_distance=False)
        return self.coords[self.fit_rows][nearest].mean(axis=1).astype(np.float32)


def _pad(coords: np.ndarray, dimension: int) -> np.ndarray:
    if coords.shape[1] >= dimension:
        return coords[:, :dimension]
    return np.hstack([coords, np.zeros((len(coords), dimension - coords.shape[1]), np.float32)])


def fit_rows(vectors: np.ndarray, subsets) -> tuple[np.ndarray, np.ndarray]:
    """Rows to fit on (valid raw+train+dev; all valid rows if there are none) and to place."""
    valid = np.isfinite(vectors).all(axis=1)
    subsets = np.asarray(subsets, dtype=object)
    fit = valid & np.isin(subsets, FIT_SUBSETS)
    if not fit.any():
        fit = valid
    return np.flatnonzero(fit), np.flatnonzero(valid & ~fit)


def _estimator(method: str, dimension: int, rows: int, features: int, seed, options: dict):
    """The reducer, and the metric to hand it exact distances in (None: give it vectors).

    Below umap-learn's small-data limit it computes the exact distance matrix itself,
    one Python call per pair; we hand it the same matrix (``metric="precomputed"``),
    which is the same algorithm on the same numbers (to float rounding, ~1e-7).
    """
    if method == "umap":  # (fit_layout makes a map of fewer than MIN_UMAP_ROWS PCA's)
        umap = jit.import_umap()
        settings = {"n_neighbors": 15, "metric": "cosine", "min_dist": 0.1}
        settings.update(options)
        settings["n_neighbors"] = max(2, min(int(settings["n_neighbors"]), rows - 1))
        if rows <= max(dimension + 2, 20):
            settings.setdefault("init", "random")  # spectral init needs a real graph
        exact = None
        if (settings["metric"] in jit.EXACT_METRICS and rows < jit.SMALL_DATA_ROWS
                and not settings.get("force_approximation_algorithm")):
            exact, settings["metric"] = settings["metric"], "precomputed"
        return umap.UMAP(n_components=dimension, random_state=seed, **settings), exact
    from sklearn.decomposition import PCA

    return PCA(n_components=min(dimension, rows, features), random_state=seed), None


def _fit_scaler(vectors: np.ndarray, fitted_rows: np.ndarray, weights, labels) -> Scaler:
    """The scaler of a map: fitted on its fit rows (all rows when there are none)."""
    rows = fitted_rows if len(fitted_rows) else np.arange(len(vectors))
    return Scaler.fit(vectors[rows], weights, None if labels is None else labels[rows])


def fit_layout(vectors: np.ndarray, subsets, method: str = "umap", dimension: int = 2,
               seed: int | None = 0, weights: np.ndarray | None = None, *,
               labels=None, **options) -> LayoutReducer:
    """Fit a map of ``vectors`` on raw+train+dev and place test rows with it.

    Parameters
    ----------
    vectors
        ``(rows, dim)``; NaN rows (failed clips) get NaN coordinates.
    subsets
        The subset of each row.
    method
        "umap" (umap-learn; ``options`` go to ``umap.UMAP``) or "pca".
    seed
        Makes the layout reproducible (UMAP then runs single-threaded);
        None lets UMAP use every core.
    weights
        Per-dimension weights after scaling (a vectorizer's aspect); None: all alike.
    labels
        One per row (None where unlabeled): the map uses a distance learned from
        them (:mod:`~hover_audio.maps.label_metric`).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if dimension < 1:
        raise ValueError(f"dimension must be at least 1, got {dimension}")
    vectors = np.asarray(vectors, dtype=np.float32)
    fitted_rows, placed_rows = fit_rows(vectors, subsets)
    labels = None if labels is None else row_labels(labels, len(vectors))
    scaler = _fit_scaler(vectors, fitted_rows, weights, labels)
    coords = np.full((len(vectors), dimension), np.nan, dtype=np.float32)
    reducer = LayoutReducer(method, dimension, scaler, coords, fit_rows=fitted_rows,
                            weights=weights, labels=labels)
    if len(fitted_rows) == 0:
        return reducer
    scaled = scaler.transform(vectors[fitted_rows])
    reducer.fitted = scaled
    if len(fitted_rows) == 1:
        coords[fitted_rows] = 0.0
    else:
        if method == "umap" and len(fitted_rows) < MIN_UMAP_ROWS:
            warnings.warn(f"{len(fitted_rows)} clips are too few for a UMAP map (it needs "
                          f"{MIN_UMAP_ROWS}): the map is PCA's", stacklevel=2)
            method = reducer.method = "pca"
        estimator, exact = _estimator(method, dimension, len(fitted_rows), scaled.shape[1],
                                      seed, options)
        data = scaled if exact is None else jit.exact_distances(scaled, metric=exact)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            coords[fitted_rows] = _pad(np.asarray(estimator.fit_transform(data),
                                                  dtype=np.float32), dimension)
        reducer.estimator, reducer.exact_metric = estimator, exact
    if len(placed_rows):
        coords[placed_rows] = reducer.transform(vectors[placed_rows])
    return reducer


def layout_key(vectors: np.ndarray, subsets, method: str, dimension: int, seed,
               options: dict, weights: np.ndarray | None = None, labels=None) -> str:
    """A name for a layout: changes whenever the vectors, the fit rows or a parameter do."""
    digest = hashlib.blake2b(digest_size=16)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    digest.update(str(vectors.shape).encode())
    digest.update(vectors.tobytes())
    digest.update(np.isin(np.asarray(subsets, dtype=object), FIT_SUBSETS).tobytes())
    params = {"method": method, "dimension": dimension, "seed": seed, "options": options}
    if weights is not None:
        params["weights"] = hashlib.blake2b(np.asarray(weights, np.float32).tobytes(),
                                            digest_size=16).hexdigest()
    if labels is not None:
        params["labels"] = hashlib.blake2b("\x1f".join(
            "" if value is None or value != value else str(value) for value in labels
        ).encode(), digest_size=16).hexdigest()
    digest.update(json.dumps(params, sort_keys=True, default=str).encode())
    return digest.hexdigest()


class LayoutStore:
    """Layouts (coordinates) on disk, one ``.npy`` per :func:`layout_key`."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    def get(self, key: str) -> np.ndarray | None:
        path = self.folder / f"{key}.npy"
        try:
            return np.load(path)
        except (OSError, ValueError):
            return None

    def put(self, key: str, coords: np.ndarray) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write(self.folder / f"{key}.npy", lambda tmp: save_npy(tmp, coords))


def layout_store(workspace: Path | None) -> LayoutStore:
    """Layouts live in the workspace; a dataset without one keeps them under custom_cache/."""
    if workspace is not None:
        return LayoutStore(Path(workspace) / "layouts")
    return LayoutStore(default_cache_dir() / "layouts")


def stored_layout(store: LayoutStore | None, vectors: np.ndarray, subsets, method: str = "umap",
                  dimension: int = 2, seed: int | None = 0, weights: np.ndarray | None = None,
                  *, labels=None, **options) -> LayoutReducer:
    """:func:`fit_layout`, reusing a layout stored for the same vectors and parameters.

    A reused layout comes back without its estimator; new vectors are then
    placed by their nearest fitted neighbours.
    """
    labels = None if labels is None else row_labels(labels, len(vectors))
    key = layout_key(vectors, subsets, method, dimension, seed, options, weights, labels)
    coords = store.get(key) if store is not None else None
    if coords is not None and coords.shape == (len(vectors), dimension):
        fitted_rows, _ = fit_rows(vectors, subsets)
        return LayoutReducer(method, dimension, None, coords, fit_rows=fitted_rows,
                             source=np.asarray(vectors, dtype=np.float32), weights=weights,
                             labels=labels)
    reducer = fit_layout(vectors, subsets, method, dimension, seed, weights, labels=labels,
                         **options)
    if store is not None:
        store.put(key, reducer.coords)
    return reducer
