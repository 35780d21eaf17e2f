"""What native decoders print while they decode, said once instead of once per clip.

libmpg123 (which libsndfile reads MP3 with) writes notes straight to the process's
standard error, e.g. "Warning: Xing stream size off by more than 1%, fuzzy seeking may
be even more fuzzy than by design!" for every MP3 that was cut after encoding: a batch
of such files filled the terminal with one line per clip. Where this process's stderr
is its one thread's alone (a vectorizing worker process, the command line, a script),
:func:`caught` sends file descriptor 2 to a scratch file around each decode of an MPEG
audio file (:func:`may_speak`: the only decoder seen to do it; the others are spared
its five system calls) and prints each distinct line it collects once per process,
naming the clip that said it. With other threads running (a notebook kernel, the
server, a Dask worker) it does nothing: what they write meanwhile must not be caught.
"""
from __future__ import annotations

import os
import sys
import tempfile
import threading
from contextlib import contextmanager, nullcontext
from typing import Iterator

SPEAKING_SUFFIXES = (".mp3", ".mp2", ".mp1", ".mpga")  # read by libmpg123
MAX_READ = 4096  # bytes of one decode's notes looked at (the rest is repetition)
_SCRATCH: list = []  # the scratch file, made on first use
_SAID: set[str] = set()  # lines printed already (each once per process)
_NOTHING = nullcontext()  # caught()'s context for files whose decoder prints nothing


def may_speak(path) -> bool:
    """Whether decoding the file at ``path`` may print notes (an MPEG audio file)."""
    return str(path).lower().endswith(SPEAKING_SUFFIXES)


def caught(name: str, location=None):
    """A context around one decode of clip ``name``: its native notes, each new line
    printed once as ``hover-audio: NAME: LINE``.

    ``location`` is the file decoded: for one that is not MPEG audio (:func:`may_speak`)
    the context does nothing (None: caught whatever it is). Nothing is caught while
    other threads run.
    """
    if location is not None and not may_speak(location):
        return _NOTHING
    return _catching(name)


@contextmanager
def _catching(name: str) -> Iterator[None]:
    """:func:`caught`, for a decode that may speak.

    Five system calls when the decoder says nothing (~3 us against ~0.5 ms a clip).
    The stderr in place is restored, whatever it is now (pytest or IPython may have
    swapped it since the last clip).
    """
    if threading.active_count() > 1:
        yield
        return
    if not _SCRATCH:
        _SCRATCH.append(tempfile.TemporaryFile())
    scratch = _SCRATCH[0].fileno()
    sys.stderr.flush()
    stderr = os.dup(2)
    os.dup2(scratch, 2)
    try:
        yield
    finally:
        os.dup2(stderr, 2)
        os.close(stderr)
        if os.fstat(scratch).st_size:  # (emptied again after each note)
            os.lseek(scratch, 0, os.SEEK_SET)
            text = os.read(scratch, MAX_READ).decode("utf-8", "replace")
            os.ftruncate(scratch, 0)
            os.lseek(scratch, 0, os.SEEK_SET)
            _say(name, text)


def _say(name: str, text: str) -> None:
    for line in text.splitlines():
        line = line.strip()
        if line and line not in _SAID:
            _SAID.add(line)
            print(f"hover-audio: {name}: {line} (said once per process)",
                  file=sys.stderr, flush=True)
