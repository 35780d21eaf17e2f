"""A WAV file's RIFF ``LIST``/``INFO`` fields and BWF ``bext`` Description, read and set.

Reading fields reads only the chunk headers and these chunks (never the audio); setting
fields writes a new file, the temporary copy of :mod:`hover_audio.audio.tag_copies`, with every
other chunk and field as it was, in one pass.

INFO text has no declared encoding: Windows tools write the system's code page (Windows-1252
in the West), newer ones UTF-8. A field is read as UTF-8 when its bytes are UTF-8, else as
Windows-1252, else as Latin-1 (which takes any byte), so no character is lost; a field set
again is written in the encoding it or its list already uses (:func:`encoding_of`), so a
file tagged and untagged gets its bytes back (unless a tag had characters that encoding
lacks: that field is then written in UTF-8, and put back as text).
"""
from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import NamedTuple

from .tag_containers import TagError


class Layout(NamedTuple):
    """Where things are in a RIFF/WAVE file (:func:`layout`)."""

    chunks: list  # (id, start of its header, data size, bytes it takes here: pad byte if any)
    end: int  # where the RIFF ends (bytes from the last chunk to here: too few for a chunk)
    total: int  # the file's size: bytes after ``end`` are another tool's, kept as they are


def layout(read, total: int) -> Layout:
    """The top-level chunks of a RIFF/WAVE file, and where its RIFF ends.

    ``read(offset, count)`` gives bytes of the file (of a bytes object, or by seeking an
    open file: only the chunk headers are read, never the audio). Chunks are read to the
    file's end, as long as they fit in it: past the end the RIFF header declares (a tool
    that appended a chunk without counting it, a size that leaves out a pad byte), bytes
    that do not read as a chunk (an ID3v1 tag some taggers append to any file) are
    another tool's, kept after the RIFF as they are; before it, they are a corrupt file.
    """
    if read(0, 4) != b"RIFF" or read(8, 4) != b"WAVE":
        raise TagError("not a RIFF/WAVE file")
    declared = struct.unpack("<I", read(4, 4))[0] + 8
    declared = declared if 12 <= declared <= total else total  # (a streamed file: 0 or ~0)
    found, at = [], 12
    while at + 8 <= total:
        header = read(at, 8)
        name, size = header[:4], struct.unpack("<I", header[4:8])[0]
        if at + 8 + size > total or (at >= declared and not _named(name)):
            if at >= declared:
                break
            raise TagError(f"corrupt RIFF: chunk {name!r} runs past the end of the file")
        padded = min(at + 8 + size + (size & 1), total)  # (a last pad byte may be missing)
        found.append((name, at, size, padded - at))
        at = padded
    return Layout(found, max(at, declared), total)


def _named(name: bytes) -> bool:
    """Whether ``name`` reads as a chunk's id (four printable ASCII characters)."""
    return all(32 <= byte < 127 for byte in name)


def _walk(handle, path) -> tuple:
    """``(read, layout)`` of an open WAV file: a reader of its bytes by offset and its
    :func:`layout`; a :class:`TagError` names ``path``."""
    def read(offset: int, count: int) -> bytes:
        handle.seek(offset)
        return handle.read(count)

    try:
        return read, layout(read, os.fstat(handle.fileno()).st_size)
    except TagError as error:
        raise TagError(f"{path}: {error}") from None


def riff_fields(path: Path) -> tuple[dict, str | None]:
    """The INFO fields and the ``bext`` Description of a WAV file, reading only those chunks."""
    info, description = {}, None
    with open(path, "rb") as handle:
        read, walked = _walk(handle, path)
        for name, at, size, _ in walked.chunks:
            if name == b"LIST" and read(at + 8, 4) == b"INFO":
                info.update(_info_fields(read(at + 12, size - 4)))
            elif name == b"bext" and size >= 256:
                description = read(at + 8, 256).rstrip(b"\0").decode("latin-1")  # lossless
    return info, description


