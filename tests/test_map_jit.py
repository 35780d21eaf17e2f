"""umap-learn's compiled kernels are cached between processes, and exact neighbours are ours."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from sklearn.metrics import pairwise_distances

from hover_audio.maps import jit
from hover_audio.maps.layout import fit_layout
from hover_audio.maps.scaling import Scaler
from hover_audio.maps.warmup import warm_up


def blobs(rows=300, dim=12, groups=3, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(groups, dim)) * 3
    return (rng.normal(size=(rows, dim)) + centres[np.arange(rows) % groups]).astype(np.float32)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_exact_distances_match_sklearn(metric):
    a, b = blobs(50), blobs(20, seed=1)
    assert np.allclose(jit.exact_distances(a, b, metric=metric),
                       pairwise_distances(a, b, metric=metric), atol=1e-6)
    square = jit.exact_distances(a, metric=metric)
    assert np.allclose(square, square.T) and (np.diag(square) == 0).all()


def test_exact_cosine_matches_umaps_kernel_with_zero_vectors():
    umap = jit.import_umap()
    rows = blobs(30)
    rows[3] = 0
    rows[7] = 0
    ours = jit.exact_distances(rows)
    theirs = pairwise_distances(rows, metric=umap.distances.cosine)
    assert np.allclose(ours, theirs, atol=1e-6)
    assert ours[3, 7] == 0 and ours[3, 0] == 1


def test_exact_distances_are_never_negative_for_repeated_rows():
    rng = np.random.default_rng(3)
    rows = np.repeat(rng.normal(size=(50, 246)).astype(np.float32) * 100, 3, axis=0)
    for metric in ("cosine", "euclidean"):
        assert jit.exact_distances(rows, metric=metric).min() >= 0
        assert jit.exact_distances(rows, rows[::-1], metric=metric).min() >= 0
    layout = fit_layout(rows, ["raw"] * len(rows), "umap", 2, seed=0)
    assert np.isfinite(layout.coords).all()


def test_exact_distances_reject_other_metrics():
    with pytest.raises(ValueError, match="metric must be one of"):
        jit.exact_distances(blobs(4), metric="manhattan")


def test_small_maps_use_umaps_algorithm_on_exact_distances():
    """The fuzzy graph umap-learn builds from our distances is its own, to float rounding."""
    umap = jit.import_umap()
    vectors = blobs(400)
    subsets = np.array(["raw"] * 380 + ["test"] * 20, dtype=object)
    ours = fit_layout(vectors, subsets, "umap", 2, seed=0)
    assert ours.exact_metric == "cosine" and ours.estimator.metric == "precomputed"
    scaled = Scaler.fit(vectors[:380]).transform(vectors[:380])
    reference = umap.UMAP(n_components=2, random_state=0, n_neighbors=15, metric="cosine",
                          min_dist=0.1).fit(scaled)
    assert abs(reference.graph_ - ours.estimator.graph_).max() < 1e-5
    assert reference.graph_.nnz == ours.estimator.graph_.nnz
    # test rows are placed by umap-learn's transform, next to their own group
    assert np.isfinite(ours.coords).all()
    groups = np.arange(400) % 3
    for row in range(380, 400):
        nearest = np.argsort(((ours.coords[:380] - ours.coords[row]) ** 2).sum(1))[:10]
        assert (groups[nearest] == groups[row]).mean() >= 0.8


def test_other_metrics_and_large_inputs_keep_umaps_own_path():
    layout = fit_layout(blobs(60), ["raw"] * 60, "umap", 2, seed=0, metric="manhattan")
    assert layout.exact_metric is None and layout.estimator.metric == "manhattan"


def test_a_new_process_compiles_nothing_after_a_warm_up(tmp_path):
    """After one warm-up, a fresh interpreter loads every umap kernel from the disk cache."""
    warm_up()
    script = textwrap.dedent("""
        import json, numpy as np
        from hover_audio.maps.layout import fit_layout
        rng = np.random.default_rng(5)
        vectors = rng.normal(size=(300, 20)).astype(np.float32)
        subsets = np.array(["raw"] * 290 + ["test"] * 10, dtype=object)
        fit_layout(vectors, subsets, "umap", 2, seed=0)
        from numba.core.registry import CPUDispatcher
        import sys
        misses, hits = [], 0
        for name, module in list(sys.modules.items()):
            if module is None or not name.startswith("umap"):
                continue
            for attr, kernel in vars(module).items():
                # kernels umap-learn declares with fixed signatures compile at its
                # import, before a cache can be switched on (four tiny ones)
                if isinstance(kernel, CPUDispatcher) and kernel._can_compile:
                    hits += sum(kernel.stats.cache_hits.values())
                    if sum(kernel.stats.cache_misses.values()):
                        misses.append(f"{name}.{attr}")
        print(json.dumps({"hits": hits, "misses": misses}))
    """)
    env = dict(os.environ)
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["misses"] == []
    assert result["hits"] >= 4  # the graph, the membership strengths, the epochs, transform


def test_numba_cache_folder_is_per_user_unless_told(monkeypatch, tmp_path):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.delenv("HOVER_AUDIO_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if sys.platform.startswith("linux"):
        assert jit.numba_cache_dir() == tmp_path / "xdg" / "hover-audio" / "numba"
    monkeypatch.setenv("HOVER_AUDIO_CACHE", str(tmp_path / "cache"))
    assert jit.numba_cache_dir() == tmp_path / "cache" / "numba"
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "numba"))
    assert jit.numba_cache_dir() == tmp_path / "numba"


def test_warmup_command_fills_the_cache(capsys):
    from hover_audio.app.cli import main

    from hover_audio.maps import nndescent

    assert main(["warmup"]) == 0
    assert nndescent.is_imported()  # large maps' neighbours compiled too
    out = capsys.readouterr().out
    folder = jit.numba_cache_dir()
    assert str(folder) in out and "compiled and cached" in out
    assert any(path.name.startswith("layouts.") for path in folder.rglob("*.nbi"))
