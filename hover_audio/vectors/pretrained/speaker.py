"""Resemblyzer's voice encoder (the weights its wheel ships) as a vectorizer: who speaks.

Resemblyzer (Resemble AI; the GE2E speaker encoder of "Transfer Learning from
Speaker Verification to Multispeaker Text-To-Speech Synthesis") maps 1.6 s windows
of 16 kHz speech (40-band mel frames, a window every ~0.77 s) to 256-dimensional
voice embeddings: the same voice gives near vectors whatever the words. The clip's
vector pools the windows (by default their mean, as Resemblyzer's own utterance
embedding). It runs on PyTorch on the CPU, one thread; the weights are
``pretrained.pt`` inside the ``Resemblyzer`` wheel.

Licence: Resemblyzer's code and weights are Apache-2.0. The extra pulls PyTorch (a
dependency of Resemblyzer); install the CPU build of torch first to keep it small.
"""
from __future__ import annotations

import threading
import warnings
from typing import Sequence

import numpy as np

from ...audio.decode import resample
from ..registry import MissingExtraError
from .pooled import PooledWindows

RATE = 16000
EMBEDDING = 256
PARTIALS_PER_SECOND = 1.3  # Resemblyzer's default: 1.6 s windows every ~0.77 s
MIN_COVERAGE = 0.75  # a last, shorter window counts if it holds this much audio
TARGET_DBFS = -30.0  # quiet clips are raised to this level (the mel is not logarithmic)
POOLS = ("mean", "std", "max")
_MODELS: dict = {}  # one encoder per process
_LOCK = threading.Lock()


def _encoder():
    """The voice encoder of this process (loaded once) and Resemblyzer's ``audio`` module."""
    with _LOCK:
        if not _MODELS:
            try:
                with warnings.catch_warnings():  # its scipy.ndimage.morphology import
                    warnings.simplefilter("ignore", DeprecationWarning)
                    from resemblyzer import VoiceEncoder, audio  # imports torch
                import torch
            except ImportError as error:
                raise MissingExtraError(
                    f"the 'speaker' vectorizer needs `pip install 'hover-audio[speaker]'` "
                    f"({error.name} is not installed)") from None
            torch.set_num_threads(1)  # worker processes run one each, side by side
            encoder = VoiceEncoder(device="cpu", verbose=False)
            encoder.eval()
            _MODELS["encoder"], _MODELS["audio"], _MODELS["torch"] = encoder, audio, torch
        return _MODELS["encoder"], _MODELS["audio"], _MODELS["torch"]


def voice_embeddings(samples: np.ndarray, sr: int) -> np.ndarray:
    """The 256-d voice embedding of each 1.6 s window of mono ``samples``.

    The clip is resampled to 16 kHz and raised to -30 dBFS when quieter (never
    lowered), as Resemblyzer's ``preprocess_wav`` does; its voice-activity trimming is
    left out, so clips without speech still get vectors. A clip shorter than one
    window is padded with silence. Each window's embedding is non-negative with
    unit length.

    Examples
    --------
    >>> voice_embeddings(np.zeros(16000, np.float32), 16000).shape  # doctest: +SKIP
    (1, 256)
    """
    encoder, audio, torch = _encoder()
    wav = resample(np.asarray(samples, dtype=np.float32), sr, RATE)
    wav = np.clip(wav, -1.0, 1.0)
    if wav.size and float(np.mean(wav**2)) > 1e-12:  # silence stays silence
        wav = audio.normalize_volume(wav, TARGET_DBFS, increase_only=True).astype(np.float32)
    wav_slices, mel_slices = encoder.compute_partial_slices(len(wav), PARTIALS_PER_SECOND,
                                                            MIN_COVERAGE)
    wav = np.pad(wav, (0, max(0, wav_slices[-1].stop - len(wav))))
    mel = audio.wav_to_mel_spectrogram(wav)
    windows = np.stack([mel[part] for part in mel_slices]).astype(np.float32)
    with torch.no_grad():
        embeddings = encoder(torch.from_numpy(windows)).numpy()
    return np.nan_to_num(embeddings.astype(np.float32))  # silence: 0/0 -> 0


class SpeakerEmbedding(PooledWindows):
    """Clips of speech as pooled Resemblyzer voice embeddings (who speaks, not what).

    Parameters
    ----------
    stats
        How the windows' embeddings are pooled: any of "mean", "std", "max"; the
        default, the mean, is Resemblyzer's utterance embedding (before its length
        is set to 1).
    max_duration, cache_dir, cache
        As for every :class:`~hover_audio.vectors.contract.AudioVectorizer`; the
        default reads at most the first 120 s of a clip (a voice shows in seconds).

    Examples
    --------
    >>> SpeakerEmbedding().dim, SpeakerEmbedding(stats=("mean", "std")).dim
    (256, 512)
    """

    version = 1
    POOLS, WIDTH = POOLS, EMBEDDING
    PACKAGE, MODEL = "resemblyzer", "pretrained.pt"

    def __init__(self, stats: Sequence[str] = ("mean",), max_duration: float = 120.0,
                 cache_dir=None, cache: bool = True):
        super().__init__(stats, max_duration, cache_dir, cache)

    def windows(self, samples: np.ndarray, sr: int) -> np.ndarray:
        return voice_embeddings(samples, sr)
