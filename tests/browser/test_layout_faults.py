"""Faults QA found in where things sit on the page (headless Chromium): the map's tooltip
stays inside the map and the window near their edges; the selection table fits a
1,100 px window (no sideways scrolling) and sits right under the map, in view with it."""
from __future__ import annotations

import pytest

from .test_annotator import (
    DEEP_JS, POINTS_JS, app_page, button, raw_abstain_rows, select_rows, source, wait_js,
)

GAP = 14  # px between the pointer and the tooltip

TIP_JS = """() => { const tip = document.querySelector('.hover-audio-tooltip');
  const r = tip.getBoundingClientRect(), root = document.documentElement;
  return {left: r.left, top: r.top, right: r.right, bottom: r.bottom, width: r.width,
          height: r.height, row: Number(tip.dataset.row), text: tip.textContent,
          overflowing: tip.scrollWidth > tip.clientWidth || tip.scrollHeight > tip.clientHeight,
          window: {width: root.clientWidth, height: root.clientHeight}}; }"""
# the tooltip shows, placed for the pointer at (x, y) (no frame of it pending)
TIP_AT_JS = """([x, y]) => { const tip = document.querySelector('.hover-audio-tooltip');
  const p = window.hoverAudioPointer;
  return tip && tip.style.display === 'block' && !window.hoverAudioTipFrame && p
    && Math.abs(p[0] - x) < 1 && Math.abs(p[1] - y) < 1; }"""
HIDDEN_JS = """() => { const tip = document.querySelector('.hover-audio-tooltip');
  return !tip || tip.style.display === 'none'; }"""


@pytest.fixture(scope="module")
def fresh(dataset, start_server, tmp_path_factory):
    """A server of this module's own: no other test's search or labels on its map."""
    return start_server(dataset["table"], tmp_path_factory.mktemp("layout") / "workspace")


def tooltip_at(page, x: float, y: float, away: tuple[float, float]) -> dict:
    """Leave the map (at ``away``), then come to rest at (x, y): the tooltip shown there."""
    page.mouse.move(*away)
    wait_js(page, HIDDEN_JS)
    page.mouse.move(x - 6, y - 6)
    page.mouse.move(x, y, steps=4)
    wait_js(page, TIP_AT_JS, [x, y])
    return page.evaluate(TIP_JS)


def assert_inside(tip: dict, box: dict, what: str) -> None:
    assert (box["left"] - 0.5 <= tip["left"] and tip["right"] <= box["right"] + 0.5
            and box["top"] - 0.5 <= tip["top"] and tip["bottom"] <= box["bottom"] + 0.5), \
        f"the tooltip {tip} runs out of the {what} {box}"
    assert not tip["overflowing"], f"the tooltip's text is cut off: {tip['text']!r}"


def canvas_box(geometry: dict) -> dict:
    c = geometry["canvas"]
    return {"left": c["x"], "top": c["y"], "right": c["x"] + c["width"],
            "bottom": c["y"] + c["height"]}


def test_the_tooltip_stays_inside_the_map_near_its_right_and_bottom_edges(browser, fresh):
    with app_page(browser, fresh.url) as page:
        geometry = page.evaluate(POINTS_JS)
        points, box = geometry["points"], canvas_box(geometry)
        away = (box["right"] + 30, box["top"] + 200)  # the controls beside the map
        window = page.evaluate("() => ({left: 0, top: 0, right: document.documentElement"
                               ".clientWidth, bottom: document.documentElement.clientHeight})")
        names = source(page, "clips")["name"]
        corners = {  # the rightmost, the lowest and the bottom-right point
            "right": max(range(len(points)), key=lambda i: points[i][0]),
            "bottom": max(range(len(points)), key=lambda i: points[i][1]),
            "bottom right": max(range(len(points)), key=lambda i: points[i][0] + points[i][1]),
        }
        flipped = set()
        for edge, row in corners.items():
            x, y = points[row]
            tip = tooltip_at(page, x, y, away)
            assert tip["text"].startswith("file: ") and tip["row"] >= 0, names[row]
            assert_inside(tip, box, f"map (at its {edge} edge)")
            assert_inside(tip, window, "window")
            # where it would have run out below right of the pointer, it moved (not shrank)
            if x + GAP + tip["width"] > box["right"]:
                assert tip["right"] <= x, f"not left of the pointer at the {edge} edge: {tip}"
                flipped.add("left")
            if y + GAP + tip["height"] > box["bottom"]:
                assert tip["bottom"] <= y, f"not above the pointer at the {edge} edge: {tip}"
                flipped.add("up")
        assert flipped == {"left", "up"}, "the points are not near the edges"
        assert page.evaluate("() => document.querySelectorAll('.hover-audio-tooltip').length") == 1


