"""A WAV file's RIFF ``LIST``/``INFO`` fields and BWF ``bext`` Description, read and set.

Only the chunk headers and these chunks are read (never the audio); setting a field
rewrites the file with every other chunk and field as it was (used on a temporary copy,
see :mod:`hover_audio.audio.tag_copies`).
"""
from __future__ import annotations

import os
import struct
from pathlib import Path

from .tag_containers import TagError


def chunks(read, total: int):
    """(id, start of the chunk header, data size) of every top-level chunk of a RIFF file.

    ``read(offset, count)`` gives bytes of the file (of a bytes object, or by seeking an
    open file: only the chunk headers are read, never the audio).
    """
    if read(0, 4) != b"RIFF" or read(8, 4) != b"WAVE":
        raise TagError("not a RIFF/WAVE file")
    at = 12
    while at + 8 <= total:
        header = read(at, 8)
        name, size = header[:4], struct.unpack("<I", header[4:8])[0]
        if at + 8 + size > total:
            raise TagError(f"corrupt RIFF: chunk {name!r} runs past the end of the file")
        yield name, at, size
        at += 8 + size + (size & 1)


def _of_bytes(data: bytes):
    return lambda offset, count: data[offset:offset + count], len(data)


def riff_fields(path: Path) -> tuple[dict, str | None]:
    """The INFO fields and the ``bext`` Description of a WAV file, reading only those chunks."""
    info, description = {}, None
    with open(path, "rb") as handle:
        def read(offset: int, count: int) -> bytes:
            handle.seek(offset)
            return handle.read(count)

        try:
            found = list(chunks(read, os.fstat(handle.fileno()).st_size))
        except TagError as error:
            raise TagError(f"{path}: {error}") from None
        for name, at, size in found:
            if name == b"LIST" and read(at + 8, 4) == b"INFO":
                info.update(_info_fields(read(at + 12, size - 4)))
            elif name == b"bext" and size >= 256:
                description = read(at + 8, 256).rstrip(b"\0").decode("latin-1")  # lossless
    return info, description


def _info_fields(body: bytes) -> dict:
    return {key: _text(raw) for key, raw in _info_raw(body).items()}


def _info_raw(body: bytes) -> dict:
    """``{field id: its data as stored}`` of an ``INFO`` list's body (after ``INFO``)."""
    fields, inner = {}, 0
    while inner + 8 <= len(body):
        key, length = body[inner:inner + 4], struct.unpack("<I", body[inner + 4:inner + 8])[0]
        fields[key] = body[inner + 8:inner + 8 + length]
        inner += 8 + length + (length & 1)
    return fields


def _text(raw: bytes) -> str:
    return raw.rstrip(b"\0").decode("utf-8", errors="replace")


def bext_text(text: str) -> str:
    """``text`` as a ``bext`` Description holds it: Latin-1 (``?`` for other characters),
    at most 256 bytes."""
    return text.encode("latin-1", errors="replace")[:256].rstrip(b"\0").decode("latin-1")


def set_bext_description(path: Path, text: str) -> None:
    """Set a ``bext`` chunk's Description in place (Latin-1, cut to 256 bytes, NUL-padded).

    Latin-1 maps bytes and characters one to one, so a Description :func:`riff_fields`
    read is put back byte for byte; other characters become ``?``.
    """
    data = bytearray(path.read_bytes())
    for name, at, size in chunks(*_of_bytes(bytes(data))):
        if name == b"bext" and size >= 256:
            field = text.encode("latin-1", errors="replace")[:256]
            data[at + 8:at + 8 + 256] = field + b"\0" * (256 - len(field))
            path.write_bytes(bytes(data))
            return


def set_riff_info(path: Path, values: dict) -> None:
    """Set (or, for None, remove) INFO fields, keeping every other chunk and field as is.

    Fields not set, and fields set to the text they hold already, keep their bytes (a
    field in another encoding than UTF-8 is not rewritten); the ``LIST`` chunk stays
    where it was (a new one goes at the end), so setting back what was read gives the
    file back byte for byte.
    """
    data = path.read_bytes()
    found = list(chunks(*_of_bytes(data)))
    lists = {at for name, at, size in found
             if name == b"LIST" and data[at + 8:at + 12] == b"INFO"}
    raw: dict = {}
    for name, at, size in found:
        if at in lists:
            raw.update(_info_raw(data[at + 12:at + 8 + size]))
    for key, value in values.items():
        if value is None:
            raw.pop(key, None)
        elif key not in raw or _text(raw[key]) != value:
            raw[key] = value.encode("utf-8") + b"\0"
    body = b"INFO" + b"".join(key + struct.pack("<I", len(field)) + field
                              + (b"\0" if len(field) & 1 else b"") for key, field in raw.items())
    chunk = b"LIST" + struct.pack("<I", len(body)) + body if len(body) > 4 else b""
    parts, placed = [data[:12]], False
    for name, at, size in found:
        if at in lists:
            parts.append(b"" if placed else chunk)
            placed = True
        else:
            parts.append(data[at:at + 8 + size + (size & 1)])
    if not placed:
        parts.append(chunk)
    out = b"".join(parts)
    out = out[:4] + struct.pack("<I", len(out) - 8) + out[8:]
    path.write_bytes(out)
