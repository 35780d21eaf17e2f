"""The annotator's Python side on real Bokeh documents: patches, sessions, layouts."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from bokeh.document import Document
from bokeh.protocol import Protocol

from hover_audio import AudioDataset
from hover_audio.app.explorer.annotator import Annotator, annotator_handle
from hover_audio.app.explorer.page_data import (ABSTAIN_COLOR, display_name, label_color,
                                                packed)


def synthetic(rows: int, seed: int = 0) -> AudioDataset:
    rng = np.random.default_rng(seed)
    subsets = np.where(np.arange(rows) % 10 == 0, "train", "raw")
    labels = np.where(subsets == "train", np.where(np.arange(rows) % 20 == 0, "cat", "dog"),
                      "ABSTAIN")
    ds = AudioDataset.from_pandas(pd.DataFrame(
        {"audio": [f"/clips/Track {i}.wav" for i in range(rows)], "label": labels,
         "SUBSET": subsets}))
    ds.vectors = rng.normal(size=(rows, 16)).astype(np.float32)
    ds.compute_nd_embedding(method="pca", progress=False)
    return ds


class Page:
    """A document with an annotator, run the way the server runs it (ticks run at once)."""

    def __init__(self, dataset, panels=()):
        self.doc = Document()
        self.doc.add_next_tick_callback = lambda callback: callback()  # no IO loop here
        self.events = []
        self.annotator = Annotator(dataset, panels=panels)
        self.annotator.attach(self.doc)
        self.doc.on_change(self.events.append)

    def select(self, rows):
        self.annotator.source.selected.indices = list(rows)

    def sent_bytes(self) -> int:
        """Size of the PATCH-DOC message(s) the server would send for the recorded events."""
        total = 0
        for event in self.events:
            message = Protocol().create("PATCH-DOC", [event])
            total += len(message.header_json) + len(message.metadata_json) + len(message.content_json)
            total += sum(len(buffer.to_bytes()) for buffer in message.buffers)
        return total


@pytest.fixture(scope="module")
def big():
    return synthetic(10_000)


def test_labeling_k_points_sends_o_k_bytes(big):
    page = Page(big)
    sizes = {}
    for k in (10, 100, 1000):
        rows = list(range(1, 1 + 10 * k, 10))[:k]
        page.select(rows)
        page.events.clear()
        page.annotator.labeling["label"].value = f"bird{k}"
        page.annotator.apply_label(None)
        patches = [e for e in page.events if type(e).__name__ == "ColumnsPatchedEvent"]
        assert patches, "labels must reach the page as patches"
        sizes[k] = page.sent_bytes()
        assert set(np.asarray(page.annotator.source.data["label"])[rows]) == {f"bird{k}"}
    data = page.annotator.source.data
    whole = sum(len(json.dumps([v if isinstance(v, str) else float(v) for v in data[column]]))
                for column in data)  # the whole source, resent
    assert sizes[10] < 6_000 < whole  # a few rows, not the 10k-row source
    per_row = (sizes[1000] - sizes[100]) / 900
    assert per_row < 150  # grows linearly with k (label, colour, selection table row) ...
    assert sizes[1000] < whole / 2  # ... and stays well below a resend


def test_every_open_page_follows_a_label_made_in_another(big):
    first, second = Page(big), Page(big)
    assert first.annotator.source is not second.annotator.source  # one document each
    first.select([3, 5])
    first.annotator.apply_label("owl")
    for page in (first, second):
        data = page.annotator.source.data
        assert data["label"][3] == data["label"][5] == "owl"
        assert data["color"][3] == packed(label_color("owl", big.label_order))
        population = page.annotator.population_source.data
        assert population["raw"][population["label"].index("owl")] == 2
    second.annotator.undo()
    assert first.annotator.source.data["label"][3] == "ABSTAIN"
    assert first.annotator.source.data["color"][3] == packed(ABSTAIN_COLOR)


def test_commit_errors_are_messages_and_change_nothing(big):
    page = Page(big)
    page.select([7])  # an ABSTAIN raw row
    page.annotator.commit("train")
    assert "cannot commit" in page.annotator.status.text
    assert page.annotator.source.data["subset"][7] == "raw"


def test_a_sweeping_selection_leaves_dev_and_test_as_they_were():
    """A lasso across raw, train and test rows labels and moves the raw and train rows
    only, and says so; the test rows change when they alone are selected."""
    ds = synthetic(40)
    ds.set_labels(ds.keys[30:36], "truth")
    ds.commit(ds.keys[30:34], "test")
    ds.commit(ds.keys[34:36], "dev")
    page = Page(ds)
    page.select(range(25, 40))  # raw, train (30 was train), test and dev
    page.annotator.apply_label("swept")
    status = page.annotator.status.text
    assert "left 6 dev/test clip(s) as they were" in status
    table = ds.to_pandas()
    assert (table["label"][30:34] == "truth").all() and (table["SUBSET"][30:34] == "test").all()
    assert (table["label"][list(range(25, 30)) + list(range(36, 40))] == "swept").all()
    page.annotator.commit("train")
    table = ds.to_pandas()
    assert (table["SUBSET"][30:34] == "test").all() and (table["SUBSET"][34:36] == "dev").all()
    assert (table["SUBSET"][36:40] == "train").all()
    page.select(range(30, 34))  # the test rows alone: changed as asked
    page.annotator.apply_label("fixed")
    assert (ds.to_pandas()["label"][30:34] == "fixed").all()
    assert "left" not in page.annotator.status.text


def test_selection_modes_combine_like_hover():
    page = Page(synthetic(50))
    annotator = page.annotator
    modes = ["none", "union", "intersection", "difference"]
    page.select([1, 2, 3])
    annotator.labeling["mode"].active = modes.index("union")
    page.select([3, 4])
    assert annotator.selected() == [1, 2, 3, 4]
    annotator.labeling["mode"].active = modes.index("intersection")
    page.select([2, 3, 9])
    assert annotator.selected() == [2, 3]
    annotator.labeling["mode"].active = modes.index("difference")
    page.select([3])
    assert annotator.selected() == [2]
    assert annotator.selection_source.data["index"] == [2]


def test_editing_a_label_in_the_selection_table_labels_the_clip():
    ds = synthetic(30)
    page = Page(ds)
    page.select([4, 6])
    table = dict(page.annotator.selection_source.data)
    table["label"] = ["frog", table["label"][1]]
    page.annotator.selection_source.data = table
    assert ds.to_pandas()["label"][4] == "frog"
    assert ds.to_pandas()["label"][6] == "ABSTAIN"


def test_keyboard_commands_undo_redo_and_label_buttons():
    ds = synthetic(30)
    page = Page(ds)
    page.select([2])
    page.annotator.channel.command = "label:2:1:0"  # key "2": the second label button
    assert ds.to_pandas()["label"][2] == ds.label_order[1]
    page.annotator.channel.command = "undo:2:0"
    assert ds.to_pandas()["label"][2] == "ABSTAIN"
    page.annotator.channel.command = "redo:3:0"
    assert ds.to_pandas()["label"][2] == ds.label_order[1]


def test_label_buttons_follow_the_labels_clips_have_and_cut_long_ones_short():
    from bokeh.models import Button

    ds = synthetic(30)
    page = Page(ds)
    annotator = page.annotator

    def shown():
        return [child.label for child in annotator.label_buttons.children
                if isinstance(child, Button)]

    first = list(annotator.button_labels)
    assert shown()[0] == f"1: {first[0]}"
    page.select([2, 3])
    annotator.apply_label("x" * 300)  # a long label: its button shows the start of it
    assert shown()[-1] == f"{len(first) + 1}: {'x' * 39}…"
    # every clip of the first label relabeled: it gives its button and key up
    rows = [at for at, label in enumerate(ds.column("label")) if label == first[0]]
    page.select(rows)
    annotator.apply_label(first[1])
    assert first[0] not in annotator.button_labels
    assert shown()[0] == f"1: {first[1]}"
    page.select([5])
    page.annotator.channel.command = "label:1:7:0"  # key "1": now the first label in use
    assert ds.column("label")[5] == first[1]


def test_layout_moves_in_place_keeping_selection_and_labels():
    ds = synthetic(200)
    page = Page(ds)
    page.select([5, 6])
    page.annotator.apply_label("kept")
    before = np.array(page.annotator.source.data["x"], dtype=float)
    source = page.annotator.source
    ds.compute_nd_embedding(method="umap", n_neighbors=5, progress=False)
    after = np.array(page.annotator.source.data["x"], dtype=float)
    assert page.annotator.source is source  # same source: no reload
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after, ds.to_pandas()["embed_2d_0"].to_numpy(), rtol=1e-6)
    assert page.annotator.selected() == [5, 6]
    assert source.data["label"][5] == "kept"


def test_search_shows_results_by_size_and_alpha():
    ds = synthetic(300)
    page = Page(ds)
    page.select([10])
    search = page.annotator.search
    search["top_k"].value = 5
    search["threshold"].value = -1.0
    search.search_selection().result(timeout=30)  # searches run off the event loop
    sizes = np.array(page.annotator.source.data["size"])
    assert (sizes > sizes.min()).sum() == 5
    assert len(search.results) == 5 and 10 not in search.results
    search.select_results()
    assert sorted(page.annotator.selected()) == sorted(search.results.tolist())


def test_handle_builds_a_fresh_document_per_session():
    ds = synthetic(20)
    handle = annotator_handle(ds)
    first, second = Document(), Document()
    handle(first)
    handle(second)
    ids_first = {model.id for model in first.models}
    assert not ids_first & {model.id for model in second.models}


@pytest.mark.parametrize("key,shown", [
    ("/a/b/Track 18.wav", "Track 18.wav"),
    ("https://host/x/Track%2018.wav#t=1,2", "Track 18.wav [1,2]"),
    ("file:///tmp/%3Cb%3E.wav", "<b>.wav"),
])
def test_display_names(key, shown):
    assert display_name(key) == shown


@pytest.mark.parametrize("recipe", ["simple_annotator", "linked_annotator", "active_learning"])
def test_recipes_build_documents_by_their_hover_paths(recipe):
    import importlib

    ds = synthetic(40)
    for module in ("hover_audio.recipes", "hover_audio.recipes.stable",
                   "hover_audio.recipes.experimental"):
        handle = getattr(importlib.import_module(module), recipe)(ds)
        doc = Document()
        handle(doc)
        assert doc.get_model_by_name("clips") is not None
        assert doc.get_model_by_name("map") is not None
    function = getattr(importlib.import_module("hover_audio.recipes"), recipe)
    # hover's extra arguments: a vecnet is refused at the call, plot sizes are let go
    with pytest.raises(TypeError, match="vecnet and callbacks are not taken"):
        function(ds, object())
    with pytest.warns(UserWarning, match=r"\['height', 'width'\] ignored"):
        function(ds, height=600, width=600)
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        function(ds, colour="red")


def test_tooltip_durations_come_from_ranges_when_there_is_no_duration_column():
    from hover_audio.app.explorer.page_data import source_data

    ds = AudioDataset.from_pandas(pd.DataFrame({
        "audio": ["/a.wav#t=1.5,2.25", "/b.wav", "/c.wav"],
        "start": [None, None, 3.0], "end": [None, None, 4.5]}))
    assert source_data(ds)["duration"] == ["0.75 s", "?", "1.50 s"]


def test_a_whole_files_duration_reaches_the_tooltip_once_it_plays(tmp_path):
    """'?' until the clip is first heard: the answer carries its length (from the file's
    header, nothing decoded twice), and the page's row is patched with it."""
    import soundfile

    path = tmp_path / "Track 18.wav"
    soundfile.write(path, np.zeros(12000, dtype=np.float32), 8000)
    ds = AudioDataset.from_pandas(pd.DataFrame({"audio": [str(path), f"{path}#t=0.25,1"]}))
    ds.vectors = np.eye(2, 4, dtype=np.float32)
    page = Page(ds)
    annotator = page.annotator
    assert annotator.source.data["duration"] == ["?", "0.75 s"]
    for row in (0, 1):
        annotator._answer(*Annotator._encode(row, annotator._clip_args(row)))
    assert annotator.source.data["duration"] == ["1.50 s", "0.75 s"]
    assert annotator.channel.answered == 1 and annotator.channel.payload


