"""Faults of tags, typed searches and the model in the loop found by QA on a real library,
on real Bokeh documents (the page objects, run as the server runs them).

1. One case rule for tags: colour, counts, add, remove and suggestions treat "drum" and
   "Drum" as one tag (as ``tag:`` search did); turning "Colour by tag" off says so.
2. A typed search by a clip's name as the tooltip shows it (or a quoted path) finds
   that clip; a name that is no clip says so; a failed search clears the previous
   search's marks and names the failed clip's file and why it has no vector.
3. The model leaves clips cut short, silent or failed out of "Accept for the selection"
   and out of suggested tags; accepted suggestions leave the row's suggested_tags.
"""
from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile

from hover_audio import AudioDataset
from hover_audio.app.explorer.model_panel import ModelPanel
from hover_audio.app.explorer.page_data import packed
from hover_audio.app.explorer.tag_panel import SUGGESTING

from .test_explorer import Page, synthetic

RED = packed("#d62728")


def mixed_case(rows: int = 40) -> AudioDataset:
    """``synthetic`` with rows 1-3 tagged "drum", 4-5 "Drum", 6 "snare"."""
    ds = synthetic(rows)
    tags = [""] * rows
    for at in (1, 2, 3):
        tags[at] = "drum"
    tags[4] = tags[5] = "Drum"
    tags[6] = "snare"
    table = ds.to_pandas()[["audio", "label", "SUBSET"]].assign(tags=tags)
    fresh = AudioDataset.from_pandas(table)
    fresh.vectors = ds.vectors
    fresh.compute_nd_embedding(method="pca", progress=False)
    assert list(fresh.column("tags")[:7]) == ["", "drum", "drum", "drum", "Drum", "Drum",
                                              "snare"]
    return fresh


def status(page) -> str:
    return html.unescape(page.annotator.status.text)


def coloured_by(tag: str):
    """A page over :func:`mixed_case` coloured by ``tag``: ``(ds, page, tag panel)``."""
    ds = mixed_case()
    page = Page(ds)
    panel = page.annotator.tag_panel
    panel.box.value = tag
    panel.colour.active = True
    return ds, page, panel


# ------------------------------------------------------------------ fault 1: tag case
def test_colour_by_tag_matches_any_case_and_says_when_turned_off():
    ds, page, panel = coloured_by("drum")
    colours = np.asarray(page.annotator.source.data["color"])
    assert np.flatnonzero(colours == RED).tolist() == [1, 2, 3, 4, 5]
    assert "5 clip(s) in red" in status(page)
    panel.colour.active = False  # label colours again: the status no longer says red
    assert not (np.asarray(page.annotator.source.data["color"]) == RED).any()
    assert "colouring by tag" not in status(page) and "coloured by label" in status(page)


def test_tag_counts_count_one_tag_in_any_case():
    page = Page(mixed_case())
    text = page.annotator.tag_panel.count_text()
    assert "drum <b>5</b>" in text and "Drum <b>" not in text, text
    assert "snare <b>1</b>" in text


def test_remove_tags_removes_every_case_and_add_reuses_the_datasets_spelling():
    ds = mixed_case()
    keys = list(ds.keys)
    assert ds.add_tags([keys[4], keys[7]], "DRUM") == 1  # row 4 carries "Drum" already
    assert ds.tags_of(keys[4]) == {"Drum"} and ds.tags_of(keys[7]) == {"drum"}
    page = Page(ds)
    panel = page.annotator.tag_panel
    panel.box.value = "drum"
    page.select(range(len(ds)))
    panel.apply(add=False)
    assert "untagged 6 clip(s)" in status(page)
    assert [ds.tags_of(key) for key in keys[:8]] == [set()] * 6 + [{"snare"}, set()]


def test_suggested_tags_treat_one_tag_in_any_case_as_one_target():
    ds = mixed_case()
    ds.suggest_tags(threshold=0.0, top=10)
    cells = ds.column("suggested_tags")
    for at in (1, 2, 3, 4, 5):  # they carry the tag, whatever its case
        offered = {part.rsplit(":", 1)[0].casefold() for part in cells[at].split(";") if part}
        assert "drum" not in offered, (at, cells[at])
    offered = {part.rsplit(":", 1)[0] for cell in cells for part in cell.split(";") if part}
    assert "Drum" not in offered and "drum" in offered  # one target, the usual spelling
    ds.accept_suggested_tags([ds.keys[10]])
    assert "Drum" not in ds.tags_of(ds.keys[10])


