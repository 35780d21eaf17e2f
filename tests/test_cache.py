"""Tests of the content-keyed vector cache."""
from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from hover_audio.vectors.cache import (
    DB_NAME,
    CacheCorruptedWarning,
    CacheDirError,
    VectorCache,
    content_hash,
    default_cache_dir,
)

ROOT = Path(__file__).resolve().parents[1]


def _vec(i: int, dim: int = 8) -> np.ndarray:
    return np.arange(dim, dtype=np.float64) * 0.1 + i


def _put_range(cache: VectorCache, start: int, count: int) -> int:
    for i in range(start, start + count):
        cache.put(f"k{i}", _vec(i))
    return os.getpid()


def _put_and_close(cache: VectorCache) -> None:
    cache.put("from-child", _vec(7))
    cache.close()


def test_folder_created_when_missing(tmp_path):
    folder = tmp_path / "a" / "b" / "c"
    cache = VectorCache(folder, "ns")
    assert (folder / DB_NAME).is_file()
    assert len(cache) == 0


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("HOVER_AUDIO_CACHE", raising=False)
    assert default_cache_dir() == Path("custom_cache")
    monkeypatch.setenv("HOVER_AUDIO_CACHE", str(tmp_path / "env"))
    assert default_cache_dir() == tmp_path / "env"
    VectorCache().put("k", _vec(1))
    assert (tmp_path / "env" / DB_NAME).is_file()


def test_round_trip_float32_exact(tmp_path):
    cache = VectorCache(tmp_path, "ns")
    vector = np.array([0.1, -2.5, 1e-30, 3.4e38, np.pi], dtype=np.float64)
    cache.put("k", vector)
    out = cache.get("k")
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, vector.astype(np.float32))
    assert cache.get("absent") is None
    cache.put("k", np.zeros(3))  # overwrite
    np.testing.assert_array_equal(cache.get("k"), np.zeros(3, np.float32))
    assert len(cache) == 1
    with pytest.raises(ValueError):
        cache.put("bad", np.zeros((2, 2)))


def test_namespaces_isolated(tmp_path):
    mfcc13 = VectorCache(tmp_path, "MFCCVectorizer/v1/n_mfcc=13")
    mfcc20 = VectorCache(tmp_path, "MFCCVectorizer/v1/n_mfcc=20")
    mfcc13.put("clip", np.ones(13))
    assert mfcc20.get("clip") is None
    mfcc20.put("clip", np.full(20, 2.0))
    assert mfcc13.get("clip").shape == (13,)
    assert mfcc20.get("clip").shape == (20,)
    mfcc13.clear()
    assert len(mfcc13) == 0 and len(mfcc20) == 1


def test_persistence_across_objects(tmp_path):
    cache = VectorCache(tmp_path, "ns")
    cache.put_many((f"k{i}", _vec(i)) for i in range(10))
    cache.close()
    again = VectorCache(tmp_path, "ns")
    assert len(again) == 10
    np.testing.assert_array_equal(again.get("k3"), _vec(3).astype(np.float32))