def _info_fields(body: bytes) -> dict:
    return {key: text_of(raw) for key, raw in _info_raw(body).items()}


def _info_raw(body: bytes) -> dict:
    """``{field id: its data as stored}`` of an ``INFO`` list's body (after ``INFO``)."""
    fields, inner = {}, 0
    while inner + 8 <= len(body):
        key, length = body[inner:inner + 4], struct.unpack("<I", body[inner + 4:inner + 8])[0]
        fields[key] = body[inner + 8:inner + 8 + length]
        inner += 8 + length + (length & 1)
    return fields


LEGACY = ("cp1252", "latin-1")  # what INFO text that is not UTF-8 is read as, in this order


def text_of(raw: bytes) -> str:
    """An INFO field's text: its bytes up to the trailing NULs, as UTF-8, Windows-1252 or
    Latin-1, whichever reads them first (Latin-1 reads any bytes: nothing is lost).

    Examples
    --------
    >>> text_of("Café".encode("utf-8") + b"\\0"), text_of("Café ’x’".encode("cp1252"))
    ('Café', 'Café ’x’')
    >>> text_of(b"\\x81\\xe9")  # 0x81 is not Windows-1252
    '\\x81é'
    """
    return _decoded(raw)[0]


def encoding_of(raw: bytes) -> str | None:
    """The encoding :func:`text_of` reads ``raw`` in; None for ASCII (any of them)."""
    return _decoded(raw)[1]


def _decoded(raw: bytes) -> tuple[str, str | None]:
    """``(text, encoding)`` of an INFO field (:func:`text_of`, :func:`encoding_of`)."""
    text = raw.rstrip(b"\0")
    if text.isascii():
        return text.decode("ascii"), None
    for encoding in ("utf-8", *LEGACY[:-1]):
        try:
            return text.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return text.decode(LEGACY[-1]), LEGACY[-1]  # (Latin-1 decodes any bytes)


def same_text(now: str, recorded: str) -> bool:
    """Whether an INFO field :func:`text_of` reads as ``now`` is the one ``recorded``,
    also as earlier versions recorded it: read as UTF-8, U+FFFD for the bytes of a
    Windows code page (their ``tag`` runs' manifests hold that text).

    Examples
    --------
    >>> same_text(text_of("Café".encode("cp1252")), "Caf\\ufffd")
    True
    """
    if now == recorded:
        return True
    if "\ufffd" not in recorded:
        return False
    for encoding in LEGACY:
        try:
            if now.encode(encoding).decode("utf-8", errors="replace") == recorded:
                return True
        except UnicodeEncodeError:
            continue
    return False


def _field_bytes(text: str, encoding: str | None) -> bytes:
    """``text`` as an INFO field in ``encoding`` (None: UTF-8), NUL-terminated; in UTF-8
    when it has characters the encoding lacks, or when its bytes would read back as
    other text (:func:`text_of` tries UTF-8 first)."""
    if encoding not in (None, "utf-8"):
        try:
            data = text.encode(encoding)
            if text_of(data) == text:
                return data + b"\0"
        except UnicodeEncodeError:
            pass
    return text.encode("utf-8") + b"\0"


def bext_text(text: str) -> str:
    """``text`` as a ``bext`` Description holds it: Latin-1 (``?`` for other characters),
    at most 256 bytes."""
    return text.encode("latin-1", errors="replace")[:256].rstrip(b"\0").decode("latin-1")


