"""Transcripts in the annotator: typed into the selection table, journaled, kept across reloads."""
from __future__ import annotations

import time

from .test_annotator import (
    DEEP_JS, app_page, journal_lines, open_app, raw_abstain_rows, select_rows, source, wait_js,
)

CELL_JS = f"""(name) => {{
  const rows = ({DEEP_JS})('.slick-row').filter((row) => {{
    const first = row.querySelector('.slick-cell.l0');
    return first && first.textContent.trim() === name; }});
  const cell = rows.length ? rows[0].querySelector('.slick-cell.l4') : null;
  if (!cell) return null;
  cell.scrollIntoView({{block: 'center'}});
  const box = cell.getBoundingClientRect();
  return {{x: box.x + box.width / 2, y: box.y + box.height / 2, text: cell.textContent.trim()}};
}}"""


def transcript_cell(page, name: str) -> dict:
    wait_js(page, f"(name) => ({CELL_JS})(name) !== null", name)
    return page.evaluate(CELL_JS, name)


def type_transcript(page, name: str, text: str) -> None:
    cell = transcript_cell(page, name)
    page.mouse.click(cell["x"], cell["y"])  # selects the row, plays it, shows it in the panel
    row = source(page, "clips")["name"].index(name)
    wait_js(page, """(row) => Bokeh.documents[0].get_model_by_name('clip-state').data.row[0]
        === row && Bokeh.documents[0].get_model_by_name('clip-wave').data.x.length > 0""", row)
    page.wait_for_timeout(300)  # the panel has drawn: the table stays where it is now
    cell = transcript_cell(page, name)
    page.mouse.dblclick(cell["x"], cell["y"])
    editor = page.locator(".slick-cell.l4.editable input")  # Playwright's CSS pierces shadow roots
    editor.wait_for(timeout=10_000)
    editor.fill(text)
    editor.press("Enter")


def test_a_transcript_typed_in_the_table_is_saved_and_kept(browser, dataset, start_server,
                                                          tmp_path):
    workspace = tmp_path / "workspace"
    app = start_server(dataset["table"], workspace)
    with app_page(browser, app.url) as page:
        rows = raw_abstain_rows(page, 2)
        names = [source(page, "clips")["name"][row] for row in rows]
        select_rows(page, rows)
        type_transcript(page, names[0], "seven, said twice")
        wait_js(page, """(text) => Array.from(Bokeh.documents[0].get_model_by_name('selection')
            .data.transcript).includes(text)""", "seven, said twice")
        # the page shows its own edit at once; the server journals it a moment later
        deadline = time.monotonic() + 30
        while not any('"transcript"' in line and "seven, said twice" in line
                      for line in journal_lines(workspace)):
            assert time.monotonic() < deadline, "the transcript never reached the journal"
            time.sleep(0.05)
        # the other row kept its empty transcript
        data = source(page, "selection")
        assert sorted(data["transcript"]) == ["", "seven, said twice"]

        page.reload()
        open_app(page, app.url)
        select_rows(page, rows)
        assert transcript_cell(page, names[0])["text"] == "seven, said twice"
        assert transcript_cell(page, names[1])["text"] == ""
