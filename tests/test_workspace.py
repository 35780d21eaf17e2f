"""Workspaces: save, load, journal replay, crash safety, locking, atomic writes."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pandas as pd
import pytest

from hover_audio import AudioDataset
from hover_audio.common.files import atomic_write
from hover_audio.dataset.history import decode_line
from hover_audio.dataset.store import JOURNAL, TABLE, VECTORS


def small_dataset(rows: int = 20) -> AudioDataset:
    table = pd.DataFrame(
        {
            "audio": [f"clip_{i:03d}.wav" for i in range(rows)],
            "label": ["ABSTAIN"] * (rows // 2) + ["cat", "dog"] * (rows // 4),
            "SUBSET": ["raw"] * (rows // 2) + ["train"] * (rows // 2),
            "note": [f"n{i}" for i in range(rows)],
        }
    )
    return AudioDataset.from_pandas(table)


def labels_of(ds: AudioDataset) -> dict:
    table = ds.to_pandas()
    return dict(zip(table["audio"], table["label"]))


def test_save_then_load_restores_table_and_operations(tmp_path):
    ds = small_dataset()
    ds.save(tmp_path / "ws")
    ds.set_labels(["clip_000.wav", "clip_001.wav"], "bird")
    ds.commit("clip_000.wav", "dev")
    expected = ds.to_pandas()
    ds.close()
    loaded = AudioDataset.load(tmp_path / "ws")
    pd.testing.assert_frame_equal(loaded.to_pandas(), expected)
    assert loaded.workspace == (tmp_path / "ws").absolute()
    loaded.close()


def test_every_operation_is_on_disk_before_the_call_returns(tmp_path):
    ds = small_dataset()
    ds.save(tmp_path / "ws")
    ds.set_labels("clip_003.wav", "frog")
    lines = (tmp_path / "ws" / JOURNAL).read_text().splitlines()
    assert len(lines) == 1
    entry = decode_line(lines[0].encode())
    assert entry["op"] == "do"
    assert entry["changes"][0]["keys"] == ["clip_003.wav"]
    assert entry["changes"][0]["new"] == "frog"
    # a reader that does not attach sees it while the writer still holds the lock
    peek = AudioDataset.load(tmp_path / "ws", attach=False)
    assert labels_of(peek)["clip_003.wav"] == "frog"


def test_undo_redo_stacks_survive_reload(tmp_path):
    ds = small_dataset()
    ds.save(tmp_path / "ws")
    ds.set_labels("clip_001.wav", "a")
    ds.set_labels("clip_001.wav", "b")
    ds.undo()
    ds.close()
    loaded = AudioDataset.load(tmp_path / "ws")
    assert labels_of(loaded)["clip_001.wav"] == "a"
    assert loaded.redo() == 1
    assert labels_of(loaded)["clip_001.wav"] == "b"
    assert loaded.undo() == 1 and loaded.undo() == 1
    assert labels_of(loaded)["clip_001.wav"] == "ABSTAIN"
    assert loaded.undo() == 0
    loaded.close()


def test_checkpoint_empties_journal_and_keeps_state(tmp_path):
    ds = small_dataset()
    folder = ds.save(tmp_path / "ws")
    ds.set_labels("clip_002.wav", "owl")
    ds.save()
    assert (folder / JOURNAL).read_text() == ""
    ds.set_labels("clip_004.wav", "bat")
    ds.close()
    loaded = AudioDataset.load(folder)
    assert labels_of(loaded)["clip_002.wav"] == "owl"
    assert labels_of(loaded)["clip_004.wav"] == "bat"
    assert loaded.undo() == 1 and loaded.undo() == 1  # history crosses the checkpoint
    assert labels_of(loaded)["clip_002.wav"] == "ABSTAIN"
    loaded.close()


def test_journal_entries_already_in_snapshot_are_not_replayed(tmp_path):
    """A crash between the snapshot and the journal reset must not double-apply."""
    ds = small_dataset()
    folder = ds.save(tmp_path / "ws")
    ds.set_labels("clip_001.wav", "x")
    ds.set_labels("clip_001.wav", "y")
    ds.undo()
    journal = (folder / JOURNAL).read_text()
    ds.save()
    ds.close()
    (folder / JOURNAL).write_text(journal)  # as if the reset never happened
    loaded = AudioDataset.load(folder)
    assert labels_of(loaded)["clip_001.wav"] == "x"
    assert loaded.redo() == 1
    assert labels_of(loaded)["clip_001.wav"] == "y"
    loaded.close()


def test_incomplete_last_line_is_ignored_and_next_writes_stay_clean(tmp_path):
    ds = small_dataset()
    folder = ds.save(tmp_path / "ws")
    ds.set_labels("clip_001.wav", "kept")
    ds.close()
    with open(folder / JOURNAL, "a") as journal:
        journal.write('{"seq": 2, "op": "do", "changes": [{"column": "lab')
    with pytest.warns(UserWarning, match="incomplete last line"):
        loaded = AudioDataset.load(folder)
    assert labels_of(loaded)["clip_001.wav"] == "kept"
    loaded.set_labels("clip_002.wav", "after")
    loaded.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = AudioDataset.load(folder, attach=False)
    assert labels_of(again)["clip_002.wav"] == "after"


def test_vectors_are_saved_with_the_workspace(tmp_path):
    ds = small_dataset()
    vectors = np.arange(20 * 3, dtype=np.float64).reshape(20, 3)
    ds.vectors = vectors
    folder = ds.save(tmp_path / "ws")
    assert (folder / VECTORS).is_file()
    ds.close()
    loaded = AudioDataset.load(folder, attach=False)
    assert loaded.vectors.dtype == np.float32
    np.testing.assert_array_equal(loaded.vectors, vectors.astype(np.float32))


def test_second_attach_is_refused_but_read_only_load_works(tmp_path):
    ds = small_dataset()
    folder = ds.save(tmp_path / "ws")
    with pytest.raises(RuntimeError, match=r"already open in this process .* close\(\)"):
        AudioDataset.load(folder)
    other = subprocess.run(
        [sys.executable, "-c", f"from hover_audio import AudioDataset; "
                               f"AudioDataset.load({str(folder)!r})"],
        capture_output=True, text=True)
    assert other.returncode != 0
    assert f"open in another process (pid {os.getpid()})" in other.stderr
    assert len(AudioDataset.load(folder, attach=False)) == 20
    ds.close()
    AudioDataset.load(folder).close()


def test_read_only_load_journals_nothing(tmp_path):
    ds = small_dataset()
    folder = ds.save(tmp_path / "ws")
    ds.close()
    copy = AudioDataset.load(folder, attach=False)
    copy.set_labels("clip_001.wav", "ghost")
    assert (folder / JOURNAL).read_text() == ""


def test_save_refuses_a_non_empty_folder(tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "thesis.tex").write_text("precious")
    with pytest.raises(FileExistsError):
        small_dataset().save(tmp_path / "busy")
    assert (tmp_path / "busy" / "thesis.tex").read_text() == "precious"


def test_save_over_another_workspace_needs_overwrite(tmp_path):
    first = small_dataset()
    first.save(tmp_path / "ws")
    first.close()
    second = small_dataset(8)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        second.save(tmp_path / "ws")
    second.save(tmp_path / "ws", overwrite=True)
    second.close()
    assert len(AudioDataset.load(tmp_path / "ws", attach=False)) == 8


def test_save_elsewhere_moves_the_attachment(tmp_path):
    ds = small_dataset()
    ds.save(tmp_path / "one")
    ds.save(tmp_path / "two")
    ds.set_labels("clip_001.wav", "moved")
    assert (tmp_path / "one" / JOURNAL).read_text() == ""
    assert "moved" in (tmp_path / "two" / JOURNAL).read_text()
    AudioDataset.load(tmp_path / "one").close()  # its lock was released
    ds.close()


def test_load_of_a_folder_that_is_not_a_workspace(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a hover-audio workspace"):
        AudioDataset.load(tmp_path)


def test_atomic_write_gives_a_new_file_the_usual_permissions_and_keeps_an_old_files(tmp_path):
    old_umask = os.umask(0o027)
    try:
        atomic_write(tmp_path / "new.csv", lambda tmp: open(tmp, "w").write("a"))
        assert os.stat(tmp_path / "new.csv").st_mode & 0o777 == 0o640  # not mkstemp's 0600
        os.chmod(tmp_path / "new.csv", 0o604)
        atomic_write(tmp_path / "new.csv", lambda tmp: open(tmp, "w").write("b"))
        assert os.stat(tmp_path / "new.csv").st_mode & 0o777 == 0o604
    finally:
        os.umask(old_umask)


def test_atomic_write_leaves_the_old_file_when_the_writer_fails(tmp_path):
    target = tmp_path / "table.csv"
    target.write_text("old")

    def broken_writer(tmp):
        with open(tmp, "w") as handle:
            handle.write("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, broken_writer)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.csv"]


CHILD = textwrap.dedent(
    """
    import sys
    from hover_audio import AudioDataset
    ds = AudioDataset.load(sys.argv[1])
    keys = ds.keys
    i = 0
    while True:
        key = keys[i % len(keys)]
        if i % 7 == 6:
            ds.undo()
            print("undo", i, flush=True)
        else:
            ds.set_labels(key, f"L{i}")
            print("set", key, f"L{i}", flush=True)
        i += 1
    """
)


def test_kill_minus_nine_loses_no_acknowledged_operation(tmp_path):
    ds = small_dataset(200)
    folder = ds.save(tmp_path / "ws")
    ds.close()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(folder)],
        stdout=subprocess.PIPE,
        text=True,
    )
    acknowledged = []
    for line in child.stdout:
        acknowledged.append(line.split())
        if len(acknowledged) >= 300:
            break
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    # replay the acknowledged operations on a fresh copy to know the expected state
    expected = small_dataset(200)
    for entry in acknowledged:
        if entry[0] == "set":
            expected.set_labels(entry[1], entry[2])
        else:
            expected.undo()
    # the child may have finished operations after the last one we read: those
    # may or may not be there; every acknowledged one must be
    extra = sum(1 for line in (folder / JOURNAL).read_text().splitlines() if line.strip())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a torn last line is expected and reported
        restored = AudioDataset.load(folder)
    got, want = labels_of(restored), labels_of(expected)
    assert extra >= len(acknowledged)
    if extra == len(acknowledged):
        assert got == want
    else:
        touched = {entry[1] for entry in acknowledged if entry[0] == "set"}
        assert sum(got[key] != want[key] for key in touched) <= extra - len(acknowledged)
    restored.close()


def test_table_file_is_a_single_parquet_holding_the_state(tmp_path):
    ds = small_dataset()
    folder = ds.save(tmp_path / "ws")
    ds.close()
    import pyarrow.parquet as pq

    meta = json.loads(pq.read_schema(folder / TABLE).metadata[b"hover_audio"])
    assert meta["format"] == "hover-audio-workspace"
    assert meta["label_order"] == ["cat", "dog"]
    assert pd.read_parquet(folder / TABLE).shape == (20, 4)
