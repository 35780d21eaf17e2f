"""What the gallery scripts share: the real server, a headless Chromium page, a few gestures.

The browser machinery (Debian Chromium through Playwright, ``free_port``, ``wait_for``,
``lasso``, ``POINTS_JS``, ``CHROMIUM_ARGS``) is ``scripts/screenshot.py``'s, imported
from its file; this module only adds the server's life cycle and a few page gestures.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IMAGES = REPO / "gallery" / "images"
SOUNDS = Path("/usr/share/sounds/freedesktop/stereo")

_spec = importlib.util.spec_from_file_location("_hover_audio_screenshot",
                                               REPO / "scripts" / "screenshot.py")
shot = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(shot)
free_port, wait_for, lasso = shot.free_port, shot.wait_for, shot.lasso
POINTS_JS, READY = shot.POINTS_JS, shot.READY
CHROMIUM, CHROMIUM_ARGS = shot.CHROMIUM, shot.CHROMIUM_ARGS

# the view of the population table (a DataTable drawn by SlickGrid in a shadow root)
TABLE_VIEW_JS = """const source = Bokeh.documents[0].get_model_by_name('population');
  function find(v) { if (v.model.source === source && v.grid) return v;
    for (const c of (v.child_views || [])) { const f = find(c); if (f) return f; }
    return null; }
  let view = null; for (const r of Bokeh.index.roots) { view = find(r); if (view) break; }"""


def arguments(name: str, doc: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    parser.add_argument("--out", type=Path, default=IMAGES / f"{name}.png",
                        help=f"screenshot to write (default gallery/images/{name}.png)")
    parser.add_argument("--port", type=int, default=0, help="server port (default: a free one)")
    args = parser.parse_args()
    args.out = args.out.absolute()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    return args


@contextlib.contextmanager
def app(command: list, tmp: Path, port: int = 0):
    """``hover-audio COMMAND... --port N --no-umap --quiet`` with its cache in ``tmp``; yields
    the URL once it answers, and stops the server with Ctrl+C (its own path) afterwards."""
    port = port or free_port()
    url, log_path = f"http://127.0.0.1:{port}/", tmp / "server.log"
    (tmp / "cache").mkdir(exist_ok=True)
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "hover_audio.app.cli", *map(str, command), "--port", str(port),
             "--no-umap", "--quiet"],
            cwd=tmp, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env=dict(os.environ, HOVER_AUDIO_CACHE=str(tmp / "cache"),
                     HOVER_AUDIO_HOME=str(tmp / "home"), PYTHONUNBUFFERED="1"))
    try:
        wait_for(url, process, log_path, timeout=240)
        yield url
    except BaseException:
        print(log_path.read_text(errors="replace")[-3000:], file=sys.stderr)
        raise
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        print(f"server stopped (exit code {process.returncode})")


@contextlib.contextmanager
def page(url: str, width: int = 1280, height: int = 1180):
    """A page of headless Chromium on the app, loaded, with sound enabled."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            tab = browser.new_page(viewport={"width": width, "height": height})
            tab.set_default_timeout(30_000)
            errors = []
            tab.on("pageerror", lambda error: errors.append(str(error)))
            tab.goto(url)
            ready(tab)
            yield tab
            assert not errors, f"errors in the page: {errors}"
        finally:
            browser.close()


def ready(tab) -> None:
    """Wait for the document, then click "Enable sound" (browsers block sound before a click)."""
    tab.wait_for_function(READY, timeout=60_000)
    tab.wait_for_timeout(1000)
    tab.get_by_role("button", name="Enable sound").click()
    tab.wait_for_function("() => window.hoverAudioUnlocked === true")


def column(tab, source: str, name: str) -> list:
    return tab.evaluate("([s, c]) => Array.from(Bokeh.documents[0].get_model_by_name(s).data[c])",
                        [source, name])


def lasso_rows(tab, centre, radius: float) -> list[int]:
    """Lasso around ``centre``; wait for the server's selection table; the selected rows."""
    before = column(tab, "selection", "index")
    lasso(tab, centre, radius)
    tab.wait_for_function("""(before) => { const now = Array.from(Bokeh.documents[0]
        .get_model_by_name('selection').data.index);
        return now.length > 0 && JSON.stringify(now) !== JSON.stringify(before); }""", arg=before)
    return sorted(column(tab, "selection", "index"))


