"""A folder of untitled "Track NN.wav" sound effects, sorted by ear.

Builds the folder of ``notebooks/folder_to_labels.ipynb`` (spoken demo digits and the
freedesktop sound theme: announcer voices, phone tones, chimes, shutters; some sounds in
several takes), written as 16-bit WAV at the recordings' own rates and channels (mono and
stereo; 8, 16, 22.05, 44.1 and 48 kHz), shuffled and untitled. Serves it with
``hover-audio serve folder/``, hovers a track (it plays), lassoes two groups of one kind
each and labels them, checks the population table, then searches "More like the
selection" and rests the mouse on a result for the picture.

Usage: python gallery/sound_effects_folder.py [--out PNG] [--port N]
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _browser as b  # noqa: E402


def make_library(folder: Path) -> dict:
    """Write the tracks; returns ``{file name: kind}`` (what your ears would tell)."""
    import soundfile
    import soxr

    from hover_audio.dataset.demo import demo_table

    sounds = b.SOUNDS
    assert any(sounds.glob("*.oga")), f"no {sounds}: apt-get install sound-theme-freedesktop"
    digits = demo_table()
    kinds = {  # kind -> (recordings, takes of each), as in the notebook
        "announcer": ([sounds / f"audio-channel-{side}.oga" for side in (
            "front-left", "front-right", "front-center", "rear-left", "rear-right",
            "rear-center", "side-left", "side-right")], 1),
        "speech": ([Path(p) for p in digits[digits["voice"] == "en-us"]
                    .groupby("true_label").head(1)["audio"].head(8)], 1),
        "phone": ([sounds / f"{name}.oga" for name in (
            "phone-incoming-call", "phone-outgoing-calling", "phone-outgoing-busy")], 2),
        "chime": ([sounds / f"{name}.oga" for name in (
            "bell", "complete", "message-new-instant", "service-login", "window-attention")], 2),
        "shutter": ([sounds / f"{name}.oga" for name in ("camera-shutter", "screen-capture")], 3),
        "other": ([sounds / f"{name}.oga" for name in (
            "trash-empty", "alarm-clock-elapsed", "audio-test-signal")], 1),
    }
    rng = np.random.default_rng(7)

    def take_of(y, sr, take):  # a little faster/slower, quieter, noisier, later
        if take == 0:
            return y
        speed, gain = [(1.0, 1.0), (1.06, 0.5), (0.94, 0.8)][take % 3]
        y = soxr.resample(y, sr, sr / speed) if speed != 1.0 else y
        noise = rng.standard_normal(y.shape) * 10 ** (-35 / 20) * np.sqrt(np.mean(y ** 2))
        lead = np.zeros((int(0.1 * sr * take), y.shape[1]))
        return np.concatenate([lead, gain * y + noise])

    recipe = [(kind, path, take) for kind, (paths, takes) in kinds.items()
              for path in paths for take in range(takes)]
    folder.mkdir(parents=True)
    made_from = {}
    for number, at in enumerate(rng.permutation(len(recipe)), start=1):
        kind, path, take = recipe[at]
        y, sr = soundfile.read(path, always_2d=True)  # the recording's own channels and rate
        if sr > 48000:
            y, sr = soxr.resample(y, sr, 44100), 44100
        name = f"Track {number:02d}.wav"
        soundfile.write(folder / name, np.clip(take_of(y, sr, take), -1, 1), sr, subtype="PCM_16")
        made_from[name] = kind
    return made_from


def main() -> int:
    args = b.arguments("sound_effects_folder", __doc__)
    began = time.monotonic()
    import soundfile

    with tempfile.TemporaryDirectory(prefix="gallery-sfx-") as tmp:
        library = Path(tmp) / "sfx library"
        made_from = make_library(library)
        formats = {(i.channels, i.samplerate) for i in map(soundfile.info, library.iterdir())}
        print(f"{len(made_from)} tracks (channels, rate): {sorted(formats)}")
        with b.app(["serve", library, "--workspace", Path(tmp) / "workspace"], Path(tmp),
                   args.port) as url, b.page(url) as tab:
            names = b.column(tab, "clips", "name")
            assert sorted(names) == sorted(made_from), names
            kinds = [made_from[name] for name in names]

            # listen to one track: the page gets it as a small mono WAV whatever the file is
            stereo = [i for i in b.lonely_rows(tab, range(len(names)))
                      if soundfile.info(library / names[i]).channels == 2]
            b.hover_row(tab, stereo[0])
            b.wait_played(tab, stereo[0])
            wav = b.played_wav(tab)
            print(f"hovered {names[stereo[0]]} ({kinds[stereo[0]]}): played {wav}")
            assert wav["channels"] == 1 and wav["bits"] == 16 and wav["rate"] <= 32000, wav
            expected = soundfile.info(library / names[stereo[0]]).duration
            assert abs(wav["seconds"] - expected) < 0.05, (wav, expected)

            labeled = {}
            for _ in range(2):  # two groups of one kind each, found by ear (made_from)
                free = [kind if kind not in labeled else f"done:{i}"
                        for i, kind in enumerate(kinds)]
                centre, radius, kind = b.pure_circle(tab, free, least=3)
                rows = b.lasso_rows(tab, centre, radius)
                assert {kinds[i] for i in rows} == {kind}, [kinds[i] for i in rows]
                b.apply_label(tab, rows, kind)
                labeled[kind] = len(rows)
                print(f"labeled {len(rows)} tracks '{kind}'")
            counts = {"ABSTAIN": len(names) - sum(labeled.values()), **labeled}
            b.check_population(tab, {k: [n, 0, 0, 0, n] for k, n in counts.items()})

            # search by example: tracks like the last group, anywhere on the map
            hits = b.search_like_selection(tab)
            labels = b.column(tab, "clips", "label")
            new = [i for i in hits if labels[i] == "ABSTAIN"]
            print(f"search like '{kind}': {len(hits)} result(s): "
                  + ", ".join(f"{names[i]} ({kinds[i]}, {labels[i]})" for i in hits[:8]))
            assert new, "the search found no unlabeled track"
            if {kinds[i] for i in hits} == {kind}:  # all sound right: select them, label them
                b.select_results(tab, hits)
                b.apply_label(tab, hits, kind)
                counts["ABSTAIN"] -= len(new)
                counts[kind] += len(new)
                print(f"labeled the {len(new)} new result(s) '{kind}' too")
            b.check_population(tab, {k: [n, 0, 0, 0, n] for k, n in counts.items()})
            b.clear_search(tab)

            b.clear_selection(tab)
            # rest the mouse on an unlabeled track of the crowded middle: tooltip, ring, sound
            labels = b.column(tab, "clips", "label")
            unlabeled = [i for i in range(len(names)) if labels[i] == "ABSTAIN" and i != stereo[0]]
            pick = (b.lonely_rows(tab, unlabeled, gap=9) or unlabeled)[-1]
            b.hover_row(tab, pick)
            b.wait_played(tab, pick)
            tab.wait_for_timeout(400)
            b.snap(tab, args.out)
        tag_the_files(library, Path(tmp) / "workspace", counts)
    print(f"saved {args.out} in {time.monotonic() - began:.0f} s")
    return 0


def tag_the_files(library: Path, workspace: Path, counts: dict) -> None:
    """From labels to tags in the files: `hover-audio tag`, then find a track by its tag."""
    import subprocess

    from hover_audio import AudioDataset
    from hover_audio.audio.file_tags import read_tags

    done = subprocess.run([sys.executable, "-m", "hover_audio.app.cli", "tag", str(workspace)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    print(done.stdout.strip())
    tagged = {path.name: read_tags(path) for path in sorted(library.glob("*.wav"))}
    labeled = {name: tags for name, tags in tagged.items() if tags}
    assert len(labeled) == sum(n for k, n in counts.items() if k != "ABSTAIN"), labeled
    # the library opened anew (any tool, or hover-audio): the tags come from the files
    again = AudioDataset.from_folder(library)
    name = "Track 18.wav" if "Track 18.wav" in labeled else sorted(labeled)[0]
    tag = sorted(labeled[name])[0]
    found = [key.rsplit("/", 1)[-1] for key in again.keys if tag in again.tags_of(key)]
    print(f"{name} now carries {sorted(labeled[name])} in its own metadata; a search for the "
          f"tag '{tag}' finds {len(found)} track(s): {', '.join(found)}")
    assert name in found


if __name__ == "__main__":
    sys.exit(main())
