"""The clip panel on a long real recording cut at silences: see the range in context, move
its end, split it at the playhead, add a range, delete one, write a transcript; all of it
survives a reload and a restart, and undo reverts each step."""
from __future__ import annotations

import time

import numpy as np
import pytest

from hover_audio import AudioDataset
from hover_audio.app.explorer.page_data import display_name
from hover_audio.common.values import format_number

from ..conftest import FREEDESKTOP_SOUNDS
from .test_annotator import (
    DEEP_JS, POINT_JS, button, select_rows, enable_sound, journal_lines, open_app, source, wait_js, wait_text,
)

VOICES = ["audio-channel-front-left", "audio-channel-front-right", "audio-channel-rear-left",
          "audio-channel-rear-right", "audio-channel-side-left", "audio-channel-front-center"]
GAP = 1.5  # seconds of silence between the words


@pytest.fixture()
def long_recording(tmp_path, freedesktop):
    """Six spoken channel names (Debian's sound theme) in one file, with silences between."""
    import soundfile

    parts, rate = [], None
    for name in VOICES:
        samples, rate = soundfile.read(FREEDESKTOP_SOUNDS / f"{name}.oga", dtype="float32",
                                       always_2d=True)
        parts += [samples.mean(axis=1), np.zeros(int(GAP * rate), np.float32)]
    folder = tmp_path / "recordings"
    folder.mkdir()
    soundfile.write(folder / "session.wav", np.concatenate(parts), rate, subtype="PCM_16")
    return folder


def state(page) -> dict:
    return source(page, "clip-state")


def model_value(page, name: str, attribute: str = "value"):
    return page.evaluate("([n, a]) => Bokeh.documents[0].get_model_by_name(n)[a]",
                         [name, attribute])


# page coordinates of time ``t`` on the waveform, half way up
EDGE_JS = """(t) => { const doc = Bokeh.documents[0]; const plot = doc.get_model_by_name('clip-waveform');
  function find(v, id) { if (v.model.id === id) return v;
    for (const c of (v.child_views || [])) { const f = find(c, id); if (f) return f; } return null; }
  let v = null; for (const r of Bokeh.index.roots) { v = find(r, plot.id); if (v) break; }
  v.canvas_view.el.scrollIntoView({block: 'center'});
  const rect = v.canvas_view.el.getBoundingClientRect(); const f = v.frame.bbox;
  return [rect.left + v.frame.x_scale.compute(t), rect.top + f.top + f.height / 2]; }"""
SHOWN_JS = "(row) => Bokeh.documents[0].get_model_by_name('clip-state').data.row[0] === row"
TABLE_CELL_JS = f"""(name) => {{
  const rows = ({DEEP_JS})('.slick-row').filter((row) => {{
    const first = row.querySelector('.slick-cell.l0');
    return first && first.textContent.trim() === name; }});
  if (!rows.length) return null;
  const cell = rows[0].querySelector('.slick-cell.l0');
  cell.scrollIntoView({{block: 'center'}});
  const box = cell.getBoundingClientRect();
  return {{x: box.x + box.width / 2, y: box.y + box.height / 2}};
}}"""


def tap_row(page, name: str) -> int:
    """Show the clip named ``name`` in the panel: tap its point on the map or, where
    points overlap (a tap takes the nearest), click its row in the selection table."""
    row = source(page, "clips")["name"].index(name)
    point = page.evaluate(POINT_JS, row)
    page.mouse.click(point["x"], point["y"])
    try:
        wait_js(page, SHOWN_JS, row, timeout=5_000)
    except Exception:
        select_rows(page, [row])
        wait_js(page, f"(name) => ({TABLE_CELL_JS})(name) !== null", name)
        cell = page.evaluate(TABLE_CELL_JS, name)
        page.mouse.click(cell["x"], cell["y"])
        wait_js(page, SHOWN_JS, row, timeout=20_000)
    return row


def type_into(page, label: str, text: str) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(text)
    box.press("Enter")


def panel_text(page) -> str:
    return model_value(page, "clip-info", "text")


def clip_names(page) -> list[str]:
    return sorted(source(page, "clips")["name"])


