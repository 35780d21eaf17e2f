"""Writers of messy test audio: every function here WRITES files into a given folder.

Real collections mix bit depths, rates, containers and codecs, and hold broken
files; the tests decode this corpus instead of one tidy WAV. Everything is made
with numpy + ``soundfile`` (libsndfile >= 1.2 for MP3/Opus) or the ``ffmpeg``
binary, both installed by the Makefile, so nothing is downloaded.

Each writer returns :class:`Clip` records (or plain paths for broken files)
describing what was written, so tests can assert the decoded length, rate and
dominant frequency.
"""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

AMPLITUDE = 0.5
SECONDS = 1.5
STEP_FREQS = (440.0, 880.0, 1320.0)  # one second each, in the "steps" files
TALK_SECONDS = 20.0  # the "talk" files
LONG_MINUTES = 20
LONG_SR = 8000
LONG_HEAD = (0.0, 5.0, 300.0)  # (start, end, frequency) of the tones in long.flac
LONG_TAIL = (1190.0, 1195.0, 1000.0)
THREE_TONES = ((0.5, 1.5, 440.0), (3.0, 3.5, 660.0), (5.0, 6.0, 880.0))  # in 7 s


@dataclass(frozen=True)
class Clip:
    """A written file and what decoding it must give back."""

    path: Path
    sr: int
    frames: int  # frames written: the expected decoded length
    channels: int = 1
    freq: float | None = None  # dominant frequency of channel 0; None: no tone
    slack: int = 0  # samples a lossy codec may add or drop (0: exact, PCM)

    @property
    def duration(self) -> float:
        return self.frames / self.sr


# ------------------------------------------------------------------ signals
def tone(freq: float, seconds: float, sr: int, amplitude: float = AMPLITUDE) -> np.ndarray:
    """A sine of ``freq`` Hz, float64, ``round(seconds * sr)`` samples."""
    t = np.arange(int(round(seconds * sr))) / sr
    return amplitude * np.sin(2 * np.pi * freq * t)


def steps(sr: int, freqs=STEP_FREQS, seconds: float = 1.0) -> np.ndarray:
    """Consecutive tones, ``seconds`` each: where a range seeks to shows in its pitch."""
    return np.concatenate([tone(freq, seconds, sr) for freq in freqs])


def peak_frequency(samples: np.ndarray, sr: int) -> float:
    """The frequency (Hz) of the largest FFT bin, DC excluded, Hann-windowed."""
    samples = np.asarray(samples, dtype=np.float64)
    samples = samples - samples.mean()
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    spectrum[0] = 0.0
    return float(np.argmax(spectrum) * sr / len(samples))


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.asarray(samples, dtype=np.float64) ** 2)))


# ------------------------------------------------------------------ writers
def ffmpeg(*args: str) -> None:
    """Run the ffmpeg binary (quiet, overwrite); fail loudly when it is missing."""
    binary = shutil.which("ffmpeg")
    assert binary, "the ffmpeg binary is required (Debian package 'ffmpeg', see Makefile)"
    done = subprocess.run(
        [binary, "-nostdin", "-hide_banner", "-v", "error", "-y", *args],
        capture_output=True, timeout=120,
    )
    assert done.returncode == 0, f"ffmpeg {' '.join(args)} failed: {done.stderr.decode()}"


def write_soundfile(path: Path, data: np.ndarray, sr: int, freq: float | None = None,
                    slack: int = 0, **options) -> Clip:
    """``soundfile.write`` and the matching :class:`Clip`."""
    soundfile.write(str(path), data, sr, **options)
    channels = 1 if data.ndim == 1 else data.shape[1]
    return Clip(path, sr, len(data), channels, freq, slack)


def write_ffmpeg(path: Path, data: np.ndarray, sr: int, codec_args: list[str],
                 freq: float | None = None, slack: int = 2048) -> Clip:
    """Encode ``data`` with ffmpeg (via a temporary float WAV next to ``path``)."""
    source = path.with_name(path.name + ".src.wav")
    soundfile.write(str(source), data, sr, subtype="FLOAT")
    try:
        ffmpeg("-i", str(source), *codec_args, str(path))
    finally:
        source.unlink()
    channels = 1 if data.ndim == 1 else data.shape[1]
    return Clip(path, sr, len(data), channels, freq, slack)


