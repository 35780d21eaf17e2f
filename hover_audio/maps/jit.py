"""umap-learn's compiled code, kept between processes.

umap-learn compiles its kernels with numba on first use in every process and, for
fewer than 4,096 rows, computes the exact distance matrix one Python call per pair.
This module fixes both without changing the algorithm:

- :func:`use_numba_cache` points numba's disk cache at a per-user folder, and
  :func:`import_umap` turns that cache on for umap-learn's module-level kernels
  (umap-learn compiles them with ``cache=False``), so only the first process on a
  machine compiles them;
- :func:`exact_distances` computes the same exact cosine/euclidean matrix with one
  matrix product, handed to ``umap.UMAP(metric="precomputed")`` by the layout;
- :mod:`.nndescent` leaves pynndescent (approximate neighbours, compiled at its
  import) unimported until a map of 4,096 rows or more needs it;
- :mod:`.warmup` compiles everything once.

Examples
--------
>>> from hover_audio.maps import jit
>>> jit.exact_distances(np.eye(2, dtype=np.float32), metric="cosine")
array([[0., 1.],
       [1., 0.]])
"""
from __future__ import annotations

import os
import sys
import threading
import warnings
from pathlib import Path

import numpy as np

from ..common.paths import CACHE_VARIABLE, user_cache_dir
from . import nndescent

EXACT_METRICS = ("cosine", "euclidean")
SMALL_DATA_ROWS = 4096  # umap-learn's own limit for exact neighbours
_UMAP_PACKAGES = ("umap", "pynndescent")
_lock = threading.Lock()
_cached = None  # the umap module, once its kernels cache to disk


def numba_cache_dir() -> Path:
    """``$NUMBA_CACHE_DIR``; else ``$HOVER_AUDIO_CACHE/numba``; else the user's cache folder."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return Path(os.environ["NUMBA_CACHE_DIR"])
    if os.environ.get(CACHE_VARIABLE):
        return Path(os.environ[CACHE_VARIABLE]) / "numba"
    return user_cache_dir() / "numba"


def use_numba_cache(cache_dir: str | os.PathLike | None = None) -> Path:
    """Make numba cache compiled code in ``cache_dir`` (default :func:`numba_cache_dir`).

    Compiled code depends on the machine, not on a dataset, so it lives in one
    per-user folder whatever the current directory. Returns the folder.
    """
    folder = Path(cache_dir) if cache_dir else numba_cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    folder = folder.absolute()
    os.environ["NUMBA_CACHE_DIR"] = str(folder)
    if "numba" in sys.modules:  # numba read its settings when imported: tell it too
        sys.modules["numba"].config.CACHE_DIR = str(folder)
    return folder


def import_umap():
    """Import umap-learn with its kernels cached on disk; returns the ``umap`` module.

    The kernels are switched to the disk cache once per process, on the first call.
    """
    global _cached
    with _lock:
        if _cached is not None:
            return _cached
        use_numba_cache(os.environ.get("NUMBA_CACHE_DIR"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # umap's import-time chatter
            umap = nndescent.import_umap_deferring()
        _cache_kernels()
        nndescent.on_import.append(_cache_kernels)  # pynndescent's, when a map imports it
        _cached = umap
        return umap


def _cache_kernels() -> None:
    """Turn numba's disk cache on for umap-learn's and pynndescent's uncached kernels."""
    from numba.core.registry import CPUDispatcher

    for name, module in list(sys.modules.items()):
        if module is None or name.split(".")[0] not in _UMAP_PACKAGES:
            continue
        for kernel in list(vars(module).values()):
            if (isinstance(kernel, CPUDispatcher)
                    and type(kernel._cache).__name__ == "NullCache"):
                kernel.enable_caching()


def exact_distances(rows: np.ndarray, others: np.ndarray | None = None, *,
                    metric: str = "cosine") -> np.ndarray:
    """Exact distances from ``rows`` to ``others`` (default: to ``rows``), float64.

    The same values as umap-learn's exact small-data path (a zero vector has
    cosine distance 0 to another zero vector and 1 to anything else), computed
    with one matrix product instead of a Python call per pair.

    Parameters
    ----------
    rows, others
        ``(n, d)`` and ``(m, d)`` finite vectors.
    metric
        "cosine" or "euclidean".
    """
    if metric not in EXACT_METRICS:
        raise ValueError(f"metric must be one of {EXACT_METRICS}, got {metric!r}")
    a = np.asarray(rows, dtype=np.float64)
    b = a if others is None else np.asarray(others, dtype=np.float64)
    if metric == "euclidean":
        squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
        out = np.sqrt(np.maximum(squared, 0.0))
    else:
        norms_a = (a * a).sum(1)
        norms_b = norms_a if others is None else (b * b).sum(1)
        products = norms_a[:, None] * norms_b[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            out = 1.0 - (a @ b.T) / np.sqrt(products)  # umap-learn's formula, row by row
        np.clip(out, 0.0, 2.0, out=out)  # rounding can put equal directions a hair below 0
        zero_a, zero_b = norms_a == 0, norms_b == 0
        out[zero_a[:, None] | zero_b[None, :]] = 1.0
        out[zero_a[:, None] & zero_b[None, :]] = 0.0
    if others is None:
        np.fill_diagonal(out, 0.0)
    return out
