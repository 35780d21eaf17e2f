"""Maps and search: reduction cost, reopening a stored layout, search latency, precision@10.

Usage: ``python benchmarks/bench_map_search.py [--quick] [--only 1,2,3,4] [--reopen-method pca|umap]``

Every timed part runs in a fresh child process (this script with ``--child``) that
reports JSON on stdout; peak memory is the child's ``ru_maxrss``. Children get
``HOVER_AUDIO_CACHE`` pointing to a temporary folder, so numba's cache
(``use_numba_cache``: ``$HOVER_AUDIO_CACHE/numba``) starts empty in this run and the
repository's ``custom_cache/`` is never touched. Synthetic vectors are float32 draws
from a seeded mixture of 20 Gaussian clusters with unequal dimension scales; subsets
are 50% raw, 30% train, 10% dev, 10% test.

Sections, each with its reference measured in the same run:
  1. ``fit_layout()`` to 2-D, PCA and UMAP, for N = 1k, 10k, 100k (130-dim): time and
     peak memory. Reference: ``sklearn.decomposition.PCA`` on the same data.
     ``seed=0`` children have BLAS/OpenMP pinned to one thread (UMAP is then
     single-threaded anyway); ``seed=None`` children use every core. UMAP children
     first run a warm-up (tiny fits through ``fit_layout``: the exact path used below
     4096 rows and the NNDescent path used above), reported separately; the first
     two UMAP children run in sequence on an empty numba cache to show what the
     cache saves. Target: UMAP on 100k rows finishes on this machine.
  2. Reopening a 100k-row workspace whose layout is stored: ``AudioDataset.load``
     plus a second ``compute_nd_embedding`` that must reuse it (no estimator, no
     ``fit_layout`` call). Reference: ``np.load`` of the workspace's vectors.npy.
     Target < 1 s.
  3. ``SimilarityIndex``: build time and memory, median latency of 50
     ``top_k(position, 10)`` queries, N = 10k, 100k, 1M, 64-dim, all cores.
     Reference: the raw matrix-vector product ``vectors @ q``.
     Targets at 1M x 64: one query < 100 ms, build < 5 s.
  4. precision@10 on the demo (1000 clips): share of each clip's 10 nearest (itself
     excluded) with its ``true_label``, for our index, for hover's scheme (librosa
     MFCC-32 means, plain cosine), and the two crossed variants; plus how many
     rows pass hover's search threshold (cosine >= 0.9) per query. Target: ours >= 0.8.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PINNED = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
DATA_SEED = 0
CLUSTERS = 20
SUBSET_SHARES = {"raw": 0.5, "train": 0.3, "dev": 0.1, "test": 0.1}
MAP_DIM = 130  # the default MFCCVectorizer's dimension
SEARCH_DIM = 64
MAP_SIZES = (1_000, 10_000, 100_000)
QUICK_MAP_SIZES = (1_000, 10_000)
REOPEN_ROWS = 100_000
QUICK_REOPEN_ROWS = 20_000
SEARCH_SIZES = (10_000, 100_000, 1_000_000)
QUICK_SEARCH_SIZES = (10_000, 100_000)
QUERIES = 50
K = 10
WARMUP_ROWS = {"exact": 300, "approx": 3000}  # UMAP warm-up fits (see child_reduce)
HOVER_THRESHOLD = 0.9
OUR_MIN_SCORE = 0.3  # the explorer's default "min score" (hover_audio/explorer/widgets.py)
THRESHOLDS = (HOVER_THRESHOLD, OUR_MIN_SCORE)
TARGET_REOPEN_S = 1.0
TARGET_QUERY_S = 0.100
TARGET_BUILD_S = 5.0
TARGET_PRECISION = 0.8
CHILD_TIMEOUT_S = 1800


# ------------------------------------------------------------------ helpers
def synthetic(rows: int, dim: int, seed: int = DATA_SEED):
    """``(vectors, subsets, cluster)``: a seeded Gaussian mixture, made in chunks (low peak RSS)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0.0, 1.0, (CLUSTERS, dim)).astype(np.float32)
    scales = np.exp(rng.uniform(-1.0, 2.0, dim)).astype(np.float32)  # unequal dimensions
    weights = rng.dirichlet(np.full(CLUSTERS, 5.0))
    cluster = rng.choice(CLUSTERS, size=rows, p=weights)
    subsets = rng.choice(list(SUBSET_SHARES), size=rows, p=list(SUBSET_SHARES.values()))
    vectors = np.empty((rows, dim), dtype=np.float32)
    chunk = 65_536
    for start in range(0, rows, chunk):
        stop = min(rows, start + chunk)
        block = rng.standard_normal((stop - start, dim), dtype=np.float32) * 0.5
        block += centers[cluster[start:stop]]
        block *= scales
        vectors[start:stop] = block
    return vectors, subsets.astype(object), cluster