def test_file_hash_memoized_and_refreshed(tmp_path):
    cache = VectorCache(tmp_path / "cache", "ns")
    clip = tmp_path / "clip.wav"
    clip.write_bytes(b"first content")
    first = cache.file_hash(clip)
    assert first == content_hash(b"first content")
    with sqlite3.connect(cache.path) as con:
        row = con.execute("SELECT size, hash FROM file_digests WHERE path = ?",
                          (str(clip),)).fetchone()
    assert row == (len(b"first content"), first)

    # Same size and mtime: the memo answers, so the file is not read again.
    stat = clip.stat()
    clip.write_bytes(b"other content")
    os.utime(clip, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert cache.file_hash(clip) == first
    # A new VectorCache on the same folder uses the same memo.
    assert VectorCache(tmp_path / "cache", "other").file_hash(clip) == first

    # A different mtime: re-hashed.
    os.utime(clip, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    assert cache.file_hash(clip) == content_hash(b"other content")


def test_pickle_round_trip(tmp_path):
    cache = VectorCache(tmp_path, "ns")
    cache.put("k", _vec(1))
    clone = pickle.loads(pickle.dumps(cache))
    assert clone.namespace == "ns" and clone.path == cache.path
    np.testing.assert_array_equal(clone.get("k"), _vec(1).astype(np.float32))


def test_pool_workers_write_concurrently(tmp_path):
    cache = VectorCache(tmp_path, "ns")
    with multiprocessing.get_context("fork").Pool(2) as pool:
        pids = pool.starmap(_put_range, [(cache, 0, 200), (cache, 200, 200)])
    assert os.getpid() not in pids
    found = cache.get_many([f"k{i}" for i in range(400)])
    assert len(found) == 400 and len(cache) == 400
    np.testing.assert_array_equal(found["k399"], _vec(399).astype(np.float32))


def test_forked_child_opens_its_own_connection(tmp_path):
    cache = VectorCache(tmp_path, "ns")
    cache.put("parent", _vec(1))  # the parent's connection is open when forking
    child = multiprocessing.get_context("fork").Process(target=_put_and_close, args=(cache,))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    assert set(cache.get_many(["parent", "from-child"])) == {"parent", "from-child"}
    cache.put("parent-after", _vec(2))
    assert len(VectorCache(tmp_path, "ns")) == 3


def test_sigkill_during_puts_keeps_returned_puts(tmp_path):
    script = textwrap.dedent(f"""
        import numpy as np
        from hover_audio.vectors.cache import VectorCache
        cache = VectorCache({str(tmp_path)!r}, "ns")
        i = 0
        while True:
            cache.put(f"k{{i}}", np.full(64, i, dtype=np.float32))
            print(f"k{{i}}", flush=True)
            i += 1
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            text=True, cwd=ROOT)
    try:
        done = [proc.stdout.readline().strip() for _ in range(100)]
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    cache = VectorCache(tmp_path, "ns")
    found = cache.get_many(done)
    assert sorted(found) == sorted(done)
    np.testing.assert_array_equal(found["k99"], np.full(64, 99, np.float32))


def _assert_fresh_after_damage(tmp_path):
    with pytest.warns(CacheCorruptedWarning, match=DB_NAME):
        cache = VectorCache(tmp_path, "ns")
        assert len(cache) == 0
    assert list(tmp_path.glob(f"{DB_NAME}.corrupt-*"))
    cache.put("k", _vec(1))
    np.testing.assert_array_equal(VectorCache(tmp_path, "ns").get("k"), _vec(1).astype(np.float32))


def test_garbage_database_is_replaced(tmp_path):
    VectorCache(tmp_path, "ns").put("old", _vec(0))
    (tmp_path / DB_NAME).write_bytes(os.urandom(10_000))
    _assert_fresh_after_damage(tmp_path)


def test_truncated_database_is_replaced(tmp_path):
    cache = VectorCache(tmp_path, "ns")
    cache.put_many((f"k{i}", np.full(256, i)) for i in range(500))
    cache.close()
    db = tmp_path / DB_NAME
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])
    _assert_fresh_after_damage(tmp_path)


def test_corruption_found_during_a_query(tmp_path):
    cache = VectorCache(tmp_path, "ns")
    cache.put_many((f"k{i}", np.full(256, i)) for i in range(500))
    cache.close()
    db = tmp_path / DB_NAME
    data = bytearray(db.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    data[page:] = b"\xff" * (len(data) - page)  # header and schema intact, table pages garbage
    db.write_bytes(bytes(data))
    cache = VectorCache(tmp_path, "ns")  # opens cleanly: the damage is met by the query
    with pytest.warns(CacheCorruptedWarning, match=DB_NAME):
        assert cache.get_many([f"k{i}" for i in range(500)]) == {}
    cache.put("k", _vec(1))
    assert len(cache) == 1


def test_blob_of_wrong_length_is_missing(tmp_path):
    cache = VectorCache(tmp_path, "ns")
    cache.put_many([("good", _vec(1)), ("bad", _vec(2))])
    with sqlite3.connect(cache.path) as con:
        con.execute("UPDATE vector_rows SET data = ? WHERE key = 'bad'", (b"\x00" * 7,))
    assert cache.get("bad") is None
    assert set(cache.get_many(["good", "bad"])) == {"good"}
    assert len(cache) == 1  # the broken row was deleted


def test_a_cache_of_the_older_layout_is_moved_over_on_opening(tmp_path):
    """Vectors stored by an older hover-audio (a WITHOUT ROWID table "vectors") are
    found after the upgrade, moved once into the current table; the old one is dropped."""
    vectors = {f"k{i}": np.arange(6, dtype=np.float32) + i for i in range(300)}
    with sqlite3.connect(tmp_path / DB_NAME) as con:
        con.execute("CREATE TABLE vectors (namespace TEXT NOT NULL, key TEXT NOT NULL, dim INTEGER"
                    " NOT NULL, data BLOB NOT NULL, PRIMARY KEY (namespace, key)) WITHOUT ROWID")
        con.executemany("INSERT INTO vectors VALUES ('ns', ?, 6, ?)",
                        [(key, vector.tobytes()) for key, vector in vectors.items()])
    con.close()
    cache = VectorCache(tmp_path, "ns")
    found = cache.get_many(list(vectors))
    assert set(found) == set(vectors)
    np.testing.assert_array_equal(found["k299"], vectors["k299"])
    assert len(cache) == 300 and len(VectorCache(tmp_path, "other")) == 0
    cache.put("new", _vec(6))
    tables = {row[0] for row in cache._run(lambda c: c.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'").fetchall())}
    assert "vectors" not in tables and len(VectorCache(tmp_path, "ns")) == 301


def test_get_many_returns_exactly_those_present(tmp_path):
    cache = VectorCache(tmp_path, "ns")
    present = [f"p{i}" for i in range(10_000)]
    cache.put_many((key, np.full(4, i)) for i, key in enumerate(present))
    keys = present + [f"absent{i}" for i in range(10_000)]
    found = cache.get_many(keys)
    assert set(found) == set(present)
    np.testing.assert_array_equal(found["p1234"], np.full(4, 1234, np.float32))
    assert cache.get_many([]) == {}


def test_folder_that_is_a_file_is_a_clear_error(tmp_path):
    blocker = tmp_path / "cache"
    blocker.write_text("not a folder")
    with pytest.raises(CacheDirError, match=str(blocker)):
        VectorCache(blocker / "sub")