def write_formats(folder: Path) -> dict[str, Clip]:
    """One mono tone per container/codec/bit depth/rate (8000 to 96000 Hz)."""
    folder.mkdir(parents=True, exist_ok=True)
    clips = {}

    def sf_clip(name, sr, freq, slack=0, **options):
        clips[name] = write_soundfile(folder / name, tone(freq, SECONDS, sr), sr, freq,
                                      slack, **options)

    sf_clip("pcm16.wav", 44100, 440.0, subtype="PCM_16")
    sf_clip("pcm24.wav", 96000, 1000.0, subtype="PCM_24")
    sf_clip("pcm_u8.wav", 8000, 500.0, subtype="PCM_U8")  # unsigned: offset by 128
    sf_clip("pcm32.wav", 22050, 700.0, subtype="PCM_32")
    sf_clip("wavex24.wav", 48000, 1500.0, format="WAVEX", subtype="PCM_24")
    sf_clip("ulaw.wav", 8000, 350.0, subtype="ULAW")
    sf_clip("gsm610.wav", 8000, 400.0, slack=640, subtype="GSM610")  # 8 kHz mono only
    sf_clip("pcm16.aiff", 22050, 600.0, format="AIFF", subtype="PCM_16")
    sf_clip("pcm24.flac", 96000, 3000.0, format="FLAC", subtype="PCM_24")
    sf_clip("pcm16.flac", 22050, 250.0, format="FLAC", subtype="PCM_16")
    sf_clip("vorbis.ogg", 22050, 800.0, slack=2048, format="OGG", subtype="VORBIS")
    sf_clip("opus.opus", 48000, 1000.0, slack=2 * 960, format="OGG", subtype="OPUS")
    sf_clip("lame.mp3", 44100, 440.0, slack=2 * 1152, format="MP3",
            subtype="MPEG_LAYER_III")
    clips["ffmpeg_lame.mp3"] = write_ffmpeg(
        folder / "ffmpeg_lame.mp3", tone(523.25, SECONDS, 22050), 22050,
        ["-c:a", "libmp3lame", "-b:a", "64k"], 523.25, slack=2 * 1152)
    clips["libopus.opus"] = write_ffmpeg(
        folder / "libopus.opus", tone(750.0, SECONDS, 48000), 48000,
        ["-c:a", "libopus", "-b:a", "48k"], 750.0, slack=2 * 960)
    clips["aac.m4a"] = write_ffmpeg(
        folder / "aac.m4a", tone(440.0, SECONDS, 44100), 44100,
        ["-c:a", "aac", "-b:a", "96k"], 440.0, slack=2 * 1024)
    return clips


def write_telephony(folder: Path) -> dict[str, Clip]:
    """Headerless phone-system files (Asterisk's formats): raw mu-law, A-law, GSM,
    signed linear at 8 and 16 kHz, G.722; and a 0.1 s GSM prompt, too short for
    ffmpeg to recognise by its content."""
    folder.mkdir(parents=True, exist_ok=True)
    clips = {}
    for name, sr, freq, args, slack in (
            ("prompt.ulaw", 8000, 350.0, ["-f", "mulaw"], 0),
            ("prompt.alaw", 8000, 450.0, ["-f", "alaw"], 0),
            ("prompt.gsm", 8000, 400.0, ["-c:a", "libgsm", "-f", "gsm"], 160),
            ("prompt.sln", 8000, 550.0, ["-f", "s16le"], 0),
            ("prompt.sln16", 16000, 1100.0, ["-f", "s16le"], 0),
            ("prompt.g722", 16000, 700.0, ["-c:a", "g722", "-f", "g722"], 2),
            ("beep.gsm", 8000, 1000.0, ["-c:a", "libgsm", "-f", "gsm"], 160)):
        seconds = 0.1 if name == "beep.gsm" else SECONDS
        clips[name] = write_ffmpeg(folder / name, tone(freq, seconds, sr), sr, args, freq, slack)
    return clips


