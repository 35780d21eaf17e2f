"""Worker processes kept between batches in a threaded process (a kernel, the server)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ProcessPoolExecutor

import multiprocessing

import numpy as np
import soundfile

from hover_audio.vectors.kept_pool import KeptPool

SR = 16000

PID_VECTORIZER = textwrap.dedent("""
    import os
    import numpy as np
    from hover_audio.vectors.mfcc import MFCCVectorizer

    class PidVectorizer(MFCCVectorizer):  # each vector: its MFCC mean, then the worker's pid
        @property
        def dim(self):
            return 2

        def vector(self, samples, sr):
            return np.array([super().vector(samples, sr)[0], os.getpid()], dtype=np.float64)
""")
SCRIPT = textwrap.dedent("""
    import json, os, signal, sys, threading, time
    from hover_audio.vectors import runners
    from pid_vectorizer import PidVectorizer

    def batch(keys):
        matrix, report = PidVectorizer(cache=False).transform(keys, workers=2, progress=False)
        return matrix, report

    if __name__ == "__main__":
        threading.Thread(target=threading.Event().wait, daemon=True).start()  # as a kernel
        runners._KEPT.idle_seconds = float(sys.argv[1])
        keys = sys.argv[2:]
        half = len(keys) // 2
        first, report1 = batch(keys[:half])
        started = runners._KEPT.pids
        second, report2 = batch(keys[half:])
        kept = runners._KEPT.alive and runners._KEPT.pids == started
        pids = sorted(set(second[:, 1].astype(int)))
        pool = runners._KEPT._pool
        os.kill(pids[0], signal.SIGKILL)  # a worker dies between batches
        deadline = time.monotonic() + 30
        while not getattr(pool, "_broken", False) and time.monotonic() < deadline:
            time.sleep(0.02)  # until the pool has seen it
        third, report3 = batch(keys)
        waited = 0.0
        while runners._KEPT.alive and waited < 30:
            time.sleep(0.05)
            waited += 0.05
        print(json.dumps({
            "method": runners._start_method(), "kept": kept, "expired": not runners._KEPT.alive,
            "started": started, "pids": [sorted(set(m[:, 1].astype(int).tolist())) for m in (first, second, third)],
            "failures": [len(r) for r in (report1, report2, report3)],
            "values": [first[:, 0].tolist() + second[:, 0].tolist(), third[:, 0].tolist()]}))
""")


def tone(freq: float, seconds: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_a_threaded_process_keeps_its_workers_for_the_next_batch(tmp_path):
    """The second batch of a kernel runs on the first one's workers (no 20-40 ms pool
    start); a worker killed between batches costs nothing but a new pool, every clip is
    still computed right; unused workers exit after the idle time."""
    (tmp_path / "pid_vectorizer.py").write_text(PID_VECTORIZER)
    (tmp_path / "script.py").write_text(SCRIPT)
    keys = []
    for i in range(48):
        path = tmp_path / f"t{i}.wav"
        soundfile.write(path, tone(200 + 15 * i), SR)
        keys.append(str(path))
    done = subprocess.run([sys.executable, "script.py", "1.0", *keys], cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(tmp_path)},
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["method"] == "forkserver"
    first, second, third = result["pids"]
    started = result["started"]
    assert len(started) == 2 and set(first) <= set(started)
    assert result["kept"] and set(second) <= set(started), "the second batch started new workers"
    assert not set(third) & set(second), "a pool with a dead worker was used again"
    assert result["failures"] == [0, 0, 0]
    np.testing.assert_allclose(result["values"][1], result["values"][0], rtol=1e-6)
    assert result["expired"], "idle workers did not exit"


def _pid() -> int:
    return os.getpid()


def _make(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver"))


def test_a_batch_of_another_size_gets_its_own_pool_while_the_kept_one_is_busy():
    kept = KeptPool(_make, idle_seconds=60)
    try:
        two = kept.lease(2)
        one = kept.lease(1)  # the kept pool (2 workers) is in use: a one-off pool
        assert one.pool is not two.pool
        pid = one.pool.submit(_pid).result(timeout=60)
        one.done()
        again = kept.lease(2)
        assert again.pool is two.pool  # still kept for its size
        again.done()
        two.done()
        replaced = kept.lease(1)  # unused now: replaced by a pool of the size asked for
        assert replaced.pool is not two.pool
        assert replaced.pool.submit(_pid).result(timeout=60) not in (pid, os.getpid())
        replaced.done()
    finally:
        kept.shutdown()
    assert not kept.alive


def test_a_broken_kept_pool_is_replaced():
    kept = KeptPool(_make, idle_seconds=60)
    try:
        lease = kept.lease(1)
        pid = lease.pool.submit(_pid).result(timeout=60)
        lease.done()
        os.kill(pid, 9)
        deadline = time.monotonic() + 30
        while not getattr(lease.pool, "_broken", False) and time.monotonic() < deadline:
            time.sleep(0.02)
        again = kept.lease(1)
        assert again.pool is not lease.pool
        assert again.pool.submit(_pid).result(timeout=60) != pid
        again.done()
    finally:
        kept.shutdown()
