"""Native decoders' notes on stderr (libmpg123's "Xing stream size off ...") are said
once per process, not once per clip. Each case runs in a fresh Python process: what is
tested is that process's real file descriptor 2."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

NOTE = "Xing stream size off"


def run(code: str, tmp_path, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=240,
                          env={**os.environ, "HOVER_AUDIO_CACHE": str(tmp_path / "cache")})
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def cut_mp3s(tmp_path_factory) -> list[str]:
    """Eight MP3s cut short after encoding (their Xing header counts more bytes than
    they have), each cut elsewhere so that no two share a cache entry."""
    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is missing: `make system-deps-test` installs it")
    folder = tmp_path_factory.mktemp("cut")
    whole = folder / "whole.mp3"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "sine=frequency=440:duration=5", "-c:a", "libmp3lame", "-q:a", "4",
                    str(whole)], check=True, timeout=60)
    data = whole.read_bytes()
    paths = []
    for number in range(8):
        path = folder / f"cut {number}.mp3"
        path.write_bytes(data[:len(data) // 2 + 500 * number])
        paths.append(str(path))
    return paths


def test_the_cut_files_make_the_decoder_speak_once_per_decode(cut_mp3s, tmp_path):
    """What the fix is for: decoded plainly, every one of them prints the note."""
    done = run("""
        import sys
        from hover_audio.audio.decode import decode
        for path in sys.argv[1:]:
            decode(path)
        """, tmp_path, *cut_mp3s)
    assert done.stderr.count(NOTE) == len(cut_mp3s)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_batch_says_each_note_once_per_process(cut_mp3s, tmp_path, workers):
    done = run("""
        import json, sys
        import numpy as np
        from hover_audio.vectors.mfcc import MFCCVectorizer
        # with ranges, 40 jobs: two workers start (runners.SMALL_BATCH)
        keys = sys.argv[2:] + [f"{path}#t={at / 4},{at / 4 + 1}" for path in sys.argv[2:]
                               for at in range(4)]
        matrix, report = MFCCVectorizer().transform(keys, workers=int(sys.argv[1]),
                                                    progress=False)
        print(json.dumps({"failed": len(report), "finite": bool(np.isfinite(matrix).all())}))
        """, tmp_path, str(workers), *cut_mp3s)
    assert json.loads(done.stdout) == {"failed": 0, "finite": True}
    said = [line for line in done.stderr.splitlines() if NOTE in line]
    assert 1 <= len(said) <= workers, done.stderr  # not 40 (one per clip)
    assert all(line.startswith("hover-audio: ") and "cut " in line
               and line.endswith("(said once per process)") for line in said)


def test_notes_are_caught_only_while_this_thread_is_alone(tmp_path):
    done = run("""
        import os, sys, threading
        from hover_audio.audio.native_notes import caught
        os.write(2, b"before\\n")
        for clip in ("a.wav", "b.wav"):
            with caught(clip):
                os.write(2, b"note one\\nnote two\\n")
        os.write(2, b"after\\n")  # stderr is back where it was
        stop = threading.Event()
        other = threading.Thread(target=stop.wait)
        other.start()
        with caught("c.wav"):  # another thread could be writing: left alone
            os.write(2, b"note one\\n")
        stop.set()
        other.join()
        """, tmp_path)
    assert done.stderr.splitlines() == [
        "before",
        "hover-audio: a.wav: note one (said once per process)",
        "hover-audio: a.wav: note two (said once per process)",
        "after",
        "note one",
    ]
