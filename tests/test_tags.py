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


def test_suggested_tags_come_from_labels_and_tags_and_are_accepted_in_one_step(tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    centres = {"applause": rng.normal(size=8) * 4, "rain": rng.normal(size=8) * 4}
    rows, vectors = [], []
    for kind, centre in centres.items():
        for i in range(6):
            labeled = i < 4
            rows.append((f"sfx/{kind}{i}.wav", kind if labeled else "ABSTAIN",
                         "train" if labeled else "raw"))
            vectors.append(centre + rng.normal(size=8) * 0.3)
    dataset = AudioDataset.from_pandas(pd.DataFrame(rows, columns=["audio", "label", "SUBSET"]))
    dataset.vectors = np.array(vectors, dtype=np.float32)
    dataset.add_tags(["sfx/applause0.wav", "sfx/applause1.wav"], "crowd")
    found = dataset.suggest_tags(threshold=0.25, top=5)
    table = dataset.to_pandas().set_index("audio")
    cell = table.loc["sfx/applause5.wav", "suggested_tags"]
    assert cell.split(";")[0].startswith("applause:") and "rain" not in cell
    assert "crowd" in cell  # a tag used twice is a target too
    assert not any(t == "applause" for k, t in found[["key", "tag"]].itertuples(index=False)
                   if k == "sfx/applause0.wav")  # never suggests what a row already carries
    assert dataset.accept_suggested_tags(["sfx/applause5.wav", "sfx/rain5.wav"]) == 2
    assert "applause" in dataset.tags_of("sfx/applause5.wav")
    assert "rain" in dataset.tags_of("sfx/rain5.wav")
    suggested = dataset.to_pandas().set_index("audio")["suggested_tags"]
    assert suggested["sfx/applause5.wav"] == "" and suggested["sfx/applause4.wav"]
    dataset.undo()  # one step: the tags go, the suggestions are offered again
    assert dataset.tags_of("sfx/applause5.wav") == set()
    assert dataset.to_pandas().set_index("audio").loc["sfx/applause5.wav",
                                                      "suggested_tags"] == cell
    dataset.redo()
    assert "applause" in dataset.tags_of("sfx/applause5.wav")
    assert dataset.to_pandas().set_index("audio").loc["sfx/applause5.wav",
                                                      "suggested_tags"] == ""
    with pytest.raises(ValueError, match="threshold"):
        dataset.suggest_tags(threshold=2)


def test_accepted_suggestions_replay_and_undo_after_reopening(tmp_path):
    """Suggestions are derived (saved with the next snapshot, not journaled); accepting them
    is journaled with the suggestions it cleared, so a workspace reopened from its journal
    has the tags, and undo offers the suggestions again."""
    import numpy as np

    rng = np.random.default_rng(1)
    rows = [(f"/sfx/{kind}{i}.wav", kind if i < 3 else "ABSTAIN", "train" if i < 3 else "raw")
            for kind in ("dog", "cat") for i in range(4)]
    ds = AudioDataset.from_pandas(pd.DataFrame(rows, columns=["audio", "label", "SUBSET"]))
    ds.vectors = np.concatenate([rng.normal(size=(4, 6)) + 5, rng.normal(size=(4, 6)) - 5]
                                ).astype(np.float32)
    ds.save(tmp_path / "ws")
    ds.suggest_tags(threshold=0.25)
    offered = ds.to_pandas().set_index("audio").loc["/sfx/dog3.wav", "suggested_tags"]
    assert offered.startswith("dog:")
    assert ds.accept_suggested_tags(["/sfx/dog3.wav"]) == 1
    journal = [path for path in (tmp_path / "ws").rglob("*.jsonl") if path.stat().st_size]
    assert journal, "the accept is in the journal, not yet in a snapshot"
    again = AudioDataset.load(tmp_path / "ws", attach=False)  # as after a crash: replayed
    try:
        assert again.tags_of("/sfx/dog3.wav") == {"dog"}
        assert not again.to_pandas().set_index("audio").loc["/sfx/dog3.wav", "suggested_tags"]
    finally:
        again.close()
    ds.undo()  # and undone in the writer, the suggestions come back
    assert ds.tags_of("/sfx/dog3.wav") == set()
    assert ds.to_pandas().set_index("audio").loc["/sfx/dog3.wav", "suggested_tags"] == offered
    ds.close()
