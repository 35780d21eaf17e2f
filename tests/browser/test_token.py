"""A server open to the network works in a browser with its token, and not without it."""
from __future__ import annotations

from .test_annotator import READY, apply_label, open_app, raw_abstain_rows, select_rows


def test_the_page_works_with_the_token_and_not_without(browser, dataset, start_server,
                                                       tmp_path):
    server = start_server(dataset["table"], tmp_path / "ws",
                          extra=("--host", "0.0.0.0", "--token", "browser-s3cret"))
    bare = server.url.split("?")[0]
    outsider = browser.new_context()
    try:
        page = outsider.new_page()
        response = page.goto(bare)
        assert response.status == 403
        assert page.evaluate("() => typeof window.Bokeh") == "undefined"
    finally:
        outsider.close()
    invited = browser.new_context()
    try:
        page = invited.new_page()
        page.set_default_timeout(15_000)
        open_app(page, server.url)  # ?token= once; the cookie carries it to the socket
        page.wait_for_function(READY)
        rows = raw_abstain_rows(page, 2)
        select_rows(page, rows)
        apply_label(page, rows, "with a token")
        page.reload()  # the cookie alone is enough now
        page.wait_for_function(READY, timeout=30_000)
    finally:
        invited.close()
