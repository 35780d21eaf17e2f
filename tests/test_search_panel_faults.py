"""Faults of the search panel found in a real browser, on real Bokeh documents.

An upload arrives as the server applies it (value first, then filename); ``tag:``
finds whole tags only and ``label:`` labels; top k and min score filter the last
search's results again without a new search.
"""
from __future__ import annotations

import base64
import html
import time
from pathlib import Path

import numpy as np
import pytest
from bokeh.document import Document

from hover_audio.app.explorer.annotator import Annotator
from hover_audio.app.explorer.search_panel import CHANCE_SHARE
from hover_audio.dataset.tagging import add_tags

from .test_explorer import Page, synthetic

DIGITS = Path(__file__).resolve().parents[1] / "hover_audio" / "data" / "digits"


class ServedPage:
    """A document with an annotator whose next-tick callbacks wait in a queue, as on
    the server: they run after the whole message that scheduled them was applied."""

    def __init__(self, dataset):
        self.doc = Document()
        self.ticks = []
        self.doc.add_next_tick_callback = self.ticks.append  # (any thread may add)
        self.annotator = Annotator(dataset)
        self.annotator.attach(self.doc)

    def run_ticks(self) -> None:
        while self.ticks:
            self.ticks.pop(0)()

    def wait_status(self, text: str, seconds: float = 60.0) -> str:
        """Run the ticks until the status line says ``text`` (a search is in a worker)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.run_ticks()
            if text in self.annotator.status.text:
                return self.annotator.status.text
            time.sleep(0.05)
        raise AssertionError(f"status never said {text!r}: {self.annotator.status.text!r}")


def upload_text(name: str = "clip_0100.flac") -> str:
    return base64.b64encode((DIGITS / name).read_bytes()).decode("ascii")


def alphas(page) -> np.ndarray:
    return np.asarray(page.annotator.source.data["alpha"])


# ------------------------------------------------------------------ fault 1: uploads
def test_an_upload_is_searched_when_its_filename_arrives_after_its_value(digits_page_data):
    """Bokeh's FileInput sends value, filename and MIME type; the server applies value
    first. Reading the filename then raised UnsetValueError and aborted the message."""
    page = ServedPage(digits_page_data)
    upload = page.annotator.search["upload"]
    upload.set_from_json("value", upload_text())  # as the server applies the message
    upload.set_from_json("filename", "clip_0100.flac")
    upload.set_from_json("mime_type", "audio/flac")
    status = page.wait_status("result(s)")
    search = page.annotator.search
    assert len(search.results) > 0, status
    assert np.isfinite(page.annotator.source.data["score"]).all()
    assert (alphas(page)[search.results] == 1.0).all()


def test_an_upload_without_a_filename_is_still_searched(digits_page_data):
    page = ServedPage(digits_page_data)
    page.annotator.search["upload"].set_from_json("value", upload_text("clip_0007.flac"))
    page.wait_status("result(s)")
    assert len(page.annotator.search.results) > 0


# ------------------------------------------------------------------ fault 2: tag:, label:
@pytest.fixture
def tagged():
    ds = synthetic(40)  # labels: "cat" (rows 0, 20), "dog" (10, 30), the rest ABSTAIN
    keys = list(ds.keys)
    add_tags(ds, keys[1:3], "cat")  # a tag named like a label
    add_tags(ds, keys[3:4], "Dog")
    add_tags(ds, keys[4:7], "catalogue")  # contains "cat"
    return ds


@pytest.mark.parametrize("typed, rows, said", [
    ("tag:cat", [1, 2], "2 clip(s) tagged 'cat'"),
    ("tag: CAT ", [1, 2], "2 clip(s) tagged 'CAT'"),  # any case; spaces trimmed
    ("tag:dog", [3], "1 clip(s) tagged 'dog'"),
    ("tag:a", [], "0 clip(s) tagged 'a'"),  # whole tags only, never a substring
    ("TAG:catalogue", [4, 5, 6], "3 clip(s) tagged 'catalogue'"),
    ("label:cat", [0, 20], "2 clip(s) labeled 'cat'"),
    ("label:DOG", [10, 30], "2 clip(s) labeled 'DOG'"),
    ("label:ca", [], "0 clip(s) labeled 'ca'"),
])
def test_tag_finds_whole_tags_and_label_finds_labels(tagged, typed, rows, said):
    page = Page(tagged)
    search = page.annotator.search
    search["query"].value = typed
    assert search.search_typed() is None  # no similarity search: answered at once
    assert sorted(search.results.tolist()) == rows
    assert said in html.unescape(page.annotator.status.text)
    hit = np.zeros(len(tagged), dtype=bool)
    hit[rows] = True
    assert (alphas(page)[hit] == 1.0).all() and (alphas(page)[~hit] < 1.0).all()


def test_an_empty_label_search_says_what_it_wants(tagged):
    page = Page(tagged)
    page.annotator.search["query"].value = "label: "
    assert page.annotator.search.search_typed() is None
    assert "type the label after label:" in page.annotator.status.text


# ------------------------------------------------------------------ fault 3: re-filtering
def test_top_k_and_min_score_filter_the_last_results_again():
    ds = synthetic(400)
    page = Page(ds)
    search, status = page.annotator.search, page.annotator.status
    search["threshold"].value = -1.0  # the user's minimum: every score
    page.select([3])
    search.search_selection().result(timeout=30)
    scores = np.asarray(page.annotator.source.data["score"]).copy()
    assert len(search.results) == 50 and "50 result(s)" in status.text
    search["top_k"].value = 7  # fewer: the 7 best of the same search
    index = page.annotator._search_index("overall")
    assert search.results.tolist() == index.top_k([3], 7).tolist()
    assert "7 result(s)" in status.text
    assert np.flatnonzero(alphas(page) == 1.0).tolist() == sorted(search.results.tolist())
    search.select_results()
    assert sorted(page.annotator.selected()) == sorted(search.results.tolist())
    search["top_k"].value = 300  # more than were shown: no new search needed
    assert len(search.results) == 300 and "300 result(s)" in status.text
    assert (alphas(page) == 1.0).sum() == 300
    cut = float(np.sort(scores[search.results])[-20])
    search["threshold"].value = cut  # a higher minimum hides the rest of the 300
    kept = search.results
    assert 0 < len(kept) <= 20 and (scores[kept] >= cut).all()
    assert f"{len(kept)} result(s)" in status.text and "below min score" in status.text
    assert (alphas(page) == 1.0).sum() == len(kept)
    np.testing.assert_array_equal(page.annotator.source.data["score"], scores)  # same search


def test_ticking_auto_filters_an_uploads_results_by_the_chance_level(digits_page_data):
    """An upload cannot be searched again (its file is gone): its scores are kept."""
    page = ServedPage(digits_page_data)
    search = page.annotator.search
    search["threshold"].value = -1.0  # auto off
    search["upload"].set_from_json("value", upload_text())
    page.wait_status("50 result(s)")
    search["auto"].active = True
    index = page.annotator._search_index("overall")
    chance = index.chance_score(CHANCE_SHARE)
    assert search["threshold"].value == round(chance, 2)
    scores, nearest = index.search(str(DIGITS / "clip_0100.flac"), 50)
    expected = nearest[scores[nearest] >= chance]
    assert 0 < len(expected) < 50  # the level matters for this file
    np.testing.assert_array_equal(search.results, expected)
    assert f"{len(expected)} result(s)" in page.annotator.status.text