def write_fields(source: Path, target: Path, values: dict, description: str | None = None
                 ) -> None:
    """Write ``target``: the WAV file ``source`` with the INFO fields ``values`` set (None:
    removed) and, when ``description`` is given and ``source`` has a ``bext`` chunk, its
    Description; every other chunk and field as it was, in one pass over the file.

    INFO fields not set, and fields set to the text they hold already, keep their bytes;
    a field set to new text is written in the encoding it, or else its list, is in
    (:func:`encoding_of`), UTF-8 for characters that encoding lacks; the ``LIST`` chunk
    stays where it was (a new one goes after the last chunk; two are merged into the
    first), so setting the fields a file holds gives it back byte for byte. The
    Description is Latin-1, cut to 256 bytes, NUL-padded: Latin-1 maps bytes and
    characters one to one, so a Description :func:`riff_fields` read is put back byte
    for byte; other characters become ``?``. Bytes after the
    last chunk (too few for a chunk) stay at the RIFF's end, after a new ``LIST``;
    bytes after the RIFF stay after it (:func:`layout`). Only chunk headers and these
    chunks are read; the audio is copied as it is, block by block.
    """
    with open(source, "rb") as src:
        read, walked = _walk(src, source)
        found = walked.chunks
        lists = {at for name, at, size, _ in found
                 if name == b"LIST" and read(at + 8, 4) == b"INFO"}
        raw: dict = {}
        for name, at, size, _ in found:
            if at in lists:
                raw.update(_info_raw(read(at + 12, size - 4)))
        info = _info_chunk(raw, values)
        bexts = [at for name, at, size, _ in found if name == b"bext" and size >= 256]
        bext = bexts[-1] if bexts and description is not None else None  # (read: the last)
        parts, placed, unpadded = [], False, False  # (bytes) or (start, length) of source
        for name, at, size, length in found:
            if at in lists:
                parts.append(b"" if placed else info)
                placed, unpadded = True, False
                continue
            unpadded = length < 8 + size + (size & 1)  # (a last pad byte may be missing)
            if at == bext:
                field = description.encode("latin-1", errors="replace")[:256]
                parts += [read(at, 8), field + b"\0" * (256 - len(field)),
                          (at + 264, length - 264)]
            else:
                parts.append((at, length))
        if not placed:
            if info and unpadded:  # the last chunk's pad byte, missing: a chunk after it
                parts.append(b"\0")  # must start at an even offset
            parts.append(info)
        last = found[-1][1] + found[-1][3] if found else 12
        if last < walked.end:  # bytes in the RIFF after its last chunk: kept, after ours
            parts.append((last, walked.end - last))
        riff = 4 + sum(len(part) if isinstance(part, bytes) else part[1] for part in parts)
        if walked.end < walked.total:  # another tool's bytes after the RIFF: kept there
            parts.append((walked.end, walked.total - walked.end))
        with open(target, "wb") as dst:
            dst.write(b"RIFF" + struct.pack("<I", riff) + b"WAVE")
            for part in parts:
                if isinstance(part, bytes):
                    dst.write(part)
                else:
                    _copy_range(src, dst, *part)


def _info_chunk(raw: dict, values: dict) -> bytes:
    """The ``LIST``/``INFO`` chunk of the fields ``raw`` (as stored) with ``values`` set;
    empty when no field is left."""
    raw = dict(raw)
    used = [found for found in map(encoding_of, raw.values()) if found]  # the list's, if any
    for key, value in values.items():
        if value is None:
            raw.pop(key, None)
        elif key not in raw or not same_text(text_of(raw[key]), value):
            own = encoding_of(raw[key]) if key in raw else None
            raw[key] = _field_bytes(value, own or (used[0] if used else None))
    body = b"INFO" + b"".join(key + struct.pack("<I", len(field)) + field
                              + (b"\0" if len(field) & 1 else b"") for key, field in raw.items())
    return b"LIST" + struct.pack("<I", len(body)) + body if len(body) > 4 else b""


def _copy_range(src, dst, start: int, length: int, block: int = 1 << 20) -> None:
    src.seek(start)
    while length > 0:
        data = src.read(min(block, length))
        if not data:
            raise TagError(f"{src.name}: shorter than its chunks say (changed while written?)")
        dst.write(data)
        length -= len(data)
