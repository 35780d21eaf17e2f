"""Faults QA found in the annotator page on a real 409-file library, pinned on real Bokeh
documents (no browser; tests/browser/test_page_faults.py checks them in Chromium): the map's
legend sits outside its data area, a new selection unpicks the selection table's row, the
label palette has no greys and a label that gains a colour recolours all its rows, the
tables are as tall as their rows, Enter in the label box applies the label, and clips that
could not be read are named on the page."""
from __future__ import annotations

import html

import numpy as np
import pandas as pd
from bokeh.events import ValueSubmit

from hover_audio import AudioDataset
from hover_audio.app.explorer import widgets
from hover_audio.app.explorer.page_data import ABSTAIN_COLOR, PALETTE, label_color, packed

from .test_explorer import Page, synthetic


def rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))


def test_the_legend_is_outside_the_maps_data_area_and_still_hides_subsets():
    page = Page(synthetic(30))
    plot = page.annotator.plot
    legends = [item for side in (plot.above, plot.below, plot.left, plot.right, plot.center)
               for item in side if type(item).__name__ == "Legend"]
    assert len(legends) == 1
    legend = legends[0]
    assert legend not in plot.center, "the legend sits inside the data area, over points"
    assert legend.click_policy == "hide"
    assert [item.label.value for item in legend.items] == ["raw", "train", "dev", "test"]


def test_a_new_selection_unpicks_the_selection_tables_row():
    page = Page(synthetic(30))
    annotator = page.annotator
    page.select([3])
    annotator.selection_source.selected.indices = [0]  # the row clicked (plays clip 3)
    page.select([5])  # only clip 5 now: its row is row 0 again
    assert list(annotator.selection_source.data["index"]) == [5]
    # unpicked, so a click on row 0 changes the indices ([] -> [0]) and plays clip 5
    assert list(annotator.selection_source.selected.indices) == []
    annotator.selection_source.selected.indices = [0]
    annotator.refresh_selection_table()  # a label edit of a selected row keeps the pick
    assert list(annotator.selection_source.selected.indices) == [0]


def test_the_label_palette_has_no_greys():
    abstain = rgb(ABSTAIN_COLOR)
    for colour in PALETTE:
        r, g, b = rgb(colour)
        chroma = max(r, g, b) - min(r, g, b)
        lightness_gap = abs(sum((r, g, b)) - sum(abstain)) / 3
        # a colour, or (black) far darker than ABSTAIN's grey
        assert chroma >= 60 or lightness_gap >= 120, f"{colour} reads as grey (ABSTAIN)"
    assert len(set(c.lower() for c in PALETTE)) == len(PALETTE)
    labels = [f"label {i:02d}" for i in range(len(PALETTE))]
    assert label_color(labels[11], labels) != "#7f7f7f"


def test_a_label_that_gains_a_colour_recolours_all_its_rows():
    ds = synthetic(30)
    keys = ds.keys
    ds.set_labels([keys[1], keys[2]], "owl")
    ds.label_order.remove("owl")  # rows of a label the order does not have yet: grey
    page = Page(ds)
    colours = page.annotator.source.data["color"]
    assert colours[1] == colours[2] == packed(ABSTAIN_COLOR)
    ds.set_labels([keys[3]], "owl")  # the label's first use: it gets its colour
    assert "owl" in ds.label_order
    owl = packed(label_color("owl", ds.label_order))
    assert owl != packed(ABSTAIN_COLOR)
    colours = page.annotator.source.data["color"]
    assert [int(colours[i]) for i in (1, 2, 3)] == [owl] * 3, "rows of the label stayed grey"


def test_the_tables_are_as_tall_as_their_rows():
    page = Page(synthetic(60))
    annotator = page.annotator
    empty = annotator.selection.height
    assert empty <= widgets.HEADER_HEIGHT + widgets.ROW_HEIGHT  # no empty band when empty
    page.select([1, 2, 3])
    assert annotator.selection.height == widgets.HEADER_HEIGHT + 3 * widgets.ROW_HEIGHT
    page.select(range(40))
    assert annotator.selection.height == widgets.SELECTION_MOST  # then it scrolls
    page.select([])
    assert annotator.selection.height == empty
    # the population table grows with its labels: no inner scroll hides the last ones
    keys = annotator.dataset.keys
    for i in range(14):
        annotator.dataset.set_labels([keys[20 + i]], f"label {i}")
    rows = len(annotator.population_source.data["label"])
    assert rows >= 15
    assert annotator.population.height >= widgets.HEADER_HEIGHT + rows * widgets.ROW_HEIGHT


def test_enter_in_the_label_box_applies_the_label():
    page = Page(synthetic(30))
    annotator = page.annotator
    page.select([4, 5])
    box = annotator.labeling["label"]
    box.value = "heron"
    box._trigger_event(ValueSubmit(box, value="heron"))
    assert list(annotator.dataset.column("label")[[4, 5]]) == ["heron"] * 2
    assert "labeled 2 clip(s) 'heron'" in html.unescape(annotator.status.text)


def test_the_page_says_which_clips_could_not_be_read():
    ds = synthetic(12)
    table = ds.to_pandas()
    errors = [None] * len(table)
    errors[2], errors[7] = "not an audio file", "truncated FLAC"
    frame = pd.DataFrame({"audio": table["audio"], "label": table["label"],
                          "SUBSET": table["SUBSET"], "vector_error": errors})
    broken = AudioDataset.from_pandas(frame)
    vectors = np.random.default_rng(0).normal(size=(12, 8)).astype(np.float32)
    vectors[[2, 7]] = np.nan
    broken.vectors = vectors
    page = Page(broken)
    line = page.annotator.failed
    assert line.visible
    text = html.unescape(line.text)
    assert "2 clip(s) could not be read and are not on the map" in text
    assert f"{broken.keys[2]}: not an audio file" in text  # in its tooltip (title)
    assert f"{broken.keys[7]}: truncated FLAC" in text
    assert line in page.annotator.layout.select({"type": type(line)})
    clean = Page(synthetic(12)).annotator.failed
    assert not clean.visible and clean.text == ""
