"""Search by an uploaded file in a real browser: what the status line says of the file.

Headless Chromium chooses a file in the page's file input; the real ``hover-audio
serve`` process decodes it and the test polls the status line it sends back:

- a file that cannot be decoded, or an empty one, is named as the user named it (never
  the server's temporary copy) with what is wrong;
- a file cut short (fewer frames than its header says), or silent, is searched, and
  the status notes it as the command line notes such a clip;
- nothing of an upload is memoized in the server's vector cache.
"""
from __future__ import annotations

import io
import re
import sqlite3

import numpy as np
import soundfile

from .conftest import DIGITS
from .test_annotator import open_app, status_text

ENDED = """() => [...Bokeh.documents[0].all_models].some((m) => typeof m.text === 'string'
    && m.text.startsWith('<span style="color') && /result\\(s\\)|search failed/.test(m.text))"""
RESULTS = re.compile(r"(\d+) result\(s\)")


def wav_bytes(samples: np.ndarray, sr: int) -> bytes:
    out = io.BytesIO()
    soundfile.write(out, samples, sr, format="WAV", subtype="PCM_16")
    return out.getvalue()


def choose(page, path) -> str:
    """Upload ``path`` through the page's file input; the status once its search ended."""
    page.locator("input[type=file]").set_input_files(str(path))
    page.wait_for_function(ENDED, timeout=30_000)
    return status_text(page)


def test_an_upload_that_cannot_be_decoded_names_the_users_file(page, server, tmp_path):
    chosen = tmp_path / "my recording.wav"
    chosen.write_bytes(b"this is not audio, only text " * 64)
    open_app(page, server.url)
    text = choose(page, chosen)
    assert "search failed: my recording.wav: cannot decode" in text, text
    assert "/tmp" not in text and str(tmp_path) not in text, text


def test_an_upload_cut_short_is_searched_and_noted(page, server, tmp_path):
    samples, sr = soundfile.read(DIGITS / "clip_0100.flac", dtype="float32")
    whole = wav_bytes(samples, sr)
    held = len(samples) // 2
    chosen = tmp_path / "half take.wav"
    chosen.write_bytes(whole[:whole.index(b"data") + 8 + 2 * held])
    open_app(page, server.url)
    text = choose(page, chosen)
    assert RESULTS.search(text) and int(RESULTS.search(text).group(1)) > 0, text
    assert (f"cut short: half take.wav: holds {held / sr:.3f} s of the "
            f"{len(samples) / sr:.3f} s its header says") in text, text


def test_a_silent_upload_is_searched_and_noted(page, server, tmp_path):
    chosen = tmp_path / "quiet room.wav"
    chosen.write_bytes(wav_bytes(np.zeros(8000, dtype=np.float32), 16000))
    open_app(page, server.url)
    text = choose(page, chosen)
    assert RESULTS.search(text), text
    assert "silent: quiet room.wav: silent (no sample reaches one 16-bit step)" in text, text


def test_an_upload_leaves_nothing_in_the_servers_vector_cache(page, server, tmp_path):
    """The server memoized the hash of each upload's temporary copy, a file deleted as
    soon as it was read, from a search thread."""
    chosen = tmp_path / "clip copy.flac"
    chosen.write_bytes((DIGITS / "clip_0101.flac").read_bytes())

    def memoized() -> set:  # (the cache is shared with the suite's other servers)
        with sqlite3.connect(server.cache / "vectors.sqlite3") as con:
            tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master")}
            paths = ({row[0] for row in con.execute("SELECT path FROM file_digests")}
                     if "file_digests" in tables else set())
        con.close()
        return paths

    open_app(page, server.url)
    before = memoized()
    assert RESULTS.search(choose(page, chosen))
    added = memoized() - before
    assert all(str(DIGITS) in path or str(server.target.parent) in path
               for path in added), sorted(added)



def test_an_empty_upload_names_the_users_file(page, server, tmp_path):
    """An empty file's value ("") is the cleared input's: only its name reached the
    server, and nothing was said. Chosen twice, it is said twice."""
    chosen = tmp_path / "empty take.wav"
    chosen.write_bytes(b"")
    open_app(page, server.url)
    assert choose(page, chosen) == "search failed: empty take.wav: empty file (0 bytes)"
    page.evaluate("""() => [...Bokeh.documents[0].all_models].filter((m) =>
        typeof m.text === 'string' && m.text.startsWith('<span style="color'))
        .forEach((m) => { m.text = '<span style="color:#000">-</span>'; })""")
    assert choose(page, chosen) == "search failed: empty take.wav: empty file (0 bytes)"