def test_search_aspect_scores_are_the_aspects_scores(digits_page_data):
    ds = digits_page_data
    page = Page(ds)
    search = page.annotator.search
    assert [value for value, _ in search.aspect.options] == ["overall", "timbre", "shape",
                                                              "labels"]
    assert not search.aspect.disabled
    search["threshold"].value = -1.0
    page.select([3, 4])
    search.search_selection().result(timeout=30)
    np.testing.assert_allclose(page.annotator.source.data["score"],
                               ds.similarity_index().scores([3, 4]), rtol=1e-5)
    search.aspect.value = "timbre"  # searches again at once, with the new aspect
    import time

    for _ in range(300):  # the re-run is in a worker: wait for its scores, boundedly
        if np.allclose(page.annotator.source.data["score"],
                       ds.similarity_index(aspect="timbre").scores([3, 4]), rtol=1e-5):
            break
        time.sleep(0.05)
    np.testing.assert_allclose(page.annotator.source.data["score"],
                               ds.similarity_index(aspect="timbre").scores([3, 4]), rtol=1e-5)


def test_changing_the_aspect_searches_again_after_a_search_that_found_nothing(
        digits_page_data):
    """Nothing above the minimum score in one aspect says nothing of another: a new
    aspect searches the same query again."""
    ds = digits_page_data
    page = Page(ds)
    search = page.annotator.search
    search["threshold"].value = 1.0  # no clip other than the query scores 1
    page.select([3, 4])
    search.search_selection().result(timeout=30)
    assert len(search.results) == 0
    assert "0 result(s) (overall); 50 of the 50 nearest are below min score 1.00" in (
        page.annotator.status.text)  # why nothing shows, and what to move
    search.aspect.value = "shape"
    wait_for_scores(page, ds.similarity_index(aspect="shape").scores([3, 4]))
    assert "result(s) (shape)" in page.annotator.status.text


