"""Faults QA found in the annotator, pinned on real Bokeh documents (no browser):
other pages' edits keep a page's selection, every success replaces the status,
colouring by tag says what it does, Split waits for the playhead."""
from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from hover_audio import AudioDataset
from hover_audio.app.explorer.page_data import packed

from .test_explorer import Page, synthetic

ERROR = "#b00020"
DIGIT = str(Path(__file__).resolve().parents[1] / "hover_audio" / "data" / "digits" / "clip_0001.flac")


def status(page) -> str:
    """The status line's HTML, entities decoded (its colour tells an error)."""
    return html.unescape(page.annotator.status.text)


def test_another_page_deleting_or_adding_rows_keeps_the_selection_by_key():
    ds = synthetic(30)
    a, b = Page(ds), Page(ds)
    b.select([3, 5, 7, 9])
    chosen = [ds.keys[i] for i in (3, 5, 7, 9)]
    a.annotator.dataset.remove([ds.keys[1]])  # a row before the selection: rows move up
    assert [ds.keys[i] for i in b.annotator.selected()] == chosen
    assert b.annotator.selection_source.data["index"] == b.annotator.selected() == [2, 4, 6, 8]
    a.annotator.dataset.remove([chosen[1]])  # a selected row goes
    assert [ds.keys[i] for i in b.annotator.selected()] == [chosen[0]] + chosen[2:]
    assert "1 selected clip(s) are no longer rows (deleted or re-cut); 3 still selected" \
        in status(b)
    b.annotator.labeling["label"].value = "kept"
    b.annotator.apply_label(None)
    assert "labeled 3 clip(s) 'kept'" in status(b)


def test_a_new_range_elsewhere_keeps_the_selection():
    ds = AudioDataset.from_pandas(pd.DataFrame({
        "audio": [f"{DIGIT}#t=0.0,0.1", f"{DIGIT}#t=0.1,0.2", f"{DIGIT}#t=0.2,0.3"],
        "label": ["ABSTAIN"] * 3, "SUBSET": ["raw"] * 3}))
    Page(ds)  # another tab on the same dataset
    b = Page(ds)
    b.select([1, 2])
    chosen = [ds.keys[i] for i in (1, 2)]
    ds.add_range(DIGIT, 0.05, 0.15)
    assert [ds.keys[i] for i in b.annotator.selected()] == chosen
    assert len(b.annotator.selection_source.data["index"]) == 2


def test_a_label_elsewhere_leaves_the_selection_table_alone():
    """An edit outside a page's selection does not resend its table (which would close a
    cell editor open there); the table is a root of its own, apart from the messages."""
    ds = synthetic(30)
    a, b = Page(ds), Page(ds)
    b.select([3, 5])
    b.events.clear()
    a.select([10, 12])
    a.annotator.apply_label("owl")
    table = b.annotator.selection_source
    assert not [e for e in b.events if getattr(e, "model", None) is table]
    a.select([5])
    a.annotator.apply_label("wren")
    assert table.data["label"] == ["ABSTAIN", "wren"]
    assert b.annotator.table_layout in b.doc.roots
    assert b.annotator.selection not in b.annotator.layout.select({"type": type(table)})


def test_a_success_replaces_an_earlier_error():
    page = Page(synthetic(30))
    annotator = page.annotator
    page.select([2, 4, 6])
    annotator.remove_from_selection()  # no table row picked
    assert ERROR in status(page)
    annotator.selection_source.selected.indices = [1]
    annotator.remove_from_selection()
    assert annotator.selected() == [2, 6]
    assert ERROR not in status(page) and "removed 1 clip(s) from the selection" in status(page)
    annotator.apply_label("")  # an error again, then a new selection replaces it
    page.select([8])
    assert ERROR not in status(page) and "1 clip(s) selected" in status(page)


def test_colour_by_tag_needs_a_tag_and_says_which_it_uses():
    ds = synthetic(30)
    page = Page(ds)
    tags = page.annotator.tag_panel
    ds.add_tags([ds.keys[1], ds.keys[2]], ["rain"])
    ds.add_tags([ds.keys[3]], ["wind"])
    before = list(page.annotator.source.data["color"])
    tags.colour.active = True  # nothing typed
    assert not tags.colour.active
    assert "type a tag to colour by" in status(page) and ERROR in status(page)
    assert list(page.annotator.source.data["color"]) == before
    tags.box.value = "rain, wind"
    tags.colour.active = True
    assert "colouring by tag rain, wind: 3 clip(s) in red" in status(page)
    red = packed("#d62728")
    assert [i for i, c in enumerate(page.annotator.source.data["color"]) if c == red] == [1, 2, 3]
    tags.colour.active = False
    assert list(page.annotator.source.data["color"]) == before


def test_split_waits_for_the_playhead_of_the_clip_shown():
    ds = AudioDataset.from_pandas(pd.DataFrame({"audio": [f"{DIGIT}#t=0.2,0.6"],
                                                "label": ["ABSTAIN"], "SUBSET": ["raw"]}))
    page = Page(ds)
    panel = page.annotator.clip_panel
    panel.key = ds.keys[0]  # shown, never played
    panel.playhead.location = 1.0  # (a stale place set by the page, not by playing)
    panel._playhead_key = None
    panel.split()
    assert "click the waveform where to cut (or play the clip and pause it there) first" in status(page)
    assert len(ds) == 1
    panel.playhead.location = 0.4  # the browser moves it while the clip plays
    panel.split()
    assert len(ds) == 2 and "split in two" in status(page)
