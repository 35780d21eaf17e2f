"""Search by example in a real browser: an uploaded file, and re-filtering the results.

Each test drives headless Chromium against the real ``hover-audio serve`` process and
waits (polls) for the status line the server sends back.
"""
from __future__ import annotations

import re

from .conftest import DIGITS
from .test_annotator import button, open_app, source, status_text, wait_js, wait_text

UPLOAD = DIGITS / "clip_0100.flac"  # not one of the 60 rows of the browser dataset
RESULTS = re.compile(r"(\d+) result\(s\)")


def wait_results(page, timeout: float = 30_000) -> int:
    """Wait until the status line reports a result count; return the count."""
    wait_js(page, """() => [...Bokeh.documents[0].all_models].some((m) =>
        typeof m.text === 'string' && /\\d+ result\\(s\\)/.test(m.text))""", timeout=timeout)
    return int(RESULTS.search(status_text(page)).group(1))


def big_points(page) -> int:
    """How many points of the map are drawn as results (grown and opaque)."""
    data = source(page, "clips")
    return sum(1 for alpha in data["alpha"] if alpha == 1.0)


def test_searching_by_an_uploaded_file_shows_its_results(page, server):
    errors = []
    page.on("console", lambda message: errors.append(message.text)
            if "ERROR" in message.text or message.type == "error" else None)
    open_app(page, server.url)
    page.locator("input[type=file]").set_input_files(str(UPLOAD))
    found = wait_results(page)
    assert found > 0, status_text(page)
    scores = source(page, "clips")["score"]
    assert all(isinstance(score, (int, float)) and score == score for score in scores)
    assert big_points(page) == found
    assert not [text for text in errors if "UnsetValueError" in text], errors
    assert "UnsetValueError" not in server.output()
    # the same file again (after another search): searched again
    query = page.get_by_placeholder("/path/to/clip.wav or tag:applause")
    query.fill("tag:nothing-has-this")
    button(page, "Search").click()
    wait_text(page, "0 clip(s) tagged")
    page.locator("input[type=file]").set_input_files(str(UPLOAD))
    assert wait_results(page) == found


def test_changing_top_k_refilters_the_shown_results(page, server):
    """No second press of Search: a smaller top k shows fewer results at once."""
    open_app(page, server.url)
    query = page.get_by_placeholder("/path/to/clip.wav or tag:applause")
    query.fill(str(DIGITS / "clip_0001.flac"))  # row 0 of the dataset
    page.evaluate("""() => { const slider = [...Bokeh.documents[0].all_models].find((m) =>
        m.properties && m.title === 'min score'); slider.value = -1.0; }""")  # auto: off
    button(page, "Search").click()
    wait_text(page, "result(s)")
    assert wait_results(page) == 50  # the default top k, every score above -1
    page.evaluate("""() => { const spinner = [...Bokeh.documents[0].all_models].find((m) =>
        m.properties && m.title === 'top k'); spinner.value = 7; }""")
    wait_text(page, "7 result(s)")
    wait_js(page, """() => Array.from(Bokeh.documents[0].get_model_by_name('clips').data.alpha)
        .filter((a) => a === 1.0).length === 7""")
    button(page, "Select results").click()
    wait_js(page, """() => Bokeh.documents[0].get_model_by_name('clips')
        .selected.indices.length === 7""")