def rss_mb() -> float:
    """Current resident set (VmRSS) in MB."""
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> bool:
    """Reset this process's peak RSS (Linux ``clear_refs`` 5), so the next peak is one step's."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(step):
    """Run ``step()``: (result, wall s, cpu s, RSS before MB, peak RSS during the step MB)."""
    before = rss_mb()
    reset_ok = reset_peak()
    cpu0, start = cpu_s(), time.perf_counter()
    result = step()
    wall, cpu = time.perf_counter() - start, cpu_s() - cpu0
    peak = maxrss_mb() if reset_ok else float("nan")
    return result, wall, cpu, before, peak


def files_under(folder: Path) -> int:
    return sum(1 for path in folder.rglob("*") if path.is_file()) if folder.is_dir() else 0


def digest(array: np.ndarray) -> str:
    return hashlib.blake2b(np.ascontiguousarray(array).tobytes(), digest_size=8).hexdigest()


class Timers:
    """Wrap functions/methods to add up their wall time and count their calls."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def wrap(self, owner, name: str, label: str | None = None) -> None:
        label = label or name
        original = getattr(owner, name)
        self.seconds.setdefault(label, 0.0)
        self.calls.setdefault(label, 0)

        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - start
                self.calls[label] += 1

        setattr(owner, name, wrapper)


class ChildFailed(RuntimeError):
    """A child process exited with an error (its last stderr line is the message)."""


PROBLEMS: list[str] = []
OTHER_LOAD: list[tuple[str, float, float]] = []  # (child mode, wall s, other processes' cores)


