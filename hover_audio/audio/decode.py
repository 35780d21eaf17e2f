"""Bytes or a file -> mono float32 samples: soundfile first, ffmpeg as the fallback.

Only the requested range is decoded (by seeking), and at most ``max_duration``
seconds of it, so one hour-long file cannot stall a batch. Whole plain FLAC and WAV
files are read by miniaudio (:mod:`~hover_audio.audio.whole_file`: the same samples,
2-4x faster on short clips); anything it does not take goes to soundfile.
"""
from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .av_read import probe_with_av, read_range_with_av, read_with_av
from .formats import Headerless, headerless_format
from .whole_file import Frames, ogg_in_wav, promised_frames, read_whole

FFMPEG_TIMEOUT = 120.0
# libsndfile's seek in these codecs can land hundreds of samples late (libsndfile
# issue 885): their ranges are read by PyAV's seek with a lead-in (av_read); without
# PyAV, a start up to EXACT_SKIP_SECONDS in is reached by decoding from the start and
# discarding, a later one through the ffmpeg program.
LOSSY_SUBTYPES = ("VORBIS", "OPUS", "MPEG_LAYER_I", "MPEG_LAYER_II", "MPEG_LAYER_III")
EXACT_SKIP_SECONDS = 120.0
HEADER_BYTES = 1 << 16  # read for a header's length (a WAV's data chunk may follow a LIST)
FROM_START = ("VORBIS",)  # ranges up to EXACT_SKIP_SECONDS in: decoded from the start

KINDS = ("decode", "empty", "range")
class DecodeError(Exception):
    """A clip could not be decoded. ``kind`` is one of ``KINDS``."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind

    def __reduce__(self):  # keep the kind when sent between processes
        return (type(self), (self.kind, str(self)))


class Audio(NamedTuple):
    """Decoded samples (mono float32), their rate, whether the cap cut them, and, for a
    whole file that holds less than its header says (a download or copy cut short), the
    seconds the header promised (else None)."""

    samples: np.ndarray
    sr: int
    truncated: bool
    promised: float | None = None


class Probe(NamedTuple):
    """What a file's header says: seconds, sample rate, channels."""

    duration: float
    sr: int
    channels: int


def probe(location) -> Probe | None:
    """The header facts of a local file (path or ``file://`` location), None when the file
    is not local or neither libsndfile nor PyAV reads it; nothing is decoded."""
    import soundfile

    from .sources import local_path

    path = local_path(str(location))
    if path is None:
        return None
    try:
        info = soundfile.info(str(path))
    except Exception:  # not libsndfile's (M4A, WebM, ...): PyAV's, if it reads it
        info = None
    guessed = info is not None and length_guessed(info.format, path)  # PyAV counts
    facts = probe_with_av(path, count=guessed) if info is None or guessed else None
    if facts is not None:
        return Probe(*facts)
    return None if info is None else Probe(float(info.duration), int(info.samplerate),
                                           int(info.channels))


