"""Which container a file is, by its content, and whether its tag block is sound.

``hover-audio tag`` writes ID3 into MP3 and AIFF files, Vorbis comments into FLAC and
Ogg files, RIFF ``INFO`` into WAV files. A file's suffix only says what it should be:
an Ogg Vorbis file named ``.mp3`` given an ID3 tag is no longer read as audio by most
readers, so :func:`kind_of` reads the first bytes (:func:`container_of`) and refuses a
file whose content is not what its suffix says, naming both. :func:`id3_problem` walks
an ID3v2 tag's frames: mutagen reads a frame whose size is wrong as text running into
the next frames (or stops at the first bad frame), and writing the tag back would keep
that junk or drop what follows, so such a file is refused as corrupt.
"""
from __future__ import annotations

import os
import re
import struct
from pathlib import Path

KINDS = {".mp3": "id3", ".aif": "aiff", ".aiff": "aiff", ".flac": "vorbis", ".ogg": "vorbis",
         ".oga": "vorbis", ".opus": "vorbis", ".wav": "riff"}
# container (by content) -> (what it is, in a message; the kind of tags written into it;
# its suffixes)
CONTAINERS = {"wav": ("a RIFF/WAVE file", "riff", ".wav"), "flac": ("FLAC", "vorbis", ".flac"),
              "ogg": ("Ogg", "vorbis", ".ogg, .oga or .opus"),
              "aiff": ("AIFF", "aiff", ".aif or .aiff"),
              "mpeg": ("MPEG audio (MP3)", "id3", ".mp3"),
              "rf64": ("an RF64/BW64 WAVE file", None, ""), "mp4": ("MP4/M4A", None, ""),
              "asf": ("WMA/ASF", None, ""), "aac": ("ADTS AAC", None, ""),
              "unknown": ("data of no audio format this tool knows", None, "")}
_FRAME_ID = {2: re.compile(rb"[A-Z0-9]{3}"), 3: re.compile(rb"[A-Z0-9]{4}"),
             4: re.compile(rb"[A-Z0-9]{4}")}


class TagError(Exception):
    """A file whose tags cannot be read or written; the message names the file and why."""


def kind_of(path: str | os.PathLike) -> str:
    """The kind of tags ``path`` takes (``riff``, ``vorbis``, ``id3``, ``aiff``).

    By its suffix, confirmed by its content: :class:`TagError` (naming the file) for a
    suffix that cannot hold tags and for content that is not what the suffix says.
    """
    path = Path(path)
    kind = KINDS.get(path.suffix.lower())
    if kind is None:
        raise TagError(f"{path}: cannot hold tags here ({path.suffix or 'no suffix'}; "
                       f"supported: {', '.join(sorted(KINDS))})")
    try:
        found = container_of(path)
    except OSError as error:
        raise TagError(f"{path}: cannot read it: {error.strerror or error}") from None
    what, takes, suffixes = CONTAINERS[found]
    if takes != kind:
        raise TagError(f"{path}: its content is {what}, not what its suffix {path.suffix} "
                       "says; writing tags by the suffix would damage it, so it is not "
                       "tagged" + (f" (its suffix should be {suffixes})" if suffixes else ""))
    return kind


def container_of(path: str | os.PathLike) -> str:
    """The container ``path`` holds, from its first bytes (a key of :data:`CONTAINERS`)."""
    with open(path, "rb") as handle:
        head = handle.read(12)
        at = 0
        while head[:3] == b"ID3" and len(head) >= 10:  # ID3v2 in front (MP3, some FLAC)
            at += 10 + _syncsafe(head[6:10]) + (10 if head[5] & 0x10 else 0)
            handle.seek(at)
            head = handle.read(12)
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] in (b"RF64", b"BW64"):
        return "rf64"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head[4:8] == b"ftyp":
        return "mp4"
    if head[:4] == b"\x30\x26\xb2\x75":
        return "asf"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return "mpeg" if (head[1] >> 1) & 3 else "aac"  # (layer bits 00: ADTS)
    if at or Path(path).suffix.lower() == ".mp3":  # an MP3 with bytes before its first frame
        from mutagen.mp3 import MP3

        try:
            MP3(str(path))
            return "mpeg"
        except Exception:
            return "unknown"
    return "unknown"


