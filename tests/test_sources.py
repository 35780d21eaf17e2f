"""Clip keys -> Path or bytes: key parsing, local files, and fetching from a local server."""
from __future__ import annotations

import math
import os
import pickle
import random
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from hover_audio.audio.sources import (
    ClipRef,
    SourceError,
    fetch,
    is_url,
    local_path,
    parse_key,
    read_source,
)

PAYLOAD = random.Random(7).randbytes(200_000)  # several 64 KiB chunks
GARBAGE = os.urandom(3000)
FAST = {"backoff": 0.01, "connect_timeout": 2.0, "read_timeout": 5.0}


class _Handler(BaseHTTPRequestHandler):
    """Routes: /<route>/<args...>; every request path is counted in server.hits."""

    protocol_version = "HTTP/1.0"  # the connection closes after each response

    def log_message(self, *args):
        pass

    def do_GET(self):
        with self.server.lock:
            self.server.hits[self.path] += 1
            count = self.server.hits[self.path]
        route, *args = self.path.strip("/").split("/")
        try:
            getattr(self, f"route_{route}", self.route_missing)(args, count)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up, as intended
            pass

    def _send(self, status: int, body: bytes = b"", length: int | None = -1, **headers):
        self.send_response(status)
        if length is not None:
            self.send_header("Content-Length", str(len(body) if length == -1 else length))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def route_ok(self, args, count):
        self._send(200, PAYLOAD)

    def route_missing(self, args, count):
        self._send(404, b"no such clip")

    def route_forbidden(self, args, count):
        self._send(403, b"go away")

    def route_flaky(self, args, count):  # /flaky/<status>/<token>: fails twice, then works
        if count <= 2:
            self._send(int(args[0]), b"try again")
        else:
            self._send(200, PAYLOAD)

    def route_broken(self, args, count):
        self._send(500, b"always broken")

    def route_trickle(self, args, count):  # each byte is quick, the whole body is slow
        self._send(200, length=100)
        for _ in range(100):
            if self.server.stop.wait(0.05):
                return
            self.wfile.write(b"x")
            self.wfile.flush()

    def route_hang(self, args, count):  # accepts the connection, never answers
        self.server.stop.wait(10)

    def route_huge(self, args, count):  # announces 1 GB, then sends slowly
        self._send(200, b"x" * 1000, length=10**9)
        self.server.stop.wait(10)

    def route_stream(self, args, count):  # no Content-Length: the body ends at close
        self._send(200, length=None)
        for _ in range(10):
            self.wfile.write(b"y" * 500)
            self.wfile.flush()

    def route_truncated(self, args, count):  # promises 1000 bytes, sends 10
        self._send(200, b"z" * 10, length=1000)

    def route_redirect(self, args, count):
        self._send(302, Location="/ok")

    def route_garbage(self, args, count):
        self._send(200, GARBAGE)

    def route_agent(self, args, count):
        self._send(200, self.headers.get("User-Agent", "").encode())

    def route_path(self, args, count):  # the path as it came (escapes and all)
        self._send(200, self.path.encode())


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.hits, httpd.lock, httpd.stop = Counter(), threading.Lock(), threading.Event()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.stop.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)


def _token(request) -> str:
    return request.node.name.replace("[", "-").replace("]", "")


# -- parse_key ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key, location, start, end",
    [
        ("clips/a.wav", "clips/a.wav", None, None),
        ("clips/a.wav#t=10,20", "clips/a.wav", 10.0, 20.0),
        ("clips/a.wav#t=,20", "clips/a.wav", 0.0, 20.0),
        ("clips/a.wav#t=10", "clips/a.wav", 10.0, None),
        ("clips/a.wav#t=npt:10.5,20", "clips/a.wav", 10.5, 20.0),
        ("clips/a.wav#t=npt:1:02.5,0:01:10", "clips/a.wav", 62.5, 70.0),
        ("clips/a.wav#t=1:00:00,1:00:01.25", "clips/a.wav", 3600.0, 3601.25),
        ("https://example.org/a b.ogg#t=1.5,2.25", "https://example.org/a b.ogg", 1.5, 2.25),
        ("http://h/a.wav#t=1,2&xywh=160,120,320,240", "http://h/a.wav", 1.0, 2.0),
        ("Take #3.wav", "Take #3.wav", None, None),
        ("Take #3.wav#t=1,2", "Take #3.wav", 1.0, 2.0),
        ("file.wav#section", "file.wav#section", None, None),
    ],
)
def test_parse_key_fragments(key, location, start, end):
    ref = parse_key(key)
    assert ref == ClipRef(key, location, start, end, None)


def test_parse_key_uses_columns_without_fragment():
    assert parse_key("a.wav", 1.5, 3) == ClipRef("a.wav", "a.wav", 1.5, 3.0)
    assert parse_key("a.wav", None, 3).start == 0.0  # like #t=,3
    assert parse_key("a.wav", np.float64(2), None).start == 2.0
    assert parse_key("a.wav", channel=1.0).channel == 1  # a float column holding ints


