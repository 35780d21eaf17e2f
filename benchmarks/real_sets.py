"""Evaluation sets of real recordings from Debian packages, labeled from names and folders.

Nobody here made these recordings, so vectors tuned on our synthetic digits are
judged on sounds they have never seen. Each set is a table ``audio, label``:

===========  ====================================================  =========================
set          recordings (Debian package)                           label
===========  ====================================================  =========================
drums        14 Hydrogen drum kits (hydrogen-drumkits):             instrument from the file
             acoustic, electronic, 8-bit; WAV/FLAC/AIFF, mono and   name: kick, snare, hihat,
             stereo, 44.1-48 kHz                                    tom, cymbal, clap, cowbell
languages    Asterisk PBX prompts (asterisk-core-sounds-*-wav):     language (en, es, fr, it,
             one speaker per language (en and es: the same woman)   ru)
voices       Hedgewars voice packs (hedgewars-data): 15 voices      voice pack
             saying the same game lines, OGG
lines        the same Hedgewars clips                               the line spoken
chords       a sample library of guitar strums (belofilms kit of    the chord (A major,
             hydrogen-drumkits-effects): 25 chords, up and down     C# minor 7b5, ...)
             strokes, FLAC 44.1-96 kHz
speakers     Asterisk prompts in GSM, as phones play them           the speaker (6: two
             (asterisk-core-sounds-{es,fr,it}-gsm,                  per language, the same
             asterisk-prompt-es-co, -fr-armelle, -it-menardi-gsm)   prompts)
===========  ====================================================  =========================

``prompt_pairs``: every prompt both speakers of a language read (1,114 prompts, 2,228
clips of the speakers set's recordings), labeled by the prompt: same words, another voice.

Held out (``HELD_OUT``): the same three kinds from packages no setting was tuned on
(voices twice: non-verbal sounds and acted lines),
measured to see how the default does on recordings it has not seen:

==================  =============================================  ======================
drums-held-out      hydrogen-data's GMRockKit and TR808 kits,       instrument, as drums
                    Sonic Pi's drum samples, exaDrums' kit          (classes of >= 5)
languages-held-out  KTuberling's spoken object names: 13            language
                    languages, about one speaker each (Ogg; fr
                    WAV, nn Opus)
voices-held-out     OpenArena's player models: grunts, screams      player model (14)
                    and taunts (WAV); shared sounds left out
voices-lines-       MegaGlest's unit voice lines (select and        faction/unit (29, 8-24
held-out            order replies, WAV); shared lines left out      lines each)
==================  =============================================  ======================

Packages are fetched with ``apt-get download`` and unpacked with ``dpkg-deb -x``
into a cache folder (nothing is installed); sets are sampled with a fixed seed and
a cap per label, so every run measures the same clips.

Usage: ``python benchmarks/real_sets.py [--cache DIR] [--held-out]`` prints the sets' sizes.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd

PACKAGES = ["hydrogen-drumkits", "hedgewars-data", "hydrogen-drumkits-effects"] + [
    f"asterisk-core-sounds-{language}-wav" for language in ("en", "es", "fr", "it", "ru")] + [
    f"asterisk-core-sounds-{language}-gsm" for language in ("es", "fr", "it")] + [
    "asterisk-prompt-es-co", "asterisk-prompt-fr-armelle", "asterisk-prompt-it-menardi-gsm"]
DEFAULT_CACHE = Path(os.environ.get("HOVER_AUDIO_BENCH_DATA",
                                    Path.home() / ".cache" / "hover-audio-bench"))
AUDIO = re.compile(r"\.(wav|flac|aiff?|ogg)$", re.IGNORECASE)
# instrument words in drum sample names, checked in this order (a "tom-hat" is a hat)
DRUM_WORDS = [
    ("cowbell", r"cow ?bell"),
    ("clap", r"clap"),
    ("hihat", r"hi[-_ ]?hat|hh|hat"),
    ("cymbal", r"crash|ride|cymbal|china|splash|cym"),
    ("snare", r"snare|snr|sd\b|rim"),
    ("kick", r"kick|kik|bd\b|bass ?drum|bassdrum"),
    ("tom", r"tom"),
]


def fetch(cache: Path = DEFAULT_CACHE, packages=PACKAGES, *, each: bool = False) -> Path:
    """Download and unpack ``packages`` (once); returns the unpacked root: all of them
    together, or with ``each``, one folder per package under it."""
    root = cache / ("packages" if each else "root")
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    for package in packages:
        marker = (root / package if each else cache) / f".{package}.unpacked"
        if marker.exists():
            continue
        found = list(debs.glob(f"{package}_*.deb"))
        if not found:
            done = subprocess.run(["apt-get", "download", package], cwd=debs,
                                  capture_output=True, text=True)
            if done.returncode != 0:  # stale package lists: refresh once and retry
                subprocess.run(["apt-get", "update", "-qq"], capture_output=True)
                subprocess.run(["apt-get", "download", package], cwd=debs, check=True,
                               capture_output=True)
            found = list(debs.glob(f"{package}_*.deb"))
        marker.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["dpkg-deb", "-x", str(found[0]), str(root / package if each else root)],
                       check=True)
        marker.touch()
    return root


def sample(table: pd.DataFrame, per_label: int, seed: int = 0) -> pd.DataFrame:
    """At most ``per_label`` rows of each label, chosen with ``seed``; sorted by path."""
    parts = [group.sample(min(len(group), per_label), random_state=seed)
             for _, group in table.groupby("label", sort=True)]
    return pd.concat(parts).sort_values("audio", ignore_index=True)


# abbreviations kits use as a whole token of the name ("BD_04", "SN4_01", "rc_03")
DRUM_TOKENS = {"bd": "kick", "kd": "kick", "sn": "snare", "sd": "snare", "sr": "snare",
               "tm": "tom", "t": "tom", "ht": "tom", "lt": "tom", "ft": "tom",
               "rd": "cymbal", "rc": "cymbal", "cc": "cymbal", "cr": "cymbal", "cra": "cymbal",
               "hh": "hihat", "ho": "hihat", "hc": "hihat", "oh": "hihat", "ch": "hihat",
               "cb": "cowbell", "cp": "clap"}


def drum_label(name: str) -> str | None:
    """The instrument a sample's file name says, or None (percussion we do not label)."""
    lowered = name.lower()
    for label, pattern in DRUM_WORDS:
        if re.search(pattern, lowered):
            return label
    for token in re.split(r"[^a-z0-9]+", lowered):
        label = DRUM_TOKENS.get(token.rstrip("0123456789"))
        if label:
            return label
    return None


