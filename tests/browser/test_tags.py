"""Tags in the annotator: add to a lasso-like selection, counts, find by tag, undo, reload."""
from __future__ import annotations

from .test_annotator import (
    app_page, button, journal_lines, open_app, select_rows, source, wait_js, wait_text,
)


def test_tag_the_selection_and_find_it_by_tag(browser, dataset, start_server, tmp_path):
    workspace = tmp_path / "workspace"
    app = start_server(dataset["table"], workspace)
    with app_page(browser, app.url, 1600, 1300) as page:
        rows = [30, 31, 32]
        select_rows(page, rows)
        page.get_by_label("Tags (comma-separated)", exact=True).fill("applause, crowd")
        button(page, "Add tags").click()
        wait_text(page, "tagged 3 clip(s): applause, crowd")
        wait_js(page, """() => Bokeh.documents[0].get_model_by_name('tag-counts').text
            .includes('applause <b>3</b>')""")
        assert any('"tags"' in line for line in journal_lines(workspace))
        wait_js(page, """() => Array.from(Bokeh.documents[0].get_model_by_name('selection')
            .data.tags).every((t) => t === 'applause, crowd')""")
        # remove one tag from one clip
        select_rows(page, rows[:1])
        page.get_by_label("Tags (comma-separated)", exact=True).fill("crowd")
        button(page, "Remove tags").click()
        wait_js(page, """() => Bokeh.documents[0].get_model_by_name('tag-counts').text
            .includes('crowd <b>2</b>')""")
        # find by tag in the search box
        box = page.get_by_label("…or a file path / URL, or tag:TEXT", exact=True)
        box.fill("tag:CROWD")
        button(page, "Search").click()
        wait_text(page, "2 clip(s) tagged")
        sizes = source(page, "clips")["size"]
        assert [i for i, size in enumerate(sizes) if size > min(sizes)] == rows[1:]
        # colour by tag: the tagged clips red, the others grey; off again: label colours
        labels_before = source(page, "clips")["color"]
        page.get_by_label("Tags (comma-separated)", exact=True).fill("applause")
        button(page, "Colour by tag").click()
        wait_js(page, """(rows) => { const c = Bokeh.documents[0].get_model_by_name('clips')
            .data.color; return rows.every((r) => c[r] === 0xd62728ff)
              && Array.from(c).filter((x) => x === 0xd62728ff).length === rows.length; }""", rows)
        button(page, "Colour by tag").click()
        wait_js(page, """(before) => JSON.stringify(Array.from(Bokeh.documents[0]
            .get_model_by_name('clips').data.color)) === JSON.stringify(before)""", labels_before)
        # suggestions from the tag model, accepted for a clip in one step
        button(page, "Suggest tags").click()
        wait_text(page, "have suggested tags", timeout=60_000)
        others = [i for i in range(40, 44)]
        select_rows(page, others)
        wait_js(page, """() => Array.from(Bokeh.documents[0].get_model_by_name('selection')
            .data.tags).some((t) => t.includes('(+ '))""")
        button(page, "Accept suggested").click()
        wait_text(page, "accepted the suggested tags of")
        page.mouse.click(5, 5)
        page.keyboard.press("Control+z")  # one step back: the accepted suggestions go
        wait_js(page, """() => Array.from(Bokeh.documents[0].get_model_by_name('selection')
            .data.tags).every((t) => t === '' || t.startsWith('('))""")
        # undo the removal, reload: the tags are still there
        page.mouse.click(5, 5)
        page.keyboard.press("Control+z")
        wait_js(page, """() => Bokeh.documents[0].get_model_by_name('tag-counts').text
            .includes('crowd <b>3</b>')""")
        page.reload()
        open_app(page, app.url)
        wait_js(page, """() => Bokeh.documents[0].get_model_by_name('tag-counts').text
            .includes('applause <b>3</b>') && Bokeh.documents[0]
            .get_model_by_name('tag-counts').text.includes('crowd <b>3</b>')""")
