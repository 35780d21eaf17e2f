"""Faults of the dataset found by users coming from hover: datasets that would not pickle or
deep-copy (multiprocessing, joblib, notebooks), and label edits made in ``dfs`` as in hover,
lost without a word."""
from __future__ import annotations

import copy
import multiprocessing
import pickle
import threading
import warnings

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest

from hover_audio import ABSTAIN, AudioDataset, MFCCVectorizer, SupervisableAudioDataset
from hover_audio.dataset.subset_frames import UnsyncedEditsWarning

COPIES = {
    "pickle": lambda ds: pickle.loads(pickle.dumps(ds)),
    "deepcopy": copy.deepcopy,
    "copy": copy.copy,
}


def labeled(kind=AudioDataset) -> AudioDataset:
    """a, b, c: raw (a labeled); d, e: train; f: dev; g: test; user columns; vectors."""
    table = pd.DataFrame({
        "audio": [f"/clips/{name}.wav" for name in "abcdefg"],
        "label": ["dog", ABSTAIN, ABSTAIN, "dog", "cat", "dog", "bird"],
        "SUBSET": ["raw", "raw", "raw", "train", "train", "dev", "test"],
        "note": [f"n{i}" for i in range(7)],
        "score": np.linspace(0, 1, 7),
    })
    ds = kind.from_pandas(table)
    ds.vectors = np.arange(14, dtype=np.float32).reshape(7, 2)
    return ds


def labels_of(ds) -> dict:
    return dict(zip(ds.keys, ds.column("label")))


def subsets_of(ds) -> dict:
    return dict(zip(ds.keys, ds.column("SUBSET")))


# ------------------------------------------------------- pickle, copy, deepcopy
@pytest.mark.parametrize("kind", [AudioDataset, SupervisableAudioDataset])
@pytest.mark.parametrize("how", sorted(COPIES))
def test_a_copy_keeps_rows_labels_subsets_vectors_and_history(kind, how):
    ds = labeled(kind)
    ds.set_labels("/clips/b.wav", "owl")
    ds.commit("/clips/b.wav", "dev")
    ds.set_transcript("/clips/a.wav", "woof")
    clone = COPIES[how](ds)
    assert type(clone) is kind
    pdt.assert_frame_equal(clone.to_pandas(), ds.to_pandas())
    assert clone.keys == ds.keys and len(clone) == len(ds)
    np.testing.assert_array_equal(clone.vectors, ds.vectors)
    assert clone.classes == ds.classes and clone.label_order == ds.label_order
    assert clone.population().equals(ds.population())
    # its own lock, history and table: changing one never changes the other
    assert clone._mutex is not ds._mutex
    assert clone.undo() == 1 and clone.undo() == 1  # the transcript, then the commit
    assert subsets_of(clone)["/clips/b.wav"] == "raw"
    assert subsets_of(ds)["/clips/b.wav"] == "dev"
    ds.set_labels("/clips/c.wav", "bee")
    assert labels_of(clone)["/clips/c.wav"] == ABSTAIN
    assert clone.positions(["/clips/g.wav"]).tolist() == [6]
    # and it works: operations, events, searches over its vectors
    seen = []
    clone.on_change(seen.append)
    assert clone.set_labels(["/clips/c.wav"], "eel") == 1 and len(seen) == 1
    assert clone.similarity_index().top_k(clone.vectors[0], 1).tolist() == [0]