# kits of other packages unpacked beside hydrogen-drumkits (hydrogen-drumkits-effects: the
# chords set; hydrogen-data, if fetched): the drums set keeps to hydrogen-drumkits' 14 kits
OTHER_KITS = ("belofilms_GuitarStrums", "GMRockKit", "TR808EmulationKit")


def drums(root: Path, per_label: int = 80) -> pd.DataFrame:
    kits = root / "usr/share/hydrogen/data/drumkits"
    rows = [(str(path), drum_label(path.stem)) for path in sorted(kits.rglob("*"))
            if AUDIO.search(path.name) and path.relative_to(kits).parts[0] not in OTHER_KITS]
    table = pd.DataFrame([row for row in rows if row[1]], columns=["audio", "label"])
    return sample(table, per_label)


def languages(root: Path, per_label: int = 120) -> pd.DataFrame:
    sounds = root / "usr/share/asterisk/sounds"
    rows = [(str(path), folder.name.split("_")[0]) for folder in sorted(sounds.iterdir())
            for path in sorted(folder.rglob("*.wav"))]
    return sample(pd.DataFrame(rows, columns=["audio", "label"]), per_label)


def speakers(root: Path, per_label: int = 100) -> pd.DataFrame:
    """Asterisk prompts as phone systems play them (GSM, 8 kHz): two speakers per
    language, each a folder (es_MX_f_Allison and es: Colombian; fr_CA_f_June and fr:
    Armelle Desjardins; it_IT_m_Carlo and it_IT_f_Menardi: Paola Dal Zot)."""
    sounds = root / "usr/share/asterisk/sounds"
    rows = [(str(path), folder.name) for folder in sorted(sounds.iterdir())
            for path in sorted(folder.rglob("*.gsm"))]
    return sample(pd.DataFrame(rows, columns=["audio", "label"]), per_label)


SPEAKER_PAIRS = [("it_IT_f_Menardi", "it_IT_m_Carlo"), ("es", "es_MX_f_Allison"),
                 ("fr", "fr_CA_f_June")]  # two speakers of one language, reading the same prompts


