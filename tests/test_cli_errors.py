"""Mistakes a person makes on the command line get one line naming what is wrong (no
traceback), before any work is done, and change nothing."""
from __future__ import annotations

import socket
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from hover_audio.app.cli import main
from hover_audio.dataset.demo import demo_table


@pytest.fixture
def clips(tmp_path):
    """A folder of three demo clips."""
    folder = tmp_path / "clips"
    folder.mkdir()
    for path in demo_table()["audio"].head(3):
        (folder / path.rsplit("/", 1)[-1]).write_bytes(open(path, "rb").read())
    return folder


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


def test_paths_that_are_not_a_dataset(tmp_path, clips, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["vectorize", str(tmp_path / "empty")]) == 1
    assert "no audio files under" in error_line(capsys)
    assert main(["info", str(tmp_path / "nope")]) == 1
    assert f"no such folder or file: {tmp_path / 'nope'}" in error_line(capsys)
    one = next(clips.iterdir())
    assert main(["vectorize", str(one)]) == 1
    assert "is an audio file: give its folder" in error_line(capsys)


def test_vectorize_into_a_workspace_that_exists_says_what_to_run(tmp_path, clips, capsys):
    cache = ["--cache-dir", str(tmp_path / "cache"), "--quiet"]
    assert main(["vectorize", str(clips), "--workspace", str(tmp_path / "ws"), *cache]) == 0
    capsys.readouterr()
    assert main(["vectorize", str(clips), "--workspace", str(tmp_path / "ws"), *cache]) == 1
    assert f"hover-audio vectorize {tmp_path / 'ws'}" in error_line(capsys)


def test_bad_numbers_are_refused_by_the_parser(clips, capsys):
    for argv in (["serve", str(clips), "--port", "99999"], ["serve", str(clips), "--port", "-1"],
                 ["vectorize", str(clips), "--workers", "0"]):
        with pytest.raises(SystemExit) as stopped:
            main(argv)
        assert stopped.value.code == 2
        assert "error: argument" in capsys.readouterr().err


def test_serve_checks_its_address_before_any_work(tmp_path, clips, capsys):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        assert main(["serve", str(clips), "--port", str(port), "--no-umap",
                     "--workspace", str(tmp_path / "ws")]) == 1
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in error_line(capsys)
    assert main(["serve", str(clips), "--host", "no-such-host.invalid", "--port", "0",
                 "--workspace", str(tmp_path / "ws")]) == 1
    assert "cannot listen on --host no-such-host.invalid" in error_line(capsys)
    assert not (tmp_path / "ws").exists()  # nothing was opened or made