def test_the_min_score_follows_each_aspect_until_the_user_sets_one(digits_page_data):
    """Scores run lower in some aspects: by default ("auto" ticked) a result must beat 90%
    of pairs of clips in the aspect searched, and the slider shows that score; a user's
    value stays until "auto" is ticked again."""
    import time

    from hover_audio.app.explorer.search_panel import CHANCE_SHARE

    page = Page(digits_page_data)
    search, slider, auto = (page.annotator.search, page.annotator.search["threshold"],
                            page.annotator.search["auto"])
    assert search.auto_threshold and auto.active
    page.select([3, 4])
    levels = {}
    for aspect in ("shape", "timbre"):
        search.clear_search()  # (no second search of the last query in another thread)
        search.aspect.value = aspect
        search.search_selection().result(timeout=30)
        index = page.annotator._search_index(aspect)
        levels[aspect] = chance = index.chance_score(CHANCE_SHARE)
        scores = index.scores([3, 4])
        nearest = index.top_k([3, 4], 50)
        expected = nearest[scores[nearest] >= chance]
        assert 0 < len(expected) < 50  # the level matters for this query
        np.testing.assert_array_equal(search.results, expected)
        assert slider.value == round(chance, 2) and auto.active
    assert levels["shape"] != levels["timbre"]
    slider.value = 0.55  # the user's own minimum, in every aspect from now on
    assert not search.auto_threshold and not auto.active
    for aspect in ("shape", "overall"):
        search.clear_search()
        search.aspect.value = aspect
        search.search_selection().result(timeout=30)
        scores = page.annotator._search_index(aspect).scores([3, 4])
        assert (scores[search.results] >= 0.55).all()
        assert slider.value == 0.55
    auto.active = True  # back to the chance level: the last search is run again with it
    wait_for_scores(page, page.annotator._search_index("overall").scores([3, 4]))
    for _ in range(300):
        if slider.value != 0.55:
            break
        time.sleep(0.05)
    assert slider.value == round(page.annotator._search_index("overall").chance_score(
        CHANCE_SHARE), 2)
    assert search.auto_threshold


