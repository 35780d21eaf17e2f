"""Whole files decoded in this process: the fast paths of decode.

FLAC and WAV by miniaudio's dr_flac and dr_wav (:func:`read_whole`); and
:func:`ogg_in_wav`, the Ogg stream inside a WAV file that wraps Ogg Vorbis, which
neither libsndfile nor ffmpeg reads as it is. (The formats libsndfile does not read
are decoded in the process by :mod:`~hover_audio.audio.av_read`.)

Most clips are whole short files, and on those libsndfile spends more time opening
the file than decoding it (a 0.7 s 16 kHz clip held in memory: 98 us as WAV, 202 us
as FLAC, against 37 and 89 us here). :func:`read_whole` takes a file only when its
own header says it is plain (FLAC, or WAV holding 8- to 32-bit integers or 32-bit
floats), of a known length that the bytes hold, and no longer than the cap; it
returns None for anything else (other encodings, damaged or cut files, unknown
lengths), which libsndfile then reads, naming what is wrong. WAV is taken only as
bytes of at most ``WAV_BYTES``: libsndfile reads a WAV path, or a longer file, as
fast or faster (it decodes straight into the array; dr_wav decodes, then copies).
The samples are exactly libsndfile's (``tests/test_decode.py`` compares them).
"""
from __future__ import annotations

import struct
from pathlib import Path
from typing import NamedTuple

import numpy as np

WAV_BYTES = 1 << 19  # WAV bytes taken at most (0.5 MB: 6 s of 44.1 kHz 16-bit mono)
PCM, IEEE_FLOAT, EXTENSIBLE = 0x0001, 0x0003, 0xFFFE


class Frames(NamedTuple):
    """Decoded frames (frames x channels: int16, int32 or float32), their rate, and the
    factor that puts them in [-1, 1] as libsndfile's floats."""

    frames: np.ndarray
    sr: int
    scale: float


def read_whole(source: Path | bytes, max_duration: float | None) -> Frames | None:
    """The frames of a whole FLAC file (a path, or its bytes) or WAV file (its bytes),
    or None: not taken.

    A path is taken by its suffix (``.flac``), bytes by their mark.
    """
    try:
        import miniaudio
    except ImportError:  # pragma: no cover - a dependency, but libsndfile reads these too
        return None
    in_memory = not isinstance(source, Path)
    try:
        if (source[:4] == b"fLaC") if in_memory else source.suffix.lower() == ".flac":
            return _flac(miniaudio, source, max_duration)
        if in_memory and source[:4] == b"RIFF" and len(source) <= WAV_BYTES:
            return _wav(miniaudio, source, max_duration)
    except (miniaudio.MiniaudioError, OSError):
        return None
    return None


def _flac(miniaudio, source, max_duration) -> Frames | None:
    in_memory = not isinstance(source, Path)
    header = flac_stream_info(source if in_memory else _head(source, 42))
    if header is None:
        return None
    sr, channels, bits, total = header
    if total <= 0 or sr <= 0 or over_cap(total, sr, max_duration):
        return None
    wide = bits > 16  # else read as 16 bits (left-justified: exact for 4 to 16 bits)
    if in_memory:
        decoded = (miniaudio.flac_read_s32 if wide else miniaudio.flac_read_s16)(source)
    else:
        read = miniaudio.flac_read_file_s32 if wide else miniaudio.flac_read_file_s16
        decoded = read(str(source))
    return _checked(decoded, np.int32 if wide else np.int16, 2.0**-31 if wide else 2.0**-15,
                    sr, channels, total)


def _wav(miniaudio, data: bytes, max_duration) -> Frames | None:
    found = wav_format(data)
    if found is None:
        return None
    tag, channels, sr, bits, data_at, data_size = found
    if data_at + data_size > len(data):  # cut short, or a length it does not know
        return None
    total = data_size // (channels * bits // 8)
    if total <= 0 or over_cap(total, sr, max_duration):
        return None
    if tag == IEEE_FLOAT:
        decoded, dtype, scale = miniaudio.wav_read_f32(data), np.float32, 1.0
    elif bits <= 16:
        decoded, dtype, scale = miniaudio.wav_read_s16(data), np.int16, 2.0**-15
    else:
        decoded, dtype, scale = miniaudio.wav_read_s32(data), np.int32, 2.0**-31
    return _checked(decoded, dtype, scale, sr, channels, total)


def _head(path: Path, count: int) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(count)


def over_cap(total: int, sr: int, max_duration: float | None) -> bool:
    """Whether ``total`` frames at ``sr`` run past ``max_duration`` seconds (None: no cap)."""
    return max_duration is not None and total > int(max_duration * sr)


def _checked(decoded, dtype, scale: float, sr: int, channels: int, total: int) -> Frames | None:
    """The decoded frames, if they are what the header promised (else None: libsndfile)."""
    if decoded.nchannels != channels or decoded.sample_rate != sr:
        return None
    frames = np.frombuffer(decoded.samples, dtype=dtype).reshape(-1, channels)
    return Frames(frames, sr, scale) if len(frames) == total else None


