"""Small pure functions over arrays that the built-in vectorizers are built of.

Filterbanks (mel, DCT, pitch classes) and the pooling of frame features into the
blocks of a vector; :mod:`~hover_audio.vectors.mfcc` (the default) and
:mod:`~hover_audio.vectors.pitch` put them together.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

PITCH_RANGE = (80.0, 5000.0)  # Hz: a low guitar E to the harmonics that still name a note
PITCH_FLOOR = 1e-3  # of a clip's pitch-class shares, before the log


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


def hann(size: int) -> np.ndarray:
    """The periodic Hann window of ``size`` samples (the taper of overlapping frames), float32."""
    return np.hanning(size + 1)[:-1].astype(np.float32)


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


class Banded:
    """A filterbank (inputs x outputs) whose outputs each take a narrow band of inputs,
    applied as two dense products over the inputs each half of the outputs takes.

    Mel filters at 16 kHz take 3% of the entries of the full matrix; split where the
    two parts cover the fewest entries (about half), the product takes half the time.
    Outputs no input reaches are zero.

    Examples
    --------
    >>> bank = mel_filterbank(16000, 400, 64, 20.0, 11025.0).T
    >>> power = np.random.default_rng(0).random((50, 201), dtype=np.float32)
    >>> bool(np.allclose(Banded(bank).product(power), power @ bank, rtol=1e-5))
    True
    """

    def __init__(self, weights: np.ndarray):
        self.shape = weights.shape
        used = np.flatnonzero(weights.any(axis=0))
        self.parts = []
        if not len(used):
            return

        def span(columns):
            rows = np.flatnonzero(weights[:, columns].any(axis=1))
            return rows[0], rows[-1] + 1

        def cost(split):
            return sum((last - first) * len(columns) for columns in (used[:split], used[split:])
                       if len(columns) for first, last in [span(columns)])

        split = min(range(1, len(used) + 1), key=cost)
        for columns in (used[:split], used[split:]):
            if len(columns):
                first, last = span(columns)
                start, stop = columns[0], columns[-1] + 1
                self.parts.append((start, stop, first, last,
                                   np.ascontiguousarray(weights[first:last, start:stop])))

    def product(self, inputs: np.ndarray) -> np.ndarray:
        """``inputs @ weights`` (rows x outputs, float32)."""
        out = np.zeros((len(inputs), self.shape[1]), dtype=np.float32)
        for start, stop, first, last, part in self.parts:
            np.matmul(inputs[:, first:last], part, out=out[:, start:stop])
        return out


def dct_matrix(n_mfcc: int, n_mels: int) -> np.ndarray:
    """Orthonormal DCT-II basis, shape ``(n_mfcc, n_mels)``."""
    k = np.arange(n_mfcc)[:, None]
    n = np.arange(n_mels)[None, :]
    basis = np.cos(np.pi / n_mels * (n + 0.5) * k) * np.sqrt(2.0 / n_mels)
    basis[0] /= np.sqrt(2.0)
    return basis.astype(np.float32)


def chroma_filterbank(sr: int, n_fft: int, fmin: float = PITCH_RANGE[0],
                      fmax: float = PITCH_RANGE[1]) -> np.ndarray:
    """Weights of each FFT bin in the 12 pitch classes (C, C#, ... B), ``(bins, 12)``.

    A bin between ``fmin`` and ``fmax`` (and below ``sr / 2``) is shared between
    the two pitch classes nearest its frequency (equal temperament, A = 440 Hz),
    in proportion to how near it is to each; other bins weigh nothing.

    Examples
    --------
    >>> bank = chroma_filterbank(8000, 8000)  # 1 Hz bins
    >>> int(np.argmax(bank[440])), float(bank[440].sum())  # A4 is all "A"
    (9, 1.0)
    """
    freqs = np.arange(n_fft // 2 + 1) * (sr / n_fft)
    bank = np.zeros((len(freqs), 12), dtype=np.float32)
    rows = np.flatnonzero((freqs >= fmin) & (freqs <= min(fmax, sr / 2)))
    semitones = 12.0 * np.log2(freqs[rows] / 440.0) + 9.0  # 0 = C
    below = np.floor(semitones)
    above_share = (semitones - below).astype(np.float32)
    np.add.at(bank, (rows, below.astype(int) % 12), 1.0 - above_share)
    np.add.at(bank, (rows, (below.astype(int) + 1) % 12), above_share)
    return bank


def pitch_classes(samples: np.ndarray, taper: np.ndarray, bank: np.ndarray,
                  most: int) -> np.ndarray:
    """The log share of a clip's energy in each pitch class (12 values).

    ``samples`` are cut in non-overlapping windows of ``len(taper)`` samples (the
    last one zero-padded; at most ``most`` of them, evenly spread, so one long file
    costs no more than a few seconds of audio); each is tapered, and its power
    spectrum (zero-padded to the even FFT length ``bank`` is for, see
    :func:`chroma_filterbank`) summed into the pitch classes. Loud windows count
    most; silence gives equal shares.
    """
    size = len(taper)
    count = max(1, -(-samples.size // size))
    if count <= most:
        windows = np.zeros(count * size, dtype=np.float32)
        windows[:samples.size] = samples
        windows = windows.reshape(count, size)
    else:
        windows = np.zeros((most, size), dtype=np.float32)
        for row, at in enumerate(np.linspace(0, count - 1, most).round().astype(int)):
            part = samples[at * size:(at + 1) * size]
            windows[row, :len(part)] = part
    windows *= taper
    from scipy.fft import rfft

    spectrum = rfft(windows, n=2 * (len(bank) - 1), axis=1, overwrite_x=True)  # zero-padded
    power = np.square(spectrum.real)
    power += np.square(spectrum.imag)
    energy = power.sum(axis=0) @ bank
    total = float(energy.sum())
    shares = energy / total if total > 0 else np.full(12, 1.0 / 12, dtype=np.float32)
    return np.log(shares + PITCH_FLOOR).astype(np.float32)


NOISE_FRAMES = 1024  # above_noise: frames estimating the noise of a long file, at least


def above_noise(levels: np.ndarray, floor_db: float, *, range_db: float = 60.0,
                quantile: float = 0.1) -> np.ndarray:
    """Band levels in dB (time x bands) raised to a floor: ``floor_db`` above each band's
    noise, and no lower than ``range_db`` below the loudest band of any frame.

    A band's noise is its ``quantile`` over the frames (the level of the quietest
    tenth: the pauses and padding of a short clip, the room of a long one). In a
    quiet part the noise draws the spectrum, and its level changes from one
    recording to the next; raised to a common floor above it, and below the sound
    to a common depth, quiet parts look alike whatever the noise (a simple
    stand-in for spectral subtraction, which leaves holes where the noise estimate
    overshoots). Tuned on real speech read by several speakers
    (benchmarks/bench_vectors.py). Fewer than 5 frames are left as they are; of
    ``2 * NOISE_FRAMES`` or more, every n-th frame estimates the noise (a long file
    costs no more than a short one).

    Examples
    --------
    >>> levels = np.array([[0.0], [0.0], [3.0], [20.0], [0.0], [17.0]], dtype=np.float32)
    >>> above_noise(levels, 10.0).ravel()  # noise at 0 dB: nothing below 10 dB
    array([10., 10., 10., 20., 10., 17.], dtype=float32)
    >>> above_noise(levels, 10.0, range_db=6.0).ravel()  # nor 6 dB under the loudest
    array([14., 14., 14., 20., 14., 17.], dtype=float32)
    """
    if len(levels) < 5:
        return levels
    sample = levels[::max(1, len(levels) // NOISE_FRAMES)]
    k = int(quantile * (len(sample) - 1))
    floor = np.sort(sample, axis=0)[k]  # (on these sizes faster than np.partition)
    floor += np.float32(floor_db)
    np.maximum(floor, np.float32(levels.max() - range_db), out=floor)
    return np.maximum(levels, floor)


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
    level = frames[:, 0]  # sqrt(n_mels) x the mean log-mel level of each frame, in dB
    scale = float(np.sqrt(n_mels))
    weights = np.exp((level.max() - floor_db * scale - level) / (2.0 * scale))
    weights += 1.0
    return np.reciprocal(weights, out=weights)


def frame_stats(frames: np.ndarray, stats: Sequence[str],
                weights: np.ndarray | None = None) -> list[np.ndarray]:
    """Per-coefficient statistics over frames (time x coefficients), optionally weighted.

    "mean" and "std" use ``weights``; "min" and "max" use the frames weighing at
    least 0.5; "delta" is the mean absolute frame-to-frame change (how fast the
    sound moves), weighted by the later frame.

    Examples
    --------
    >>> frames = np.array([[0.0], [2.0], [4.0]], dtype=np.float32)
    >>> [float(x[0]) for x in frame_stats(frames, ("mean", "std", "delta"))]
    [2.0, 1.632993221282959, 2.0]
    """
    if weights is None:  # every frame alike (products with a weight vector: ~3x np.mean's speed)
        w = np.full(len(frames), 1.0 / max(len(frames), 1), dtype=np.float32)
    else:
        w = weights.astype(np.float32)
        w /= max(float(w.sum()), 1e-9)
    mean = w @ frames
    out = []
    for name in stats:
        if name == "mean":
            out.append(mean)
        elif name == "std":
            spread = frames - mean
            spread *= spread
            out.append(np.sqrt(np.maximum(w @ spread, 0.0)))
        elif name in ("min", "max"):
            kept = frames[w >= 0.5 * w.max()]
            out.append(kept.min(axis=0) if name == "min" else kept.max(axis=0))
        elif len(frames) < 2:  # delta of one frame
            out.append(np.zeros(frames.shape[1], np.float32))
        else:  # delta
            later = w[1:] / max(float(w[1:].sum()), 1e-9)
            out.append(later @ np.abs(frames[1:] - frames[:-1]))
    return out


_CENTRES: dict[tuple[int, float], tuple] = {}  # warped_shape's points and sharpness


def warped_shape(frames: np.ndarray, segments: int, *, spread: float = 0.5) -> np.ndarray:
    """The mean of ``frames`` around ``segments`` points of the sound's own time,
    relative to the overall mean.

    The coarse time order that whole-clip statistics lose (what tells "one" from
    "nine", or a swell from a hit). Time is measured by how far the sound has
    moved (the running sum of the absolute change from frame to frame), not by the
    clock: the frames of a held vowel or a slow attack, which barely move, take
    little of that time, so the same word said at another pace lines up much more
    closely than by the clock (a cheap stand-in for dynamic time warping; frames
    still count by their number in the means). The points sit in the middle of
    ``segments`` equal parts of that time; each frame counts for each point by a
    Gaussian of its distance from it, ``spread`` parts wide (small: nearly hard
    parts). A sound that does not move at all is cut by the clock. Fewer frames
    than parts give zeros.

    Examples
    --------
    >>> ramp = np.arange(8, dtype=np.float32)[:, None]  # moving evenly: about the clock's parts
    >>> warped_shape(ramp, 2, spread=0.1)
    array([-1.6...,  1.6...], dtype=float32)
    """
    count, width = frames.shape
    if count < max(segments, 2):  # (one part: the mean less itself)
        return np.zeros(segments * width, dtype=np.float32)
    frames = frames.astype(np.float32, copy=False)
    found = _CENTRES.get((segments, spread))
    if found is None:
        sharpness = segments / spread / math.sqrt(2.0)  # exp(-(distance x this)^2)
        centres = ((np.arange(segments) + 0.5) / segments * sharpness).astype(np.float32)
        found = _CENTRES[(segments, spread)] = (centres, float(np.float32(sharpness)))
    centres, sharpness = found
    # (products with vectors of ones: a third of the time of .sum on small arrays)
    change = frames[1:] - frames[:-1]
    steps = np.abs(change, out=change) @ _ones(width)
    moved = np.cumsum(steps)
    where = np.zeros(count, dtype=np.float32)  # each frame's place in [0, 1] x sharpness:
    total = float(moved[-1])  # how far the sound has moved when it comes
    if total > 0:
        np.multiply(moved, np.float32(sharpness / total), out=where[1:])
    else:
        where[:] = np.arange(count, dtype=np.float32) * np.float32(sharpness / (count - 1))
    weights = np.subtract.outer(centres, where)
    np.square(weights, out=weights)
    np.negative(weights, out=weights)
    np.exp(weights, out=weights)
    shape = weights @ frames
    ones = np.ones(count, dtype=np.float32)
    shape /= (weights @ ones)[:, None]
    shape -= ones @ frames / np.float32(count)
    return shape.ravel()


_ONES: dict[int, np.ndarray] = {}  # _ones: by width (a few sizes per process)


def _ones(size: int) -> np.ndarray:
    """A read-only float32 vector of ``size`` ones, made once per size (for the few
    widths of frames; not for counts of frames, which are many)."""
    ones = _ONES.get(size)
    if ones is None:
        ones = _ONES[size] = np.ones(size, dtype=np.float32)
        ones.flags.writeable = False
    return ones


ENVELOPE_DIM = 3


def envelope(samples: np.ndarray, sr: int, *, hop: float = 0.005,
             floor_db: float = 40.0) -> np.ndarray:
    """How a sound's loudness rises and falls, as 3 numbers.

    Levels of ``hop``-second blocks of ``samples``; of the part within ``floor_db``
    of the loudest block: the attack (time from its start to the peak), the decay
    (from the peak until 20 dB below it, or to the end) and its length, each in dB
    of seconds (10 log10 t: a click and a swell differ by tens). It tells a snare
    from a cymbal or a kick from a tom where their spectra alone do not, and the
    MFCC frames (25 ms, every 10 ms) blur it. (The energy's centre in time and the
    share held near the peak, once here too, added nothing on the real sets.)
    Fewer than two blocks give zeros.

    Examples
    --------
    >>> sr = 1000
    >>> hit = np.exp(-np.arange(sr) / 50.0) * np.sign(np.sin(np.arange(sr)))  # fast decay
    >>> np.round(envelope(hit.astype(np.float32), sr), 1)
    array([-20. ,  -9.1,  -6.2], dtype=float32)
    """
    size = max(1, int(round(hop * sr)))
    count = len(samples) // size
    if count < 2:
        return np.zeros(ENVELOPE_DIM, dtype=np.float32)
    blocks = samples[:count * size].reshape(count, size)
    power = np.einsum("ij,ij->i", blocks, blocks)  # sums of squares: only ratios count
    peak = int(power.argmax())
    top = float(power[peak])
    if not top > 0.0:  # silence: every block as loud as the loudest
        power, top = np.ones(count, dtype=np.float32), 1.0
    # levels compared as power ratios (no logarithm of every block: ~4x faster)
    loud = np.flatnonzero(power >= top * 10.0 ** (-floor_db / 10.0))
    first, last = int(loud[0]), int(loud[-1])
    fallen = power[peak:] < top * 0.01  # 20 dB down
    decay = int(fallen.argmax())
    decay = decay if fallen[decay] else count - peak
    seconds = size / sr
    return np.array([10.0 * math.log10((peak - first + 1) * seconds),
                     10.0 * math.log10((decay + 0.5) * seconds),
                     10.0 * math.log10((last - first + 1) * seconds)], dtype=np.float32)
