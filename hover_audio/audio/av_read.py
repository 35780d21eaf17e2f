"""Files libsndfile does not read (AAC/M4A, AMR, WMA, WebM, ...), and ranges of lossy
files, decoded in this process by PyAV, ffmpeg's own libraries, instead of starting
the ffmpeg program (~55-65 ms each).

:func:`read_with_av` takes a whole file: the program's samples, in about 2 ms for a
short clip. :func:`read_range_with_av` takes a range of an MP4-family file (M4A, AAC
in MP4, 3GP, MOV), an MP3, an Ogg file (Vorbis, Opus, FLAC) or Opus in WebM/Matroska:
a 5 s range in 3-20 ms. Both return None for what they do not take, and the program
then decodes it (the cap, other ranges) or says what is wrong.

A range is read by seeking to half a second before its start and decoding from
there: a decoder's first frames after a seek are not yet right (AAC and MP3 overlap
each frame with the one before, Opus predicts from the past), and those are thrown
away with the rest of the lead-in. The ffmpeg program does not pre-roll, so the first
~1,000-2,000 samples of its MP3 and AAC ranges differed from a whole decode; here they
are as close to it as the rest of the range. (Not always equal to the bit: AAC's noise
substitution draws from a random generator, so decoders started at different points
differ in those bands, by up to 0.2 on a real recording, as the program's ranges did.)

Where a range starts comes from the frames' timestamps, read only where they name whole
samples (:func:`_placement`): MP4 (time base 1/rate), Ogg (granule positions), MP3,
and Opus in Matroska, whose millisecond timestamps fall between samples but whose
frames start on a 2.5 ms grid. The frames decoded from the seek on vote: each one's
timestamp minus the samples before it in this decode gives where the first one sits
in a whole decode, and most agree; the few that do not are estimates (ffmpeg's Ogg
demuxer guesses the first Vorbis packets after a seek and those at a block-size
change, up to 448 samples off, and the program's ranges were off by as much there).
In Vorbis music with many short blocks such a guess can last a whole page and win the
vote (29 of 6,212 short ranges of one real music file were 448 samples off), so
``decode`` reads Ogg Vorbis ranges in the first two minutes from the file's start
instead; further in, the vote did better than the program: 0 of 97 ranges of four real
music files misplaced, against the program's 29. Ogg Opus ranges are decoded by
libopus, as libsndfile decodes the whole files (:func:`_libopus_for_ogg`): ffmpeg's own
Opus decoder put the SILK-coded speech of 190 real Opus files 1-2 samples later.
Where a file's timestamps drift from its count of samples, ranges far into it follow
the timestamps, as players and the program do (a 4.5-minute AAC file written by
ffmpeg: its timestamps gain one sample twice, so a range after 93 s is one sample
early against a whole decode). Anything else (Vorbis in Matroska, raw ADTS or AMR
without an index, a failed seek) goes to the program.
"""
from __future__ import annotations

import io
import itertools
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

from .whole_file import Frames, over_cap