def busy_cpu_s() -> float:
    """CPU seconds spent busy by the whole machine so far (/proc/stat, all cores)."""
    with open("/proc/stat") as handle:
        fields = [int(value) for value in handle.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_child(mode: str, env: dict, **args) -> dict:
    """Run this script as ``--child MODE JSON`` with ``env``; return its JSON.

    Adds ``other_cores``: the cores other processes kept busy, on average, while the
    child ran (machine busy time minus the child's own CPU time, over wall time).
    """
    machine0, own0, wall0 = busy_cpu_s(), children_cpu_s(), time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, __file__, "--child", mode, json.dumps(args)],
                              env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S)
    except subprocess.TimeoutExpired as error:
        raise ChildFailed(f"child {mode!r} {args}: timed out after {CHILD_TIMEOUT_S} s") from error
    if proc.stderr.strip():
        print(f"[child {mode} stderr]\n{proc.stderr.rstrip()}", file=sys.stderr)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"]
        raise ChildFailed(f"child {mode!r} {args}: {lines[-1]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    wall = time.perf_counter() - wall0
    other = (busy_cpu_s() - machine0) - (children_cpu_s() - own0)
    result["other_cores"] = max(0.0, other) / wall if wall > 0 else 0.0
    OTHER_LOAD.append((mode, wall, result["other_cores"]))
    return result


def attempt(what: str, run):
    """``run()``, or None with the failure recorded (the run goes on)."""
    try:
        return run()
    except ChildFailed as error:
        PROBLEMS.append(f"{what}: {error}")
        print(f"  FAILED: {what}: {error}")
        return None


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


# ------------------------------------------------------------------ children
def child_facts(args: dict) -> dict:
    import numba
    import pynndescent
    import sklearn
    import umap
    from threadpoolctl import threadpool_info

    keep = ("user_api", "internal_api", "version", "num_threads")
    return {"versions": {"numpy": np.__version__, "scikit-learn": sklearn.__version__,
                         "umap-learn": umap.__version__, "pynndescent": pynndescent.__version__,
                         "numba": numba.__version__},
            "numba_threads": numba.config.NUMBA_NUM_THREADS,
            "numba_layer": numba.config.THREADING_LAYER,
            "pools": [{**{k: info.get(k) for k in keep},
                       "file": os.path.basename(info["filepath"])} for info in threadpool_info()]}


def child_reduce(args: dict) -> dict:
    """One reduction of N synthetic rows: method "sklearn" (the reference), "pca" or "umap"."""
    rows, method, seed = args["rows"], args["method"], args["seed"]
    vectors, subsets, _ = synthetic(rows, MAP_DIM)
    out: dict = {"rows": rows, "method": method, "seed": seed}
    tiny, tiny_subsets, _ = synthetic(WARMUP_ROWS["exact"], MAP_DIM, seed=1)
    if method == "sklearn":
        start = time.perf_counter()
        from sklearn.decomposition import PCA

        out["import_s"] = time.perf_counter() - start
        start = time.perf_counter()
        PCA(n_components=2, random_state=0).fit_transform(tiny)  # lazy imports, as for ours
        out["warmup"] = {"tiny": time.perf_counter() - start}

        def step():
            return PCA(n_components=2, random_state=0).fit_transform(vectors)
    else:
        start = time.perf_counter()
        import importlib

        layout_module = importlib.import_module("hover_audio.maps.layout")
        from hover_audio.maps.layout import LayoutReducer, fit_layout

        if method == "umap":
            layout_module.use_numba_cache()  # what fit_layout() does before it imports umap
            numba_dir = Path(os.environ["NUMBA_CACHE_DIR"])
            out["numba_cache_dir"] = str(numba_dir)
            out["cache_files_before"] = files_under(numba_dir)
            import umap  # noqa: F401

            out["import_s"] = time.perf_counter() - start
            out["cache_files_import"] = files_under(numba_dir)
            # UMAP takes exact neighbours below 4096 rows and NNDescent above; the
            # NNDescent query (placing test rows) compiles more code once an index
            # has more than ~1000 rows, so that warm-up fit has 3000.
            data = {label: synthetic(rows, MAP_DIM, seed=1)[:2]
                    for label, rows in WARMUP_ROWS.items()}
            warm = {}
            for label in ("exact", "approx", "exact again", "approx again"):
                options = {"force_approximation_algorithm": True} if "approx" in label else {}
                start = time.perf_counter()
                fit_layout(*data[label.split()[0]], "umap", 2, seed, **options)
                warm[label] = time.perf_counter() - start
            out["warmup"] = warm
            out["cache_files_after"] = files_under(numba_dir)
        else:
            out["import_s"] = time.perf_counter() - start
            start = time.perf_counter()
            fit_layout(tiny, tiny_subsets, "pca", 2, seed)  # sklearn's lazy imports
            out["warmup"] = {"tiny": time.perf_counter() - start}
        timers = Timers()
        timers.wrap(LayoutReducer, "transform", "place test rows")

        def step():
            return fit_layout(vectors, subsets, method, 2, seed).coords

    child_peak = maxrss_mb()
    coords, wall, cpu, before, peak = measure(step)
    valid = np.isfinite(vectors).all(axis=1)
    out.update(seconds=wall, cpu_s=cpu, rss_before=before, step_peak=peak,
               child_peak=max(child_peak, maxrss_mb()),
               nonfinite=int((~np.isfinite(coords[valid]).all(axis=1)).sum()),
               coords_digest=digest(np.asarray(coords, dtype=np.float32)))
    if method != "sklearn":
        out["place_s"] = timers.seconds["place test rows"]
    return out


def child_reopen_setup(args: dict) -> dict:
    """A workspace of N synthetic rows with vectors and one stored layout."""
    import pandas as pd

    from hover_audio import AudioDataset
    from hover_audio.dataset.schema import ABSTAIN

    rows = args["rows"]
    vectors, subsets, cluster = synthetic(rows, MAP_DIM)
    labels = np.where(subsets == "raw", ABSTAIN, np.char.add("class_", cluster.astype(str)))
    frame = pd.DataFrame({"audio": [f"clip_{i}.wav" for i in range(rows)],
                          "label": labels, "SUBSET": subsets})
    times = {}
    start = time.perf_counter()
    dataset = AudioDataset.from_pandas(frame)
    dataset.vectors = vectors
    times["from_pandas + vectors"] = time.perf_counter() - start
    start = time.perf_counter()
    dataset.save(args["workspace"])
    times["save"] = time.perf_counter() - start
    start = time.perf_counter()
    reducer = dataset.compute_nd_embedding(method=args["method"], seed=args["seed"])
    times["first compute_nd_embedding"] = time.perf_counter() - start
    fitted = reducer.estimator is not None
    np.save(args["coords"], reducer.coords)
    dataset.close()
    folder = Path(args["workspace"])
    sizes = {path.name: path.stat().st_size for path in folder.rglob("*") if path.is_file()}
    return {"times": times, "fitted": fitted, "sizes": sizes}


def child_reopen(args: dict) -> dict:
    """Reopen the workspace and ask for the same map again (must reuse the stored layout)."""
    start = time.perf_counter()
    import hover_audio.dataset.embedding as embedding_module
    import hover_audio.dataset.store as store_module
    import hover_audio.maps.layout as layout_module
    from hover_audio import AudioDataset

    import_s = time.perf_counter() - start
    folder = Path(args["workspace"])
    start = time.perf_counter()
    reference = np.load(folder / store_module.VECTORS)
    npy_s = time.perf_counter() - start

    timers = Timers()
    timers.wrap(store_module, "read_snapshot", "load: read_snapshot (parquet + npy)")
    timers.wrap(store_module.Workspace, "attach", "load: Workspace.attach (lock, journal)")
    timers.wrap(embedding_module, "stored_layout", "map: stored_layout")
    timers.wrap(layout_module, "layout_key", "map: layout_key (hash of the vectors)")
    timers.wrap(layout_module.LayoutStore, "get", "map: LayoutStore.get")
    timers.wrap(layout_module, "fit_layout", "map: fit_layout (must not run)")
    timers.wrap(store_module.Workspace, "snapshot", "map: Workspace.snapshot (rewrite)")

    start = time.perf_counter()
    dataset = AudioDataset.load(folder)
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    reducer = dataset.compute_nd_embedding(method=args["method"], seed=args["seed"])
    map_s = time.perf_counter() - start
    stored = np.load(args["coords"])
    checks = {
        "estimator is None": reducer.estimator is None,
        "fit_layout() not called": timers.calls["map: fit_layout (must not run)"] == 0,
        "coords equal the stored layout": bool(np.array_equal(reducer.coords, stored,
                                                              equal_nan=True)),
        "vectors equal vectors.npy": bool(np.array_equal(dataset.vectors, reference)),
    }
    dataset.close()
    return {"import_s": import_s, "npy_s": npy_s, "load_s": load_s, "map_s": map_s,
            "parts": timers.seconds, "checks": checks, "rows": len(stored),
            "child_peak": maxrss_mb()}


def child_search(args: dict) -> dict:
    """SimilarityIndex over N synthetic rows: build, then top_k latency against a raw matvec."""
    rows = args["rows"]
    vectors, _, cluster = synthetic(rows, SEARCH_DIM)
    start = time.perf_counter()
    from hover_audio.maps.search import SimilarityIndex

    import_s = time.perf_counter() - start
    index, build_s, build_cpu, before, peak = measure(lambda: SimilarityIndex(vectors))
    after = rss_mb()
    positions = np.random.default_rng(1).choice(rows, QUERIES, replace=False)

    def latency(run) -> list[float]:
        times = []
        for position in positions:
            start = time.perf_counter()
            run(int(position))
            times.append(time.perf_counter() - start)
        return times

    start = time.perf_counter()
    first = index.top_k(int(positions[0]), K)
    first_s = time.perf_counter() - start
    ours = latency(lambda p: index.top_k(p, K))
    matvec = latency(lambda p: vectors @ vectors[p])
    partition = latency(lambda p: np.argpartition(-(vectors @ vectors[p]), K)[:K])
    scores = latency(lambda p: index.scores(p))
    same_cluster = float(np.mean([(cluster[index.top_k(int(p), K)] == cluster[p]).mean()
                                  for p in positions]))
    keys = [f"clip_{i}.wav" for i in range(rows)]
    index = None  # free it before the keyed build
    start = time.perf_counter()
    keyed = SimilarityIndex(vectors, keys)
    keyed_s = time.perf_counter() - start
    by_key_s = latency(lambda p: keyed.top_k(keys[p], K))
    return {"rows": rows, "import_s": import_s, "build_s": build_s, "build_cpu": build_cpu,
            "rss_before": before, "build_peak": peak, "rss_after": after,
            "unit_mb": rows * SEARCH_DIM * 4 / 2**20, "first_s": first_s,
            "first_ok": len(first) == K, "ours": ours, "matvec": matvec,
            "partition": partition, "scores": scores, "keyed_build_s": keyed_s,
            "by_key": by_key_s, "same_cluster": same_cluster, "child_peak": maxrss_mb()}


def child_demo_ours(args: dict) -> dict:
    """The demo vectorized by MFCCVectorizer (defaults), searched by ds.similarity_index()."""
    from hover_audio.dataset.demo import load_dataset
    from hover_audio.vectors.mfcc import MFCCVectorizer

    dataset = load_dataset()
    start = time.perf_counter()
    report = dataset.vectorize(MFCCVectorizer(cache_dir=args["cache_dir"]), progress=False)
    vectorize_s = time.perf_counter() - start
    table = dataset.to_pandas()
    truth = table["true_label"].to_numpy()
    index = dataset.similarity_index()
    ok = np.isfinite(dataset.vectors).all(axis=1)
    precision, above = [], {threshold: [] for threshold in THRESHOLDS}
    start = time.perf_counter()
    for row in np.flatnonzero(ok):
        top = index.top_k(int(row), K)
        precision.append(float((truth[top] == truth[row]).mean()))
        for threshold in THRESHOLDS:
            above[threshold].append(int(len(index.above(int(row), threshold))))
    search_s = time.perf_counter() - start
    np.save(args["out"], dataset.vectors)
    Path(args["truth"]).write_text(json.dumps({"audio": list(table["audio"]),
                                                "true_label": list(truth)}))
    return {"vectorize_s": vectorize_s, "failures": len(report), "dim": dataset.vectors.shape[1],
            "precision": precision, "above": [above[t] for t in THRESHOLDS], "search_s": search_s,
            "queries": int(ok.sum())}


def child_demo_hover(args: dict) -> dict:
    """hover's scheme: librosa.load (22050 Hz), MFCC-32, mean over frames."""
    import librosa

    paths = json.loads(Path(args["truth"]).read_text())["audio"]
    start = time.perf_counter()
    vectors = []
    for path in paths:
        y, sr = librosa.load(path)
        vectors.append(librosa.feature.mfcc(y=y, sr=sr, n_mfcc=32).mean(axis=1))
    seconds = time.perf_counter() - start
    np.save(args["out"], np.stack(vectors).astype(np.float32))
    return {"seconds": seconds, "count": len(paths), "librosa": librosa.__version__}


CHILDREN = {"facts": child_facts, "reduce": child_reduce, "reopen_setup": child_reopen_setup,
            "reopen": child_reopen, "search": child_search, "demo_ours": child_demo_ours,
            "demo_hover": child_demo_hover}


# ------------------------------------------------------------------ parent
def environments(tmp: Path) -> tuple[dict, dict]:
    """(all cores, pinned to one thread) child environments, sharing a fresh HOVER_AUDIO_CACHE."""
    base = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    base["HOVER_AUDIO_CACHE"] = str(tmp / "hover_audio_cache")
    for name in PINNED:
        base.pop(name, None)
    return base, {**base, **PINNED}


def machine_facts(env: dict) -> None:
    facts = run_child("facts", env)
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor())
    memory = next((int(line.split()[1]) / 2**20 for line in open("/proc/meminfo")
                   if line.startswith("MemTotal")), float("nan"))
    print("== machine")
    print(f"cores: {os.cpu_count()} (usable {len(os.sched_getaffinity(0))}), {cpu}, "
          f"{memory:.1f} GB RAM")
    print(f"python {platform.python_version()}, "
          + ", ".join(f"{name} {version}" for name, version in facts["versions"].items()))
    print(f"numba threads {facts['numba_threads']} (layer setting {facts['numba_layer']}); "
          "native pools in an unpinned child:")
    for info in facts["pools"]:
        print(f"  {info['user_api']:7s} {info['internal_api']:10s} {info['version']} "
              f"threads={info['num_threads']} {info['file']}")
    print(f"pinned children: {' '.join(f'{k}={v}' for k, v in PINNED.items())}")


