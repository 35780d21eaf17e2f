"""The server's end of every page websocket sends small frames at once (TCP_NODELAY)."""
from __future__ import annotations

import asyncio
import os
import socket
import stat
import threading

from bokeh.models import Div
from bokeh.util.token import generate_jwt_token, generate_session_id
from tornado.websocket import websocket_connect

from hover_audio.app.server import make_server
from hover_audio.app.transport import send_frames_at_once


def page(doc) -> None:
    doc.add_root(Div(text="a page"))


def server_sockets_of(client_address: tuple) -> list[socket.socket]:
    """This process's sockets whose peer is ``client_address`` (the server's ends), one
    per socket however many descriptors name it."""
    found = {}
    for name in os.listdir("/proc/self/fd"):
        try:  # only sockets are duplicated: a kept copy of a pipe's end would keep the
            # pipe open (Playwright's driver then never sees its end of input)
            status = os.fstat(int(name))
            if not stat.S_ISSOCK(status.st_mode) or status.st_ino in found:
                continue
            sock = socket.socket(fileno=os.dup(int(name)))
        except OSError:
            continue  # closed meanwhile
        try:
            if sock.family == socket.AF_INET and sock.getpeername() == client_address:
                found[status.st_ino] = sock
                continue
        except OSError:
            pass  # a listening or unconnected socket
        sock.close()
    return list(found.values())


def nodelay_of_a_page_socket() -> int:
    """Open a real Bokeh websocket to a served page; the server end's TCP_NODELAY.

    Server and client run on an event loop of their own, in a thread of their own,
    away from any loop of this process's other tests (Playwright's).
    """
    result = {}

    def serve_and_connect() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        server = make_server(page, port=0)
        server.start()
        try:
            result["nodelay"] = loop.run_until_complete(
                asyncio.wait_for(connect_and_look(server.port), timeout=30))
        except BaseException as error:  # reported by the test, not lost in the thread
            result["error"] = error
        finally:
            server.stop()
            server.unlisten()
            loop.close()

    thread = threading.Thread(target=serve_and_connect)
    thread.start()
    thread.join(60)
    assert not thread.is_alive(), "the server thread did not finish"
    if "error" in result:
        raise result["error"]
    return result["nodelay"]


async def connect_and_look(port: int) -> int:
    token = generate_jwt_token(generate_session_id(), signed=False)
    connection = await websocket_connect(f"ws://127.0.0.1:{port}/ws",
                                         subprotocols=["bokeh", token])
    try:
        await connection.read_message()  # the server's ACK: its open() has run
        ends = server_sockets_of(connection.stream.socket.getsockname())
        try:
            assert len(ends) == 1, ends
            return ends[0].getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        finally:
            for end in ends:
                end.close()
    finally:
        connection.close()


def test_page_websockets_send_frames_without_waiting_for_acks():
    # Bokeh writes a message as several small frames; with Nagle's algorithm on, the
    # second waits for the browser's delayed ACK (up to 40 ms on a hover's playback)
    assert nodelay_of_a_page_socket() != 0


def test_turning_nagle_off_twice_wraps_the_handler_once():
    from bokeh.server.views.ws import WSHandler

    send_frames_at_once()
    opener = WSHandler.open
    send_frames_at_once()
    assert WSHandler.open is opener
    assert opener.sends_frames_at_once
    assert opener.__wrapped__.__qualname__ == "WSHandler.open"