def shown(start: float, end: float) -> str:
    """The map's name of a range of the recording."""
    return display_name(f"/r/session.wav#t={format_number(start)},{format_number(end)}")


def spans(names) -> list[tuple[float, float]]:
    return sorted(tuple(float(t) for t in name.split("[")[1].rstrip("]").split(","))
                  for name in names)


def test_the_clip_panel_edits_ranges_of_a_long_recording(browser, long_recording,
                                                         start_server, tmp_path):
    workspace = tmp_path / "workspace"
    app = start_server(long_recording, workspace, extra=("--segment", "nonsilent"))
    context = browser.new_context(viewport={"width": 1500, "height": 1500})
    try:
        page = context.new_page()
        open_app(page, app.url)
        names = clip_names(page)
        count = len(names)
        assert count >= len(VOICES), names  # a word or two per name, cut at the pauses
        # tap the second word: the panel shows exactly its range, inside 2 s of context
        steps = [names]  # the map's names after each edit
        start, end = spans(names)[1]
        tap_row(page, shown(start, end))
        info = state(page)
        assert info["start"][0] == pytest.approx(start) and info["end"][0] == pytest.approx(end)
        wave, picture = source(page, "clip-wave"), source(page, "clip-spectrogram")
        assert len(wave["x"]) > 100 and min(wave["x"]) >= start - 2.0 - 0.01
        assert max(wave["x"]) <= end + 2.0 + 0.01
        assert picture["x"][0] == pytest.approx(max(0.0, start - 2.0), abs=1e-3)
        assert picture["dw"][0] == pytest.approx(end + 2.0 - picture["x"][0], abs=0.01)
        assert f"{start:g}" in panel_text(page) or f"{start}" in panel_text(page)

        # type a new end and set it
        new_end = round(end - 0.1, 3)
        page.get_by_label("end (s)", exact=True).fill(f"{new_end}")
        button(page, "Set range").click()
        wait_js(page, "(e) => Bokeh.documents[0].get_model_by_name('clip-state').data.end[0] === e",
                new_end, timeout=20_000)
        moved = shown(start, new_end)
        wait_js(page, "(n) => Bokeh.documents[0].get_model_by_name('clips').data.name.includes(n)",
                moved)
        steps.append(clip_names(page))

        # play it, pause with space, split at the playhead
        enable_sound(page)
        tap_row(page, moved)
        wait_js(page, """(s) => Bokeh.documents[0].get_model_by_name('clip-state') &&
            window.hoverAudio && window.hoverAudio.currentTime > 0.15""", start, timeout=20_000)
        page.mouse.click(5, 5)  # focus the page body, not a text field
        page.keyboard.press(" ")
        wait_js(page, "() => window.hoverAudio.paused")
        playhead = page.evaluate("""() => [...Bokeh.documents[0].all_models].find((m) =>
            m.type === 'Span' || (m.constructor && m.constructor.name === 'Span')).location""")
        assert start + 0.1 < playhead < new_end
        button(page, "Split at playhead").click()
        wait_js(page, "(n) => Bokeh.documents[0].get_model_by_name('clips').data.name.length === n",
                count + 1, timeout=20_000)
        steps.append(clip_names(page))
        # the panel shows the left half once it has drawn it: type only after that
        wait_js(page, """(e) => { const d = Bokeh.documents[0];
            return d.get_model_by_name('clip-state').data.end[0] < e
              && !d.get_model_by_name('clip-info').text.startsWith('<i>drawing'); }""", new_end,
                timeout=20_000)

        # add a range on the same file, over the silence after the last word
        page.get_by_label("start (s)", exact=True).fill("0.05")
        page.get_by_label("end (s)", exact=True).fill("0.3")
        button(page, "Add as new range").click()
        wait_js(page, "(n) => Bokeh.documents[0].get_model_by_name('clips').data.name.length === n",
                count + 2, timeout=20_000)
        assert shown(0.05, 0.3) in source(page, "clips")["name"]
        steps.append(clip_names(page))
        wait_js(page, """() => { const d = Bokeh.documents[0];  // the panel shows the new range
            return d.get_model_by_name('clip-state').data.start[0] === 0.05
              && !d.get_model_by_name('clip-info').text.startsWith('<i>drawing'); }""",
                timeout=20_000)

        # a transcript for it (Enter saves)
        type_into(page, "transcript (Enter saves)", "a breath before the first word")
        wait_text(page, "transcript saved")
        steps.append(clip_names(page))

        # delete the last word's row
        last = shown(*spans(names)[-1])
        tap_row(page, last)
        button(page, "Delete row").click()
        wait_js(page, "(n) => !Bokeh.documents[0].get_model_by_name('clips').data.name.includes(n)",
                last, timeout=20_000)
        after_edits = clip_names(page)
        steps.append(after_edits)
        assert len(after_edits) == count + 1
        assert sum('"rows"' in line for line in journal_lines(workspace)) >= 4

        # reload the page and restart the server: every edit is still there
        page.reload()
        open_app(page, app.url)
        assert clip_names(page) == after_edits
        app.stop()
        again = start_server(workspace)
        open_app(page, again.url)
        assert clip_names(page) == after_edits
        tap_row(page, shown(0.05, 0.3))
        assert model_value(page, "clip-transcript") == "a breath before the first word"

        # undo reverts each step: delete, transcript, add, split, set range
        for expected in reversed(steps[:-1]):
            lines = len(journal_lines(workspace))
            page.mouse.click(5, 5)  # the body has the focus, not a text field
            page.keyboard.press("Control+z")
            deadline = time.monotonic() + 20
            while len(journal_lines(workspace)) == lines and time.monotonic() < deadline:
                time.sleep(0.1)
            wait_js(page, "(names) => { const got = Array.from(Bokeh.documents[0]"
                    ".get_model_by_name('clips').data.name).sort();"
                    " return JSON.stringify(got) === JSON.stringify(names); }", expected,
                    timeout=20_000)
        assert clip_names(page) == names
        again.stop()
        dataset = AudioDataset.load(workspace, attach=False)
        assert sorted(display_name(key) for key in dataset.keys) == names
    finally:
        context.close()


