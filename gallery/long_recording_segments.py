"""One long recording cut at its silences: each point is a ``#t=`` range of the one file.

Builds a ~70 s recording (16-bit stereo WAV, 44.1 kHz) of spoken demo digits and
freedesktop sounds with 1-2 s of near-silence between them, cuts it with
``AudioDataset.from_folder(root, segment={"mode": "nonsilent"})``, exports the clips to
a CSV table and serves it with ``hover-audio serve clips.csv``. Hovering a point plays
only its range (the WAV the page gets lasts as long as the range); a lasso around spoken
digits gets the label "speech", and the population table shows it.

Usage: python gallery/long_recording_segments.py [--out PNG] [--port N]
"""
from __future__ import annotations

import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _browser as b  # noqa: E402

RATE = 44100
SOUNDS = ["bell", "complete", "message-new-instant", "window-attention", "camera-shutter",
          "dialog-warning", "service-login", "trash-empty", "device-added", "power-plug",
          "audio-channel-front-left", "audio-channel-rear-right", "phone-outgoing-calling",
          "suspend-error"]


def make_recording(path: Path, pieces: int = 28) -> list:
    """Write the recording; returns its ``(start, end, kind)`` pieces ("speech" = a digit)."""
    import soundfile
    import soxr

    from hover_audio.dataset.demo import demo_table

    assert any(b.SOUNDS.glob("*.oga")), f"no {b.SOUNDS}: apt-get install sound-theme-freedesktop"
    rng = np.random.default_rng(3)
    digits = demo_table().sample(pieces // 2, random_state=3)["audio"].tolist()
    sounds = [b.SOUNDS / f"{name}.oga" for name in SOUNDS]
    order = [(str(p), "speech") for p in digits] + [(str(p), p.stem) for p in sounds]
    order = [order[i] for i in rng.permutation(len(order))][:pieces]
    parts, layout, at = [], [], 0.0
    for source, kind in order:
        gap = rng.uniform(1.0, 2.0)
        y, sr = soundfile.read(source, always_2d=True)
        y = soxr.resample(y.mean(axis=1), sr, RATE)
        y = y / np.abs(y).max() * rng.uniform(0.3, 0.7)
        parts += [np.zeros(int(gap * RATE)), y]
        layout.append((at + gap, at + gap + len(y) / RATE, kind))
        at += gap + len(y) / RATE
    parts.append(np.zeros(RATE))
    mono = np.concatenate(parts)
    mono += rng.standard_normal(len(mono)) * 1e-4  # a quiet room, not digital silence
    soundfile.write(path, np.stack([mono, 0.9 * mono], axis=1), RATE, subtype="PCM_16")
    return layout


def main() -> int:
    args = b.arguments("long_recording_segments", __doc__)
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="gallery-long-") as tmp:
        import soundfile

        from hover_audio import AudioDataset

        root = Path(tmp) / "recordings"
        root.mkdir()
        layout = make_recording(root / "long recording.wav")
        length = soundfile.info(root / "long recording.wav").duration
        ds = AudioDataset.from_folder(root, segment={"mode": "nonsilent"})
        table = Path(tmp) / "clips.csv"
        ds.export(table)
        print(f"{length:.1f} s recording of {len(layout)} sounds: {len(ds)} clips in {table.name}")
        assert 0.8 * len(layout) <= len(ds) <= 1.5 * len(layout), len(ds)

        with b.app(["serve", table, "--workspace", Path(tmp) / "workspace"], Path(tmp),
                   args.port) as url, b.page(url) as tab:
            names = b.column(tab, "clips", "name")
            spans = []
            for name in names:  # "long recording.wav [START,END]"
                found = re.fullmatch(r"long recording\.wav \[([\d.]+),([\d.]+)\]", name)
                assert found, name
                spans.append((float(found[1]), float(found[2])))

            def kind_of(span):  # the piece under the clip's middle
                middle = (span[0] + span[1]) / 2
                return next((k for s, e, k in layout if s - 0.1 <= middle <= e + 0.1), "?")

            kinds = [kind_of(span) for span in spans]

            def hear(row):  # hover a point: it plays just its range
                b.hover_row(tab, row)
                b.wait_played(tab, row)
                wav = b.played_wav(tab)
                start, end = spans[row]
                print(f"hovered {names[row]} ({kinds[row]}): played {wav['seconds']:.3f} s of "
                      f"{wav['channels']} channel(s) at {wav['rate']} Hz; the range is "
                      f"{end - start:.3f} s of a {length:.1f} s file")
                assert abs(wav["seconds"] - (end - start)) < 0.01, (wav, spans[row])

            lonely = b.lonely_rows(tab, range(len(names)))
            hear(lonely[0])

            centre, radius, _ = b.pure_circle(tab, kinds, wanted="speech", least=3)
            rows = b.lasso_rows(tab, centre, radius)
            assert {kinds[i] for i in rows} == {"speech"}, [kinds[i] for i in rows]
            b.apply_label(tab, rows, "speech")
            print(f"labeled {len(rows)} clips 'speech'")
            counts = {"ABSTAIN": len(names) - len(rows), "speech": len(rows)}
            b.check_population(tab, {k: [n] for k, n in counts.items()})

            hits = b.search_like_selection(tab)  # more clips like those: speech elsewhere?
            labels = b.column(tab, "clips", "label")
            new = [i for i in hits if labels[i] == "ABSTAIN"]
            print(f"search: {len(hits)} result(s): {[(names[i], kinds[i]) for i in hits]}")
            if new and {kinds[i] for i in hits} == {"speech"}:  # all are digits: label them
                b.select_results(tab, hits)
                b.apply_label(tab, hits, "speech")
                counts = {"ABSTAIN": counts["ABSTAIN"] - len(new),
                          "speech": counts["speech"] + len(new)}
                print(f"labeled the {len(new)} new result(s) 'speech' too")
            b.check_population(tab, {k: [n] for k, n in counts.items()})
            b.clear_search(tab)

            b.clear_selection(tab)
            labels = b.column(tab, "clips", "label")
            points = tab.evaluate(b.POINTS_JS)["points"]

            def tooltip_clear(row):  # the tooltip (right of the point) hides no labeled clip
                x, y = points[row]
                return not any(x < u < x + 240 and abs(v - y) < 60
                               for u, v in (points[i] for i in range(len(names))
                                            if labels[i] != "ABSTAIN"))

            others = [i for i in b.central(tab, b.lonely_rows(tab, range(len(names)), gap=10))
                      if labels[i] == "ABSTAIN" and i != lonely[0] and tooltip_clear(i)]
            hear(others[0])
            tab.wait_for_timeout(300)
            b.snap(tab, args.out)
    print(f"saved {args.out} in {time.monotonic() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