def decode(
    source: str | os.PathLike | bytes,
    *,
    start: float | None = None,
    end: float | None = None,
    channel: int | None = None,
    max_duration: float | None = None,
    name: str | None = None,
    data: bytes | None = None,
) -> Audio:
    """Decode ``source`` (a file path, as str or Path, or its bytes) to mono float32 at its
    native rate.

    Parameters
    ----------
    start, end
        The range to decode, in seconds (None: from the beginning / to the end).
    channel
        Keep this channel (0-based) instead of mixing all channels down.
    max_duration
        Decode at most this many seconds; ``truncated`` tells when it cut.
    name
        How to call the clip in error messages (default: the path).
    data
        The bytes of the file at ``source``, when they were read already (to hash
        them): they are decoded instead of reading the file again, so the samples
        are those of exactly these bytes (ffmpeg, the fallback, still reads the file).
    """
    if not isinstance(source, (bytes, bytearray, memoryview, Path)):  # (a Path as it is)
        source = Path(source)  # raises TypeError for anything that is not a path either
    name = name or (str(source) if isinstance(source, Path) else "<bytes>")
    contents = data if data is not None else source  # what the in-process decoders read
    if isinstance(contents, Path) and contents.is_dir():  # (a folder has a size too)
        raise IsADirectoryError(f"{name}: a folder, not an audio file")
    size = contents.stat().st_size if isinstance(contents, Path) else len(contents)
    if size == 0:
        raise DecodeError("empty", f"{name}: empty file (0 bytes)")
    raw = headerless_format(source if isinstance(source, Path) else name)
    whole_file = not (start or end is not None or raw)  # what the in-process readers take
    checked = False  # whether the reader knows the file held the length its header says
    try:
        if raw is not None and raw.subtype is None:  # only ffmpeg reads it: told what it is
            if shutil.which("ffmpeg") is None:
                raise DecodeError("decode",
                                  f"{name}: cannot decode {raw.ffmpeg_format} without ffmpeg")
            raise _UseFfmpeg()
        whole = read_whole(contents, max_duration) if whole_file else None
        checked = whole is not None  # read_whole takes only files that hold their length
        audio = (_whole_audio(whole, channel, name) if whole is not None else
                 _decode_soundfile(contents, start, end, channel, max_duration, name, raw))
    except DecodeError:
        raise
    except _UseFfmpeg:
        checked = True  # (a range, or a headerless file)
        audio = _decode_ffmpeg(source, start, end, channel, max_duration, name, raw)
    except Exception as soundfile_error:  # libsndfile does not know the format
        # ffmpeg's libraries, in this process: a whole file, or a range of an MP4-family one
        whole = read_with_av(contents, max_duration) if whole_file else None
        part = None if whole_file else read_range_with_av(contents, start, end, max_duration)
        # looked for only when those fail (it reads the file's head again)
        wrapped = ogg_in_wav(contents) if whole is None and part is None else None
        if whole is not None:
            audio = _whole_audio(whole, channel, name)
        elif part is not None:
            audio = Audio(_mix(part[0].frames, channel, name), part[0].sr, part[1])
        elif wrapped is not None:  # Ogg Vorbis in a WAV file: decoded as the Ogg it holds
            return decode(wrapped, start=start, end=end, channel=channel,
                          max_duration=max_duration, name=name)
        elif shutil.which("ffmpeg") is None:
            raise DecodeError("decode", f"{name}: cannot decode: {soundfile_error}") from None
        else:
            try:
                audio = _decode_ffmpeg(source, start, end, channel, max_duration, name, raw)
            except DecodeError as error:
                reason = None if getattr(error, "named", True) else _own_reason(
                    soundfile_error, contents)
                if reason is None:
                    raise
                raise DecodeError(error.kind, f"{name}: cannot decode: {reason}") from None
    if whole_file and not (checked or audio.truncated):
        audio = audio._replace(promised=_promised_seconds(contents, audio.sr, len(audio.samples)))
    return _checked(audio, name, start, end)


def _own_reason(error: Exception, contents: Path | bytes) -> str | None:
    """libsndfile's reason a WAV, AIFF or FLAC file is damaged ("Short 'fmt ' chunk"),
    which names the fault where ffmpeg's last line only says it failed ("Invalid data
    found", "Cannot allocate memory"); None for other files, or no such reason."""
    reason = getattr(error, "error_string", None)  # (soundfile's, without its file name)
    if not reason:
        return None
    if isinstance(contents, Path):
        with contents.open("rb") as handle:
            head = handle.read(4)
    else:
        head = bytes(contents[:4])
    return reason if head in (b"RIFF", b"RIFX", b"RF64", b"FORM", b"fLaC") else None


def _whole_audio(whole: Frames, channel: int | None, name: str) -> Audio:
    """A whole file read in this process (``whole_file`` or ``av_read``) as Audio."""
    return Audio(_mix(whole.frames, channel, name, whole.scale), whole.sr, False)


def _checked(audio: Audio, name: str, start, end) -> Audio:
    """The decoded audio as float32, contiguous and finite; no samples is an error."""
    samples = audio.samples
    if samples.size == 0:
        where = f" in range {start or 0:g}-{'end' if end is None else f'{end:g}'} s" if (
            start or end is not None) else ""
        raise DecodeError("empty", f"{name}: no audio samples{where}")
    if not np.isfinite(samples).all():  # float files can hold NaN/inf
        samples = np.nan_to_num(samples, nan=0.0, posinf=1.0, neginf=-1.0)
    return Audio(np.ascontiguousarray(samples, dtype=np.float32), audio.sr, audio.truncated,
                 audio.promised)


def _frames_wanted(sr: int, start, end, max_duration, total: int | None):
    first = int(round((start or 0.0) * sr))
    last = total if end is None else int(round(end * sr))
    last = min(last, total) if total is not None and last is not None else last
    count = None if last is None else max(0, last - first)
    truncated = False
    if max_duration is not None:
        cap = int(max_duration * sr)
        if count is None or count > cap:
            truncated = count is None or count > cap
            count = cap
    return first, count, truncated