@pytest.mark.parametrize("missing", [None, math.nan, np.float32("nan"), float("nan")])
def test_parse_key_nan_columns_are_missing(missing):
    ref = parse_key("a.wav", missing, missing, missing)
    assert (ref.start, ref.end, ref.channel) == (None, None, None)
    assert parse_key("a.wav#t=1,2", missing, missing).end == 2.0


def test_parse_key_columns_must_agree_with_fragment():
    assert parse_key("a.wav#t=1,2", 1.0, 2.0).end == 2.0
    for start, end in [(1.5, None), (None, 3.0), (1.0, 2.5)]:
        with pytest.raises(SourceError, match="disagrees") as caught:
            parse_key("a.wav#t=1,2", start, end)
        assert caught.value.kind == "bad_key"
    with pytest.raises(SourceError, match="disagrees"):  # #t=1 runs to the end
        parse_key("a.wav#t=1", None, 2.0)


@pytest.mark.parametrize(
    "key, start, end, channel, problem",
    [
        ("", None, None, None, "empty"),
        ("   ", None, None, None, "empty"),
        ("a.wav#t=20,10", None, None, None, "not after"),
        ("a.wav#t=5,5", None, None, None, "not after"),
        ("a.wav#t=abc", None, None, None, "not a time"),
        ("a.wav#t=-1,2", None, None, None, "not a time"),
        ("a.wav#t=1:75", None, None, None, "clock"),
        ("a.wav#t=smpte:1,2", None, None, None, "not a time"),
        ("a.wav#t=", None, None, None, "malformed"),
        ("a.wav#t=1,", None, None, None, "malformed"),
        ("a.wav", -1, 2, None, "negative"),
        ("a.wav", 3, 2, None, "not after"),
        ("a.wav", 0, math.inf, None, "not finite"),
        ("a.wav", "soon", None, None, "not a number"),
        ("a.wav", None, None, -1, "channel"),
        ("a.wav", None, None, 1.5, "channel"),
    ],
)
def test_parse_key_rejects_bad_keys(key, start, end, channel, problem):
    with pytest.raises(SourceError, match=problem) as caught:
        parse_key(key, start, end, channel)
    assert caught.value.kind == "bad_key"
    assert repr(key) in str(caught.value)  # the message names the key


def test_source_error_survives_pickling():
    error = pickle.loads(pickle.dumps(SourceError("timeout", "slow server")))
    assert (error.kind, str(error)) == ("timeout", "slow server")


# -- local paths ----------------------------------------------------------------------------


def test_is_url():
    assert is_url("http://h/a.wav") and is_url("HTTPS://h/a.wav")
    assert not is_url("file:///a.wav") and not is_url("clips/http.wav")


def test_local_path_forms(tmp_path):
    clip = tmp_path / "Track 18.wav"
    clip.write_bytes(b"RIFF")
    url = "file://" + str(clip).replace(" ", "%20")
    assert url.endswith("/Track%2018.wav")
    assert local_path(url) == clip
    assert local_path(url.replace("file://", "FILE://localhost")) == clip
    assert local_path("clips/Take #3.wav") == Path("clips/Take #3.wav")
    assert local_path("file:///clips/Take%20%233.wav") == Path("/clips/Take #3.wav")
    assert local_path("https://h/a.wav") is None
    for bad in ("file://otherhost/a.wav", "s3://bucket/a.wav"):
        with pytest.raises(SourceError) as caught:
            local_path(bad)
        assert caught.value.kind == "bad_key"


def test_read_source_local(tmp_path):
    clip = tmp_path / "Track 18.wav"
    clip.write_bytes(b"RIFF")
    assert read_source(parse_key(str(clip))) == clip
    assert read_source(parse_key(f"file://{tmp_path}/Track%2018.wav#t=1,2")) == clip
    (tmp_path / "Take #3.wav").write_bytes(b"RIFF")
    assert read_source(parse_key(str(tmp_path / "Take #3.wav"))).name == "Take #3.wav"
    cases = [(str(tmp_path / "gone.wav"), "no such file"), (str(tmp_path), "directory")]
    for key, problem in cases:
        with pytest.raises(SourceError, match=problem) as caught:
            read_source(parse_key(key))
        assert caught.value.kind == "not_found"


# -- fetch ----------------------------------------------------------------------------------


def test_fetch_returns_exact_bytes(server):
    assert fetch(server.url + "/ok", **FAST) == PAYLOAD
    assert fetch(server.url + "/redirect", **FAST) == PAYLOAD
    assert fetch(server.url + "/garbage", **FAST) == GARBAGE  # decoding is not our concern
    assert fetch(server.url + "/agent", **FAST).decode().startswith("hover-audio")