def apply_label(tab, rows, label: str) -> None:
    """Type ``label`` in the Label box and click Apply; wait until the map has it."""
    box = tab.get_by_placeholder("type a label, then Apply")
    box.click()
    box.press("Control+a")
    box.press_sequentially(label, delay=20)
    box.press("Enter")  # commit the typed value
    tab.get_by_role("button", name="Apply", exact=True).click()
    tab.wait_for_function("""([rows, label]) => { const d = Bokeh.documents[0]
        .get_model_by_name('clips').data.label; return rows.every((i) => d[i] === label); }""",
                          arg=[list(rows), label])


def population_shown(tab, label: str) -> list[str]:
    """The cells of ``label``'s row as the population table *draws* them (scrolled into view);
    all the drawn rows if none is ``label``'s."""
    tab.wait_for_function("(label) => Array.from(Bokeh.documents[0].get_model_by_name("
                          "'population').data.label).includes(label)", arg=label)
    tab.wait_for_timeout(300)
    return tab.evaluate("(label) => { " + TABLE_VIEW_JS + """
      view.grid.scrollRowIntoView(Array.from(source.data.label).indexOf(label));
      const rows = Array.from(view.shadow_el.querySelectorAll('.slick-row'), (row) => Array.from(
        row.querySelectorAll('.slick-cell'), (c) => c.textContent.replace('\u25a0', '').trim()));
      return rows.find((cells) => cells[0] === label) || rows; }""", label)


def check_population(tab, expected: dict, timeout: float = 10.0) -> None:
    """Wait until the population table *draws* ``{label: [raw, train, ...]}`` (a prefix of
    each row's counts), then assert it; the last label's row is left scrolled into view."""
    import time

    expected = {label: [str(v) for v in values] for label, values in expected.items()}
    deadline = time.monotonic() + timeout
    while True:
        drawn = {label: population_shown(tab, label) for label in expected}
        wrong = {label: cells for label, cells in drawn.items()
                 if cells[1:1 + len(expected[label])] != expected[label]}
        if not wrong or time.monotonic() > deadline:
            break
    assert not wrong, f"the population table draws {wrong}, expected {expected}"


def hover_row(tab, row: int, pause_ms: int = 900) -> None:
    """Rest the mouse on point ``row`` (approached from a few pixels away)."""
    x, y = tab.evaluate(POINTS_JS)["points"][row]
    tab.mouse.move(x - 7, y - 7)
    tab.mouse.move(x, y, steps=4)
    tab.wait_for_timeout(pause_ms)


def wait_played(tab, row: int) -> None:
    """Wait until the last clip asked for and played is ``row``, as a WAV data URL."""
    tab.wait_for_function("""(row) => { const p = window.hoverAudioPlayed || [];
        const a = window.hoverAudio; return p.length && p[p.length - 1] === row
          && a.src.startsWith('data:audio/wav;base64,') && (a.currentTime > 0 || a.ended); }""",
                          arg=row, timeout=15_000)


def lonely_rows(tab, rows, gap: float = 12.0) -> list[int]:
    """Those of ``rows`` with no other point within ``gap`` px, clear of the legend."""
    geometry = tab.evaluate(POINTS_JS)
    points, f = geometry["points"], geometry["frame"]
    out = []
    for i in rows:
        x, y = points[i]
        if not (f["left"] + 20 < x < f["right"] - 20 and f["top"] + 20 < y < f["bottom"] - 20):
            continue
        if x < f["left"] + 180 and y < f["top"] + 170:
            continue
        if all((x - u) ** 2 + (y - v) ** 2 >= gap ** 2
               for j, (u, v) in enumerate(points) if j != i):
            out.append(i)
    return out


def pure_circle(tab, kinds: list, wanted=None, least: int = 3,
                radii=(24.0, 32.0, 42.0, 55.0, 75.0, 100.0, 125.0)):
    """A circle (centre, radius, kind) holding the most points, at least ``least``, all of one
    kind (``kinds[i]`` is what row i really is; ``wanted`` limits the kind), clear of the
    frame's edges and the legend."""
    geometry = tab.evaluate(POINTS_JS)
    points, f = geometry["points"], geometry["frame"]
    best, most = None, least - 1
    for cx, cy in points:
        for radius in radii:
            if not (f["left"] + radius + 8 < cx < f["right"] - radius - 8
                    and f["top"] + radius + 8 < cy < f["bottom"] - radius - 8):
                continue
            if cx - radius < f["left"] + 180 and cy - radius < f["top"] + 170:  # the legend
                continue
            distances = [(x - cx) ** 2 + (y - cy) ** 2 for x, y in points]
            found = {kinds[i] for i, d in enumerate(distances) if d < (radius + 6) ** 2}
            inside = sum(d < (radius - 3) ** 2 for d in distances)  # surely lassoed
            if len(found) == 1 and (wanted is None or found == {wanted}) and inside > most:
                best, most = ((cx, cy), radius, found.pop()), inside
    if best is None:
        raise SystemExit(f"no group of {least}+ points of one kind ({wanted or 'any'}) to lasso")
    return best