# ------------------------------------------------------------------ fault 2: typed search
def ranked(page, typed: str) -> str:
    search = page.annotator.search
    search["query"].value = typed
    future = search.search_typed()
    if future is not None:
        future.result(timeout=30)
    return status(page)


@pytest.mark.parametrize("typed", ["Track 3.wav", "clips/Track 3.wav", '"/clips/Track 3.wav"',
                                   "  'Track 3.wav' "])
def test_a_clips_name_as_the_tooltip_shows_it_is_that_clip(typed):
    page = Page(synthetic(40))
    page.annotator.search["threshold"].value = -1.0
    said = ranked(page, typed)
    assert "result(s)" in said, said
    scores = np.asarray(page.annotator.source.data["score"])
    index = page.annotator._search_index("overall")
    np.testing.assert_allclose(scores, index.scores([3]), rtol=1e-5)


def test_a_name_no_clip_has_is_not_found_and_clears_the_last_results(tmp_path):
    page = Page(synthetic(40))
    search = page.annotator.search
    search["threshold"].value = -1.0
    assert "result(s)" in ranked(page, "/clips/Track 3.wav")  # (its key)
    assert len(search.results) and np.isfinite(page.annotator.source.data["score"]).any()
    said = ranked(page, "kick copy.aiff")
    assert "no clip of the dataset is named 'kick copy.aiff'" in said, said
    assert "previous search's results are cleared" in said
    assert len(search.results) == 0
    assert np.isnan(np.asarray(page.annotator.source.data["score"])).all()
    assert (np.asarray(page.annotator.source.data["alpha"]) == 0.85).all()


def test_a_missing_file_in_the_datasets_folder_is_not_found(tmp_path):
    rows = 30
    ds = AudioDataset.from_pandas(pd.DataFrame(
        {"audio": [str(tmp_path / f"clip{i}.wav") for i in range(rows)],
         "label": ["ABSTAIN"] * rows}))
    ds.vectors = np.random.default_rng(0).normal(size=(rows, 8)).astype(np.float32)
    ds.compute_nd_embedding(method="pca", progress=False)
    page = Page(ds)
    said = ranked(page, str(tmp_path / "gone.wav"))
    assert f"{tmp_path / 'gone.wav'}: file not found" in said, said
    said = ranked(page, "/etc/passwd")  # outside: refused as before, exists or not
    assert "only clips inside the dataset's folders" in said


def test_a_failed_clip_is_named_with_its_error_and_the_old_results_go():
    ds = synthetic(40)
    vectors = ds.vectors.copy()
    vectors[8] = np.nan
    ds.vectors = vectors
    errors = np.full(len(ds), None, dtype=object)
    errors[8] = "decode: /clips/Track 8.wav: cannot decode: not audio"
    ds.set_derived({"vector_error": errors})
    page = Page(ds)
    page.annotator.search["threshold"].value = -1.0
    assert "result(s)" in ranked(page, "/clips/Track 3.wav")  # (its key)
    said = ranked(page, "/clips/Track 8.wav")
    assert "search failed" in said and "row(s)" not in said, said
    assert "/clips/Track 8.wav" in said and "cannot decode: not audio" in said
    assert "previous search's results are cleared" in said
    assert len(page.annotator.search.results) == 0
    assert np.isnan(np.asarray(page.annotator.source.data["score"])).all()


# ------------------------------------------------------------------ fault 3: broken clips
SR = 16000


