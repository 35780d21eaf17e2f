"""Editing rows: move, split, add and remove ranges of a file, and transcripts; each undoable,
journaled, restored after a reload or a kill -9, and refused cleanly on bad input."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from . import audio_corpus as corpus
from hover_audio import AudioDataset, MFCCVectorizer


@pytest.fixture()
def ds(tmp_path):
    """Three tones of a 7 s file cut at silences, vectorized, mapped, in a workspace."""
    corpus.write_three_tones(tmp_path / "three.wav")
    corpus.write_tone_wav(tmp_path / "whole.wav", 2.0)
    dataset = AudioDataset.from_pandas(pd.concat([
        AudioDataset.from_folder(tmp_path, segment={"mode": "nonsilent"}).to_pandas()
        .query("audio.str.contains('three')", engine="python"),
        pd.DataFrame({"audio": [str(tmp_path / "whole.wav")], "note": ["mine"],
                      "label": ["ABSTAIN"], "SUBSET": ["raw"]}),
    ], ignore_index=True))
    dataset.vectorize(MFCCVectorizer(cache_dir=tmp_path / "cache"), workers=1, progress=False)
    dataset.compute_nd_embedding(method="pca")
    dataset.set_labels(dataset.keys[:1], "tone")
    dataset.save(tmp_path / "ws")
    yield dataset
    dataset.close()


def first_tone(ds):
    return next(key for key in ds.keys if "three.wav#t=0.45" in key)


def vector_of(ds, key):
    return ds.vectors[ds.positions([key])[0]]


def test_set_range_moves_a_range_and_keeps_its_row(ds, tmp_path):
    key = first_tone(ds)
    new = ds.set_range(key, 0.4, 1.9)
    assert new == f"{tmp_path / 'three.wav'}#t=0.4,1.9" and key not in ds.keys
    row = ds.to_pandas().set_index("audio").loc[new]
    assert row["label"] == "tone" and row["start"] == 0.4 and row["end"] == 1.9
    expected, _ = MFCCVectorizer(cache_dir=tmp_path / "cache").transform([new], progress=False)
    assert np.allclose(vector_of(ds, new), expected[0])
    assert np.isfinite(row[["embed_2d_0", "embed_2d_1"]].astype(float)).all()
    assert ds.undo() > 0
    assert key in ds.keys and new not in ds.keys
    assert ds.to_pandas().set_index("audio").loc[key, "label"] == "tone"


def test_times_are_kept_to_the_millisecond(ds, tmp_path):
    new = ds.set_range(first_tone(ds), 0.40049, 1.2345678)
    assert new.endswith("#t=0.4,1.235")


def test_split_makes_two_rows_that_cover_the_range(ds):
    key = first_tone(ds)
    left, right = ds.split(key, 1.0)
    assert left.endswith("#t=0.45,1") and right.endswith("#t=1,1.55")
    table = ds.to_pandas().set_index("audio")
    assert table.loc[[left, right], "label"].tolist() == ["tone", "tone"]
    assert np.isfinite(ds.vectors).all() and len(ds.vectors) == len(ds)
    ds.undo()
    assert key in ds.keys and left not in ds.keys and right not in ds.keys


def test_a_whole_file_splits_at_a_time(ds, tmp_path):
    whole = str(tmp_path / "whole.wav")
    left, right = ds.split(whole, 0.5)
    assert left == f"{whole}#t=0,0.5" and right == f"{whole}#t=0.5,2"
    assert ds.to_pandas().set_index("audio").loc[left, "note"] == "mine"


def test_add_range_with_a_label_and_overlap(ds, tmp_path):
    audio = str(tmp_path / "three.wav")
    key = ds.add_range(audio, 1.0, 3.2, label="mixed", subset="train")
    row = ds.to_pandas().set_index("audio").loc[key]
    assert row["label"] == "mixed" and row["SUBSET"] == "train"
    assert np.isfinite(vector_of(ds, key)).all()
    with pytest.raises(ValueError, match="already a row"):
        ds.add_range(audio, 1.0, 3.2)
    with pytest.raises(ValueError, match="give it a label"):
        ds.add_range(audio, 2, 3, subset="dev")


def test_add_range_keeps_a_relative_or_roundabout_path_absolute(ds, tmp_path, monkeypatch):
    """As from_pandas does: the key works from any current directory later."""
    monkeypatch.chdir(tmp_path)
    key = ds.add_range("three.wav", 0.5, 1.0, label="near", subset="train")
    assert key == f"{tmp_path / 'three.wav'}#t=0.5,1"
    other = ds.add_range(f"file://{tmp_path}/sub/../three.wav", 1.0, 1.5)
    assert other == f"{tmp_path / 'three.wav'}#t=1,1.5"
    monkeypatch.chdir("/")
    assert np.isfinite(vector_of(ds, key)).all()


def test_remove_and_undo_restores_rows_and_vectors(ds):
    keys = ds.keys[:2]
    before = {key: vector_of(ds, key).copy() for key in keys}
    assert ds.remove(keys) == 2
    assert not set(keys) & set(ds.keys) and len(ds.vectors) == len(ds)
    ds.undo()
    for key in keys:
        assert np.array_equal(vector_of(ds, key), before[key])
    ds.redo()
    assert not set(keys) & set(ds.keys)


@pytest.mark.parametrize("start, end, message", [
    (1.0, 1.0, "must be after the start"),
    (2.0, 1.0, "must be after the start"),
    (-0.5, 1.0, "cannot start before 0"),
    (1.0, 9.0, "past the end of the file"),
    (float("nan"), 1.0, "finite"),
    ("soon", 1.0, "a number"),
])
def test_bad_ranges_name_the_key_and_times_and_change_nothing(ds, start, end, message):
    key = first_tone(ds)
    table, vectors, undo = ds.to_pandas(), ds.vectors.copy(), len(ds.history.undo_stack)
    with pytest.raises(ValueError, match=message):
        ds.set_range(key, start, end)
    pd.testing.assert_frame_equal(ds.to_pandas(), table)
    assert np.array_equal(ds.vectors, vectors) and len(ds.history.undo_stack) == undo


def test_bad_splits_and_unknown_keys(ds, tmp_path):
    key = first_tone(ds)
    with pytest.raises(ValueError, match=r"cannot split at 2 s, outside the range 0.45-1.55 s"):
        ds.split(key, 2.0)
    with pytest.raises(ValueError, match="outside the range"):
        ds.split(key, 0.45)
    with pytest.raises(KeyError, match="missing.wav"):
        ds.set_range("missing.wav#t=0,1", 0, 1)
    with pytest.raises(KeyError, match="nope"):
        ds.remove(["nope"])
    with pytest.raises(KeyError, match="nope"):
        ds.set_transcript(["nope"], "x")
    with pytest.raises(TypeError, match="transcript is text"):
        ds.set_transcript([key], 3)


def test_transcripts_are_operations_and_are_exported(ds, tmp_path):
    key = first_tone(ds)
    assert ds.set_transcript([key], "hello world") == 1
    assert ds.set_transcript([key], "hello world") == 0  # no change, no operation
    table = ds.to_pandas().set_index("audio")
    assert table.loc[key, "transcript"] == "hello world"
    assert set(table.drop(index=key)["transcript"]) == {""}
    with pytest.raises(ValueError, match="changes only through operations"):
        ds.set_derived({"transcript": [""] * len(ds)})
    out = ds.export(tmp_path / "out.csv")
    assert pd.read_csv(out).set_index("audio").loc[key, "transcript"] == "hello world"
    ds.undo()
    assert ds.to_pandas().set_index("audio").loc[key, "transcript"] == ""


def test_edits_survive_a_reload_and_undo_after_it(ds, tmp_path):
    key = first_tone(ds)
    moved = ds.set_range(key, 0.4, 1.5)
    left, right = ds.split(moved, 1.0)
    ds.set_transcript([left], "one")
    added = ds.add_range(str(tmp_path / "three.wav"), 5.0, 6.5, label="late", subset="train")
    ds.remove([right])
    expected_keys, expected_vectors = list(ds.keys), ds.vectors.copy()
    ds.close()
    again = AudioDataset.load(tmp_path / "ws")
    try:
        assert again.keys == expected_keys
        assert np.allclose(again.vectors, expected_vectors, equal_nan=True)
        table = again.to_pandas().set_index("audio")
        assert table.loc[left, "transcript"] == "one" and table.loc[added, "label"] == "late"
        for _ in range(5):
            again.undo()
        assert key in again.keys and moved not in again.keys and added not in again.keys
        assert len(again.vectors) == len(again)
    finally:
        again.close()


KILLED = textwrap.dedent("""
    import sys, time
    from hover_audio import AudioDataset
    ds = AudioDataset.load(sys.argv[1])
    key = next(k for k in ds.keys if "three.wav#t=0.45" in k)
    left, right = ds.split(ds.set_range(key, 0.4, 1.5), 1.0)
    ds.set_transcript([left], "kept")
    print("acknowledged", flush=True)
    time.sleep(60)
