"""Faults QA found on the annotator page of a real library (headless Chromium, at 1280x800
and 1024x768): the map's legend covered points; a click on the selection table's row at
the index clicked last time did nothing; the tables left empty bands or hid rows; Enter in
the label box did nothing; clips that could not be read went unmentioned."""
from __future__ import annotations

import pytest

from .test_annotator import (
    DEEP_JS, POINTS_JS, app_page, button, enable_sound, label_box, played, raw_abstain_rows,
    select_rows, source, type_label, wait_js, wait_played, wait_population, wait_rows,
    wait_text,
)
from .test_ui_faults import SHOWN_JS, table_cell


@pytest.fixture(scope="module")
def fresh(dataset, start_server, tmp_path_factory):
    """A server of this module's own: no other test's labels on its map."""
    return start_server(dataset["table"], tmp_path_factory.mktemp("page") / "workspace")


# the legend's and the data area's boxes (canvas px), and the legend's item elements
LEGEND_JS = """() => { const doc = Bokeh.documents[0];
  const plot = Bokeh.index.find_one(doc.get_model_by_name('map'));
  const legend = [...doc.all_models].find((m) => m.type === 'Legend'
                                           || (m.properties && 'click_policy' in m.properties));
  const view = Bokeh.index.find_one(legend);
  const b = view.bbox, f = plot.frame.bbox;
  return {legend: [b.x0, b.y0, b.x1, b.y1], frame: [f.x0, f.y0, f.x1, f.y1]}; }"""
RENDERER_VISIBLE_JS = """(name) => Bokeh.documents[0].get_model_by_name(name).visible"""


@pytest.mark.parametrize("width, height", [(1280, 800), (1024, 768)])
def test_the_legend_sits_outside_the_data_area_and_still_hides_a_subset(browser, fresh,
                                                                       width, height):
    with app_page(browser, fresh.url, width=width, height=height) as page:
        boxes = page.evaluate(LEGEND_JS)
        (lx0, ly0, lx1, ly1), (fx0, fy0, fx1, fy1) = boxes["legend"], boxes["frame"]
        overlap = min(lx1, fx1) - max(lx0, fx0) > 0 and min(ly1, fy1) - max(ly0, fy0) > 0
        assert not overlap, f"the legend {boxes['legend']} covers the data area {boxes['frame']}"
        # so no point is under it
        geometry = page.evaluate(POINTS_JS)
        canvas = geometry["canvas"]
        under = [i for i, (x, y) in enumerate(geometry["points"])
                 if lx0 <= x - canvas["x"] <= lx1 and ly0 <= y - canvas["y"] <= ly1]
        assert not under, f"points under the legend: {under}"
        # a click on its "train" item still hides the train subset (and shows it again)
        page.get_by_text("train", exact=True).first.click()
        wait_js(page, f"() => !({RENDERER_VISIBLE_JS})('map-train')")
        assert page.evaluate(RENDERER_VISIBLE_JS, "map-raw")
        page.get_by_text("train", exact=True).first.click()
        wait_js(page, f"() => ({RENDERER_VISIBLE_JS})('map-train')")


def test_a_click_on_the_row_at_the_index_clicked_before_plays_its_clip(browser, fresh):
    with app_page(browser, fresh.url, width=1280, height=800) as page:
        enable_sound(page)
        a, b = raw_abstain_rows(page, 2)
        names = source(page, "clips")["name"]
        for row in (a, b):  # each alone in the selection: its table row is row 0
            select_rows(page, [row])
            before = len(played(page))
            cell = table_cell(page, names[row], 0)
            page.mouse.click(cell["x"], cell["y"])
            wait_played(page, row, before)
            wait_js(page, SHOWN_JS, row)  # and the clip panel shows it


