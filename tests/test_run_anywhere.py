"""Vectorizing works wherever Python runs: scripts without a main guard, ``python -c``,
threads, and processes where worker processes cannot start at all.

Each case runs a real child interpreter on the embedded demo (real decoding, all
cores); before the fix, an unguarded script re-ran itself in every worker and
every clip came back failed after minutes.
"""
from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import hover_audio.vectors.runners as runners
from hover_audio import AudioDataset, MFCCVectorizer
from hover_audio.dataset.demo import demo_table

README = Path(__file__).resolve().parents[1] / "README.md"


def run_python(args: list[str], cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def readme_script() -> str:
    """The README's "Use from Python" block that vectorizes the demo."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    found = [block for block in blocks if "load_dataset()" in block and "vectorize(" in block]
    assert found, "the README lost its runnable demo snippet"
    return found[0]


def test_the_readme_snippet_runs_as_an_unguarded_script(tmp_path):
    script = tmp_path / "label_demo.py"
    script.write_text(readme_script() + '\nprint("FAILED", int(report["kind"].ne("truncated").sum()))\n')
    done = run_python([str(script)], tmp_path)
    assert "FAILED 0" in done.stdout, done.stdout[-2000:]


THREADED = textwrap.dedent("""
    import threading, time, warnings
    # a live thread, as in a server or a notebook kernel: workers cannot be forked,
    # so they start by forkserver/spawn, which import this (unguarded) script again
    threading.Thread(target=time.sleep, args=(120,), daemon=True).start()
    from hover_audio.dataset.demo import load_dataset
    from hover_audio import MFCCVectorizer

    class Mine(MFCCVectorizer):  # defined in the script: workers could not unpickle it
        pass

    ds = load_dataset()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mine = ds.vectorize(Mine(cache=False), progress=False)
    ours = ds.vectorize(MFCCVectorizer(cache=False), progress=False)
    print("MINE", len(mine), "OURS", len(ours), "WARNED", sum("this process" in str(w.message)
                                                            for w in caught))
""")


def test_an_unguarded_script_with_threads_vectorizes_everything(tmp_path):
    script = tmp_path / "threaded.py"
    script.write_text(THREADED)
    done = run_python([str(script)], tmp_path)
    assert "MINE 0 OURS 0 WARNED 1" in done.stdout, done.stdout[-2000:] + done.stderr[-2000:]


def test_python_dash_c_and_a_thread(tmp_path):
    code = textwrap.dedent("""
        import threading
        from hover_audio.dataset.demo import load_dataset
        ds = load_dataset()
        result = {}
        thread = threading.Thread(target=lambda: result.update(r=ds.vectorize(progress=False)))
        thread.start(); thread.join()
        print("FROM A THREAD", len(result["r"]), int(__import__("numpy").isfinite(ds.vectors).all()))
    """)
    done = run_python(["-c", code], tmp_path)
    assert "FROM A THREAD 0 1" in done.stdout, done.stdout[-2000:] + done.stderr[-2000:]


def test_when_workers_cannot_start_no_clip_is_reported_failed(monkeypatch, tmp_path):
    def cannot_start(*scan):
        raise OSError("no processes here")

    monkeypatch.setattr(runners, "pin_threads", cannot_start)
    monkeypatch.setattr(runners, "_start_method", lambda: "fork")  # the patch reaches workers
    monkeypatch.setattr(runners, "_WARNED", set())
    keys = list(demo_table()["audio"][:40])
    ds = AudioDataset.from_pandas(pd.DataFrame({"audio": keys}))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = ds.vectorize(MFCCVectorizer(cache=False), workers=2, progress=False)
    assert report.empty and np.isfinite(ds.vectors).all()
    assert any("cannot start here" in str(item.message) for item in caught)


def test_a_crashing_clip_is_still_reported_as_a_crash(monkeypatch):
    """The fallback must not hide real worker crashes: a pool that works is not 'broken'."""
    assert runners._pool_works()