def promised_frames(head: bytes) -> tuple[int, int] | None:
    """``(frames, rate)`` that the header at the start of a WAV or FLAC file says it holds;
    None when ``head`` is neither, or the header does not know (a streamed WAV's 0 or
    0xFFFFFFFF data size, a FLAC encoder's 0 frames).

    Examples
    --------
    >>> fmt = struct.pack("<4sIHHIIHH", b"fmt ", 16, PCM, 1, 16000, 32000, 2, 16)
    >>> promised_frames(b"RIFF" + bytes(4) + b"WAVE" + fmt + b"data" + struct.pack("<I", 3200))
    (1600, 16000)
    """
    found = wav_format(head)
    if found is not None:
        _, channels, sr, bits, _, size = found
        return None if size in (0, 0xFFFFFFFF) else (size // (channels * bits // 8), sr)
    header = flac_stream_info(head)
    return None if header is None or header[3] == 0 else (header[3], header[0])


def flac_stream_info(data: bytes) -> tuple[int, int, int, int] | None:
    """``(sample rate, channels, bits per sample, frames)`` from the bytes of a FLAC file.

    Read from its STREAMINFO block, which the format puts first, right after the
    ``fLaC`` mark; ``frames`` is 0 when the encoder did not know it. None: the
    bytes do not start that way.

    Examples
    --------
    >>> fields = bytes.fromhex("0ac442f0000acda2")  # 44.1 kHz, 2 channels, 16 bits, 708,002
    >>> flac_stream_info(b"fLaC" + bytes([0, 0, 0, 34]) + bytes(10) + fields + bytes(16))
    (44100, 2, 16, 708002)
    """
    if len(data) < 42 or data[:4] != b"fLaC" or data[4] & 0x7F != 0 \
            or int.from_bytes(data[5:8], "big") < 34:
        return None
    fields = int.from_bytes(data[18:26], "big")  # 20 + 3 + 5 + 36 bits
    return (fields >> 44, ((fields >> 41) & 0x7) + 1, ((fields >> 36) & 0x1F) + 1,
            fields & ((1 << 36) - 1))


def wav_format(data: bytes) -> tuple[int, int, int, int, int, int] | None:
    """``(format, channels, rate, bits, data offset, data size)`` of plain WAV bytes.

    Walks the RIFF chunks of ``data`` (the file's start) to its ``data`` chunk; the
    format is PCM or IEEE_FLOAT (an extensible header's subformat counts as its own).
    None: not RIFF/WAVE, no ``fmt `` chunk before ``data`` within ``data``, or an
    encoding other than 8-, 16-, 24-, 32-bit integers or 32-bit floats.

    Examples
    --------
    >>> fmt = struct.pack("<4sIHHIIHH", b"fmt ", 16, PCM, 2, 44100, 176400, 4, 16)
    >>> wav_format(b"RIFF" + bytes(4) + b"WAVE" + fmt + b"data" + struct.pack("<I", 8))
    (1, 2, 44100, 16, 44, 8)
    """
    found = None
    for name, body, size in _riff_chunks(data):
        if name == b"fmt " and size >= 16 and body + size <= len(data):
            tag, channels, sr, _, align, bits = struct.unpack_from("<HHIIHH", data, body)
            if tag == EXTENSIBLE and size >= 40:
                tag = int.from_bytes(data[body + 24:body + 26], "little")
            plain = (tag == PCM and bits in (8, 16, 24, 32)) or (tag == IEEE_FLOAT and bits == 32)
            found = (tag, channels, sr, bits) if (
                plain and channels > 0 and sr > 0 and align == channels * bits // 8) else None
            if found is None:
                return None
        elif name == b"data":
            return None if found is None else (*found, body, size)
    return None


def _riff_chunks(data: bytes):
    """``(name, body offset, size)`` of each chunk of RIFF/WAVE bytes, in order (nothing
    for other bytes); the walk stops where ``data`` ends."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return
    at = 12
    while at + 8 <= len(data):
        size = int.from_bytes(data[at + 4:at + 8], "little")
        yield data[at:at + 4], at + 8, size
        at += 8 + size + (size & 1)  # chunks are padded to an even length


# WAV format tags of Ogg Vorbis wrapped in RIFF (the old Vorbis ACM codec's modes 1-3
# and 1+-3+), as some sample libraries ship their ".ogg" files (LMMS: 5 of its 181)
OGG_IN_WAV_TAGS = frozenset((0x674F, 0x6750, 0x6751, 0x676F, 0x6770, 0x6771))


def ogg_in_wav(source: Path | bytes) -> bytes | None:
    """The Ogg stream a WAV file wraps (its ``data`` chunk, under one of
    ``OGG_IN_WAV_TAGS``), to be decoded as the Ogg file it is; None for anything else.

    Examples
    --------
    >>> fmt = struct.pack("<4sIHHIIHH", b"fmt ", 16, 0x674F, 1, 44100, 11025, 1, 16)
    >>> ogg_in_wav(b"RIFF" + bytes(4) + b"WAVE" + fmt + b"data" + struct.pack("<I", 6) + b"OggS..")
    b'OggS..'
    """
    head = _head(source, 4096) if isinstance(source, Path) else source[:4096]
    tag = next((int.from_bytes(head[body:body + 2], "little")
                for name, body, _ in _riff_chunks(head) if name == b"fmt "), None)
    if tag not in OGG_IN_WAV_TAGS:
        return None
    data = source.read_bytes() if isinstance(source, Path) else bytes(source)
    for name, body, size in _riff_chunks(data):
        if name == b"data":
            stream = data[body:body + size]
            return stream if stream[:4] == b"OggS" else None
    return None
