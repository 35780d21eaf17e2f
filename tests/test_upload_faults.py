"""Faults of search by an uploaded file, on real Bokeh documents (the server's order of
applying an upload: value, then filename; searches in the panel's worker threads).

- an upload that cannot be decoded (or fails otherwise) names the user's file, never
  the server's temporary copy;
- an upload cut short (fewer frames than its header says), or silent, is searched
  and the status notes it, as the command line notes such a clip;
- the search thread of an upload never opens or writes the on-disk vector cache (it
  memoized the hash of a temporary file deleted at once, and raced other writers).
"""
from __future__ import annotations

import base64
import html
import io
import os
import sqlite3
import tempfile
import threading
import time

import numpy as np
import pytest
import soundfile

from hover_audio.common.paths import default_cache_dir
from hover_audio.vectors import cache as vector_cache
from hover_audio.vectors import jobs
from hover_audio.vectors.contract import CallableVectorizer

from .test_explorer import synthetic
from .test_search_panel_faults import DIGITS, ServedPage

SEARCH_THREADS = "hover-audio-search"


def wav_bytes(samples: np.ndarray, sr: int) -> bytes:
    out = io.BytesIO()
    soundfile.write(out, samples, sr, format="WAV", subtype="PCM_16")
    return out.getvalue()


def cut_short(fraction: float = 0.5) -> tuple[bytes, float, float]:
    """A demo clip as a WAV file holding ``fraction`` of the frames its header says:
    ``(bytes, seconds held, seconds promised)``."""
    samples, sr = soundfile.read(DIGITS / "clip_0100.flac", dtype="float32")
    whole = wav_bytes(samples, sr)
    data_at = whole.index(b"data") + 8
    held = int(len(samples) * fraction)
    return whole[:data_at + 2 * held], held / sr, len(samples) / sr


def upload(page: ServedPage, data: bytes, name: str | None) -> None:
    """As the server applies a FileInput's message: the value first, then the filename."""
    control = page.annotator.search["upload"]
    control.set_from_json("value", base64.b64encode(data).decode("ascii"))
    if name is not None:
        control.set_from_json("filename", name)
        control.set_from_json("mime_type", "audio/wav")


def status(page: ServedPage) -> str:
    return html.unescape(page.annotator.status.text)


def wait_end(page: ServedPage) -> str:
    """Run the page's ticks until the upload's search ended (results, or its failure)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        page.run_ticks()
        text = status(page)
        if "result(s)" in text or "search failed" in text:
            return text
        time.sleep(0.05)
    raise AssertionError(f"the upload's search never ended: {status(page)!r}")


# ------------------------------------------------------------------ fault 1: names
@pytest.mark.parametrize("name", ["my recording.wav", "Track 18 (take 2).flac"])
def test_an_upload_that_cannot_be_decoded_names_the_users_file(digits_page_data, name):
    page = ServedPage(digits_page_data)
    upload(page, b"this is not audio, only text " * 64, name)
    text = wait_end(page)
    assert f"search failed: {name}: cannot decode" in text, text
    assert tempfile.gettempdir() not in text and "tmp" not in text, text
    assert len(page.annotator.search.results) == 0


def test_an_upload_without_a_filename_is_called_the_uploaded_file(digits_page_data):
    page = ServedPage(digits_page_data)
    upload(page, b"\x00\x01garbage" * 100, None)
    text = wait_end(page)
    assert "search failed: the uploaded file: cannot decode" in text, text
    assert "tmp" not in text, text


def test_an_empty_upload_names_the_users_file(digits_page_data):
    """An empty file's value is "": the browser sends it only where the input held
    something else; its name always comes, and the status says what is wrong."""
    page = ServedPage(digits_page_data)
    upload(page, b"", "nothing here.wav")
    assert wait_end(page) == ('<span style="color:#b00020">search failed: nothing here.wav: '
                              'empty file (0 bytes)</span>')


def test_a_callable_vectorizers_error_names_the_users_file():
    """A ``key -> vector`` function is given a temporary copy's path: its message says
    that path, and the status the user's file instead; the copy is removed."""
    seen = []

    def vectorize(key):
        seen.append(key)
        raise ValueError(f"{key}: not a clip this function reads")

    ds = synthetic(40)
    ds.vectorizer = CallableVectorizer(vectorize)
    page = ServedPage(ds)
    upload(page, b"RIFF0000WAVEfmt ", "bird call.ogg")
    text = wait_end(page)
    assert "search failed: bird call.ogg: not a clip this function reads" in text, text
    assert seen and seen[0] not in text and os.path.dirname(seen[0]) not in text
    assert seen[0].endswith(".ogg") and not os.path.exists(seen[0])


