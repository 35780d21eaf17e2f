"""The snapshot of a namespace's last large batch: warm loads in one read, never a wrong vector."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from .audio_corpus import write_tone_wav
from hover_audio.vectors import batch, snapshot
from hover_audio.vectors.cache import VectorCache
from hover_audio.vectors.jobs import make_jobs
from hover_audio.vectors.mfcc import MFCCVectorizer

ROWS = 12


@pytest.fixture
def lookups(monkeypatch) -> list:
    """Snapshots from 10 clips up, and a record of what each lookup found."""
    monkeypatch.setattr(snapshot, "MIN_ROWS", 10)
    found, real_lookup = [], snapshot.lookup

    def recording_lookup(*args, **kwargs):
        found.append(real_lookup(*args, **kwargs))
        return found[-1]

    monkeypatch.setattr(snapshot, "lookup", recording_lookup)
    return found


@pytest.fixture
def library(tmp_path, lookups):
    """Twelve short tones of different pitch, a vectorizer caching under tmp_path,
    and the record of lookups."""
    folder = tmp_path / "clips"
    folder.mkdir()
    paths = [str(write_tone_wav(folder / f"tone{i:02d}.wav", 0.3, freq=200.0 + 60 * i))
             for i in range(ROWS)]
    vectorizer = MFCCVectorizer(cache_dir=tmp_path / "cache")
    reference = np.stack([MFCCVectorizer(cache=False)(path) for path in paths])
    return paths, vectorizer, reference, lookups


def _index(vectorizer, keys) -> Path:
    """The snapshot of the library ``keys`` lie in."""
    return snapshot.snapshot_path(Path(vectorizer.cache_dir).absolute(), vectorizer.fingerprint,
                                  snapshot.library_of(snapshot.rows(keys)))


def test_a_large_batch_seen_before_loads_whole_from_its_snapshot(library):
    paths, vectorizer, reference, lookups = library
    first, report = vectorizer.transform(paths, workers=1, progress=False)
    assert report.empty and np.allclose(first, reference, atol=1e-5)
    assert _index(vectorizer, paths).is_file()
    assert len(list(_index(vectorizer, paths).parent.glob("*.npy"))) == 1
    again, report = vectorizer.transform(paths, workers=1, progress=False)
    assert lookups[-1].whole and report.empty
    assert np.array_equal(again, first)


def test_a_changed_file_is_computed_again_and_the_others_come_from_the_snapshot(library):
    paths, vectorizer, reference, lookups = library
    vectorizer.transform(paths, workers=1, progress=False)
    changed = Path(paths[3])
    write_tone_wav(changed, 0.5, freq=1500.0)
    os.utime(changed, ns=(changed.stat().st_atime_ns, changed.stat().st_mtime_ns + 10**9))
    matrix, report = vectorizer.transform(paths, workers=1, progress=False)
    found = lookups[-1]
    assert not found.whole and sorted(found.positions) == [i for i in range(ROWS) if i != 3]
    assert report.empty
    assert np.allclose(matrix[3], MFCCVectorizer(cache=False)(str(changed)), atol=1e-5)
    assert not np.allclose(matrix[3], reference[3], atol=1e-3)
    assert np.allclose(np.delete(matrix, 3, axis=0), np.delete(reference, 3, axis=0), atol=1e-5)
    # the new snapshot holds the new file: the next load is whole again
    vectorizer.transform(paths, workers=1, progress=False)
    assert lookups[-1].whole


def test_another_order_a_subset_and_new_files_are_answered_row_by_row(library, tmp_path):
    paths, vectorizer, reference, lookups = library
    vectorizer.transform(paths, workers=1, progress=False)
    extra = str(write_tone_wav(tmp_path / "clips" / "extra.wav", 0.3, freq=3000.0))
    order = [paths[i] for i in (5, 0, 11, 2, 7, 9, 1, 4, 10, 6)] + [extra]
    matrix, report = vectorizer.transform(order, workers=1, progress=False)
    assert report.empty and len(lookups[-1].positions) == 10
    expected = np.vstack([reference[[5, 0, 11, 2, 7, 9, 1, 4, 10, 6]],
                          MFCCVectorizer(cache=False)(extra)])
    assert np.allclose(matrix, expected, atol=1e-5)


def test_clips_the_snapshot_lacks_but_the_cache_holds_land_in_their_own_rows(library,
                                                                            tmp_path):
    """The snapshot answers most rows, the SQLite cache all the others (a file vectorized
    alone since): those went to rows 0, 1, ... (their places in the list of jobs left),
    over vectors of other clips, and their own rows stayed NaN with an empty report."""
    paths, vectorizer, reference, lookups = library
    vectorizer.transform(paths, workers=1, progress=False)
    extra = str(write_tone_wav(tmp_path / "clips" / "extra.wav", 0.3, freq=3000.0))
    alone, _ = vectorizer.transform([extra], workers=1, progress=False)  # SQLite only
    matrix, report = vectorizer.transform(paths + [extra], workers=1, progress=False)
    assert report.empty and len(lookups[-1].positions) == ROWS and not lookups[-1].whole
    assert np.allclose(matrix[:ROWS], reference, atol=1e-5)
    np.testing.assert_array_equal(matrix[ROWS], alone[0])


def test_urls_are_not_snapshot_rows_and_names_carry_range_columns(library):
    paths, vectorizer, reference, _ = library
    keys = [paths[0], "http://127.0.0.1:9/x.wav", "file:///tmp/x.wav", f"{paths[1]}#t=0,0.2"]
    batch = snapshot.rows(keys)
    assert list(batch.at) == [0, 3] and batch.names == [paths[0], f"{paths[1]}#t=0,0.2"]
    jobs = make_jobs(keys[:1] * 2, starts=[None, 0.1], ends=[None, 0.2])
    named = snapshot.rows(keys[:1] * 2, jobs).names
    assert named[0] == paths[0] and named[1] != named[0] and named[1].startswith(paths[0])


def test_ranges_of_long_files_load_from_the_snapshot_each_file_looked_at_once(
        tmp_path, lookups):
    longs = [write_tone_wav(tmp_path / f"long{i}.wav", 4.0, freq=300.0 + 400 * i)
             for i in range(2)]
    keys = [f"{path}#t={s / 2:g},{s / 2 + 0.5:g}" for path in longs for s in range(8)]
    vectorizer = MFCCVectorizer(cache_dir=tmp_path / "cache")
    first, report = vectorizer.transform(keys, workers=1, progress=False)
    assert report.empty and np.isfinite(first).all()
    again, _ = vectorizer.transform(keys, workers=1, progress=False)
    assert lookups[-1].whole and set(lookups[-1].states) == {str(p) for p in longs}
    assert np.array_equal(again, first)
    # one long file changes: its ranges are computed again, the other file's are not
    write_tone_wav(longs[1], 4.0, freq=2500.0)
    os.utime(longs[1], ns=(longs[1].stat().st_atime_ns, longs[1].stat().st_mtime_ns + 10**9))
    changed, _ = vectorizer.transform(keys, workers=1, progress=False)
    assert sorted(lookups[-1].positions) == list(range(8))
    assert np.array_equal(changed[:8], first[:8])
    fresh = MFCCVectorizer(cache=False).transform(keys[8:], workers=1, progress=False)[0]
    assert np.allclose(changed[8:], fresh, atol=1e-5)
    # the same ranges as columns: other names, so from SQLite; then from the snapshot
    plain = [str(longs[i // 8]) for i in range(16)]
    starts = [(i % 8) / 2 for i in range(16)]
    ends = [start + 0.5 for start in starts]
    for _ in range(2):
        by_columns, _ = vectorizer.transform(plain, starts=starts, ends=ends, workers=1,
                                             progress=False)
        assert np.array_equal(by_columns, changed)
    assert lookups[-1].whole


def test_relative_keys_from_another_folder_are_other_clips(tmp_path, monkeypatch):
    monkeypatch.setattr(snapshot, "MIN_ROWS", 10)
    vectorizer = MFCCVectorizer(cache_dir=tmp_path / "cache")
    results = {}
    for place, base in (("a", 200.0), ("b", 2000.0)):
        folder = tmp_path / place
        folder.mkdir()
        for i in range(ROWS):  # same sizes and times as the other folder's files
            made = write_tone_wav(folder / f"tone{i:02d}.wav", 0.3, freq=base + 50 * i)
            os.utime(made, ns=(10**18, 10**18 + i))
        monkeypatch.chdir(folder)
        keys = [f"tone{i:02d}.wav" for i in range(ROWS)]
        results[place] = vectorizer.transform(keys, workers=1, progress=False)[0]
        expected = np.stack([MFCCVectorizer(cache=False)(str(folder / key)) for key in keys])
        assert np.allclose(results[place], expected, atol=1e-5), place
    assert not np.allclose(results["a"], results["b"], atol=1e-3)


@pytest.mark.parametrize("damage", ["garbage index", "vectors missing", "wrong width",
                                    "garbage notes", "notes of other rows"])
def test_a_damaged_snapshot_finds_nothing_and_is_replaced(library, damage):
    paths, vectorizer, reference, lookups = library
    first, _ = vectorizer.transform(paths, workers=1, progress=False)
    index = _index(vectorizer, paths)
    vectors_file = next(index.parent.glob("*.npy"))
    if damage == "garbage index":
        index.write_bytes(b"PK\x03\x04 not really a zip")
    elif damage == "vectors missing":
        vectors_file.unlink()
    elif damage == "wrong width":
        np.save(vectors_file, np.zeros((ROWS, 3), np.float32))
    else:
        with np.load(index) as stored:
            members = dict(stored)
        notes = b"[3, 4]" if damage == "garbage notes" else b'[[99, "silent", "x"]]'
        members["notes"] = np.frombuffer(notes, dtype=np.uint8)
        with open(index, "wb") as handle:
            np.savez(handle, **members)
    matrix, report = vectorizer.transform(paths, workers=1, progress=False)
    assert len(lookups[-1].positions) == 0
    assert report.empty and np.array_equal(matrix, first)
    vectorizer.transform(paths, workers=1, progress=False)
    assert lookups[-1].whole


def test_a_broken_file_fails_every_time_without_rewriting_the_snapshot(library, tmp_path):
    paths, vectorizer, _, lookups = library
    broken = tmp_path / "clips" / "broken.wav"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    keys = paths + [str(broken)]
    matrix, report = vectorizer.transform(keys, workers=1, progress=False)
    assert np.isnan(matrix[-1]).all() and list(report["key"]) == [str(broken)]
    written = _index(vectorizer, keys).read_bytes()
    matrix, report = vectorizer.transform(keys, workers=1, progress=False)
    assert len(lookups[-1].positions) == ROWS and not lookups[-1].whole
    assert np.isnan(matrix[-1]).all() and list(report["key"]) == [str(broken)]
    assert _index(vectorizer, keys).read_bytes() == written


def test_clearing_the_cache_removes_the_snapshot(library):
    paths, vectorizer, _, _ = library
    vectorizer.transform(paths, workers=1, progress=False)
    index = _index(vectorizer, paths)
    assert index.is_file()
    VectorCache(vectorizer.cache_dir, namespace=vectorizer.fingerprint).clear()
    assert not index.exists() and not list(index.parent.glob("*.npy"))


def test_small_batches_and_uncached_vectorizers_write_no_snapshot(library, tmp_path):
    paths, vectorizer, _, _ = library
    vectorizer.transform(paths[:5], workers=1, progress=False)
    assert not _index(vectorizer, paths).exists()
    MFCCVectorizer(cache=False, cache_dir=tmp_path / "other").transform(
        paths, workers=1, progress=False)
    assert not (tmp_path / "other").exists()
    assert batch.snapshot is snapshot  # the batch reads through this module


def test_libraries_used_in_turn_each_keep_their_snapshot(tmp_path, lookups, monkeypatch):
    """Two (then three) folders vectorized in turn: each loads whole from its own snapshot;
    beyond MAX_SNAPSHOTS the least recently used one is dropped."""
    monkeypatch.setattr(snapshot, "MAX_SNAPSHOTS", 2)
    vectorizer = MFCCVectorizer(cache_dir=tmp_path / "cache")
    libraries = {}
    for name, base in (("a", 200.0), ("b", 900.0), ("c", 2000.0)):
        (tmp_path / name).mkdir()
        libraries[name] = [str(write_tone_wav(tmp_path / name / f"t{i:02d}.wav", 0.3,
                                              freq=base + 40 * i)) for i in range(ROWS)]
    first = {name: vectorizer.transform(libraries[name], workers=1, progress=False)[0]
             for name in ("a", "b")}
    assert _index(vectorizer, libraries["a"]) != _index(vectorizer, libraries["b"])
    for name in ("a", "b", "a", "b"):
        again, _ = vectorizer.transform(libraries[name], workers=1, progress=False)
        assert lookups[-1].whole and np.array_equal(again, first[name]), name
    folder = _index(vectorizer, libraries["a"]).parent
    os.utime(_index(vectorizer, libraries["a"]), ns=(10**18, 10**18))  # "a": used long ago
    vectorizer.transform(libraries["c"], workers=1, progress=False)
    assert not _index(vectorizer, libraries["a"]).exists()
    assert _index(vectorizer, libraries["b"]).exists() and _index(vectorizer,
                                                                  libraries["c"]).exists()
    assert len(list(folder.glob("*.npz"))) == 2 and len(list(folder.glob("*.npy"))) == 2
    again, _ = vectorizer.transform(libraries["a"], workers=1, progress=False)
    assert not lookups[-1].whole and np.allclose(again, first["a"])  # from SQLite, then kept


def test_a_snapshot_of_the_old_one_per_namespace_layout_is_removed(library):
    paths, vectorizer, _, _ = library
    folder = Path(vectorizer.cache_dir).absolute() / snapshot.FOLDER
    folder.mkdir(parents=True)
    namespace = snapshot.snapshot_path(folder.parent, vectorizer.fingerprint).stem.split("-")[0]
    (folder / f"{namespace}.npz").write_bytes(b"old index")
    (folder / f"{namespace}-0123456789abcdef.npy").write_bytes(b"old vectors")
    vectorizer.transform(paths, workers=1, progress=False)
    assert sorted(path.name for path in folder.iterdir()) == sorted(
        [_index(vectorizer, paths).name,
         *(path.name for path in folder.glob(f"{_index(vectorizer, paths).stem}-*.npy"))])
    assert len(list(folder.glob("*.npy"))) == 1