def prompt_pairs(root: Path) -> pd.DataFrame:
    """The same prompt read by two speakers of a language (``SPEAKER_PAIRS``): every
    prompt file both speakers' folders have, once per speaker; columns ``audio``,
    ``label`` (language and prompt: "it:digits/7.gsm"), ``speaker``. Two clips per
    label, so precision@10 says nothing here: what it measures is whether a clip finds
    its prompt among the other speaker's (same words, another voice)."""
    sounds = root / "usr/share/asterisk/sounds"
    rows = []
    for first, second in SPEAKER_PAIRS:
        prompts = [{str(path.relative_to(sounds / folder))
                    for path in (sounds / folder).rglob("*.gsm")} for folder in (first, second)]
        for prompt in sorted(prompts[0] & prompts[1]):
            rows += [(str(sounds / folder / prompt), f"{first[:2]}:{prompt}", folder)
                     for folder in (first, second)]
    return pd.DataFrame(rows, columns=["audio", "label", "speaker"])


def _voice_clips(root: Path) -> pd.DataFrame:
    voices = root / "usr/share/games/hedgewars/Data/Sounds/voices"
    rows = [(str(path), folder.name, path.stem) for folder in sorted(voices.iterdir())
            for path in sorted(folder.glob("*.ogg"))]
    return pd.DataFrame(rows, columns=["audio", "voice", "line"])


def voices(root: Path, per_label: int = 60) -> pd.DataFrame:
    clips = _voice_clips(root)
    return sample(clips.rename(columns={"voice": "label"})[["audio", "label"]], per_label)


def lines(root: Path, min_voices: int = 8) -> pd.DataFrame:
    """Lines spoken in at least ``min_voices`` packs, one row per pack and line."""
    clips = _voice_clips(root)
    clips["line"] = clips["line"].str.replace(r"\d+$", "", regex=True)  # Ow1..Ow4: one line
    clips = clips.drop_duplicates(["voice", "line"])
    common = clips["line"].value_counts()
    keep = clips[clips["line"].isin(common[common >= min_voices].index)]
    return keep.rename(columns={"line": "label"})[["audio", "label"]].reset_index(drop=True)


def chord_label(name: str) -> str:
    """The chord a strum's file name says: "Csharp minor_UP_02" -> "Csharp minor"."""
    name = re.sub(r"(_(up|down))?_\d+$", "", name, flags=re.IGNORECASE)
    return name.replace("minro", "minor")  # one chord's files are misspelt


def chords(root: Path, per_label: int = 12) -> pd.DataFrame:
    strums = root / "usr/share/hydrogen/data/drumkits/belofilms_GuitarStrums"
    rows = [(str(path), chord_label(path.stem)) for path in sorted(strums.glob("*.flac"))]
    table = pd.DataFrame(rows, columns=["audio", "label"])
    counts = table["label"].value_counts()
    return sample(table[table["label"].isin(counts[counts >= 3].index)], per_label)


SETS = {"drums": drums, "languages": languages, "voices": voices, "lines": lines,
        "chords": chords, "speakers": speakers}


# ---------------------------------------------------------------- held out
# Sets of the same three kinds from packages that no setting was ever tuned on: how the
# default does on recordings it has not seen. Fetched only when one of them is asked for.
HELD_OUT_PACKAGES = ["hydrogen-data", "sonic-pi-samples", "exadrums", "ktuberling-data",
                     "openarena-081-players", "megaglest-data"]
# Sonic Pi names hi-hats "drum_cymbal_closed/open/pedal": left out rather than guessed
SONIC_PI_UNSURE = re.compile(r"^drum_cymbal_(closed|open|pedal)$")


def drums_held_out(root: Path, per_label: int = 80) -> pd.DataFrame:
    """Two Hydrogen kits outside ``drums`` (GMRockKit, TR808EmulationKit), Sonic Pi's
    drum samples (``bd_``, ``sn_``, ``hat_``, ``drum_``, ``elec_``) and exaDrums' kit."""
    kits = root / "usr/share/hydrogen/data/drumkits"
    paths = [path for kit in ("GMRockKit", "TR808EmulationKit")
             for path in sorted((kits / kit).glob("*"))]
    paths += [path for path in sorted((root / "usr/share/sonic-pi/samples").glob("*.flac"))
              if re.match(r"(bd|sn|hat|drum|elec)_", path.stem)
              and not SONIC_PI_UNSURE.match(path.stem)]
    paths += sorted((root / "usr/share/exadrums").glob("*.wav"))
    rows = [(str(path), drum_label(path.stem.replace("drum_bass", "bassdrum")))
            for path in paths if AUDIO.search(path.name)]
    table = pd.DataFrame([row for row in rows if row[1]], columns=["audio", "label"])
    counts = table["label"].value_counts()  # claps: 2, too few to have neighbours
    return sample(table[table["label"].isin(counts[counts >= 5].index)], per_label)


