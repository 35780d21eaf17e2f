"""A damaged journal costs only the damaged operations: never an acknowledged label after them.

Each test journals real operations, damages the file on disk as a bad sector or a
stray edit would, reopens the workspace, labels more, closes and reopens: every
intact operation and every new one must be there, and the damaged journal must be
kept aside, named in a warning.
"""
from __future__ import annotations

import warnings

import pandas as pd
import pytest

from hover_audio import AudioDataset
from hover_audio.dataset.history import decode_line, encode_line
from hover_audio.dataset.store import JOURNAL

KEYS = [f"clip_{i:02d}.wav" for i in range(8)]


def labeled_workspace(tmp_path, operations: int = 5):
    """A workspace with ``operations`` journaled labels: clip i labeled f"l{i}"."""
    ds = AudioDataset.from_pandas(pd.DataFrame({"audio": KEYS}))
    folder = ds.save(tmp_path / "ws")
    for i in range(operations):
        ds.set_labels(KEYS[i], f"l{i}")
    ds._workspace.journal.close()  # as a crash would leave it: no checkpoint
    ds._workspace.close()
    ds._workspace = None
    return folder


def labels(ds) -> dict:
    return dict(zip(ds.keys, ds.column("label")))


def damage(folder, line: int, how: str = "garble") -> None:
    path = folder / JOURNAL
    lines = path.read_bytes().split(b"\n")
    if how == "garble":  # flip bytes inside the entry, keeping the line's length
        raw = bytearray(lines[line])
        raw[len(raw) // 2] ^= 0x5A
        lines[line] = bytes(raw)
    elif how == "truncate_line":
        lines[line] = lines[line][: len(lines[line]) // 2]
    path.write_bytes(b"\n".join(lines))


def reopen(folder, expect_warning: bool = True):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = AudioDataset.load(folder)
    messages = [str(item.message) for item in caught]
    if expect_warning:
        assert any("journal.damaged-" in message for message in messages), messages
    return ds, messages


@pytest.mark.parametrize("line", [0, 2, 4])  # the first, a middle and the last entry
def test_a_damaged_line_costs_only_its_own_operation(tmp_path, line):
    folder = labeled_workspace(tmp_path)
    damage(folder, line)
    ds, messages = reopen(folder)
    got = labels(ds)
    for i in range(5):
        assert got[KEYS[i]] == ("ABSTAIN" if i == line else f"l{i}"), (i, got)
    assert any("1 damaged line(s)" in message and f"line {line + 1}" in message
               for message in messages)
    # the damaged journal is kept aside, never deleted, and the live one is clean
    kept = list(folder.glob("journal.damaged-*.jsonl"))
    assert len(kept) == 1 and kept[0].stat().st_size > 0
    assert (folder / JOURNAL).read_text() == ""
    # new operations after the damage survive a close and a reopen
    ds.set_labels(KEYS[6], "after")
    ds.set_labels(KEYS[7], "after too")
    ds.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing damaged any more
        again = AudioDataset.load(folder)
    got = labels(again)
    assert got[KEYS[6]] == "after" and got[KEYS[7]] == "after too"
    assert sum(got[KEYS[i]] == f"l{i}" for i in range(5)) == 4
    again.close()


def test_a_line_cut_mid_entry_in_the_middle(tmp_path):
    folder = labeled_workspace(tmp_path)
    damage(folder, 1, "truncate_line")
    ds, _ = reopen(folder)
    got = labels(ds)
    assert [got[KEYS[i]] for i in range(5)] == ["l0", "ABSTAIN", "l2", "l3", "l4"]
    ds.close()


def test_a_duplicated_entry_is_applied_once(tmp_path):
    folder = labeled_workspace(tmp_path, operations=3)
    path = folder / JOURNAL
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:2] + [lines[1]] + lines[2:]))  # entry 2 twice
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = AudioDataset.load(folder)
    assert [labels(ds)[KEYS[i]] for i in range(3)] == ["l0", "l1", "l2"]
    assert ds.undo() == 1 and ds.undo() == 1 and ds.undo() == 1 and ds.undo() == 0
    ds.close()


def test_undo_after_a_lost_operation_undoes_what_it_recorded(tmp_path):
    ds = AudioDataset.from_pandas(pd.DataFrame({"audio": KEYS}))
    folder = ds.save(tmp_path / "ws")
    ds.set_labels(KEYS[0], "a")
    ds.set_labels(KEYS[1], "b")
    ds.undo()  # undoes b
    ds._workspace.journal.close()
    ds._workspace.close()
    damage(folder, 1)  # the "b" operation is lost; the undo line still says what it undid
    again, _ = reopen(folder)
    assert labels(again)[KEYS[0]] == "a" and labels(again)[KEYS[1]] == "ABSTAIN"
    again.close()


def test_read_only_load_warns_and_writes_nothing(tmp_path):
    folder = labeled_workspace(tmp_path)
    damage(folder, 2)
    before = (folder / JOURNAL).read_bytes()
    with pytest.warns(UserWarning, match="damaged journal line"):
        ds = AudioDataset.load(folder, attach=False)
    assert labels(ds)[KEYS[3]] == "l3"
    assert (folder / JOURNAL).read_bytes() == before
    assert not list(folder.glob("journal.damaged-*"))


def test_lines_check_themselves():
    entry = {"seq": 3, "op": "do", "changes": [{"column": "label", "keys": ["a"],
                                                "old": ["ABSTAIN"], "new": "é"}]}
    line = encode_line(entry)
    assert decode_line(line.rstrip("\n").encode()) == entry
    assert decode_line(line.replace("é", "e").rstrip("\n").encode()) is None
    assert decode_line(b'{"seq": 1, "op": "do", "changes": []}') == {"seq": 1, "op": "do",
                                                                      "changes": []}  # old format
    assert decode_line(b"not json at all") is None


def test_close_checkpoints(tmp_path):
    ds = AudioDataset.from_pandas(pd.DataFrame({"audio": KEYS}))
    folder = ds.save(tmp_path / "ws")
    ds.set_labels(KEYS[0], "x")
    assert (folder / JOURNAL).read_text() != ""
    ds.close()
    assert (folder / JOURNAL).read_text() == ""
    assert labels(AudioDataset.load(folder, attach=False))[KEYS[0]] == "x"


KILLED = """
import sys
import pandas as pd
from hover_audio import AudioDataset
ds = AudioDataset.from_pandas(pd.DataFrame({"audio": [f"k{i:03d}.wav" for i in range(300)]}))
ds.save(sys.argv[1])
for i in range(300):
    ds.set_labels(f"k{i:03d}.wav", f"label {i}")
    print(i, flush=True)  # acknowledged: set_labels returned
"""


def test_kill_9_then_a_damaged_line_loses_only_that_line(tmp_path):
    """Every acknowledged operation survives SIGKILL, and a damaged line costs only itself."""
    import os
    import signal
    import subprocess
    import sys

    folder = tmp_path / "ws"
    child = subprocess.Popen([sys.executable, "-c", KILLED, str(folder)],
                             stdout=subprocess.PIPE, text=True)
    acknowledged = []
    for line in child.stdout:
        acknowledged.append(int(line))
        if len(acknowledged) == 120:
            break
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    damage(folder, 50)  # the 51st operation's line
    ds, _ = reopen(folder)
    got = labels(ds)
    restored = [i for i in acknowledged if got[f"k{i:03d}.wav"] == f"label {i}"]
    assert restored == [i for i in acknowledged if i != 50]
    ds.close()
