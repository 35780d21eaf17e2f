#!/usr/bin/env python3
"""Screenshot of the demo annotator in use, for the docs.

Starts ``hover-audio demo --fresh --no-umap`` on a free port (with a throw-away
``HOVER_AUDIO_CACHE`` and ``HOVER_AUDIO_HOME``), opens it in Debian's headless Chromium through Playwright,
labels a lasso-drawn group of points through the UI (raw points among labeled
ones of a single label, given that label), searches "More like the
selection", rests the mouse on a result (tooltip and playing ring) and saves a
screenshot.

Usage: python scripts/screenshot.py [OUT.png]    (default: docs/annotator.png)
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
READY = ("() => window.Bokeh && Bokeh.documents.length"
         " && Bokeh.documents[0].get_model_by_name('clips')")
POINTS_JS = """() => { const doc = Bokeh.documents[0]; const plot = doc.get_model_by_name('map');
  function find(v, id) { if (v.model.id === id) return v;
    for (const c of (v.child_views || [])) { const f = find(c, id); if (f) return f; } return null; }
  let v = null; for (const r of Bokeh.index.roots) { v = find(r, plot.id); if (v) break; }
  const src = doc.get_model_by_name('clips'); const rect = v.canvas_view.el.getBoundingClientRect();
  const f = v.frame.bbox;
  return {points: Array.from(src.data.x).map((x, i) => [rect.left + v.frame.x_scale.compute(x),
                                                        rect.top + v.frame.y_scale.compute(src.data.y[i])]),
          subset: Array.from(src.data.subset), label: Array.from(src.data.label),
          frame: {left: rect.left + f.left, top: rect.top + f.top,
                  right: rect.left + f.right, bottom: rect.top + f.bottom}}; }"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, log: Path, timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"hover-audio demo exited with {process.returncode}:\n"
                             + log.read_text(errors="replace"))
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise SystemExit(f"the demo did not answer at {url} within {timeout:.0f} s")


def label_group(geometry):
    """A circle (centre, radius) around raw points whose labeled neighbours inside it all
    share one label, clear of the legend: the most raw points wins. Returns the label too."""
    f = geometry["frame"]
    points, subsets, labels = geometry["points"], geometry["subset"], geometry["label"]
    best, best_raw = None, 0
    for cx, cy in points:
        for radius in (28.0, 36.0, 44.0):
            if not (f["left"] + radius + 8 < cx < f["right"] - radius - 8
                    and f["top"] + radius + 8 < cy < f["bottom"] - radius - 8):
                continue
            if cx - radius < f["left"] + 180 and cy - radius < f["top"] + 170:  # the legend
                continue
            near = [i for i, (x, y) in enumerate(points)
                    if (x - cx) ** 2 + (y - cy) ** 2 < (radius + 4) ** 2]
            known = {labels[i] for i in near if subsets[i] != "raw"}
            raw = sum(1 for i in near if subsets[i] == "raw")
            if len(known) == 1 and sum(subsets[i] != "raw" for i in near) >= 2 and raw > best_raw:
                best, best_raw = ((cx, cy), radius, known.pop()), raw
    if best is None:
        raise SystemExit("no group of raw points to lasso")
    return best


def lasso(page, centre, radius: float) -> None:
    """Draw a lasso around ``centre`` with the mouse (the default drag tool)."""
    import math

    cx, cy = centre
    path = [(cx + radius * math.cos(a), cy + radius * math.sin(a))
            for a in [k * 2 * math.pi / 36 for k in range(37)]]
    page.mouse.move(*path[0])
    page.mouse.down()
    for x, y in path[1:]:
        page.mouse.move(x, y, steps=2)
    page.mouse.up()


def main(argv: list[str]) -> int:
    out = Path(argv[1] if len(argv) > 1 else REPO / "docs" / "annotator.png").absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    cache = Path(tempfile.mkdtemp(prefix="hover-audio-shot-"))
    process = None
    try:
        for attempt in (1, 2):
            port = free_port()
            url = f"http://127.0.0.1:{port}/"
            log_path = cache / f"demo-{attempt}.log"
            with open(log_path, "w") as log:
                process = subprocess.Popen(
                    [sys.executable, "-m", "hover_audio.app.cli", "demo", "--fresh", "--port",
                     str(port), "--no-umap", "--quiet"],
                    cwd=cache,
                    env=dict(os.environ, HOVER_AUDIO_CACHE=str(cache), HOVER_AUDIO_HOME=str(cache),
                             PYTHONUNBUFFERED="1"),
                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            print(f"starting the demo at {url} (the first start vectorizes ~1000 clips)...")
            try:
                wait_for(url, process, log_path)
                break
            except SystemExit as error:
                if attempt == 2 or process.poll() is None:
                    raise
                # a fresh cache folder sometimes fails vectorizing ("disk I/O error")
                print(f"{error}\nthe demo died while starting; trying once more", file=sys.stderr)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 1180})
            page.set_default_timeout(30_000)
            page.goto(url)
            page.wait_for_function(READY, timeout=60_000)
            page.wait_for_timeout(1500)
            page.get_by_role("button", name="Enable sound").click()

            # raw points among labeled ones of one label: lasso them all, give them that label
            centre, radius, label = label_group(page.evaluate(POINTS_JS))
            lasso(page, centre, radius)
            page.wait_for_function(
                "() => Bokeh.documents[0].get_model_by_name('selection').data.index.length > 0")
            box = page.get_by_placeholder("type a label, then Apply")
            box.click()
            box.press_sequentially(label, delay=20)
            box.press("Enter")  # take the typed text (not a completion), then Apply
            page.get_by_role("button", name="Apply", exact=True).click()
            page.wait_for_function(
                """(label) => { const d = Bokeh.documents[0].get_model_by_name('clips');
                    const rows = Array.from(d.selected.indices);
                    return rows.length && rows.every((i) => d.data.label[i] === label); }""",
                arg=label)
            page.wait_for_timeout(500)
            # the tables do not redraw when their row count stays the same (an app bug), so
            # reload the page to show true counts, and lasso the same group again
            page.reload()
            page.wait_for_function(READY, timeout=60_000)
            page.wait_for_timeout(1500)
            page.get_by_role("button", name="Enable sound").click()
            lasso(page, centre, radius)
            page.wait_for_function(
                "() => Bokeh.documents[0].get_model_by_name('selection').data.index.length > 0")

            page.get_by_role("button", name="More like the selection").click()
            page.wait_for_function(
                "() => Array.from(Bokeh.documents[0].get_model_by_name('clips').data.score)"
                ".some((s) => Number.isFinite(s))")
            page.wait_for_timeout(800)
            # rest the mouse on a result with no point close by: one tooltip + playing ring
            geometry = page.evaluate(POINTS_JS)
            hits = page.evaluate("""() => { const d = Bokeh.documents[0].get_model_by_name('clips');
                const chosen = new Set(d.selected.indices);
                return Array.from(d.data.alpha).map((a, i) => (a === 1 && !chosen.has(i)) ? i : -1)
                    .filter((i) => i >= 0); }""")
            points = geometry["points"]
            lonely = [i for i in hits
                      if all((points[i][0] - x) ** 2 + (points[i][1] - y) ** 2 > 100
                             for j, (x, y) in enumerate(points) if j != i)]
            if lonely:
                x, y = points[lonely[0]]
                page.mouse.move(x - 8, y - 8)
                page.mouse.move(x, y, steps=4)
                page.wait_for_timeout(1200)
            page.screenshot(path=str(out))
            browser.close()
        print(f"saved {out}")
        return 0
    finally:
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
