"""What the clip panel draws: a clip's waveform envelope and mel spectrogram, in context.

Computed on the server from the same decoder as playback and vectors (ranges are
exact), sized for the panel (one column per pixel, at most), and cached per clip.
A range row is shown inside ``context`` seconds of its file either side; a whole
file is shown whole, up to ``max_seconds`` (a one-hour file is decoded once for its
first ``max_seconds``, then served from the cache).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...audio.decode import decode, probe
from ...audio.sources import local_path, parse_key, read_source
from ...vectors.features import hz_to_mel, mel_filterbank

FLOOR_DB = 80.0  # the spectrogram shows this many dB below its loudest cell
TICKS_HZ = (250, 500, 1000, 2000, 4000, 8000, 16000)


@dataclass(frozen=True)
class Overview:
    """A clip's pictures, in file time (seconds)."""

    key: str
    shown_from: float  # the window drawn: the range and its context
    shown_to: float
    start: float  # the clip's own range
    end: float
    sr: int
    envelope_min: np.ndarray  # (columns,) per pixel column
    envelope_max: np.ndarray
    mel_db: np.ndarray  # (n_mels, columns) dB, floored at max - FLOOR_DB
    mel_ticks: dict  # {band position: "1 kHz"} for the frequency axis
    truncated: bool  # a long whole file: only its first max_seconds are drawn
    channels: tuple = ()  # a stereo clip: ((min, max) of the left, (min, max) of the right)
    sampled: bool = False  # a long whole file: one short window read per column

    @property
    def low_db(self) -> float:
        return float(self.mel_db.min())

    @property
    def high_db(self) -> float:
        return float(self.mel_db.max())


def overview(key: str, start: float | None = None, end: float | None = None,
             channel: int | None = None, *, context: float = 2.0, columns: int = 600,
             n_mels: int = 64, max_seconds: float = 600.0) -> Overview:
    """The waveform envelope and mel spectrogram of a clip and ``context`` s around it.

    Raises the decoder's or source's error (``DecodeError``, ``SourceError``) when
    the clip cannot be read.

    Examples
    --------
    >>> view = overview("calls/a.wav#t=10,12.5")          # doctest: +SKIP
    >>> view.shown_from, view.start, view.end, view.shown_to  # doctest: +SKIP
    (8.0, 10.0, 12.5, 14.5)
    """
    ref = parse_key(key, start, end, channel)
    source = read_source(ref)
    whole = ref.start is None and ref.end is None
    begin = ref.start or 0.0
    header = probe(ref.location)  # one header read: length and channels (None: decode tells)
    finish = ref.end
    if finish is None and header is not None:
        finish = header.duration
    shown_from = 0.0 if whole else max(0.0, begin - context)
    shown_to = None if finish is None else (finish if whole else finish + context)
    limit = max_seconds if whole else None
    if whole and finish is not None and finish > max_seconds and isinstance(source, Path):
        try:  # an hour-long file: its overview from a window per column, not the hour
            return _sampled_overview(key, source, ref.channel, finish, columns, n_mels)
        except Exception:
            pass  # a format that cannot seek: its first max_seconds below
    audio = decode(source, start=shown_from or None, end=shown_to, channel=ref.channel,
                   max_duration=limit, name=key)
    samples, sr = audio.samples, audio.sr
    shown_to = shown_from + len(samples) / sr
    if finish is None or finish > shown_to:
        finish = shown_to
    envelope_min, envelope_max = envelope(samples, columns)
    mel_db, ticks = mel_picture(samples, sr, columns, n_mels)
    sides = ()
    if ref.channel is None and header is not None and header.channels == 2:  # left and right
        sides = tuple(envelope(decode(source, start=shown_from or None, end=shown_to,
                                      channel=side, max_duration=limit, name=key).samples,
                                  columns) for side in (0, 1))
    return Overview(key, shown_from, shown_to, begin, finish, sr, envelope_min, envelope_max,
                    mel_db, ticks, audio.truncated, sides)