def test_a_callable_vectorizer_is_searched_by_its_copy():
    ds = synthetic(40)
    ds.vectorizer = CallableVectorizer(lambda key: ds.vectors[3] + 0.01)
    page = ServedPage(ds)
    page.annotator.search["threshold"].value = -1.0
    upload(page, b"RIFF0000WAVEfmt ", "near three.wav")
    text = wait_end(page)
    assert "40 result(s)" in text and "note" not in text, text  # (a new file: no row left out)
    assert page.annotator.search.results[0] == 3


# ------------------------------------------------------------------ fault 2: notes
def test_an_upload_cut_short_is_searched_and_noted(digits_page_data):
    data, held, promised = cut_short()
    page = ServedPage(digits_page_data)
    search = page.annotator.search
    search["threshold"].value = -1.0  # every score: 50 results
    upload(page, data, "half.wav")
    text = wait_end(page)
    assert "50 result(s)" in text, text
    assert (f"cut short: half.wav: holds {held:.3f} s of the {promised:.3f} s its header "
            "says") in text, text
    assert len(search.results) == 50
    search["top_k"].value = 7  # filtered again: the note stays with its results
    assert "7 result(s)" in status(page) and "cut short: half.wav" in status(page)


def test_a_silent_upload_is_searched_and_noted(digits_page_data):
    page = ServedPage(digits_page_data)
    upload(page, wav_bytes(np.zeros(8000, dtype=np.float32), 16000), "quiet.wav")
    text = wait_end(page)
    assert "result(s)" in text, text
    assert "silent: quiet.wav: silent (no sample reaches one 16-bit step)" in text, text


def test_a_whole_upload_has_no_note_and_the_clips_scores(digits_page_data):
    """The vector of the upload's bytes is the vector of the same file on disk."""
    page = ServedPage(digits_page_data)
    search = page.annotator.search
    search["threshold"].value = -1.0
    upload(page, (DIGITS / "clip_0100.flac").read_bytes(), "clip_0100.flac")
    text = wait_end(page)
    assert "50 result(s)" in text and "note" not in text, text
    index = page.annotator._search_index("overall")
    scores, nearest = index.search(str(DIGITS / "clip_0100.flac"), 50)
    np.testing.assert_array_equal(search.results, nearest)
    np.testing.assert_allclose(page.annotator.source.data["score"], scores, rtol=1e-5)


# ------------------------------------------------------------------ fault 3: the cache
def memoized_paths() -> list[str]:
    """The files whose content hashes the session's vector cache memoizes."""
    database = default_cache_dir() / vector_cache.DB_NAME
    with sqlite3.connect(database) as con:
        tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master")}
        paths = ([row[0] for row in con.execute("SELECT path FROM file_digests")]
                 if "file_digests" in tables else [])
    con.close()
    return paths


def test_an_uploads_search_never_touches_the_vector_cache(digits_page_data, monkeypatch):
    """The upload's thread opened the shared database (racing other processes' writers:
    a false "damaged" check moves the whole cache aside) and memoized the hash of a
    temporary file deleted at once."""
    touched = []
    open_cache = jobs.open_cache

    def watched(vectorizer):
        touched.append(threading.current_thread().name)
        return open_cache(vectorizer)

    monkeypatch.setattr(jobs, "open_cache", watched)
    data, _, _ = cut_short(0.75)
    page = ServedPage(digits_page_data)
    before = set(memoized_paths())  # (the suite shares the cache: others' files may be gone)
    for name, content in [("three quarters.wav", data),
                          ("clip.flac", (DIGITS / "clip_0101.flac").read_bytes())]:
        upload(page, content, name)
        assert "result(s)" in wait_end(page)
    assert not [name for name in touched if name.startswith(SEARCH_THREADS)], touched
    gone = [path for path in set(memoized_paths()) - before if not os.path.exists(path)]
    assert not gone, gone  # (the temporary copies, memoized and deleted)


def test_another_aspect_searches_the_upload_again(digits_page_data):
    """After an upload, choosing another aspect searches that file again in it (kept as
    its vector, not its bytes), with its note; the scores are the new aspect's."""
    page = ServedPage(digits_page_data)
    data, held, promised = cut_short()
    upload(page, data, "my take.wav")
    first = wait_end(page)
    assert "(overall)" in first and "cut short" in first, first
    overall = page.annotator.search._ranking.scores.copy()
    page.annotator.search.aspect.value = "timbre"
    deadline = time.monotonic() + 60
    while "(timbre)" not in status(page) and time.monotonic() < deadline:
        page.run_ticks()
        time.sleep(0.05)
    text = status(page)
    assert "(timbre)" in text and "cut short" in text and "my take.wav" in text, text
    timbre = page.annotator.search._ranking.scores
    assert not np.allclose(overall, timbre, equal_nan=True)
    index = digits_page_data.similarity_index(aspect="timbre")
    expected, _ = index.search(page.annotator.search._last_query.vector, 5)
    np.testing.assert_allclose(timbre, expected, rtol=1e-5, equal_nan=True)
