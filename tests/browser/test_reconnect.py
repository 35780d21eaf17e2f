"""A tab open while its server restarts says so, then comes back by itself: a fresh
session of the same workspace, where labels work again and the earlier ones are there."""
from __future__ import annotations

from .test_annotator import (app_page, apply_label, open_app, raw_abstain_rows, select_rows,
                             wait_js)

BANNER_JS = """() => { const b = document.querySelector('.hover-audio-reconnect');
    return b !== null && b.textContent.includes('reloads when the server is back'); }"""


def test_a_tab_reloads_itself_when_its_server_is_back(browser, dataset, start_server,
                                                      tmp_path):
    server = start_server(dataset["table"], tmp_path / "ws")
    with app_page(browser, server.url) as page:
        open_app(page, server.url)
        first = raw_abstain_rows(page, 1)
        select_rows(page, first)
        apply_label(page, first, "before-restart")
        port = server.port
        server.stop()
        wait_js(page, BANNER_JS, timeout=20_000)
        server.start(port=port)
        # the page reloads into a new document: no banner, the label still there
        wait_js(page, """(row) => { if (document.querySelector('.hover-audio-reconnect'))
                return false;
            const doc = window.Bokeh && Bokeh.documents[0];
            const clips = doc && doc.get_model_by_name('clips');
            return !!clips && clips.data.label[row] === 'before-restart'; }""",
                first[0], timeout=60_000)
        page.wait_for_timeout(600)
        second = raw_abstain_rows(page, 1)
        select_rows(page, second)
        apply_label(page, second, "after-restart")
