"""An uploaded file as a search query: its vector, a note on it, errors in its own name.

The upload's bytes are decoded in memory, named by the user's file name (the upload's
``filename``), and its vector computed by the index's vectorizer: what goes wrong
names that file (never a server's temporary file), and what the command line notes
for a clip that still got a vector (``vectors.batch.NOTE_KINDS``: a file that holds
less than its header says, a silent one, one longer than the vectorizer reads) is
the search's note. Nothing is written to the on-disk vector cache: no temporary file
is hashed and memoized by a path that is deleted at once, and a search thread never
opens the shared database (a page's search must not race another process's batch).

A vectorizer that is not an :class:`~hover_audio.vectors.contract.AudioVectorizer`
(a ``key -> vector`` callable) needs a path: it gets a temporary copy in a folder of
its own, removed once read, and its errors say the user's file name instead.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from typing import NamedTuple

import numpy as np

UNNAMED = "the uploaded file"  # an upload whose filename never came


class Upload(NamedTuple):
    """An uploaded file: its name on the user's side ("" when not sent) and its bytes."""

    name: str
    data: bytes

    @property
    def shown(self) -> str:
        """How messages call it: the user's file name."""
        return os.path.basename(self.name.replace("\\", "/")) or UNNAMED


class KeptUpload(NamedTuple):
    """An upload once searched by: its vector (of every aspect: each index takes its
    part) and note, so that another aspect searches it again without its bytes."""

    vector: np.ndarray
    note: str


class UploadError(Exception):
    """An upload could not be searched by; the message names the user's file."""


def upload_query(index, upload: Upload) -> tuple[np.ndarray, str]:
    """``(vector, note)`` of ``upload`` for ``index.search``; the note is "" or
    ``kind: message`` (a cut-short, silent or truncated file: it has a vector all the
    same). Raises :class:`UploadError` naming the user's file."""
    from ...vectors.contract import AudioVectorizer

    vectorizer = index.vectorizer
    if vectorizer is None:
        raise UploadError(f"{upload.shown}: a new file cannot be searched by: the map's "
                          "vectors were made by a vectorizer this version cannot rebuild")
    try:
        if isinstance(vectorizer, AudioVectorizer):
            return _audio_vector(vectorizer, upload)
        return _callable_vector(vectorizer, upload), ""
    except UploadError:
        raise
    except Exception as error:  # a vectorizer may raise anything
        raise upload_error(upload, error) from None


def _audio_vector(vectorizer, upload: Upload) -> tuple[np.ndarray, str]:
    """The vector and note of an upload, decoded from its bytes (as a batch's clip)."""
    from ...audio.decode import decode
    from ...vectors.batch import NOTE_KINDS
    from ...vectors.jobs import Decoded, Job, vector_of

    name = upload.shown
    audio = decode(upload.data, max_duration=vectorizer.max_duration, name=name)
    outcome = vector_of(vectorizer, Decoded(Job(0, name), audio, None))
    if outcome.vector is None:
        raise UploadError(outcome.message)
    note = f"{outcome.kind}: {outcome.message}" if outcome.kind in NOTE_KINDS else ""
    return np.asarray(outcome.vector, dtype=np.float32), note


def _callable_vector(vectorizer, upload: Upload) -> np.ndarray:
    """The vector of an upload by a ``key -> vector`` callable: a temporary copy's key."""
    folder = tempfile.mkdtemp(prefix="hover-audio-upload-")
    suffix = os.path.splitext(upload.shown)[1] or ".wav"
    path = os.path.join(folder, "upload" + suffix)
    try:
        with open(path, "wb") as handle:
            handle.write(upload.data)
        try:
            return np.asarray(vectorizer(path), dtype=np.float32)
        except Exception as error:  # a user's function may raise anything
            raise upload_error(upload, error, path) from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def upload_error(upload: Upload, error: Exception, path: str | None = None) -> UploadError:
    """``error`` as an :class:`UploadError` that names the user's file (where the message
    named ``path``, the temporary copy, it names the upload)."""
    text = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
    if path:
        text = text.replace(path, upload.shown)
    if not text:
        text = type(error).__name__
    if upload.shown not in text:
        text = f"{upload.shown}: {text}"
    return UploadError(text)
