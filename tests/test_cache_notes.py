"""Notes (a file cut short, a silent clip) are kept with the cached vector: a warm run
reports exactly what the cold run did, by every way a warm vector is found (the bulk
cache read, a job's own look-up, worker processes, the snapshot, the command line).
A cache of the layout before notes opens with its vectors and simply has none."""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile

from hover_audio import AudioDataset
from hover_audio.app.cli import main
from hover_audio.vectors import jobs, snapshot
from hover_audio.vectors.batch import NOTE_KINDS, note_lines
from hover_audio.vectors.cache import DB_NAME, VectorCache
from hover_audio.vectors.mfcc import MFCCVectorizer

SR = 16000


def tone(freq: float, seconds: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return 0.3 * np.sin(2 * np.pi * freq * t)


def write_clips(folder: Path, count: int = 6) -> dict[str, str]:
    """``count`` tones, a WAV cut short (half its bytes: a download cut short) and a
    silent clip, as ``{name: path}``."""
    folder.mkdir(parents=True, exist_ok=True)
    clips = {}
    for i in range(count):
        clips[f"tone{i}"] = str(folder / f"tone{i:02d}.wav")
        soundfile.write(clips[f"tone{i}"], tone(300 + 150 * i), SR, subtype="PCM_16")
    whole = soundfile.info(clips["tone0"])
    data = Path(clips["tone0"]).read_bytes()
    clips["cut"] = str(folder / "cut.wav")
    Path(clips["cut"]).write_bytes(data[:len(data) // 2])
    assert whole.frames == int(0.5 * SR)
    clips["silent"] = str(folder / "silent.wav")
    soundfile.write(clips["silent"], np.zeros(SR // 2), SR, subtype="PCM_16")
    return clips


def notes_of(report: pd.DataFrame) -> list[tuple]:
    """The report's notes as ``(row, key, kind, message)``, in row order."""
    rows = report[report["kind"].isin(NOTE_KINDS)]
    return [tuple(row) for row in rows[["row", "key", "kind", "message"]].itertuples(index=False)]


@pytest.fixture
def no_decoding():
    """Within the block, decoding a clip fails the test (a warm run decodes nothing)."""
    class Guard:
        def __enter__(self):
            def refuse(*args, **kwargs):
                raise AssertionError(f"decoded on a warm run: {args[0]}")

            self.patch = pytest.MonkeyPatch()
            self.patch.setattr(jobs, "decode", refuse)

        def __exit__(self, *exc):
            self.patch.undo()

    return Guard()


def touch(path: str) -> None:
    """A new mtime, the same content: the file-hash memo no longer answers for it, so the
    clip goes through a job (hashed again, then found in the cache)."""
    info = os.stat(path)
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 10**9))


def expected_notes(report: pd.DataFrame, clips: dict) -> None:
    found = {(key, kind) for _, key, kind, _ in notes_of(report)}
    assert found == {(clips["cut"], "cut short"), (clips["silent"], "silent")}
    message = dict(((key, kind), text) for _, key, kind, text in notes_of(report))
    assert message[(clips["cut"], "cut short")].startswith(f"{clips['cut']}: holds 0.2")
    assert "of the 0.500 s its header says" in message[(clips["cut"], "cut short")]


def test_the_dataset_reports_the_same_notes_cold_and_warm(tmp_path, no_decoding):
    clips = write_clips(tmp_path / "clips")
    vectorizer = MFCCVectorizer(cache_dir=tmp_path / "cache")
    table = pd.DataFrame({"audio": list(clips.values())})
    cold_ds = AudioDataset.from_pandas(table)
    cold = cold_ds.vectorize(vectorizer, workers=1, progress=False)
    expected_notes(cold, clips)
    assert not cold_ds.column("vector_error")[np.isfinite(cold_ds.vectors).all(axis=1)].any()
    with no_decoding:  # the bulk read of the cache
        warm_ds = AudioDataset.from_pandas(table)
        warm = warm_ds.vectorize(MFCCVectorizer(cache_dir=tmp_path / "cache"), workers=1,
                                 progress=False)
    assert notes_of(warm) == notes_of(cold)
    assert note_lines(warm) == note_lines(cold)
    np.testing.assert_array_equal(warm_ds.vectors, cold_ds.vectors)


@pytest.mark.parametrize("workers", [1, 2])
def test_clips_looked_up_by_their_jobs_report_their_notes(tmp_path, workers, no_decoding):
    """Files whose hash memo is stale are hashed again by their job (in this process or in
    worker processes) and found in the cache there, with their notes."""
    clips = write_clips(tmp_path / "clips", count=20)  # enough to start worker processes
    keys = list(clips.values())
    vectorizer = MFCCVectorizer(cache_dir=tmp_path / "cache")
    cold_matrix, cold = vectorizer.transform(keys, workers=workers, progress=False)
    expected_notes(cold, clips)
    for key in keys:
        touch(key)
    if workers == 1:
        with no_decoding:
            matrix, warm = vectorizer.transform(keys, workers=1, progress=False)
    else:  # (decoding in a worker cannot be watched from here)
        matrix, warm = vectorizer.transform(keys, workers=workers, progress=False)
    assert notes_of(warm) == notes_of(cold)
    np.testing.assert_array_equal(matrix, cold_matrix)
    touch(clips["cut"])  # one clip alone: its own look-up
    with no_decoding:
        _, alone = vectorizer.transform([clips["cut"]], workers=1, progress=False)
    assert notes_of(alone) == [(0, *notes_of(cold)[0][1:])] and notes_of(cold)[0][2] == "cut short"


def test_ranges_keep_their_notes_too(tmp_path, no_decoding):
    clips = write_clips(tmp_path / "clips", count=1)
    keys = [f"{clips['silent']}#t=0.1,0.3", f"{clips['tone0']}#t=0,0.2"]
    vectorizer = MFCCVectorizer(cache_dir=tmp_path / "cache")
    _, cold = vectorizer.transform(keys, workers=1, progress=False)
    assert [kind for _, _, kind, _ in notes_of(cold)] == ["silent"]
    with no_decoding:
        _, warm = vectorizer.transform(keys, workers=1, progress=False)
    assert notes_of(warm) == notes_of(cold)


def test_a_large_batch_reports_its_notes_from_its_snapshot(tmp_path, monkeypatch, no_decoding):
    monkeypatch.setattr(snapshot, "MIN_ROWS", 5)
    found, real_lookup = [], snapshot.lookup
    monkeypatch.setattr(snapshot, "lookup", lambda *a, **k: found.append(real_lookup(*a, **k))
                        or found[-1])
    clips = write_clips(tmp_path / "clips")
    keys = list(clips.values())
    vectorizer = MFCCVectorizer(cache_dir=tmp_path / "cache")
    cold_matrix, cold = vectorizer.transform(keys, workers=1, progress=False)
    expected_notes(cold, clips)
    with no_decoding:
        matrix, warm = vectorizer.transform(keys, workers=1, progress=False)
        assert found[-1].whole  # all of it from the snapshot
        assert notes_of(warm) == notes_of(cold)
        np.testing.assert_array_equal(matrix, cold_matrix)
        # another order: row by row from the snapshot
        order = keys[::-1]
        _, reordered = vectorizer.transform(order, workers=1, progress=False)
        assert not found[-1].whole and len(found[-1].positions) == len(keys)
    assert sorted(notes_of(reordered)) == sorted(
        (len(keys) - 1 - row, key, kind, message) for row, key, kind, message in notes_of(cold))
    # a new clip: the snapshot answers the others and is written again, notes and all
    extra = str(tmp_path / "clips" / "extra.wav")
    soundfile.write(extra, tone(2500), SR, subtype="PCM_16")
    _, partial = vectorizer.transform(keys + [extra], workers=1, progress=False)
    assert notes_of(partial) == notes_of(cold)
    with no_decoding:
        _, again = vectorizer.transform(keys + [extra], workers=1, progress=False)
    assert found[-1].whole and notes_of(again) == notes_of(cold)


def test_a_snapshot_written_before_notes_were_kept_is_not_trusted(tmp_path, monkeypatch):
    """A snapshot without notes (an older version's) would hide them: it is read as no
    snapshot, so the cache answers (with the notes) and a new snapshot is written."""
    monkeypatch.setattr(snapshot, "MIN_ROWS", 5)
    clips = write_clips(tmp_path / "clips")
    keys = list(clips.values())
    vectorizer = MFCCVectorizer(cache_dir=tmp_path / "cache")
    _, cold = vectorizer.transform(keys, workers=1, progress=False)
    index = next((tmp_path / "cache" / snapshot.FOLDER).glob("*.npz"))
    with np.load(index) as stored:
        members = {name: stored[name] for name in stored.files if name != "notes"}
    with open(index, "wb") as handle:
        np.savez(handle, **members)
    _, warm = vectorizer.transform(keys, workers=1, progress=False)
    assert notes_of(warm) == notes_of(cold)
    with np.load(index) as stored:
        assert "notes" in stored.files


def test_the_command_line_prints_the_same_notes_cold_warm_and_from_the_workspace(
        tmp_path, capsys):
    clips = write_clips(tmp_path / "sounds")
    args = ["--cache-dir", str(tmp_path / "cache"), "--quiet", "--workers", "1"]

    def printed_notes(argv) -> list[str]:
        assert main(argv) == 0
        return [line.strip() for line in capsys.readouterr().out.splitlines()
                if line.strip().startswith("note:")]

    cold = printed_notes(["vectorize", str(tmp_path / "sounds"), "--workspace",
                          str(tmp_path / "ws"), *args])
    assert len(cold) == 2
    assert any(line.startswith(f"note: cut short: {clips['cut']}: holds 0.2") for line in cold)
    assert any(line.startswith(f"note: silent: {clips['silent']}: silent") for line in cold)
    assert printed_notes(["vectorize", str(tmp_path / "sounds"), *args]) == cold  # warm
    assert printed_notes(["vectorize", str(tmp_path / "ws"), *args]) == cold  # reopened


def test_a_cache_of_the_layout_before_notes_opens_with_its_vectors(tmp_path, no_decoding):
    """The layout before notes: vector_rows and file_digests, no vector_notes. It opens
    (the table is added), every vector is still found (nothing decoded), the vectors it
    held have no note, and a version that does not know notes can still write to it."""
    clips = write_clips(tmp_path / "clips")
    keys = list(clips.values())
    folder = tmp_path / "cache"
    vectorizer = MFCCVectorizer(cache_dir=folder)
    cold_matrix, _ = vectorizer.transform(keys, workers=1, progress=False)
    jobs._CACHES.clear()  # (closed by the garbage collector below: no handle left open)
    import gc

    gc.collect()
    with sqlite3.connect(folder / DB_NAME) as con:  # back to the old layout
        con.execute("DROP TABLE vector_notes")
        tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master")}
        stored = con.execute("SELECT count(*) FROM vector_rows").fetchone()[0]
    con.close()
    assert "vector_notes" not in tables and stored == len(keys)
    with no_decoding:
        matrix, report = MFCCVectorizer(cache_dir=folder).transform(keys, workers=1,
                                                                    progress=False)
    np.testing.assert_array_equal(matrix, cold_matrix)
    assert report.empty  # old rows simply have no notes
    cache = VectorCache(folder, vectorizer.fingerprint)
    assert len(cache) == len(keys)
    with sqlite3.connect(folder / DB_NAME) as con:  # as an older version writes
        con.execute("INSERT OR REPLACE INTO vector_rows VALUES (?, ?, ?, ?)",
                    (vectorizer.fingerprint, "old-writer", 2, np.ones(2, np.float32).tobytes()))
    con.close()
    np.testing.assert_array_equal(cache.get("old-writer"), np.ones(2, np.float32))
    cache.store([("new", np.zeros(2))], notes=[("new", "silent", "silent here")])
    assert cache.get_many(["new", "old-writer"], with_notes=True)[1] == {
        "new": ("silent", "silent here")}


def test_a_note_goes_with_its_vector(tmp_path):
    cache = VectorCache(tmp_path, "ns")
    cache.store([("a", np.ones(3)), ("b", np.zeros(3))], notes=[("a", "cut short", "holds 1 s")])
    vectors, notes = cache.get_many(["a", "b", "absent"], with_notes=True)
    assert set(vectors) == {"a", "b"} and notes == {"a": ("cut short", "holds 1 s")}
    found, matrix, notes = cache.get_matrix(["b", "a", "absent"], 3, with_notes=True)
    assert list(found) == [True, True, False] and notes == {"a": ("cut short", "holds 1 s")}
    assert cache.get_matrix(["a"], 4, with_notes=True)[2] == {}  # no vector, no note
    cache.put("a", np.full(3, 2.0))  # stored again without one: the old note is gone
    assert cache.get_many(["a"], with_notes=True)[1] == {}
    cache.store([("a", np.ones(3))], notes=[("a", "silent", "quiet")])
    assert VectorCache(tmp_path, "other").get_many(["a"], with_notes=True) == ({}, {})
    cache.clear()
    cache.put("a", np.ones(3))
    assert cache.get_many(["a"], with_notes=True)[1] == {}
