"""Faults QA found in the annotator, pinned on real Bokeh documents (no browser): an empty
undo (or redo) history says so, a selected clip whose range is set stays selected, and
the selection table is a root of its own right after the map's (the browser tests in
tests/browser/test_layout_faults.py check where it lands on the page)."""
from __future__ import annotations

import html
from pathlib import Path

import pandas as pd
import pytest
from bokeh.document import Document
from bokeh.models import DataTable
from bokeh.plotting import figure

from hover_audio import AudioDataset
from hover_audio.app.explorer.annotator import Annotator

from .test_explorer import Page, synthetic

DIGIT = str(Path(__file__).resolve().parents[1] / "hover_audio" / "data" / "digits"
            / "clip_0001.flac")  # 0.95 s


def status(page) -> str:
    return html.unescape(page.annotator.status.text)


def test_undo_and_redo_with_an_empty_history_say_there_is_nothing_to_do():
    page = Page(synthetic(20))
    annotator = page.annotator
    annotator.undo()
    assert "nothing to undo" in status(page) and "undid" not in status(page)
    annotator.redo()
    assert "nothing to redo" in status(page) and "redid" not in status(page)
    page.select([1, 2])
    annotator.apply_label("owl")
    annotator.undo()
    assert "undid 2 change(s)" in status(page)
    annotator.redo()
    assert "redid 2 change(s)" in status(page)
    annotator.channel.command = "redo:1"  # Ctrl+Y
    assert "nothing to redo" in status(page)
    for _ in range(2):
        annotator.undo()
    assert "nothing to undo" in status(page)
    assert list(annotator.source.data["label"][1:3]) == ["ABSTAIN"] * 2


def ranges() -> AudioDataset:
    return AudioDataset.from_pandas(pd.DataFrame({
        "audio": [f"{DIGIT}#t={t / 10:g},{(t + 1) / 10:g}" for t in range(5)],
        "label": ["ABSTAIN"] * 5, "SUBSET": ["raw"] * 5}))


def set_range(page, position: int, start: str, end: str, ticks: list) -> str:
    """Show row ``position`` in the clip panel, type a range and press Set range; run the
    page's next ticks (where the server applies the dataset's change) after the click."""
    panel = page.annotator.clip_panel
    panel.show = lambda position: None  # no picture drawn in a worker thread here
    panel.key = page.annotator.dataset.keys[position]
    panel.start_in.value, panel.end_in.value = start, end
    panel.set_range()
    while ticks:
        ticks.pop(0)()
    return panel.key


@pytest.mark.parametrize("next_tick", [False, True], ids=["applied-at-once", "applied-next-tick"])
def test_setting_the_range_of_a_selected_clip_keeps_it_selected(next_tick):
    ds = ranges()
    page = Page(ds)
    ticks = []
    if next_tick:  # as the server does: the page applies the change after the click
        page.doc.add_next_tick_callback = ticks.append
    page.select([1, 2, 3])
    kept = [ds.keys[1], ds.keys[3]]
    set_range(page, 2, "0.2", "0.35", ticks)
    new = f"{DIGIT}#t=0.2,0.35"
    assert new in ds.keys and f"{DIGIT}#t=0.2,0.3" not in ds.keys
    annotator = page.annotator
    chosen = sorted(ds.keys[i] for i in annotator.selected())
    assert chosen == sorted(kept + [new])
    assert sorted(annotator.selection_source.data["index"]) == annotator.selected()
    assert "range set" in status(page) and "no longer rows" not in status(page)
    # a clip outside the selection stays outside it
    set_range(page, ds.keys.index(f"{DIGIT}#t=0,0.1"), "0", "0.05", ticks)
    assert sorted(ds.keys[i] for i in annotator.selected()) == sorted(kept + [new])
    # and deleting a selected clip still takes it out of the selection
    annotator.clip_panel.key = new
    annotator.clip_panel.delete()
    while ticks:
        ticks.pop(0)()
    assert sorted(ds.keys[i] for i in annotator.selected()) == sorted(kept)


@pytest.mark.parametrize("linked", [False, True], ids=["map", "map-and-finder"])
def test_the_selection_table_is_a_root_of_its_own_right_after_the_maps(linked):
    annotator = Annotator(synthetic(20), linked=linked)
    doc = Document()
    annotator.attach(doc)
    assert doc.roots[:3] == [annotator.layout, annotator.table_layout, annotator.details_layout]
    # nothing but the map on the map's side of the first root: the table comes right under it
    assert list(annotator.layout.select({"type": figure})) == [annotator.plot]
    assert list(annotator.table_layout.select({"type": DataTable})) == [annotator.selection]
    assert annotator.selection.sizing_mode == "stretch_width"  # as wide as the page
