"""Cutting long recordings into clips: fixed windows or non-silent regions.

The functions here work on one file or on arrays of levels and return
``(start, end)`` spans in seconds; turning spans into table rows (``#t=`` keys)
is the dataset's job (``hover_audio.dataset.folder.segment_table``).
"""
from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Iterable

import numpy as np

from .av_read import blocks_with_av
from .decode import decode, length_guessed, probe

BLOCK_SECONDS = 30.0


def fixed_windows(duration: float, window: float, hop: float | None = None,
                  min_duration: float = 0.0) -> list[tuple[float, float]]:
    """``(start, end)`` windows of ``window`` s every ``hop`` s (default: no overlap).

    The last window is cut at ``duration``; one shorter than ``min_duration`` is
    dropped (unless it is the only one).
    """
    if window <= 0 or (hop is not None and hop <= 0):
        raise ValueError(f"window and hop must be positive, got {window!r}, {hop!r}")
    hop = window if hop is None else hop
    spans: list[tuple[float, float]] = []
    if duration <= 0:
        return spans
    step = 0
    while True:
        start = round(step * hop, 6)  # from the step count: no float drift
        if start >= duration and step:
            break
        end = round(min(start + window, duration), 6)
        if end - start >= min_duration - 1e-9 or not spans:
            spans.append((start, end))
        if end >= duration:
            break
        step += 1
    return spans


def frame_levels(blocks: Iterable[np.ndarray], sr: int, frame: float = 0.02) -> np.ndarray:
    """RMS level in dB of consecutive ``frame``-second frames of a stream of blocks."""
    size = max(1, int(round(frame * sr)))
    levels, carry = [], np.zeros(0, dtype=np.float32)
    for block in blocks:
        block = block.mean(axis=1) if block.ndim == 2 else block
        data = np.concatenate([carry, block.astype(np.float32)])
        whole = len(data) // size * size
        if whole:
            frames = data[:whole].reshape(-1, size)
            levels.append(np.sqrt(np.mean(frames**2, axis=1)))
        carry = data[whole:]
    if carry.size:
        levels.append(np.sqrt(np.mean(carry**2, keepdims=True)))
    rms = np.concatenate(levels) if levels else np.zeros(0)
    return 20 * np.log10(np.maximum(rms, 1e-10))


def nonsilent_regions(levels: np.ndarray, frame: float = 0.02, top_db: float = 35.0,
                      min_duration: float = 0.1, merge_gap: float = 0.25,
                      pad: float = 0.05) -> list[tuple[float, float]]:
    """``(start, end)`` of the regions louder than ``top_db`` below the peak level."""
    if levels.size == 0 or levels.max() <= -199:
        return []
    loud = levels > levels.max() - top_db
    edges = np.flatnonzero(np.diff(np.concatenate([[0], loud.astype(int), [0]])))
    total = len(levels) * frame
    regions: list[list[float]] = []
    for begin, stop in zip(edges[::2], edges[1::2]):
        start, end = begin * frame, stop * frame
        if regions and start - regions[-1][1] <= merge_gap:
            regions[-1][1] = end
        else:
            regions.append([start, end])
    return [(round(max(0.0, s - pad), 6), round(min(total, e + pad), 6))
            for s, e in regions if e - s >= min_duration]


def _levels_of(path: Path, frame: float) -> tuple[np.ndarray, float]:
    """Frame levels and seconds of a whole file, read block by block: by libsndfile, or
    PyAV where libsndfile does not read it (or guesses an MP3's length); decoded whole
    only where neither does."""
    import soundfile

    try:
        sound = soundfile.SoundFile(path)
    except Exception:  # not a libsndfile format
        sound = None
    if sound is not None and not length_guessed(sound.format, path):
        try:
            with sound:
                block = int(BLOCK_SECONDS * sound.samplerate)
                blocks = sound.blocks(blocksize=block, dtype="float32", always_2d=True)
                return (frame_levels(blocks, sound.samplerate, frame),
                        sound.frames / sound.samplerate)
        except Exception:  # damaged on the way: PyAV, or decode says what is wrong
            pass
    elif sound is not None:
        sound.close()
    stream = blocks_with_av(path)
    first = next(stream, None)
    if first is None:  # PyAV does not read it either: decode says what is wrong, or the program
        audio = decode(path)
        return frame_levels([audio.samples], audio.sr, frame), len(audio.samples) / audio.sr
    sr, counted = first[0], 0

    def counting():
        nonlocal counted
        for _, block in itertools.chain([first], stream):
            counted += len(block)
            yield block

    levels = frame_levels(counting(), sr, frame)
    return levels, counted / sr


def duration_of(path: str | os.PathLike) -> float:
    """Length of an audio file in seconds (from its header when possible)."""
    found = probe(path)
    if found is not None:
        return found.duration
    audio = decode(Path(path))
    return len(audio.samples) / audio.sr


SEGMENT_MODES = ("fixed", "nonsilent")


def spans(path: str | os.PathLike, mode: str = "fixed", window: float = 5.0,
          hop: float | None = None, top_db: float = 35.0, min_duration: float = 0.1
          ) -> list[tuple[float, float]]:
    """The clips of one audio file as ``(start, end)`` seconds.

    Parameters
    ----------
    mode
        "fixed": windows of ``window`` s every ``hop`` s (a file shorter than a
        window is one clip); "nonsilent": the regions louder than ``top_db`` dB
        below the file's peak, each at least ``min_duration`` s. A file with no such
        region (a one-shot shorter than ``min_duration``, or silence) is one clip, the
        whole file, as a short file is in "fixed" mode. Only a file with no samples
        has no clips.

    Raises
    ------
    ValueError
        For an unknown ``mode``; errors of :func:`~hover_audio.audio.decode.decode`
        when the file cannot be read.

    Examples
    --------
    >>> spans("long.wav", window=5.0)  # doctest: +SKIP
    [(0.0, 5.0), (5.0, 10.0), (10.0, 12.3)]
    """
    if mode not in SEGMENT_MODES:
        raise ValueError(f"segment mode must be 'fixed' or 'nonsilent', got {mode!r}")
    path = Path(path)
    if mode == "fixed":
        return fixed_windows(duration_of(path), window, hop, min_duration)
    levels, seconds = _levels_of(path, 0.02)
    found = nonsilent_regions(levels, 0.02, top_db, min_duration)
    end = round(seconds, 6)
    if not found and seconds > 0:  # a short one-shot is a clip; silence is one too
        return [(0.0, end)]
    return [(start, min(stop, end)) for start, stop in found]  # the last frame may be short
