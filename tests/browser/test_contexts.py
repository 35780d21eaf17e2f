"""Playback works wherever the document lives: an embedded Server with no extra routes,
and `bokeh serve app.py` (sessions share one dataset through `shared`)."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request

import pytest

from .conftest import DIGITS, free_port
from .test_annotator import POINT_JS, READY

DATASET = textwrap.dedent(
    """
    import glob
    import pandas as pd
    from hover_audio import AudioDataset
    from hover_audio.vectors.mfcc import MFCCVectorizer

    def build():
        files = sorted(glob.glob({digits!r} + "/*.flac"))[:30]
        ds = AudioDataset.from_pandas(pd.DataFrame({{"audio": files}}))
        ds.vectorize(MFCCVectorizer(cache=False), progress=False, workers=1)
        ds.compute_nd_embedding(method="pca", progress=False)
        return ds
    """
)

EMBEDDED = DATASET + textwrap.dedent(
    """
    import sys
    from bokeh.server.server import Server
    from hover_audio.recipes import simple_annotator

    handle = simple_annotator(build())
    server = Server({{"/my-app": handle}}, port=int(sys.argv[1]),
                    allow_websocket_origin=["127.0.0.1:" + sys.argv[1]])
    server.start()
    server.io_loop.start()
    """
)

BOKEH_SERVE_APP = DATASET + textwrap.dedent(
    """
    from bokeh.io import curdoc
    from hover_audio.recipes import simple_annotator
    from hover_audio.app.server import shared

    simple_annotator(shared("contexts-test", build))(curdoc())
    """
)


def wait_for(url: str, process: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.stdout.read()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(url)


@pytest.fixture
def launch(tmp_path):
    processes = []

    def start(command, url):
        env = dict(os.environ, HOVER_AUDIO_CACHE=str(tmp_path / "cache"))
        process = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        processes.append(process)
        wait_for(url, process)
        return url

    yield start
    for process in processes:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def play_row(page, row: int) -> list:
    page.wait_for_function(READY)
    page.get_by_role("button", name="Enable sound").click()
    page.wait_for_function("() => window.hoverAudioUnlocked === true")
    position = page.evaluate(POINT_JS, row)
    page.mouse.move(position["x"] - 40, position["y"] - 40)
    page.mouse.move(position["x"], position["y"], steps=4)
    page.wait_for_function(f"() => (window.hoverAudioPlayed || []).includes({row})")
    page.wait_for_function("() => window.hoverAudio.currentTime > 0 || window.hoverAudio.ended")
    return page.evaluate("() => window.hoverAudioPlayed")


def test_embedded_server_with_no_extra_routes_plays_audio(page, launch, tmp_path):
    port = free_port()
    script = tmp_path / "embedded.py"
    script.write_text(EMBEDDED.format(digits=str(DIGITS)))
    url = launch([sys.executable, str(script), str(port)], f"http://127.0.0.1:{port}/my-app")
    page.goto(url)
    assert play_row(page, 4)[-1] == 4
    assert page.evaluate("() => window.hoverAudio.src").startswith("data:audio/wav;base64,")
    # the server has no route of ours besides the app: nothing else answers
    for path in ("/audio/4", "/my-app/audio?row=4", "/my-app/4.wav"):
        try:
            status = urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5).status
        except urllib.error.HTTPError as error:
            status = error.code
        assert status == 404, path


def test_bokeh_serve_sessions_share_one_dataset(context, launch, tmp_path):
    port = free_port()
    app = tmp_path / "app.py"
    app.write_text(BOKEH_SERVE_APP.format(digits=str(DIGITS)))
    url = launch([sys.executable, "-m", "bokeh", "serve", str(app), "--port", str(port),
                  "--address", "127.0.0.1", "--allow-websocket-origin", f"127.0.0.1:{port}"],
                 f"http://127.0.0.1:{port}/app")
    first, second = context.new_page(), context.new_page()
    first.goto(url)
    second.goto(url)
    assert play_row(first, 2)[-1] == 2
    for page in (first, second):
        page.wait_for_function("() => Bokeh.documents[0].get_model_by_name('clips')")
    first.evaluate("""() => { const doc = Bokeh.documents[0];
        doc.get_model_by_name('clips').selected.indices = [1, 3]; }""")
    first.get_by_placeholder("type a label, then Apply").fill("shared label")
    first.get_by_role("button", name="Apply").click()
    second.wait_for_function("""() => { const d = Bokeh.documents[0].get_model_by_name('clips').data;
        return d.label[1] === 'shared label' && d.label[3] === 'shared label'; }""")
