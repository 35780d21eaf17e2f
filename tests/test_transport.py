"""The server's end of every page websocket sends small frames at once (TCP_NODELAY)."""
from __future__ import annotations

import os
import socket

from bokeh.models import Div
from bokeh.util.token import generate_jwt_token, generate_session_id
from tornado.websocket import websocket_connect

from hover_audio.app.server import make_server
from hover_audio.app.transport import send_frames_at_once


def page(doc) -> None:
    doc.add_root(Div(text="a page"))


def server_sockets_of(client_address: tuple) -> list[socket.socket]:
    """This process's sockets whose peer is ``client_address`` (the server's ends)."""
    found = []
    for name in os.listdir("/proc/self/fd"):
        try:
            sock = socket.socket(fileno=os.dup(int(name)))
        except OSError:
            continue  # not a socket, or closed meanwhile
        try:
            if sock.family == socket.AF_INET and sock.getpeername() == client_address:
                found.append(sock)
                continue
        except OSError:
            pass  # a listening or unconnected socket
        sock.close()
    return found


def nodelay_of_a_page_socket() -> int:
    """Open a real Bokeh websocket to a served page; the server end's TCP_NODELAY."""
    server = make_server(page, port=0)
    server.start()
    url = f"ws://127.0.0.1:{server.port}/ws"
    token = generate_jwt_token(generate_session_id(), signed=False)

    async def connect_and_look() -> int:
        connection = await websocket_connect(url, subprotocols=["bokeh", token])
        try:
            await connection.read_message()  # the server's ACK: its open() has run
            client = connection.stream.socket.getsockname()
            ends = server_sockets_of(client)
            try:
                assert len(ends) == 1, ends
                return ends[0].getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            finally:
                for end in ends:
                    end.close()
        finally:
            connection.close()

    try:
        return server.io_loop.run_sync(connect_and_look, timeout=30)
    finally:
        server.stop()
        server.unlisten()


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
