"""Audio -> vector: MFCC statistics computed with NumPy (the default vectorizer).

The MFCCs are computed at the clip's own sample rate with a mel filterbank built
for that rate (cached per rate), so a 16 kHz clip is never resampled to 22.05 kHz
first; frames are defined in seconds and the filterbank in hertz, so clips of
different rates give comparable vectors. Only rates above ``max_native_sr`` are
resampled (to ``sr``).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..audio.decode import resample
from .contract import AudioVectorizer
from .features import (ENVELOPE_DIM, Banded, above_noise, active_frames, activity, dct_matrix,
                       frame_stats, hann, mel_filterbank, warped_shape)
from .features import envelope as loudness_envelope

FEATURES_VERSION = 8
STATS = ("mean", "std", "min", "max", "delta")
SHAPE_TRIM_DB = 20.0  # the shape is taken over the frames within this of the loudest
# how the aspects weigh the shape and envelope blocks, the timbre block the rest (shares
# of the squared norm, after each dimension is put on a common scale); tuned on real
# drums, speech in five languages and fifteen game voices, not on the demo
# (benchmarks/bench_vectors.py)
ASPECT_SHARES = {"overall": 0.09, "timbre": 0.0, "shape": 0.85}
ENVELOPE_SHARES = {"overall": 0.03, "timbre": 0.03, "shape": 0.0}
LOG_FLOOR = 1e-10
_BASES: dict[tuple, tuple] = {}  # MFCCVectorizer._basis, per rate and parameters


class MFCCVectorizer(AudioVectorizer):
    """Mel-frequency cepstral coefficients pooled into one vector per clip.

    The vector has three blocks. *Timbre*: statistics of ``n_mfcc`` coefficients,
    ``stats`` over the active part of the clip (frames weighted by how close they
    are to the loudest, see ``trim_db``) and ``whole_stats`` over every frame; it
    says who or what makes the sound (voice, instrument, recording). *Envelope*
    (``envelope=True``): how the loudness rises and falls, 3 numbers from 5 ms
    steps (:func:`~hover_audio.vectors.features.envelope`): a hit or a swell, a
    short or a ringing one, which tells drums apart where spectra do not. *Shape*: the
    mean of coefficients 1..``shape_mfcc`` around ``segments`` points of the
    active region, in the sound's own time rather than the clock's (see
    :func:`~hover_audio.vectors.features.warped_shape`); it says how the sound
    moves in time (which word, which gesture, less bound to its pace), taken from
    band levels raised to the recording's noise floor (``shape_floor_db``), so
    noise does not draw the shape of the quiet parts.
    :meth:`aspects` weighs the blocks for search and maps.

    Parameters
    ----------
    n_mfcc
        Cepstral coefficients in the timbre block.
    sr
        Reference rate: the filterbank spans up to ``sr / 2`` (or ``fmax``), and
        clips above ``max_native_sr`` are resampled to it.
    stats, whole_stats
        Statistics of the active frames and of all frames: any of "mean",
        "std", "min", "max", "delta" (mean absolute change between frames).
    trim_db
        Frames count in ``stats`` by how close they are to the loudest frame:
        fully within ``trim_db`` dB, hardly at all below (None: every frame alike).
    segments, shape_mfcc
        The shape block: ``segments`` parts x ``shape_mfcc`` coefficients
        (``segments=1``: no shape block).
    shape_floor_db
        The shape is taken from mel band levels raised to at least this many dB
        above each band's noise (its level in the quietest 10% of frames; see
        :func:`~hover_audio.vectors.features.above_noise`); None: as recorded.
    envelope
        Whether the vector has the envelope block.
    n_mels, fmin, fmax, window, hop
        Filterbank size, its range in Hz, and frame length and step in seconds.
    max_duration
        Seconds of each clip used at most (the start of a long file).
    cache_dir
        Where vectors are cached (default ``custom_cache/``); ``cache=False`` disables it.

    Examples
    --------
    >>> vectorizer = MFCCVectorizer()
    >>> vectorizer.dim, sorted(vectorizer.aspects())
    (297, ['overall', 'shape', 'timbre'])
    >>> MFCCVectorizer(n_mfcc=32, stats=("mean",), whole_stats=(), trim_db=None, segments=1,
    ...                envelope=False).dim
    32
    >>> matrix, report = vectorizer.transform(["a.wav", "b.flac#t=1,2"])  # doctest: +SKIP
    """

    version = FEATURES_VERSION

    def __init__(
        self,
        n_mfcc: int = 30,
        sr: int = 22050,
        stats: Sequence[str] = ("mean", "std"),
        whole_stats: Sequence[str] = ("mean", "std", "delta"),
        trim_db: float | None = 20.0,
        segments: int = 12,
        shape_mfcc: int = 12,
        shape_floor_db: float | None = 8.0,
        envelope: bool = True,
        n_mels: int = 64,
        fmin: float = 20.0,
        fmax: float | None = None,
        window: float = 0.025,
        hop: float = 0.010,
        max_native_sr: int = 48000,
        max_duration: float = 600.0,
        cache_dir=None,
        cache: bool = True,
    ):
        unknown = [name for name in (*stats, *whole_stats) if name not in STATS]
        if unknown or not (stats or whole_stats):
            raise ValueError(f"stats and whole_stats must be subsets of {STATS}, not both "
                             f"empty; got {tuple(stats)}, {tuple(whole_stats)}")
        if n_mfcc < 1 or n_mels < max(n_mfcc, shape_mfcc + 1):
            raise ValueError(f"need 1 <= n_mfcc <= n_mels and shape_mfcc < n_mels, got "
                             f"n_mfcc={n_mfcc}, shape_mfcc={shape_mfcc}, n_mels={n_mels}")
        if segments < 1 or shape_mfcc < 1 or window <= 0 or hop <= 0 or max_duration <= 0:
            raise ValueError("segments, shape_mfcc, window, hop and max_duration must be positive")
        self.n_mfcc, self.sr, self.stats, self.whole_stats = n_mfcc, sr, tuple(stats), \
            tuple(whole_stats)
        self.trim_db, self.segments, self.shape_mfcc = trim_db, segments, shape_mfcc
        self.shape_floor_db = shape_floor_db
        self.envelope = bool(envelope)
        self.n_mels, self.fmin, self.fmax = n_mels, fmin, fmax
        self.window, self.hop = window, hop
        self.max_native_sr, self.max_duration = max_native_sr, max_duration
        self.cache_dir, self.cache = cache_dir, cache

    @property
    def dim(self) -> int:
        """Length of every vector."""
        return self._timbre_dim + self._envelope_dim + self._shape_dim

    @property
    def _timbre_dim(self) -> int:
        return self.n_mfcc * (len(self.stats) + len(self.whole_stats))

    @property
    def _envelope_dim(self) -> int:
        return ENVELOPE_DIM if self.envelope else 0

    @property
    def _shape_dim(self) -> int:
        return self.segments * self.shape_mfcc if self.segments > 1 else 0

    def aspects(self) -> dict[str, np.ndarray | None]:
        """Weights per dimension for "overall" (the default), "timbre" and "shape".

        Each block gets a share of a vector's squared length once every dimension
        is on a common scale: "overall" is mostly timbre with a little shape and
        envelope, "timbre" is timbre and a little envelope (who or what sounds, and
        how it is struck), "shape" mostly shape. Without a shape block there is
        only "overall".
        """
        timbre, loudness, shape = self._timbre_dim, self._envelope_dim, self._shape_dim
        if not shape:
            return {"overall": None}

        def blend(shape_share: float, envelope_share: float) -> np.ndarray:
            envelope_share = envelope_share if loudness else 0.0
            rest = 1.0 - shape_share - envelope_share
            return np.concatenate([np.full(timbre, np.sqrt(rest / timbre)),
                                   np.full(loudness, np.sqrt(envelope_share / max(loudness, 1))),
                                   np.full(shape, np.sqrt(shape_share / shape))]
                                  ).astype(np.float32)

        return {name: blend(share, ENVELOPE_SHARES[name])
                for name, share in ASPECT_SHARES.items()}

    # -------------------------------------------------------------- features
    def _basis(self, sr: int) -> tuple:
        """Per rate: window and hop in samples, FFT length, taper, mel filterbank (a
        :class:`~hover_audio.vectors.features.Banded`) and DCT matrix.

        The FFT length is the window zero-padded to the next length the FFT does
        fast (25 ms at 44.1 kHz is 1,103 samples, a prime: 4x slower than 1,152);
        the filterbank is scaled by ``n_window / n_fft`` so band energies do not
        depend on the padding. Kept per process for every vectorizer with these
        parameters: a copy sent to a worker process, one per chunk, finds it there.
        """
        key = (sr, self.window, self.hop, self.sr, self.fmin, self.fmax, self.n_mels,
               self.n_mfcc, self.shape_mfcc)
        if key not in _BASES:
            from scipy.fft import next_fast_len

            n_window = max(2, int(round(self.window * sr)))
            n_fft = next_fast_len(n_window, real=True)
            hop = max(1, int(round(self.hop * sr)))
            taper = hann(n_window)
            norm = float(np.sum(taper**2)) * n_fft / n_window
            fmax = self.sr / 2.0 if self.fmax is None else self.fmax
            mel = mel_filterbank(sr, n_fft, self.n_mels, self.fmin, fmax) / norm
            used = np.flatnonzero(mel.any(axis=0))  # bins above fmax weigh nothing
            mel = mel[:, :used[-1] + 1 if len(used) else 1]
            dct = dct_matrix(max(self.n_mfcc, self.shape_mfcc + 1), self.n_mels)
            _BASES[key] = (n_window, hop, n_fft, taper, Banded(mel.T), dct.T.copy())
        return _BASES[key]

    def at_native_rate(self, samples: np.ndarray, sr: int) -> tuple[np.ndarray, int]:
        """``(float32 samples, rate)`` as the features are computed: at the clip's own
        rate, or at ``sr`` for clips above ``max_native_sr``."""
        if sr > self.max_native_sr:
            samples, sr = resample(samples, sr, self.sr), self.sr
        return np.asarray(samples, dtype=np.float32), sr

    def mel_power(self, samples: np.ndarray, sr: int) -> np.ndarray:
        """Mel band powers (time x bands) of mono ``samples`` at rate ``sr``."""
        samples, sr = self.at_native_rate(samples, sr)
        n_window, hop, n_fft, taper, mel, _ = self._basis(sr)
        if samples.size:  # drop the DC offset (sum / size: the mean, without its overhead)
            samples = samples - samples.sum() / np.float32(samples.size)
        if samples.size < n_window:
            samples = np.pad(samples, (0, n_window - samples.size))
        count = 1 + (samples.size - n_window) // hop  # frames, one every hop samples
        # a view of overlapping rows of the new contiguous samples (as
        # sliding_window_view, without its 3 us of checks per call)
        frames = np.ndarray((count, n_window), np.float32, samples, 0, (hop * 4, 4))
        frames.flags.writeable = False
        from scipy.fft import rfft  # float32 FFTs, ~5x numpy's on short frames

        if n_fft == n_window:
            windowed = frames * taper
        else:
            windowed = np.zeros((len(frames), n_fft), dtype=np.float32)  # zero-padded in place
            np.multiply(frames, taper, out=windowed[:, :n_window])
        spectrum = rfft(windowed, axis=1, overwrite_x=True)[:, :mel.shape[0]]
        power = np.square(spectrum.real)
        power += np.square(spectrum.imag)
        return mel.product(power)

    def mfcc(self, samples: np.ndarray, sr: int) -> np.ndarray:
        """MFCC frames (time x coefficients) of mono ``samples`` at rate ``sr``.

        ``max(n_mfcc, shape_mfcc + 1)`` coefficients, the first being the mean level.
        """
        return self.log_bands(samples, sr) @ self._basis(sr)[5]

    def log_bands(self, samples: np.ndarray, sr: int) -> np.ndarray:
        """Mel band levels in dB (time x bands) of mono ``samples`` at rate ``sr``."""
        bands = self.mel_power(samples, sr)
        return np.log10(np.maximum(bands, LOG_FLOOR, out=bands), out=bands) * np.float32(10.0)

    def vector(self, samples: np.ndarray, sr: int) -> np.ndarray:
        """The pooled vector of decoded ``samples``: always finite, float32."""
        samples, sr = self.at_native_rate(samples, sr)  # once: the MFCC then keeps it
        levels = self.log_bands(samples, sr)
        dct_t = self._basis(sr)[5]
        frames = levels @ dct_t
        timbre = frames[:, :self.n_mfcc]
        weights = activity(frames, self.trim_db, self.n_mels)
        pooled = frame_stats(timbre, self.stats, weights) + frame_stats(timbre, self.whole_stats)
        if self.envelope:
            pooled.append(loudness_envelope(samples, sr))
        if self.segments > 1:
            if self.shape_floor_db is not None:  # (c0 of these places the active region too)
                floored = above_noise(levels, self.shape_floor_db)
                frames = floored @ dct_t[:, :self.shape_mfcc + 1]
            active = active_frames(frames, SHAPE_TRIM_DB, self.n_mels)
            pooled.append(warped_shape(active[:, 1:self.shape_mfcc + 1], self.segments))
        vector = np.concatenate(pooled).astype(np.float32, copy=False)
        if not np.isfinite(vector).all():
            vector = np.nan_to_num(vector, nan=0.0, posinf=0.0, neginf=0.0)
        return vector
