"""Ranges of MP4-family files (M4A, AAC in MP4, 3GP, MOV) decoded in this process.

libsndfile does not read these formats; the ffmpeg program did, one run per range:
about 55 ms to start it, for a 5 s range that PyAV (ffmpeg's own libraries, already
used for whole files by :func:`~hover_audio.audio.whole_file.read_with_av`) decodes in
3 ms. A range is read by seeking to half a second before its start and decoding from
there: the decoder's first frames after a seek are not yet right (AAC overlaps each
frame with the one before), and those are thrown away with the rest of the lead-in.
The ffmpeg program does not pre-roll, so its first ~2048 samples of an AAC range
differed from a whole decode; here they are as close to it as the rest of the range.
(Not always equal to the bit: AAC's noise substitution draws from a random generator,
so decoders started at different points differ in those bands, by up to 0.2 on a
real recording, as the program's ranges did.)

Only streams whose timestamps count samples (time base 1/sample rate, as MP4 audio
tracks have) are read, and each frame is placed by its timestamp, as ffmpeg's own
seeking does. Where a file's timestamps drift from its count of samples, ranges far
into it are off a whole decode by that drift, as the program's were (a 4.5-minute AAC
file written by ffmpeg: its timestamps gain one sample twice, so a range after 93 s is
one sample early). For anything else (Matroska's millisecond timestamps, raw ADTS or
AMR without an index, a failed seek) :func:`read_range_with_av` returns None and the
program decodes the range as before.
"""
from __future__ import annotations

import io
import itertools
from fractions import Fraction
from pathlib import Path

import numpy as np

from .whole_file import Frames

PREROLL_S = 0.5  # decoded and dropped before a range's start
MP4_FAMILY = "mov,mp4,m4a,3gp,3g2,mj2"  # libavformat's name for the MP4 demuxer


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
    try:
        import av
    except ImportError:  # pragma: no cover - a dependency; the program still decodes
        return None
    try:
        handle = str(source) if isinstance(source, Path) else io.BytesIO(source)
        with av.open(handle, mode="r") as container:
            if container.format.name != MP4_FAMILY or not container.streams.audio:
                return None
            stream = container.streams.audio[0]
            sr = stream.codec_context.sample_rate
            if not sr or stream.time_base != Fraction(1, sr):
                return None
            return _read(container, stream, sr, start or 0.0, end, max_duration, av)
    except Exception:  # noqa: BLE001 - anything PyAV cannot do, the program is asked to
        return None


def _read(container, stream, sr: int, start: float, end: float | None,
          max_duration: float | None, av) -> tuple[Frames, bool] | None:
    first = int(round(start * sr))
    last = None if end is None else int(round(end * sr))
    cap = None if max_duration is None else int(max_duration * sr)
    if cap is not None and (last is None or last - first > cap):
        last_kept, cut = first + cap, True  # stop at the cap; truncated if anything is left
    else:
        last_kept, cut = last, False
    if start > PREROLL_S:
        container.seek(int((start - PREROLL_S) * sr), stream=stream, backward=True)
    to_float = av.AudioResampler(format="fltp")  # planar float; rate and layout kept
    parts, position, beyond = [], None, False
    for frame in itertools.chain(container.decode(stream), [None]):
        if frame is not None and frame.pts is None:
            return None
        for out in to_float.resample(frame):
            if position is None:
                position = int(frame.pts) if frame is not None else first
                if position > first:
                    return None  # the seek landed after the start
            data = out.to_ndarray()
            stop = data.shape[1] if last_kept is None else min(last_kept - position, data.shape[1])
            begin = max(first - position, 0)
            if stop > begin:
                parts.append(data[:, begin:stop])
            beyond = beyond or (last_kept is not None and position + data.shape[1] > last_kept)
            position += data.shape[1]
        if last_kept is not None and position > last_kept:
            break
    if not parts:
        return None
    frames = np.concatenate(parts, axis=1).T
    return Frames(np.ascontiguousarray(frames, dtype=np.float32), sr, 1.0), cut and beyond