def test_the_tooltip_stays_inside_the_window_at_its_bottom_edge(browser, fresh):
    # a short window: the map runs on below it; a point just above the window's bottom
    with app_page(browser, fresh.url, width=1300, height=500) as page:
        geometry = page.evaluate(POINTS_JS)
        box = canvas_box(geometry)
        middle = [i for i, (x, y) in enumerate(geometry["points"])
                  if box["left"] + 0.3 * (box["right"] - box["left"]) < x
                  < box["left"] + 0.7 * (box["right"] - box["left"])]
        row = max(middle, key=lambda i: geometry["points"][i][1])
        page_y = geometry["points"][row][1] + page.evaluate("() => window.scrollY")
        page.evaluate("(y) => window.scrollTo(0, y)", page_y - (500 - 25))
        wait_js(page, "(y) => Math.abs(window.scrollY - y) < 1", page_y - 475)
        geometry = page.evaluate(POINTS_JS)  # where the map is now
        x, y = geometry["points"][row]
        assert 470 <= y <= 480, y  # 20-30 px above the window's bottom
        box = canvas_box(geometry)
        window = {"left": 0, "top": 0, "right": 1300, "bottom": 500}
        tip = tooltip_at(page, x, y, (box["right"] + 30, 200))
        assert_inside(tip, window, "window")
        assert_inside(tip, box, "map")
        assert tip["bottom"] <= y, f"not flipped above the pointer: {tip}"


# where the page's parts are, in the window's coordinates
LAYOUT_JS = f"""() => {{
  const doc = Bokeh.documents[0], root = document.documentElement;
  function box(el) {{ const r = el.getBoundingClientRect();
    return {{left: r.left, top: r.top, right: r.right, bottom: r.bottom}}; }}
  const rows = doc.get_model_by_name('selection');  // the selection table's source
  const table = Bokeh.index.find_one([...doc.all_models].find((m) => m.source === rows
    && m.properties && 'columns' in m.properties));
  const map = Bokeh.index.find_one(doc.get_model_by_name('map'));
  const headers = ({DEEP_JS})('.slick-header-column').map(box);
  const shown = ({DEEP_JS})('.slick-row').map(box).sort((a, b) => a.top - b.top);
  return {{scrollWidth: root.scrollWidth, width: root.clientWidth, height: root.clientHeight,
           scrollX: window.scrollX, scrollY: window.scrollY, table: box(table.el),
           map: box(map.canvas_view.el), headers: headers, rows: shown}};
}}"""


@pytest.mark.parametrize("width, height", [(1100, 900), (1024, 768)])
def test_the_selection_table_fits_the_window_and_sits_under_the_map(browser, fresh, width,
                                                                    height):
    with app_page(browser, fresh.url, width=width, height=height) as page:
        rows = raw_abstain_rows(page, 6)
        select_rows(page, rows)
        wait_js(page, f"() => ({DEEP_JS})('.slick-row').length >= 6")
        layout = page.evaluate(LAYOUT_JS)
        remove = button(page, "Remove from selection").bounding_box()
        # no sideways scrolling: the table, its columns and its button fit the window
        assert layout["scrollWidth"] <= layout["width"] == width, layout
        assert layout["table"]["right"] <= width and remove["x"] + remove["width"] <= width
        table = layout["table"]
        headers = [h for h in layout["headers"] if table["top"] <= h["top"] < table["bottom"]]
        assert len(headers) == 6 and all(h["right"] <= table["right"] + 1 for h in headers), \
            (table, headers)
        # right under the map, its first rows in view with it, without scrolling
        assert layout["scrollY"] == 0 and layout["map"]["top"] >= 0
        assert layout["map"]["bottom"] - 1 <= layout["table"]["top"] \
            <= layout["map"]["bottom"] + 60, layout
        in_view = [row for row in layout["rows"]
                   if table["top"] <= row["top"] and row["bottom"] <= min(height, table["bottom"])]
        assert len(in_view) >= 3, layout["rows"]
