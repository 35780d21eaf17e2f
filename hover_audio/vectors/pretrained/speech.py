"""Google's speech embedding (the ONNX models openWakeWord 0.4.0 ships) as a vectorizer.

A 16 kHz clip becomes 32-band log-mel frames (10 ms), then a 96-dimensional
embedding per 0.76 s window every 80 ms, trained by Google to tell spoken words
apart; the clip's vector pools the windows (mean and standard deviation). It runs
on onnxruntime on the CPU; the weights are files inside the ``openwakeword`` wheel.

Licences: openWakeWord's code is Apache-2.0; the melspectrogram and embedding models
are Google's ``speech_embedding`` (Apache-2.0, TF Hub) converted to ONNX by
openWakeWord. (openWakeWord's own wake-word models, CC BY-NC-SA 4.0, are not used.)
"""
from __future__ import annotations

import os
import threading
from typing import Sequence

import numpy as np

from ...audio.decode import resample
from ..registry import MissingExtraError
from .pooled import PooledWindows

RATE = 16000
WINDOW = 76  # mel frames per embedding window (0.76 s)
STEP = 8  # mel frames between windows (80 ms)
EMBEDDING = 96
POOLS = ("mean", "std", "max")
_SESSIONS: dict = {}
_LOCK = threading.Lock()


def _sessions():
    """The two ONNX sessions of this process (loaded once)."""
    with _LOCK:
        if not _SESSIONS:
            try:
                import onnxruntime
                import openwakeword
            except ImportError as error:
                raise MissingExtraError(
                    f"the 'speech' vectorizer needs `pip install 'hover-audio[speech]'` "
                    f"({error.name} is not installed)") from None
            folder = os.path.join(os.path.dirname(openwakeword.__file__), "resources", "models")
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = 1  # worker processes run one each, side by side
            options.inter_op_num_threads = 1
            for name in ("melspectrogram", "embedding_model"):
                _SESSIONS[name] = onnxruntime.InferenceSession(
                    os.path.join(folder, f"{name}.onnx"), sess_options=options,
                    providers=["CPUExecutionProvider"])
        return _SESSIONS["melspectrogram"], _SESSIONS["embedding_model"]


def speech_embeddings(samples: np.ndarray, sr: int) -> np.ndarray:
    """The 96-d embedding of each 0.76 s window (every 80 ms) of mono ``samples``.

    Clips shorter than one window are padded with silence on both sides, so every
    clip has at least one embedding.

    Examples
    --------
    >>> speech_embeddings(np.zeros(16000, np.float32), 16000).shape  # doctest: +SKIP
    (2, 96)
    """
    mel_model, embedding_model = _sessions()
    audio = resample(np.asarray(samples, dtype=np.float32), sr, RATE)
    shortest = (WINDOW + 3) * RATE // 100  # enough samples for one window of frames
    if len(audio) < shortest:
        pad = shortest - len(audio)
        audio = np.pad(audio, (pad // 2, pad - pad // 2))
    # the models were trained on 16-bit sample values, and on mel / 10 + 2
    scaled = (np.clip(audio, -1.0, 1.0) * 32767.0)[None, :].astype(np.float32)
    mel = mel_model.run(None, {"input": scaled})[0].reshape(-1, 32) / 10.0 + 2.0
    starts = range(0, max(1, len(mel) - WINDOW + 1), STEP)
    windows = np.stack([mel[start:start + WINDOW] for start in starts])[..., None]
    return embedding_model.run(None, {"input_1": windows.astype(np.float32)})[0].reshape(
        -1, EMBEDDING)


class SpeechEmbedding(PooledWindows):
    """Clips of speech as pooled Google speech embeddings (spoken words).

    Parameters
    ----------
    stats
        How the windows' embeddings are pooled: any of "mean", "std", "max".
    max_duration, cache_dir, cache
        As for every :class:`~hover_audio.vectors.contract.AudioVectorizer`.
    """

    version = 1
    POOLS, WIDTH = POOLS, EMBEDDING
    PACKAGE, MODEL = "openwakeword", "embedding_model.onnx"

    def __init__(self, stats: Sequence[str] = ("mean", "std"), max_duration: float = 600.0,
                 cache_dir=None, cache: bool = True):
        super().__init__(stats, max_duration, cache_dir, cache)

    def windows(self, samples: np.ndarray, sr: int) -> np.ndarray:
        return speech_embeddings(samples, sr)
