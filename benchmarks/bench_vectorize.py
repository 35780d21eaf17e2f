"""Vectorizing audio: throughput, memory, warm-cache load and kNN accuracy.

Usage: ``python benchmarks/bench_vectorize.py [FOLDER] [--quick]``

Without FOLDER the embedded demo clips (1000 files) are used; with FOLDER, every
audio file under it (``hover_audio.dataset.folder.find_audio_files``). kNN accuracy always
uses the demo. Every timed part runs in a fresh child process (this script with
``--child``) with OMP/OpenBLAS/MKL pinned to one thread, and reports JSON on stdout.

References measured in the same run:
  (a) hover's documented vectorizer: ``librosa.load(path)`` (22050 Hz) then
      ``librosa.feature.mfcc(y=y, sr=sr, n_mfcc=32).mean(axis=1)``, one clip at a
      time, after a warm-up call (librosa/numba import and JIT not counted);
  (c) reading the same vectors from a ``.npy`` file with ``np.load``;
  (d) the limit: our decode alone, and decode + MFCC, one clip after another on one
      core, warmed, with no cache, no pool and no bookkeeping; divided by the cores,
      it bounds what any pipeline around them can reach;
  (d') the same decode + MFCC in a plain pool of forked workers, one per core, with
      no cache and no bookkeeping: what worker processes alone cost on this machine;
  (d'') that pool with each clip also read once and hashed (SHA-256, the cache's
      content key) and decoded from those bytes: the floor for a content-keyed cache;
  (e) ranges of one long recording per lossy format (M4A, MP3, Ogg Vorbis, Opus, WebM,
      Vorbis in Matroska): each decoded by the ffmpeg program and, where libsndfile
      reads the file, by libsndfile from its start (what read them before), against
      ``decode``; every range compared with the same slice of the whole decode;
  for the rows with imports counted, the modules that row's first call imported,
      timed alone in a fresh child, plus the limit (d): the most those rows can reach
      with these libraries (hover's imports and JIT are not counted in (a)).
Targets: ours >= 10x hover's clips/s (cold cache, all cores, pool start-up
included; 4x with one worker), like for like: both after a warm-up call, and both
in a fresh process with each side's import and first call counted; a warm cache of
100,000 vectors loads in < 1 s; kNN accuracy (k=5, cosine, standardized) of ours >= hover's.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PINNED = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
QUICK_SAMPLE = 200
REPEATS = 3  # fresh child processes per throughput figure (1 with --quick); median kept
WARM_COUNT = 100_000
QUICK_WARM_COUNT = 20_000
PROFILE_COUNT = 20_000  # warm paths profiled when (c) is far over target
TARGET_SPEEDUP = 10.0
TARGET_SINGLE = 4.0  # with one worker
TARGET_REALTIME = 1000.0  # long files: seconds of audio per second, all cores
LONG_FILES, LONG_SECONDS = 20, 60.0
TARGET_WARM_S = 1.0
SEED = 0
VARIANTS = {  # kNN rows: name -> MFCCVectorizer parameters
    "ours default (mean,std)": {},
    "ours segments=3": {"segments": 3},
    "ours stats=mean,std,min,max": {"stats": ["mean", "std", "min", "max"]},
}


# ------------------------------------------------------------------ helpers
def write_list(path: Path, items) -> str:
    path.write_text("\n".join(str(item) for item in items) + "\n")
    return str(path)


def read_list(path: str) -> list[str]:
    return Path(path).read_text().splitlines()


def peak_rss_mb() -> dict:
    """Max RSS of this process and of its largest waited-for child (Linux: KiB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"self": own, "children": children}


def blas_info() -> list[dict]:
    from threadpoolctl import threadpool_info

    keep = ("user_api", "internal_api", "version", "num_threads", "threading_layer")
    return [{**{k: info.get(k) for k in keep}, "file": os.path.basename(info["filepath"])}
            for info in threadpool_info()]


class ChildFailed(RuntimeError):
    """A child process exited with an error (its last stderr line is the message)."""


PROBLEMS: list[str] = []  # failures seen during the run, printed at the end