def test_listening_controls_and_dragging_the_range(browser, dataset, start_server, tmp_path):
    """Speed and loop reach the audio element; Left/Right step through the selection; the
    range box on the waveform drags the typed end."""
    app = start_server(dataset["table"], tmp_path / "workspace")
    context = browser.new_context(viewport={"width": 1500, "height": 1500})
    try:
        page = context.new_page()
        open_app(page, app.url)
        enable_sound(page)
        names = source(page, "clips")["name"]
        rows = [30, 31, 32]
        select_rows(page, rows)
        tap_row(page, names[rows[0]])
        page.get_by_label("speed", exact=True).select_option("1.5")
        button(page, "Loop").click()
        wait_js(page, """() => window.hoverAudio.playbackRate === 1.5 && window.hoverAudio.loop
            && window.hoverAudio.preservesPitch === true""")
        page.mouse.click(5, 5)  # the body has the focus: the keys are the page's
        for key, row in (("ArrowRight", rows[1]), ("ArrowRight", rows[2]),
                         ("ArrowRight", rows[0]), ("ArrowLeft", rows[2])):
            page.keyboard.press(key)
            wait_js(page, SHOWN_JS, row, timeout=20_000)
            wait_js(page, "(row) => (window.hoverAudioPlayed || []).slice(-1)[0] === row", row)
        # the next clip keeps the speed the person chose
        wait_js(page, "() => window.hoverAudio.playbackRate === 1.5")
        # typing into the transcript box: arrows move the caret, not the selection
        box = page.get_by_label("transcript (Enter saves)", exact=True)
        box.click()
        box.press("ArrowLeft")
        page.wait_for_timeout(500)
        assert state(page)["row"][0] == rows[2]

        # drag the right edge of the range box to the left: the typed end follows
        end = float(model_value(page, "clip-end"))
        x, y = page.evaluate(EDGE_JS, end)
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x - 60, y, steps=6)
        page.mouse.up()
        wait_js(page, "(end) => parseFloat(Bokeh.documents[0].get_model_by_name('clip-end')"
                ".value) < end - 0.02", end)  # 60 px of a clip about 0.5 s long: ~0.04 s
    finally:
        context.close()