PREROLL_S = 0.5  # decoded and dropped before a range's start
MARGIN = 0.25  # seconds decoded past a range's end, for the timestamps' vote
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
        if known is not None and over_cap(known * sr // 1_000_000, sr, max_duration):
            return None
        # frame by frame, so that a file longer than its header said stops at the cap
        # instead of being held whole
        for _, block in _blocks(container, stream):
            parts.append(block)
            count += block.shape[1]
            if over_cap(count, sr, max_duration):
                return None
        return _frames(parts, sr)
    return None  # PyAV failed while decoding


def blocks_with_av(source: Path | bytes) -> Iterator[tuple[int, np.ndarray]]:
    """Each decoded block of a whole file as ``(rate, frames x channels float32)``, one at a
    time, so that an hour of audio is never held whole; nothing where PyAV cannot open
    it (and the blocks stop where it fails)."""
    with _opened(source) as opened:
        if opened is None:
            return
        container, stream, sr = opened
        for _, block in _blocks(container, stream):
            yield sr, block.T


def probe_with_av(source: Path | bytes, *, count: bool = False
                  ) -> tuple[float, int, int] | None:
    """``(seconds, rate, channels)`` of a file, nothing decoded; None where PyAV cannot
    say. The seconds are the header's; with ``count`` (a header that only guesses, as
    an MP3's without a frame count), or without a header's, the packets' durations
    added up (10 minutes of MP3: ~50 ms, a read of the whole file)."""
    with _opened(source) as opened:
        if opened is None:
            return None
        container, stream, sr = opened
        if container.duration and not count:
            seconds = container.duration / 1_000_000
        else:
            seconds = float(sum(packet.duration or 0 for packet in container.demux(stream))
                            * stream.time_base)
        channels = stream.codec_context.layout.nb_channels
        return (seconds, sr, channels) if seconds > 0 and channels else None
    return None


def read_range_with_av(source: Path | bytes, start: float | None, end: float | None,
                       max_duration: float | None) -> tuple[Frames, bool] | None:
    """The float frames of ``[start, end)`` seconds of a file (a path, or its bytes) and
    whether ``max_duration`` cut them; None when this reader does not apply (see above:
    MP4 family, MP3, Ogg, Opus in WebM) or the range holds no samples (the program then
    says why).

    Examples
    --------
    >>> read_range_with_av(Path("talk.m4a"), 60.0, 65.0, None)  # doctest: +SKIP
    (Frames(frames=array(...), sr=16000, scale=1.0), False)
    """
    with _opened(source) as opened:
        if opened is None:
            return None
        container, stream, sr = opened
        place = _placement(container, stream, sr)
        if place is None:
            return None
        return _read_range(container, stream, sr, place, start or 0.0, end, max_duration,
                           _libopus_for_ogg(container, stream))
    return None  # PyAV failed while decoding


def _placement(container, stream, sr: int):
    """How a decoded frame's timestamp gives its first sample's index in a whole decode
    (``pts -> index``), or None where timestamps cannot say it exactly.

    Whole samples: MP4 (time base 1/rate), Ogg (granule positions), MP3
    (1/14,112,000 s: a whole number of samples at every MP3 rate), counted from the
    stream's start (an MP3's encoder delay). Opus in Matroska/WebM: milliseconds, but
    every Opus frame lasts a multiple of 2.5 ms (RFC 6716) after the codec's delay,
    so the nearest such point is the frame's exact start (a plain rounding of the
    milliseconds was 24 samples off).
    """
    base = stream.time_base
    if base is None or base.numerator != 1:
        return None
    origin = stream.start_time or 0
    name = container.format.name
    if name in (MP4_FAMILY, "ogg", "mp3") and base.denominator % sr == 0:
        ticks = base.denominator // sr
        return lambda pts: (pts - origin) // ticks
    if name == "matroska,webm" and stream.codec_context.name == "opus" and sr == 48000 \
            and base.denominator == 1000:
        delay, grid = stream.codec_context.delay or 0, 120  # samples; 2.5 ms at 48 kHz
        return lambda pts: grid * round(((pts - origin) * 48 + delay) / grid) - delay
    return None


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


def _blocks(container, stream, decoder=None):
    """``(frame, planar float block)`` of each decoded frame (by ``decoder``, a codec
    context, instead of the stream's own); the converter is flushed at the end (frame
    None)."""
    import av

    to_float = av.AudioResampler(format="fltp")  # planar float; rate and layout kept
    frames = container.decode(stream) if decoder is None else (
        frame for packet in container.demux(stream) for frame in decoder.decode(packet))
    for frame in itertools.chain(frames, [None]):
        for out in to_float.resample(frame):
            yield frame, out.to_ndarray()


def _frames(parts: list[np.ndarray], sr: int) -> Frames | None:
    """The planar float blocks as frames x channels, or None for no blocks."""
    return Frames(np.concatenate(parts, axis=1).T, sr, 1.0) if parts else None


def _libopus_for_ogg(container, stream):
    """A libopus decoder for Opus in Ogg, whose whole files libsndfile decodes with
    libopus (ffmpeg's own Opus decoder puts speech coded by SILK 1-2 samples later);
    None: the stream's own decoder."""
    import av

    if container.format.name != "ogg" or stream.codec_context.name != "opus" \
            or "libopus" not in av.codecs_available:
        return None
    decoder = av.CodecContext.create("libopus", "r")
    decoder.extradata = stream.codec_context.extradata
    decoder.sample_rate = stream.codec_context.sample_rate
    decoder.layout = stream.codec_context.layout
    decoder.options = {"request_sample_fmt": "flt"}  # libsndfile's floats, not 16 bits
    return decoder


def _read_range(container, stream, sr: int, place, start: float, end: float | None,
                max_duration: float | None, decoder=None) -> tuple[Frames, bool] | None:
    """``[start, end)`` s by a seek with lead-in, placed by the frames' vote (see above)."""
    first = int(round(start * sr))
    last = None if end is None else int(round(end * sr))
    cap = None if max_duration is None else int(max_duration * sr)
    if cap is not None and (last is None or last - first > cap):
        last_kept, cut = first + cap, True  # stop at the cap; truncated if anything is left
    else:
        last_kept, cut = last, False
    if start > PREROLL_S:
        container.seek((stream.start_time or 0) + int((start - PREROLL_S) / stream.time_base),
                       stream=stream, backward=True)
    # the frames from the seek on, each with where its timestamp puts it and where
    # counting the samples from the first one does
    parts, stamps, count = [], [], 0
    for frame, block in _blocks(container, stream, decoder):
        if frame is not None:
            if frame.pts is None:
                return None
            stamps.append(place(int(frame.pts)) - count)
        parts.append(block)
        count += block.shape[1]
        if last_kept is not None and stamps and stamps[0] + count > last_kept + MARGIN * sr:
            break
    if not stamps:
        return None
    # most timestamps agree with the count; the few that do not are estimates (an Ogg
    # page's first Vorbis packets after a seek, a block-size change)
    values, votes = np.unique(stamps, return_counts=True)
    origin = int(values[votes.argmax()])  # the first frame's place in a whole decode
    if origin > first:
        return None  # the seek landed after the start
    samples = np.concatenate(parts, axis=1)
    stop = samples.shape[1] if last_kept is None else min(last_kept - origin, samples.shape[1])
    kept = samples[:, first - origin:stop]
    beyond = last_kept is not None and origin + samples.shape[1] > last_kept
    return (Frames(kept.T, sr, 1.0), cut and beyond) if kept.shape[1] else None
