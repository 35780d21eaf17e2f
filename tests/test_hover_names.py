"""hover's own names on the dataset: its constructor, label coding, and the methods it
does without, which name their replacement."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hover_audio import ABSTAIN, AudioDataset, DuplicateKeysWarning, SupervisableAudioDataset
from hover_audio.core.dataset import SupervisableAudioDataset as HoverPath


def test_hovers_constructor_of_dict_lists_builds_the_subsets():
    ds = HoverPath(
        raw_dictl=[{"clip": "/a.wav"}, {"clip": "/b.wav", "note": "x"}],
        train_dictl=[{"clip": "/c.wav", "tag": "dog"}],
        dev_dictl=[{"clip": "/d.wav", "tag": "cat"}],
        test_dictl=[{"clip": "/e.wav", "tag": "cat"}],
        feature_key="clip", label_key="tag")
    table = ds.to_pandas().set_index("audio")
    assert table["SUBSET"].to_dict() == {"/a.wav": "raw", "/b.wav": "raw", "/c.wav": "train",
                                         "/d.wav": "dev", "/e.wav": "test"}
    assert table["label"].tolist() == [ABSTAIN, ABSTAIN, "dog", "cat", "cat"]
    assert table.loc["/b.wav", "note"] == "x"
    assert isinstance(ds, AudioDataset) and isinstance(ds, SupervisableAudioDataset)
    positional = SupervisableAudioDataset([{"audio": "/a.wav"}], [{"audio": "/b.wav",
                                                                  "label": "dog"}])
    assert positional.to_pandas()["SUBSET"].tolist() == ["raw", "train"]


def test_hovers_constructor_checks_rows_and_dedups_like_from_pandas():
    with pytest.warns(DuplicateKeysWarning):
        ds = SupervisableAudioDataset([{"audio": "/a.wav"}], [{"audio": "/a.wav", "label": "x"}])
    assert ds.to_pandas()[["SUBSET", "label"]].values.tolist() == [["train", "x"]]
    with pytest.raises(ValueError, match="row 1"):
        SupervisableAudioDataset([{"audio": "/a.wav"}], [{"audio": "/b.wav", "label": 3}])
    with pytest.raises(TypeError, match="from_pandas"):
        SupervisableAudioDataset(["/a.wav", "/b.wav"])


def test_classes_and_coders_follow_the_labels_as_in_hover():
    ds = AudioDataset.from_pandas(pd.DataFrame({
        "audio": ["/a.wav", "/b.wav", "/c.wav"], "label": [ABSTAIN, "owl", "crow"],
        "SUBSET": ["raw", "train", "test"]}))
    assert ds.setup_label_coding() is None
    assert ds.classes == ["crow", "owl"]
    assert ds.label_encoder == {"crow": 0, "owl": 1, ABSTAIN: -1}
    assert ds.label_decoder == {0: "crow", 1: "owl", -1: ABSTAIN}
    ds.set_labels("/b.wav", "bat")  # (classes: the labels of train, dev and test)
    assert ds.classes == ["bat", "crow"] and ds.label_encoder["crow"] == 1


def test_a_hover_method_done_without_names_its_replacement():
    ds = AudioDataset.from_pandas(pd.DataFrame({"audio": ["/a.wav"]}))
    with pytest.raises(AttributeError, match=r"no df_deduplicate\(\) \(hover's\): "
                                             r"use dedup\(\)"):
        ds.df_deduplicate()
    with pytest.raises(AttributeError, match=r"no copy\(\) \(hover's\): use copy.deepcopy"):
        ds.copy()
    with pytest.raises(AttributeError, match=r"use positions\(\[key\]\)"):
        ds.locate_by_feature_value("/a.wav")
    with pytest.raises(AttributeError, match="has no attribute 'no_such_thing'"):
        ds.no_such_thing
    assert not hasattr(ds, "copy")
    # hover's dfs and synchronize_df_to_dictl are here (tests/test_dataset_faults.py)
    assert ds.synchronize_df_to_dictl() == 0 and set(ds.dfs) == {"raw", "train", "dev", "test"}


def test_a_maps_transform_takes_hovers_method_argument():
    rng = np.random.default_rng(0)
    ds = AudioDataset.from_pandas(pd.DataFrame({"audio": [f"/{i}.wav" for i in range(30)]}))
    ds.vectors = rng.normal(size=(30, 4)).astype(np.float32)
    reducer = ds.compute_nd_embedding(method="pca", progress=False)
    placed = reducer.transform(ds.vectors[:3], "pca")
    assert np.allclose(placed, reducer.transform(ds.vectors[:3]))
    with pytest.raises(ValueError, match="made by 'pca'"):
        reducer.transform(ds.vectors[:3], "umap")
