"""The aspects in the page: the search aspect changes the results, the map aspect moves the
points (computed off the event loop), and every tab follows the map's aspect; "labels" (a
distance learned from the labels) is one of them."""
from __future__ import annotations

from .test_annotator import button, select_rows, source, two_tabs, wait_text

SCORES_JS = """() => Array.from(Bokeh.documents[0].get_model_by_name('clips').data.score)"""
X_JS = """() => Array.from(Bokeh.documents[0].get_model_by_name('clips').data.x)"""


def choose(page, title: str, value: str) -> None:
    """Pick ``value`` in the drop-down titled ``title``, as a person does: by the text
    shown ("labels (25 clips)" for "labels")."""
    select = page.locator(f"label:has-text('{title}')").locator("xpath=..").locator("select")
    shown = [text for text in select.locator("option").all_text_contents()
             if text == value or text.startswith(f"{value} (")]
    assert len(shown) == 1, (value, select.locator("option").all_text_contents())
    select.select_option(label=shown[0])


def moved(tab, before) -> None:
    """Wait until the map's points have left the ``before`` x positions."""
    tab.wait_for_function(
        "(before) => { const x = Array.from(Bokeh.documents[0]"
        ".get_model_by_name('clips').data.x); return x.some((v, i) => v !== before[i]); }",
        arg=before, timeout=180_000)


def test_search_aspect_changes_results_and_map_aspect_moves_points(browser, dataset,
                                                                    start_server, tmp_path):
    server = start_server(dataset["table"], tmp_path / "ws")
    with two_tabs(browser, server.url) as (page, other):
        # search by a selection, "overall", then switch the aspect: new scores at once
        select_rows(page, [0, 1, 2])
        button(page, "More like the selection").click()
        page.wait_for_function(
            """() => Array.from(Bokeh.documents[0].get_model_by_name('clips').data.score)
                   .some((s) => Number.isFinite(s))""", timeout=20_000)
        wait_text(page, "result(s) (overall)")  # (the status may come in a later message)
        overall = page.evaluate(SCORES_JS)
        choose(page, "similar in", "shape")
        wait_text(page, "(shape)")
        shape = page.evaluate(SCORES_JS)
        assert shape != overall
        # the map: another aspect is computed in the server's worker; both tabs move
        before = page.evaluate(X_JS)
        choose(page, "map: near in", "timbre")
        for tab in (page, other):
            moved(tab, before)
        wait_text(page, "map: timbre")
        other.wait_for_function("""() => [...Bokeh.documents[0].all_models].some((m) =>
            m.name === 'map-aspect' && m.value === 'timbre')""", timeout=20_000)
        assert len(source(other, "clips")["x"]) == dataset["rows"]
        # "labels": search and map by the distance learned from the 25 labeled train clips
        choose(page, "similar in", "labels")
        wait_text(page, "(labels)")
        assert page.evaluate(SCORES_JS) not in (shape, overall)
        before = page.evaluate(X_JS)
        choose(page, "map: near in", "labels")
        moved(page, before)
        wait_text(page, "map: labels")