def wait_for_scores(page, expected) -> None:
    import time

    for _ in range(300):  # the search runs in a worker: wait for its scores, boundedly
        if np.allclose(page.annotator.source.data["score"], expected, rtol=1e-5):
            return
        time.sleep(0.05)
    np.testing.assert_allclose(page.annotator.source.data["score"], expected, rtol=1e-5)


def test_labels_aspect_search_follows_the_labels(digits_page_data):
    ds = digits_page_data
    page = Page(ds)
    search = page.annotator.search
    search["threshold"].value = -1.0
    page.select([3, 4])
    search.aspect.value = "labels"
    search.search_selection().result(timeout=30)
    learned = ds.similarity_index(aspect="labels").scores([3, 4])
    wait_for_scores(page, learned)
    assert not np.allclose(learned, ds.similarity_index().scores([3, 4]), rtol=1e-3)
    shared = page.annotator._search_index
    assert shared("labels") is shared("labels") and shared() is shared()
    overall = shared()
    # new labels: the next search learns from them (the shared index is rebuilt)
    ds.set_labels(ds.keys[:30], "one")
    try:
        assert shared() is overall  # the other aspects do not depend on labels
        search.search_selection().result(timeout=30)
        relearned = ds.similarity_index(aspect="labels").scores([3, 4])
        assert not np.allclose(relearned, learned, rtol=1e-3)
        wait_for_scores(page, relearned)
    finally:
        ds.undo()


