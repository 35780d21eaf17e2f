"""Nobody gets in uninvited: a token beyond loopback, searches read only the dataset's
folders, uploads have a size limit. The server tests run the real CLI server."""
from __future__ import annotations

import html
import http.client
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hover_audio import AudioDataset
from hover_audio.app.access import REFUSED, PathPolicy, choose_token, is_loopback
from hover_audio.dataset.demo import demo_table


# ------------------------------------------------------------------ paths
def test_typed_paths_are_read_only_inside_the_datasets_folders(tmp_path):
    inside = tmp_path / "library" / "birds"
    inside.mkdir(parents=True)
    (inside / "a.wav").write_bytes(b"x")
    (inside / "new.wav").write_bytes(b"x")
    extra = tmp_path / "extra"
    extra.mkdir()
    policy = PathPolicy([str(inside / "a.wav"), "https://sounds.example.org/x.ogg#t=1,2"],
                        allow=[extra])
    policy.check(str(inside / "new.wav"))  # a new file beside the dataset's
    policy.check(str(extra / "deep" / "x.wav"))  # under an --allow-path root
    policy.check("https://sounds.example.org/other.ogg")  # the dataset's own host
    refusals = []
    for query in ("/etc/passwd", "/etc/no-such-file-here", str(inside / ".." / ".." / "x.wav"),
                  f"file://{tmp_path}/x.wav", "http://127.0.0.1:22/", "ftp://host/x.wav"):
        with pytest.raises(PermissionError) as refused:
            policy.check(query)
        refusals.append(str(refused.value))
    # the same words whether or not the path exists: nothing is revealed
    assert set(refusals) == {REFUSED}


def test_symlinks_out_of_the_folder_are_refused(tmp_path):
    inside = tmp_path / "library"
    inside.mkdir()
    (inside / "a.wav").write_bytes(b"x")
    os.symlink("/etc/hostname", inside / "link.wav")
    with pytest.raises(PermissionError):
        PathPolicy([str(inside / "a.wav")]).check(str(inside / "link.wav"))


def test_tokens_are_required_beyond_loopback_only(monkeypatch):
    monkeypatch.delenv("HOVER_AUDIO_TOKEN", raising=False)
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.1")
    assert choose_token("127.0.0.1") is None
    generated = choose_token("0.0.0.0")
    assert generated and len(generated) >= 24 and generated != choose_token("0.0.0.0")
    assert choose_token("0.0.0.0", "given") == "given"
    monkeypatch.setenv("HOVER_AUDIO_TOKEN", "from-env")
    assert choose_token("0.0.0.0") == "from-env" and choose_token("127.0.0.1") == "from-env"


# ------------------------------------------------------------------ a real server
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    folder = tmp_path_factory.mktemp("access")
    rows = demo_table().head(12)
    path = folder / "clips.csv"
    pd.DataFrame({"audio": rows["audio"], "label": rows["true_label"],
                  "SUBSET": "train"}).to_csv(path, index=False)
    return path


def start(table: Path, tmp_path: Path, *extra) -> tuple[subprocess.Popen, int, str]:
    port = free_port()
    log = tmp_path / "server.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "hover_audio.app.cli", "serve", str(table), "--port", str(port),
         "--no-umap", "--quiet", "--workspace", str(tmp_path / "ws"), *extra],
        stdout=open(log, "w"), stderr=subprocess.STDOUT, cwd=tmp_path)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        text = log.read_text()
        if "annotator at" in text:
            return process, port, text
        assert process.poll() is None, text
        time.sleep(0.2)
    process.kill()
    raise AssertionError(log.read_text())


def get(port: int, path: str, headers=None) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", path, headers=headers or {})
    response = connection.getresponse()
    response.read()
    return response


def websocket_status(port: int, cookie: str | None) -> int:
    headers = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Origin": f"http://127.0.0.1:{port}"}
    if cookie:
        headers["Cookie"] = cookie
    return get(port, "/ws", headers).status


def test_beyond_loopback_every_request_needs_the_token(table, tmp_path):
    process, port, output = start(table, tmp_path, "--host", "0.0.0.0", "--token", "s3cret")
    try:
        assert "/?token=s3cret" in output
        assert get(port, "/").status == 403
        assert get(port, "/?token=wrong").status == 403
        assert get(port, "/", {"Authorization": "token wrong"}).status == 403
        assert websocket_status(port, None) == 403
        assert websocket_status(port, "hover_audio_token=wrong") == 403
        granted = get(port, "/?token=s3cret")
        assert granted.status == 200
        cookie = granted.getheader("Set-Cookie").split(";")[0]
        assert cookie == "hover_audio_token=s3cret" and "HttpOnly" in granted.getheader("Set-Cookie")
        assert get(port, "/", {"Cookie": cookie}).status == 200  # the cookie stands for it
        assert websocket_status(port, cookie) == 101  # the page's own socket gets through
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_a_token_is_made_up_and_printed_when_none_is_given(table, tmp_path, monkeypatch):
    monkeypatch.delenv("HOVER_AUDIO_TOKEN", raising=False)
    process, port, output = start(table, tmp_path, "--host", "0.0.0.0")
    try:
        token = re.search(r"\?token=([\w-]+)", output).group(1)
        assert len(token) >= 24
        assert get(port, "/").status == 403 and get(port, f"/?token={token}").status == 200
    finally:
        process.terminate()
        process.wait(timeout=20)


# ------------------------------------------------------------------ in the page
def test_search_refuses_outside_paths_and_large_uploads(tmp_path):
    from bokeh.document import Document

    from hover_audio.app.explorer.annotator import Annotator

    rows = demo_table().head(20)
    ds = AudioDataset.from_pandas(pd.DataFrame({"audio": rows["audio"]}))
    ds.vectors = np.random.default_rng(0).normal(size=(20, 8)).astype(np.float32)
    ds.compute_nd_embedding(method="pca", progress=False)
    annotator = Annotator(ds)
    annotator.attach(Document())
    search = annotator.search
    for outside in ("/etc/passwd", "/etc/not-there.wav"):
        search["query"].value = outside
        assert search.search_typed() is None
        assert html.escape(REFUSED) in annotator.status.text
    search._on_upload("value", None, "A" * (60 * 2**20))  # 45 MB once decoded
    assert "at most 40 MB" in annotator.status.text
