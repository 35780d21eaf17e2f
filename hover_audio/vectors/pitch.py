"""Audio -> vector: the default MFCC statistics plus the 12 pitch classes (``"pitch"``).

For sample libraries and music, where what tells clips apart is which notes or chord
sound, not who or what plays them: the same guitar strumming A minor or C major has
one timbre and one time shape. Registered as ``"pitch"`` (no extra needed); it costs
about one more FFT per clip than the default, which is why the default leaves it out.
"""
from __future__ import annotations

import numpy as np

from .features import chroma_filterbank, hann, pitch_classes
from .mfcc import FEATURES_VERSION, MFCCVectorizer

PITCH_VERSION = 1
# "overall" gives the pitch block this share of a vector's squared length, the default's
# "overall" the rest: measured on the real sets, drums 0.822 -> 0.857 and chords 0.384 ->
# 0.458 precision@10, languages, voices and the demo within 0.005 (benchmarks/bench_vectors.py)
PITCH_SHARE = 0.35
_BASES: dict[tuple, tuple] = {}  # PitchVectorizer._pitch_basis, per rate and window


class PitchVectorizer(MFCCVectorizer):
    """:class:`~hover_audio.vectors.mfcc.MFCCVectorizer`'s vector and a pitch block.

    The pitch block is the log share of the clip's energy in each of the 12 pitch
    classes (C, C#, ... B), from non-overlapping windows of ``pitch_window``
    seconds, at most ``pitch_windows`` of them spread over the clip
    (:func:`~hover_audio.vectors.features.pitch_classes`). Its aspects: "overall",
    the default's with :data:`PITCH_SHARE` of pitch; "timbre" and "shape", the
    default's (no pitch); and "pitch", the pitch block only. Other parameters
    (``**params``): those of ``MFCCVectorizer``, with its defaults; ``get_params()``
    lists them all.

    Examples
    --------
    >>> vectorizer = PitchVectorizer()
    >>> vectorizer.dim, list(vectorizer.aspects())
    (309, ['overall', 'timbre', 'shape', 'pitch'])
    """

    version = f"{FEATURES_VERSION}.{PITCH_VERSION}"  # its vectors hold the default's too

    def __init__(self, pitch_window: float = 0.2, pitch_windows: int = 64, **params):
        if not pitch_window > 0 or pitch_windows < 1:
            raise ValueError(f"pitch_window and pitch_windows must be positive, got "
                             f"{pitch_window} and {pitch_windows}")
        super().__init__(**params)  # MFCCVectorizer's, with its defaults
        self.pitch_window, self.pitch_windows = pitch_window, pitch_windows

    @property
    def dim(self) -> int:
        """Length of every vector: the default's and 12 pitch classes."""
        return super().dim + 12

    def aspects(self) -> dict[str, np.ndarray | None]:
        """The default's aspects (each weighing the pitch block zero) and "pitch" (only
        it); "overall" then gives pitch :data:`PITCH_SHARE` of a vector's squared length."""
        before = super().dim
        found = {}
        for name, weights in super().aspects().items():
            weights = np.ones(before, np.float32) / np.sqrt(before) if weights is None \
                else weights  # None weighs all alike: as unit weights, of squared length 1
            found[name] = np.concatenate([weights, np.zeros(12, np.float32)])
        found["pitch"] = np.concatenate([np.zeros(before, np.float32),
                                         np.full(12, np.sqrt(1 / 12), np.float32)])
        found["overall"] = (np.sqrt(1 - PITCH_SHARE) * found["overall"]
                            + np.sqrt(PITCH_SHARE) * found["pitch"]).astype(np.float32)
        return found

    def _pitch_basis(self, sr: int) -> tuple:
        """Per rate: the pitch windows' taper and chroma filterbank (kept per process)."""
        key = (sr, self.pitch_window)
        if key not in _BASES:
            from scipy.fft import next_fast_len

            n_window = max(2, int(round(self.pitch_window * sr)))
            n_fft = 2 * next_fast_len(-(-n_window // 2), real=True)  # even: see pitch_classes
            taper = hann(n_window)
            _BASES[key] = (taper, chroma_filterbank(sr, n_fft))
        return _BASES[key]

    def vector(self, samples: np.ndarray, sr: int) -> np.ndarray:
        """The default's vector of decoded ``samples``, then their 12 pitch classes."""
        samples, sr = self.at_native_rate(samples, sr)  # once: the MFCC then keeps it
        taper, bank = self._pitch_basis(sr)
        pitch = pitch_classes(samples, taper, bank, self.pitch_windows)
        if not np.isfinite(pitch).all():
            pitch = np.nan_to_num(pitch, nan=0.0, posinf=0.0, neginf=0.0)
        return np.concatenate([super().vector(samples, sr), pitch])
