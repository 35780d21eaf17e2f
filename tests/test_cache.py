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
import warnings
from pathlib import Path

import numpy as np
import pytest

from hover_audio.vectors.cache import (
    DB_NAME,
    CacheCorruptedWarning,
    CacheDirError,
    VectorCache,
    default_cache_dir,
)
from hover_audio.vectors.content import content_hash

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


def _damage_table_pages(folder: Path) -> None:
    """A cache of 500 vectors whose header and schema are intact, its table pages garbage."""
    cache = VectorCache(folder, "ns")
    cache.put_many((f"k{i}", np.full(256, i)) for i in range(500))
    cache.close()
    db = folder / DB_NAME
    data = bytearray(db.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    data[page:] = b"\xff" * (len(data) - page)
    db.write_bytes(bytes(data))


def test_corruption_found_during_a_query(tmp_path):
    _damage_table_pages(tmp_path)
    cache = VectorCache(tmp_path, "ns")  # opens cleanly: the damage is met by the query
    with pytest.warns(CacheCorruptedWarning, match=DB_NAME):
        assert cache.get_many([f"k{i}" for i in range(500)]) == {}
    cache.put("k", _vec(1))
    assert len(cache) == 1


@pytest.mark.parametrize("when", ["opening", "a query"])
def test_a_moment_of_malformed_on_a_whole_database_moves_nothing_aside(tmp_path, monkeypatch,
                                                                      when):
    """SQLite now and then says "database disk image is malformed" of a whole database
    opened or read while another process closes or checkpoints it (1 in 100,000-200,000
    opens under such churn; the moved file then passed integrity_check with every row):
    the cache asks again before it moves anything aside, and keeps its vectors."""
    from hover_audio.vectors import cache as cache_module

    cache = VectorCache(tmp_path, "ns")
    cache.put_many((f"k{i}", _vec(i)) for i in range(50))
    cache.close()
    calls = {"n": 0}
    real_connect = cache_module.connect

    def glitch(con_or_path):  # the first call meets the misreading, as in the race
        calls["n"] += 1
        if calls["n"] == 1:
            raise sqlite3.DatabaseError("database disk image is malformed")

    if when == "opening":
        def connect(path):
            glitch(path)
            return real_connect(path)
        monkeypatch.setattr(cache_module, "connect", connect)
        reopened = VectorCache(tmp_path, "ns")
        with warnings.catch_warnings():
            warnings.simplefilter("error", CacheCorruptedWarning)
            found = reopened.get_many([f"k{i}" for i in range(50)])
    else:
        reopened = VectorCache(tmp_path, "ns")
        assert reopened.get("k0") is not None  # connected
        real_run_action = reopened._connection

        def flaky_connection():
            con = real_run_action()
            glitch(con)
            return con
        monkeypatch.setattr(reopened, "_connection", flaky_connection)
        with warnings.catch_warnings():
            warnings.simplefilter("error", CacheCorruptedWarning)
            found = reopened.get_many([f"k{i}" for i in range(50)])
    assert calls["n"] >= 2 and len(found) == 50
    assert not list(tmp_path.glob(f"{DB_NAME}.corrupt-*"))


OTHER_PROCESS = textwrap.dedent("""
    import sqlite3, sys
    con = sqlite3.connect(sys.argv[1], timeout=10)
    found = con.execute("SELECT COUNT(*) FROM vector_rows WHERE key = ?", (sys.argv[2],))
    print(found.fetchone()[0])
    con.close()  # the last connection to close checkpoints and deletes the WAL
""")


def test_opening_another_cache_keeps_the_locks_of_this_processs_connections(tmp_path):
    """Opening a cache read the database header through a file descriptor of its own and
    closed it, which released the POSIX locks this process's open connections held on
    the file (SQLite's "How To Corrupt", 2.2): another process's connection, closing,
    then took itself for the last one and deleted the WAL they still wrote into; what
    they stored later was lost to every other process (and the file could be damaged)."""
    first = VectorCache(tmp_path, "a")
    first.put("k1", _vec(1))
    second = VectorCache(tmp_path, "b")  # opened while `first` has the file open

    def seen_elsewhere(key: str) -> int:
        done = subprocess.run([sys.executable, "-c", OTHER_PROCESS, str(first.path), key],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return int(done.stdout)

    assert seen_elsewhere("k1") == 1
    assert (tmp_path / f"{DB_NAME}-wal").exists(), "another process deleted the WAL in use"
    first.put("k2", _vec(2))
    assert seen_elsewhere("k2") == 1
    second.close()
    first.close()
    assert VectorCache(tmp_path, "a").get("k2") is not None


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


# ------------------------------------------------------------------ races between connections
@pytest.mark.parametrize("at", [1, 2, 3, 4])
def test_a_healthy_database_closed_as_it_is_opened_is_never_moved_aside(tmp_path, monkeypatch,
                                                                        at):
    """The last connection to close copies the WAL into the database file (its header
    first: the file is shorter than its header says until the copy ends), then removes
    -shm and -wal. Another connection opening meanwhile read the file's size before
    the copy and its header after it, saw no -shm or -wal any more, took the healthy
    file for a truncated one and moved it aside, with every vector in it (a
    CacheCorruptedWarning seen in the shared cache of the test suite). Here the close
    happens at each file-system look of the opening in turn."""
    import builtins

    from hover_audio.vectors import cache_file

    writer = VectorCache(tmp_path, "writer")
    writer.put_many((f"k{i}", np.full(256, i)) for i in range(300))  # all in the WAL
    db = tmp_path / DB_NAME
    assert db.stat().st_size < (tmp_path / f"{DB_NAME}-wal").stat().st_size
    looks = []

    def looking(real):
        def look(name, *args, **kwargs):
            if isinstance(name, (str, os.PathLike)) and os.fspath(name).startswith(str(db)):
                looks.append(os.fspath(name))
                if len(looks) == at:
                    writer.close()  # the last connection: checkpoint, then -shm, -wal removed
            return real(name, *args, **kwargs)
        return look

    # the writer stands for another process's connection (one of this process's would
    # keep the header from being read at all: see the test of locks below)
    monkeypatch.setattr(cache_file, "is_open_here", lambda path: False)
    monkeypatch.setattr(os, "stat", looking(os.stat))
    monkeypatch.setattr(os, "lstat", looking(os.lstat))
    monkeypatch.setattr(cache_file, "open", looking(builtins.open), raising=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheCorruptedWarning)
        reader = VectorCache(tmp_path, "reader")
        assert len(reader) == 0
    monkeypatch.undo()
    assert len(looks) >= min(at, 2)  # (the close happened while the file was judged)
    assert not list(tmp_path.glob(f"{DB_NAME}.corrupt-*"))
    assert len(VectorCache(tmp_path, "writer")) == 300


def test_damage_met_by_two_connections_is_moved_aside_once(tmp_path):
    """Two connections (two processes: the parent and a worker) meet the same damage. The
    first moves the file aside and starts a new database; the second, still on the old
    file, must not move the new one aside too (with what was written there since)."""
    _damage_table_pages(tmp_path)
    first, second = VectorCache(tmp_path, "ns"), VectorCache(tmp_path, "ns")  # both open it
    with pytest.warns(CacheCorruptedWarning) as seen:
        assert first.get_many([f"k{i}" for i in range(500)]) == {}
        first.put("fresh", _vec(1))
        found = second.get_many(["k1", "fresh"])  # meets the damage on its old file
    assert len([w for w in seen if w.category is CacheCorruptedWarning]) == 1
    assert set(found) == {"fresh"}
    assert len([moved for moved in tmp_path.glob(f"{DB_NAME}.corrupt-*")
                if not moved.name.endswith(("-wal", "-shm"))]) == 1
    first.put("after", _vec(2))
    assert set(VectorCache(tmp_path, "ns").get_many(["fresh", "after"])) == {"fresh", "after"}


def test_a_broken_row_stored_again_meanwhile_is_kept(tmp_path, monkeypatch):
    """A row read with a broken blob is deleted, but not the good vector another
    process stored under its key between the read and the delete."""
    from hover_audio.vectors import cache as cache_module

    cache, other = VectorCache(tmp_path, "ns"), VectorCache(tmp_path, "ns")
    cache.put("k", _vec(1))
    with sqlite3.connect(cache.path) as con:
        con.execute("UPDATE vector_rows SET data = ? WHERE key = 'k'", (b"\x00" * 7,))
    con.close()
    real = cache_module._from_blob

    def from_blob(dim, data):
        vector = real(dim, data)
        if vector is None:
            other.put("k", _vec(2))  # after the read, before the delete
        return vector

    monkeypatch.setattr(cache_module, "_from_blob", from_blob)
    assert cache.get("k") is None  # what it read was broken
    monkeypatch.undo()
    np.testing.assert_array_equal(cache.get("k"), _vec(2).astype(np.float32))


def test_a_wal_removed_between_two_looks_is_no_error(tmp_path, monkeypatch):
    """The last connection to close removes -wal just after -shm; an opening that saw the
    -wal file, then asked its size, failed with FileNotFoundError (raised out of a batch,
    or reported as a clip's error)."""
    writer = VectorCache(tmp_path, "writer")
    writer.put_many((f"k{i}", np.full(256, i)) for i in range(300))
    wal = tmp_path / f"{DB_NAME}-wal"
    frames = wal.read_bytes()
    writer.close()  # checkpointed: -shm and -wal removed
    wal.write_bytes(frames)  # the moment between: -shm gone, -wal not yet
    looks, real_stat = [], os.stat

    def stat(name, *args, **kwargs):
        if os.fspath(name) == str(wal):
            looks.append(name)
            if len(looks) == 2:
                os.unlink(wal)
        return real_stat(name, *args, **kwargs)

    monkeypatch.setattr(os, "stat", stat)
    reader = VectorCache(tmp_path, "reader")
    monkeypatch.undo()
    assert len(reader) == 0 and len(VectorCache(tmp_path, "writer")) == 300