def test_a_workspace_held_by_another_process_is_named(tmp_path, clips, capsys):
    pd.DataFrame({"audio": sorted(map(str, clips.iterdir()))}).to_csv(tmp_path / "t.csv",
                                                                      index=False)
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys
        from hover_audio import AudioDataset
        ds = AudioDataset.from_file({str(tmp_path / 't.csv')!r})
        ds.save({str(tmp_path / 'ws')!r})
        print("holding", flush=True)
        sys.stdin.read()
        """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        assert main(["vectorize", str(tmp_path / "ws"), "--quiet"]) == 1
        line = error_line(capsys)
        assert f"is open in another process (pid {holder.pid})" in line
        assert "attach=False" not in line  # (Python advice, not for the command line)
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)


@pytest.mark.parametrize("argv", [["predict", "a.wav", "--workspace", "ws", "--top", "0"],
                                  ["predict", "a.wav", "--workspace", "ws", "--threshold", "2"],
                                  ["tag", "ws", "--from", "suggested", "--threshold", "5"],
                                  ["predict-server", "ws", "--port", "70000"],
                                  ["compare", "x", "--workers", "-3"]])
def test_out_of_range_options_are_refused_by_the_parser(argv, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2 and "error: argument" in capsys.readouterr().err


def test_compare_refuses_an_unknown_aspect_or_plot_type_before_reading_clips(clips, tmp_path,
                                                                            capsys):
    assert main(["compare", str(clips), "--plot", str(tmp_path / "x.svg")]) == 1
    assert "write the plot as .png or .html" in error_line(capsys)
    (tmp_path / "labeled" / "a").mkdir(parents=True)
    (tmp_path / "labeled" / "b").mkdir()
    for at, path in enumerate(sorted(clips.iterdir())):
        (tmp_path / "labeled" / "ab"[at % 2] / path.name).write_bytes(path.read_bytes())
    assert main(["compare", str(tmp_path / "labeled"), "--aspect", "bogus", "--quiet"]) == 1
    line = error_line(capsys)
    assert "aspect(s) ['bogus']" in line and "'timbre'" in line


def test_reopening_a_folders_workspace_follows_the_folder(tmp_path, clips, capsys, monkeypatch):
    """Files added to the folder since become rows (one undoable step) and get vectors
    when served; files gone are named and keep their rows and labels."""
    import argparse

    from hover_audio.app.cli import _needs_vectors
    from hover_audio.app.opening import open_attached

    monkeypatch.setenv("HOVER_AUDIO_HOME", str(tmp_path / "home"))
    first, second, third = sorted(clips.iterdir())
    (clips / "dog").mkdir()
    second.rename(clips / "dog" / second.name)
    ds = open_attached(str(clips), None)
    ds.vectorize(workers=1, progress=False)
    ds.set_labels([str(first)], "cat")
    ds.close()
    new = clips / "dog" / "new.flac"
    new.write_bytes(third.read_bytes())
    first.unlink()
    capsys.readouterr()
    ds = open_attached(str(clips), None)
    try:
        out = capsys.readouterr().out
        assert f"1 new file(s) under {clips} added" in out
        assert f"1 file(s) of the workspace are no longer under {clips}, e.g. {first}" in out
        table = ds.to_pandas().set_index("audio")
        assert table.loc[str(new), "label"] == "dog" and table.loc[str(new), "SUBSET"] == "train"
        assert table.loc[str(first), "label"] == "cat"  # kept
        assert _needs_vectors(ds, argparse.Namespace(vectorizer=None))
        ds.vectorize(workers=1, progress=False)
        assert not _needs_vectors(ds, argparse.Namespace(vectorizer=None))
        ds.undo()
        assert str(new) not in ds.keys
    finally:
        ds.close()


def test_vectors_of_an_older_version_are_made_again_when_served(tmp_path, clips, capsys,
                                                                monkeypatch):
    """A workspace vectorized by an older release (another MFCCVectorizer.version) opens
    with a warning and no vectorizer; serve computes its vectors again with the current
    version of the same registered vectorizer, and the next opening is quiet."""
    import argparse
    import warnings

    from hover_audio.app.cli import _needs_vectors, vectorizer_for
    from hover_audio.app.opening import open_attached
    from hover_audio.vectors.mfcc import MFCCVectorizer
    from hover_audio.vectors.pitch import PitchVectorizer

    monkeypatch.setenv("HOVER_AUDIO_HOME", str(tmp_path / "home"))
    asked = argparse.Namespace(vectorizer=None)
    with monkeypatch.context() as older:
        older.setattr(MFCCVectorizer, "version", MFCCVectorizer.version - 1)
        ds = open_attached(str(clips), None)
        ds.vectorize(workers=1, progress=False)
        old = ds.vectors.copy()
        ds.close()
    with pytest.warns(UserWarning, match="older version of MFCCVectorizer"):
        ds = open_attached(str(clips), None)  # opened and saved, not vectorized: still known
    ds.set_labels([ds.keys[0]], "cat")
    ds.close()
    with pytest.warns(UserWarning, match="older version of MFCCVectorizer"):
        ds = open_attached(str(clips), None)
    try:
        assert ds.vectorizer is None and ds.stale_vectorizer is MFCCVectorizer
        assert _needs_vectors(ds, asked)
        capsys.readouterr()
        vectorizer = vectorizer_for(ds, asked)
        assert type(vectorizer) is MFCCVectorizer
        assert "older version of 'mfcc': computing them again" in capsys.readouterr().out
        # --vectorizer still wins over the one that made them
        assert type(vectorizer_for(ds, argparse.Namespace(vectorizer="pitch"))) is PitchVectorizer
        ds.vectorize(vectorizer, workers=1, progress=False)
        assert ds.stale_vectorizer is None and not _needs_vectors(ds, asked)
        np.testing.assert_array_equal(ds.vectors, old)  # (the same features, computed again)
    finally:
        ds.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = open_attached(str(clips), None)
    try:
        assert type(ds.vectorizer) is MFCCVectorizer and not _needs_vectors(ds, asked)
    finally:
        ds.close()


def test_a_deleted_row_stays_deleted_when_the_folder_is_served_again(tmp_path, clips, capsys,
                                                                     monkeypatch):
    """A row the person deleted is not taken for a new file at the next start (its file
    is still in the folder); a file that really is new is added."""
    from hover_audio.app.opening import open_attached

    monkeypatch.setenv("HOVER_AUDIO_HOME", str(tmp_path / "home"))
    first, second, third = sorted(clips.iterdir())
    workspace = str(tmp_path / "ws")
    ds = open_attached(str(clips), workspace)
    ds.remove([str(second)])
    ds.close()
    new = clips / "late.flac"
    new.write_bytes(third.read_bytes())
    capsys.readouterr()
    ds = open_attached(str(clips), workspace)
    try:
        assert f"1 new file(s) under {clips} added" in capsys.readouterr().out
        assert sorted(ds.keys) == sorted([str(first), str(third), str(new)])
    finally:
        ds.close()
    ds = open_attached(str(clips), workspace)  # and again: nothing new
    try:
        assert "new file(s)" not in capsys.readouterr().out and len(ds) == 3
    finally:
        ds.close()


def test_warnings_are_one_line_for_the_person(tmp_path, capsys):
    table = tmp_path / "twice.csv"
    pd.DataFrame({"audio": ["a.wav", "a.wav"], "label": ["dog", "cat"]}).to_csv(table,
                                                                                index=False)
    assert main(["info", str(table)]) == 0
    err = capsys.readouterr().err
    assert err.startswith("hover-audio: warning: 1 duplicate row(s) dropped"), err
    assert "UserWarning" not in err and ".py:" not in err


def test_files_that_are_not_what_the_command_reads(tmp_path, clips, capsys):
    (tmp_path / "empty.csv").write_text("")
    assert main(["info", str(tmp_path / "empty.csv")]) == 1
    assert f"{tmp_path / 'empty.csv'}: an empty file, not a table" in error_line(capsys)
    audio = next(clips.iterdir())
    assert main(["untag", str(audio)]) == 1
    assert f"{audio} is not a tag manifest" in error_line(capsys)


def test_an_import_says_what_it_changed_and_fails_when_nothing_was_read(tmp_path, clips,
                                                                         capsys):
    """A second import of the same file changes nothing and says so (no labels called new,
    no undo promised); a file none of whose records can be read exits 1."""
    import json

    from hover_audio import AudioDataset

    keys = sorted(str(path) for path in clips.iterdir())
    ours = AudioDataset.from_pandas(pd.DataFrame({"audio": keys}))
    ours.save(tmp_path / "ws")
    ours.close()
    theirs = tmp_path / "theirs.jsonl"
    theirs.write_text("".join(json.dumps({"audio": key, "label": f"L{at}"}) + "\n"
                              for at, key in enumerate(keys)))
    workspace = ["--workspace", str(tmp_path / "ws")]
    assert main(["import", str(theirs), *workspace]) == 0
    out = capsys.readouterr().out
    assert "new label(s), not in the workspace before: L0, L1, L2" in out
    assert "3 updated" in out and "one operation: undo reverts it" in out
    assert main(["import", str(theirs), *workspace]) == 0
    out = capsys.readouterr().out
    assert "new label(s)" not in out and "0 updated" in out and "nothing changed" in out
    broken = tmp_path / "broken.jsonl"
    broken.write_text("{not json\n{nor this\n")
    assert main(["import", str(broken), *workspace]) == 1
    captured = capsys.readouterr()
    assert "line 1" in captured.out and "line 2" in captured.out
    assert "no record of" in captured.err
