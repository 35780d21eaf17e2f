"""Tags written into audio files' own metadata (mutagen), so every search tool finds them.

Where the tags go, per container:

=================  =====================================================================
MP3, AIFF          ID3v2.4: ``TCON`` (genre, one per tag), ``TXXX:hover-audio tags``
                   (``;``-joined), ``COMM`` (``hover-audio``: "tags: a, b")
FLAC, Ogg, Opus    Vorbis comments: ``GENRE`` (one per tag), ``KEYWORDS``, ``DESCRIPTION``
WAV                RIFF ``LIST``/``INFO``: ``IKEY`` (keywords, ``;``-joined), ``ICMT``; and
                   the BWF ``bext`` Description (Latin-1) where the file has a ``bext``
=================  =====================================================================

Tags already there are kept (the new set is the union); nothing else in the file
changes: the audio data is copied byte for byte, the fields are set on a temporary copy,
the copy is read back and only then renamed over the original (permissions and times
kept); a copy that does not read back as written is thrown away, the file untouched.
:func:`snapshot` records the fields before a write, so :func:`restore` puts them back
exactly (the ``untag`` command).

``;`` separates tags everywhere (the workspace's ``tags`` column, ``IKEY``, ``TXXX``,
the folder reader), so a tag never contains it: a label ``"rock; pop"`` is written as
the two tags ``pop`` and ``rock`` (:func:`split_tags` says so), and a field another tool
wrote as ``"rain, thunder; storm"`` reads as three tags. A ``,`` inside a tag is kept.
"""
from __future__ import annotations

import os
import shutil
import struct
import tempfile
from pathlib import Path

OURS = "hover-audio tags"
KINDS = {".mp3": "id3", ".aif": "aiff", ".aiff": "aiff", ".flac": "vorbis", ".ogg": "vorbis",
         ".oga": "vorbis", ".opus": "vorbis", ".wav": "riff"}


class TagError(Exception):
    """A file whose tags cannot be read or written; the message names the file and why."""


def kind_of(path: Path) -> str:
    kind = KINDS.get(Path(path).suffix.lower())
    if kind is None:
        raise TagError(f"{path}: cannot hold tags here ({Path(path).suffix or 'no suffix'}; "
                       f"supported: {', '.join(sorted(KINDS))})")
    return kind


# ----------------------------------------------------------------- snapshots
def snapshot(path: str | os.PathLike) -> dict:
    """The metadata fields tags are written to, as they are now (JSON-ready)."""
    path = Path(path)
    kind = kind_of(path)
    try:
        if kind == "riff":
            info, description = _riff_fields(path)
            return {"kind": kind, "IKEY": info.get(b"IKEY"), "ICMT": info.get(b"ICMT"),
                    "bext": description}
        if kind == "vorbis":
            audio = _mutagen_file(path)
            tags = audio.tags or {}
            return {"kind": kind, **{name: list(tags[name]) if name in tags else None
                                     for name in ("GENRE", "KEYWORDS", "DESCRIPTION")}}
        frames = _id3(path)
        return {"kind": kind,
                "TCON": list(frames["TCON"].text) if frames and "TCON" in frames else None,
                "TXXX": _txxx(frames), "COMM": _comm(frames)}
    except TagError:
        raise
    except Exception as error:
        raise TagError(f"{path}: cannot read its tags: {type(error).__name__}: {error}") from None


def tags_in(state: dict) -> set[str]:
    """The tags a :func:`snapshot` holds (split at ``;``: no tag contains it)."""
    kind, found = state["kind"], set()
    if kind == "riff":
        found |= _split(state.get("IKEY"), ";")
    elif kind == "vorbis":
        genres = state.get("GENRE") or []
        for genre in genres:
            found |= _split(genre, ";")
        ours = ", ".join(sorted(set(genres)))  # what write_tags puts beside them
        for text in state.get("KEYWORDS") or []:  # other tools' keywords: "a, b; c"
            if text != ours:
                found |= {tag for part in _split(text, ";") for tag in _split(part, ",")}
    else:
        for genre in state.get("TCON") or []:
            found |= _split(genre, ";")
        found |= _split(state.get("TXXX"), ";")
    return {tag for tag in found if tag}


def split_tags(tags) -> tuple[set[str], list[str]]:
    """Tags as they are written into files, and a note per tag that had to be split.

    Parameters
    ----------
    tags : iterable of str
        Labels or tags, as the workspace has them.

    Returns
    -------
    written : set of str
        Each tag stripped, a tag containing ``;`` split there into several (``;``
        separates tags in every field and in the folder reader).
    notes : list of str
        ``'rock; pop' is written as the tags 'pop', 'rock' ...`` for each split tag.
    """
    written, notes = set(), []
    for tag in sorted({str(tag) for tag in tags}):
        parts = _split(tag, ";")
        written |= parts
        if ";" in tag and parts:
            notes.append(f"{tag!r} is written as the tags {', '.join(map(repr, sorted(parts)))}"
                         " (';' separates tags in files)")
    return written, notes


