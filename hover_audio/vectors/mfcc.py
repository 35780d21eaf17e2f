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

FEATURES_VERSION = 4
STATS = ("mean", "std", "min", "max", "delta")
SHAPE_TRIM_DB = 15.0  # the shape is taken over the frames within this of the loudest
# how the aspects weigh the timbre and shape blocks (shares of the squared norm,
# after each dimension is put on a common scale); tuned on real drums, speech in
# five languages and fifteen game voices, not on the demo (benchmarks/bench_vectors.py)
ASPECT_SHARES = {"overall": 0.09, "timbre": 0.0, "shape": 0.85}
LOG_FLOOR = 1e-10
_BASES: dict[tuple, tuple] = {}  # MFCCVectorizer._basis, per rate and parameters


def hz_to_mel(hz):
    """Slaney-style mel scale: linear below 1 kHz, logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz / (200.0 / 3)
    log_part = 15.0 + np.log(np.maximum(hz, 1e-9) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(hz >= 1000.0, log_part, linear)


def mel_to_hz(mel):
    """Inverse of :func:`hz_to_mel`."""
    mel = np.asarray(mel, dtype=np.float64)
    linear = mel * (200.0 / 3)
    log_part = 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0))
    return np.where(mel >= 15.0, log_part, linear)


def mel_filterbank(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """Triangular, area-normalized mel filters, shape ``(n_mels, n_fft // 2 + 1)``.

    Bands above the Nyquist frequency of ``sr`` are left empty, so a low-rate
    clip gets the same bands as a high-rate one, just with nothing in the top ones.
    """
    bins = np.fft.rfftfreq(n_fft, d=1.0 / sr)
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    lower, center, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins - lower) / np.maximum(center - lower, 1e-9)
    falling = (upper - bins) / np.maximum(upper - center, 1e-9)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= (2.0 / (upper - lower))  # equal area per band, as librosa's "slaney" norm
    return weights.astype(np.float32)


def dct_matrix(n_mfcc: int, n_mels: int) -> np.ndarray:
    """Orthonormal DCT-II basis, shape ``(n_mfcc, n_mels)``."""
    k = np.arange(n_mfcc)[:, None]
    n = np.arange(n_mels)[None, :]
    basis = np.cos(np.pi / n_mels * (n + 0.5) * k) * np.sqrt(2.0 / n_mels)
    basis[0] /= np.sqrt(2.0)
    return basis.astype(np.float32)


def active_frames(frames: np.ndarray, trim_db: float | None, n_mels: int) -> np.ndarray:
    """The frames from the first to the last within ``trim_db`` of the loudest one.

    Loudness is the first cepstral coefficient, the mean log-mel level (scaled by
    the orthonormal DCT); leading and trailing silence and padding are dropped.
    """
    if trim_db is None or len(frames) < 2:
        return frames
    level = frames[:, 0]
    loud = np.flatnonzero(level >= level.max() - trim_db * np.sqrt(n_mels))
    return frames[loud[0]:loud[-1] + 1]


def activity(frames: np.ndarray, floor_db: float | None, n_mels: int) -> np.ndarray | None:
    """How much each frame counts: ~1 within ``floor_db`` of the loudest frame, ~0 well below.

    A soft version of trimming (a logistic step 2 dB wide), so a clip's statistics
    describe the sound rather than the silence or noise around it, without a hard
    cut that moves with one loud frame. None for ``floor_db=None`` (all frames count).
    """
    if floor_db is None or len(frames) < 2:
        return None
    level = frames[:, 0] / np.sqrt(n_mels)  # mean log-mel level of each frame, dB
    return 1.0 / (1.0 + np.exp(-(level - (level.max() - floor_db)) / 2.0))


def frame_stats(frames: np.ndarray, stats: Sequence[str],
                weights: np.ndarray | None = None) -> list[np.ndarray]:
    """Per-coefficient statistics over frames (time x coefficients), optionally weighted.

    "mean" and "std" use ``weights``; "min" and "max" use the frames weighing at
    least 0.5; "delta" is the mean absolute frame-to-frame change (how fast the
    sound moves), weighted by the later frame.
    """
    w = np.ones(len(frames), np.float32) if weights is None else weights.astype(np.float32)
    w = w / max(float(w.sum()), 1e-9)
    mean = w @ frames
    out = []
    for name in stats:
        if name == "mean":
            out.append(mean)
        elif name == "std":
            out.append(np.sqrt(np.maximum(w @ (frames - mean) ** 2, 0.0)))
        elif name in ("min", "max"):
            kept = frames[w >= 0.5 * w.max()] if weights is not None else frames
            out.append(kept.min(axis=0) if name == "min" else kept.max(axis=0))
        else:  # delta
            if len(frames) < 2:
                out.append(np.zeros(frames.shape[1], np.float32))
                continue
            later = w[1:] / max(float(w[1:].sum()), 1e-9)
            out.append(later @ np.abs(np.diff(frames, axis=0)))
    return out


def time_shape(frames: np.ndarray, segments: int) -> np.ndarray:
    """The mean of ``segments`` equal parts of ``frames``, relative to the overall mean.

    The coarse time order that whole-clip statistics lose (what tells "one" from
    "nine", or a swell from a hit). Parts differ in length by at most one frame,
    the longer ones first; fewer frames than parts give zeros.

    Examples
    --------
    >>> time_shape(np.arange(8, dtype=np.float32)[:, None], 2)
    array([-2.,  2.], dtype=float32)
    """
    count, width = frames.shape
    if count < segments:
        return np.zeros(segments * width, dtype=frames.dtype)
    sizes = np.full(segments, count // segments)
    sizes[:count % segments] += 1
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    parts = np.add.reduceat(frames, starts, axis=0) / sizes[:, None].astype(frames.dtype)
    return (parts - frames.sum(axis=0) / frames.dtype.type(count)).ravel()


class MFCCVectorizer(AudioVectorizer):
    """Mel-frequency cepstral coefficients pooled into one vector per clip.

    The vector has two blocks. *Timbre*: statistics of ``n_mfcc`` coefficients,
    ``stats`` over the active part of the clip (frames weighted by how close they
    are to the loudest, see ``trim_db``) and ``whole_stats`` over every frame; it
    says who or what makes the sound (voice, instrument, recording). *Shape*: the
    mean of coefficients 1..``shape_mfcc`` in ``segments`` equal parts of the
    active region; it says how the sound moves in time (which word, which
    gesture). :meth:`aspects` weighs the blocks for search and maps.

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
    (246, ['overall', 'shape', 'timbre'])
    >>> MFCCVectorizer(n_mfcc=32, stats=("mean",), whole_stats=(), trim_db=None, segments=1).dim
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
        segments: int = 8,
        shape_mfcc: int = 12,
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
        self.n_mels, self.fmin, self.fmax = n_mels, fmin, fmax
        self.window, self.hop = window, hop
        self.max_native_sr, self.max_duration = max_native_sr, max_duration
        self.cache_dir, self.cache = cache_dir, cache

    @property
    def dim(self) -> int:
        """Length of every vector."""
        return self._timbre_dim + self._shape_dim

    @property
    def _timbre_dim(self) -> int:
        return self.n_mfcc * (len(self.stats) + len(self.whole_stats))

    @property
    def _shape_dim(self) -> int:
        return self.segments * self.shape_mfcc if self.segments > 1 else 0

    def aspects(self) -> dict[str, np.ndarray | None]:
        """Weights per dimension for "overall" (the default), "timbre" and "shape".

        Each block gets a share of a vector's squared length once every dimension
        is on a common scale: "overall" is mostly timbre with a little shape,
        "timbre" is timbre only, "shape" mostly shape. Without a shape block
        there is only "overall".
        """
        timbre, shape = self._timbre_dim, self._shape_dim
        if not shape:
            return {"overall": None}

        def blend(share: float) -> np.ndarray:
            return np.concatenate([np.full(timbre, np.sqrt((1.0 - share) / timbre)),
                                   np.full(shape, np.sqrt(share / shape))]).astype(np.float32)

        return {name: blend(share) for name, share in ASPECT_SHARES.items()}

    # -------------------------------------------------------------- features
    def _basis(self, sr: int) -> tuple:
        """Per rate: window and hop in samples, FFT length, taper, mel and DCT matrices.

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
            taper = np.hanning(n_window + 1)[:-1].astype(np.float32)
            norm = float(np.sum(taper**2)) * n_fft / n_window
            fmax = self.sr / 2.0 if self.fmax is None else self.fmax
            mel = mel_filterbank(sr, n_fft, self.n_mels, self.fmin, fmax) / norm
            used = np.flatnonzero(mel.any(axis=0))  # bins above fmax weigh nothing
            mel = mel[:, :used[-1] + 1 if len(used) else 1]
            dct = dct_matrix(max(self.n_mfcc, self.shape_mfcc + 1), self.n_mels)
            _BASES[key] = (n_window, hop, n_fft, taper, mel.T.copy(), dct.T.copy())
        return _BASES[key]

    def mfcc(self, samples: np.ndarray, sr: int) -> np.ndarray:
        """MFCC frames (time x coefficients) of mono ``samples`` at rate ``sr``.

        ``max(n_mfcc, shape_mfcc + 1)`` coefficients, the first being the mean level.
        """
        if sr > self.max_native_sr:
            samples, sr = resample(samples, sr, self.sr), self.sr
        n_window, hop, n_fft, taper, mel_t, dct_t = self._basis(sr)
        samples = np.asarray(samples, dtype=np.float32)
        samples = samples - samples.mean() if samples.size else samples  # drop DC offset
        if samples.size < n_window:
            samples = np.pad(samples, (0, n_window - samples.size))
        count = 1 + (samples.size - n_window) // hop  # frames, one every hop samples
        frames = np.lib.stride_tricks.as_strided(  # a read-only view, as sliding_window_view
            samples, (count, n_window), (hop * samples.strides[0], samples.strides[0]),
            writeable=False)
        from scipy.fft import rfft  # float32 FFTs, ~5x numpy's on short frames

        windowed = np.zeros((len(frames), n_fft), dtype=np.float32)  # zero-padded in place
        np.multiply(frames, taper, out=windowed[:, :n_window])
        spectrum = rfft(windowed, axis=1, overwrite_x=True)[:, :len(mel_t)]
        power = np.square(spectrum.real)
        power += np.square(spectrum.imag)
        bands = power @ mel_t
        log_bands = 10.0 * np.log10(np.maximum(bands, LOG_FLOOR))
        return log_bands @ dct_t

    def vector(self, samples: np.ndarray, sr: int) -> np.ndarray:
        """The pooled vector of decoded ``samples``: always finite, float32."""
        frames = self.mfcc(samples, sr)
        timbre = frames[:, :self.n_mfcc]
        weights = activity(frames, self.trim_db, self.n_mels)
        pooled = frame_stats(timbre, self.stats, weights) + frame_stats(timbre, self.whole_stats)
        if self.segments > 1:
            active = active_frames(frames, SHAPE_TRIM_DB, self.n_mels)
            pooled.append(time_shape(active[:, 1:self.shape_mfcc + 1], self.segments))
        vector = np.concatenate(pooled).astype(np.float32, copy=False)
        if not np.isfinite(vector).all():
            vector = np.nan_to_num(vector, nan=0.0, posinf=0.0, neginf=0.0)
        return vector
