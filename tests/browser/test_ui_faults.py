"""Faults QA found in headless Chromium: one double-click edits a table cell, another
tab's row edits keep your selection, a success replaces an old error, Colour by tag
asks for a tag, Split waits for the playhead."""
from __future__ import annotations

from .test_annotator import (
    CHANNEL_JS, DEEP_JS, app_page, button, raw_abstain_rows, select_rows, selected, source,
    status_html, two_tabs, type_label, wait_selection_table, wait_js, wait_population, wait_rows, wait_text,
)

CELL_JS = f"""([name, column]) => {{
  const rows = ({DEEP_JS})('.slick-row').filter((row) => {{
    const first = row.querySelector('.slick-cell.l0');
    return first && first.textContent.trim() === name; }});
  const cell = rows.length ? rows[0].querySelector('.slick-cell.l' + column) : null;
  if (!cell) return null;
  cell.scrollIntoView({{block: 'center'}});
  const box = cell.getBoundingClientRect();
  return {{x: box.x + box.width / 2, y: box.y + box.height / 2, text: cell.textContent.trim()}};
}}"""
SHOWN_JS = """(row) => { const d = Bokeh.documents[0];
  return d.get_model_by_name('clip-state').data.row[0] === row
    && d.get_model_by_name('clip-wave').data.x.length > 0
    && !d.get_model_by_name('clip-info').text.includes('drawing'); }"""
ERROR = "#b00020"


def table_cell(page, name: str, column: int) -> dict:
    """Page coordinates (and text) of column ``column`` of the selection table row ``name``."""
    wait_js(page, f"(a) => ({CELL_JS})(a) !== null", [name, column])
    return page.evaluate(CELL_JS, [name, column])


def show_clip(page, row: int) -> None:
    """Show ``row`` in the clip panel without playing it (as the keyboard's focus does)."""
    page.evaluate(f"(row) => {{ ({CHANNEL_JS})().focus = row; }}", row)
    wait_js(page, SHOWN_JS, row)


def test_one_double_click_edits_a_label_in_the_selection_table(browser, dataset,
                                                                start_server, tmp_path):
    app = start_server(dataset["table"], tmp_path / "workspace")
    with app_page(browser, app.url) as page:
        rows = raw_abstain_rows(page, 4)
        names = [source(page, "clips")["name"][row] for row in rows]
        select_rows(page, rows)
        cell = table_cell(page, names[2], 1)  # not the active row: none is yet
        page.mouse.dblclick(cell["x"], cell["y"])
        editor = page.locator(".slick-cell.l1.editable input")  # CSS pierces shadow roots
        editor.wait_for(timeout=5_000)
        wait_js(page, SHOWN_JS, rows[2])  # the row's clip was drawn meanwhile ...
        page.wait_for_timeout(300)
        assert editor.count() == 1  # ... and the editor stayed open
        editor.fill("heron")
        editor.press("Enter")
        wait_rows(page, [rows[2]], "label", "heron")
        wait_population(page, "heron")
        wait_js(page, """(row) => Array.from(Bokeh.documents[0].get_model_by_name('selection')
            .data.label)[2] === 'heron'""", rows[2])
        wait_text(page, "labeled 1 clip(s)")


def test_another_tabs_delete_keeps_this_tabs_selection(browser, dataset, start_server,
                                                       tmp_path):
    app = start_server(dataset["table"], tmp_path / "workspace")
    with two_tabs(browser, app.url) as (a, b):
        rows = raw_abstain_rows(b, 5)
        chosen, gone = rows[1:], rows[2]
        names = [source(b, "clips")["name"][row] for row in chosen]
        select_rows(b, chosen)
        show_clip(a, rows[0])  # a row before B's selection: B's rows move up by one
        button(a, "Delete row").click()
        wait_text(a, "deleted 1 row")
        wait_selection_table(b, [row - 1 for row in chosen])  # the same clips, moved up
        assert source(b, "selection")["name"] == names
        wait_js(b, """(rows) => Array.from(Bokeh.documents[0].get_model_by_name('clips')
            .selected.indices).sort((x, y) => x - y).join() === rows.join()""",
                [row - 1 for row in chosen])
        show_clip(a, gone - 1)  # one of B's selected rows
        button(a, "Delete row").click()
        wait_text(b, "1 selected clip(s) are no longer rows")
        kept = [n for n, row in zip(names, chosen) if row != gone]
        wait_js(b, """(names) => Array.from(Bokeh.documents[0].get_model_by_name('selection')
            .data.name).join('|') === names.join('|')""", kept)
        assert len(selected(b)) == 3
        type_label(b, "kept")  # the kept selection is what Apply labels
        button(b, "Apply").click()
        wait_text(b, "labeled 3 clip(s)")
        assert "select some points first" not in status_html(b)


def test_a_success_replaces_an_old_error(browser, server):
    with app_page(browser, server.url) as page:
        rows = raw_abstain_rows(page, 3)
        names = [source(page, "clips")["name"][row] for row in rows]
        select_rows(page, rows)
        button(page, "Remove from selection").click()
        wait_text(page, "pick rows in the selection table first")
        assert ERROR in status_html(page)
        cell = table_cell(page, names[1], 0)
        page.mouse.click(cell["x"], cell["y"])
        wait_js(page, SHOWN_JS, rows[1])
        button(page, "Remove from selection").click()
        wait_text(page, "removed 1 clip(s) from the selection")
        assert ERROR not in status_html(page)
        assert selected(page) == [rows[0], rows[2]]


def test_colour_by_tag_asks_for_a_tag_and_says_which(browser, server):
    with app_page(browser, server.url) as page:
        toggle = button(page, "Colour by tag")
        toggle.click()
        wait_text(page, "type a tag to colour by")
        wait_js(page, "() => Bokeh.documents[0].get_model_by_name('tag-colour').active === false")
        box = page.get_by_placeholder("applause, crowd")
        box.fill("nosuchtag")
        box.press("Enter")
        toggle.click()
        wait_text(page, "colouring by tag nosuchtag: 0 clip(s) in red")
        wait_js(page, "() => Bokeh.documents[0].get_model_by_name('tag-colour').active === true")
        toggle.click()  # back to label colours for the other tests on this server
        wait_js(page, "() => Bokeh.documents[0].get_model_by_name('tag-colour').active === false")


def test_split_before_playing_asks_to_play_first(browser, server):
    with app_page(browser, server.url) as page:
        row = raw_abstain_rows(page, 1)[0]
        show_clip(page, row)
        button(page, "Split at playhead").click()
        wait_text(page, "click the waveform where to cut (or play the clip and pause it there) first")
        assert len(source(page, "clips")["index"]) == server_rows(page)


def server_rows(page) -> int:
    return len(source(page, "clips")["name"])
