"""Which files are audio, and how the headerless ones are read.

:data:`AUDIO_SUFFIXES` are the file suffixes a folder scan lists (libsndfile's and
ffmpeg's audio formats); :func:`headerless_format` says how to read the telephony
formats whose bytes carry no header, by their suffix.
"""
from __future__ import annotations

import os
from typing import NamedTuple
from urllib.parse import urlsplit


# Headerless telephony formats (what Asterisk and other phone systems record and play):
# nothing in the bytes says what they are, so the file's suffix does, with the rate each
# format implies. libsndfile reads them as RAW (exact, ~1 ms a prompt, against ~60 ms
# for starting ffmpeg, whose probing also misses short GSM prompts and cannot tell
# mu-law from A-law); G.722 only ffmpeg decodes. Other "slin" rates: ".sln16", ... (kHz).
class Headerless(NamedTuple):
    """How to read a headerless file: libsndfile's RAW subtype (None: ffmpeg only),
    ffmpeg's input format, and the rate (None: the format's own)."""

    subtype: str | None
    ffmpeg_format: str
    sr: int | None


SLIN_KHZ = {"8": 8000, "12": 12000, "16": 16000, "24": 24000, "32": 32000, "44": 44100,
            "48": 48000, "96": 96000, "192": 192000}
HEADERLESS = {
    ".gsm": Headerless("GSM610", "gsm", 8000),
    **dict.fromkeys((".ulaw", ".ul", ".mulaw"), Headerless("ULAW", "mulaw", 8000)),
    **dict.fromkeys((".alaw", ".al"), Headerless("ALAW", "alaw", 8000)),
    **dict.fromkeys((".sln", ".slin"), Headerless("PCM_16", "sln", 8000)),
    **{f".sln{khz}": Headerless("PCM_16", "sln", rate) for khz, rate in SLIN_KHZ.items()},
    ".g722": Headerless(None, "g722", None),
}
# the file suffixes decode() reads: libsndfile's and ffmpeg's audio formats
AUDIO_SUFFIXES = frozenset({
    ".wav", ".wave", ".w64", ".rf64", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".mp2",
    ".aif", ".aiff", ".aifc", ".caf", ".au", ".snd", ".m4a", ".aac", ".wma", ".wv", ".mka",
    ".webm", ".amr", ".3gp", *HEADERLESS})


def headerless_format(name: str | os.PathLike) -> Headerless | None:
    """How to read a headerless telephony file, by its suffix (None: it has a header).

    Examples
    --------
    >>> headerless_format("calls/2024-05-01/agent7.ulaw")
    Headerless(subtype='ULAW', ffmpeg_format='mulaw', sr=8000)
    >>> headerless_format("greeting.sln16").sr, headerless_format("take.wav")
    (16000, None)
    >>> headerless_format("https://pbx.example/rec/1.gsm?token=x#t=1,2").subtype
    'GSM610'
    """
    text = str(name).split("#", 1)[0]
    if "://" in text:  # a URL: its path, without the query
        text = urlsplit(text).path
    return HEADERLESS.get(os.path.splitext(text)[1].lower())