def played_wav(tab) -> dict:
    """The format of the WAV data URL the page's audio element holds (from its RIFF header)."""
    import base64
    import struct

    src = tab.evaluate("() => window.hoverAudio.src")
    assert src.startswith("data:audio/wav;base64,"), src[:40]
    data = base64.b64decode(src.split(",", 1)[1])
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE", data[:12]
    at, info = 12, {}
    while at + 8 <= len(data):
        kind, size = data[at:at + 4], struct.unpack("<I", data[at + 4:at + 8])[0]
        if kind == b"fmt ":
            _, channels, rate, _, _, bits = struct.unpack("<HHIIHH", data[at + 8:at + 24])
            info.update(channels=channels, rate=rate, bits=bits)
        elif kind == b"data":
            info["seconds"] = size / (info["rate"] * info["channels"] * info["bits"] // 8)
            return info
        at += 8 + size + (size & 1)
    raise AssertionError("no data chunk in the played WAV")


def clear_selection(tab) -> None:
    """Lasso an empty part of the map: the selection becomes empty (selection mode none)."""
    geometry = tab.evaluate(POINTS_JS)
    f, points = geometry["frame"], geometry["points"]
    spots = [(x, y) for x in range(int(f["left"]) + 200, int(f["right"]) - 30, 20)
             for y in range(int(f["top"]) + 30, int(f["bottom"]) - 30, 20)]
    spot = max(spots, key=lambda s: min((s[0] - u) ** 2 + (s[1] - v) ** 2 for u, v in points))
    lasso(tab, spot, 12)
    tab.wait_for_function("() => Bokeh.documents[0].get_model_by_name('selection')"
                          ".data.index.length === 0")


def search_like_selection(tab) -> list[int]:
    """Click "More like the selection"; the rows of the results, best first."""
    tab.get_by_role("button", name="More like the selection").click()
    tab.wait_for_function("() => Array.from(Bokeh.documents[0].get_model_by_name('clips')"
                          ".data.score).some((s) => Number.isFinite(s))")
    alpha, scores = column(tab, "clips", "alpha"), column(tab, "clips", "score")
    return sorted((i for i, a in enumerate(alpha) if a == 1), key=lambda i: -scores[i])


def select_results(tab, hits) -> None:
    """Click "Select results" and wait for the selection table to list ``hits``."""
    tab.get_by_role("button", name="Select results").click()
    tab.wait_for_function("""(hits) => { const got = Array.from(Bokeh.documents[0]
        .get_model_by_name('selection').data.index).sort((a, b) => a - b);
        return JSON.stringify(got) === JSON.stringify(hits); }""", arg=sorted(hits))


def clear_search(tab) -> None:
    tab.get_by_role("button", name="Clear search").click()
    tab.wait_for_function("() => Array.from(Bokeh.documents[0].get_model_by_name('clips')"
                          ".data.score).every((s) => !Number.isFinite(s))")


def central(tab, rows) -> list[int]:
    """``rows`` nearest to the middle of the map first."""
    geometry = tab.evaluate(POINTS_JS)
    f, points = geometry["frame"], geometry["points"]
    mx, my = (f["left"] + f["right"]) / 2, (f["top"] + f["bottom"]) / 2
    return sorted(rows, key=lambda i: (points[i][0] - mx) ** 2 + (points[i][1] - my) ** 2)


def snap(tab, out: Path) -> None:
    """Screenshot of the viewport; without a selection, down to the map and the population
    table's last row only (the empty selection table below is left out)."""
    clip = None
    if not column(tab, "selection", "index"):
        bottom = tab.evaluate("() => { " + TABLE_VIEW_JS + """
          const rows = Array.from(view.shadow_el.querySelectorAll('.slick-row'),
                                  (row) => row.getBoundingClientRect().bottom);
          return Math.max(...rows, view.el.getBoundingClientRect().top + 60); }""")
        bottom = max(bottom, tab.evaluate(POINTS_JS)["frame"]["bottom"])
        size = tab.viewport_size
        clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], bottom + 16)}
    tab.screenshot(path=str(out), clip=clip)