def test_a_copy_is_usable_from_several_threads():
    clone = copy.deepcopy(labeled())
    keys = clone.keys
    threads = [threading.Thread(target=clone.set_labels, args=([key], f"t{at}"))
               for at, key in enumerate(keys)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(clone.column("label")) == sorted(f"t{at}" for at in range(len(keys)))


def test_copies_share_no_listeners_and_deepcopy_shares_the_vectorizer():
    ds = labeled()
    ds.vectorizer = MFCCVectorizer()
    ds.on_change(lambda event: None)
    deep, pickled = copy.deepcopy(ds), pickle.loads(pickle.dumps(ds))
    assert deep._listeners == [] and pickled._listeners == []
    assert deep.vectorizer is ds.vectorizer  # settings (maybe a large model): shared
    assert type(pickled.vectorizer) is MFCCVectorizer
    assert pickled.vectorizer.get_params() == ds.vectorizer.get_params()


def _worker_labels(ds) -> tuple:
    return type(ds).__name__, len(ds), sorted(ds.classes), ds.vectors.shape


def test_a_dataset_goes_to_a_worker_process():
    ds = labeled(SupervisableAudioDataset)
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        assert pool.apply(_worker_labels, (ds,)) == ("SupervisableAudioDataset", 7,
                                                      ["bird", "cat", "dog"], (7, 2))


@pytest.mark.parametrize("how", sorted(COPIES))
def test_a_copy_of_a_workspace_dataset_is_detached(tmp_path, how):
    ds = labeled()
    ds.save(tmp_path / "ws")
    ds.set_labels("/clips/b.wav", "owl")
    files = {name: (tmp_path / "ws" / name).read_bytes()
             for name in ("journal.jsonl", "table.parquet", "vectors.npy")}
    clone = COPIES[how](ds)
    assert clone.workspace is None and "workspace" not in repr(clone)
    assert labels_of(clone)["/clips/b.wav"] == "owl"
    # the copy's operations stay in memory: never in the original's journal or snapshot
    clone.set_labels("/clips/c.wav", "eel")
    clone.undo(), clone.undo(), clone.redo()
    clone.close()
    with pytest.raises(ValueError, match="not attached to a workspace"):
        clone.save()
    assert {name: (tmp_path / "ws" / name).read_bytes() for name in files} == files
    # the original still journals; the copy becomes a workspace of its own only by save(folder)
    ds.set_labels("/clips/c.wav", "bee")
    clone.save(tmp_path / "copy")
    ds.close()
    assert labels_of(AudioDataset.load(tmp_path / "ws", attach=False))["/clips/c.wav"] == "bee"
    reread = AudioDataset.load(tmp_path / "copy", attach=False)
    assert labels_of(reread)["/clips/b.wav"] == "owl"
    assert labels_of(reread)["/clips/c.wav"] == ABSTAIN


def test_a_copy_of_a_closed_workspace_dataset_can_be_saved_anywhere(tmp_path):
    ds = labeled()
    ds.save(tmp_path / "ws")
    clone = pickle.loads(pickle.dumps(ds))
    with pytest.raises(RuntimeError, match="already open in this process"):
        clone.save(tmp_path / "ws", overwrite=True)  # the original holds it
    ds.close()
    assert clone.save(tmp_path / "ws", overwrite=True) == (tmp_path / "ws").absolute()
    clone.close()


# ----------------------------------------------------------- dfs, as in hover
def test_label_edits_in_dfs_apply_on_synchronize_as_one_undoable_operation():
    ds = labeled()
    ds.dfs["raw"].loc[ds.dfs["raw"]["label"] == ABSTAIN, "label"] = "dog"  # hover's idiom
    ds.dfs["train"].loc[ds.dfs["train"]["audio"] == "/clips/e.wav", "label"] = "lynx"
    assert labels_of(ds)["/clips/b.wav"] == ABSTAIN  # not before synchronize
    assert ds.synchronize_df_to_dictl() == 3
    assert [labels_of(ds)[f"/clips/{name}.wav"] for name in "bce"] == ["dog", "dog", "lynx"]
    assert ds.synchronize_df_to_dictl() == 0  # nothing more to apply
    assert ds.undo() == 3  # one step
    assert [labels_of(ds)[f"/clips/{name}.wav"] for name in "bce"] == [ABSTAIN, ABSTAIN, "cat"]
    assert ds.dfs["raw"]["label"].tolist() == ["dog", ABSTAIN, ABSTAIN]  # read again


def test_synchronize_is_journaled_before_it_returns(tmp_path):
    ds = labeled()
    ds.save(tmp_path / "ws")
    raw = ds.dfs["raw"]
    raw.loc[raw["audio"] == "/clips/b.wav", "label"] = "owl"
    ds.synchronize_df_to_dictl()
    # read by another reader while the dataset is still open: the journal has it
    assert labels_of(AudioDataset.load(tmp_path / "ws", attach=False))["/clips/b.wav"] == "owl"
    ds.close()


def test_a_frame_kept_in_a_variable_keeps_working_across_synchronizes():
    ds = labeled()
    raw = ds.dfs["raw"]
    raw.loc[1, "label"] = "owl"
    assert ds.synchronize_df_to_dictl() == 1
    raw.loc[2, "label"] = "eel"
    assert ds.synchronize_df_to_dictl() == 1
    assert ds.dfs["raw"] is raw
    assert [labels_of(ds)[f"/clips/{name}.wav"] for name in "bc"] == ["owl", "eel"]


def test_rows_moved_to_another_frame_are_committed_as_hover_does():
    ds = labeled()
    dfs = ds.dfs
    raw = dfs["raw"]
    chosen = raw[raw["audio"] == "/clips/b.wav"].assign(label="owl")
    dfs["dev"] = pd.concat([dfs["dev"], chosen], ignore_index=True)  # hover's commit
    dfs["raw"] = raw[raw["audio"] != "/clips/a.wav"]
    dfs["test"] = pd.concat([dfs["test"], raw[raw["audio"] == "/clips/a.wav"]])
    assert ds.synchronize_df_to_dictl() == 2
    assert subsets_of(ds)["/clips/b.wav"] == "dev" and labels_of(ds)["/clips/b.wav"] == "owl"
    assert subsets_of(ds)["/clips/a.wav"] == "test" and labels_of(ds)["/clips/a.wav"] == "dog"
    assert sorted(ds.dfs["dev"]["audio"]) == ["/clips/b.wav", "/clips/f.wav"]  # read again
    assert ds.undo() == 2
    assert subsets_of(ds)["/clips/b.wav"] == "raw" and labels_of(ds)["/clips/b.wav"] == ABSTAIN


@pytest.mark.parametrize("edit, message", [
    (lambda dfs: dfs["raw"].loc.__setitem__((1, "label"), ""),
     r"dfs\['raw'\] row 1 \(/clips/b.wav\): the label '' is not a non-empty string"),
    (lambda dfs: dfs["raw"].loc.__setitem__((2, "label"), None),
     r"row 2 \(/clips/c.wav\): the label (None|nan) is not"),
    (lambda dfs: dfs["train"].loc.__setitem__((0, "note"), "changed"),
     r"column 'note' changed in 1 row\(s\) \(\['/clips/d.wav'\]\).*set_derived"),
    (lambda dfs: dfs["train"].__setitem__("length", 1.5),
     r"column 'length' of dfs\['train'\] is new"),
    (lambda dfs: dfs["raw"].loc.__setitem__((0, "SUBSET"), "train"),
     r"column 'SUBSET' changed in 1 row\(s\).*commit\(keys, subset\)"),
    (lambda dfs: dfs["train"].loc.__setitem__((0, "label"), ABSTAIN),
     r"1 row\(s\) would be ABSTAIN outside raw: \['/clips/d.wav'\]"),
    (lambda dfs: dfs.__setitem__("dev", pd.concat([dfs["dev"], dfs["raw"].iloc[[1]]])),
     r"ABSTAIN outside raw: \['/clips/b.wav'\]"),
    (lambda dfs: dfs.__setitem__("raw", dfs["raw"].head(1)),
     r"2 row\(s\) of the dataset are in no dfs frame: \['/clips/b.wav', '/clips/c.wav'\]"),
    (lambda dfs: dfs["raw"].loc.__setitem__((0, "audio"), "/clips/z.wav"),
     r"1 row\(s\) in dfs are not rows of the dataset: \['/clips/z.wav'\]"),
    (lambda dfs: dfs.__setitem__("validation", dfs["dev"]),
     r"dfs\['validation'\]: not a subset"),
])
def test_what_synchronize_cannot_apply_raises_naming_it_and_changes_nothing(edit, message):
    ds = labeled()
    before, history = ds.to_pandas(), len(ds.history.undo_stack)
    dfs = ds.dfs
    dfs["raw"].loc[0, "label"] = "wolf"  # a good edit alongside: not applied either
    edit(dfs)
    with pytest.raises(ValueError, match=message):
        ds.synchronize_df_to_dictl()
    pdt.assert_frame_equal(ds.to_pandas(), before)
    assert len(ds.history.undo_stack) == history
    assert ds.dfs is dfs and dfs["raw"]["label"].iloc[0] == "wolf"  # the edits are kept
    with pytest.warns(UnsyncedEditsWarning, match="dropped the edits of"):
        ds.synchronize_dictl_to_df()
    assert ds.dfs["raw"]["label"].iloc[0] == "dog"


def test_edits_made_before_the_dataset_changed_are_kept_and_applied_over_it():
    ds = labeled()
    raw = ds.dfs["raw"]
    raw.loc[1, "label"] = "owl"
    ds.set_labels("/clips/c.wav", "eel")  # e.g. labeled in the app meanwhile
    with pytest.warns(UnsyncedEditsWarning, match="edits of 1 row"):
        assert ds.dfs["raw"] is raw
    assert ds.synchronize_df_to_dictl() == 1
    assert labels_of(ds)["/clips/b.wav"] == "owl"
    assert labels_of(ds)["/clips/c.wav"] == "eel"  # the other change is kept
    assert ds.dfs["raw"]["label"].tolist() == ["dog", "owl", "eel"]  # read again


def test_frames_without_edits_follow_the_dataset():
    ds = labeled()
    frames = ds.dfs
    ds.set_labels("/clips/c.wav", "eel")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ds.dfs is not frames and ds.dfs["raw"]["label"].tolist()[2] == "eel"


def test_save_close_and_export_warn_about_unsynchronized_edits(tmp_path):
    ds = labeled()
    ds.dfs["raw"].loc[1, "label"] = "owl"
    with pytest.warns(UnsyncedEditsWarning, match=r"saved without the edits of 1 row"):
        ds.save(tmp_path / "ws")
    with pytest.warns(UnsyncedEditsWarning, match=r"exported without the edits"):
        ds.export(tmp_path / "out.csv")
    with warnings.catch_warnings(record=True) as caught:  # one warning for one call
        warnings.simplefilter("always")
        ds.save(tmp_path / "elsewhere")
    assert [str(warning.message).split()[0] for warning in caught
            if warning.category is UnsyncedEditsWarning] == ["closed"]
    with pytest.warns(UnsyncedEditsWarning, match=r"closed without the edits"):
        ds.close()


def test_copies_do_not_take_unsynchronized_dfs_edits():
    ds = labeled()
    ds.dfs["raw"].loc[1, "label"] = "owl"
    clone = copy.deepcopy(ds)
    assert clone.synchronize_df_to_dictl() == 0
    assert clone.dfs["raw"]["label"].tolist() == ["dog", ABSTAIN, ABSTAIN]
    assert ds.synchronize_df_to_dictl() == 1
