"""Merging another table into a dataset: rows sharing a clip, and ABSTAIN rows."""
import warnings

import pandas as pd
import pytest

from hover_audio import AudioDataset, DuplicateKeysWarning


@pytest.fixture
def ds():
    return AudioDataset.from_pandas(pd.DataFrame({
        "audio": ["a.wav", "b.wav", "c.wav"], "label": ["dog", "ABSTAIN", "cat"],
        "SUBSET": ["train", "raw", "train"]}))


def test_incoming_rows_sharing_a_key_are_one_row_kept_by_priority(ds):
    # a Raven table lists each selection once per view: the same clip twice
    incoming = pd.DataFrame({"audio": ["new.wav", "new.wav", "b.wav", "b.wav"],
                             "label": ["first", "second", "bird", "bird"],
                             "SUBSET": ["raw", "train", "raw", "raw"]})
    with pytest.warns(DuplicateKeysWarning, match="2 duplicate row"):
        report = ds.merge(incoming)
    assert ds.keys.count("new.wav") == 1 and len(ds) == 4
    table = ds.to_pandas().set_index("audio")
    assert (table.loc["new.wav", "label"], table.loc["new.wav", "SUBSET"]) == ("second", "train")
    assert table.loc["b.wav", "label"] == "bird"
    assert sorted(report["action"]) == ["new", "updated"]
    ds.set_labels(["a.wav", "new.wav"], "fox")  # the dataset still takes labels
    assert set(ds.to_pandas().set_index("audio").loc[["a.wav", "new.wav"], "label"]) == {"fox"}


def test_new_abstain_rows_join_raw(ds):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to warn about
        ds.merge(pd.DataFrame({"audio": ["d.wav", "e.wav"], "label": ["ABSTAIN", "owl"],
                               "SUBSET": ["train", "dev"]}))
    table = ds.to_pandas().set_index("audio")
    assert table.loc["d.wav", "SUBSET"] == "raw" and table.loc["e.wav", "SUBSET"] == "dev"


def test_ranges_given_as_columns_name_the_same_clip(ds):
    ds.merge(pd.DataFrame({"audio": ["long.wav"], "label": ["tone"], "start": [1.0],
                           "end": [2.0]}))
    report = ds.merge(pd.DataFrame({"audio": ["long.wav", "long.wav"], "label": ["tone", "x"],
                                    "start": [1.0, 3.0], "end": [2.0, 4.0]}))
    assert sorted(ds.keys) == ["a.wav", "b.wav", "c.wav", "long.wav#t=1,2", "long.wav#t=3,4"]
    assert list(report["action"]) == ["new"]


def test_incoming_tags_join_the_rows_tags_in_the_one_operation(ds):
    """Tags are a set: an import adds its tags to a row's (never a conflict), reports
    it, and one undo takes them off with the rest of the import."""
    ds.add_tags("a.wav", "indoor")
    report = ds.merge(pd.DataFrame({"audio": ["a.wav", "b.wav", "c.wav"],
                                    "label": ["dog", "ABSTAIN", "cat"],
                                    "tags": ["bark;indoor", "", "meow"]}))
    assert (ds.tags_of("a.wav"), ds.tags_of("b.wav"), ds.tags_of("c.wav")) == (
        {"bark", "indoor"}, set(), {"meow"})
    rows = report[report["column"] == "tags"]
    assert rows[["key", "action", "ours", "theirs"]].values.tolist() == [
        ["a.wav", "updated", "indoor", "bark;indoor"], ["c.wav", "updated", "", "meow"]]
    assert ds.merge(pd.DataFrame({"audio": ["a.wav"], "label": ["dog"], "tags": ["bark"]})
                    ).empty  # nothing new: nothing to report
    ds.undo()
    assert ds.tags_of("a.wav") == {"indoor"} and ds.tags_of("c.wav") == set()


def test_labels_of_merged_rows_join_the_label_order_also_on_replay(tmp_path):
    """Rows added by a merge (an import, a folder followed) brought labels that never
    joined label_order: pages coloured them as unlabeled grey; replaying the journal
    on reopening lost them the same way."""
    import pandas as pd

    from hover_audio import AudioDataset

    ds = AudioDataset.from_pandas(pd.DataFrame({"audio": ["/a.wav", "/b.wav"],
                                                "label": ["dog", "ABSTAIN"]}))
    ds.save(tmp_path / "ws")
    ds.merge(pd.DataFrame({"audio": ["/c.wav", "/d.wav"], "label": ["cat", "ABSTAIN"]}))
    assert ds.label_order == ["dog", "cat"]
    ds.close()  # journaled, not checkpointed: reopening replays the merge
    again = AudioDataset.load(tmp_path / "ws")
    try:
        assert again.label_order == ["dog", "cat"]
    finally:
        again.close()
