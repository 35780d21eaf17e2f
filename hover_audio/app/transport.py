"""How the pages' websockets send: every frame of a Bokeh message leaves at once.

Bokeh writes each message as several websocket frames (header, metadata, content,
then any buffers), one write each. Tornado leaves Nagle's algorithm on, so a small
frame written while an earlier one is unacknowledged waits for that acknowledgement,
and the browser's side may hold it back up to 40 ms (delayed ACK). In the annotator,
the answer to "play this row" came back 8-16 ms after the request in most trials and
47-51 ms in about one in ten (``benchmarks/bench_app.py``). ``TCP_NODELAY`` on the
server's end of each websocket sends every frame at once.
"""
from __future__ import annotations

import functools
import logging

log = logging.getLogger(__name__)


def send_frames_at_once() -> None:
    """Turn Nagle's algorithm off on every Bokeh websocket this process accepts from now on.

    Bokeh has no setting for it, so this wraps the ``open`` of its websocket handler,
    which ``bokeh serve``, an embedded ``Server`` and a notebook's server all use.
    Calling it again does nothing; sockets already open keep their setting. If the
    handler cannot be found (another Bokeh), nothing changes and the pages still work.

    Examples
    --------
    >>> send_frames_at_once()  # before pages connect: make_server and every annotator do
    """
    try:
        from bokeh.server.views.ws import WSHandler
    except ImportError:  # pragma: no cover - a Bokeh without the server's handler
        log.debug("no Bokeh websocket handler found: frames keep Nagle's algorithm")
        return
    opener = WSHandler.open
    if getattr(opener, "sends_frames_at_once", False):
        return

    @functools.wraps(opener)
    def open_sending_frames_at_once(handler, *args, **kwargs):
        try:
            handler.set_nodelay(True)
        except Exception:  # a connection closing meanwhile: Bokeh's open handles it
            log.debug("could not set TCP_NODELAY on a websocket", exc_info=True)
        return opener(handler, *args, **kwargs)

    open_sending_frames_at_once.sends_frames_at_once = True
    WSHandler.open = open_sending_frames_at_once
