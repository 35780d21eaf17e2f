"""Cutting long recordings into clips: fixed windows or non-silent regions.

Each clip becomes a row whose ``audio`` key is its file plus a ``#t=START,END``
media fragment (which browsers honour when playing), with ``source``, ``start``
and ``end`` columns beside it.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from .schema import AUDIO, format_number

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
    import soundfile

    try:
        with soundfile.SoundFile(path) as sound:
            block = int(BLOCK_SECONDS * sound.samplerate)
            blocks = sound.blocks(blocksize=block, dtype="float32", always_2d=True)
            levels = frame_levels(blocks, sound.samplerate, frame)
            return levels, sound.frames / sound.samplerate
    except Exception:  # not a libsndfile format: decode it whole
        from .decode import decode

        audio = decode(path)
        return frame_levels([audio.samples], audio.sr, frame), len(audio.samples) / audio.sr


def duration_of(path: str | os.PathLike) -> float:
    """Length of an audio file in seconds (from its header when possible)."""
    import soundfile

    try:
        return float(soundfile.info(str(path)).duration)
    except Exception:
        from .decode import decode

        audio = decode(Path(path))
        return len(audio.samples) / audio.sr


def segment(table: pd.DataFrame, mode: str = "fixed", window: float = 5.0,
            hop: float | None = None, top_db: float = 35.0, min_duration: float = 0.1
            ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Replace each row of ``table`` (one file per row) by one row per clip of it.

    Parameters
    ----------
    mode
        "fixed": windows of ``window`` s every ``hop`` s; "nonsilent": the regions
        louder than ``top_db`` dB below the file's peak.
    Returns
    -------
    (clips, report)
        ``clips`` keeps every column of ``table`` and adds ``source``, ``start``,
        ``end``; ``report`` lists files that could not be read (key, kind, message).
    """
    if mode not in ("fixed", "nonsilent"):
        raise ValueError(f"segment mode must be 'fixed' or 'nonsilent', got {mode!r}")
    rows, problems = [], []
    for _, row in table.iterrows():
        path = Path(row[AUDIO])
        try:
            if mode == "fixed":
                spans = fixed_windows(duration_of(path), window, hop, min_duration)
            else:
                levels, _ = _levels_of(path, 0.02)
                spans = nonsilent_regions(levels, 0.02, top_db, min_duration)
        except Exception as error:  # one unreadable file never stops the others
            problems.append((row[AUDIO], getattr(error, "kind", "decode"), str(error)))
            continue
        for start, end in spans:
            clip = row.to_dict()
            clip.update({AUDIO: f"{path}#t={format_number(start)},{format_number(end)}",
                         "source": str(path), "start": start, "end": end})
            rows.append(clip)
    columns = list(table.columns) + ["source", "start", "end"]
    report = pd.DataFrame(problems, columns=["key", "kind", "message"])
    return pd.DataFrame(rows, columns=columns), report