""")


def test_edits_acknowledged_before_a_kill_are_restored(ds, tmp_path):
    folder = ds.workspace
    ds.close()
    child = subprocess.Popen([sys.executable, "-c", KILLED, str(folder)], stdout=subprocess.PIPE,
                             text=True, env=dict(os.environ))
    try:
        assert child.stdout.readline().strip() == "acknowledged"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    again = AudioDataset.load(folder)
    try:
        table = again.to_pandas().set_index("audio")
        left = f"{tmp_path / 'three.wav'}#t=0.4,1"
        assert table.loc[left, "transcript"] == "kept"
        assert f"{tmp_path / 'three.wav'}#t=1,1.5" in again.keys
        assert len(again.vectors) == len(again) and np.isfinite(again.vectors).all()
    finally:
        again.close()


def test_single_key_calls_take_a_path_object_and_refuse_a_list(ds, tmp_path):
    from pathlib import Path

    whole = tmp_path / "whole.wav"
    key = ds.add_range(whole, 0.5, 1.0)  # a Path, as from Path.glob
    assert key == f"{whole}#t=0.5,1"
    split_keys = ds.split(Path(key), 0.75)
    assert split_keys == (f"{whole}#t=0.5,0.75", f"{whole}#t=0.75,1")
    assert ds.set_range(Path(split_keys[0]), 0.4, 0.75) == f"{whole}#t=0.4,0.75"
    ds.add_tags([str(whole)], ["quiet"])
    assert ds.tags_of(whole) == {"quiet"}
    for call in (lambda: ds.tags_of([str(whole)]), lambda: ds.add_range([whole], 0, 1),
                 lambda: ds.split([key], 0.6)):
        with pytest.raises(TypeError, match="expected one clip key .* got list"):
            call()


def test_row_operations_count_the_rows_they_change(ds, tmp_path):
    """Taking a row out moves every later one; the count says how many rows changed."""
    key = first_tone(ds)
    assert ds.remove([key]) == 1 and ds.undo() == 1 and ds.redo() == 1 and ds.undo() == 1
    assert ds.split(key, 1.0) and ds.undo() == 2  # one row became two
    assert ds.set_labels([key], "chime") == 1  # a value change: the row itself
