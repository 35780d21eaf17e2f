"""The spellings of a clip key: one per clip, and relative paths made absolute.

Two keys can name one clip: ``a.wav#t=1,2`` and ``a.wav#t=1.0,2.000``, ``clips/a.wav``,
``file:///data/clips/a.wav`` and ``/data/x/../clips/a.wav`` and its absolute path. The
dataset keeps one spelling of each (:func:`canonical_key`, :func:`anchored_keys`,
:func:`plain_key`) and finds a row by any (:func:`absolute_key`).
"""
from __future__ import annotations

import os
from pathlib import Path

from .sources import SourceError, clip_id, local_path, parse_key


def canonical_key(key: str, *, strict: bool = False) -> str:
    """The one spelling of a key with a media fragment: times in seconds to the
    millisecond, in their shortest text, the range before the channel; any other key as
    it is (a fragment that does not parse too, unless ``strict``: then it raises
    :class:`~hover_audio.audio.sources.SourceError` saying what is wrong).

    Examples
    --------
    >>> canonical_key("a.wav#t=1.0,2.000"), canonical_key("b.wav#channel=1&t=npt:0:01.5")
    ('a.wav#t=1,2', 'b.wav#t=1.5&channel=1')
    >>> canonical_key("c.wav#t=3.1234,4")
    'c.wav#t=3.123,4'
    >>> canonical_key("Take #3.wav"), canonical_key("d.wav#t=x")
    ('Take #3.wav', 'd.wav#t=x')
    """
    if "#" not in key:
        return key
    try:
        ref = parse_key(key)
    except SourceError:
        if strict:
            raise
        return key
    if ref.location == key:  # a '#' in the name
        return key
    return clip_id(ref.location, ref.start, ref.end, ref.channel)


def anchored_keys(keys, folder: str | os.PathLike) -> list:
    """``keys`` with each relative file path that names a file made absolute: found under
    ``folder`` (a table's relative paths point from the table's own folder), else from
    the current directory (a table written for the shell it was made in).

    So a dataset read from a table works from any current directory later. A relative
    path that names no file in either place, URLs, absolute paths and anything that is
    not a usable key are kept as they are; a media fragment stays on its key.

    Examples
    --------
    >>> anchored_keys(["/x/b.wav#t=1,2", "https://h/c.ogg", "./not/there.wav"], "/data")
    ['/x/b.wav#t=1,2', 'https://h/c.ogg', './not/there.wav']
    """
    folder = Path(os.path.abspath(folder))
    out = []
    for key in keys:
        found = _local(key)
        if found is not None and not found[1].is_absolute() and found[0][:5].lower() != "file:":
            location, path = found
            for place in (folder / path, path.absolute()):
                if place.exists():
                    key = plain_key(str(place) + key[len(location):])
                    break
        out.append(key)
    return out


def plain_key(key: str) -> str:
    """A key naming a local file in a roundabout way (a ``file://`` URL, or ``.``, ``..``
    or ``//`` in an absolute path) as its plain absolute path, its fragment kept; any
    other key as it is. Where a ``..`` follows a symbolic link, so that the plain path
    would name another file, the key is kept too.

    Examples
    --------
    >>> plain_key("file:///x/./b.wav#t=1,2"), plain_key("/x/y/../b.wav")
    ('/x/b.wav#t=1,2', '/x/b.wav')
    >>> plain_key("https://h//c.ogg"), plain_key("rel/../a.wav")
    ('https://h//c.ogg', 'rel/../a.wav')
    """
    if not is_roundabout(key):
        return key
    found = _local(key)
    if found is None or not found[1].is_absolute():
        return key
    location, path = found
    plain = os.path.normpath(path)
    if plain != str(path) and path.exists() and not (
            os.path.exists(plain) and os.path.samefile(plain, path)):
        return key
    return plain + key[len(location):]


def is_roundabout(key: str) -> bool:
    """Whether :func:`plain_key` might change ``key`` (the cheap test before parsing)."""
    return "/." in key or "//" in key or key[:5].lower() == "file:"


def absolute_key(key: str) -> str:
    """A key naming a local file (a relative or absolute path, a ``file://`` URL) as its
    plain absolute path from the current directory, whether or not a file is there (and
    its fragment as it is); any other key as it is.

    Examples
    --------
    >>> import os
    >>> absolute_key("clips/a.wav#t=1,2") == os.path.abspath("clips/a.wav") + "#t=1,2"
    True
    >>> absolute_key("file:///x/./b.wav"), absolute_key("https://h/c.ogg")
    ('/x/b.wav', 'https://h/c.ogg')
    """
    found = _local(key)
    if found is None:
        return key
    location, path = found
    return os.path.normpath(os.path.abspath(path)) + key[len(location):]


def may_have_another_spelling(key: str) -> bool:
    """Whether :func:`canonical_key` or :func:`absolute_key` might change ``key``: a
    fragment, or anything but a plain absolute path (the cheap test before parsing)."""
    return "#" in key or not key.startswith("/") or "/." in key or "//" in key


def _local(key: str) -> tuple[str, Path] | None:
    """``(location, path)`` of a key naming a local file; None for URLs and bad keys."""
    try:
        location = parse_key(key).location
        path = local_path(location)
    except SourceError:
        return None
    return None if path is None else (location, path)