def _sampled_overview(key: str, path: Path, channel, duration: float, columns: int,
                      n_mels: int, window: int = 2048) -> Overview:
    """The overview of a long file from ``columns`` windows read where they lie (seeking)."""
    import soundfile

    with soundfile.SoundFile(str(path)) as sound:
        sr, total = sound.samplerate, sound.frames
        if channel is not None and not 0 <= channel < sound.channels:
            raise ValueError(f"{key}: no channel {channel}")
        starts = np.clip(((np.arange(columns) + 0.5) * total / columns).astype(np.int64)
                         - window // 2, 0, max(0, total - window))
        frames = np.zeros((columns, window), dtype=np.float32)
        for at, first in enumerate(starts):
            sound.seek(int(first))
            block = sound.read(window, dtype="float32", always_2d=True)
            mono = block[:, channel] if channel is not None else block.mean(axis=1)
            frames[at, :len(mono)] = mono
    mel_db, ticks = mel_frames(frames, sr, n_mels)
    return Overview(key, 0.0, duration, 0.0, duration, sr, frames.min(axis=1),
                    frames.max(axis=1), mel_db, ticks, False, (), True)


def envelope(samples: np.ndarray, columns: int) -> tuple[np.ndarray, np.ndarray]:
    """Min and max of ``samples`` in each of ``columns`` equal blocks (fewer for short clips).

    Examples
    --------
    >>> envelope(np.array([0, 1, -1, 2], dtype=np.float32), 2)
    (array([ 0., -1.], dtype=float32), array([1., 2.], dtype=float32))
    """
    count = max(1, min(columns, len(samples)))
    edges = np.linspace(0, len(samples), count + 1).astype(np.int64)
    starts = edges[:-1]
    lows = np.minimum.reduceat(samples, starts) if len(samples) else np.zeros(1, np.float32)
    highs = np.maximum.reduceat(samples, starts) if len(samples) else np.zeros(1, np.float32)
    return lows.astype(np.float32), highs.astype(np.float32)


def mel_picture(samples: np.ndarray, sr: int, columns: int, n_mels: int = 64,
                floor_db: float = FLOOR_DB) -> tuple[np.ndarray, dict]:
    """A mel spectrogram in dB, ``(n_mels, <= columns)``, and frequency-axis ticks.

    One analysis window (about 40 ms, a power of two) per column, centred in it:
    a long clip is sampled, not averaged, so every column costs the same.
    """
    window = int(2 ** np.clip(np.round(np.log2(0.04 * sr)), 8, 12))
    count = max(1, min(columns, len(samples) // max(1, window // 4)))
    centres = ((np.arange(count) + 0.5) * len(samples) / count).astype(np.int64)
    padded = np.pad(samples, (window // 2, window // 2))
    frames = np.lib.stride_tricks.sliding_window_view(padded, window)[centres]
    return mel_frames(frames, sr, n_mels, floor_db)


def mel_frames(frames: np.ndarray, sr: int, n_mels: int = 64,
               floor_db: float = FLOOR_DB) -> tuple[np.ndarray, dict]:
    """The mel spectrogram in dB, ``(n_mels, len(frames))``, of windows (one per column)."""
    window = frames.shape[1]
    taper = np.hanning(window).astype(np.float32)
    from scipy.fft import rfft

    spectrum = rfft(frames * taper, axis=1)
    power = (spectrum.real ** 2 + spectrum.imag ** 2).astype(np.float32)
    fmax = sr / 2.0
    bands = power @ mel_filterbank(sr, window, n_mels, 20.0, fmax).T
    db = 10.0 * np.log10(np.maximum(bands, 1e-12))
    db = np.maximum(db, db.max() - floor_db).T.astype(np.float32)
    low, high = hz_to_mel(20.0), hz_to_mel(fmax)
    ticks = {}
    for hz in TICKS_HZ:
        if 20 < hz < fmax:
            position = float((hz_to_mel(hz) - low) / (high - low) * n_mels)
            ticks[round(position, 3)] = f"{hz // 1000} kHz" if hz >= 1000 else f"{hz} Hz"
    return db, ticks


class OverviewCache:
    """The last ``size`` overviews, shared by the sessions of a server (thread-safe)."""

    def __init__(self, size: int = 32):
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, start=None, end=None, channel=None, **options) -> Overview:
        stamp = _stamp(key)
        name = (key, start, end, channel, stamp, tuple(sorted(options.items())))
        with self._lock:
            if name in self._items:
                self._items.move_to_end(name)
                return self._items[name]
        view = overview(key, start, end, channel, **options)
        with self._lock:
            self._items[name] = view
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return view


def _stamp(key: str):
    """A local file's size and mtime: a changed file is drawn again."""
    try:
        path = local_path(parse_key(key).location)
        info = path.stat() if path is not None else None
    except Exception:
        return None
    return None if info is None else (info.st_size, info.st_mtime_ns)
