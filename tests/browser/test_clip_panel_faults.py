"""QA's clip panel faults on a long real recording cut at silences: the playhead follows any
playback of the shown clip (Space after the end included) and a click on the waveform
places it, so Split cuts there; Split's message shows in the panel, next to its buttons."""
from __future__ import annotations

import numpy as np
import pytest

from ..conftest import FREEDESKTOP_SOUNDS
from .test_annotator import button, enable_sound, open_app, source, wait_js
from .test_clip_panel import EDGE_JS, GAP, VOICES, shown, spans, tap_row

PLAYHEAD_JS = """() => Bokeh.documents[0].get_model_by_name('clip-waveform').center
    .find((m) => m.type === 'Span' || (m.constructor && m.constructor.name === 'Span')).location"""
COUNT_JS = "(n) => Bokeh.documents[0].get_model_by_name('clips').data.name.length === n"
MESSAGE_JS = "() => Bokeh.documents[0].get_model_by_name('clip-message').text"


@pytest.fixture(scope="module")
def app(tmp_path_factory, freedesktop, start_server):
    """``hover-audio serve --segment nonsilent`` over six spoken words in one file."""
    import soundfile

    parts, rate = [], None
    for name in VOICES:
        samples, rate = soundfile.read(FREEDESKTOP_SOUNDS / f"{name}.oga", dtype="float32",
                                       always_2d=True)
        parts += [samples.mean(axis=1), np.zeros(int(GAP * rate), np.float32)]
    folder = tmp_path_factory.mktemp("faults") / "recordings"
    folder.mkdir()
    soundfile.write(folder / "session.wav", np.concatenate(parts), rate, subtype="PCM_16")
    return start_server(folder, folder.parent / "workspace", extra=("--segment", "nonsilent"))


@pytest.fixture()
def page(browser, app):
    context = browser.new_context(viewport={"width": 1500, "height": 1100})
    page = context.new_page()
    page.set_default_timeout(15_000)
    open_app(page, app.url)
    enable_sound(page)
    yield page
    context.close()


def playhead(page) -> float:
    return page.evaluate(PLAYHEAD_JS)


def longest(page, rank: int) -> tuple[float, float]:
    """The range of the ``rank``-th longest word the map shows (0: the longest)."""
    return sorted(spans(source(page, "clips")["name"]), key=lambda s: s[0] - s[1])[rank]


def split_and_wait(page, at: float) -> None:
    """Split the shown clip; wait for its two halves, cut at ``at`` (to the millisecond)."""
    count = len(source(page, "clips")["name"])
    button(page, "Split at playhead").click()
    wait_js(page, COUNT_JS, count + 1, timeout=20_000)
    cuts = [end for _, end in spans(source(page, "clips")["name"])]
    assert min(abs(end - at) for end in cuts) <= 0.0015, (at, cuts)


def test_space_after_the_end_plays_again_and_the_playhead_follows(page):
    start, end = longest(page, 0)
    tap_row(page, shown(start, end))
    wait_js(page, "() => window.hoverAudio.ended", timeout=20_000)  # played to its end
    wait_js(page, "(e) => Math.abs(" + PLAYHEAD_JS[6:] + " - e) < 0.05", end)
    page.mouse.click(5, 5)  # the body has the focus: Space is the page's
    page.keyboard.press(" ")  # plays the clip again, from its start
    wait_js(page, "() => !window.hoverAudio.paused && window.hoverAudio.currentTime > 0.15"
            " && window.hoverAudio.currentTime < 0.3")
    page.keyboard.press(" ")
    wait_js(page, "() => window.hoverAudio.paused")
    heard = page.evaluate("() => window.hoverAudio.currentTime")
    wait_js(page, "(at) => Math.abs(" + PLAYHEAD_JS[6:] + " - at) < 0.002", start + heard)
    at = playhead(page)
    assert start + 0.1 < at < end
    split_and_wait(page, at)


def test_a_click_on_the_waveform_places_the_playhead_and_split_cuts_there(page):
    start, end = longest(page, 1)
    tap_row(page, shown(start, end))
    wait_js(page, "() => window.hoverAudio.ended", timeout=20_000)
    x, y = page.evaluate(EDGE_JS, start + 0.4 * (end - start))
    page.mouse.click(x, y)
    wait_js(page, "(e) => Math.abs(" + PLAYHEAD_JS[6:] + " - e) > 0.05", end)
    at = playhead(page)
    assert abs(at - (start + 0.4 * (end - start))) < 0.02
    split_and_wait(page, at)


def test_a_new_range_resets_the_playhead_and_split_says_why_next_to_its_buttons(page):
    start, end = longest(page, 2)
    tap_row(page, shown(start, end))
    wait_js(page, "() => window.hoverAudio.ended", timeout=20_000)
    new_end = round(end - 0.1, 3)
    page.get_by_label("end (s)", exact=True).fill(f"{new_end}")
    button(page, "Set range").click()
    wait_js(page, "(e) => Bokeh.documents[0].get_model_by_name('clip-state').data.end[0] === e",
            new_end, timeout=20_000)
    wait_js(page, "(s) => " + PLAYHEAD_JS[6:] + " === s", start)
    # Space plays the sound the page holds, the old range's: the playhead stays put
    page.mouse.click(5, 5)
    page.keyboard.press(" ")
    wait_js(page, "() => !window.hoverAudio.paused && window.hoverAudio.currentTime > 0.2")
    page.keyboard.press(" ")
    assert playhead(page) == start
    button(page, "Split at playhead").click()
    wait_js(page, "() => (" + MESSAGE_JS[6:] + ").includes('click the waveform')")
    # the message shows next to the buttons, not in the status line far above
    message = page.locator(".bk-Div", has_text="click the waveform where to cut")
    split = button(page, "Split at playhead").bounding_box()
    boxes = [message.nth(i).bounding_box() for i in range(message.count())]
    assert any(box and abs(box["y"] - split["y"]) < 80 for box in boxes), (boxes, split)

    # a click past the range's end, then Split: a clear message, in the panel
    x, y = page.evaluate(EDGE_JS, new_end + 0.5)
    page.mouse.click(x, y)
    wait_js(page, "(e) => " + PLAYHEAD_JS[6:] + " > e", new_end)
    button(page, "Split at playhead").click()
    wait_js(page, "() => (" + MESSAGE_JS[6:] + ").includes('outside the range')")