def bench_reduce(quick: bool, cores: dict, pinned: dict) -> dict:
    sizes = QUICK_MAP_SIZES if quick else MAP_SIZES
    largest = sizes[-1]
    results: dict = {}

    def run(method: str, rows: int, seed, env: dict, tag: str = ""):
        threads = "1" if env is pinned else "all"
        key = (method, rows, seed, threads, tag)
        print(f"  running {method} N={rows} seed={seed} threads={threads} {tag}".rstrip(),
              flush=True)
        results[key] = attempt(f"reduce {key}", lambda: run_child(
            "reduce", env, rows=rows, method=method, seed=seed))
        return results[key]

    print("\n== 1. reduce() to 2-D: progress", flush=True)
    # the first two UMAP children: an empty numba cache, then the one the first one left
    jit = [run("umap", sizes[0], 0, pinned, "first-ever (empty numba cache)"),
           run("umap", sizes[0], 0, pinned, "second process (cache filled)")]
    for rows in sizes:
        run("sklearn", rows, 0, pinned)
        run("pca", rows, 0, pinned)
        if rows != sizes[0]:
            run("umap", rows, 0, pinned)
    run("pca", largest, None, cores)
    run("umap", largest, None, cores)

    print(f"\n== 1. fit_layout(vectors, subsets, method, 2, seed): {MAP_DIM}-dim float32, "
          f"{CLUSTERS} Gaussian clusters, subsets raw/train/dev/test "
          + "/".join(f"{int(v * 100)}" for v in SUBSET_SHARES.values()) + "%")
    print("fit on raw+train+dev, test rows placed by the fitted estimator (place s, included);"
          " 1 fresh child per row")
    print("reference: sklearn PCA(n_components=2).fit_transform on all rows of the same data,"
          " BLAS 1 thread")
    print("warm-up = import + a first tiny call before the timed fit, not counted in fit s: "
          "PCA rows: sklearn's lazy imports; UMAP rows: numba JIT (see 1b)")
    print("cores = CPU time / wall time of the fit; RSS before = VmRSS before the fit (data, "
          "imports, warm-up); fit peak = peak RSS during the fit (reset before it); child peak"
          " = ru_maxrss of the whole child; other = cores kept busy by OTHER processes"
          " meanwhile (machine load not ours: figures above 0 are perturbed)")
    header = (f"{'method':13s} {'seed':>4s} {'thr':>3s} {'N':>7s} {'warm-up s':>9s} {'fit s':>8s}"
              f" {'x ref':>8s} {'place s':>7s} {'cores':>5s} {'RSS before':>10s} {'fit peak':>8s}"
              f" {'x ref':>6s} {'child peak':>10s} {'other':>5s}")
    print(header)
    for rows in sizes:
        ref = results.get(("sklearn", rows, 0, "1", ""))
        order = [("sklearn", 0, "1", ""), ("pca", 0, "1", ""), ("pca", None, "all", ""),
                 ("umap", 0, "1", "first-ever (empty numba cache)"),
                 ("umap", 0, "1", "second process (cache filled)"), ("umap", 0, "1", ""),
                 ("umap", None, "all", "")]
        for method, seed, threads, tag in order:
            result = results.get((method, rows, seed, threads, tag), "absent")
            if result == "absent":
                continue
            name = {"sklearn": "sklearn PCA", "pca": "ours pca", "umap": "ours umap"}[method]
            name += " (ref)" if method == "sklearn" else ""
            name += {"first-ever (empty numba cache)": " #1",
                     "second process (cache filled)": " #2"}.get(tag, "")
            if result is None:
                print(f"{name:13s} {str(seed):>4s} {threads:>3s} {rows:7d}  FAILED (see problems)")
                continue
            warm = result["import_s"] + sum(v for k, v in result["warmup"].items()
                                            if "again" not in k)
            times = f"{result['seconds'] / ref['seconds']:8.1f}" if ref else f"{'-':>8s}"
            mems = f"{result['step_peak'] / ref['step_peak']:6.2f}" if ref else f"{'-':>6s}"
            place = f"{result['place_s']:7.2f}" if "place_s" in result else f"{'-':>7s}"
            warm_text = f"{warm:9.1f}"
            print(f"{name:13s} {str(seed):>4s} {threads:>3s} {rows:7d} {warm_text} "
                  f"{result['seconds']:8.2f} {times} {place} "
                  f"{result['cpu_s'] / result['seconds']:5.2f} {result['rss_before']:10.0f} "
                  f"{result['step_peak']:8.0f} {mems} {result['child_peak']:10.0f}"
                  f" {result['other_cores']:5.2f}")
    bad = [(key, r["nonfinite"]) for key, r in results.items() if r and r["nonfinite"]]
    print("non-finite coordinates on valid rows: "
          + (", ".join(f"{key}: {count}" for key, count in bad) if bad else "none"))
    if jit[0] and jit[1]:
        same = jit[0]["coords_digest"] == jit[1]["coords_digest"]
        print(f"seed=0 reproducible across processes (UMAP N={sizes[0]}, #1 vs #2): "
              f"{'identical coordinates' if same else 'DIFFERENT coordinates'}")
    for seed, threads in ((0, "1"), (None, "all")):
        result = results.get(("umap", largest, seed, threads, ""))
        if result:
            print(f"target: UMAP on {largest} rows finishes (seed={seed}, threads={threads}): "
                  f"{result['seconds']:.0f} s ({result['seconds'] / 60:.1f} min) PASS")
        else:
            print(f"target: UMAP on {largest} rows finishes (seed={seed}): FAIL (see problems)")

    print("\n== 1b. UMAP's numba JIT: first-ever process vs a second one "
          f"(NUMBA_CACHE_DIR set by use_numba_cache to {jit[0]['numba_cache_dir'] if jit[0] else '?'})")
    print("import = use_numba_cache() + import umap; warm-up reduce() fits: exact = "
          f"{WARMUP_ROWS['exact']} rows, the path below 4096 rows; approx = "
          f"{WARMUP_ROWS['approx']} rows with force_approximation_algorithm, the NNDescent path;"
          " again = the same two fits once compiled (their compute time)")
    print(f"{'child':38s} {'cache files: start/import/end':>29s} {'import s':>8s} {'exact s':>8s} {'approx s':>8s}"
          f" {'total s':>8s} {'again s':>8s}")
    rows_printed = []
    for label, result in zip(("#1 first-ever (empty numba cache)", "#2 second process"), jit):
        if not result:
            print(f"{label:38s} FAILED")
            continue
        warm = result["warmup"]
        total = result["import_s"] + warm["exact"] + warm["approx"]
        rows_printed.append(total)
        files = (f"{result['cache_files_before']} / {result['cache_files_import']} / "
                 f"{result['cache_files_after']}")
        print(f"{label:38s} {files:>29s}"
              f" {result['import_s']:8.1f} {warm['exact']:8.1f} {warm['approx']:8.1f}"
              f" {total:8.1f} {warm['exact again'] + warm['approx again']:8.2f}")
    others = [r for key, r in results.items()
              if r and key[0] == "umap" and not key[4]]
    if others:
        totals = [r["import_s"] + r["warmup"]["exact"] + r["warmup"]["approx"] for r in others]
        print(f"later UMAP children (cache filled): import + warm-up {min(totals):.1f} .. "
              f"{max(totals):.1f} s")
    if len(rows_printed) == 2:
        print(f"the numba cache saves {rows_printed[0] - rows_printed[1]:.1f} s; every process"
              f" still pays {rows_printed[1]:.1f} s of import + JIT before its first UMAP map")
    return results


