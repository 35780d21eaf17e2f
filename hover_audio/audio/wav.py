"""A row's clip as bytes every browser plays: mono 16-bit PCM WAV of its range only.

The annotator never decodes audio itself; it asks this module for a row's clip by its
key and range. Recent clips are kept in memory so hovering back is instant.
"""
from __future__ import annotations

import io
from functools import lru_cache

import numpy as np

MAX_SECONDS = 30.0  # a longer clip plays its first 30 s
MAX_RATE = 32000  # enough for listening; keeps the bytes small


@lru_cache(maxsize=256)
def clip_wav(key: str, start: float | None = None, end: float | None = None,
             channel: int | None = None) -> bytes:
    """WAV bytes of the clip ``key`` (with its range and channel).

    Raises
    ------
    hover_audio.audio.sources.SourceError, hover_audio.audio.decode.DecodeError
        When the clip cannot be read; the message names the clip.
    """
    import soundfile

    from .decode import decode, resample
    from .sources import parse_key, read_source

    ref = parse_key(key, start, end, channel)
    audio = decode(read_source(ref), start=ref.start, end=ref.end, channel=ref.channel,
                   max_duration=MAX_SECONDS, name=key)
    samples, rate = audio.samples, audio.sr
    if rate > MAX_RATE:
        samples, rate = resample(samples, rate, MAX_RATE), MAX_RATE
    samples = np.clip(samples, -1.0, 1.0)
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def clip_seconds(key: str, start: float | None = None, end: float | None = None,
                 channel: int | None = None) -> float | None:
    """How long the clip ``key`` (with its range) is: its range, else its local file's
    length from the header (nothing decoded); None when neither says (a URL, a file
    that cannot be read)."""
    from .decode import probe
    from .sources import SourceError, parse_key

    try:
        ref = parse_key(key, start, end, channel)
    except SourceError:
        return None
    if ref.end is not None:
        return ref.end - (ref.start or 0.0)
    found = probe(ref.location)
    return None if found is None else max(0.0, found.duration - (ref.start or 0.0))