def _mix(frames: np.ndarray, channel: int | None, name: str = "",
         scale: float = 1.0) -> np.ndarray:
    """One channel, or the mean of all, as float32 times ``scale`` (frames x channels in).

    The mean is one matrix-vector product: ``frames.mean(axis=1)`` over two
    interleaved channels is ~30x slower (41 ms for a minute of 44.1 kHz stereo).
    """
    count = frames.shape[1]
    if channel is not None:
        if not 0 <= channel < count:
            raise DecodeError("decode", f"{name}: channel {channel} requested, file has {count}")
        return np.multiply(frames[:, channel], np.float32(scale), dtype=np.float32)
    if count == 1:  # converted and scaled in one pass
        return np.multiply(frames[:, 0], np.float32(scale), dtype=np.float32)
    weights = np.full(count, scale / count, dtype=np.float32)
    return frames.astype(np.float32, copy=False) @ weights


class _UseFfmpeg(Exception):
    """This range is better decoded by ffmpeg."""


class _GuessedLength(Exception):
    """libsndfile would guess the length (and stop there): PyAV or ffmpeg count instead."""


def length_guessed(sound_format: str, source: Path | bytes) -> bool:
    """Whether libsndfile only guesses the length of a file (``sound_format`` as soundfile
    names it), where PyAV counts instead: an MP3 whose first frame does not say how many
    follow (no Xing, Info or VBRI header, as mutagen reads it). libsndfile takes its bitrate
    for the whole file's: a VBR file loud at first ended early (20 s read as 2.8 s)."""
    if sound_format != "MP3":
        return False
    from mutagen.mp3 import BitrateMode, MPEGInfo

    try:  # the frame header alone (ID3 tags skipped, not parsed): ~12 us, not ~70
        with source.open("rb") if isinstance(source, Path) else io.BytesIO(source) as handle:
            info = MPEGInfo(handle)
    except Exception:  # noqa: BLE001 - mutagen cannot read it: libsndfile says what is wrong
        return False
    return info.bitrate_mode == BitrateMode.UNKNOWN


def _decode_soundfile(source, start, end, channel, max_duration, name,
                      raw: Headerless | None = None) -> Audio:
    import soundfile

    handle = source if isinstance(source, Path) else io.BytesIO(source)
    told = {} if raw is None else dict(format="RAW", subtype=raw.subtype, samplerate=raw.sr,
                                       channels=1, endian="LITTLE")
    with soundfile.SoundFile(handle, **told) as sound:
        if length_guessed(sound.format, source):
            raise _GuessedLength("an MP3 without a frame count (no Xing, Info or VBRI "
                                 "header), whose length libsndfile guesses")
        sr, total = sound.samplerate, sound.frames
        known_total = total if 0 < total < 2**62 else None
        first, count, truncated = _frames_wanted(sr, start, end, max_duration, known_total)
        if known_total is not None and first >= known_total and (start or 0) > 0:
            raise DecodeError(
                "range",
                f"{name}: range starts at {start:g} s, after the end ({known_total / sr:g} s)",
            )
        skip = 0
        if first and sound.subtype in LOSSY_SUBTYPES:
            # Vorbis: from the start while that is cheap, exact for sure (ffmpeg's Ogg
            # demuxer misplaces some Vorbis frames, which the vote may follow)
            part = None if sound.subtype in FROM_START and first <= EXACT_SKIP_SECONDS * sr \
                else read_range_with_av(source, start, end, max_duration)
            if part is not None:
                return Audio(_mix(part[0].frames, channel, name), part[0].sr, part[1])
            if first > EXACT_SKIP_SECONDS * sr and shutil.which("ffmpeg"):
                raise _UseFfmpeg()
            # one read from the start: libsndfile also decodes its own MP3s
            # wrongly when they are read in several pieces
            skip, first = first, 0
        if first:
            sound.seek(first)
        wanted = -1 if count is None else skip + count
        # 16-bit PCM read as integers and scaled here: the same values as libsndfile's
        # float conversion (x / 32768), 3x faster
        pcm16 = sound.subtype == "PCM_16"
        frames = sound.read(wanted, dtype="int16" if pcm16 else "float32", always_2d=True)[skip:]
        truncated = truncated and len(frames) >= (count or 0)
        return Audio(_mix(frames, channel, name, 1.0 / 32768 if pcm16 else 1.0), sr, truncated)


def _promised_seconds(source: Path | bytes, sr: int, held: int) -> float | None:
    """The seconds a WAV or FLAC file's header promises, when the ``held`` frames read
    from it are fewer (the file was cut short); else None. (libsndfile and PyAV read
    what is there and say nothing; the fast readers of whole_file leave such files to them.)"""
    if isinstance(source, Path):
        with source.open("rb") as handle:
            head = handle.read(HEADER_BYTES)
    else:
        head = bytes(source[:HEADER_BYTES])
    promised = promised_frames(head)
    if promised is None or promised[1] != sr or held >= promised[0]:
        return None
    return promised[0] / sr