def write_lavfi_m4a(folder: Path, name: str = "lavfi_sine.m4a", freq: float = 1000.0,
                    sr: int = 44100, seconds: float = SECONDS) -> Clip:
    """An AAC .m4a straight from ffmpeg's sine generator (no soundfile involved)."""
    path = folder / name
    ffmpeg("-f", "lavfi", "-i", f"sine=frequency={freq:g}:sample_rate={sr}:duration={seconds:g}",
           "-c:a", "aac", str(path))
    return Clip(path, sr, int(round(seconds * sr)), 1, freq, 2 * 1024)


def write_float_nan(folder: Path) -> tuple[Clip, np.ndarray]:
    """A float32 WAV holding NaN, +inf and -inf among a tone; returns the data too."""
    data = tone(440.0, 0.5, 16000).astype(np.float32)
    data[100], data[200], data[300] = np.nan, np.inf, -np.inf
    data[400:410] = np.nan
    path = folder / "float_nan_inf.wav"
    soundfile.write(str(path), data, 16000, subtype="FLOAT")
    return Clip(path, 16000, len(data), 1, 440.0), data


def write_stereo(folder: Path) -> dict[str, Clip]:
    """Left: a 440 Hz tone; right: digital silence. In WAV, Vorbis and AAC."""
    folder.mkdir(parents=True, exist_ok=True)
    sr = 44100
    left = tone(440.0, SECONDS, sr)
    data = np.stack([left, np.zeros_like(left)], axis=1)
    return {
        "stereo.wav": write_soundfile(folder / "stereo.wav", data, sr, 440.0, subtype="PCM_16"),
        "stereo.ogg": write_soundfile(folder / "stereo.ogg", data, sr, 440.0, 2048,
                                      format="OGG", subtype="VORBIS"),
        "stereo.m4a": write_ffmpeg(folder / "stereo.m4a", data, sr, ["-c:a", "aac"], 440.0),
    }


def write_steps(folder: Path) -> dict[str, Clip]:
    """440 / 880 / 1320 Hz for one second each, lossless and lossy, for range seeks."""
    folder.mkdir(parents=True, exist_ok=True)
    clips = {}
    for name, sr, options, slack in [
        ("steps.wav", 16000, {"subtype": "PCM_16"}, 0),
        ("steps.flac", 44100, {"format": "FLAC", "subtype": "PCM_16"}, 0),
        ("steps.ogg", 44100, {"format": "OGG", "subtype": "VORBIS"}, 2048),
        ("steps.opus", 48000, {"format": "OGG", "subtype": "OPUS"}, 1920),
        ("steps.mp3", 44100, {"format": "MP3", "subtype": "MPEG_LAYER_III"}, 2304),
    ]:
        clips[name] = write_soundfile(folder / name, steps(sr), sr, None, slack, **options)
    clips["steps_lame.mp3"] = write_ffmpeg(folder / "steps_lame.mp3", steps(44100), 44100,
                                           ["-c:a", "libmp3lame"], None, slack=2304)
    clips["steps.m4a"] = write_ffmpeg(folder / "steps.m4a", steps(44100), 44100,
                                      ["-c:a", "aac"], None)
    return clips


