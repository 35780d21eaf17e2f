"""What a search is asked by: typed text resolved to a clip or a file, an upload's name,
and a failed search's error said in terms of the user's files.

A typed query (:func:`resolve_typed`) is, in this order:

- a clip of the dataset by its key, however it is spelled (``file://``, ``./``);
- a clip of the dataset by its name as the map's tooltip shows it (``kick copy.aiff``)
  or by the end of its path (``drums/kick copy.aiff``): when exactly one clip matches,
  that clip; when several do, a message asks for more of the path;
- a URL or an absolute path (``file://`` too), read when the :class:`PathPolicy`
  allows it (a refusal reads the same whether the file exists or not); one inside the
  allowed folders that does not exist is said to be not found;
- otherwise a message: no clip is named so (a relative name is never looked up on
  the server's disk outside the dataset's folders).

Surrounding quotes (a path pasted from a file manager or shell) are dropped first.
"""
from __future__ import annotations

import os
from urllib.parse import unquote

import numpy as np
from bokeh.core.property.descriptors import UnsetValueError

from ..access import REFUSED
from .page_data import display_name

QUOTES = {'"': '"', "'": "'", "\u201c": "\u201d", "\u2018": "\u2019", "\u00ab": "\u00bb"}


def uploaded_name(upload) -> str:
    """The file name of a FileInput's upload, or "" when it has not arrived (yet)."""
    try:
        name = upload.filename
    except UnsetValueError:  # the value is applied before the filename
        return ""
    if isinstance(name, (list, tuple)):
        name = name[0] if name else ""
    return name or ""


def unquoted(text: str) -> str:
    """``text`` stripped of spaces and of one pair of surrounding quotes."""
    text = (text or "").strip()
    while len(text) >= 2 and QUOTES.get(text[0]) == text[-1]:
        text = text[1:-1].strip()
    return text


def _is_url(location: str) -> bool:
    return "://" in location and not location.lower().startswith("file://")


def clips_named(keys, name: str) -> list[int]:
    """Rows whose clip the typed ``name`` names: its tooltip name (the file name, with
    its range) or the end of its path, whole path components only."""
    wanted = name.replace("\\", "/")
    while wanted.startswith("./"):
        wanted = wanted[2:]
    if not wanted:
        return []
    tail, base = "/" + wanted, os.path.basename(wanted.split("#t=")[0].split(" [")[0].rstrip("/"))
    found = []
    for row, key in enumerate(keys):
        key = str(key)
        if base not in key and "%" not in key:  # (cheap: 100,000 keys on the event loop)
            continue
        plain = key.replace("\\", "/")
        if display_name(key) == name or any(  # the clip, or its file (a segment's)
                each.endswith(tail) for each in (plain, unquote(plain),
                                                 plain.split("#t=")[0])):
            found.append(row)
    return found


def resolve_typed(dataset, keys, policy, typed: str) -> tuple[str | None, str]:
    """``(query, "")`` to search by, or ``(None, message)`` saying why not (see the module)."""
    text = unquoted(typed)
    if not text:
        return None, "type a file's path or URL, or tag:TEXT, or label:TEXT"
    row = dataset.positions(text, missing="skip")[0]
    if row >= 0:  # one of ours, however it is spelled ('file://', './'): that row
        return keys[row], ""
    location = text.split("#t=")[0]
    path = location[7:] if location.lower().startswith("file://") else location
    if not _is_url(location):
        rows = clips_named(keys, text)
        if len(rows) == 1:
            return keys[rows[0]], ""
        if len(rows) > 1:
            shown = ", ".join(str(keys[at]) for at in rows[:3])
            return None, (f"{len(rows)} clips of the dataset are named '{text}' ({shown}"
                          f"{', ...' if len(rows) > 3 else ''}): type more of its path (or its range)")
    absolute = _is_url(location) or location.lower().startswith("file://") \
        or os.path.isabs(os.path.expanduser(path))
    try:
        policy.check(text)
    except PermissionError as refusal:
        if absolute:
            return None, str(refusal)
        return None, (f"no clip of the dataset is named '{text}' (its name as the map "
                      f"shows it, or the end of its path); {REFUSED}")
    if not _is_url(location) and not os.path.isfile(path):
        return None, f"{text}: file not found"
    return text, ""


def explain_failure(dataset, query, error: Exception) -> str:
    """A failed search's message: a query of clips of the dataset that have no vector
    names their files and why they got none (their ``vector_error``), not row numbers."""
    rows = None
    if isinstance(query, str):
        at = dataset.positions(query, missing="skip")[0]
        rows = [at] if at >= 0 else None
    elif isinstance(query, (list, tuple, np.ndarray)) and len(query) and all(
            isinstance(item, (int, np.integer)) for item in query):
        rows = [int(item) for item in query]
    vectors = dataset.vectors
    if not rows or vectors is None or np.isfinite(vectors[rows]).all(axis=1).any():
        return str(error)
    errors = (dataset.column("vector_error") if "vector_error" in dataset.columns
              else [None] * len(dataset))
    keys = dataset.keys
    said = []
    for at in rows[:5]:
        why = errors[at]
        why = str(why) if isinstance(why, str) and why else "its clip failed to vectorize"
        said.append(f"{keys[at]} ({why})" if str(keys[at]) not in why else why)
    more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
    return (f"{'this clip has' if len(rows) == 1 else 'these clips have'} no vector to "
            f"search by: {'; '.join(said)}{more}")
