"""The model server in the classic shape, tested the way scripts use it: a real server, multipart
POSTs (as curl sends them), JSON answers, and the classic tag-your-library loop."""
from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
import urllib.parse
import uuid

import numpy as np
import pandas as pd
import pytest
import soundfile

from hover_audio import AudioDataset, MFCCVectorizer
from hover_audio.app.cli import main
from hover_audio.audio.file_tags import read_tags

RATE = 16000


def sound(kind: str, seed: int, seconds: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    if kind == "low":
        return 0.4 * np.sin(2 * np.pi * rng.uniform(150, 250) * t)
    if kind == "high":
        return 0.4 * np.sin(2 * np.pi * rng.uniform(2500, 3500) * t)
    return 0.2 * rng.standard_normal(len(t))


def wav_bytes(samples: np.ndarray) -> bytes:
    out = io.BytesIO()
    soundfile.write(out, samples, RATE, format="WAV", subtype="PCM_16")
    return out.getvalue()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict")
    rows = []
    for kind in ("low", "high", "noise"):
        for seed in range(8):
            path = root / "clips" / f"{kind}{seed}.wav"
            path.parent.mkdir(exist_ok=True)
            soundfile.write(path, sound(kind, seed), RATE)
            rows.append((str(path), kind, "train" if seed < 6 else "dev"))
    ds = AudioDataset.from_pandas(pd.DataFrame(rows, columns=["audio", "label", "SUBSET"]))
    ds.vectorize(MFCCVectorizer(cache_dir=root / "cache"), workers=1, progress=False)
    ds.save(root / "ws")
    ds.close()
    return root / "ws"


@pytest.fixture(scope="module")
def server(workspace):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    child = subprocess.Popen([sys.executable, "-m", "hover_audio.app.cli", "predict-server",
                              str(workspace), "--port", str(port)], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, env=dict(os.environ))
    line = child.stdout.readline()
    assert "model server at" in line, line + child.stdout.read()
    yield f"http://127.0.0.1:{port}"
    child.terminate()
    child.wait(timeout=30)


def post(url: str, data: bytes, filename: str = "clip.wav", **query) -> tuple[int, dict]:
    """A multipart/form-data POST with one file field 'audio', as `curl -F audio=@clip.wav`."""
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"audio\"; "
            f"filename=\"{filename}\"\r\nContent-Type: audio/wav\r\n\r\n").encode() + data + \
        f"\r\n--{boundary}--\r\n".encode()
    address = url + "/model/predict" + ("?" + urllib.parse.urlencode(query) if query else "")
    request = urllib.request.Request(address, data=body, method="POST", headers={
        "Content-Type": f"multipart/form-data; boundary={boundary}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as answer:
        return json.loads(answer.read())


def test_predict_answers_the_classic_json(server):
    status, body = post(server, wav_bytes(sound("high", 99)))
    assert status == 200 and body["status"] == "ok"
    predictions = body["predictions"]
    assert [set(p) for p in predictions] == [{"label_id", "label", "probability"}] * 3
    assert predictions[0]["label"] == "high"
    assert sorted(p["label"] for p in predictions) == ["high", "low", "noise"]
    assert abs(sum(p["probability"] for p in predictions) - 1.0) < 1e-3
    probabilities = [p["probability"] for p in predictions]
    assert probabilities == sorted(probabilities, reverse=True)
    status, body = post(server, wav_bytes(sound("high", 99)), top=1)
    assert len(body["predictions"]) == 1


def test_filter_and_start_time(server):
    status, body = post(server, wav_bytes(sound("high", 98)), filter="low,noise")
    assert status == 200 and {p["label"] for p in body["predictions"]} == {"low", "noise"}
    mixed = np.concatenate([sound("noise", 97, 1.0), sound("low", 97, 1.0)])
    status, body = post(server, wav_bytes(mixed), start_time="1.0")
    assert status == 200 and body["predictions"][0]["label"] == "low"


def test_bad_requests_are_400_with_a_message(server):
    status, body = post(server, b"this is not audio", filename="Track 18.wav")
    assert status == 400 and body["status"] == "error" and "Track 18.wav" in body["message"]
    status, body = post(server, wav_bytes(sound("low", 1)), filter="nope")
    assert status == 400 and "nope" in body["message"]
    status, body = post(server, wav_bytes(sound("low", 1)), start_time="-2")
    assert status == 400


def test_metadata_and_labels(server):
    labels = get(server + "/model/labels")
    assert labels["count"] == 3 and {item["name"] for item in labels["labels"]} == {
        "high", "low", "noise"}
    metadata = get(server + "/model/metadata")
    assert metadata["labels"] == 3 and "MFCCVectorizer" in metadata["vectorizer"]


def test_the_classic_tagging_loop_against_our_server(server, tmp_path):
    """For each file: POST it, keep the labels above the threshold, write them into the file."""
    library = tmp_path / "library"
    library.mkdir()
    truth = {}
    for number, kind in enumerate(["low", "high", "noise", "high"]):
        path = library / f"Track {number + 17}.wav"
        soundfile.write(path, sound(kind, 50 + number), RATE)
        truth[path] = kind
    for path in sorted(library.glob("*.wav")):
        status, body = post(server, path.read_bytes(), filename=path.name)
        assert status == 200
        keep = [p["label"] for p in body["predictions"] if p["probability"] > 0.25]
        from hover_audio.audio.file_tags import write_tags

        write_tags(path, keep)
    for path, kind in truth.items():
        assert kind in read_tags(path), (path.name, read_tags(path))


def test_predict_prints_json_lines(workspace, tmp_path, capsys):
    clip = tmp_path / "x.wav"
    soundfile.write(clip, sound("low", 77), RATE)
    assert main(["predict", str(clip), str(tmp_path / "missing.wav"), "--workspace",
                 str(workspace), "--top", "2", "--threshold", "0.05"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["status"] == "ok" and lines[0]["predictions"][0]["label"] == "low"
    assert len(lines[0]["predictions"]) <= 2
    assert lines[1]["status"] == "error" and "missing.wav" in lines[1]["message"]
    # every file failing is a failure of the command; an unknown label is said once
    assert main(["predict", str(tmp_path / "missing.wav"), "--workspace",
                 str(workspace)]) == 1
    capsys.readouterr()
    assert main(["predict", str(clip), str(clip), "--workspace", str(workspace),
                 "--labels", "low,nosuch"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "--labels nosuch: not labels of this model" in captured.err


def test_the_token_rule(workspace):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    child = subprocess.Popen([sys.executable, "-m", "hover_audio.app.cli", "predict-server",
                              str(workspace), "--port", str(port), "--token", "s3cret"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             env=dict(os.environ))
    try:
        line = child.stdout.readline()
        assert "?token=s3cret" in line, line
        url = f"http://127.0.0.1:{port}"
        with pytest.raises(urllib.error.HTTPError) as refused:
            get(url + "/model/labels")
        assert refused.value.code == 403
        assert get(url + "/model/labels?token=s3cret")["count"] == 3
        status, body = post(url, wav_bytes(sound("low", 5)), token="s3cret")
        assert status == 200 and body["predictions"][0]["label"] == "low"
    finally:
        child.terminate()
        child.wait(timeout=30)
