"""Tags written into audio files' own metadata (mutagen), so every search tool finds them.

Where the tags go, per container:

=================  =====================================================================
MP3, AIFF          ID3v2.4: ``TCON`` (genre, one per tag), ``TXXX:hover-audio tags``
                   (``;``-joined), ``COMM`` (``hover-audio``: "tags: a, b")
FLAC, Ogg, Opus    Vorbis comments: ``GENRE`` (one per tag), ``KEYWORDS``; ``DESCRIPTION``
WAV                RIFF ``LIST``/``INFO``: ``IKEY`` (keywords, ``;``-joined); ``ICMT``, and
                   the BWF ``bext`` Description (Latin-1) where the file has a ``bext``
=================  =====================================================================

The container is told by the file's content, which must be what its suffix says
(:mod:`hover_audio.audio.tag_containers`); a corrupt ID3 or RIFF block is refused.
A description or comment field (``DESCRIPTION``, ``ICMT``, ``bext``) is written only
when it is empty or holds what hover-audio wrote there (``hover-audio tags: ...``):
another tool's description is never touched. Tags already in the files are kept;
``drop`` (:func:`write_tags`) names tags hover-audio wrote before that a new run
replaces. WAV genres (``IGNR``) are read, never written. Nothing else in the file
changes: the audio data is copied byte for byte, the fields are set on a temporary
copy, the copy is read back and only then renamed over the original (permissions and
times kept; :mod:`hover_audio.audio.tag_copies`); a copy that does not read back as
written is thrown away, the file untouched. :func:`snapshot` records the fields before
a write, so :func:`restore` puts them back exactly (the ``untag`` command).

``;`` separates tags everywhere (the workspace's ``tags`` column, ``IKEY``, ``TXXX``,
the folder reader), so a tag never contains it: a label ``"rock; pop"`` is written as
the two tags ``pop`` and ``rock`` (:func:`split_tags` says so), and a field another tool
wrote as ``"rain, thunder; storm"`` reads as three tags. A ``,`` inside a tag is kept.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..common.values import fold
from .riff_info import bext_text, riff_fields, same_text, write_fields
from .tag_containers import KINDS, TagError, check_id3, kind_of
from .tag_copies import rewrite

__all__ = ["KINDS", "OURS", "TagError", "kind_of", "merged", "read_tags", "restore",
           "same_fields", "snapshot", "split_tags", "tags_in", "write_tags"]
OURS = "hover-audio tags"


# ----------------------------------------------------------------- snapshots
def snapshot(path: str | os.PathLike) -> dict:
    """The metadata fields tags are written to, as they are now (JSON-ready)."""
    path = Path(path)
    kind = kind_of(path)
    try:
        if kind == "riff":
            info, description = riff_fields(path)
            return {"kind": kind, "IKEY": info.get(b"IKEY"), "ICMT": info.get(b"ICMT"),
                    "bext": description, "IGNR": info.get(b"IGNR")}
        if kind == "vorbis":
            audio = _mutagen_file(path)
            tags = audio.tags or {}
            return {"kind": kind, **{name: list(tags[name]) if name in tags else None
                                     for name in ("GENRE", "KEYWORDS", "DESCRIPTION")}}
        check_id3(path, kind)
        frames = _id3(path, kind)
        return {"kind": kind,
                "TCON": list(frames["TCON"].text) if frames and "TCON" in frames else None,
                "TXXX": _txxx(frames), "COMM": _comm(frames)}
    except TagError:
        raise
    except Exception as error:
        raise TagError(f"{path}: cannot read its tags: {type(error).__name__}: {error}") from None


def same_fields(current: dict, recorded: dict) -> bool:
    """True when ``current`` (a :func:`snapshot`) holds every field of ``recorded`` as
    recorded (a manifest written before a field was read has no entry for it).

    A WAV's INFO field in a Windows code page matches the text an earlier version
    recorded for it (:func:`~hover_audio.audio.riff_info.same_text`).
    """
    riff = current.get("kind") == "riff"
    return all(current.get(name) == value or (
        riff and isinstance(value, str) and isinstance(current.get(name), str)
        and same_text(current[name], value)) for name, value in recorded.items())


def tags_in(state: dict) -> set[str]:
    """The tags a :func:`snapshot` holds (split at ``;``: no tag contains it)."""
    kind, found = state["kind"], set()
    if kind == "riff":
        found |= _split(state.get("IKEY"), ";") | _split(state.get("IGNR"), ";")
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
               before: dict | None = None, drop=(), run: str | None = None
               ) -> tuple[set, set]:
    """Merge ``tags`` into the file's metadata; returns (tags before, tags after).

    ``drop``: tags to take out first (what hover-audio wrote before, which ``tags``
    replaces); every other tag the file holds is kept. Tags are compared in any case
    (as the workspace compares them): a tag the file holds as "Rain" is not added
    again as "rain", nor kept when ``drop`` names it "rain". With ``dry_run`` nothing is
    written; ``before``: the file's :func:`snapshot`, when the caller has just taken
    it; ``run``: the ``tag`` run, named in the temporary copy's name. Raises
    :class:`TagError` naming the file and the reason (read-only, cannot hold tags,
    corrupt tag block, ...).
    """
    path = Path(path)
    before = snapshot(path) if before is None else before
    old = tags_in(before)
    target = fields_for(before, merged(old, split_tags(tags)[0], drop))
    new = tags_in(target)
    bad = sorted(tag for tag in new - old if any(ord(c) < 32 or ord(c) == 127 for c in tag))
    if bad:
        raise TagError(f"{path}: the tag(s) {', '.join(map(repr, bad))} contain control "
                       "characters, which RIFF INFO and ID3 cannot hold; not written")
    if new != old and (not os.access(path, os.W_OK) or not path.stat().st_mode & 0o222):
        raise TagError(f"{path}: read-only, not written")  # (even for root: the user's intent)
    if dry_run or new == old:
        return old, new

    def check(copy: Path) -> None:
        after = snapshot(copy)
        if not same_fields(after, target):
            raise TagError(f"{path}: the written tags read back as {sorted(tags_in(after))}, "
                           f"not {sorted(new)}; the file was left as it was")

    _rewrite_fields(path, target, check, run)
    return old, new


def merged(held, tags, drop=()) -> set[str]:
    """The tags ``held`` less ``drop``, with each of ``tags`` not held in some case (the
    spelling held wins; of two new spellings of one tag, the first in sorted order).
    A tag of ``drop`` takes out the spelling held as it is, else every spelling of it.

    Examples
    --------
    >>> sorted(merged({"Rain", "storm", "mine"}, {"rain", "Thunder", "thunder"}, drop={"MINE"}))
    ['Rain', 'Thunder', 'storm']
    >>> sorted(merged({"Rain", "rain"}, {"thunder"}, drop={"rain"}))
    ['Rain', 'thunder']
    """
    exact = set(drop) & set(held)  # a spelling held goes; another tool's "Rain" stays
    gone = {fold(tag) for tag in set(drop) - exact}  # beside our "rain" (when dropped)
    kept = {tag for tag in held if tag not in exact and fold(tag) not in gone}
    seen = {fold(tag) for tag in kept}
    for tag in sorted(tags):
        if fold(tag) not in seen:
            kept.add(tag)
            seen.add(fold(tag))
    return kept


def fields_for(before: dict, tags: set[str]) -> dict:
    """The fields of a file whose fields are ``before`` once it holds exactly ``tags``.

    Genre and keyword fields list ``tags``; a description or comment field is set only
    when it is empty or holds what hover-audio wrote there (``hover-audio tags: ...``).
    """
    keywords = sorted(tags)
    listed = ", ".join(keywords)
    ours = f"{OURS}: {listed}" if keywords else None
    state, kind = dict(before), before["kind"]
    if kind == "riff":
        state["IKEY"] = ";".join(keywords) or None
        if _free(before.get("ICMT")):
            state["ICMT"] = ours
        if before.get("bext") is not None and _free(before["bext"]):
            state["bext"] = bext_text(ours or "")
    elif kind == "vorbis":
        state.update(GENRE=keywords or None, KEYWORDS=[listed] if keywords else None)
        if all(_free(text) for text in before.get("DESCRIPTION") or []):
            state["DESCRIPTION"] = [ours] if keywords else None
    else:
        state.update(TCON=keywords or None, TXXX=";".join(keywords) or None,
                     COMM=f"tags: {listed}" if keywords else None)
    return state


def _free(text: str | None) -> bool:
    """True for a description field hover-audio may write: empty, or written by it."""
    return not text or text.startswith(f"{OURS}: ")


def restore(path: str | os.PathLike, state: dict, run: str | None = None) -> None:
    """Put the fields of a :func:`snapshot` back exactly (absent fields are removed).

    The fields are set on a copy that must read back as ``state`` before it replaces
    the file; otherwise :class:`TagError` is raised and the file is left as it was.
    """
    expected = dict(state)
    if expected.get("bext") is not None:  # as write_fields can write it
        expected["bext"] = bext_text(expected["bext"])

    def check(copy: Path) -> None:
        if not same_fields(snapshot(copy), expected):
            raise TagError(f"{path}: the restored fields do not read back as recorded; "
                           "the file was left as it was")

    _rewrite_fields(path, state, check, run)


def _rewrite_fields(path: Path, state: dict, check, run: str | None) -> None:
    """Replace ``path`` by a copy with the fields of ``state`` (a :func:`snapshot`'s shape)
    that passes ``check``; a WAV file is read and written once (its fields set as it is
    copied), the others copied, then their fields set by mutagen."""
    if state["kind"] == "riff":
        values = {b"IKEY": state.get("IKEY"), b"ICMT": state.get("ICMT")}
        rewrite(path, lambda copy: write_fields(path, copy, values, state.get("bext")),
                check, run, copied=False)
    else:
        rewrite(path, lambda copy: _set_fields(copy, state), check, run)


def _set_fields(path: Path, state: dict) -> None:
    """Set the fields of ``state`` (a :func:`snapshot`'s shape) in the file ``path``
    (Vorbis comments or ID3; WAV: :func:`_rewrite_fields`)."""
    kind = state["kind"]
    if kind == "vorbis":
        audio = _mutagen_file(path)
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
        _set_id3(path, state, aiff=kind == "aiff")


# --------------------------------------------------------------------- ID3
def _mutagen_file(path: Path):
    import mutagen

    audio = mutagen.File(str(path))
    if audio is None:
        raise TagError(f"{path}: not an audio file mutagen can tag")
    return audio


def _id3(path: Path, kind: str):
    from mutagen.aiff import AIFF
    from mutagen.id3 import ID3, ID3NoHeaderError

    if kind == "aiff":
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
        try:  # (not the ID3v1 fields: they would join the ID3v2 frames written back)
            frames = ID3(str(path), load_v1=False)
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
        return
    with open(path, "rb") as handle:  # an ID3v1 tag at the end is another tool's: kept as is
        handle.seek(max(0, path.stat().st_size - 128))
        v1 = handle.read(128)
    v1 = v1 if len(v1) == 128 and v1[:3] == b"TAG" else None
    frames.save(str(path), v2_version=4, v1=0 if v1 is None else 1)
    if v1 is not None:  # (mutagen would write it again from the ID3v2 frames)
        with open(path, "r+b") as handle:
            handle.seek(-128, os.SEEK_END)
            handle.write(v1)