def bench_reopen(quick: bool, cores: dict, tmp: Path, method: str) -> None:
    rows = QUICK_REOPEN_ROWS if quick else REOPEN_ROWS
    workspace, coords = tmp / "workspace", tmp / "reopen_coords.npy"
    seed = 0
    print(f"\n== 2. reopening a workspace of {rows} rows with a stored {method} layout: progress",
          flush=True)
    setup = attempt("reopen setup", lambda: run_child(
        "reopen_setup", cores, rows=rows, workspace=str(workspace), coords=str(coords),
        method=method, seed=seed))
    if setup is None:
        return
    runs = [attempt(f"reopen #{i}", lambda: run_child(
        "reopen", cores, workspace=str(workspace), coords=str(coords), method=method, seed=seed))
        for i in range(3)]
    runs = [run for run in runs if run]
    if not runs:
        return
    print(f"\n== 2. reopening a workspace: {rows} rows x {MAP_DIM} float32, "
          f"compute_nd_embedding(method={method!r}, seed={seed}) stored once, then in a fresh"
          " child: AudioDataset.load(ws) + the same compute_nd_embedding again")
    print("set-up (other child, not timed against the target): "
          + ", ".join(f"{k} {v:.2f} s" for k, v in setup["times"].items())
          + f"; estimator fitted: {setup['fitted']}")
    sizes = setup["sizes"]
    print("workspace files: " + ", ".join(f"{name} {size / 2**20:.1f} MB"
                                          for name, size in sorted(sizes.items())))
    print("3 fresh children, files in the OS page cache (a cold disk would add its read time);"
          " median child shown (by load + map)")
    runs.sort(key=lambda run: run["load_s"] + run["map_s"])
    run = runs[len(runs) // 2]
    ref = run["npy_s"]
    total = run["load_s"] + run["map_s"]
    print(f"{'step':52s} {'s':>8s} {'x np.load':>9s}")
    print(f"{'np.load(vectors.npy) (ref)':52s} {ref:8.3f} {1.0:9.1f}")
    print(f"{'import hover_audio (not counted)':52s} {run['import_s']:8.3f} "
          f"{run['import_s'] / ref:9.1f}")
    print(f"{'AudioDataset.load(ws)':52s} {run['load_s']:8.3f} {run['load_s'] / ref:9.1f}")
    for name, seconds in run["parts"].items():
        if name.startswith("load:"):
            print(f"{'  ' + name[6:]:52s} {seconds:8.3f} {seconds / ref:9.1f}")
    print(f"{'compute_nd_embedding (stored layout)':52s} {run['map_s']:8.3f} "
          f"{run['map_s'] / ref:9.1f}")
    for name, seconds in run["parts"].items():
        if name.startswith("map:"):
            print(f"{'  ' + name[5:]:52s} {seconds:8.3f} {seconds / ref:9.1f}")
    print(f"{'load + compute_nd_embedding':52s} {total:8.3f} {total / ref:9.1f}")
    print("all children: load + map = "
          + ", ".join(f"{r['load_s'] + r['map_s']:.3f}" for r in runs) + " s; child peak RSS "
          + ", ".join(f"{r['child_peak']:.0f}" for r in runs) + " MB; other processes' cores "
          + ", ".join(f"{r['other_cores']:.2f}" for r in runs))
    checks = run["checks"]
    print("checks: " + "; ".join(f"{name}: {'yes' if ok else 'NO'}" for name, ok in checks.items()))
    if not all(checks.values()):
        PROBLEMS.append(f"reopen checks failed: {checks}")
    print(f"target < {TARGET_REOPEN_S:g} s: {total:.2f} s "
          f"{verdict(total < TARGET_REOPEN_S and all(checks.values()))}")


def bench_search(quick: bool, cores: dict) -> None:
    sizes = QUICK_SEARCH_SIZES if quick else SEARCH_SIZES
    print("\n== 3. SimilarityIndex: progress", flush=True)
    results = []
    for rows in sizes:
        print(f"  running N={rows}", flush=True)
        result = attempt(f"search N={rows}", lambda: run_child("search", cores, rows=rows))
        if result:
            results.append(result)
    print(f"\n== 3. SimilarityIndex over N x {SEARCH_DIM} float32 ({CLUSTERS} clusters), "
          f"all cores; latency = median of {QUERIES} queries (positions), one fresh child per N")
    print("reference: raw matrix-vector product vectors @ q on the same matrix "
          "(matvec+argpartition: also picking the top 10, unsorted)")
    print(f"{'N':>9s} {'build s':>8s} {'unit MB':>8s} {'RSS +MB':>8s} {'peak +MB':>8s}"
          f" {'first ms':>8s} {'top_k ms':>8s} {'min':>6s} {'p90':>6s} {'matvec ms':>9s}"
          f" {'min':>6s} {'x matvec':>8s}"
          f" {'mv+part ms':>10s} {'scores ms':>9s} {'by key ms':>9s} {'keyed build s':>13s}"
          f" {'other':>5s}")
    for r in results:
        ours, ref = np.median(r["ours"]), np.median(r["matvec"])
        print(f"{r['rows']:9d} {r['build_s']:8.3f} {r['unit_mb']:8.0f} "
              f"{r['rss_after'] - r['rss_before']:8.0f} {r['build_peak'] - r['rss_before']:8.0f}"
              f" {r['first_s'] * 1e3:8.2f} {ours * 1e3:8.2f}"
              f" {min(r['ours']) * 1e3:6.2f} {np.percentile(r['ours'], 90) * 1e3:6.2f}"
              f" {ref * 1e3:9.2f} {min(r['matvec']) * 1e3:6.2f} {ours / ref:8.1f}"
              f" {np.median(r['partition']) * 1e3:10.2f} {np.median(r['scores']) * 1e3:9.2f}"
              f" {np.median(r['by_key']) * 1e3:9.2f} {r['keyed_build_s']:13.2f}"
              f" {r['other_cores']:5.2f}")
    print("top_k/matvec ms = median, min and 90th percentile of the same 50 queries (min: the "
          "least perturbed by other processes)")
    print("RSS +MB = resident memory the index keeps (after - before build); peak +MB = the "
          "build's transient peak above the data; unit MB = the index's float32 matrix")
    print("by key = top_k(key) on SimilarityIndex(vectors, keys); keyed build = that index's"
          " build (the path ds.similarity_index() takes)")
    print("other = cores kept busy by other processes during the child (not ours)")
    print("sanity: share of top-10 in the query's own cluster: "
          + ", ".join(f"N={r['rows']}: {r['same_cluster']:.3f}" for r in results))
    big = next((r for r in results if r["rows"] == 1_000_000), None)
    if big:
        query = float(np.median(big["ours"]))
        worst = float(max(big["ours"] + [big["first_s"]]))
        print(f"target 1M x {SEARCH_DIM}: one query < {TARGET_QUERY_S * 1e3:.0f} ms: median "
              f"{query * 1e3:.1f} ms, worst of {QUERIES}+first {worst * 1e3:.1f} ms "
              f"{verdict(worst < TARGET_QUERY_S)}; build < {TARGET_BUILD_S:g} s: "
              f"{big['build_s']:.2f} s {verdict(big['build_s'] < TARGET_BUILD_S)}")
    else:
        print("target 1M: not measured" + (" (--quick)" if quick else " (failed)"))


def plain_cosine(matrix: np.ndarray, truth: np.ndarray):
    """precision@K per row and rows with cosine >= each threshold per query, no scaling."""
    unit = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    sims = unit @ unit.T
    np.fill_diagonal(sims, -np.inf)
    top = np.argsort(-sims, axis=1, kind="stable")[:, :K]
    return ((truth[top] == truth[:, None]).mean(axis=1),
            *[(sims >= threshold).sum(axis=1) for threshold in THRESHOLDS])


def our_scaling(matrix: np.ndarray, truth: np.ndarray):
    """The same two figures with SimilarityIndex (per-dimension scaling, then cosine)."""
    from hover_audio.maps.search import SimilarityIndex

    index = SimilarityIndex(matrix)
    precision = [(truth[index.top_k(row, K)] == truth[row]).mean() for row in range(len(matrix))]
    above = [[len(index.above(row, threshold)) for row in range(len(matrix))]
             for threshold in THRESHOLDS]
    return (np.asarray(precision), *map(np.asarray, above))


def bench_precision(cores: dict, pinned: dict, tmp: Path) -> None:
    print("\n== 4. precision@10 on the demo: progress", flush=True)
    truth_file, ours_npy, hover_npy = tmp / "demo_truth.json", tmp / "ours.npy", tmp / "hover.npy"
    print("  running ours (vectorize + ds.similarity_index())", flush=True)
    ours = attempt("demo ours", lambda: run_child(
        "demo_ours", cores, cache_dir=str(tmp / "demo_cache"), out=str(ours_npy),
        truth=str(truth_file)))
    if ours is None:
        return
    print("  running hover's librosa MFCC-32 means", flush=True)
    hover = attempt("demo hover", lambda: run_child(
        "demo_hover", pinned, truth=str(truth_file), out=str(hover_npy)))
    truth = np.asarray(json.loads(truth_file.read_text())["true_label"])
    ours_matrix = np.load(ours_npy)
    rows = {}
    rows["ours: MFCCVectorizer, ds.similarity_index()"] = (
        ours_matrix.shape[1], np.asarray(ours["precision"]), *map(np.asarray, ours["above"]))
    finite = np.isfinite(ours_matrix).all(axis=1)
    if finite.all():
        rows["ours vectors, plain cosine (no scaling)"] = (
            ours_matrix.shape[1], *plain_cosine(ours_matrix, truth))
    if hover:
        hover_matrix = np.load(hover_npy)
        rows["hover MFCC-32 means, plain cosine (ref)"] = (
            hover_matrix.shape[1], *plain_cosine(hover_matrix, truth))
        rows["hover MFCC-32 means, our scaling (Index)"] = (
            hover_matrix.shape[1], *our_scaling(hover_matrix, truth))
    print(f"\n== 4. precision@{K} on the demo: {len(truth)} clips, {len(set(truth))} classes "
          f"(true_label); every clip is a query, itself excluded")
    print(f"ours: ds.vectorize(MFCCVectorizer(cache_dir=<tmp>)) {ours['vectorize_s']:.1f} s "
          f"(all cores, cold cache, {ours['failures']} failures), {ours['queries']} queries "
          f"top_k + above in {ours['search_s']:.2f} s")
    if hover:
        print(f"hover: librosa {hover['librosa']} load (22050 Hz) + mfcc(n_mfcc=32).mean(axis=1),"
              f" {hover['count']} clips in {hover['seconds']:.1f} s (1 thread)")
    print(f"count >= t = rows (query excluded) with cosine >= t: {HOVER_THRESHOLD} is hover's"
          f" search threshold, {OUR_MIN_SCORE} our explorer's default min score; median [10th, "
          f"90th percentile] over queries, out of {len(truth) - 1}")
    print(f"{'vectors, comparison':44s} {'dim':>4s} {'p@10':>6s} {'- ref':>6s}"
          + "".join(f" {f'count >= {t}':>20s}" for t in THRESHOLDS))
    reference = rows.get("hover MFCC-32 means, plain cosine (ref)")
    for name, (dim, precision, *counts) in rows.items():
        diff = f"{precision.mean() - reference[1].mean():+6.3f}" if reference else f"{'-':>6s}"
        spreads = "".join(f" {np.median(c):6.0f} [{np.percentile(c, 10):4.0f}, "
                          f"{np.percentile(c, 90):4.0f}]".rjust(21) for c in counts)
        print(f"{name:44s} {dim:4d} {precision.mean():6.3f} {diff}{spreads}")
    score = float(np.mean(ours["precision"]))
    print(f"target ours >= {TARGET_PRECISION}: {score:.3f} {verdict(score >= TARGET_PRECISION)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"map N {QUICK_MAP_SIZES}, reopen {QUICK_REOPEN_ROWS} rows, "
                             f"search N {QUICK_SEARCH_SIZES}")
    parser.add_argument("--only", default="1,2,3,4", help="sections to run, e.g. 3,4")
    parser.add_argument("--reopen-method", default="pca", choices=("pca", "umap"),
                        help="method of the stored layout in section 2 (umap: minutes more)")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "JSON"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, payload = args.child
        print(json.dumps(CHILDREN[mode](json.loads(payload))))
        return
    sections = {int(part) for part in args.only.split(",") if part.strip()}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_map_search_") as name:
        tmp = Path(name)
        cores, pinned = environments(tmp)
        machine_facts(cores)
        print(f"HOVER_AUDIO_CACHE={cores['HOVER_AUDIO_CACHE']} in every child "
              "(NUMBA_CACHE_DIR unset, so use_numba_cache picks $HOVER_AUDIO_CACHE/numba)")
        if 1 in sections:
            bench_reduce(args.quick, cores, pinned)
        if 2 in sections:
            bench_reopen(args.quick, cores, tmp, args.reopen_method)
        if 3 in sections:
            bench_search(args.quick, cores)
        if 4 in sections:
            bench_precision(cores, pinned, tmp)
    if OTHER_LOAD:
        busy = [(mode, wall, other) for mode, wall, other in OTHER_LOAD if other > 0.2]
        print(f"\nother processes on the machine during the children: "
              f"{sum(w * o for _, w, o in OTHER_LOAD) / sum(w for _, w, _ in OTHER_LOAD):.2f} "
              f"cores on average; {len(busy)} of {len(OTHER_LOAD)} children ran with > 0.2 "
              "cores taken by others")
    if PROBLEMS:
        print("\n== problems seen")
        print("\n".join(PROBLEMS))
    print(f"\ntotal {time.perf_counter() - started:.0f} s{' (--quick)' if args.quick else ''}")


if __name__ == "__main__":
    main()
