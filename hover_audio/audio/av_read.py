"""Files libsndfile does not read (AAC/M4A, AMR, WMA, ...) decoded in this process by
PyAV, ffmpeg's own libraries, instead of starting the ffmpeg program (~55-65 ms each).

:func:`read_with_av` takes a whole file: the program's samples, in about 2 ms for a
short clip. :func:`read_range_with_av` takes a range of an MP4-family file (M4A, AAC
in MP4, 3GP, MOV): a 5 s range in 3 ms. Both return None for what they do not take,
and the program then decodes it (the cap, other ranges) or says what is wrong.

A range is read by seeking to half a second before its start and decoding from
there: the decoder's first frames after a seek are not yet right (AAC overlaps each
frame with the one before), and those are thrown away with the rest of the lead-in.
The ffmpeg program does not pre-roll, so its first ~2048 samples of an AAC range
differed from a whole decode; here they are as close to it as the rest of the range.
(Not always equal to the bit: AAC's noise substitution draws from a random generator,
so decoders started at different points differ in those bands, by up to 0.2 on a
real recording, as the program's ranges did.)

Only streams whose timestamps count samples (time base 1/sample rate, as MP4 audio
tracks have) are read by range, and each frame is placed by its timestamp, as
ffmpeg's own seeking does. Where a file's timestamps drift from its count of samples,
ranges far into it are off a whole decode by that drift, as the program's were (a
4.5-minute AAC file written by ffmpeg: its timestamps gain one sample twice, so a
range after 93 s is one sample early). Anything else (Matroska's millisecond
timestamps, raw ADTS or AMR without an index, a failed seek) goes to the program.
"""
from __future__ import annotations

import io
import itertools
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import numpy as np

from .whole_file import Frames, _over

PREROLL_S = 0.5  # decoded and dropped before a range's start
MP4_FAMILY = "mov,mp4,m4a,3gp,3g2,mj2"  # libavformat's name for the MP4 demuxer


def read_with_av(source: Path | bytes, max_duration: float | None) -> Frames | None:
    """The float frames of a whole file (a path, or its bytes); None: PyAV missing, no
    audio stream it decodes, or longer than ``max_duration`` (the program then decodes
    just the capped start)."""
    parts, count = [], 0
    with _opened(source) as opened:
        if opened is None:
            return None
        container, stream, sr = opened
        known = container.duration  # microseconds, when the container says
        if known is not None and _over(known * sr // 1_000_000, sr, max_duration):
            return None
        # frame by frame, so that a file longer than its header said stops at the cap
        # instead of being held whole
        for _, block in _blocks(container, stream):
            parts.append(block)
            count += block.shape[1]
            if _over(count, sr, max_duration):
                return None
        return _frames(parts, sr)
    return None  # PyAV failed while decoding


def read_range_with_av(source: Path | bytes, start: float | None, end: float | None,
                       max_duration: float | None) -> tuple[Frames, bool] | None:
    """The float frames of ``[start, end)`` seconds of an MP4-family file (a path, or its
    bytes) and whether ``max_duration`` cut them; None when this reader does not apply
    (see above) or the range holds no samples (the program then says why).

    Examples
    --------
    >>> read_range_with_av(Path("talk.m4a"), 60.0, 65.0, None)  # doctest: +SKIP
    (Frames(frames=array(...), sr=16000, scale=1.0), False)
    """
    with _opened(source) as opened:
        if opened is None:
            return None
        container, stream, sr = opened
        if container.format.name != MP4_FAMILY or stream.time_base != Fraction(1, sr):
            return None
        return _read_range(container, stream, sr, start or 0.0, end, max_duration)
    return None  # PyAV failed while decoding


@contextmanager
def _opened(source: Path | bytes):
    """``(container, first audio stream, its rate)`` open for the block, or None where
    PyAV is missing or cannot open it; anything PyAV raises inside the block ends it
    quietly (the caller's code after the block runs: None for the program)."""
    try:
        import av

        container = av.open(str(source) if isinstance(source, Path) else io.BytesIO(source),
                            mode="r")
    except Exception:  # noqa: BLE001 - PyAV missing (a dependency) or no file it opens
        yield None
        return
    with container:
        try:
            audio = container.streams.audio
            sr = audio[0].codec_context.sample_rate if audio else 0
        except Exception:  # noqa: BLE001 - streams PyAV cannot describe
            sr = 0
        try:
            yield (container, audio[0], sr) if sr else None
        except Exception:  # noqa: BLE001 - anything PyAV cannot do, the program is asked to
            return


def _blocks(container, stream):
    """``(frame, planar float block)`` of each decoded frame; the converter is flushed at
    the end (frame None)."""
    import av

    to_float = av.AudioResampler(format="fltp")  # planar float; rate and layout kept
    for frame in itertools.chain(container.decode(stream), [None]):
        for out in to_float.resample(frame):
            yield frame, out.to_ndarray()


def _frames(parts: list[np.ndarray], sr: int) -> Frames | None:
    """The planar float blocks as frames x channels, or None for no blocks."""
    return Frames(np.concatenate(parts, axis=1).T, sr, 1.0) if parts else None


def _read_range(container, stream, sr: int, start: float, end: float | None,
                max_duration: float | None) -> tuple[Frames, bool] | None:
    first = int(round(start * sr))
    last = None if end is None else int(round(end * sr))
    cap = None if max_duration is None else int(max_duration * sr)
    if cap is not None and (last is None or last - first > cap):
        last_kept, cut = first + cap, True  # stop at the cap; truncated if anything is left
    else:
        last_kept, cut = last, False
    if start > PREROLL_S:
        container.seek(int((start - PREROLL_S) * sr), stream=stream, backward=True)
    parts, position, beyond = [], None, False
    for frame, block in _blocks(container, stream):
        if frame is not None and frame.pts is None:
            return None
        if position is None:
            position = int(frame.pts) if frame is not None else first
            if position > first:
                return None  # the seek landed after the start
        size = block.shape[1]
        stop = size if last_kept is None else min(last_kept - position, size)
        begin = max(first - position, 0)
        if stop > begin:
            parts.append(block[:, begin:stop])
        beyond = beyond or (last_kept is not None and position + size > last_kept)
        position += size
        if last_kept is not None and position > last_kept:
            break
    frames = _frames(parts, sr)
    return None if frames is None else (frames, cut and beyond)