def read_tags(path: str | os.PathLike) -> set[str]:
    """The tags in a file's metadata (genre, keywords and our own field)."""
    return tags_in(snapshot(path))


def _split(text, separator: str) -> set[str]:
    return {part.strip() for part in (text or "").split(separator) if part.strip()}


# ------------------------------------------------------------------- writing
def write_tags(path: str | os.PathLike, tags, *, dry_run: bool = False,
               before: dict | None = None) -> tuple[set, set]:
    """Merge ``tags`` into the file's metadata; returns (tags before, tags after).

    With ``dry_run`` nothing is written; ``before``: the file's :func:`snapshot`, when
    the caller has just taken it. Raises :class:`TagError` naming the file and the
    reason (read-only, cannot hold tags, corrupt tag block, ...).
    """
    path = Path(path)
    before = snapshot(path) if before is None else before
    old = tags_in(before)
    new = old | split_tags(tags)[0]
    bad = sorted(tag for tag in new - old if any(ord(c) < 32 or ord(c) == 127 for c in tag))
    if bad:
        raise TagError(f"{path}: the tag(s) {', '.join(map(repr, bad))} contain control "
                       "characters, which RIFF INFO and ID3 cannot hold; not written")
    if new != old and (not os.access(path, os.W_OK) or not path.stat().st_mode & 0o222):
        raise TagError(f"{path}: read-only, not written")  # (even for root: the user's intent)
    if dry_run or new == old:
        return old, new
    kind = before["kind"]
    keywords = sorted(new)
    state = {"kind": kind}
    if kind == "riff":
        state.update(IKEY=";".join(keywords), ICMT=f"{OURS}: {', '.join(keywords)}",
                     bext=None if before.get("bext") is None
                     else f"{OURS}: {', '.join(keywords)}")
    elif kind == "vorbis":
        state.update(GENRE=keywords, KEYWORDS=[", ".join(keywords)],
                     DESCRIPTION=[f"{OURS}: {', '.join(keywords)}"])
    else:
        state.update(TCON=keywords, TXXX=";".join(keywords),
                     COMM=f"tags: {', '.join(keywords)}")
    def check(copy: Path) -> None:
        after = tags_in(snapshot(copy))
        if after != new:
            raise TagError(f"{path}: the written tags read back as {sorted(after)}, not "
                           f"{sorted(new)}; the file was left as it was")

    _apply(path, state, check)
    return old, new


def restore(path: str | os.PathLike, state: dict) -> None:
    """Put the fields of a :func:`snapshot` back exactly (absent fields are removed).

    The fields are set on a copy that must read back as ``state`` before it replaces
    the file; otherwise :class:`TagError` is raised and the file is left as it was.
    """
    expected = dict(state)
    if expected.get("bext") is not None:  # as _set_bext_description can write it
        expected["bext"] = expected["bext"].encode("latin-1", errors="replace")[:256].rstrip(
            b"\0").decode("latin-1")

    def check(copy: Path) -> None:
        if snapshot(copy) != expected:
            raise TagError(f"{path}: the restored fields do not read back as recorded; "
                           "the file was left as it was")

    _apply(Path(path), state, check)


def _apply(path: Path, state: dict, check=None) -> None:
    """Set the fields of ``state`` on a temporary copy, then rename it over ``path``.

    ``check(copy)``, when given, is called before the rename and raises
    :class:`TagError` to throw the copy away (the file is then untouched). A symbolic
    link is followed: its target is written, the link stays. A file with other hard
    links is refused (a renamed copy would leave them the old file).
    """
    path = Path(os.path.realpath(path))
    info = path.stat()
    if info.st_nlink > 1:
        raise TagError(f"{path}: has {info.st_nlink} hard links, which a rewritten copy would "
                       "leave with the old file; not written")
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix,
                                    dir=path.parent)
    os.close(handle)
    try:
        shutil.copyfile(path, temp)
        kind = state["kind"]
        if kind == "riff":
            _set_riff_info(Path(temp), {b"IKEY": state.get("IKEY"), b"ICMT": state.get("ICMT")})
            if state.get("bext") is not None:
                _set_bext_description(Path(temp), state["bext"])
        elif kind == "vorbis":
            audio = _mutagen_file(Path(temp))
            if audio.tags is None:
                audio.add_tags()
            for name in ("GENRE", "KEYWORDS", "DESCRIPTION"):
                if state.get(name) is None:
                    if name in audio.tags:
                        del audio.tags[name]
                else:
                    audio.tags[name] = list(state[name])
            audio.save()
        else:
            _set_id3(Path(temp), state, aiff=kind == "aiff")
        if check is not None:
            check(Path(temp))
        os.chmod(temp, info.st_mode & 0o7777)
        os.utime(temp, ns=(info.st_atime_ns, info.st_mtime_ns))
        os.replace(temp, path)
    except Exception as error:
        Path(temp).unlink(missing_ok=True)
        if isinstance(error, TagError):
            raise
        raise TagError(f"{path}: cannot write its tags: {type(error).__name__}: {error}") from None


