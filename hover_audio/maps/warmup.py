"""Compile the map code once, ahead of the first map: at install, or while vectors are made.

``hover-audio warmup`` (run by ``make``) calls :func:`warm_up`; the CLI calls
:func:`warm_up_in_background` when it starts, so a first run on a machine compiles
umap-learn while the vectors are computed instead of after.
"""
from __future__ import annotations

import threading
import time
import warnings

import numpy as np

from . import nndescent
from .jit import import_umap
from .layout import fit_layout

_lock = threading.Lock()
_thread: threading.Thread | None = None


def warm_up(rows: int = 64, large_maps: bool = False) -> float:
    """Compile the layout code into the disk cache; returns the seconds it took.

    Runs the calls a map makes (exact neighbours, the layout epochs on one core and
    on all, placing new rows) on a small random input. ``large_maps`` also imports
    pynndescent, which maps of 4,096 rows or more use and which compiles at its
    import (16-18 s the first time on a machine).
    """
    started = time.perf_counter()
    import_umap()
    if large_maps:
        nndescent.load_real()
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(rows, 8)).astype(np.float32)
    subsets = np.array(["raw"] * (rows - 4) + ["test"] * 4, dtype=object)
    fit_layout(vectors, subsets, "umap", 2, seed=0)
    fit_layout(vectors, subsets, "umap", 2, seed=None)
    return time.perf_counter() - started


def warm_up_in_background() -> threading.Thread:
    """Start :func:`warm_up` in a daemon thread (once per process) and return the thread."""
    global _thread
    with _lock:
        if _thread is None:
            def run():
                try:
                    warm_up()
                except Exception as error:  # a failed warm-up only costs time later
                    warnings.warn(f"umap warm-up failed: {error}", RuntimeWarning)
            _thread = threading.Thread(target=run, name="hover-audio-umap-warm-up",
                                       daemon=True)
            _thread.start()
        return _thread
