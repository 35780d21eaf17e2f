"""Several tags per clip: added and removed as undoable, journaled operations, exported."""
from __future__ import annotations

import pandas as pd
import pytest

from hover_audio import AudioDataset


@pytest.fixture()
def ds(tmp_path):
    dataset = AudioDataset.from_pandas(pd.DataFrame({
        "audio": ["sfx/Track 18.wav", "sfx/Track 19.wav", "sfx/rain.wav"],
        "label": ["applause", "ABSTAIN", "rain"], "SUBSET": ["train", "raw", "train"]}))
    dataset.save(tmp_path / "ws")
    yield dataset
    dataset.close()


def test_add_and_remove_tags_are_one_undo_step_each(ds):
    keys = ["sfx/Track 18.wav", "sfx/Track 19.wav"]
    assert ds.add_tags(keys, ["crowd", "applause"]) == 2
    assert ds.add_tags(keys[:1], "indoor") == 1
    assert ds.tags_of(keys[0]) == {"applause", "crowd", "indoor"}
    assert ds.to_pandas().set_index("audio").loc[keys[0], "tags"] == "applause;crowd;indoor"
    assert ds.add_tags(keys, "crowd") == 0  # nothing new: no operation
    assert ds.remove_tags(keys, ["crowd", "absent"]) == 2
    assert ds.tags_of(keys[1]) == {"applause"}
    ds.undo()
    assert ds.tags_of(keys[1]) == {"applause", "crowd"}
    ds.undo()
    assert ds.tags_of(keys[0]) == {"applause", "crowd"}
    assert ds.tags_of("sfx/rain.wav") == set()


def test_tags_are_journaled_and_exported(ds, tmp_path):
    ds.add_tags(["sfx/rain.wav"], ["weather", "loop"])
    ds.close()
    again = AudioDataset.load(tmp_path / "ws")
    try:
        assert again.tags_of("sfx/rain.wav") == {"loop", "weather"}
        out = again.export(tmp_path / "t.csv")
        assert pd.read_csv(out, keep_default_na=False).set_index("audio").loc[
            "sfx/rain.wav", "tags"] == "loop;weather"
    finally:
        again.close()


@pytest.mark.parametrize("bad", ["", "  ", "a;b", 3])
def test_bad_tags_are_refused(ds, bad):
    with pytest.raises(ValueError, match="tag"):
        ds.add_tags(["sfx/rain.wav"], [bad])


def test_tags_change_only_through_operations(ds):
    with pytest.raises(ValueError, match="changes only through operations"):
        ds.set_derived({"tags": [""] * len(ds)})
    with pytest.raises(KeyError, match="nope"):
        ds.add_tags(["nope"], "x")