def test_urls_with_spaces_and_letters_are_sent_encoded(server):
    """As a browser sends a URL typed with a space or an accent (http.client refused them:
    'URL can't contain control characters'); escapes already there are kept."""
    assert fetch(server.url + "/path/Track 18 café.wav", **FAST) == \
        b"/path/Track%2018%20caf%C3%A9.wav"
    assert fetch(server.url + "/path/a%20b.wav?x=1&y=2", **FAST) == b"/path/a%20b.wav?x=1&y=2"


def test_read_source_url(server):
    assert read_source(parse_key(server.url + "/ok#t=1,2"), **FAST) == PAYLOAD


def test_not_found_is_not_retried(server, request):
    path = f"/missing/{_token(request)}"
    with pytest.raises(SourceError, match="404") as caught:
        fetch(server.url + path, **FAST)
    assert caught.value.kind == "not_found"
    assert str(caught.value) == f"{server.url}{path}: HTTP 404 Not Found (after 1 attempt)"
    assert server.hits[path] == 1


def test_other_4xx_is_not_retried(server, request):
    path = f"/forbidden/{_token(request)}"
    with pytest.raises(SourceError, match="403") as caught:
        fetch(server.url + path, **FAST)
    assert caught.value.kind == "fetch"
    assert server.hits[path] == 1


@pytest.mark.parametrize("status", [500, 503, 429])
def test_transient_errors_are_retried(server, request, status):
    path = f"/flaky/{status}/{_token(request)}"
    assert fetch(server.url + path, retries=3, **FAST) == PAYLOAD
    assert server.hits[path] == 3


def test_permanent_500_fails_after_all_attempts(server, request):
    path = f"/broken/{_token(request)}"
    began = time.monotonic()
    with pytest.raises(SourceError, match=r"HTTP 500.*after 3 attempt") as caught:
        fetch(server.url + path, retries=2, **FAST)
    assert caught.value.kind == "fetch"
    assert server.hits[path] == 3
    assert server.url in str(caught.value)
    assert time.monotonic() - began < 2


def test_truncated_body_is_retried(server, request):
    path = f"/truncated/{_token(request)}"
    with pytest.raises(SourceError, match="truncated") as caught:
        fetch(server.url + path, retries=1, **FAST)
    assert caught.value.kind == "fetch"
    assert server.hits[path] == 2


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_connection_refused_is_retried(scheme):
    with socket.socket() as closed:  # bound but not listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        url = f"{scheme}://127.0.0.1:{closed.getsockname()[1]}/a.wav"
        with pytest.raises(SourceError, match="after 2 attempt") as caught:
            fetch(url, retries=1, **FAST)
    assert caught.value.kind == "fetch"


def test_trickling_server_hits_the_total_deadline(server, request):
    began = time.monotonic()
    with pytest.raises(SourceError) as caught:
        fetch(server.url + f"/trickle/{_token(request)}", read_timeout=0.5, retries=0)
    assert caught.value.kind == "timeout"
    assert time.monotonic() - began < 1.5  # 100 bytes at 20/s would take 5 s


def test_server_that_never_answers_times_out(server, request):
    path = f"/hang/{_token(request)}"
    began = time.monotonic()
    with pytest.raises(SourceError, match="after 2 attempt") as caught:
        fetch(server.url + path, read_timeout=0.3, retries=1, backoff=0.01)
    assert caught.value.kind == "timeout"
    assert server.hits[path] == 2
    assert time.monotonic() - began < 2


def test_too_large_by_content_length(server):
    began = time.monotonic()
    with pytest.raises(SourceError, match="limit") as caught:
        fetch(server.url + "/huge", max_bytes=1000, **FAST)
    assert "/huge" in str(caught.value)
    assert caught.value.kind == "too_large"
    assert time.monotonic() - began < 1  # rejected from the header, nothing read


def test_too_large_while_streaming(server):
    assert fetch(server.url + "/stream", max_bytes=5000, **FAST) == b"y" * 5000
    with pytest.raises(SourceError, match="limit") as caught:
        fetch(server.url + "/stream", max_bytes=1000, **FAST)
    assert caught.value.kind == "too_large"


@pytest.mark.parametrize("url", ["http://", "ftp://example.org/a.wav", "http://[::1/a.wav"])
def test_fetch_rejects_bad_urls(url):
    with pytest.raises(SourceError) as caught:
        fetch(url, retries=0)
    assert caught.value.kind == "bad_key"


def test_keyboard_interrupt_propagates(monkeypatch):
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(args)
        raise KeyboardInterrupt

    monkeypatch.setattr(socket, "create_connection", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fetch("http://127.0.0.1:9/a.wav", retries=3, backoff=0.01)
    assert len(calls) == 1


def test_stall_in_the_middle_of_the_body_times_out(server, request):
    began = time.monotonic()
    with pytest.raises(SourceError) as caught:  # 1000 bytes arrive, then nothing
        url = server.url + f"/huge/{_token(request)}"
        fetch(url, read_timeout=0.4, retries=0, max_bytes=2**31)
    assert caught.value.kind == "timeout"
    assert time.monotonic() - began < 1.5
