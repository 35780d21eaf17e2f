"""Peak memory of vectorizing 100,000 clips with a cold cache, all cores.

Usage: ``python benchmarks/bench_memory.py [--clips 100000]``

Writes ``--clips`` distinct short WAV files (0.25 s of 16 kHz 16-bit noise each, so
every file is a cache miss), then runs ``MFCCVectorizer().transform(paths)`` on all
cores in a fresh child process while this process samples the memory of the
child and its pool workers every 50 ms: the sum of their RSS (counts pages the
workers share with the parent once per process, so it over-states) and of their
PSS (shared pages split between the processes sharing them: the real footprint).

References measured in the same run: a fresh Python process that imports numpy
and the package (its RSS), and the size of the result (``clips x dim`` float32).
Target (issue 13): peak < 2 GB for 100,000 clips. Needs psutil (installed with the
test extra's Bokeh/Jupyter stack; ``pip install psutil`` otherwise).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TARGET_MB = 2048.0
SECONDS, RATE = 0.25, 16000

CHILD = """
import json, sys, time
from hover_audio.vectors.mfcc import MFCCVectorizer
paths = open(sys.argv[1]).read().split("\\n")
start = time.perf_counter()
matrix, report = MFCCVectorizer(cache_dir=sys.argv[2]).transform(paths, progress=False)
print(json.dumps({"seconds": time.perf_counter() - start, "failures": len(report),
                  "nan_rows": int(__import__("numpy").isnan(matrix).any(axis=1).sum()),
                  "shape": list(matrix.shape)}))
"""

BASELINE = """
import json, resource, numpy, hover_audio.vectors.mfcc
print(json.dumps({"rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def write_clips(folder: Path, count: int) -> list[str]:
    import soundfile

    rng = np.random.default_rng(0)
    paths = []
    frames = int(SECONDS * RATE)
    for i in range(count):
        sub = folder / f"{i // 1000:03d}"
        if i % 1000 == 0:
            sub.mkdir(parents=True)
        path = sub / f"clip_{i:06d}.wav"
        noise = (rng.standard_normal(frames) * 3000).astype(np.int16)
        soundfile.write(str(path), noise, RATE, subtype="PCM_16")
        paths.append(str(path))
    return paths


def tree_memory(pid: int) -> tuple[float, float]:
    """(sum of RSS, sum of PSS) in MB of ``pid`` and its descendants."""
    import psutil

    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0, 0.0
    rss = pss = 0.0
    for process in processes:
        try:
            info = process.memory_full_info()
        except psutil.Error:
            continue
        rss += info.rss / 2**20
        pss += getattr(info, "pss", info.rss) / 2**20
    return rss, pss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        tmp = Path(tmp)
        env = {**os.environ, "HOVER_AUDIO_CACHE": str(tmp / "cache"),
               "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
        start = time.perf_counter()
        paths = write_clips(tmp / "clips", args.clips)
        (tmp / "paths.txt").write_text("\n".join(paths))
        print(f"{args.clips} distinct {SECONDS} s WAV files written in "
              f"{time.perf_counter() - start:.1f} s")
        baseline = json.loads(subprocess.run(
            [sys.executable, "-c", BASELINE], env=env, capture_output=True, text=True,
            check=True).stdout)
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp / "paths.txt"),
                                  str(tmp / "vectors")], env=env, stdout=subprocess.PIPE,
                                 text=True)
        peak_rss = peak_pss = 0.0
        while child.poll() is None:
            rss, pss = tree_memory(child.pid)
            peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
            time.sleep(0.05)
        result = json.loads(child.stdout.read().strip().splitlines()[-1])
        assert child.returncode == 0 and result["failures"] == 0 and result["nan_rows"] == 0
        matrix_mb = result["shape"][0] * result["shape"][1] * 4 / 2**20
        print(f"vectorized in {result['seconds']:.1f} s "
              f"({args.clips / result['seconds']:.0f} clips/s), no failures")
        print(f"{'memory':48s} {'MB':>8s} {'x baseline':>10s}")
        for name, value in (("baseline: python + numpy + hover_audio (RSS)", baseline["rss_mb"]),
                            ("the result matrix (clips x dim float32)", matrix_mb),
                            ("peak, child + workers, sum of RSS", peak_rss),
                            ("peak, child + workers, sum of PSS", peak_pss)):
            print(f"{name:48s} {value:8.0f} {value / baseline['rss_mb']:10.1f}")
        verdict = "PASS" if peak_pss < TARGET_MB else "FAIL"
        print(f"target peak < {TARGET_MB:.0f} MB for {args.clips} clips: "
              f"{peak_pss:.0f} MB (PSS; RSS sum {peak_rss:.0f} MB) {verdict}")


if __name__ == "__main__":
    main()