def languages_held_out(root: Path, per_label: int = 70, min_clips: int = 60) -> pd.DataFrame:
    """KTuberling's spoken object names (Ogg Vorbis; French WAV, Norwegian Opus), about
    one speaker per language; the 13 languages with at least ``min_clips`` words."""
    sounds = root / "usr/share/ktuberling/sounds"
    rows = [(str(path), folder.name) for folder in sorted(sounds.iterdir()) if folder.is_dir()
            for path in sorted(folder.iterdir()) if re.search(r"\.(ogg|opus|wav)$", path.name)]
    table = pd.DataFrame(rows, columns=["audio", "label"])
    counts = table["label"].value_counts()
    return sample(table[table["label"].isin(counts[counts >= min_clips].index)], per_label)


def voices_held_out(root: Path) -> pd.DataFrame:
    """OpenArena's player models (16 with sounds, 12-13 grunts, screams and taunts each),
    read out of the game's pk3 archive once. A sound two models share is left out and a
    model's repeated sound kept once (identical files would be perfect neighbours): 14
    models keep sounds of their own."""
    import zipfile

    folder = root / "openarena-players"
    if not folder.is_dir():
        archive = root / "usr/share/games/openarena/baseoa/pak2-players.pk3"
        with zipfile.ZipFile(archive) as pk3:
            members = [name for name in pk3.namelist()
                       if name.startswith("sound/player/") and AUDIO.search(name)]
            pk3.extractall(folder.with_suffix(".part"), members)
        (folder.with_suffix(".part") / "sound/player").rename(folder)
        shutil.rmtree(folder.with_suffix(".part"))
    return own_sounds([(path, path.parent.name) for path in sorted(folder.glob("*/*"))
                       if AUDIO.search(path.name)])


def voice_lines_held_out(root: Path, min_clips: int = 8) -> pd.DataFrame:
    """MegaGlest's unit voice lines: what each unit says when selected or given an order
    (``*_select*.wav``, ``*_ack*.wav``; its attack, work and death sounds are left out),
    labeled by faction and unit ("norsemen/swordman"). A line two units share is left
    out; the 29 units with at least ``min_clips`` lines of their own are kept (8-24 each):
    voice-acted lines, as in ``voices``, from a game no setting was tuned on."""
    factions = root / "usr/share/games/megaglest/techs/megapack/factions"
    return own_sounds(
        [(path, f"{path.parents[3].name}/{path.parents[1].name}")
         for path in sorted(factions.glob("*/units/*/sounds/*.wav"))
         if re.search(r"_(ack|select)\d*$", path.stem)], min_clips)


def own_sounds(found: list[tuple[Path, str]], min_clips: int = 1) -> pd.DataFrame:
    """``audio, label`` of ``(path, label)`` pairs, each content once: a sound of two
    labels is left out and a label's repeated sound kept once (identical files would be
    perfect neighbours); then the labels with at least ``min_clips`` sounds."""
    import hashlib

    table = pd.DataFrame([(str(path), label, hashlib.sha256(path.read_bytes()).hexdigest())
                          for path, label in found], columns=["audio", "label", "content"])
    owners = table.groupby("content")["label"].nunique()
    table = table[table["content"].map(owners) == 1].drop_duplicates("content")
    counts = table["label"].value_counts()
    table = table[table["label"].isin(counts[counts >= min_clips].index)]
    return table[["audio", "label"]].reset_index(drop=True)


HELD_OUT = {"drums-held-out": drums_held_out, "languages-held-out": languages_held_out,
            "voices-held-out": voices_held_out, "voices-lines-held-out": voice_lines_held_out}


def load_sets(cache: Path = DEFAULT_CACHE, names=None) -> dict[str, pd.DataFrame]:
    """The evaluation sets by name (fetched first when needed); by default the tuning
    sets (``SETS``), not the held-out ones."""
    names = list(names or SETS)
    root = fetch(cache)
    if any(name in HELD_OUT for name in names):
        fetch(cache, HELD_OUT_PACKAGES)
    return {name: {**SETS, **HELD_OUT}[name](root) for name in names}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--held-out", action="store_true", help="the held-out sets too")
    args = parser.parse_args()
    names = list(SETS) + (list(HELD_OUT) if args.held_out else [])
    for name, table in load_sets(args.cache, names).items():
        counts = table["label"].value_counts()
        print(f"{name:21s} {len(table):5d} clips, {len(counts):3d} labels "
              f"({counts.min()}-{counts.max()} each)")
    print(f"data under {args.cache}")


if __name__ == "__main__":
    main()
