"""In-memory behaviour of AudioDataset, through its public API only."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import soundfile
import pandas as pd
import pandas.testing as pdt
import pytest

from hover_audio import (
    ABSTAIN,
    AudioDataset,
    ChangeEvent,
    DuplicateKeysWarning,
    MFCCVectorizer,
    SupervisableAudioDataset,
)

SUBSET_NAMES = ["raw", "train", "dev", "test"]


# ---------------------------------------------------------------- helpers
def table(rows, **extra) -> pd.DataFrame:
    """rows: (audio, label, SUBSET) tuples -> DataFrame, plus extra columns."""
    frame = pd.DataFrame(rows, columns=["audio", "label", "SUBSET"])
    for name, values in extra.items():
        frame[name] = values
    return frame


def labels_of(ds: AudioDataset) -> dict:
    frame = ds.to_pandas()
    return dict(zip(ds.keys, frame["label"]))


def subsets_of(ds: AudioDataset) -> dict:
    frame = ds.to_pandas()
    return dict(zip(ds.keys, frame["SUBSET"]))


@pytest.fixture
def ds() -> AudioDataset:
    """a, b: raw with labels; c, d: raw ABSTAIN; e, f: train; g: dev; h: test."""
    return AudioDataset.from_pandas(
        table(
            [
                ("a.wav", "dog", "raw"),
                ("b.wav", "cat", "raw"),
                ("c.wav", ABSTAIN, "raw"),
                ("d.wav", ABSTAIN, "raw"),
                ("e.wav", "dog", "train"),
                ("f.wav", "cat", "train"),
                ("g.wav", "dog", "dev"),
                ("h.wav", "bird", "test"),
            ],
            note=[f"n{i}" for i in range(8)],
        )
    )


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


# ---------------------------------------------------------------- identity
def test_supervisables_class_methods_build_it():
    ds = SupervisableAudioDataset.from_pandas(pd.DataFrame({"audio": ["/x.wav"]}))
    assert type(ds) is SupervisableAudioDataset and isinstance(ds, AudioDataset)


# ---------------------------------------------------------------- from_pandas
def test_from_pandas_defaults_raw_and_abstain():
    ds = AudioDataset.from_pandas(pd.DataFrame({"audio": ["x.wav", "y.wav"]}))
    frame = ds.to_pandas()
    assert list(frame.columns) == ["audio", "label", "SUBSET"]
    assert list(frame["audio"]) == ["x.wav", "y.wav"]
    assert list(frame["label"]) == [ABSTAIN, ABSTAIN]
    assert list(frame["SUBSET"]) == ["raw", "raw"]
    assert len(ds) == 2


def test_from_pandas_names_each_row_whose_range_in_its_key_is_bad():
    """A key's media fragment is read at import, not when the clip is first vectorized;
    a '#' in a file name is no fragment."""
    df = pd.DataFrame({"audio": ["long.wav#t=3,1.5", "b.wav#t=abc", "Take #3.wav",
                                 "c.wav#t=1.0,2"]})
    with pytest.raises(ValueError) as caught:
        AudioDataset.from_pandas(df)
    message = str(caught.value)
    assert "2 problem(s)" in message
    assert "row 0: bad clip key 'long.wav#t=3,1.5': end 1.5 is not after start 3" in message
    assert "row 1: bad clip key 'b.wav#t=abc'" in message
    assert AudioDataset.from_pandas(df[2:]).keys == ["Take #3.wav", "c.wav#t=1,2"]


def test_from_pandas_no_subset_column_puts_labeled_rows_in_raw():
    ds = AudioDataset.from_pandas(pd.DataFrame({"audio": ["x", "y"], "label": ["dog", ABSTAIN]}))
    assert subsets_of(ds) == {"x": "raw", "y": "raw"}
    assert labels_of(ds) == {"x": "dog", "y": ABSTAIN}
    assert ds.classes == []  # raw-only labels are not classes


def test_from_pandas_renames_custom_columns_and_keeps_user_columns_in_order():
    df = pd.DataFrame(
        {
            "z_note": [1, 2],
            "path": ["x.wav", "y.wav"],
            "a_note": ["p", "q"],
            "split": ["train", "raw"],
            "y": ["dog", ABSTAIN],
            "m": [0.5, 1.5],
        }
    )
    ds = AudioDataset.from_pandas(df, feature_key="path", label_key="y", subset_key="split")
    frame = ds.to_pandas()
    assert list(frame.columns) == ["audio", "label", "SUBSET", "z_note", "a_note", "m"]
    assert list(frame["audio"]) == ["x.wav", "y.wav"]
    assert list(frame["label"]) == ["dog", ABSTAIN]
    assert list(frame["SUBSET"]) == ["train", "raw"]
    assert list(frame["z_note"]) == [1, 2]
    assert list(frame["a_note"]) == ["p", "q"]
    assert list(frame["m"]) == [0.5, 1.5]


def test_from_pandas_custom_feature_key_only():
    ds = AudioDataset.from_pandas(pd.DataFrame({"url": ["u1", "u2"]}), feature_key="url")
    frame = ds.to_pandas()
    assert list(frame.columns) == ["audio", "label", "SUBSET"]
    assert list(frame["audio"]) == ["u1", "u2"]
    assert list(frame["label"]) == [ABSTAIN, ABSTAIN]


def test_from_pandas_takes_path_objects_as_keys(tmp_path):
    """A column of ``Path.glob`` results works like the same paths as text, refused
    values are still named by row."""
    paths = [tmp_path / "b.wav", tmp_path / "a b.wav"]
    df = pd.DataFrame({"audio": paths, "label": ["dog", "cat"]})
    ds = AudioDataset.from_pandas(df)
    assert ds.keys == [str(path) for path in paths]
    assert list(ds.to_pandas()["audio"]) == [str(path) for path in paths]
    assert list(df["audio"]) == paths  # the input is left alone
    same = AudioDataset.from_pandas(pd.DataFrame({"audio": [str(p) for p in paths],
                                                  "label": ["dog", "cat"]}))
    pdt.assert_frame_equal(ds.to_pandas(), same.to_pandas())
    with pytest.raises(ValueError, match=r"row 1: key must be a path or URL .* got 7"):
        AudioDataset.from_pandas(pd.DataFrame({"audio": [paths[0], 7]}))
    # and rows are named by path objects like by their text
    assert list(ds.positions(paths[::-1])) == [1, 0] and list(ds.positions(paths[1])) == [1]
    assert ds.set_labels(paths[0], "bird") == 1 and ds.commit([paths[0]], "train") == 1
    assert list(ds.to_pandas()[["label", "SUBSET"]].iloc[0]) == ["bird", "train"]


def test_from_pandas_refuses_range_columns_that_disagree_with_the_key():
    """A start/end/channel column must be a number and agree with the key's own fragment;
    each bad row is named at the edge, not later by vectorize."""
    df = pd.DataFrame({"audio": ["a.wav#t=1,2", "b.wav", "c.wav", "d.wav#channel=1", "e.wav"],
                       "start": [3.0, "x", np.inf, None, 1], "end": [2.0, None, None, None, 2],
                       "channel": [None, None, None, 0, None]}, index=list("vwxyz"))
    with pytest.raises(ValueError) as caught:
        AudioDataset.from_pandas(df)
    message = str(caught.value)
    assert "4 problem(s)" in message
    assert "row 0 (index 'v')" in message and "start column 3 disagrees" in message
    assert "row 1 (index 'w')" in message and "'x' is not a number" in message
    assert "row 2 (index 'x')" in message and "not finite" in message
    assert "row 3 (index 'y')" in message and "channel" in message
    ok = AudioDataset.from_pandas(df.iloc[[4]])
    assert ok.keys == ["e.wav#t=1,2"]


def test_from_pandas_does_not_modify_the_input():
    df = pd.DataFrame({"path": ["x", "y"], "other": [1, 2]}, index=[10, 20])
    before = df.copy()
    AudioDataset.from_pandas(df, feature_key="path")
    pdt.assert_frame_equal(df, before)


@pytest.mark.parametrize(
    "df, kwargs",
    [
        (pd.DataFrame({"path": ["x"]}), {}),
        (pd.DataFrame({"audio": ["x"]}), {"feature_key": "path"}),
        (pd.DataFrame({"label": ["dog"]}), {}),
    ],
)
def test_from_pandas_missing_feature_column_raises(df, kwargs):
    with pytest.raises(ValueError):
        AudioDataset.from_pandas(df, **kwargs)


def test_from_pandas_rename_collision_raises():
    df = pd.DataFrame({"path": ["x"], "audio": ["y"]})
    with pytest.raises(ValueError):
        AudioDataset.from_pandas(df, feature_key="path")


@pytest.mark.parametrize(
    "columns, words",
    [
        ({"audio": ["a", ""]}, ["empty key"]),
        ({"audio": ["a", "   "]}, ["empty key"]),
        ({"audio": ["a", np.nan]}, ["empty key"]),
        ({"audio": ["a", None]}, ["empty key"]),
        ({"audio": ["a", "b"], "SUBSET": ["raw", "validation"]}, ["unknown subset", "validation"]),
        ({"audio": ["a", "b"], "label": ["x", 3]}, ["label must be a string", "int"]),
        ({"audio": ["a", "b"], "label": ["x", np.nan]}, ["missing label"]),
        ({"audio": ["a", "b"], "label": ["x", None]}, ["missing label"]),
        ({"audio": ["a", "b"], "label": ["x", ""]}, ["empty label"]),
    ],
)
def test_from_pandas_bad_value_names_row_and_problem(columns, words):
    with pytest.raises(ValueError) as info:
        AudioDataset.from_pandas(pd.DataFrame(columns))
    message = str(info.value)
    assert "row 1" in message
    assert "row 0" not in message  # the good row is not blamed
    for word in words:
        assert word in message


def test_from_pandas_reports_every_bad_row():
    df = pd.DataFrame(
        {
            "audio": ["ok.wav", "", "b.wav", "c.wav"],
            "label": ["x", "x", 7, "x"],
            "SUBSET": ["raw", "raw", "raw", "nope"],
        }
    )
    with pytest.raises(ValueError) as info:
        AudioDataset.from_pandas(df)
    message = str(info.value)
    assert "row 1" in message and "empty key" in message
    assert "row 2" in message and "label must be a string" in message
    assert "row 3" in message and "unknown subset" in message
    assert "row 0" not in message


def test_from_pandas_unique_keys_emit_no_duplicate_warning():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        AudioDataset.from_pandas(pd.DataFrame({"audio": ["a", "b", "c"]}))
    assert not [w for w in caught if issubclass(w.category, DuplicateKeysWarning)]


@pytest.mark.parametrize(
    "dtype",
    [
        object,
        "string",
        "category",
    ],
)
def test_operations_work_whatever_the_input_string_dtype(dtype):
    df = pd.DataFrame(
        {
            "audio": ["a", "b", "c"],
            "label": pd.Series(["x", "y", ABSTAIN], dtype=dtype),
            "SUBSET": pd.Series(["train", "raw", "raw"], dtype=dtype),
        }
    )
    ds = AudioDataset.from_pandas(df)
    assert ds.set_labels(["b", "c"], "new") == 2
    assert ds.commit(["b"], "dev") == 1
    assert labels_of(ds) == {"a": "x", "b": "new", "c": "new"}
    assert subsets_of(ds) == {"a": "train", "b": "dev", "c": "raw"}
    assert ds.undo() == 1 and ds.undo() == 2
    assert labels_of(ds) == {"a": "x", "b": "y", "c": ABSTAIN}
    assert subsets_of(ds) == {"a": "train", "b": "raw", "c": "raw"}


# ---------------------------------------------------------------- to_pandas / views
def test_to_pandas_round_trip_is_lossless(ds):
    pdt.assert_frame_equal(AudioDataset.from_pandas(ds.to_pandas()).to_pandas(), ds.to_pandas())


def test_round_trip_after_operations_keeps_raw_labels(ds):
    ds.set_labels(["c.wav", "d.wav"], "fox")  # labeled but still raw
    ds.commit("e.wav", "raw")  # labeled row back to raw
    ds.set_labels("g.wav", "cat")
    frame = ds.to_pandas()
    again = AudioDataset.from_pandas(frame).to_pandas()
    pdt.assert_frame_equal(again, frame)
    raw = again[again["SUBSET"] == "raw"].set_index("audio")["label"]
    assert raw["c.wav"] == "fox" and raw["e.wav"] == "dog" and raw["a.wav"] == "dog"


def test_to_pandas_is_a_copy(ds):
    frame = ds.to_pandas()
    frame.loc[0, "label"] = "hacked"
    frame.loc[0, "SUBSET"] = "test"
    assert labels_of(ds)["a.wav"] == "dog"
    assert subsets_of(ds)["a.wav"] == "raw"


def test_dfs_splits_rows_by_subset(ds):
    dfs = ds.dfs
    assert set(dfs) == set(SUBSET_NAMES)
    assert sorted(dfs["raw"]["audio"]) == ["a.wav", "b.wav", "c.wav", "d.wav"]
    assert sorted(dfs["train"]["audio"]) == ["e.wav", "f.wav"]
    assert list(dfs["dev"]["audio"]) == ["g.wav"]
    assert list(dfs["test"]["audio"]) == ["h.wav"]
    for name, frame in dfs.items():
        assert list(frame.columns) == ["audio", "label", "SUBSET", "note"]
        assert (frame["SUBSET"] == name).all()
    assert sum(len(frame) for frame in dfs.values()) == len(ds)


def test_dfs_are_a_working_copy_applied_by_synchronize(ds):
    train = ds.dfs["train"]
    train.loc[0, "label"] = "hacked"
    assert "hacked" not in set(ds.to_pandas()["label"])  # not the table itself
    assert ds.dfs["train"] is train  # the same frame until synchronized: the edit is kept
    assert ds.synchronize_df_to_dictl() == 1
    assert labels_of(ds)["e.wav"] == "hacked"


def test_dfs_follow_commit(ds):
    ds.commit(["a.wav", "b.wav"], "dev")
    assert sorted(ds.dfs["dev"]["audio"]) == ["a.wav", "b.wav", "g.wav"]
    assert sorted(ds.dfs["raw"]["audio"]) == ["c.wav", "d.wav"]


def test_classes_sorted_labeled_subsets_only(ds):
    assert ds.classes == ["bird", "cat", "dog"]
    ds.set_labels(["c.wav"], "zebra")  # raw only: not a class
    assert ds.classes == ["bird", "cat", "dog"]
    ds.commit("c.wav", "dev")
    assert ds.classes == ["bird", "cat", "dog", "zebra"]


def test_classes_exclude_abstain_even_in_train():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ABSTAIN in train is warned about
        ds = AudioDataset.from_pandas(table([("a", ABSTAIN, "train"), ("b", "x", "test")]))
    assert ds.classes == ["x"]


def test_population_counts(ds):
    pop = ds.population()
    assert list(pop.columns) == SUBSET_NAMES
    assert set(pop.index) == {ABSTAIN, "bird", "cat", "dog"}
    assert len(pop.index) == 4
    for column in pop.columns:
        assert pd.api.types.is_integer_dtype(pop[column])
    expected = {
        ABSTAIN: [2, 0, 0, 0],
        "dog": [1, 1, 1, 0],
        "cat": [1, 1, 0, 0],
        "bird": [0, 0, 0, 1],
    }
    for label, counts in expected.items():
        assert pop.loc[label].tolist() == counts
    assert int(pop.to_numpy().sum()) == len(ds)


def test_population_includes_abstain_row_when_nothing_abstains():
    ds = AudioDataset.from_pandas(table([("a", "x", "train"), ("b", "y", "raw")]))
    pop = ds.population()
    assert ABSTAIN in pop.index
    assert pop.loc[ABSTAIN].tolist() == [0, 0, 0, 0]
    assert pop.loc["x"].tolist() == [0, 1, 0, 0]
    assert pop.loc["y"].tolist() == [1, 0, 0, 0]


def test_population_follows_operations(ds):
    ds.set_labels(["c.wav", "d.wav"], "cat")
    ds.commit(["c.wav", "d.wav"], "test")
    pop = ds.population()
    assert pop.loc[ABSTAIN].tolist() == [0, 0, 0, 0]
    assert pop.loc["cat"].tolist() == [1, 1, 0, 2]


def test_columns_read_before_a_change_show_it_after(ds):
    """Columns and keys are kept between changes (a page reads them many times per
    action): every kind of change shows in the next read, and arrays stay read-only."""
    def read():
        return {name: list(ds.column(name)) for name in ("label", "SUBSET", "note")}

    first, keys = read(), ds.keys
    assert ds.column("label") is ds.column("label")  # no change: the same array
    ds.keys.append("x.wav")  # a new list each time: changing it changes nothing
    assert ds.keys == keys
    with pytest.raises(ValueError):
        ds.column("label")[0] = "wolf"
    ds.set_labels(["c.wav"], "fox")
    assert read()["label"][2] == "fox"
    ds.commit(["c.wav"], "dev")
    assert read()["SUBSET"][2] == "dev"
    ds.undo()
    ds.undo()
    assert read() == first
    ds.redo()
    assert read()["label"][2] == "fox"
    ds.set_derived({"score": np.arange(8.0)})
    assert list(ds.column("score")) == list(np.arange(8.0))
    ds.set_derived({"score": np.ones(8)})
    assert list(ds.column("score")) == [1.0] * 8
    assert ds.remove(["a.wav"]) == 1
    after = read()
    assert len(after["label"]) == 7 and after["note"][0] == "n1"
    assert ds.keys == keys[1:]
    ds.undo()  # the row comes back at the end
    assert read()["note"] == first["note"][1:] + first["note"][:1]
    assert ds.keys == keys[1:] + keys[:1]
    assert ds.population().loc["fox"].tolist() == [1, 0, 0, 0]


# ---------------------------------------------------------------- set_labels
def test_set_labels_single_string_key(ds):
    assert ds.set_labels("c.wav", "fox") == 1
    assert labels_of(ds)["c.wav"] == "fox"


def test_set_labels_list_returns_changed_count_and_skips_unchanged(ds):
    # a is already dog; b (cat) and c (ABSTAIN) change
    assert ds.set_labels(["a.wav", "b.wav", "c.wav"], "dog") == 2
    labels = labels_of(ds)
    assert labels["a.wav"] == labels["b.wav"] == labels["c.wav"] == "dog"
    assert labels["d.wav"] == ABSTAIN
    assert ds.set_labels(["a.wav", "b.wav"], "dog") == 0


def test_set_labels_same_key_twice_counts_once(ds):
    assert ds.set_labels(["c.wav", "c.wav"], "fox") == 1


def test_set_labels_does_not_move_or_reorder_rows(ds):
    before = ds.to_pandas()
    ds.set_labels(["e.wav", "a.wav"], "owl")
    after = ds.to_pandas()
    assert list(after["audio"]) == list(before["audio"])
    assert list(after["SUBSET"]) == list(before["SUBSET"])
    assert list(after["note"]) == list(before["note"])


def test_set_labels_unknown_key_raises_and_changes_nothing(ds):
    before = ds.to_pandas()
    with pytest.raises(KeyError) as info:
        ds.set_labels(["a.wav", "nope.wav"], "fox")
    assert "nope.wav" in str(info.value)
    pdt.assert_frame_equal(ds.to_pandas(), before)
    assert ds.undo() == 0  # nothing was recorded


@pytest.mark.parametrize("key", ["e.wav", "g.wav", "h.wav"])  # train, dev, test
def test_set_labels_abstain_outside_raw_raises_and_changes_nothing(ds, key):
    before = ds.to_pandas()
    with pytest.raises(ValueError) as info:
        ds.set_labels(["a.wav", key], ABSTAIN)
    assert key in str(info.value)
    pdt.assert_frame_equal(ds.to_pandas(), before)


def test_set_labels_abstain_on_raw_is_allowed(ds):
    assert ds.set_labels(["a.wav", "b.wav"], ABSTAIN) == 2
    assert labels_of(ds)["a.wav"] == ABSTAIN


@pytest.mark.parametrize("label", ["", "   ", None, 3, 1.5, b"dog", ["dog", "cat"], [None]])
def test_set_labels_bad_label_raises_and_changes_nothing(ds, label):
    before = ds.to_pandas()
    with pytest.raises(ValueError):
        ds.set_labels(["a.wav"], label)
    pdt.assert_frame_equal(ds.to_pandas(), before)


def test_one_label_per_key_is_one_operation_and_one_undo_step(ds):
    """Accepting predictions sets many labels at once: one action, one Undo."""
    before = labels_of(ds)
    assert ds.set_labels(["a.wav", "b.wav", "e.wav"], ["bird", "dog", "cat"]) == 3
    after = labels_of(ds)
    assert (after["a.wav"], after["b.wav"], after["e.wav"]) == ("bird", "dog", "cat")
    assert ds.undo() == 3
    assert labels_of(ds) == before
    assert ds.redo() == 3 and labels_of(ds) == after


# ---------------------------------------------------------------- commit
def test_commit_moves_rows_and_returns_count(ds):
    assert ds.commit(["a.wav", "b.wav", "e.wav"], "test") == 3
    subsets = subsets_of(ds)
    assert subsets["a.wav"] == subsets["b.wav"] == subsets["e.wav"] == "test"
    assert labels_of(ds)["a.wav"] == "dog"  # labels untouched
    assert ds.commit(["a.wav", "b.wav"], "test") == 0


def test_commit_to_raw_allows_abstain_rows(ds):
    assert ds.commit(["c.wav", "e.wav"], "raw") == 1  # c already raw
    assert subsets_of(ds)["e.wav"] == "raw"


@pytest.mark.parametrize("subset", ["train", "dev", "test"])
def test_commit_abstain_rows_raises_lists_keys_and_moves_nothing(ds, subset):
    before = ds.to_pandas()
    with pytest.raises(ValueError) as info:
        ds.commit(["a.wav", "c.wav", "d.wav"], subset)
    message = str(info.value)
    assert "c.wav" in message and "d.wav" in message
    assert "a.wav" not in message
    pdt.assert_frame_equal(ds.to_pandas(), before)


@pytest.mark.parametrize("subset", ["validation", "Train", "", None])
def test_commit_unknown_subset_raises(ds, subset):
    before = ds.to_pandas()
    with pytest.raises(ValueError):
        ds.commit(["a.wav"], subset)
    pdt.assert_frame_equal(ds.to_pandas(), before)


def test_commit_unknown_key_raises_keyerror(ds):
    before = ds.to_pandas()
    with pytest.raises(KeyError):
        ds.commit(["a.wav", "ghost.wav"], "train")
    pdt.assert_frame_equal(ds.to_pandas(), before)


# ---------------------------------------------------------------- undo / redo
def test_undo_redo_nothing_returns_zero(ds):
    assert ds.undo() == 0
    assert ds.redo() == 0


def test_undo_and_redo_set_labels(ds):
    original = ds.to_pandas()
    ds.set_labels(["c.wav", "d.wav"], "fox")
    labeled = ds.to_pandas()
    assert ds.undo() == 2
    pdt.assert_frame_equal(ds.to_pandas(), original)
    assert ds.redo() == 2
    pdt.assert_frame_equal(ds.to_pandas(), labeled)
    assert ds.redo() == 0


def test_undo_commit(ds):
    original = ds.to_pandas()
    ds.commit(["a.wav", "b.wav"], "dev")
    assert ds.undo() == 2
    pdt.assert_frame_equal(ds.to_pandas(), original)


def test_undo_restores_each_rows_own_old_label(ds):
    # a: dog, b: cat, c: ABSTAIN, h: bird (test)
    ds.set_labels(["a.wav", "b.wav", "c.wav", "h.wav"], "owl")
    assert set(labels_of(ds)[k] for k in ["a.wav", "b.wav", "c.wav", "h.wav"]) == {"owl"}
    assert ds.undo() == 4
    labels = labels_of(ds)
    assert labels["a.wav"] == "dog"
    assert labels["b.wav"] == "cat"
    assert labels["c.wav"] == ABSTAIN
    assert labels["h.wav"] == "bird"


def test_undo_only_restores_rows_that_changed(ds):
    ds.set_labels("b.wav", "owl")
    ds.set_labels(["a.wav", "b.wav"], "dog")  # a unchanged, b owl -> dog
    assert ds.undo() == 1
    assert labels_of(ds)["b.wav"] == "owl"
    assert labels_of(ds)["a.wav"] == "dog"


def test_several_undos_then_redos(ds):
    states = [ds.to_pandas()]
    ds.set_labels(["c.wav"], "fox")
    states.append(ds.to_pandas())
    ds.commit(["c.wav"], "train")
    states.append(ds.to_pandas())
    ds.set_labels(["c.wav", "e.wav"], "wolf")
    states.append(ds.to_pandas())

    assert ds.undo() == 2
    pdt.assert_frame_equal(ds.to_pandas(), states[2])
    assert ds.undo() == 1
    pdt.assert_frame_equal(ds.to_pandas(), states[1])
    assert ds.undo() == 1
    pdt.assert_frame_equal(ds.to_pandas(), states[0])
    assert ds.undo() == 0

    assert ds.redo() == 1
    pdt.assert_frame_equal(ds.to_pandas(), states[1])
    assert ds.redo() == 1
    assert ds.redo() == 2
    pdt.assert_frame_equal(ds.to_pandas(), states[3])
    assert ds.redo() == 0


def test_new_operation_clears_redo(ds):
    ds.set_labels("c.wav", "fox")
    ds.undo()
    ds.set_labels("d.wav", "owl")
    assert ds.redo() == 0
    labels = labels_of(ds)
    assert labels["c.wav"] == ABSTAIN
    assert labels["d.wav"] == "owl"


def test_failed_operation_keeps_redo(ds):
    ds.set_labels("c.wav", "fox")
    ds.undo()
    with pytest.raises(KeyError):
        ds.set_labels("ghost.wav", "owl")
    with pytest.raises(ValueError):
        ds.commit("d.wav", "train")  # ABSTAIN
    assert ds.redo() == 1
    assert labels_of(ds)["c.wav"] == "fox"


# ---------------------------------------------------------------- dedup
def test_dedup_all_four_subsets_test_wins():
    df = table(
        [
            ("k.wav", "r", "raw"),
            ("k.wav", "tr", "train"),
            ("k.wav", "te", "test"),
            ("k.wav", "d", "dev"),
        ]
    )
    with pytest.warns(DuplicateKeysWarning):
        ds = AudioDataset.from_pandas(df)
    frame = ds.to_pandas()
    assert len(frame) == 1
    assert frame.loc[0, "audio"] == "k.wav"
    assert frame.loc[0, "SUBSET"] == "test"
    assert frame.loc[0, "label"] == "te"


@pytest.mark.parametrize(
    "rows, subset, label",
    [
        ([("k", "r", "raw"), ("k", "tr", "train")], "train", "tr"),
        ([("k", "tr", "train"), ("k", "r", "raw")], "train", "tr"),
        ([("k", "first", "train"), ("k", "second", "train")], "train", "second"),
        ([("k", "d", "dev"), ("k", "tr", "train"), ("k", "r", "raw")], "dev", "d"),
        ([("k", "t1", "test"), ("k", "tr", "train"), ("k", "t2", "test")], "test", "t2"),
        ([("k", "x", "raw"), ("k", "y", "raw")], "raw", "y"),
    ],
)
def test_dedup_rules(rows, subset, label):
    with pytest.warns(DuplicateKeysWarning, match="'k'"):
        ds = AudioDataset.from_pandas(table(rows))
    assert ds.keys == ["k"]
    assert subsets_of(ds) == {"k": subset}
    assert labels_of(ds) == {"k": label}


def test_dedup_keeps_winning_rows_user_columns_and_other_keys():
    df = table(
        [
            ("a", "x", "raw"),
            ("b", "y", "train"),
            ("a", "z", "dev"),
            ("c", ABSTAIN, "raw"),
            ("b", "w", "train"),
        ],
        note=["a-raw", "b-1", "a-dev", "c", "b-2"],
    )
    with pytest.warns(DuplicateKeysWarning) as record:
        ds = AudioDataset.from_pandas(df)
    message = " ".join(str(w.message) for w in record if w.category is DuplicateKeysWarning)
    assert "'a'" in message and "'b'" in message and "'c'" not in message
    frame = ds.to_pandas().set_index("audio")
    assert sorted(frame.index) == ["a", "b", "c"]
    assert frame.loc["a", "label"] == "z" and frame.loc["a", "note"] == "a-dev"
    assert frame.loc["b", "label"] == "w" and frame.loc["b", "note"] == "b-2"
    assert frame.loc["c", "label"] == ABSTAIN
    assert ds.classes == ["w", "z"]
    assert "x" not in ds.label_order and "y" not in ds.label_order


def test_dedup_on_unique_dataset_returns_empty_frame(ds):
    before = ds.to_pandas()
    report = ds.dedup()
    assert isinstance(report, pd.DataFrame)
    assert report.empty
    pdt.assert_frame_equal(ds.to_pandas(), before)


def test_dedup_after_from_pandas_with_duplicates_is_empty():
    with pytest.warns(DuplicateKeysWarning):
        ds = AudioDataset.from_pandas(table([("a", "x", "raw"), ("a", "y", "train")]))
    assert ds.dedup().empty
    assert len(ds) == 1


# ---------------------------------------------------------------- ranged clips
@pytest.fixture
def ranged() -> AudioDataset:
    df = pd.DataFrame(
        {
            "audio": ["long.wav", "long.wav", "other.wav"],
            "start": [0.0, 1.5, np.nan],
            "end": [1.0, 3.0, np.nan],
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", DuplicateKeysWarning)
        return AudioDataset.from_pandas(df)


def test_ranges_of_one_file_are_distinct_clips(ranged):
    assert len(ranged) == 2 + 1
    assert ranged.keys == ["long.wav#t=0,1", "long.wav#t=1.5,3", "other.wav"]
    frame = ranged.to_pandas()
    assert list(frame["audio"]) == ["long.wav", "long.wav", "other.wav"]
    assert list(frame.columns) == ["audio", "label", "SUBSET", "start", "end"]


def test_set_labels_with_ranged_key(ranged):
    assert ranged.set_labels("long.wav#t=1.5,3", "speech") == 1
    frame = ranged.to_pandas()
    assert list(frame["label"]) == [ABSTAIN, "speech", ABSTAIN]
    with pytest.raises(KeyError):
        ranged.set_labels("long.wav", "speech")  # the bare file is not a clip here


def test_same_range_twice_is_deduped():
    df = pd.DataFrame(
        {
            "audio": ["f.wav", "f.wav", "f.wav"],
            "start": [0.0, 0.0, 2.0],
            "end": [1.0, 1.0, 3.0],
            "label": ["a", "b", "c"],
            "SUBSET": ["train", "train", "raw"],
        }
    )
    with pytest.warns(DuplicateKeysWarning):
        ds = AudioDataset.from_pandas(df)
    assert sorted(ds.keys) == ["f.wav#t=0,1", "f.wav#t=2,3"]
    assert labels_of(ds)["f.wav#t=0,1"] == "b"


def test_one_file_spelled_three_ways_is_one_row(tmp_path):
    """A path through '..', a file:// URL and the plain path name one clip: one row is
    kept (test over dev over train), under the plain path."""
    (tmp_path / "clips").mkdir()
    path = tmp_path / "clips" / "a.wav"
    soundfile.write(path, np.zeros(800, dtype=np.float32), 8000)
    spellings = [str(path), f"{tmp_path}/clips/../clips/a.wav", f"file://{path}"]
    df = pd.DataFrame({"audio": spellings, "label": ["x", "y", "z"],
                       "SUBSET": ["train", "dev", "test"]})
    with pytest.warns(DuplicateKeysWarning):
        ds = AudioDataset.from_pandas(df)
    assert ds.keys == [str(path)] and labels_of(ds)[str(path)] == "z"
    assert ds.positions([spellings[1], spellings[2]]).tolist() == [0, 0]


def test_ranged_round_trip_is_lossless(ranged):
    ranged.set_labels("long.wav#t=0,1", "music")
    pdt.assert_frame_equal(
        AudioDataset.from_pandas(ranged.to_pandas()).to_pandas(), ranged.to_pandas()
    )


# ---------------------------------------------------------------- label_order
def test_label_order_covers_labels_without_abstain(ds):
    order = ds.label_order
    assert set(order) == {"dog", "cat", "bird"}
    assert len(order) == len(set(order))
    assert ABSTAIN not in order


def test_label_order_is_independent_of_row_order(ds):
    shuffled = ds.to_pandas().iloc[::-1]
    assert AudioDataset.from_pandas(shuffled).label_order == ds.label_order


def test_new_label_appended_and_kept_after_undo(ds):
    before = list(ds.label_order)
    ds.set_labels(["c.wav"], "zebra")
    assert ds.label_order == before + ["zebra"]
    ds.set_labels(["d.wav"], "aardvark")
    assert ds.label_order == before + ["zebra", "aardvark"]
    ds.undo()
    ds.undo()
    assert ds.label_order == before + ["zebra", "aardvark"]
    ds.redo()
    assert ds.label_order == before + ["zebra", "aardvark"]


def test_existing_label_does_not_move_in_label_order(ds):
    before = list(ds.label_order)
    ds.set_labels(["a.wav", "e.wav", "g.wav"], "cat")  # dog may disappear from rows
    ds.set_labels(["c.wav"], "dog")
    assert ds.label_order == before


# ---------------------------------------------------------------- on_change
def test_on_change_events_for_do_undo_redo(ds):
    events = []
    ds.on_change(events.append)
    keys = ["h.wav", "c.wav"]
    expected = np.sort(ds.positions(keys))
    frame = ds.to_pandas()
    assert sorted(frame.loc[expected, "audio"]) == sorted(keys)

    ds.set_labels(keys, "fox")
    ds.undo()
    ds.redo()
    assert [event.kind for event in events] == ["do", "undo", "redo"]
    for event in events:
        assert isinstance(event, ChangeEvent)
        assert isinstance(event.positions, np.ndarray)
        assert sorted(event.positions.tolist()) == expected.tolist()
        assert tuple(event.columns) == ("label",)


def test_on_change_commit_event(ds):
    events = []
    ds.on_change(events.append)
    ds.commit(["b.wav"], "test")
    assert len(events) == 1
    event = events[0]
    assert event.kind == "do"
    assert tuple(event.columns) == ("SUBSET",)
    assert event.positions.tolist() == [ds.keys.index("b.wav")]
    assert ds.to_pandas().loc[event.positions[0], "SUBSET"] == "test"


def test_on_change_not_called_for_rejected_operation(ds):
    events = []
    ds.on_change(events.append)
    with pytest.raises(KeyError):
        ds.set_labels("ghost.wav", "x")
    with pytest.raises(ValueError):
        ds.commit("c.wav", "train")
    assert events == []


def test_on_change_unsubscribe(ds):
    events = []
    stop = ds.on_change(events.append)
    ds.set_labels("c.wav", "fox")
    stop()
    ds.set_labels("d.wav", "fox")
    ds.undo()
    assert len(events) == 1
    stop()  # a second call is harmless


def test_failing_listener_does_not_break_operation(ds):
    seen = []

    def broken(event):
        raise RuntimeError("view exploded")

    ds.on_change(broken)
    ds.on_change(seen.append)
    assert ds.set_labels(["c.wav", "d.wav"], "fox") == 2
    assert labels_of(ds)["c.wav"] == "fox"
    assert ds.undo() == 2
    assert labels_of(ds)["c.wav"] == ABSTAIN
    assert [event.kind for event in seen] == ["do", "undo"]


# ---------------------------------------------------------------- vectors
def test_vectors_default_none(ds):
    assert ds.vectors is None


def test_vectors_setter_stores_float32(ds):
    values = np.arange(len(ds) * 3, dtype=np.float64).reshape(len(ds), 3)
    ds.vectors = values
    assert ds.vectors.dtype == np.float32
    assert ds.vectors.shape == (len(ds), 3)
    np.testing.assert_array_equal(ds.vectors, values.astype(np.float32))
    ds.vectors = values.tolist()  # any array-like
    assert ds.vectors.dtype == np.float32
    ds.vectors = None
    assert ds.vectors is None


@pytest.mark.parametrize(
    "shape", [(7, 2), (9, 2), (8,), (8, 2, 1), (0, 2)]
)
def test_vectors_setter_rejects_wrong_shape(ds, shape):
    assert len(ds) == 8
    with pytest.raises(ValueError):
        ds.vectors = np.zeros(shape)
    assert ds.vectors is None


def test_vectors_length_follows_dedup():
    df = table([("a", "x", "raw"), ("b", "y", "raw"), ("a", "z", "train")])
    with pytest.warns(DuplicateKeysWarning):
        ds = AudioDataset.from_pandas(df)
    assert len(ds) == 2
    with pytest.raises(ValueError):
        ds.vectors = np.zeros((3, 4))
    ds.vectors = np.ones((2, 4))
    assert ds.vectors.shape == (2, 4)


def test_vectors_stay_aligned_through_operations(ds):
    values = np.arange(len(ds), dtype=np.float32)[:, None] * np.ones((1, 2), dtype=np.float32)
    ds.vectors = values
    ds.set_labels(["a.wav", "c.wav"], "fox")
    ds.commit(["a.wav", "c.wav"], "test")
    ds.undo()
    np.testing.assert_array_equal(ds.vectors, values)
    assert ds.keys.index("c.wav") == 2


# ---------------------------------------------------------------- from_folder
@pytest.fixture
def audio_root(tmp_path) -> Path:
    root = tmp_path / "clips"
    for name in [
        "dog/a.wav",
        "dog/b.FLAC",
        "dog/sub/deeper/c.ogg",
        "cat/d.mp3",
        "cat/e.Opus",
        "cat/f.aiff",
        "cat/g.m4a",
        "loose.WAV",
        # skipped
        "dog/._a.wav",
        "dog/.cache/h.wav",
        ".hidden/i.wav",
        ".j.wav",
        "dog/notes.txt",
        "cat/cover.jpg",
        "readme.txt",
    ]:
        touch(root / name)
    return root


def by_relative(ds: AudioDataset, root: Path) -> dict:
    frame = ds.to_pandas()
    return {
        Path(key).resolve().relative_to(root.resolve()).as_posix(): (label, subset)
        for key, label, subset in zip(frame["audio"], frame["label"], frame["SUBSET"])
    }


def test_from_folder_finds_labels_and_subsets(audio_root):
    ds = AudioDataset.from_folder(audio_root)
    assert by_relative(ds, audio_root) == {
        "dog/a.wav": ("dog", "train"),
        "dog/b.FLAC": ("dog", "train"),
        "dog/sub/deeper/c.ogg": ("dog", "train"),
        "cat/d.mp3": ("cat", "train"),
        "cat/e.Opus": ("cat", "train"),
        "cat/f.aiff": ("cat", "train"),
        "cat/g.m4a": ("cat", "train"),
        "loose.WAV": (ABSTAIN, "raw"),
    }
    assert ds.classes == ["cat", "dog"]
    assert all(Path(key).is_file() for key in ds.keys)


def test_from_folder_accepts_str_root(audio_root):
    assert sorted(AudioDataset.from_folder(str(audio_root)).keys) == sorted(
        AudioDataset.from_folder(audio_root).keys
    )


@pytest.mark.parametrize("suffix", ["wav", "flac", "ogg", "opus", "mp3", "aiff", "m4a"])
@pytest.mark.parametrize("case", [str.lower, str.upper])
def test_from_folder_audio_suffixes_case_insensitive(tmp_path, suffix, case):
    touch(tmp_path / "lab" / f"clip.{case(suffix)}")
    touch(tmp_path / "lab" / f"clip.{case(suffix)}.txt")
    ds = AudioDataset.from_folder(tmp_path)
    assert len(ds) == 1
    assert ds.keys[0].endswith(f"clip.{case(suffix)}")
    assert labels_of(ds)[ds.keys[0]] == "lab"


def test_from_folder_without_audio_is_empty(tmp_path):
    touch(tmp_path / "notes.txt")
    ds = AudioDataset.from_folder(tmp_path)
    assert len(ds) == 0
    assert ds.classes == []


def make_split_root(tmp_path, counts) -> Path:
    root = tmp_path / "split"
    for label, count in counts.items():
        for i in range(count):
            touch(root / label / f"{label}_{i:03d}.wav")
    for i in range(3):
        touch(root / f"unlabeled_{i}.wav")
    return root


def split_of(ds) -> dict:
    frame = ds.to_pandas()
    return {Path(key).name: subset for key, subset in zip(frame["audio"], frame["SUBSET"])}


SPLIT = {"train": 0.6, "dev": 0.2, "test": 0.2}


def test_from_folder_split_proportions_per_label(tmp_path):
    root = make_split_root(tmp_path, {"cat": 10, "dog": 30})
    ds = AudioDataset.from_folder(root, split=SPLIT, seed=1)
    pop = ds.population()
    assert pop.loc["cat"].tolist() == [0, 6, 2, 2]
    assert pop.loc["dog"].tolist() == [0, 18, 6, 6]
    assert pop.loc[ABSTAIN].tolist() == [3, 0, 0, 0]
    frame = ds.to_pandas()
    for name, label in zip(frame["audio"], frame["label"]):  # labels kept by the split
        assert Path(name).parent.name == (label if label != ABSTAIN else "split")


def test_from_folder_split_same_seed_same_split(tmp_path):
    root = make_split_root(tmp_path, {"cat": 20, "dog": 20})
    first = split_of(AudioDataset.from_folder(root, split=SPLIT, seed=7))
    second = split_of(AudioDataset.from_folder(root, split=SPLIT, seed=7))
    assert first == second
    assert split_of(AudioDataset.from_folder(root, split=SPLIT)) == split_of(
        AudioDataset.from_folder(root, split=SPLIT, seed=0)
    )


def test_from_folder_split_different_seed_different_split(tmp_path):
    root = make_split_root(tmp_path, {"cat": 20, "dog": 20})
    first = split_of(AudioDataset.from_folder(root, split=SPLIT, seed=0))
    second = split_of(AudioDataset.from_folder(root, split=SPLIT, seed=1))
    assert first != second
    assert sorted(first.values()) == sorted(second.values())  # same counts


def test_from_folder_split_remainder_stays_raw_with_label(tmp_path):
    root = make_split_root(tmp_path, {"cat": 20, "dog": 8})
    ds = AudioDataset.from_folder(root, split={"train": 0.5, "dev": 0.25})
    pop = ds.population()
    assert pop.loc["cat"].tolist() == [5, 10, 5, 0]
    assert pop.loc["dog"].tolist() == [2, 4, 2, 0]
    assert pop.loc[ABSTAIN].tolist() == [3, 0, 0, 0]
    raw = ds.dfs["raw"]
    assert sorted(set(raw["label"])) == [ABSTAIN, "cat", "dog"]
    # the labeled raw rows survive a round trip
    pdt.assert_frame_equal(AudioDataset.from_pandas(ds.to_pandas()).to_pandas(), ds.to_pandas())


@pytest.mark.parametrize(
    "split",
    [
        {"train": 1.2},
        {"train": -0.1, "dev": 0.5},
        {"train": 0.7, "dev": 0.2, "test": 0.2},
        {"validation": 0.2, "train": 0.8},
        {"raw": 0.5},
        {"train": float("nan")},
    ],
)
def test_from_folder_bad_split_raises(tmp_path, split):
    root = make_split_root(tmp_path, {"cat": 4})
    with pytest.raises(ValueError):
        AudioDataset.from_folder(root, split=split)


# ---------------------------------------------------------------- scale
def test_set_labels_on_5000_of_100000_rows():
    n = 100_000
    keys = [f"clips/{i:06d}.wav" for i in range(n)]
    ds = AudioDataset.from_pandas(pd.DataFrame({"audio": keys}))
    chosen = keys[::20]
    assert len(chosen) == 5000
    assert ds.set_labels(chosen, "speech") == 5000
    labels = ds.to_pandas()["label"].to_numpy()
    expected = np.full(n, ABSTAIN, dtype=object)
    expected[::20] = "speech"
    assert (labels == expected).all()
    assert ds.population().loc["speech"].tolist() == [5000, 0, 0, 0]
    assert ds.undo() == 5000
    assert (ds.to_pandas()["label"] == ABSTAIN).all()


def test_a_folder_of_phone_prompts_is_listed_and_vectorized(tmp_path):
    from .audio_corpus import write_telephony

    clips = write_telephony(tmp_path / "prompts" / "greetings")
    (tmp_path / "prompts" / "greetings" / "notes.txt").write_text("not audio")
    (tmp_path / "prompts" / "call.amr").write_bytes(b"#!AMR\n")  # listed; it fails alone
    ds = AudioDataset.from_folder(tmp_path / "prompts")
    listed = {Path(key).name: label for key, label in zip(ds.keys, ds.column("label"))}
    assert listed == {**{name: "greetings" for name in clips}, "call.amr": "ABSTAIN"}
    report = ds.vectorize(MFCCVectorizer(cache_dir=tmp_path / "cache"), workers=1,
                          progress=False)
    assert list(report["key"].map(lambda key: Path(key).name)) == ["call.amr"]
    assert np.isfinite(ds.vectors[[key != report["key"][0] for key in ds.keys]]).all()


def test_a_range_has_one_spelling():
    """'#t=1.0,2.000' and '#t=1,2' are one clip: one row, found by either spelling."""
    df = pd.DataFrame({"audio": ["a.wav#t=1,2", "a.wav#t=1.0,2.000", "a.wav#channel=1&t=3,4",
                                 "Take #3.wav"],
                       "label": ["dog", "cat", "owl", "ABSTAIN"],
                       "SUBSET": ["train", "dev", "train", "raw"]})
    with pytest.warns(DuplicateKeysWarning):
        ds = AudioDataset.from_pandas(df)
    assert ds.keys == ["a.wav#t=1,2", "a.wav#t=3,4&channel=1", "Take #3.wav"]
    assert ds.to_pandas()["label"].iloc[0] == "cat"  # dev wins over train
    assert list(ds.positions(["a.wav#t=1.0,2", "a.wav#channel=1&t=npt:0:03,4"])) == [0, 1]
    assert ds.set_labels(["a.wav#t=1.000,2"], "fox") == 1
    assert ds.to_pandas()["label"].iloc[0] == "fox"
    with pytest.raises(KeyError, match="a.wav#t=1,3"):
        ds.positions(["a.wav#t=1,3"])


def test_hovers_2d_shortcut_a_short_repr_and_a_word_when_umap_cannot_be_used():
    rng = np.random.default_rng(0)
    ds = AudioDataset.from_pandas(pd.DataFrame({"audio": [f"{i}.wav" for i in range(30)]}))
    ds.vectors = rng.normal(size=(30, 8)).astype(np.float32)
    reducer = ds.compute_2d_embedding(method="pca")  # hover's name for it
    assert reducer.coords.shape == (30, 2) and "embed_2d_1" in ds.columns
    assert repr(reducer) == ("LayoutReducer(method='pca', dimension=2, rows=30, placed=30, "
                             "fit_rows=30)")
    few = AudioDataset.from_pandas(pd.DataFrame({"audio": ["a.wav", "b.wav", "c.wav"]}))
    few.vectors = rng.normal(size=(3, 8)).astype(np.float32)
    with pytest.warns(UserWarning, match="3 clips are too few for a UMAP map"):
        reducer = few.compute_nd_embedding(method="umap")
    assert reducer.method == "pca"


def test_ranges_below_the_millisecond_in_keys_and_columns_agree():
    ds = AudioDataset.from_pandas(pd.DataFrame({"audio": ["a.wav#t=3.1234,4", "b.wav"],
                                                "start": [3.1234, 0.0004],
                                                "end": [4.0, 1.99951]}))
    assert ds.keys == ["a.wav#t=3.123,4", "b.wav#t=0,2"]
    assert list(ds.to_pandas()["start"]) == [3.123, 0.0]


def test_relative_paths_that_name_files_are_kept_absolute(tmp_path, monkeypatch):
    """A workspace made from relative paths works from any folder later; the relative
    spelling still finds the row."""
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "a.wav").write_bytes(b"RIFF")  # (a file is there: enough here)
    monkeypatch.chdir(tmp_path)
    ds = AudioDataset.from_pandas(pd.DataFrame({"audio": ["clips/a.wav", "clips/a.wav#t=0,1",
                                                          "clips/gone.wav"],
                                                "label": ["dog", "cat", "ABSTAIN"],
                                                "SUBSET": ["train", "train", "raw"]}))
    whole = str(tmp_path / "clips" / "a.wav")
    assert ds.keys == [whole, f"{whole}#t=0,1", "clips/gone.wav"]  # no file: as written
    assert list(ds.positions(["clips/a.wav", "./clips/a.wav#t=0.0,1"])) == [0, 1]
    assert ds.set_labels(["clips/a.wav"], "fox") == 1
    ds.save(tmp_path / "ws")
    ds.close()
    monkeypatch.chdir("/")
    assert AudioDataset.load(tmp_path / "ws", attach=False).keys[0] == whole