def test_redraw_draws_the_labels_map_again_with_the_new_labels(digits_page_data):
    import time

    from bokeh.events import ButtonClick

    from hover_audio.app.explorer.aspects import map_state

    ds = digits_page_data
    page = Page(ds)
    control, state = page.annotator.map_aspect, map_state(ds)

    def xs():
        deadline = time.monotonic() + 60
        while state.running and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not state.running
        return np.array(page.annotator.source.data["x"], dtype=float)

    original = ds.compute_nd_embedding
    ds.compute_nd_embedding = lambda *args, **kwargs: original(*args, **{**kwargs,
                                                                         "method": "pca"})
    try:
        control.select.value = "labels"
        first = xs()
        assert state.aspect == "labels" and "map: labels" in page.annotator.status.text
        control.redraw._trigger_event(ButtonClick(control.redraw))  # nothing new: same map
        np.testing.assert_allclose(xs(), first)
        assert control.redraw.label == "↻ redraw"
        changed = sum(label != "one" for label in ds.column("label")[:30])
        ds.set_labels(ds.keys[:30], "one")
        # the button counts the labels the map has not learned (on every page)
        assert control.redraw.label == f"↻ redraw ({changed} changed)" and changed > 0
        assert Page(ds).annotator.map_aspect.redraw.label == f"↻ redraw ({changed} changed)"
        control.select.value = "labels"  # choosing the current aspect again does nothing
        np.testing.assert_allclose(xs(), first)
        control.redraw._trigger_event(ButtonClick(control.redraw))
        assert not np.allclose(xs(), first)  # learned from the new labels
        assert "map: labels" in page.annotator.status.text
        assert control.redraw.label == "↻ redraw"
    finally:
        del ds.compute_nd_embedding
        ds.undo()