def talk(sr: int, seconds: float = TALK_SECONDS) -> np.ndarray:
    """Stereo bursts of gliding tones and noise with silences between, never periodic:
    a range placed even one sample off differs from the same slice of a whole decode."""
    rng = np.random.default_rng(7)
    t = np.arange(int(seconds * sr)) / sr
    glide = np.sin(2 * np.pi * (300 * t + 40 * t**2 % 2000))
    envelope = np.repeat(rng.uniform(0, 1, int(seconds * 8) + 1), sr // 8 + 1)[:len(t)]
    envelope[envelope < 0.25] = 0  # silences, as between words
    left = AMPLITUDE * envelope * (0.7 * glide + 0.3 * rng.standard_normal(len(t)).clip(-2, 2) / 2)
    return np.stack([left, np.roll(left, sr // 100)], axis=1)


def write_talk(folder: Path) -> dict[str, Clip]:
    """:func:`talk` in the lossy formats long recordings come in, for ranges read by seeking."""
    folder.mkdir(parents=True, exist_ok=True)
    clips = {
        "talk.ogg": write_soundfile(folder / "talk.ogg", talk(44100), 44100, None, 2048,
                                    format="OGG", subtype="VORBIS"),
        "talk.opus": write_soundfile(folder / "talk.opus", talk(48000), 48000, None, 1920,
                                     format="OGG", subtype="OPUS"),
    }
    for name, sr, codec in (("talk.mp3", 44100, ["-c:a", "libmp3lame", "-q:a", "2"]),
                            ("talk_22k.mp3", 22050, ["-c:a", "libmp3lame", "-b:a", "64k"]),
                            ("talk.webm", 48000, ["-c:a", "libopus", "-b:a", "64k"]),
                            ("talk.m4a", 44100, ["-c:a", "aac"])):
        clips[name] = write_ffmpeg(folder / name, talk(sr), sr, codec, None, slack=2304)
    return clips


def write_long(folder: Path, minutes: int = LONG_MINUTES) -> Clip:
    """``minutes`` of 8 kHz FLAC, silent but for a tone at the start and near the end.

    Written block by block; mostly silence, so it is ~80 kB on disk.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path, sr = folder / "long.flac", LONG_SR
    total = minutes * 60 * sr
    block = 60 * sr
    with soundfile.SoundFile(str(path), "w", sr, 1, subtype="PCM_16", format="FLAC") as sound:
        for first in range(0, total, block):
            t = np.arange(first, min(first + block, total)) / sr
            data = np.zeros(len(t))
            for start, end, freq in (LONG_HEAD, LONG_TAIL):
                inside = (t >= start) & (t < end)
                data[inside] = AMPLITUDE * np.sin(2 * np.pi * freq * t[inside])
            sound.write(data)
    return Clip(path, sr, total, 1, LONG_HEAD[2])


def write_long_m4a(folder: Path, seconds: float = 120.0) -> Clip:
    """Two minutes of 8 kHz AAC (decoded by the ffmpeg fallback): tone, silence, tone."""
    sr = 8000
    data = np.zeros(int(seconds * sr))
    data[: 5 * sr] = tone(300.0, 5, sr)
    data[int((seconds - 10) * sr): int((seconds - 5) * sr)] = tone(1000.0, 5, sr)
    return write_ffmpeg(folder / "long.m4a", data, sr, ["-c:a", "aac"], 300.0)


def write_edge_cases(folder: Path) -> dict[str, Clip]:
    """Digital silence, DC offset, hard clipping, and 0.02 s clips."""
    folder.mkdir(parents=True, exist_ok=True)
    clips = {}
    sr = 16000
    clips["silence.wav"] = write_soundfile(folder / "silence.wav", np.zeros(sr), sr,
                                           subtype="PCM_16")
    clips["silence.flac"] = write_soundfile(folder / "silence.flac", np.zeros(sr), sr,
                                            format="FLAC")
    clips["dc_offset.wav"] = write_soundfile(
        folder / "dc_offset.wav", 0.3 + 0.2 * np.sin(2 * np.pi * 440 * np.arange(sr) / sr),
        sr, 440.0, subtype="PCM_16")
    clipped = (np.clip(tone(440.0, 1.0, sr, amplitude=4.0), -1, 1) * 32767).astype(np.int16)
    clips["clipped.wav"] = write_soundfile(folder / "clipped.wav", clipped, sr, 440.0,
                                           subtype="PCM_16")
    short = tone(1000.0, 0.02, sr)
    clips["tiny.wav"] = write_soundfile(folder / "tiny.wav", short, sr, 1000.0,
                                        subtype="PCM_16")
    clips["tiny.ogg"] = write_soundfile(folder / "tiny.ogg", short, sr, 1000.0, 2048,
                                        format="OGG", subtype="VORBIS")
    clips["tiny.m4a"] = write_ffmpeg(folder / "tiny.m4a", tone(1000.0, 0.02, 44100), 44100,
                                     ["-c:a", "aac"], 1000.0)
    return clips


def write_three_tones(path: Path, sr: int = 16000, noise_db: float = -70.0) -> Path:
    """7 s: tones at THREE_TONES times, separated by silence with a faint noise floor."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    data = rng.normal(0, 10 ** (noise_db / 20), 7 * sr)
    for start, end, freq in THREE_TONES:
        first = int(start * sr)
        piece = tone(freq, end - start, sr)
        data[first: first + len(piece)] += piece
    soundfile.write(str(path), data, sr, subtype="PCM_16")
    return path


def write_tone_wav(path: Path, seconds: float, sr: int = 8000, freq: float = 440.0) -> Path:
    """A plain 16-bit mono tone of ``seconds`` s (for dataset folders)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), tone(freq, seconds, sr), sr, subtype="PCM_16")
    return path


# ------------------------------------------------------------------ broken files
def wav_bytes(data: np.ndarray, sr: int, subtype: str = "PCM_16") -> bytes:
    """A canonical 44-byte-header WAV (``fmt `` at offset 12, ``data`` at 36)."""
    import io

    buffer = io.BytesIO()
    soundfile.write(buffer, data, sr, format="WAV", subtype=subtype)
    raw = buffer.getvalue()
    assert raw[12:16] == b"fmt " and raw[36:40] == b"data", "unexpected WAV layout"
    return raw


TRUNCATED_SR = 16000
TRUNCATED_KEPT = 4000  # frames actually present in truncated_data.wav (of 16000 claimed)


def write_broken(folder: Path) -> dict[str, Path]:
    """Files no decoder can read, plus a WAV whose data is cut short (readable in part).

    Keys: empty, header_only, garbage, text_mp3, bad_fmt_channels, bad_fmt_tag,
    truncated_data (the readable one: TRUNCATED_KEPT frames of a 440 Hz tone).
    """
    folder.mkdir(parents=True, exist_ok=True)
    raw = wav_bytes(tone(440.0, 1.0, TRUNCATED_SR), TRUNCATED_SR)
    files = {
        "empty": (folder / "empty.wav", b""),
        "header_only": (folder / "header_only.wav", raw[:20]),
        "garbage": (folder / "garbage.wav", np.random.default_rng(0).bytes(8192)),
        "text_mp3": (folder / "notes.mp3",
                     b"This is a text file someone renamed to .mp3\n" * 40),
        # fmt chunk: channels (offset 22) set to 0
        "bad_fmt_channels": (folder / "bad_fmt_channels.wav",
                             raw[:22] + (0).to_bytes(2, "little") + raw[24:]),
        # fmt chunk: format tag (offset 20) set to an unknown codec
        "bad_fmt_tag": (folder / "bad_fmt_tag.wav",
                        raw[:20] + (0x1234).to_bytes(2, "little") + raw[22:]),
        # header claims 1 s (32000 bytes); only TRUNCATED_KEPT frames follow
        "truncated_data": (folder / "truncated_data.wav", raw[:44 + 2 * TRUNCATED_KEPT]),
    }
    for path, content in files.values():
        path.write_bytes(content)
    return {key: path for key, (path, _) in files.items()}


# ------------------------------------------------------------------ everything
def write_corpus(folder: Path) -> dict:
    """Write the whole corpus under ``folder``; returns {group: {name: Clip|Path}}."""
    folder = Path(folder)
    formats = write_formats(folder / "formats")
    formats["lavfi_sine.m4a"] = write_lavfi_m4a(folder / "formats")
    float_clip, float_data = write_float_nan(folder / "formats")
    return {
        "formats": formats,
        "float_nan": (float_clip, float_data),
        "stereo": write_stereo(folder / "stereo"),
        "steps": write_steps(folder / "steps"),
        "talk": write_talk(folder / "talk"),
        "long": write_long(folder / "long"),
        "long_m4a": write_long_m4a(folder / "long"),
        "edge": write_edge_cases(folder / "edge"),
        "broken": write_broken(folder / "broken"),
        "three_tones": write_three_tones(folder / "three_tones.wav"),
        "telephony": write_telephony(folder / "telephony"),
    }