_STREAM = re.compile(rb"Audio: [^\n]*?(\d+) Hz, ([^,\n]+)")
_DURATION = re.compile(rb"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")
_NO_DECODER = re.compile(rb"Input #0, (\w+),.*?Audio: none \((.*?) / (0x[0-9A-Fa-f]+)\)",
                         re.DOTALL)
_LAYOUTS = {"mono": 1, "stereo": 2, "2.1": 3, "3.0": 3, "3.0(back)": 3, "quad": 4, "4.0": 4,
            "4.1": 5, "5.0": 5, "5.0(side)": 5, "5.1": 6, "5.1(side)": 6, "6.0": 6, "6.1": 7,
            "7.0": 7, "7.1": 8, "7.1(wide)": 8, "octagonal": 8, "downmix": 2}


def _channels(layout: bytes) -> int | None:
    text = layout.decode(errors="replace").strip()
    if text in _LAYOUTS:
        return _LAYOUTS[text]
    match = re.match(r"(\d+) channels", text)
    return int(match.group(1)) if match else None


def _decode_ffmpeg(source, start, end, channel, max_duration, name,
                   raw: Headerless | None = None) -> Audio:
    with tempfile.TemporaryDirectory(prefix="hover-audio-") as scratch:
        if isinstance(source, Path):
            path = str(source)
        else:
            path = os.path.join(scratch, "clip")
            with open(path, "wb") as handle:
                handle.write(source)
        command = ["ffmpeg", "-nostdin", "-hide_banner", "-v", "info"]
        if start:
            command += ["-ss", f"{start:.6f}"]
        if raw is not None:  # what the bytes are, since nothing in them says
            command += ["-f", raw.ffmpeg_format]
            if raw.sr is not None:
                command += ["-sample_rate", str(raw.sr)]
        command += ["-i", path, "-map", "0:a:0", "-vn"]
        wanted = None if end is None else end - (start or 0.0)
        capped = max_duration is not None and (wanted is None or wanted > max_duration)
        if capped:
            wanted = max_duration
        if wanted is not None:
            command += ["-t", f"{wanted:.6f}"]
        command += ["-f", "f32le", "-acodec", "pcm_f32le", "pipe:1"]
        try:
            done = subprocess.run(command, capture_output=True, timeout=FFMPEG_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise DecodeError("decode", f"{name}: ffmpeg took over {FFMPEG_TIMEOUT:g} s") from None
    streams = _STREAM.findall(done.stderr)
    if done.returncode != 0 or not streams:
        detail = done.stderr.decode(errors="replace").strip().splitlines()
        reason = detail[-1] if detail else f"ffmpeg exit code {done.returncode}"
        reason = reason.removeprefix(f"{path}: ")
        unknown = _NO_DECODER.search(done.stderr)
        if unknown:  # a container ffmpeg reads around a codec nothing here decodes
            container, tag, code = (part.decode(errors="replace") for part in unknown.groups())
            reason = (f"a {container} file whose codec (tag {code} '{tag.replace('[0]', '')}') "
                      f"neither libsndfile nor ffmpeg decodes")
        error = DecodeError("decode", f"{name}: cannot decode: {reason}")
        error.named = unknown is not None  # the reason names the fault (else: _own_reason)
        raise error
    sr, count = int(streams[-1][0]), _channels(streams[-1][1])  # the output stream
    if count is None:
        raise DecodeError("decode", f"{name}: unknown channel layout {streams[-1][1]!r}")
    samples = np.frombuffer(done.stdout, dtype="<f4")
    frames = samples[: len(samples) // count * count].reshape(-1, count)
    if not len(frames) and start:
        duration = _DURATION.search(done.stderr)
        total = (float(duration.group(1)) * 3600 + float(duration.group(2)) * 60
                 + float(duration.group(3))) if duration else None
        if total is not None and start >= total:
            raise DecodeError("range",
                              f"{name}: range starts at {start:g} s, after the end ({total:g} s)")
    truncated = capped and len(frames) >= int(max_duration * sr) - 1
    return Audio(_mix(frames, channel, name), sr, truncated)


def resample(samples: np.ndarray, sr: int, target_sr: int) -> np.ndarray:
    """Resample with soxr (high quality); a no-op when the rates agree."""
    if sr == target_sr:
        return samples
    import soxr

    return soxr.resample(samples, sr, target_sr, quality="HQ").astype(np.float32, copy=False)
