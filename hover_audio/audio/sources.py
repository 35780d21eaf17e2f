"""Clip keys -> something the decoder can open: a local ``Path`` or fetched ``bytes``.

A key is a local path, a ``file://`` URL or an ``http(s)://`` URL, optionally with a
W3C media fragment ``#t=START,END``. Fetching uses the standard library only, with a
connect timeout, a total read deadline, a size limit and retries with backoff.
"""
from __future__ import annotations

import http.client
import math
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from ..common.values import format_number, is_missing, milliseconds

KINDS = ("bad_key", "not_found", "fetch", "timeout", "too_large")
CHUNK = 64 * 1024
USER_AGENT = "hover-audio"
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")  # 2+ characters: "C:" is a drive
_NPT = re.compile(r"^(?:(?:(\d+):)?(\d+):)?(\d+(?:\.\d*)?|\.\d+)$")  # [[hh:]mm:]ss[.f]


class SourceError(Exception):
    """A clip could not be read. ``kind`` is one of ``KINDS``."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message

    def __reduce__(self):  # survive pickling to worker processes with kind and message
        return (type(self), (self.kind, self.message))


@dataclass(frozen=True)
class ClipRef:
    """A parsed key: where the audio lives and which range (seconds) and channel is the clip."""

    key: str
    location: str
    start: float | None
    end: float | None
    channel: int | None = None


def parse_key(key: str, start=None, end=None, channel=None) -> ClipRef:
    """Split ``key`` into its location and its ``#t=`` range, merged with column values.

    Parameters
    ----------
    key
        Path or URL with an optional media fragment: ``#t=START[,END]`` (seconds, ``npt:``,
        ``[hh:]mm:ss``), ``#channel=N`` (one channel, 0-based) or both
        (``#t=1,2&channel=1``); a ``#`` followed by anything else is part of the
        location (``Take #3.wav``).
    start, end, channel
        Column values (None/NaN: missing); a fragment wins but must agree with them.
        ``channel`` is 0-based.

    Raises ``SourceError("bad_key")`` for an empty key, a bad fragment or an invalid range.
    """
    if not isinstance(key, str) or not key.strip():
        raise _bad(key, "empty key")
    location, fragment = _split_fragment(key)
    arg_start, arg_end = _number_arg(key, "start", start), _number_arg(key, "end", end)
    from_fragment = _fragment_channel(key, fragment)
    if fragment is not None and _dimension(fragment, "t") is None:
        fragment = None  # only a channel
    if fragment is None:
        begin, finish = arg_start, arg_end
        if finish is not None and begin is None:
            begin = 0.0
    else:
        begin, finish = _parse_fragment(key, fragment)
        if arg_start is not None and not _same(arg_start, begin):
            raise _bad(key, f"start column {arg_start:g} disagrees with the fragment ({begin:g})")
        if arg_end is not None and (finish is None or not _same(arg_end, finish)):
            raise _bad(key, f"end column {arg_end:g} disagrees with the fragment ({finish})")
    if begin is not None and begin < 0:
        raise _bad(key, f"start {begin:g} is negative")
    if begin is not None and finish is not None and finish <= begin:
        raise _bad(key, f"end {finish:g} is not after start {begin:g}")
    number = _number_arg(key, "channel", channel)
    if number is not None and (number < 0 or not number.is_integer()):
        raise _bad(key, f"channel {channel!r} is not an index >= 0")
    if from_fragment is not None:
        if number is not None and number != from_fragment:
            raise _bad(key, f"channel column {int(number)} disagrees with the fragment "
                            f"({from_fragment})")
        number = from_fragment
    return ClipRef(key, location, begin, finish, None if number is None else int(number))


def clip_id(audio: str, start=None, end=None, channel=None) -> str:
    """The identity of a clip: its key, plus a media fragment from range and channel values
    (times to the millisecond, as :func:`~hover_audio.audio.key_forms.canonical_key` spells them).

    A key that already carries a media fragment is its own identity; a key whose
    range or channel is given apart (table columns) gets the fragment appended, so
    two ranges (or two channels) of one file are two clips.

    Examples
    --------
    >>> clip_id("a.wav", 1.5, 3), clip_id("a.wav#t=1,2", 1, 2), clip_id("a.wav")
    ('a.wav#t=1.5,3', 'a.wav#t=1,2', 'a.wav')
    >>> clip_id("a.wav", channel=1), clip_id("a.wav", 0, 2, 1)
    ('a.wav#channel=1', 'a.wav#t=0,2&channel=1')
    """
    if _split_fragment(audio)[1] is not None:
        return audio
    parts = []
    if not (is_missing(start) and is_missing(end)):
        begin = "" if is_missing(start) else _seconds(start)
        parts.append(f"t={begin}" if is_missing(end) else f"t={begin},{_seconds(end)}")
    if not is_missing(channel):
        parts.append(f"channel={int(channel)}")
    return f"{audio}#{'&'.join(parts)}" if parts else audio


def _seconds(value) -> str:
    """A time in a fragment: seconds to the millisecond, in their shortest text."""
    return format_number(milliseconds(value))


def is_url(location: str) -> bool:
    """Return True for an ``http://`` or ``https://`` URL (any case)."""
    return location[:7].lower() == "http://" or location[:8].lower() == "https://"


def local_path(location: str) -> Path | None:
    """The ``Path`` of a plain path or ``file://`` URL (percent-decoded); None for http(s).

    Raises ``SourceError("bad_key")`` for other schemes and for file URLs naming a
    host other than ``localhost``.
    """
    if is_url(location):
        return None
    match = _SCHEME.match(location)
    if match is None:
        return Path(location)
    if match.group(1).lower() != "file":
        raise SourceError("bad_key", f"{location!r}: unsupported scheme {match.group(1)!r}")
    rest = location[match.end():]
    if rest.startswith("//"):  # file://host/path; a '#' or '?' stays part of the path
        host, slash, path = rest[2:].partition("/")
        if host.lower() not in ("", "localhost"):
            raise SourceError("bad_key", f"{location!r}: file URL on remote host {host!r}")
        rest = slash + path
    if not rest:
        raise SourceError("bad_key", f"{location!r}: file URL without a path")
    return Path(urllib.request.url2pathname(rest))


def fetch(
    url: str,
    *,
    connect_timeout: float = 5.0,
    read_timeout: float = 30.0,
    retries: int = 3,
    backoff: float = 0.5,
    max_bytes: int = 256 * 2**20,
) -> bytes:
    """Download ``url`` and return its body.

    Each attempt must connect within ``connect_timeout`` s and receive headers and body
    within ``read_timeout`` s in total. Connection errors, timeouts and HTTP 5xx/429 are
    retried ``retries`` times, sleeping ``backoff * 2**attempt`` in between.

    Raises ``SourceError``: ``not_found`` (HTTP 404/410), ``fetch`` (other HTTP or
    connection errors), ``timeout``, ``too_large`` (over ``max_bytes``), ``bad_key``.
    """
    try:
        host = urlsplit(url).hostname if is_url(url) else None
    except ValueError:  # e.g. a malformed IPv6 address
        host = None
    if not host:
        raise SourceError("bad_key", f"{url!r}: not an http(s) URL with a host")
    attempts = retries + 1
    for attempt in range(1, attempts + 1):
        try:
            return _fetch_once(url, connect_timeout, read_timeout, max_bytes)
        except SourceError as error:
            if isinstance(error, _Retryable) and attempt < attempts:
                time.sleep(backoff * 2 ** (attempt - 1))
                continue
            tries = f"after {attempt} attempt{'s' if attempt > 1 else ''}"
            raise SourceError(error.kind, f"{url}: {error.message} ({tries})") from None
    raise AssertionError("unreachable")  # pragma: no cover


def read_source(ref: ClipRef, **fetch_options) -> Path | bytes:
    """The audio of ``ref``: an existing local file's ``Path``, or a URL's bytes.

    Raises ``SourceError("not_found")`` for a missing file or a directory; see also
    ``local_path`` and ``fetch`` (which receives ``fetch_options``).
    """
    path = local_path(ref.location)
    if path is None:
        return fetch(ref.location, **fetch_options)
    if path.is_dir():
        raise SourceError("not_found", f"{ref.key!r}: {path} is a directory, not a file")
    if not path.is_file():
        raise SourceError("not_found", f"{ref.key!r}: no such file {path}")
    return path


class _Retryable(SourceError):
    """One failed attempt that may succeed if tried again."""


def _fetch_once(url: str, connect_timeout: float, read_timeout: float, max_bytes: int) -> bytes:
    deadline = time.monotonic() + read_timeout
    sockets: list = []  # this attempt's sockets; the last one carries the final response
    opener = urllib.request.build_opener(_Handler(deadline, sockets))
    # what a browser sends for a URL typed with spaces or other letters a URL cannot
    # hold ('.../Track 18.wav'): those percent-encoded, escapes already there kept
    url = quote(url, safe=":/?#[]@!$&'()*+,;=%~")
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        response = opener.open(request, timeout=connect_timeout)
    except (ValueError, http.client.InvalidURL) as error:
        raise SourceError("bad_key", f"bad URL: {error}") from None
    except urllib.error.HTTPError as error:
        error.close()
        status = f"HTTP {error.code} {error.reason}"
        if error.code in (404, 410):
            raise SourceError("not_found", status) from None
        if error.code == 429 or error.code >= 500:
            raise _Retryable("fetch", status) from None
        raise SourceError("fetch", status) from None
    except urllib.error.URLError as error:
        kind = "timeout" if isinstance(error.reason, TimeoutError) else "fetch"
        raise _Retryable(kind, f"cannot connect: {error.reason}") from None
    except TimeoutError:
        raise _Retryable("timeout", f"no response within {read_timeout:g} s") from None
    except (OSError, http.client.HTTPException) as error:
        raise _Retryable("fetch", f"connection error: {error!r}") from None
    with response:
        length = response.headers.get("Content-Length", "").strip()
        expected = int(length) if length.isdigit() else None
        if expected is not None and expected > max_bytes:
            raise SourceError("too_large", f"Content-Length {expected} > limit {max_bytes}")
        chunks, total = [], 0
        while True:
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    raise TimeoutError
                if sockets:  # wait no longer than the deadline for the next chunk
                    sockets[-1].settimeout(remaining)
                chunk = response.read1(CHUNK)
            except TimeoutError:
                raise _Retryable("timeout", f"body not read within {read_timeout:g} s") from None
            except (OSError, http.client.HTTPException) as error:
                raise _Retryable("fetch", f"error reading the body: {error!r}") from None
            if not chunk:
                break
            total += len(chunk)
            if total > max_bytes:
                raise SourceError("too_large", f"body exceeds the limit of {max_bytes} bytes")
            chunks.append(chunk)
    if expected is not None and total < expected:
        raise _Retryable("fetch", f"body truncated at {total} of {expected} bytes")
    return b"".join(chunks)


class _DeadlineMixin:
    """Connect within the connect timeout, then let reads wait until the deadline only."""

    def __init__(self, *args, deadline: float, sockets: list, **kwargs):
        super().__init__(*args, **kwargs)
        self._deadline, self._sockets = deadline, sockets

    def connect(self):
        super().connect()
        self.sock.settimeout(max(self._deadline - time.monotonic(), 0.001))
        self._sockets.append(self.sock)


class _HTTPConnection(_DeadlineMixin, http.client.HTTPConnection):
    pass


class _HTTPSConnection(_DeadlineMixin, http.client.HTTPSConnection):
    pass


class _Handler(urllib.request.HTTPHandler, urllib.request.HTTPSHandler):
    """Replaces urllib's http and https handlers with deadline-aware connections."""

    def __init__(self, deadline: float, sockets: list):
        super().__init__()
        self._options = {"deadline": deadline, "sockets": sockets}

    def http_open(self, req):
        return self.do_open(_HTTPConnection, req, **self._options)

    def https_open(self, req):
        return self.do_open(_HTTPSConnection, req, **self._options)


def _bad(key, problem: str) -> SourceError:
    return SourceError("bad_key", f"bad clip key {key!r}: {problem}")


FRAGMENT_DIMENSIONS = ("t", "channel")


def _split_fragment(key: str) -> tuple[str, str | None]:
    location, hash_sign, fragment = key.rpartition("#")
    parts = fragment.split("&")
    if not hash_sign or not all(part.partition("=")[1] for part in parts) \
            or not {part.partition("=")[0] for part in parts} & set(FRAGMENT_DIMENSIONS):
        return key, None  # no media fragment: '#' is part of the name ("Take #3.wav")
    return location, fragment


def _dimension(fragment: str, name: str) -> str | None:
    """The value of the last ``name=`` part of a fragment, or None."""
    values = [part[len(name) + 1:] for part in fragment.split("&") if part.startswith(name + "=")]
    return unquote(values[-1]) if values else None


def _fragment_channel(key: str, fragment: str | None) -> int | None:
    text = None if fragment is None else _dimension(fragment, "channel")
    if text is None:
        return None
    if not text.isdigit():
        raise _bad(key, f"channel {text!r} in the fragment is not an index >= 0")
    return int(text)


def _parse_fragment(key: str, fragment: str) -> tuple[float, float | None]:
    value = _dimension(fragment, "t")
    begin_text, comma, end_text = value.removeprefix("npt:").partition(",")
    if (comma and not end_text) or not (begin_text or end_text):
        raise _bad(key, f"malformed media fragment #{fragment}")
    begin = _npt_seconds(key, begin_text) if begin_text else 0.0
    return begin, (_npt_seconds(key, end_text) if end_text else None)


def _npt_seconds(key: str, text: str) -> float:
    match = _NPT.match(text)
    if match is None:
        raise _bad(key, f"{text!r} is not a time")
    hours, minutes, seconds = match.group(1), match.group(2), float(match.group(3))
    if minutes is not None and (seconds >= 60 or (hours is not None and int(minutes) >= 60)):
        raise _bad(key, f"{text!r} is not a clock time")
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + seconds


def _number_arg(key: str, name: str, value) -> float | None:
    if is_missing(value):
        return None
    try:
        if isinstance(value, bool):
            raise TypeError
        number = float(value)
    except (TypeError, ValueError):
        raise _bad(key, f"{name} {value!r} is not a number") from None
    if math.isnan(number):  # NaN of another type (e.g. numpy.float32): missing too
        return None
    if not math.isfinite(number):
        raise _bad(key, f"{name} {value!r} is not finite")
    return number


def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)