# the table over the source ``name``: its box, its rows (and those in its box), its last
# row's bottom, and whether it scrolls inside
TABLE_JS = f"""(name) => {{ const doc = Bokeh.documents[0];
  const rows_ = doc.get_model_by_name(name);
  const view = Bokeh.index.find_one([...doc.all_models].find((m) => m.source === rows_
    && m.properties && 'columns' in m.properties));
  const r = view.el.getBoundingClientRect();
  const inside = (el) => {{ const b = el.getBoundingClientRect();
    return b.top >= r.top - 1 && b.bottom <= r.bottom + 1 && b.left >= r.left - 1
           && b.right <= r.right + 1; }};
  const rows = ({DEEP_JS})('.slick-row').filter((row) => {{ const b = row.getBoundingClientRect();
    return b.left >= r.left - 1 && b.right <= r.right + 1 && b.top >= r.top - 1
           && b.top < r.bottom; }});
  const ports = ({DEEP_JS})('.slick-viewport').filter((p) => {{ const b = p.getBoundingClientRect();
    return b.left >= r.left - 1 && b.right <= r.right + 1 && b.top >= r.top - 1
           && b.top < r.bottom; }});
  return {{top: r.top, bottom: r.bottom, rows: rows.length,
           shown: rows.filter(inside).length,
           last: Math.max(...rows.map((row) => row.getBoundingClientRect().bottom)),
           scrolls: ports.some((p) => p.scrollHeight > p.clientHeight + 1)}}; }}"""
PANEL_TOP_JS = """() => Bokeh.index.find_one(Bokeh.documents[0].get_model_by_name('clip-panel'))
    .el.getBoundingClientRect().top"""


def test_the_selection_table_is_as_tall_as_its_rows(browser, fresh):
    with app_page(browser, fresh.url, width=1024, height=768) as page:
        select_rows(page, raw_abstain_rows(page, 1))
        wait_js(page, f"() => ({TABLE_JS})('selection').rows === 1")
        table = page.evaluate(TABLE_JS, "selection")
        # no empty band under its one row, and the clip panel right under it
        assert table["bottom"] - table["last"] <= 12, table
        assert page.evaluate(PANEL_TOP_JS) - table["bottom"] <= 45, table


def test_the_population_table_shows_every_label(browser, dataset, start_server, tmp_path):
    app = start_server(dataset["table"], tmp_path / "workspace")
    with app_page(browser, app.url, width=1024, height=768) as page:
        rows = raw_abstain_rows(page, 3)
        # 14 labels: the population table shows every one, with no scrolling inside it
        for i, row in enumerate(rows):
            select_rows(page, [row])
            type_label(page, f"bird {i}")
            button(page, "Apply").click()
            wait_population(page, f"bird {i}")
        labels = len(source(page, "population")["label"])
        assert labels >= 14
        wait_js(page, f"(n) => ({TABLE_JS})('population').shown === n", labels)
        population = page.evaluate(TABLE_JS, "population")
        assert population["rows"] == population["shown"] == labels, population
        assert not population["scrolls"], population


def test_enter_in_the_label_box_applies_the_label(browser, fresh):
    with app_page(browser, fresh.url, width=1280, height=800) as page:
        rows = raw_abstain_rows(page, 2)
        select_rows(page, rows)
        type_label(page, "kestrel")
        label_box(page).press("Enter")
        wait_rows(page, rows, "label", "kestrel")
        wait_population(page, "kestrel")
        wait_text(page, "labeled 2 clip(s) ")


def test_the_page_says_which_clips_could_not_be_read(browser, dataset, start_server,
                                                       tmp_path):
    folder = tmp_path / "clips"
    folder.mkdir()
    broken = folder / "broken clip.wav"
    broken.write_bytes(b"this is not audio at all" * 40)
    frame = dataset["frame"].head(12).copy()
    frame.loc[len(frame)] = [str(broken), "ABSTAIN", "raw", 1.0]
    table = folder / "clips.csv"
    frame.to_csv(table, index=False)
    app = start_server(table, tmp_path / "workspace")
    with app_page(browser, app.url, width=1024, height=768) as page:
        assert len(source(page, "clips")["index"]) == 13
        wait_text(page, "1 clip(s) could not be read and are not on the map")
        line = page.get_by_text("could not be read and are not on the map")
        assert line.is_visible()
        box = line.bounding_box()
        assert box["y"] + box["height"] <= 768, box  # in view on load
        tooltip = line.get_attribute("title")
        assert str(broken) in tooltip, tooltip  # which clip (and why)