def check_id3(path: Path, kind: str) -> None:
    """Raise :class:`TagError` when the ID3v2 tag of an MP3 or AIFF file is corrupt."""
    block = _id3_block(path, kind)
    problem = None if block is None else id3_problem(block)
    if problem:
        raise TagError(f"{path}: corrupt ID3 tag block ({problem}); writing it back would "
                       "keep or lose parts of it, so it is not tagged")


def id3_problem(block: bytes) -> str | None:
    """What is wrong with an ID3v2 tag (``block``: its bytes from the header on), or None.

    Every frame must have a valid frame ID and lie inside the tag; what follows the
    last frame must be padding (zero bytes). Version 2.4 frame sizes written as plain
    integers (an old iTunes bug, which mutagen reads too) are accepted.

    Examples
    --------
    >>> frame = b"TIT2" + (6).to_bytes(4, "big") + b"\\0\\0" + b"\\x03Hello"
    >>> tag = b"ID3\\x04\\0\\0" + bytes([0, 0, 0, len(frame) + 4]) + frame + bytes(4)
    >>> id3_problem(tag) is None
    True
    >>> id3_problem(tag[:14] + b"\\0\\0\\0\\x30" + tag[18:])
    "frame b'TIT2' at byte 10 runs past the end of the tag"
    """
    if len(block) < 10 or block[:3] != b"ID3":
        return "no ID3v2 header"
    major, flags = block[3], block[5]
    if major not in _FRAME_ID:
        return f"unknown version ID3v2.{major}"
    if any(byte & 0x80 for byte in block[6:10]):
        return "its size is not a valid ID3 size"
    size = _syncsafe(block[6:10])
    body = block[10:10 + size]
    if len(body) < size:
        return "the tag runs past the end of the file"
    if major < 4 and flags & 0x80:  # the whole tag unsynchronised (2.4 does it per frame)
        body = body.replace(b"\xff\x00", b"\xff")
    start = 0
    if flags & 0x40:
        if major == 2:
            return None  # a compressed 2.2 tag: nothing to walk
        extended = _syncsafe(body[:4]) if major == 4 else 4 + struct.unpack(">I", body[:4])[0]
        if extended > len(body):
            return "its extended header runs past the end of the tag"
        start = extended
    problems = [_walk(body, start, major, syncsafe) for syncsafe in
                ((True, False) if major == 4 else (False,))]
    return None if None in problems else problems[0]


def _walk(body: bytes, at: int, major: int, syncsafe: bool) -> str | None:
    header, width = (6, 3) if major == 2 else (10, 4)
    while at < len(body):
        if body[at] == 0:
            if body[at:].strip(b"\0"):
                return f"bytes that are neither a frame nor padding at byte {10 + at}"
            return None
        name = body[at:at + width]
        if at + header > len(body) or not _FRAME_ID[major].fullmatch(name):
            return f"bytes that are not a frame at byte {10 + at}"
        raw = body[at + width:at + 2 * width] if major == 2 else body[at + 4:at + 8]
        size = (_syncsafe(raw) if syncsafe and not any(b & 0x80 for b in raw)
                else int.from_bytes(raw, "big"))
        if at + header + size > len(body):
            return f"frame {name!r} at byte {10 + at} runs past the end of the tag"
        at += header + size
    return None


def _id3_block(path: Path, kind: str) -> bytes | None:
    """The ID3v2 tag of an MP3 (at its start) or an AIFF file (its ``ID3`` chunk), or None."""
    with open(path, "rb") as handle:
        if kind == "id3":
            head = handle.read(10)
            if head[:3] != b"ID3" or len(head) < 10:
                return None
            return head + handle.read(_syncsafe(head[6:10]) if not any(
                b & 0x80 for b in head[6:10]) else 0)
        total = os.fstat(handle.fileno()).st_size
        at = 12
        while at + 8 <= total:
            handle.seek(at)
            name, size = struct.unpack(">4sI", handle.read(8))
            if name in (b"ID3 ", b"id3 "):
                return handle.read(size)
            at += 8 + size + (size & 1)
    return None


def _syncsafe(data: bytes) -> int:
    value = 0
    for byte in data:
        value = (value << 7) | (byte & 0x7F)
    return value
