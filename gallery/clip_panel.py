"""The clip panel on a long recording: see the range you hear, inside its context.

Builds the ~70 s recording of ``long_recording_segments.py`` (spoken demo digits and
freedesktop sounds with silences between), serves the folder cut at its silences
straight from the command line (``hover-audio serve FOLDER --segment nonsilent``), taps
a spoken digit on the map and waits for the clip panel: the waveform and the mel
spectrogram of that range, shaded context either side, the playhead moving while it
plays. It then types a transcript (Enter saves) and checks the dataset got it.

Usage: python gallery/clip_panel.py [--out PNG] [--port N]
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _browser as b  # noqa: E402
from long_recording_segments import make_recording  # noqa: E402


def main() -> int:
    args = b.arguments("clip_panel", __doc__)
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="gallery-panel-") as tmp:
        root = Path(tmp) / "recordings"
        root.mkdir()
        layout = make_recording(root / "long recording.wav")
        workspace = Path(tmp) / "workspace"
        with b.app(["serve", root, "--segment", "nonsilent", "--workspace", workspace],
                   Path(tmp), args.port) as url, b.page(url, height=1260) as tab:
            names = b.column(tab, "clips", "name")
            spans = [tuple(float(t) for t in name.split("[")[1].rstrip("]").split(","))
                     for name in names]

            def kind_of(span):
                middle = (span[0] + span[1]) / 2
                return next((k for s, e, k in layout if s - 0.1 <= middle <= e + 0.1), "?")

            speech = [i for i, span in enumerate(spans) if kind_of(span) == "speech"]
            row = b.central(tab, b.lonely_rows(tab, speech))[0]
            x, y = tab.evaluate(b.POINTS_JS)["points"][row]
            tab.mouse.click(x, y)
            b.wait_played(tab, row)
            tab.wait_for_function("""(row) => { const d = Bokeh.documents[0];
                return d.get_model_by_name('clip-state').data.row[0] === row
                  && d.get_model_by_name('clip-wave').data.x.length > 0; }""", arg=row)
            state = tab.evaluate("() => Bokeh.documents[0].get_model_by_name('clip-state').data")
            start, end = spans[row]
            assert abs(state["start"][0] - start) < 1e-6 and abs(state["end"][0] - end) < 1e-6
            shown = tab.evaluate("""() => { const d = Bokeh.documents[0]
                .get_model_by_name('clip-spectrogram').data; return [d.x[0], d.x[0] + d.dw[0],
                d.dh[0]]; }""")
            print(f"tapped {names[row]}: the panel draws {shown[0]:.2f}-{shown[1]:.2f} s of the "
                  f"file (the range {start:g}-{end:g} s and its context), {shown[2]} mel bands")
            assert shown[0] <= start and shown[1] >= end
            box = tab.get_by_label("transcript (Enter saves)", exact=True)
            box.fill("a spoken digit")
            box.press("Enter")
            tab.wait_for_function("""() => [...Bokeh.documents[0].all_models].some((m) =>
                typeof m.text === 'string' && m.text.includes('transcript saved'))""")
            tab.evaluate("() => window.scrollTo(0, 0)")
            tab.wait_for_timeout(400)
            edge = box.bounding_box()
            size = tab.viewport_size
            bottom = min(size["height"], edge["y"] + edge["height"] + 16)
            tab.screenshot(path=str(args.out), clip={"x": 0, "y": 0, "width": size["width"],
                                                     "height": bottom})
        from hover_audio import AudioDataset

        saved = AudioDataset.load(workspace, attach=False).to_pandas().set_index("audio")
        key = next(k for k in saved.index if k.endswith(f"#t={names[row].split('[')[1][:-1]}"))
        assert saved.loc[key, "transcript"] == "a spoken digit", saved.loc[key]
        print(f"the workspace holds the transcript of {Path(key).name}")
    print(f"saved {args.out} in {time.monotonic() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
