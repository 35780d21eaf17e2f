"""Fixtures of the browser tests: a small dataset, the real server, headless Chromium.

The server is the real ``hover-audio serve`` command in a subprocess; the browser
is Debian's Chromium driven by Playwright (no browser is downloaded).
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
DIGITS = REPO / "hover_audio" / "data" / "digits"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
SCRIPT_LABEL = "<script>window.pwned=1</script>"
# a file name cannot hold "/", so the markup uses no closing tags
MARKUP_NAME = "<b>bold<b> <img src=x onerror=window.pwned2=1> Track 18.wav"
N_TRAIN = 24  # labeled train rows taken from the manifest (plus the script label)
N_ROWS = 60


# ------------------------------------------------------------------ dataset
def make_dataset(folder: Path) -> dict:
    """A 60-row CSV table over demo clips: 25 train (one labeled with markup), 35 raw.

    One raw row is a WAV copy of a demo clip whose file name holds markup.
    """
    import soundfile

    folder.mkdir(parents=True, exist_ok=True)
    manifest = pd.read_csv(DIGITS / "manifest.csv").head(N_ROWS)
    markup = folder / MARKUP_NAME
    samples, rate = soundfile.read(DIGITS / manifest["file"].iloc[-1])
    soundfile.write(markup, samples, rate, format="WAV", subtype="PCM_16")
    rows = []
    for i, item in enumerate(manifest.itertuples()):
        path = str(DIGITS / item.file)
        if i < N_TRAIN:
            rows.append((path, item.true_label, "train"))
        elif i == N_TRAIN:
            rows.append((path, SCRIPT_LABEL, "train"))
        elif i == N_ROWS - 1:
            rows.append((str(markup), "ABSTAIN", "raw"))
        else:
            rows.append((path, "ABSTAIN", "raw"))
    table = pd.DataFrame(rows, columns=["audio", "label", "SUBSET"])
    table["duration"] = manifest["duration_s"].to_numpy()
    path = folder / "clips.csv"
    table.to_csv(path, index=False)
    return {"table": path, "rows": len(table), "frame": table, "markup": markup}


# ------------------------------------------------------------------- server
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class AppServer:
    """``hover-audio serve`` in a subprocess, with its output in a log file."""

    def __init__(self, target: Path, workspace: Path | None, cache: Path, log: Path,
                 extra: tuple = ()):
        self.target, self.workspace, self.cache, self.log_path = target, workspace, cache, log
        self.extra = extra
        self.process = None
        self.port = None

    @property
    def url(self) -> str:
        extra = list(self.extra)
        token = extra[extra.index("--token") + 1] if "--token" in extra else None
        return f"http://127.0.0.1:{self.port}/" + (f"?token={token}" if token else "")

    def start(self, timeout: float = 90.0, port: int | None = None) -> "AppServer":
        self.port = port or free_port()
        command = [sys.executable, "-m", "hover_audio.app.cli", "serve", str(self.target),
                   "--port", str(self.port), "--no-umap", "--quiet", *self.extra]
        if self.workspace is not None:
            command[5:5] = ["--workspace", str(self.workspace)]
        env = dict(os.environ, HOVER_AUDIO_CACHE=str(self.cache), PYTHONUNBUFFERED="1")
        self._log = open(self.log_path, "a")
        self.process = subprocess.Popen(command, cwd=self.cache, env=env, stdout=self._log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.output()}")
            try:
                with urllib.request.urlopen(self.url, timeout=5) as answer:
                    if answer.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"server did not answer within {timeout:.0f} s:\n{self.output()}")

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # the CLI's own Ctrl+C path
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.terminate()
                try:
                    self.process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=5)
        if getattr(self, "_log", None):
            self._log.close()
            self._log = None


@pytest.fixture(scope="session")
def dataset(tmp_path_factory) -> dict:
    return make_dataset(tmp_path_factory.mktemp("clips"))


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def start_server(tmp_path_factory, cache_dir):
    """A factory: ``start_server(target, workspace=None)`` -> a started AppServer."""
    started = []

    def start(target, workspace=None, extra=()):
        log = tmp_path_factory.mktemp("log") / "server.log"
        server = AppServer(Path(target), workspace and Path(workspace), cache_dir, log, extra)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def server(dataset, start_server, tmp_path_factory):
    """The shared annotator over the 60-row table, on its own workspace (no --host)."""
    workspace = tmp_path_factory.mktemp("ws") / "workspace"
    return start_server(dataset["table"], workspace)


# ------------------------------------------------------------------ browser
@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def context(browser):
    context = browser.new_context(viewport={"width": 1500, "height": 1100})
    yield context
    context.close()


@pytest.fixture
def page(context):
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