@pytest.fixture(scope="module")
def noted(tmp_path_factory):
    """Tones in two kinds (labeled train), a WAV cut short and a silent one (raw)."""
    from hover_audio.vectors.mfcc import MFCCVectorizer

    folder = tmp_path_factory.mktemp("clips")
    t = np.arange(SR // 2) / SR
    rows = []
    for i in range(12):
        freq = 300 + 40 * i if i < 6 else 2500 + 80 * i
        path = folder / f"tone{i:02d}.wav"
        soundfile.write(path, 0.3 * np.sin(2 * np.pi * freq * t), SR, subtype="PCM_16")
        kind = "low" if i < 6 else "high"
        rows.append((str(path), kind if i % 3 else "ABSTAIN", "train" if i % 3 else "raw"))
    whole = Path(rows[0][0]).read_bytes()
    cut = folder / "cut.wav"
    cut.write_bytes(whole[:len(whole) // 50])  # a download cut short: about 10 ms
    silent = folder / "silent.wav"
    soundfile.write(silent, np.zeros(SR // 2), SR, subtype="PCM_16")
    rows += [(str(cut), "ABSTAIN", "raw"), (str(silent), "ABSTAIN", "raw")]
    ds = AudioDataset.from_pandas(pd.DataFrame(rows, columns=["audio", "label", "SUBSET"]))
    report = ds.vectorize(MFCCVectorizer(cache_dir=folder / "cache"), progress=False)
    assert {"cut short", "silent"} <= set(report["kind"]), report
    ds.compute_nd_embedding(method="pca", progress=False)
    return ds, len(rows) - 2, len(rows) - 1


def test_accept_for_the_selection_leaves_out_cut_short_and_silent_clips(noted):
    from hover_audio.model.clip_notes import unreliable_rows

    ds, cut, silent = noted
    found = unreliable_rows(ds)
    assert found[cut].startswith("cut short: ") and found[silent].startswith("silent: ")
    page = Page(ds, panels=(ModelPanel,))
    panel = page.annotator.panels[0]
    panel.fit().result(timeout=120)
    assert ds.column("pred_label")[cut] in ("low", "high")  # it has a prediction...
    raw = [at for at in range(len(ds)) if ds.column("SUBSET")[at] == "raw"]
    page.select(raw)
    panel.threshold.value = 0.5  # every prediction of two classes reaches it
    panel.accept_predictions()
    try:
        labels = ds.column("label")
        assert labels[cut] == "ABSTAIN" and labels[silent] == "ABSTAIN", status(page)
        assert all(labels[at] != "ABSTAIN" for at in raw if at not in (cut, silent))
        assert "left out 2 clip(s)" in status(page) and "cut short" in status(page)
    finally:
        ds.undo()  # (one action, one undo step) the fixture is shared


def test_suggested_tags_leave_out_cut_short_and_silent_clips(noted):
    ds, cut, silent = noted
    page = Page(ds)
    page.annotator.tag_panel.suggest_tags()
    SUGGESTING.submit(lambda: None).result(timeout=120)  # (one worker: after the fit)
    cells = ds.column("suggested_tags")
    assert any(cells[at] for at in range(cut)), status(page)
    assert not cells[cut] and not cells[silent], (cells[cut], cells[silent])
    assert "2 clip(s) left out" in status(page)


def test_tag_from_suggested_leaves_out_cut_short_and_silent_files(noted, tmp_path, capsys):
    import shutil

    from hover_audio.app.cli import main
    from hover_audio.audio.file_tags import read_tags
    from hover_audio.vectors.mfcc import MFCCVectorizer

    shared, cut, silent = noted
    folder = tmp_path / "clips"  # copies: tags are written into the files
    folder.mkdir()
    table = shared.to_pandas()[["audio", "label", "SUBSET"]].copy()
    table["audio"] = [shutil.copy2(key, folder / Path(key).name) for key in table["audio"]]
    table["audio"] = table["audio"].map(str)
    ds = AudioDataset.from_pandas(table)
    ds.vectorize(MFCCVectorizer(cache_dir=tmp_path / "cache"), progress=False)
    ds.save(tmp_path / "ws")
    ds.close()
    before = {at: Path(ds.keys[at]).read_bytes() for at in (cut, silent)}
    assert main(["tag", str(tmp_path / "ws"), "--from", "suggested", "--threshold", "0.0"]) == 0
    out = capsys.readouterr().out
    assert "2 clip(s) get no suggested tags" in out and "cut short" in out, out
    assert all(Path(ds.keys[at]).read_bytes() == before[at] for at in (cut, silent))
    assert read_tags(ds.keys[0]) & {"low", "high"}  # the others are tagged


def test_accepted_suggestions_leave_the_rows_suggested_tags():
    ds = mixed_case()
    ds.suggest_tags(threshold=0.0, top=3)
    page = Page(ds)
    panel = page.annotator.tag_panel
    page.select([10, 11])
    assert "(+ " in page.annotator.selection_source.data["tags"][0]
    before = ds.column("suggested_tags").copy()
    offered = {part.rsplit(":", 1)[0] for part in before[10].split(";")}
    panel.accept_suggested()
    assert "accepted the suggested tags of 2 clip(s)" in status(page)
    assert ds.tags_of(ds.keys[10]) == offered
    after = ds.column("suggested_tags")
    assert not after[10] and not after[11]
    assert list(after[12:]) == list(before[12:])  # the other rows keep theirs
    assert all("(+" not in cell for cell in page.annotator.selection_source.data["tags"])


def test_turning_colour_by_tag_off_says_the_map_is_coloured_by_label_again():
    ds, page, panel = coloured_by("snare")
    assert "colouring by tag snare: 1 clip(s) in red" in status(page)
    panel.colour.active = False
    assert "colouring by tag" not in status(page), status(page)
    panel.box.value = ""
    panel.colour.active = True  # no tag typed: it turns itself off and asks for one
    assert not panel.colour.active and "type a tag to colour by" in status(page)


@pytest.mark.parametrize("failing", ["/clips/Track 8.wav", "/clips/Track 99.wav",
                                     "https://elsewhere.example/x.wav"])
def test_any_failed_search_clears_the_previous_results(failing):
    """A failed clip (in the worker), a path refused: the map no longer shows the marks
    of the search before, which answered another query."""
    ds = synthetic(40)
    vectors = ds.vectors.copy()
    vectors[8] = np.nan
    ds.vectors = vectors
    page = Page(ds)
    page.annotator.search["threshold"].value = -1.0
    assert "result(s)" in ranked(page, "/clips/Track 3.wav")
    said = ranked(page, failing)
    assert "result(s)" not in said
    assert len(page.annotator.search.results) == 0
    assert np.isnan(np.asarray(page.annotator.source.data["score"])).all(), said
    assert (np.asarray(page.annotator.source.data["size"]) ==
            np.asarray(page.annotator.source.data["size"])[0]).all()


def test_predictions_saved_with_the_workspace_leave_out_broken_clips_too(noted):
    """Predictions can come from a saved workspace (no fit in this process): the notes
    are looked up on the first accept."""
    from hover_audio.app.explorer.model_panel import model_state

    ds, cut, silent = noted
    page = Page(ds, panels=(ModelPanel,))
    panel = page.annotator.panels[0]
    if "pred_label" not in ds.columns:
        panel.fit().result(timeout=120)
    model_state(ds).unreliable = None  # as after opening a workspace
    page.select([cut, silent])
    panel.threshold.value = 0.5
    panel.accept_predictions()
    assert ds.column("label")[cut] == "ABSTAIN" and ds.column("label")[silent] == "ABSTAIN"
    assert "left out 2 clip(s)" in status(page)


@pytest.mark.parametrize("typed, row", [("Track 3.wav [0.5,1]", 3), ("a/Track 3.wav", 1),
                                        ("Track 3.wav", None)])
def test_segments_and_same_named_files(typed, row):
    keys = ["/lib/b/Track 3.wav", "/lib/a/Track 3.wav", "/lib/c/Track 4.wav",
            "/lib/c/Track 3.wav#t=0.5,1"] + [f"/lib/d/x{i}.wav" for i in range(26)]
    ds = AudioDataset.from_pandas(pd.DataFrame({"audio": keys, "label": ["ABSTAIN"] * 30}))
    ds.vectors = np.random.default_rng(1).normal(size=(30, 8)).astype(np.float32)
    ds.compute_nd_embedding(method="pca", progress=False)
    page = Page(ds)
    page.annotator.search["threshold"].value = -1.0
    said = ranked(page, typed)
    if row is None:  # three clips are named so: which one is not guessed
        assert "3 clips of the dataset are named 'Track 3.wav'" in said, said
        return
    assert "result(s)" in said, said
    index = page.annotator._search_index("overall")
    np.testing.assert_allclose(page.annotator.source.data["score"], index.scores([row]),
                               rtol=1e-5)