def run_child(mode: str, pinned: bool = True, **args) -> dict:
    """Run this script as ``--child MODE ARGS`` with BLAS pinned; return its JSON.

    ``pinned=False``: the thread variables as a user's shell has them (unset here),
    so the child's BLAS runs threads, as in a notebook or the server.
    """
    env = {**os.environ, **PINNED} if pinned else {
        name: value for name, value in os.environ.items() if name not in PINNED}
    proc = subprocess.run([sys.executable, __file__, "--child", mode, json.dumps(args)],
                          env=env, capture_output=True, text=True)
    if proc.stderr.strip():
        print(f"[child {mode} stderr]\n{proc.stderr.rstrip()}", file=sys.stderr)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"]
        raise ChildFailed(f"child {mode!r}: {lines[-1]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_cold(tmp: Path, name: str, attempts: int = 3, pinned: bool = True, **args) -> dict:
    """``ours`` on a fresh cache; a failed attempt is recorded and retried on another fresh cache."""
    for attempt in range(1, attempts + 1):
        try:
            return run_child("ours", pinned, cache_dir=str(tmp / f"cache_{name}_{attempt}"),
                             **args)
        except ChildFailed as error:
            PROBLEMS.append(f"{name}, attempt {attempt}/{attempts}: {error}")
    raise ChildFailed(f"{name}: all {attempts} attempts failed")


# ------------------------------------------------------------------ children
def child_hover(args: dict) -> dict:
    """hover's documented vectorizer, one clip at a time; writes the vectors to args['out']."""
    start = time.perf_counter()
    import librosa

    import_s = time.perf_counter() - start

    def vectorize(path: str) -> np.ndarray:
        y, sr = librosa.load(path)
        return librosa.feature.mfcc(y=y, sr=sr, n_mfcc=32).mean(axis=1)

    paths = read_list(args["paths"])
    start = time.perf_counter()
    vectorize(args["warmup"])
    warmup_s = time.perf_counter() - start
    start = time.perf_counter()
    vectors = [vectorize(path) for path in paths]
    seconds = time.perf_counter() - start
    np.save(args["out"], np.stack(vectors).astype(np.float32))
    return {"seconds": seconds, "count": len(paths), "import_s": import_s,
            "warmup_s": warmup_s, "rss": peak_rss_mb(), "blas": blas_info(),
            "librosa": librosa.__version__}


def child_limit(args: dict) -> dict:
    """(d): decode alone, then the MFCC vector of the decoded clips, one core, warmed."""
    from hover_audio.audio.decode import decode
    from hover_audio.vectors.mfcc import MFCCVectorizer

    paths = [Path(path) for path in read_list(args["paths"])]
    vectorizer = MFCCVectorizer(cache=False)
    first = decode(paths[0])
    vectorizer.vector(first.samples, first.sr)
    start = time.perf_counter()
    clips = [decode(path) for path in paths]
    decode_s = time.perf_counter() - start
    start = time.perf_counter()
    for clip in clips:
        vectorizer.vector(clip.samples, clip.sr)
    mfcc_s = time.perf_counter() - start
    return {"count": len(paths), "decode_s": decode_s, "mfcc_s": mfcc_s,
            "seconds": decode_s + mfcc_s}


def _decode_and_vector(paths: list[str], hashed: bool = False) -> int:
    """Decode and vectorize each clip; ``hashed``: each is also read once, its content key
    computed (SHA-256, as the cache does) and decoded from those bytes: what a
    content-keyed cache cannot skip."""
    from hover_audio.audio.decode import decode
    from hover_audio.vectors.content import content_hash
    from hover_audio.vectors.mfcc import MFCCVectorizer

    vectorizer = MFCCVectorizer(cache=False)
    for path in paths:
        data = Path(path).read_bytes() if hashed else None
        if hashed:
            content_hash(data)
        clip = decode(Path(path), data=data)
        vectorizer.vector(clip.samples, clip.sr)
    return len(paths)


def child_pool(args: dict) -> dict:
    """(d'): the same decode + MFCC in a plain pool of forked workers, one per core,
    chunks of 62 clips, warmed: no cache, no report, no bookkeeping, nothing sent back.
    With ``args["hashed"]``, each clip is also read once and hashed (d'')."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from hover_audio.vectors.runners import pin_threads

    work = functools.partial(_decode_and_vector, hashed=bool(args.get("hashed")))
    paths = read_list(args["paths"])
    work(paths[:1])
    cores = len(os.sched_getaffinity(0))
    start = time.perf_counter()
    with ProcessPoolExecutor(cores, initializer=pin_threads,
                             mp_context=multiprocessing.get_context("fork")) as pool:
        count = sum(pool.map(work, [paths[i:i + 62] for i in range(0, len(paths), 62)]))
    return {"seconds": time.perf_counter() - start, "count": count}


def child_ours(args: dict) -> dict:
    """``MFCCVectorizer(...).transform`` on a fresh cache; writes the matrix to args['out'].

    With ``args["warmup"]`` (a path), one call on that clip (another fresh cache)
    comes first, untimed: imports and first-call costs excluded, as for hover.
    ``args["threaded"]``: another thread runs, as in a notebook kernel or the server,
    so workers come from the fork server; the warm-up call then vectorizes 32 clips
    with workers, which starts that server. ``args["batch_warmup"]``: the warm-up
    vectorizes 32 clips with workers too, as a notebook's earlier batch would.
    """
    import threading

    start = time.perf_counter()
    from hover_audio.vectors.mfcc import MFCCVectorizer

    import_s = time.perf_counter() - start  # the package's own import (hover: `import librosa`)
    paths = read_list(args["paths"])
    if args.get("threaded"):
        threading.Thread(target=threading.Event().wait, daemon=True).start()
    if args.get("warmup"):
        batch = args.get("threaded") or args.get("batch_warmup")
        MFCCVectorizer(cache_dir=args["cache_dir"] + "-warmup").transform(
            paths[:32] if batch else [args["warmup"]], workers=None if batch else 1,
            progress=False)
    vectorizer = MFCCVectorizer(cache_dir=args["cache_dir"], **args.get("params", {}))
    before = set(sys.modules)
    start = time.perf_counter()
    matrix, report = vectorizer.transform(paths, workers=args.get("workers"), progress=False)
    seconds = time.perf_counter() - start
    imported = sorted(name for name in set(sys.modules) - before if importable(name))
    np.save(args["out"], matrix)
    return {"seconds": seconds, "count": len(paths), "failures": len(report),
            "report": report.head(5).astype(str).to_dict("records"), "import_s": import_s,
            "rss": peak_rss_mb(), "blas": blas_info(), "imported": imported}


def importable(name: str) -> bool:
    """A package or module one can import by name (not Cython's or multiprocessing's
    entries in ``sys.modules``)."""
    import importlib.util

    if any(part.startswith("_") for part in name.split(".")):
        return False
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def child_imports(args: dict) -> dict:
    """The time to import ``args["modules"]`` after ``hover_audio.vectors.mfcc``, as the
    first transform of a fresh process does."""
    import importlib

    importlib.import_module("hover_audio.vectors.mfcc")  # untimed, as in that child
    start = time.perf_counter()
    for name in args["modules"]:
        importlib.import_module(name)
    return {"seconds": time.perf_counter() - start}


def child_warm(args: dict) -> dict:
    """np.load of the vectors (reference), then transform on the warm cache."""
    from hover_audio.vectors.mfcc import MFCCVectorizer

    paths = read_list(args["paths"])
    start = time.perf_counter()
    expected = np.load(args["npy"])
    npy_s = time.perf_counter() - start
    vectorizer = MFCCVectorizer(cache_dir=args["cache_dir"])
    start = time.perf_counter()
    matrix, report = vectorizer.transform(paths, workers=args.get("workers"), progress=False)
    seconds = time.perf_counter() - start
    assert report.empty, f"{len(report)} failures, e.g. {report.head(3).to_dict('records')}"
    assert not np.isnan(matrix).any(axis=1).any(), "NaN rows: some keys were not cache hits"
    assert np.array_equal(matrix, expected), "cached vectors differ from the stored ones"
    return {"seconds": seconds, "npy_s": npy_s, "count": len(paths), "rss": peak_rss_mb()}


def child_profile(args: dict) -> dict:
    """cProfile of a warm-cache load on some paths, seen from one of three places.

    ``how``: "all cores" (transform with the default pool: the parent's side only),
    "worker" (``pipeline.run_jobs`` on chunks of 64 in this process, as a pool worker
    runs them) or "workers=1" (transform in this process).
    """
    import cProfile
    import io
    import pstats

    from hover_audio.vectors.mfcc import MFCCVectorizer
    from hover_audio.vectors.jobs import make_jobs, run_jobs

    paths = read_list(args["paths"])[: args["count"]]
    vectorizer = MFCCVectorizer(cache_dir=args["cache_dir"])
    how = args["how"]
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    if how == "worker":
        jobs = make_jobs(paths)
        outcomes = [o for i in range(0, len(jobs), 64) for o in run_jobs(vectorizer, jobs[i:i + 64])]
        ok = all(o.vector is not None and o.kind is None for o in outcomes)
    else:
        matrix, report = vectorizer.transform(paths, workers=1 if how == "workers=1" else None,
                                              progress=False)
        ok = report.empty and not np.isnan(matrix).any()
    profiler.disable()
    seconds = time.perf_counter() - start
    assert ok, "not every path was a cache hit"
    texts = {}
    for order, top in (("cumulative", 15), ("tottime", 8)):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(top)
        texts[order] = out.getvalue()
    return {"seconds": seconds, "count": len(paths), "profile": texts}


def child_facts(args: dict) -> dict:
    """The native thread pools a child sees once librosa has computed an MFCC."""
    import librosa

    librosa.feature.mfcc(y=np.zeros(22050, dtype=np.float32), sr=22050, n_mfcc=32)
    return {"blas": blas_info()}


def child_ranges(args: dict) -> dict:
    """Each range decoded by ``decode`` (ours), by the ffmpeg program and, for files
    libsndfile reads, by libsndfile from the start of the file, warmed; each compared with
    the same slice of the file's whole decode by ``decode`` (libsndfile's where it reads
    the file, else PyAV's)."""
    import soundfile as sf

    from hover_audio.audio import decode as decoding

    path, spans = Path(args["path"]), args["spans"]

    def from_start(a, b):  # what libsndfile's lossy ranges in the first 2 minutes did
        with sf.SoundFile(str(path)) as sound:
            first = int(round(a * sound.samplerate))
            frames = sound.read(int(round(b * sound.samplerate)), dtype="float32",
                                always_2d=True)[first:]
        return decoding.Audio(frames.mean(axis=1), sound.samplerate, False)

    readers = {"ours": lambda a, b: decoding.decode(path, start=a, end=b),
               "program": lambda a, b: decoding._decode_ffmpeg(path, a, b, None, None,
                                                               path.name)}
    try:
        sf.info(str(path))
        readers["from start"] = from_start
    except sf.LibsndfileError:
        pass
    whole = decoding.decode(path)
    reference = whole.samples
    result = {"count": len(spans), "sr": whole.sr}
    for name, read in readers.items():
        read(*spans[0])  # warm-up: imports, first calls
        start = time.perf_counter()
        samples = [read(a, b).samples for a, b in spans]
        result[f"{name}_s"] = time.perf_counter() - start
        differences, lengths = [], 0
        for (a, b), part in zip(spans, samples):
            first, last = int(round(a * whole.sr)), int(round(b * whole.sr))
            lengths += len(part) != last - first
            n = min(len(part), last - first)
            differences.append(np.abs(part[:n] - reference[first:first + n]))
        flat = np.concatenate(differences)
        result[f"{name}_max"] = float(flat.max())
        result[f"{name}_median"] = float(np.median(flat))
        result[f"{name}_share"] = float(np.mean(flat > 1e-3))  # samples off by > 1e-3
        result[f"{name}_lengths"] = lengths
    return result


CHILDREN = {"facts": child_facts, "hover": child_hover, "limit": child_limit, "pool": child_pool,
            "ours": child_ours, "warm": child_warm, "profile": child_profile,
            "imports": child_imports, "ranges": child_ranges}


# ------------------------------------------------------------------ parent
def machine_facts(blas: list[dict]) -> None:
    import librosa
    import sklearn
    import soundfile
    import sqlite3

    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor())
    print("== machine")
    print(f"cores: {os.cpu_count()} (usable {len(os.sched_getaffinity(0))}), {cpu}")
    print(f"python {platform.python_version()}, numpy {np.__version__}, librosa "
          f"{librosa.__version__}, scikit-learn {sklearn.__version__}, soundfile "
          f"{soundfile.__version__} ({soundfile.__libsndfile_version__}), sqlite "
          f"{sqlite3.sqlite_version}")
    print(f"child env: {' '.join(f'{k}={v}' for k, v in PINNED.items())}; "
          "threadpoolctl in the child:")
    for info in blas:
        print(f"  {info['user_api']:7s} {info['internal_api']:10s} {info['version']} "
              f"threads={info['num_threads']} layer={info['threading_layer']} {info['file']}")


def clip_paths(folder: str | None) -> list[str]:
    if folder is None:
        from hover_audio.dataset.demo import load_dataset

        return list(load_dataset().to_pandas()["audio"])
    from hover_audio.dataset.folder import find_audio_files

    paths = [str(path.absolute()) for path in find_audio_files(folder)]
    if not paths:
        raise SystemExit(f"no audio files under {folder}")
    return paths


def median_run(repeats: int, run) -> dict:
    """The run with the median time out of ``repeats`` calls of ``run(i)``, with all times."""
    results = sorted((run(i) for i in range(repeats)), key=lambda result: result["seconds"])
    return {**results[len(results) // 2], "all_seconds": [r["seconds"] for r in results]}


def bench_throughput(paths: list[str], quick: bool, tmp: Path) -> dict:
    """(a) and (b): hover's vectorizer against ours, cold cache."""
    repeats = 1 if quick else REPEATS
    sample = sorted(random.Random(SEED).sample(paths, QUICK_SAMPLE)) \
        if quick and len(paths) > QUICK_SAMPLE else paths
    all_file = write_list(tmp / "paths.txt", paths)
    sample_file = write_list(tmp / "sample.txt", sample)
    hover = median_run(repeats, lambda i: run_child(
        "hover", paths=sample_file, warmup=paths[0], out=str(tmp / "hover.npy")))
    ours = median_run(repeats, lambda i: run_cold(
        tmp, f"cold all cores #{i}", paths=all_file, out=str(tmp / "ours.npy")))
    single = median_run(repeats, lambda i: run_cold(
        tmp, f"cold workers=1 #{i}", paths=all_file, workers=1, out=str(tmp / "ours1.npy")))
    ours_warm = median_run(repeats, lambda i: run_cold(
        tmp, f"cold all cores, warmed #{i}", paths=all_file, out=str(tmp / "ours.npy"),
        warmup=paths[0]))
    single_warm = median_run(repeats, lambda i: run_cold(
        tmp, f"cold workers=1, warmed #{i}", paths=all_file, workers=1,
        out=str(tmp / "ours1.npy"), warmup=paths[0]))
    second = median_run(repeats, lambda i: run_cold(
        tmp, f"cold all cores, second batch #{i}", paths=all_file, out=str(tmp / "ours.npy"),
        warmup=paths[0], batch_warmup=True))
    threaded = median_run(repeats, lambda i: run_cold(
        tmp, f"cold all cores, warmed, threaded BLAS #{i}", pinned=False, paths=all_file,
        out=str(tmp / "ours.npy"), warmup=paths[0]))
    kernel = median_run(repeats, lambda i: run_cold(
        tmp, f"cold all cores, warmed, as in a kernel #{i}", pinned=False, paths=all_file,
        out=str(tmp / "ours.npy"), warmup=paths[0], threaded=True))
    reference = hover["count"] / hover["seconds"]
    print(f"\n== (a)/(b) vectorizing {len(paths)} clips, cold cache "
          f"(hover timed on {hover['count']} clips"
          f"{', extrapolated' if hover['count'] < len(paths) else ''})")
    print(f"hover: `import librosa` ({hover['import_s']:.2f} s) and a warm-up call on one clip"
          f" ({hover['warmup_s']:.2f} s: librosa's lazy imports, numba JIT) are NOT counted")
    print("ours: transform() time includes pool start-up; the first two rows also include the "
          "package's lazy imports and first calls, the others come after a one-clip warm-up "
          "like hover's")
    print(f"every child runs with {', '.join(PINNED)} = 1, except 'BLAS free': the variables "
          "unset, its BLAS threaded as in a notebook or the server; 'as in a kernel' is that "
          "with another thread running, so its workers come from the fork server (its warm-up: "
          "32 clips with workers); 'second batch': after a first batch of 32 clips with "
          "workers in the same process, as in a notebook")
    print(f"each row: median of {repeats} fresh child process(es), each on a fresh cache;"
          " all times in [s]")
    print(f"{'vectorizer':34s} {'clips':>6s} {'s':>8s} {'clips/s':>9s} {'x hover':>8s}"
          f" {'RSS MB':>7s} {'worker':>7s}")
    rows = [("hover librosa mfcc32 mean (ref)", hover), ("ours MFCCVectorizer, all cores", ours),
            ("ours MFCCVectorizer, workers=1", single), ("ours, all cores, warmed", ours_warm),
            ("ours, workers=1, warmed", single_warm), ("ours, all cores, second batch", second),
            ("ours, all cores, warmed, BLAS free", threaded),
            ("ours, ..., as in a kernel", kernel)]
    for name, result in rows:
        rate = result["count"] / result["seconds"]
        worker = result["rss"]["children"] if result in (ours, ours_warm, second, threaded,
                                                                kernel) else 0
        print(f"{name:34s} {result['count']:6d} {result['seconds']:8.2f} {rate:9.1f}"
              f" {rate / reference:8.2f} {result['rss']['self']:7.0f}"
              f" {(f'{worker:.0f}' if worker else '-'):>7s}  "
          f"[{', '.join(f'{t:.2f}' for t in result['all_seconds'])}]")
    for name, result in (("all cores", ours), ("workers=1", single)):
        print(f"ours/hover, {name}: {result['count'] / result['seconds'] / reference:.1f}x "
              "(no target: ours' first call with its lazy imports against hover warmed; "
              "the like-for-like rows, both first calls counted, come below)")
    for name, result, target in (("all cores, warmed", ours_warm, TARGET_SPEEDUP),
                                 ("workers=1, warmed", single_warm, TARGET_SINGLE),
                                 ("all cores, second batch", second, TARGET_SPEEDUP),
                                 ("all cores, warmed, BLAS free", threaded, TARGET_SPEEDUP),
                                 ("..., as in a kernel", kernel, TARGET_SPEEDUP)):
        speedup = result["count"] / result["seconds"] / reference
        print(f"target ours/hover, {name} >= {target:g}x: {speedup:.1f}x "
              f"{'PASS' if speedup >= target else 'FAIL'}")
    limit = median_run(repeats, lambda i: run_child("limit", paths=all_file))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    hover_s = len(paths) / reference
    print(f"(d) limit, one core, warmed, no cache: decode {limit['decode_s']:.2f} s "
          f"({1000 * limit['decode_s'] / limit['count']:.2f} ms/clip), + MFCC "
          f"{limit['mfcc_s']:.2f} s ({1000 * limit['mfcc_s'] / limit['count']:.2f} ms/clip)")
    for name, workers, target in (("all cores", cores, TARGET_SPEEDUP),
                                  ("workers=1", 1, TARGET_SINGLE)):
        floor = (limit["decode_s"] + limit["mfcc_s"]) / workers
        print(f"  {name} ({workers} core(s)): decode + MFCC alone take >= {floor:.2f} s = at "
              f"most {hover_s / floor:.1f}x hover; the {target:g}x target allows "
              f"{hover_s / target:.2f} s for everything")
    for name, workers, result in (("all cores", cores, ours), ("workers=1", 1, single)):
        # the libraries this row's first call imported in its process (our own modules
        # are left to the row; with workers, what they import is in their time)
        modules = [name for name in result["imported"] if not name.startswith("hover_audio")]
        imports = median_run(repeats, lambda i: run_child("imports", modules=modules))
        packages = sorted({name.split(".")[0] for name in modules} - set(sys.stdlib_module_names))
        floor = (limit["decode_s"] + limit["mfcc_s"]) / workers + imports["seconds"]
        print(f"  {name}, imports counted: importing the {len(modules)} modules its first call "
              f"imports (of {', '.join(packages)} and the standard library) takes "
              f"{imports['seconds']:.2f} s alone; with decode + MFCC >= {floor:.2f} s = at most "
              f"{hover_s / floor:.1f}x hover (this row: {hover_s / result['seconds']:.1f}x; "
              "ours with its imports against hover without its: no target)")
    # like for like from a fresh process: each side's import, first call and the batch
    hover_first = hover["import_s"] + hover["warmup_s"] + hover_s
    print(f"first batch of a fresh process, both sides counted: hover {hover_first:.2f} s "
          f"(import {hover['import_s']:.2f} + first call {hover['warmup_s']:.2f} + "
          f"{len(paths)} clips {hover_s:.2f})")
    for name, result, target in (("all cores", ours, TARGET_SPEEDUP),
                                 ("workers=1", single, TARGET_SINGLE)):
        total = result["import_s"] + result["seconds"]
        speedup = hover_first / total
        print(f"target ours/hover, {name}, imports and first calls counted on both sides "
              f">= {target:g}x: ours {total:.2f} s (import {result['import_s']:.2f} + batch "
              f"{result['seconds']:.2f}) = {speedup:.1f}x {'PASS' if speedup >= target else 'FAIL'}")
    pool = median_run(repeats, lambda i: run_child("pool", paths=all_file))
    print(f"(d') floor with processes: the same decode + MFCC in a plain pool of {cores} forked "
          f"workers, no cache or bookkeeping: {pool['seconds']:.2f} s = "
          f"{hover_s / pool['seconds']:.1f}x hover (ours, all cores, warmed: "
          f"{ours_warm['seconds'] / pool['seconds']:.2f}x this floor's time)")
    hashed = median_run(repeats, lambda i: run_child("pool", paths=all_file, hashed=True))
    print(f"(d'') the same pool, each clip also read once and hashed (SHA-256, the cache's "
          f"content key) and decoded from those bytes: {hashed['seconds']:.2f} s = "
          f"{hover_s / hashed['seconds']:.1f}x hover, the floor for a content-keyed cache "
          f"(ours, all cores, warmed: {ours_warm['seconds'] / hashed['seconds']:.2f}x its time)")
    print("RSS MB = peak RSS (RUSAGE_SELF) of the child process; worker = largest pool"
          " worker (RUSAGE_CHILDREN: a max, not a sum; forked pages are shared)")
    for result in (ours, single):
        if result["failures"]:
            print(f"WARNING: ours reported {result['failures']} failures: {result['report']}")
    return {"hover": hover, "ours": ours, "sample": sample}


def fill_cache(count: int, tmp: Path) -> tuple[list[str], Path, Path, dict]:
    """100k tiny distinct files, their vectors in the cache (under the pipeline's keys) and a .npy."""
    from hover_audio.vectors.cache import VectorCache
    from hover_audio.vectors.mfcc import MFCCVectorizer

    vectorizer = MFCCVectorizer()
    folder, cache_dir = tmp / "warm_files", tmp / "warm_cache"
    times = {}
    start = time.perf_counter()
    paths = []
    for i in range(count):
        sub = folder / f"{i // 1000:03d}"
        if i % 1000 == 0:
            sub.mkdir(parents=True)
        path = sub / f"clip_{i:06d}.wav"
        path.write_bytes(f"clip {i}\n".encode())
        paths.append(str(path))
    times["files"] = time.perf_counter() - start
    cache = VectorCache(cache_dir, namespace=vectorizer.fingerprint)
    start = time.perf_counter()
    # the pipeline's key: "|".join([digest, start, end, channel]), "" for None
    keys = [cache.file_hash(path) + "|||" for path in paths]
    times["file_hash"] = time.perf_counter() - start
    vectors = np.random.default_rng(SEED).standard_normal((count, vectorizer.dim),
                                                          dtype=np.float32)
    start = time.perf_counter()
    cache.put_many(zip(keys, vectors))
    times["put_many"] = time.perf_counter() - start
    cache.close()
    npy = tmp / "warm.npy"
    np.save(npy, vectors)
    return paths, cache_dir, npy, times


def print_profile(profile: dict, how: str) -> None:
    where = {"all cores": "transform() with the pool, parent process only",
             "worker": "pipeline.run_jobs on chunks of 64, as in a pool worker",
             "workers=1": "transform(workers=1), in-process"}[how]
    print(f"\n-- cProfile, {where}: {profile['count']} warm paths in "
          f"{profile['seconds']:.2f} s under the profiler")
    for text in profile["profile"].values():
        lines = text.strip().splitlines()
        start = next(i for i, line in enumerate(lines) if "Ordered by" in line)
        print("\n".join(line for line in lines[start:] if "List reduced" not in line))


def bench_warm(quick: bool, tmp: Path) -> None:
    """(c) a warm cache of 100k vectors against np.load."""
    count = QUICK_WARM_COUNT if quick else WARM_COUNT
    paths, cache_dir, npy, fill = fill_cache(count, tmp)
    paths_file = write_list(tmp / "warm_paths.txt", paths)
    # the cache was filled directly, so the first load finds no snapshot: it reads
    # SQLite and leaves the snapshot the later loads (a library opened again) read
    first = run_child("warm", paths=paths_file, cache_dir=str(cache_dir), npy=str(npy))
    warm = run_child("warm", paths=paths_file, cache_dir=str(cache_dir), npy=str(npy))
    single = run_child("warm", paths=paths_file, cache_dir=str(cache_dir), npy=str(npy),
                       workers=1)
    print(f"\n== (c) warm cache: {count} vectors, all cache hits (checked: empty report, "
          "no NaN row, equal to the stored vectors); each load a fresh process, its "
          "package imports (pandas, ...) counted")
    print(f"set-up, not timed against the target: {count} files {fill['files']:.1f} s, "
          f"cache.file_hash {fill['file_hash']:.1f} s, put_many {fill['put_many']:.1f} s")
    print(f"{'load':44s} {'s':>8s} {'vectors/s':>10s} {'x np.load s':>11s} {'RSS MB':>7s}")
    print(f"{'np.load .npy (ref)':44s} {warm['npy_s']:8.3f} {count / warm['npy_s']:10.0f}"
          f" {1.0:11.1f} {'':>7s}")
    for name, result in (("first load: SQLite, writes the snapshot", first),
                         ("again: snapshot, all cores", warm),
                         ("again: snapshot, workers=1", single)):
        print(f"{name:44s} {result['seconds']:8.3f} {count / result['seconds']:10.0f}"
              f" {result['seconds'] / warm['npy_s']:11.0f} {result['rss']['self']:7.0f}")
    print(f"target < {TARGET_WARM_S:g} s (a library loaded before): {warm['seconds']:.2f} s "
          f"{'PASS' if warm['seconds'] < TARGET_WARM_S else 'FAIL'}")
    if warm["seconds"] > 2 * TARGET_WARM_S:
        for how in ("all cores", "worker", "workers=1"):
            print_profile(run_child("profile", paths=paths_file, cache_dir=str(cache_dir),
                                    count=min(PROFILE_COUNT, count), how=how), how)
    shutil.rmtree(tmp / "warm_files", ignore_errors=True)
    bench_warm_ranges(count, tmp)


def fill_ranges(count: int, tmp: Path, files: int = 100) -> tuple[list[str], Path, Path]:
    """``count`` 0.1 s ranges (``#t=`` keys) of ``files`` long WAV files, their vectors in
    the cache under the pipeline's keys, and the same vectors in a .npy."""
    import soundfile

    from hover_audio.vectors.cache import VectorCache
    from hover_audio.vectors.jobs import cache_key
    from hover_audio.vectors.mfcc import MFCCVectorizer

    vectorizer = MFCCVectorizer()
    per_file = -(-count // files)
    cache_dir, folder = tmp / "ranges_cache", tmp / "ranges"
    folder.mkdir()
    cache = VectorCache(cache_dir, namespace=vectorizer.fingerprint)
    rng = np.random.default_rng(SEED)
    keys, stored = [], []
    for f in range(files):
        path = folder / f"long{f:03d}.wav"
        noise = (rng.standard_normal(int(8000 * per_file * 0.1)) * 1000).astype(np.int16)
        soundfile.write(str(path), noise, 8000, subtype="PCM_16")
        digest = cache.file_hash(path)
        for s in range(per_file):
            start, end = round(s * 0.1, 1), round(s * 0.1 + 0.1, 1)
            keys.append(f"{path}#t={start:g},{end:g}")
            stored.append(cache_key(digest, start, end, None))
    keys, stored = keys[:count], stored[:count]
    vectors = rng.standard_normal((count, vectorizer.dim), dtype=np.float32)
    cache.put_many(zip(stored, vectors))
    cache.close()
    np.save(tmp / "ranges.npy", vectors)
    return keys, cache_dir, tmp / "ranges.npy"


def bench_warm_ranges(count: int, tmp: Path) -> None:
    """(c') the same for ranges of long recordings: many clips, few files."""
    keys, cache_dir, npy = fill_ranges(count, tmp)
    listing = write_list(tmp / "ranges.txt", keys)
    loads = [run_child("warm", paths=listing, cache_dir=str(cache_dir), npy=str(npy))
             for _ in range(2)]
    print(f"\n== (c') warm cache: {count} ranges (#t= keys) of 100 long WAV files, all cache "
          "hits; fresh processes, imports counted")
    for name, result in (("first load: SQLite (parses every key), writes the snapshot",
                          loads[0]), ("again: snapshot (one look at each file)", loads[1])):
        print(f"{name:60s} {result['seconds']:8.3f} s {result['seconds'] / result['npy_s']:6.0f}"
              " x np.load")
    print(f"target < {TARGET_WARM_S:g} s (loaded before): {loads[1]['seconds']:.2f} s "
          f"{'PASS' if loads[1]['seconds'] < TARGET_WARM_S else 'FAIL'}")


def knn_accuracy(train_x, train_y, test_x, test_y) -> float:
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(train_x)
    model = KNeighborsClassifier(n_neighbors=5, metric="cosine")
    model.fit(scaler.transform(train_x), train_y)
    return float((model.predict(scaler.transform(test_x)) == np.asarray(test_y)).mean())


def bench_knn(throughput: dict, on_demo: bool, tmp: Path) -> None:
    """(d) kNN accuracy on the demo: train subset -> test subset."""
    from hover_audio.dataset.demo import load_dataset

    table = load_dataset().to_pandas()
    train, test = table[table["SUBSET"] == "train"], table[table["SUBSET"] == "test"]
    used = list(train["audio"]) + list(test["audio"])
    n_train = len(train)
    used_file = write_list(tmp / "knn_paths.txt", used)
    position = {path: i for i, path in enumerate(table["audio"])}
    rows_used = [position[path] for path in used]
    matrices = {}
    if on_demo and len(throughput["sample"]) == len(table):
        matrices["hover librosa mfcc32 mean (ref)"] = np.load(tmp / "hover.npy")[rows_used]
    else:
        run_child("hover", paths=used_file, warmup=used[0], out=str(tmp / "knn_hover.npy"))
        matrices["hover librosa mfcc32 mean (ref)"] = np.load(tmp / "knn_hover.npy")
    for i, (name, params) in enumerate(VARIANTS.items()):
        if not params and on_demo:
            matrices[name] = np.load(tmp / "ours.npy")[rows_used]
            continue
        out = tmp / f"knn_ours_{i}.npy"
        result = run_cold(tmp, f"kNN {name}", paths=used_file, params=params, out=str(out))
        if result["failures"]:
            print(f"WARNING: {name}: {result['failures']} failures: {result['report']}")
        matrices[name] = np.load(out)
    print(f"\n== (d) kNN accuracy on the demo: k=5, cosine, StandardScaler fit on train; "
          f"{n_train} train -> {len(test)} test clips, {table['true_label'].nunique()} classes")
    print(f"{'vectors':34s} {'dim':>4s} {'accuracy':>9s} {'- hover':>8s}")
    scores = {}
    for name, matrix in matrices.items():
        accuracy = knn_accuracy(matrix[:n_train], train["label"], matrix[n_train:], test["label"])
        scores[name] = accuracy
        reference = next(iter(scores.values()))
        print(f"{name:34s} {matrix.shape[1]:4d} {accuracy:9.3f} {accuracy - reference:+8.3f}")
    ours, hover = scores["ours default (mean,std)"], next(iter(scores.values()))
    print(f"target ours (default) >= hover: {ours:.3f} vs {hover:.3f} "
          f"{'PASS' if ours >= hover else 'FAIL'} (one test clip = {1 / len(test):.3f})")


def write_long_files(folder: Path) -> list[str]:
    """``LONG_FILES`` one-minute 44.1 kHz 16-bit stereo WAV files: tones, sweeps and noise."""
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    sr = 44100
    t = np.arange(int(LONG_SECONDS * sr)) / sr
    paths = []
    for i in range(LONG_FILES):
        base = 0.3 * np.sin(2 * np.pi * (110 + 40 * i) * t * (1 + 0.5 * t / LONG_SECONDS))
        left = base + 0.05 * rng.standard_normal(len(t))
        right = 0.7 * base + 0.05 * rng.standard_normal(len(t))
        path = folder / f"long_{i:02d}.wav"
        sf.write(path, np.stack([left, right], axis=1).astype(np.float32), sr, subtype="PCM_16")
        paths.append(str(path))
    return paths


def bench_long(quick: bool, tmp: Path) -> None:
    """(d) long files: seconds of audio vectorized per second of wall time, cold cache."""
    paths = write_long_files(tmp / "long")
    listing = write_list(tmp / "long.txt", paths)
    repeats = 1 if quick else REPEATS
    hover = median_run(repeats, lambda i: run_child(
        "hover", paths=listing, warmup=paths[0], out=str(tmp / "hover_long.npy")))
    ours = median_run(repeats, lambda i: run_cold(
        tmp, f"long all cores #{i}", paths=listing, out=str(tmp / "ours_long.npy")))
    warmed = median_run(repeats, lambda i: run_cold(
        tmp, f"long all cores warmed #{i}", paths=listing, out=str(tmp / "ours_long_w.npy"),
        warmup=paths[0]))
    audio = LONG_FILES * LONG_SECONDS
    print(f"\n== (d) {LONG_FILES} one-minute 44.1 kHz 16-bit stereo WAV files "
          f"({audio:.0f} s of audio), cold cache; median of {repeats}; hover after its "
          "warm-up call, ours with its imports counted, then after a one-clip warm-up")
    print(f"{'vectorizer':40s} {'s':>8s} {'x real time':>12s} {'x hover':>8s}")
    for name, result in (("hover librosa mfcc32 mean (ref)", hover),
                         ("ours MFCCVectorizer, all cores", ours),
                         ("ours MFCCVectorizer, all cores, warmed", warmed)):
        print(f"{name:40s} {result['seconds']:8.2f} {audio / result['seconds']:12.0f}"
              f" {hover['seconds'] / result['seconds']:8.2f}")
    for name, result in (("imports counted", ours), ("warmed like hover", warmed)):
        rate = audio / result["seconds"]
        print(f"target >= {TARGET_REALTIME:g}x real time, {name}: {rate:.0f}x "
              f"{'PASS' if rate >= TARGET_REALTIME else 'FAIL'}")


TALK_FORMATS = {  # suffix -> ffmpeg's codec options: what long recordings come in
    "m4a": ["-c:a", "aac", "-b:a", "64k"],
    "mp3": ["-c:a", "libmp3lame", "-q:a", "4"],
    "ogg": ["-c:a", "libvorbis", "-q:a", "4"],
    "opus": ["-c:a", "libopus", "-b:a", "48k"],
    "webm": ["-c:a", "libopus", "-b:a", "48k"],
    "mka": ["-c:a", "libvorbis", "-q:a", "4"],  # Vorbis in Matroska: still the program's
}


def write_talk(paths: list[str], path: Path, codec: list[str]) -> float:
    """The first 400 clips one after another as one continuous recording (their samples
    joined, then encoded by ffmpeg: 16 kHz mono; Opus: 48 kHz), like a long recording
    someone cuts into windows; returns its length in seconds. (Joined by ffmpeg's concat
    demuxer instead, the clips' rounded timestamps leave gaps of a sample here and there
    in the file's timestamps, which ranges, found by timestamps as ffmpeg finds them,
    follow and a whole decode does not.)"""
    import soundfile as sf

    joined = np.concatenate([sf.read(clip, dtype="float32")[0] for clip in paths[:400]])
    source = path.with_suffix(".src.wav")
    sf.write(str(source), joined, 16000, subtype="FLOAT")
    rate = "48000" if "libopus" in codec else "16000"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(source), "-ac", "1",
                    "-ar", rate, *codec, str(path)], check=True)
    source.unlink()
    return len(joined) / 16000


def bench_ranges(paths: list[str], quick: bool, tmp: Path) -> None:
    """(e) 5 s ranges of one long recording in each lossy format: ``decode`` against the
    ffmpeg program per range and libsndfile decoding from the start (the references: what
    read them before), each checked against a whole decode; then vectorized cold."""
    repeats = 1 if quick else REPEATS
    rows = []
    for suffix, codec in TALK_FORMATS.items():
        talk = tmp / f"talk.{suffix}"
        seconds = write_talk(paths, talk, codec)
        spans = [(float(a), float(min(a + 5, seconds))) for a in np.arange(0, seconds - 0.5, 5)]
        decoded = median_run(repeats, lambda i: {**run_child("ranges", path=str(talk),
                                                             spans=spans), "seconds": 0.0})
        keys = write_list(tmp / f"talk_{suffix}.txt", [f"{talk}#t={a:g},{b:g}" for a, b in spans])
        ours = median_run(repeats, lambda i: run_cold(
            tmp, f"{suffix} ranges all cores #{i}", paths=keys, out=str(tmp / "talk.npy")))
        rows.append((suffix, seconds, decoded, ours))
    print(f"\n== (e) {rows[0][2]['count']} ranges of 5 s of one {rows[0][1]:.0f} s recording "
          "(the demo clips end to end, 16 kHz mono; Opus 48 kHz) per format; warmed child, one "
          "range after another; 'off' = largest difference from the same slice of the file's "
          "whole decode (libsndfile's for mp3, ogg, opus; else PyAV's), from each range's "
          "first sample, and the share "
          "of samples off by > 1e-3; 'from start' = libsndfile reading from the file's start "
          "(what its lossy ranges in the first 2 minutes did; Ogg Vorbis ones still do); "
          "vectorized: cold cache, all "
          "cores, imports counted")
    print(f"{'format':6s} {'program s':>9s} {'from start s':>12s} {'ours s':>7s} {'x program':>9s}"
          f" {'program off':>18s} {'ours off':>18s} {'lengths':>8s} {'vectorized':>16s}")
    for suffix, seconds, d, ours in rows:
        start_s = f"{d['from start_s']:.2f}" if "from start_s" in d else "-"
        print(f"{suffix:6s} {d['program_s']:9.2f} {start_s:>12s} {d['ours_s']:7.2f}"
              f" {d['program_s'] / d['ours_s']:9.1f}"
              f" {d['program_max']:9.1e} {100 * d['program_share']:6.2f}%"
              f" {d['ours_max']:9.1e} {100 * d['ours_share']:6.2f}%"
              f" {d['program_lengths']:3d}/{d['ours_lengths']:<3d}"
              f" {ours['seconds']:5.2f} s {seconds / ours['seconds']:5.0f}x rt")
    print("lengths: ranges whose length is not the range's, program/ours. AAC's noise "
          "substitution is random, so AAC decoders started at other points differ in those "
          "bands; ffmpeg's MP3 decoder differs from libsndfile's (mpg123) by ~1e-6, its "
          "Opus decoder from libopus by up to ~0.5 (and by 1-2 samples on SILK speech), "
          "so ours reads Ogg Opus ranges with libopus; Vorbis in Matroska (mka) is still "
          "read by the program: its millisecond timestamps do not place Vorbis frames to "
          "the sample")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", help="audio folder (default: the demo clips)")
    parser.add_argument("--quick", action="store_true",
                        help=f"hover on {QUICK_SAMPLE} clips, {QUICK_WARM_COUNT} warm vectors")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "JSON"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, payload = args.child
        print(json.dumps(CHILDREN[mode](json.loads(payload))))
        return
    started = time.perf_counter()
    paths = clip_paths(args.folder)
    with tempfile.TemporaryDirectory(prefix="bench_vectorize_") as name:
        tmp = Path(name)
        machine_facts(run_child("facts")["blas"])
        throughput = bench_throughput(paths, args.quick, tmp)
        bench_long(args.quick, tmp)
        bench_ranges(paths, args.quick, tmp)
        bench_warm(args.quick, tmp)
        bench_knn(throughput, args.folder is None, tmp)
    if PROBLEMS:
        print("\n== problems seen (each failed attempt was retried on a fresh cache)")
        print("\n".join(PROBLEMS))
    print(f"\ntotal {time.perf_counter() - started:.0f} s"
          f"{' (--quick)' if args.quick else ''}")


if __name__ == "__main__":
    main()