# --------------------------------------------------------------------- ID3
def _mutagen_file(path: Path):
    import mutagen

    audio = mutagen.File(str(path))
    if audio is None:
        raise TagError(f"{path}: not an audio file mutagen can tag")
    return audio


def _id3(path: Path):
    from mutagen.aiff import AIFF
    from mutagen.id3 import ID3, ID3NoHeaderError

    if path.suffix.lower() in (".aif", ".aiff"):
        return AIFF(str(path)).tags
    try:
        return ID3(str(path))
    except ID3NoHeaderError:
        return None


def _txxx(frames):
    found = frames.getall(f"TXXX:{OURS}") if frames else []
    return found[0].text[0] if found and found[0].text else None


def _comm(frames):
    found = [f for f in (frames.getall("COMM") if frames else []) if f.desc == "hover-audio"]
    return found[0].text[0] if found and found[0].text else None


def _set_id3(path: Path, state: dict, aiff: bool) -> None:
    from mutagen.aiff import AIFF
    from mutagen.id3 import COMM, ID3, TCON, TXXX, ID3NoHeaderError

    if aiff:
        holder = AIFF(str(path))
        if holder.tags is None:
            holder.add_tags()
        frames = holder.tags
    else:
        try:
            frames = ID3(str(path))
        except ID3NoHeaderError:
            frames = ID3()
    frames.delall("TCON")
    if state.get("TCON") is not None:
        frames.add(TCON(encoding=3, text=list(state["TCON"])))
    frames.delall(f"TXXX:{OURS}")
    if state.get("TXXX") is not None:
        frames.add(TXXX(encoding=3, desc=OURS, text=[state["TXXX"]]))
    for frame in [f for f in frames.getall("COMM") if f.desc == "hover-audio"]:
        frames.delall(frame.HashKey)
    if state.get("COMM") is not None:
        frames.add(COMM(encoding=3, lang="eng", desc="hover-audio", text=[state["COMM"]]))
    if aiff:
        holder.save(v2_version=4)
    else:
        frames.save(str(path), v2_version=4)


# ---------------------------------------------------------------- RIFF INFO
def _chunks(read, total: int):
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


def _riff_fields(path: Path) -> tuple[dict, str | None]:
    """The INFO fields and the ``bext`` Description of a WAV file, reading only those chunks."""
    info, description = {}, None
    with open(path, "rb") as handle:
        def read(offset: int, count: int) -> bytes:
            handle.seek(offset)
            return handle.read(count)

        try:
            chunks = list(_chunks(read, os.fstat(handle.fileno()).st_size))
        except TagError as error:
            raise TagError(f"{path}: {error}") from None
        for name, at, size in chunks:
            if name == b"LIST" and read(at + 8, 4) == b"INFO":
                info.update(_info_fields(read(at + 12, size - 4)))
            elif name == b"bext" and size >= 256:
                description = read(at + 8, 256).rstrip(b"\0").decode("latin-1")  # lossless
    return info, description


def _info_fields(body: bytes) -> dict:
    fields, inner = {}, 0
    while inner + 8 <= len(body):
        key, length = body[inner:inner + 4], struct.unpack("<I", body[inner + 4:inner + 8])[0]
        fields[key] = body[inner + 8:inner + 8 + length].rstrip(b"\0").decode(
            "utf-8", errors="replace")
        inner += 8 + length + (length & 1)
    return fields


def _set_bext_description(path: Path, text: str) -> None:
    """Set a ``bext`` chunk's Description in place (Latin-1, cut to 256 bytes, NUL-padded).

    Latin-1 maps bytes and characters one to one, so a Description :func:`snapshot` read
    is put back byte for byte; other characters become ``?``.
    """
    data = bytearray(path.read_bytes())
    for name, at, size in _chunks(*_of_bytes(bytes(data))):
        if name == b"bext" and size >= 256:
            field = text.encode("latin-1", errors="replace")[:256]
            data[at + 8:at + 8 + 256] = field + b"\0" * (256 - len(field))
            path.write_bytes(bytes(data))
            return


def _set_riff_info(path: Path, values: dict) -> None:
    """Set (or, for None, remove) INFO fields, keeping every other chunk and field as is."""
    data = path.read_bytes()
    info, _ = _riff_fields(path)
    order = list(info)
    for key, value in values.items():
        if value is None:
            info.pop(key, None)
        else:
            info[key] = value
            if key not in order:
                order.append(key)
    body = b"INFO"
    for key in [k for k in order if k in info]:
        text = info[key].encode("utf-8") + b"\0"
        body += key + struct.pack("<I", len(text)) + text + (b"\0" if len(text) & 1 else b"")
    parts = [data[:12]]
    for name, at, size in _chunks(*_of_bytes(data)):
        if name == b"LIST" and data[at + 8:at + 12] == b"INFO":
            continue
        parts.append(data[at:at + 8 + size + (size & 1)])
    if len(body) > 4:
        parts.append(b"LIST" + struct.pack("<I", len(body)) + body)
    out = b"".join(parts)
    out = out[:4] + struct.pack("<I", len(out) - 8) + out[8:]
    path.write_bytes(out)