def test_the_selectors_say_what_the_labels_aspect_would_learn_from(digits_page_data):
    """Every page's "labels" option, in the map's and in the search's selector, counts
    the labeled clips the labels aspect would learn from (test rows and ABSTAIN left out),
    follows label changes, and says what it still needs when there are too few."""
    from hover_audio.dataset.embedding import learning_labels

    ds = digits_page_data
    pages = [Page(ds), Page(ds)]

    def texts():  # the map's and the search's selectors of every page
        return {dict(select.options)["labels"] for page in pages
                for select in (page.annotator.map_aspect.select, page.annotator.search.aspect)}

    def expected():
        counts = pd.Series(learning_labels(ds)).value_counts()
        return f"labels ({int(counts[counts >= 2].sum())} clips)"

    before = expected()
    assert texts() == {before} and before != "labels (0 clips)"
    try:
        ds.commit(ds.keys[:20], "test")  # test rows never teach the labels aspect
        assert texts() == {expected()} != {before}
        ds.set_labels(ds.keys[20:], "ABSTAIN")  # only 20 test rows keep a label
        assert texts() == {"labels (too few yet)"}
    finally:
        ds.undo()
        ds.undo()
    assert texts() == {before}
    assert [value for value, _ in pages[0].annotator.map_aspect.select.options] == ds.aspects()


def test_new_labels_are_counted_once_per_change_for_all_pages(digits_page_data, monkeypatch):
    from hover_audio.app.explorer import aspects

    ds = digits_page_data
    state = aspects.map_state(ds)
    pages = [Page(ds) for _ in range(3)]
    monkeypatch.setattr(state, "aspect", "labels")
    monkeypatch.setattr(state, "learned", aspects.learning_labels(ds))
    calls = []
    real = aspects.learning_labels
    monkeypatch.setattr(aspects, "learning_labels", lambda d: calls.append(1) or real(d))
    changed = sum(label != "two" for label in ds.column("label")[:5])
    ds.set_labels(ds.keys[:5], "two")
    try:
        assert len(calls) == 1  # one count for the three pages
        assert {page.annotator.map_aspect.redraw.label for page in pages} == {
            f"↻ redraw ({changed} changed)"}
    finally:
        ds.undo()


def test_map_aspect_is_computed_off_the_loop_and_followed_by_every_page(digits_page_data):
    import threading
    import time

    from hover_audio.app.explorer.aspects import map_state

    ds = digits_page_data
    first, second = Page(ds), Page(ds)
    before = np.array(first.annotator.source.data["x"], dtype=float)
    calls = []
    original = ds.compute_nd_embedding

    def spy(*args, **kwargs):
        calls.append((threading.current_thread().name, kwargs.get("aspect")))
        return original(*args, **{**kwargs, "method": "pca"})

    ds.compute_nd_embedding = spy
    try:
        first.annotator.map_aspect.select.value = "shape"
        state = map_state(ds)
        deadline = time.monotonic() + 60
        while (state.running or state.aspect != "shape") and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        del ds.compute_nd_embedding
    assert calls == [("hover-audio-map-aspect", "shape")]  # a worker thread, not the loop
    after = np.array(first.annotator.source.data["x"], dtype=float)
    assert not np.allclose(before, after)
    np.testing.assert_allclose(second.annotator.source.data["x"], after)
    assert second.annotator.map_aspect.select.value == "shape"  # the other page follows


def test_a_typed_path_finds_its_row_however_it_is_spelled(digits_page_data):
    """'/x/a.flac', 'file:///x/a.flac' and '/x/./a.flac' are one file: one answer (the
    row searched by, not a new file that finds itself)."""
    page = Page(digits_page_data)
    search, status = page.annotator.search, page.annotator.status
    key = digits_page_data.keys[7]
    folder, name = key.rsplit("/", 1)
    answers = []
    for typed in (key, f"file://{key}", f"{folder}/./{name}"):
        search.controls["query"].value = typed
        search.search_typed().result(timeout=30)
        answers.append((search.results.tolist(), status.text))
    assert answers[1] == answers[0] and answers[2] == answers[0], answers
    # and the box says what it wants when it is empty, or a tag is missing
    for typed, said in (("   ", "path or URL, or tag:TEXT"), ("tag:", "type the tag")):
        search.controls["query"].value = typed
        assert search.search_typed() is None and said in status.text
    search.clear_search()
    assert "search cleared" in status.text
