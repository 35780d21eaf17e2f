"""Serving annotator apps with Bokeh's server, bound to 127.0.0.1 unless told otherwise."""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Mapping

log = logging.getLogger(__name__)


def make_server(apps: Callable | Mapping[str, Callable], port: int = 5006,
                host: str = "127.0.0.1", allow_origins: list[str] | None = None,
                token: str | None = None):
    """A Bokeh ``Server`` for a handle (served at ``/``) or a ``{path: handle}`` mapping.

    Only our app routes exist: any other URL is a 404, and no route serves files
    (the page asks for audio by row over its own connection). With ``token``,
    every page, session and websocket request needs it (``?token=`` once, then a
    cookie), else 403; without, pages are only for this machine's loopback.
    """
    from bokeh.server.server import Server

    from .access import TokenAuth
    from .transport import send_frames_at_once

    send_frames_at_once()
    routes = {path: _watched(handle) for path, handle in
              (dict(apps) if isinstance(apps, Mapping) else {"/": apps}).items()}
    origins = allow_origins or [f"{host}:{port}", f"localhost:{port}", f"127.0.0.1:{port}"]
    options = {}
    if token:
        options["auth_provider"] = TokenAuth(token).provider
        origins = allow_origins or ["*"]  # the token (a same-site cookie) guards the socket
    return Server(routes, port=port, address=host, allow_websocket_origin=origins,
                  num_procs=1, check_unused_sessions_milliseconds=10_000,
                  unused_session_lifetime_milliseconds=30_000,
                  websocket_max_message_size=64 * 2**20, **options)


def _watched(handle: Callable) -> Callable:
    """``handle``, whose pages also reload themselves after their server comes back."""
    from .reconnect import watch_connection

    def build(doc) -> None:
        handle(doc)
        watch_connection(doc)

    return build


def improve_layout_in_background(dataset) -> None:
    """Compute the UMAP layout in a thread; open pages move their points when it lands.

    It goes through the dataset's map state, so it never races a map aspect a
    person picks meanwhile (theirs follows, or replaces, this one).
    """
    from .explorer.aspects import map_state

    started = time.perf_counter()

    def done(message: str, error: bool) -> None:
        if error:
            log.warning("first map: %s", message)
        else:  # the person at the terminal sees when the layout arrives
            print(f"hover-audio: first map: {message.removeprefix('map: ')} in "
                  f"{time.perf_counter() - started:.1f} s", flush=True)

    map_state(dataset).request("overall", done, method="umap", force=True)


def serve(handle: Callable, port: int = 5006, host: str = "127.0.0.1",
          show: bool = False, token: str | None = None) -> None:
    """Serve ``handle`` until interrupted, printing its URL (with the token, if any)."""
    server = make_server(handle, port=port, host=host, token=token)
    server.start()
    query = f"?token={token}" if token else ""
    url = f"http://{host}:{server.port}/{query}"
    print(f"hover-audio: annotator at {url}  (Ctrl+C to stop)", flush=True)
    if token:
        print("hover-audio: other machines can connect; each needs the token in that URL",
              flush=True)
    if show:
        server.io_loop.add_callback(server.show, "/" + query)
    try:
        server.io_loop.start()
    except KeyboardInterrupt:
        print("hover-audio: stopped; every acknowledged label is saved", flush=True)


_SHARED: dict = {}
_SHARED_LOCK = threading.Lock()


def shared(name: str, factory: Callable):
    """One object per process for every session, e.g. the dataset of a ``bokeh serve`` app.

    ``bokeh serve app.py`` runs the script once per browser session; build the
    dataset through ``shared("my-data", lambda: AudioDataset.load("ws"))`` so every
    session labels the same dataset (and sees the others' labels live).
    """
    with _SHARED_LOCK:
        if name not in _SHARED:
            _SHARED[name] = factory()
        return _SHARED[name]
