"""The annotator in a real browser: page load, lasso -> label -> recolour, websocket bytes.

Usage: ``python benchmarks/bench_app.py [--quick] [--gl webgl|canvas]``

For N = 10k and 100k synthetic clips (``--quick``: 2k and 10k) a child process
(this script with ``--serve``) builds an ``AudioDataset`` (keys: a distinct range
``#t=0,...`` of one of the demo's files per row, so hovering a point really plays; seeded
32-dim float32 vectors in 20 clusters; SUBSET 50% raw / 30% train / 10% dev / 10% test, the
non-raw rows labeled with one of 10 classes; ``compute_nd_embedding(method="pca")``)
and serves ``annotator_handle(ds)`` with ``hover_audio.app.server.make_server`` on
127.0.0.1. Headless Debian Chromium, driven by Playwright, then measures:

1. load: ``page.goto`` -> the "clips" source exists, the document is idle and the
   "map" figure view has finished painting (wall time in Python, and Bokeh's own
   "document idle at N ms", counted from the JS Document's creation). Median of
   LOADS fresh browser contexts (empty HTTP cache each).
   Reference: the same measure for a trivial document (one Div) served the same way.
2. lasso -> recolour: a mouse lasso (the default drag tool) around ~1% of the points,
   a new label typed into "type a label, then Apply", a click on "Apply", then the
   time (in-page clock, rAF polling) from the click until every selected row of the
   "clips" source has a new ``color`` (and the new ``label``). Median of REPEATS
   lassos, each on another region with a new label. "Play on hover" is switched off
   first so that no playback request adds traffic. Also the time until the map has
   repainted (the second animation frame after the colours changed); references: the
   same map repainted with nothing changed (drawing the points alone), and that repaint
   on a page that leaves the points to Bokeh's own canvas painting (``?points=native``;
   the page's points painter is ``hover_audio.app.explorer.drawing.FAST_POINTS_JS``).
3. websocket bytes received from the Apply click until the colours changed + 300 ms,
   for k selected rows; reference: the bytes received over the websocket while the
   page loaded (the document itself, pulled by the page).
4. hover -> plays: the mouse rests on a point with "play on hover" on, until the audio
   element fires 'playing' (before the label actions).
The page draws the map as it would for a person with this browser: WebGL where a GPU
draws it, else the plain canvas (``hover_audio.app.explorer.drawing``); ``--gl``
forces one (the page's ``?gl=``), to compare the two in the same browser.
Frame sizes are payload bytes as Playwright reports them (Bokeh's server does not
compress websocket frames by default).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import select
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
from playwright.sync_api import TimeoutError as PlaywrightTimeout

SIZES = (10_000, 100_000)
QUICK_SIZES = (2_000, 10_000)
LOADS = 3  # fresh contexts per load figure; median kept
REPEATS = 5  # lasso + label actions per N; median kept
FRACTION = 0.01  # of the points inside each lasso
DIM, CLUSTERS, CLASSES = 32, 20, 10
SUBSET_SHARES = {"raw": 0.5, "train": 0.3, "dev": 0.1, "test": 0.1}
SEED = 0
SETTLE_MS = 300  # quiet time after an action before bytes are counted
TARGET_RECOLOUR_MS = 500  # lasso -> recolour
RECOLOUR_TIMEOUT_MS = 30_000
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
VIEWPORT = {"width": 1500, "height": 1100}
PLACEHOLDER = "type a label, then Apply"
PROBLEMS: list[str] = []


# ------------------------------------------------------------------ server child
def build_dataset(n: int):
    import pandas as pd

    from hover_audio.dataset import AudioDataset

    rng = np.random.default_rng(SEED)
    centers = rng.normal(0.0, 4.0, (CLUSTERS, DIM))
    cluster = rng.integers(0, CLUSTERS, n)
    vectors = (centers[cluster] + rng.normal(0.0, 1.0, (n, DIM))).astype(np.float32)
    subset = rng.choice(list(SUBSET_SHARES), n, p=list(SUBSET_SHARES.values()))
    label = np.where(subset == "raw", "ABSTAIN",
                     np.char.add("class_", np.char.zfill((cluster % CLASSES).astype(str), 2)))
    from hover_audio.dataset.demo import demo_table

    clips = demo_table()["audio"].tolist()  # real files, so hovering a point really plays
    keys = [f"{clips[i % len(clips)]}#t=0,{0.25 + (i // len(clips)) / 1000:.3f}"
            for i in range(n)]  # a distinct range of a real clip per row
    table = pd.DataFrame({"audio": keys,
                          "label": label, "SUBSET": subset,
                          "duration": rng.uniform(0.5, 4.0, n)})
    dataset = AudioDataset.from_pandas(table)
    dataset.vectors = vectors
    dataset.compute_nd_embedding(method="pca", progress=False)
    return dataset


def trivial_handle(doc) -> None:
    from bokeh.models import Div

    doc.add_root(Div(text="<b>reference</b>: a trivial Bokeh document", name="trivial"))


def child_serve(kind: str, n: int, port: int) -> None:
    """Build the document's data, serve it, print one JSON line, run until killed."""
    from hover_audio.app.server import make_server

    start = time.perf_counter()
    if kind == "app":
        from hover_audio.app.explorer.annotator import annotator_handle

        dataset = build_dataset(n)
        handle = annotator_handle(dataset)
    else:
        handle = trivial_handle
    build_s = time.perf_counter() - start
    server = make_server(handle, port=port)
    server.start()
    signal.signal(signal.SIGTERM, lambda *_: server.io_loop.add_callback_from_signal(
        server.io_loop.stop))
    print(json.dumps({"port": server.port, "build_s": build_s}), flush=True)
    server.io_loop.start()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerChild:
    """``--serve KIND N PORT`` in a child process; stderr (Bokeh's log) goes to a file."""

    def __init__(self, kind: str, n: int, tmp: Path):
        self.kind, self.n = kind, n
        self.log_path = tmp / f"server_{kind}_{n}.log"
        self.port = free_port()
        env = dict(os.environ, HOVER_AUDIO_CACHE=str(tmp / "cache"), PYTHONUNBUFFERED="1")
        self._log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve", kind, str(n), str(self.port)],
            stdout=subprocess.PIPE, stderr=self._log, text=True, env=env)
        ready, _, _ = select.select([self.process.stdout], [], [], 300)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            self.stop()
            raise RuntimeError(f"server {kind} {n} did not start:\n{self.log()}")
        self.info = json.loads(line)
        self.url = f"http://127.0.0.1:{self.port}/"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # by pid: only the child this script started
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self._log.close()
        bad = [line for line in self.log().splitlines()
               if any(word in line for word in ("ERROR", "Traceback", "Exception", "WARNING"))]
        for line in bad[:10]:
            PROBLEMS.append(f"server {self.kind} N={self.n}: {line.strip()}")


# ------------------------------------------------------------------ browser side
READY_JS = """(name) => {
  const B = window.Bokeh;
  if (!B || !B.documents || !B.documents.length) return false;
  const doc = B.documents[0];
  if (name && doc.get_model_by_name(name) == null) return false;
  if (!doc.is_idle) return false;
  const map = doc.get_model_by_name('map');
  if (map != null) {
    const view = B.index.find_one(map);
    if (view == null || !view.is_idle) return false;
  }
  window.__readyAt = performance.now();
  return true;
}"""

# the map's view, screen positions of the points, and a lasso around ~k of them
LASSO_JS = """([k, seed, sides]) => {
  const B = window.Bokeh, doc = B.documents[0];
  const map = doc.get_model_by_name('map'), src = doc.get_model_by_name('clips');
  function find(v, id) {
    if (v.model.id === id) return v;
    for (const child of (v.child_views || [])) { const f = find(child, id); if (f) return f; }
    return null;
  }
  let view = null;
  for (const root of B.index.roots) { view = find(root, map.id); if (view) break; }
  if (view == null) view = B.index.find_one(map);
  const frame = view.frame, xs = frame.x_scale, ys = frame.y_scale, box = frame.bbox;
  const rect = view.canvas_view.el.getBoundingClientRect();
  const X = src.data.x, Y = src.data.y, n = X.length;
  const sx = new Float64Array(n), sy = new Float64Array(n);
  for (let i = 0; i < n; i++) { sx[i] = xs.compute(X[i]); sy[i] = ys.compute(Y[i]); }
  let state = seed >>> 0;
  const random = () => {  // mulberry32
    state = (state + 0x6D2B79F5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const w = box.right - box.left, h = box.bottom - box.top;
  const d = new Float64Array(n);
  for (let attempt = 0; attempt < 500; attempt++) {
    const c = Math.floor(random() * n);
    const cx = sx[c], cy = sy[c];
    // the legend sits top-left: keep the lasso in the rest of the frame
    if (!(cx > box.left + 0.35 * w && cx < box.right - 0.05 * w &&
          cy > box.top + 0.3 * h && cy < box.bottom - 0.05 * h)) continue;
    for (let i = 0; i < n; i++) {
      const dx = sx[i] - cx, dy = sy[i] - cy;
      d[i] = Number.isFinite(dx + dy) ? Math.sqrt(dx * dx + dy * dy) : Infinity;
    }
    const sorted = Float64Array.from(d).sort();
    const r = (sorted[k - 1] + sorted[k]) / 2;
    if (!(r >= 6 && r <= 0.2 * Math.min(w, h))) continue;
    if (cx - r < box.left + 2 || cx + r > box.right - 2 ||
        cy - r < box.top + 2 || cy + r > box.bottom - 2) continue;
    const poly = [];
    for (let j = 0; j < sides; j++) {
      const a = 2 * Math.PI * j / sides;
      poly.push([cx + r * Math.cos(a), cy + r * Math.sin(a)]);
    }
    let inside = 0;  // points the polygon should select
    for (let i = 0; i < n; i++) {
      if (d[i] > r) continue;
      let hit = false;
      for (let a = 0, b = sides - 1; a < sides; b = a++) {
        const [xa, ya] = poly[a], [xb, yb] = poly[b];
        if ((ya > sy[i]) !== (yb > sy[i]) &&
            sx[i] < (xb - xa) * (sy[i] - ya) / (yb - ya) + xa) hit = !hit;
      }
      if (hit) inside++;
    }
    return {points: poly.map(([x, y]) => [rect.left + x, rect.top + y]), expected: inside,
            centre: [rect.left + cx, rect.top + cy], radius: r, attempts: attempt + 1};
  }
  return null;
}"""

# the server answers a new selection with the selection table of exactly those rows, sorted
SELECTION_SYNCED_JS = """() => {
  const doc = Bokeh.documents[0];
  const picked = Array.from(doc.get_model_by_name('clips').selected.indices).sort((a, b) => a - b);
  const table = Array.from(doc.get_model_by_name('selection').data.index);
  if (!picked.length || picked.length !== table.length) return false;
  for (let i = 0; i < picked.length; i++) { if (picked[i] !== table[i]) return false; }
  return picked.length;
}"""

# before the click: remember the selected rows' colours, time the click, poll each frame
ARM_JS = """(label) => {
  const src = Bokeh.documents[0].get_model_by_name('clips');
  const rows = Array.from(src.selected.indices);
  const old = rows.map((i) => src.data.color[i]);
  window.__clickAt = undefined; window.__recolourAt = undefined; window.__paintedAt = undefined;
  window.addEventListener('click', () => {
    if (window.__clickAt === undefined) window.__clickAt = performance.now();
  }, {capture: true, once: true});
  const poll = () => {
    const color = src.data.color, names = src.data.label;
    let done = true;
    for (let j = 0; j < rows.length; j++) {
      if (color[rows[j]] === old[j] || names[rows[j]] !== label) { done = false; break; }
    }
    if (!done) { requestAnimationFrame(poll); return; }
    window.__recolourAt = performance.now();
    // the map repaints after the patch: the second animation frame comes after that paint
    requestAnimationFrame(() => requestAnimationFrame(() => {
      window.__paintedAt = performance.now();
    }));
  };
  requestAnimationFrame(poll);
  return rows.length;
}"""

# the reference for "repainted": the same map repainted with nothing changed (the
# selection's change signal asks the map's renderers to paint again, without new data)
REPAINT_JS = """async () => {
  const src = Bokeh.documents[0].get_model_by_name('clips');
  const times = [];
  for (let r = 0; r < 5; r++) {
    const start = performance.now();
    src.selected.change.emit();
    await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
    times.push(performance.now() - start);
    await new Promise((done) => setTimeout(done, 200));
  }
  return times;
}"""

DIAGNOSE_JS = """(label) => {
  const doc = Bokeh.documents[0], src = doc.get_model_by_name('clips');
  const rows = Array.from(src.selected.indices);
  const done = rows.filter((i) => src.data.label[i] === label).length;
  const state = {selected: rows.length, relabeled: done, click_seen: window.__clickAt !== undefined,
                 sample: rows.slice(0, 3).map((i) => [i, src.data.label[i], src.data.color[i]])};
  for (const model of doc.all_models) {
    if (model.placeholder === 'type a label, then Apply') state.input = model.value;
    if (model.type === 'Div' && String(model.text).includes('<span')) state.status = model.text;
  }
  return state;
}"""

NAVIGATION_JS = """() => {
  const entry = performance.getEntriesByType('navigation')[0];
  return {html: entry.responseEnd, dom: entry.domContentLoadedEventEnd};
}"""

WEBGL_JS = """() => {
  const gl = document.createElement('canvas').getContext('webgl2') ||
             document.createElement('canvas').getContext('webgl');
  if (!gl) return 'no WebGL context';
  const info = gl.getExtension('WEBGL_debug_renderer_info');
  return info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER);
}"""

# page coordinates of a point of the map, a little off the middle, for trial ``t``
SPOT_JS = """(t) => { const doc = Bokeh.documents[0]; const plot = doc.get_model_by_name('map');
  function find(v, id) { if (v.model.id === id) return v;
    for (const c of (v.child_views || [])) { const f = find(c, id); if (f) return f; } return null; }
  let v = null; for (const r of Bokeh.index.roots) { v = find(r, plot.id); if (v) break; }
  const rect = v.canvas_view.el.getBoundingClientRect(); const f = v.frame.bbox;
  const src = doc.get_model_by_name('clips').data;
  const i = Math.floor((t * 7919) % src.x.length);
  return [rect.left + v.frame.x_scale.compute(src.x[i]), rect.top + v.frame.y_scale.compute(src.y[i])]; }"""
PLAYS_JS = """() => { if (!window.hoverAudio || window.__playsHooked) return !!window.hoverAudio;
  window.__plays = 0; window.__marks = {move: 0, request: [], answer: [], src: [], playing: []};
  window.hoverAudio.addEventListener('playing', () => {
    window.__plays++; window.__marks.playing.push(performance.now()); });
  window.hoverAudio.addEventListener('loadstart', () => {
    window.__marks.src.push(performance.now()); });
  document.addEventListener('mousemove', () => { window.__marks.move = performance.now(); },
                            {capture: true});
  for (const model of Bokeh.documents[0].all_models) {
    if ('ticket' in model.properties && 'served' in model.properties) {
      model.properties.ticket.change.connect(() => window.__marks.request.push(performance.now()));
      model.properties.served.change.connect(() => window.__marks.answer.push(performance.now()));
    }
  }
  window.__playsHooked = true; return true; }"""
# where a hover's time goes, in the page's clock: mouse move -> the row asked for (the
# 40 ms pause, the nearest point found) -> the answer arrived (the server's round trip:
# the message out, the clip read and encoded, the payload back) -> the payload set as
# the audio's source -> 'playing' (the browser's decode)
MARKS_JS = """() => { const m = window.__marks; const last = (a) => a.length ? a[a.length - 1] : null;
  return [m.move, last(m.request), last(m.answer), last(m.src), last(m.playing)]; }"""
HOVER_TRIALS = 15
SPLITS: dict[int, list] = {}  # per size and trial: in-page ms of each step (MARKS_JS)
TARGET_HOVER_MS = 150


def hover_play(page, n: int) -> list[float]:
    """Rest the mouse on a point (with "play on hover" on): ms until the audio plays."""
    page.get_by_role("button", name="Enable sound").click()
    page.wait_for_function("() => window.hoverAudioUnlocked === true", timeout=30_000)
    page.wait_for_function(PLAYS_JS, timeout=30_000)
    timings = []
    for trial in range(HOVER_TRIALS):
        x, y = page.evaluate(SPOT_JS, trial + 1)
        page.mouse.move(VIEWPORT["width"] - 5, VIEWPORT["height"] - 5)  # off the map ...
        page.wait_for_timeout(SETTLE_MS + 500)  # ... until anything it started has played
        page.evaluate("() => { window.hoverAudioRow = -1; }")  # the same point plays again
        before = page.evaluate("() => window.__plays")
        page.mouse.move(x, y)  # ... then onto the point, in one move: a new hover
        start = time.perf_counter()
        try:
            page.wait_for_function("(n) => window.__plays > n", arg=before, polling="raf",
                                   timeout=10_000)
        except PlaywrightTimeout:
            PROBLEMS.append(f"N={n} hover trial {trial + 1}: nothing played within 10 s")
            continue
        timings.append(1000 * (time.perf_counter() - start))
        marks = page.evaluate(MARKS_JS)
        SPLITS.setdefault(n, []).append([None if a is None or b is None else b - a
                                         for a, b in zip(marks, marks[1:])])
        page.wait_for_timeout(SETTLE_MS)
    return timings


HOVER_PLAY_OFF_JS = """() => {
  let found = 0;
  for (const model of Bokeh.documents[0].all_models) {
    if (Array.isArray(model.labels) && model.labels[0] === 'play on hover') {
      model.active = []; found++;
    }
  }
  return found;
}"""


class Wire:
    """Every websocket frame of a page, in order, with its direction and size."""

    def __init__(self, page):
        self.frames: list[tuple[str, int, str | None]] = []
        page.on("websocket", self._socket)

    def _socket(self, ws) -> None:
        ws.on("framereceived", lambda payload: self._add("in", payload))
        ws.on("framesent", lambda payload: self._add("out", payload))

    def _add(self, direction: str, payload) -> None:
        if isinstance(payload, str):
            data = payload.encode()
            self.frames.append((direction, len(data), payload if len(data) < 64_000_000 else None))
        else:
            self.frames.append((direction, len(payload), None))

    def mark(self) -> int:
        return len(self.frames)

    def count(self, since: int, direction: str = "in") -> tuple[int, int]:
        chosen = [size for d, size, _ in self.frames[since:] if d == direction]
        return sum(chosen), len(chosen)

    def document(self, until: int) -> dict:
        """Bytes of the pulled document: the JSON, the binary buffers, and by "clips" column."""
        buffers, pending, doc, json_bytes = {}, None, None, 0
        for direction, size, text in self.frames[:until]:
            if direction != "in":
                continue
            if text is None:
                if pending is not None:
                    buffers[pending] = size
                pending = None
                continue
            try:
                message = json.loads(text)
            except ValueError:
                continue
            if isinstance(message, dict) and set(message) == {"id"}:
                pending = message["id"]
            elif isinstance(message, dict) and "doc" in message:
                doc, json_bytes = message["doc"], size
        columns = Counter()

        def refs(value):
            if isinstance(value, dict):
                if set(value) == {"id"} and value["id"] in buffers:  # a binary buffer
                    yield value["id"]
                for item in value.values():
                    yield from refs(item)
            elif isinstance(value, list):
                for item in value:
                    yield from refs(item)

        def find(value):
            if isinstance(value, dict):
                if value.get("attributes", {}).get("name") == "clips":
                    return value
                for item in value.values():
                    found = find(item)
                    if found is not None:
                        return found
            elif isinstance(value, list):
                for item in value:
                    found = find(item)
                    if found is not None:
                        return found
            return None

        clips = find(doc) if doc is not None else None
        if clips is not None:
            for name, value in clips["attributes"]["data"].get("entries", []):
                columns[name] = (len(json.dumps(value, separators=(",", ":")).encode())
                                 + sum(buffers[ref] for ref in set(refs(value))))
        return {"json": json_bytes, "buffers": sum(buffers.values()), "columns": columns}

    def breakdown(self, since: int) -> Counter:
        """Received bytes by Bokeh event (kind:attr), buffers, headers and the rest."""
        parts = Counter()
        for direction, size, text in self.frames[since:]:
            if direction != "in":
                continue
            if text is None:
                parts["binary buffers"] += size
                continue
            try:
                message = json.loads(text)
            except ValueError:
                parts["other text"] += size
                continue
            events = message.get("events") if isinstance(message, dict) else None
            if events is None:
                parts["headers/metadata"] += size
                continue
            rest = size
            for event in events:
                name = event.get("kind", "?") + (f":{event['attr']}" if "attr" in event else "")
                event_size = len(json.dumps(event, separators=(",", ":")).encode())
                parts[name] += event_size
                rest -= event_size
            parts["headers/metadata"] += max(rest, 0)
        return parts


class Console:
    """Console messages and page errors of one page."""

    def __init__(self, page, where: str):
        self.where, self.idle_ms, self.idle_wall = where, None, None
        self.start = time.perf_counter()
        self.seen: list[str] = []
        page.on("console", self._message)
        page.on("pageerror", lambda error: self._problem(f"page error: {error}"))

    def _message(self, message) -> None:
        text = message.text
        if "document idle at" in text:
            self.idle_wall = time.perf_counter() - self.start
            try:
                self.idle_ms = float(text.split("document idle at", 1)[1].split("ms")[0])
            except ValueError:
                pass
        if message.type in ("error", "warning"):
            self._problem(f"console {message.type}: {text}")

    def _problem(self, text: str) -> None:
        if text not in self.seen:
            self.seen.append(text)
            PROBLEMS.append(f"{self.where}: {text[:400]}")


def load_page(browser, url: str, name: str | None, where: str) -> dict:
    """A fresh context: goto -> ready; returns the page, its wire and the timings."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(180_000)
    wire = Wire(page)
    console = Console(page, where)
    requests = []
    page.on("requestfinished", lambda request: requests.append(request))
    start = time.perf_counter()
    console.start = start
    page.goto(url, wait_until="commit")
    page.wait_for_function(READY_JS, arg=name, polling="raf", timeout=180_000)
    wall = time.perf_counter() - start
    page.wait_for_timeout(SETTLE_MS)
    in_page = page.evaluate("window.__readyAt")
    navigation = page.evaluate(NAVIGATION_JS)
    ws_bytes, ws_frames = wire.count(0)
    http = 0
    for request in requests:
        try:
            sizes = request.sizes()
            http += sizes["responseBodySize"] + sizes["responseHeadersSize"]
        except Exception as error:  # noqa: BLE001 - a figure, never a crash
            PROBLEMS.append(f"{where}: request sizes of {request.url}: {error}")
    if console.idle_ms is None:
        PROBLEMS.append(f"{where}: no 'document idle' message in the console")
    return {"context": context, "page": page, "wire": wire, "console": console,
            "wall_s": wall, "in_page_ms": in_page, "idle_ms": console.idle_ms,
            "idle_wall_s": console.idle_wall, "ws_bytes": ws_bytes, "ws_frames": ws_frames,
            "http_bytes": http, "requests": len(requests), "navigation": navigation,
            "document": wire.document(wire.mark())}


def lasso(page, shape: dict) -> float:
    """Press at the centre, out to the circle (> Bokeh's 5 px move threshold in one move:
    a press that has not moved 5 px within 300 ms becomes a "press", not a lasso), round
    it and back; returns the seconds from press to release."""
    mouse = page.mouse
    mouse.move(*shape["centre"])
    start = time.perf_counter()
    mouse.down()
    for point in shape["points"] + shape["points"][:1] + [shape["centre"]]:
        mouse.move(*point)
    mouse.up()
    return time.perf_counter() - start


def label_action(page, wire: Wire, n: int, rep: int) -> dict:
    """One lasso around ~FRACTION of the points, a new label, Apply; timings and bytes."""
    k = max(2, round(FRACTION * n))
    shape = page.evaluate(LASSO_JS, [k, SEED * 1000 + rep + 1, 32])
    if shape is None:
        raise RuntimeError("found no lasso region inside the frame")
    hover_ms = None
    if rep == 0:  # pointer moves without a button: the hover tool's cost alone
        page.mouse.move(*shape["centre"])
        page.wait_for_timeout(SETTLE_MS)
        start = time.perf_counter()
        for point in shape["points"]:
            page.mouse.move(*point)
        hover_ms = 1000 * (time.perf_counter() - start) / len(shape["points"])
        page.wait_for_timeout(SETTLE_MS)
    for attempt in range(1, 4):
        drawn_s = lasso(page, shape)
        released = time.perf_counter()
        try:
            picked = page.wait_for_function(SELECTION_SYNCED_JS, polling="raf", timeout=20_000)
            break
        except PlaywrightTimeout:
            PROBLEMS.append(f"N={n} rep {rep + 1}: lasso attempt {attempt} selected nothing "
                            f"within 20 s (drawn in {drawn_s:.2f} s); drawn again")
    else:
        raise RuntimeError("three lassos selected nothing")
    selection_s = time.perf_counter() - released
    picked = picked.json_value()
    page.wait_for_timeout(SETTLE_MS)
    label = f"bench{rep + 1}-{n}"  # no label is a prefix of another
    # typed key by key, as a person does (key events, not page.fill's single input event:
    # an autocompleting label box reacts to keyup only)
    field = page.get_by_placeholder(PLACEHOLDER)
    field.click()
    page.keyboard.press("Control+A")
    field.press_sequentially(label)
    armed = page.evaluate(ARM_JS, label)
    before = wire.mark()
    page.get_by_role("button", name="Apply", exact=True).click()
    try:
        page.wait_for_function("() => window.__recolourAt !== undefined", polling=50,
                               timeout=RECOLOUR_TIMEOUT_MS)
    except PlaywrightTimeout:
        state = page.evaluate(DIAGNOSE_JS, label)
        PROBLEMS.append(f"N={n} rep {rep + 1}: the {armed} selected rows were not all "
                        f"recoloured {RECOLOUR_TIMEOUT_MS / 1000:.0f} s after Apply; "
                        f"page state: {json.dumps(state)}")
        return None
    page.wait_for_timeout(SETTLE_MS)
    received, frames = wire.count(before)
    sent, _ = wire.count(before, "out")
    page.wait_for_function("() => window.__paintedAt !== undefined", polling=50,
                           timeout=RECOLOUR_TIMEOUT_MS)
    clicked, recoloured, painted = page.evaluate(
        "[window.__clickAt, window.__recolourAt, window.__paintedAt]")
    page.wait_for_timeout(SETTLE_MS)
    return {"rep": rep + 1, "k": armed, "expected": shape["expected"], "selected": picked,
            "radius": shape["radius"], "selection_s": selection_s, "drawn_s": drawn_s,
            "moves": len(shape["points"]) + 2, "hover_ms": hover_ms,
            "recolour_ms": recoloured - clicked, "painted_ms": painted - clicked,
            "bytes": received, "frames": frames,
            "sent": sent, "breakdown": wire.breakdown(before)}


def bench_reference(browser, tmp: Path) -> dict:
    server = ServerChild("trivial", 0, tmp)
    try:
        loads = []
        webgl = None
        for i in range(LOADS):
            result = load_page(browser, server.url, "trivial", f"reference load {i + 1}")
            webgl = webgl or result["page"].evaluate(WEBGL_JS)
            result["context"].close()
            loads.append(result)
    finally:
        server.stop()
    return {"loads": loads, "webgl": webgl}


def bench_size(browser, n: int, tmp: Path, query: str = "") -> dict:
    """The figures at ``n`` points; ``query`` is added to the page's address (``?gl=``)."""
    server = ServerChild("app", n, tmp)
    try:
        # load 1 keeps its page for the label actions, so the server holds one session
        # while they run (a closed session lingers until Bokeh's unused-session timeout)
        first = load_page(browser, server.url + query, "clips", f"N={n} load 1")
        page = first["page"]
        drawing = page.evaluate("() => document.documentElement.dataset.mapDrawing")
        hovers = hover_play(page, n)
        found = page.evaluate(HOVER_PLAY_OFF_JS)
        if found != 1:
            PROBLEMS.append(f"N={n}: 'play on hover' checkbox models found: {found}")
        page.wait_for_timeout(SETTLE_MS)
        actions = []
        for rep in range(REPEATS):
            action = label_action(page, first["wire"], n, rep)
            if action is None:
                continue
            if abs(action["selected"] - action["expected"]) > 0.1 * action["expected"]:
                PROBLEMS.append(f"N={n} rep {rep + 1}: lasso selected {action['selected']} rows, "
                                f"{action['expected']} points lie inside the lasso polygon")
            actions.append(action)
        repaints = first["page"].evaluate(REPAINT_JS)
        painter = first["page"].evaluate("() => window.hoverAudioPoints")
        first["context"].close()
        # reference: the same repaint with Bokeh's own canvas painting (``?points=native``)
        native = load_page(browser, server.url + (query + "&" if query else "?") + "points=native",
                           "clips", f"N={n} Bokeh's painting")
        native_repaints = native["page"].evaluate(REPAINT_JS)
        native["context"].close()
        loads = [first]
        for i in range(1, LOADS):
            result = load_page(browser, server.url + query, "clips", f"N={n} load {i + 1}")
            result["context"].close()
            loads.append(result)
    finally:
        server.stop()
    return {"n": n, "build_s": server.info["build_s"], "loads": loads, "actions": actions,
            "hover_play_ms": hovers, "drawing": drawing, "repaint_ms": repaints,
            "painter": painter, "native_repaint_ms": native_repaints}


def median_of(items: list[dict], key: str) -> float:
    values = [item[key] for item in items if item[key] is not None]
    return statistics.median(values) if values else float("nan")


def report(reference: dict, results: list[dict], browser_version: str, quick: bool,
           load_before: tuple) -> None:
    import bokeh

    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor())
    print("== machine")
    print(f"cores: {os.cpu_count()}, {cpu}; python {platform.python_version()}, "
          f"bokeh {bokeh.__version__}, chromium {browser_version} (headless, --disable-gpu)")
    print(f"load average (1/5/15 min) at the start {'/'.join(f'{x:.1f}' for x in load_before)}"
          f", at the end {'/'.join(f'{x:.1f}' for x in os.getloadavg())} "
          f"(other processes on the machine compete for its {os.cpu_count()} cores)")
    print(f"WebGL renderer in the page: {reference['webgl']}; the map drawn with: "
          f"{results[0]['drawing'] if results else '-'} (WebGL where a GPU draws it, else the "
          "canvas: a software rasteriser redraws 100k points in seconds)")
    ref_loads = reference["loads"]
    ref_s = median_of(ref_loads, "wall_s")
    walls = ", ".join(f"{r['wall_s']:.2f}" for r in ref_loads)
    idles = ", ".join(f"{r['idle_ms']:.0f}" for r in ref_loads if r["idle_ms"] is not None)
    print(f"\n== reference: trivial document (one Div), {LOADS} loads: wall [{walls}] s, "
          f"Bokeh idle [{idles}] ms, websocket received {ref_loads[0]['ws_bytes']:,} B, HTTP "
          f"{ref_loads[0]['http_bytes']:,} B in {ref_loads[0]['requests']} requests")
    print(f"\n== per N: load = median of {LOADS} fresh contexts; lasso->recolour, k, bytes ="
          f" median of {REPEATS} label actions")
    header = (f"{'N':>7s} {'load s':>7s} {'x ref':>6s} {'idle ms':>8s} {'ref load s':>10s}"
              f" {'lasso->recolour ms':>18s} {'->painted ms':>12s} {'k':>5s} {'bytes/label':>12s}"
              f" {'initial bytes':>14s} {'ratio':>8s}")
    print(header)
    for result in results:
        loads, actions = result["loads"], result["actions"]
        load_s = median_of(loads, "wall_s")
        initial = loads[0]["ws_bytes"]
        if not actions:
            print(f"{result['n']:7d} {load_s:7.2f} {load_s / ref_s:6.1f} "
                  f"{median_of(loads, 'idle_ms'):8.0f} {ref_s:10.2f}  no label action succeeded")
            continue
        per_label = statistics.median(a["bytes"] for a in actions)
        print(f"{result['n']:7d} {load_s:7.2f} {load_s / ref_s:6.1f} "
              f"{median_of(loads, 'idle_ms'):8.0f} {ref_s:10.2f} "
              f"{statistics.median(a['recolour_ms'] for a in actions):18.0f} "
              f"{statistics.median(a['painted_ms'] for a in actions):12.0f} "
              f"{statistics.median(a['k'] for a in actions):5.0f} {per_label:12,.0f} "
              f"{initial:14,d} {per_label / initial:8.4f}")
    print("load s: Python wall time page.goto -> 'clips' exists, document idle and the map "
          "view finished; x ref = / reference load s\nidle ms: Bokeh's 'document idle at N ms' "
          "(from the JS Document's creation, i.e. after the page's scripts loaded and the "
          "document was pulled)\nlasso->recolour ms: Apply click -> the selected rows' "
          "colours changed in the 'clips' source; ->painted ms: click -> the map repainted\n"
          "bytes/label: websocket bytes received from the Apply click to colours changed"
          f" + {SETTLE_MS} ms; initial bytes: websocket bytes received while "
          "the page loaded (load 1); ratio = bytes/label / initial bytes")
    for result in results:
        if result["actions"]:
            for name, key in (("recoloured in the source", "recolour_ms"),
                              ("repainted on screen", "painted_ms")):
                ms = statistics.median(a[key] for a in result["actions"])
                print(f"target N={result['n']}: lasso -> Apply -> {name} < "
                      f"{TARGET_RECOLOUR_MS} ms: {ms:.0f} ms "
                      f"{'PASS' if ms < TARGET_RECOLOUR_MS else 'FAIL'}")
            repaint = statistics.median(result["repaint_ms"])
            painted = statistics.median(a["painted_ms"] for a in result["actions"])
            native = statistics.median(result["native_repaint_ms"])
            print(f"  reference: the same map repainted with nothing changed, {repaint:.0f} ms "
                  f"(the label action's repaint = {painted / repaint:.2f}x it); with Bokeh's "
                  f"own canvas painting (?points=native) {native:.0f} ms (= {native / repaint:.1f}x "
                  "the points painter's)")
            painter = result["painter"] or {}
            if painter.get("fast"):
                print(f"  points painter ({painter['why']}): {painter['fast']} batches, "
                      f"{painter['points']:,} points, {painter['ms'] / painter['fast']:.0f} ms a "
                      f"batch; {painter['native']} batches left to Bokeh (selection outlines, legend keys)")
            else:
                print(f"  points painter not used: {painter}")
    for result in results:
        n, loads, actions = result["n"], result["loads"], result["actions"]
        print(f"\n-- N={n}: server-side build (dataset + PCA + handle) {result['build_s']:.1f} s")
        for i, load in enumerate(loads, 1):
            idle = "-" if load["idle_ms"] is None else f"{load['idle_ms']:.0f}"
            idle_wall = "-" if load["idle_wall_s"] is None else f"{load['idle_wall_s']:.2f}"
            nav = load["navigation"]
            created = ("-" if load["idle_ms"] is None
                       else f"{(load['in_page_ms'] - load['idle_ms']) / 1000:.2f}")
            print(f"load {i}: wall {load['wall_s']:.2f} s; in-page from navigation start: HTML "
                  f"(the server built the session's document) {nav['html'] / 1000:.2f} s, "
                  f"DOMContentLoaded {nav['dom'] / 1000:.2f} s, JS Document created ~{created} s"
                  f" (ready - idle), ready {load['in_page_ms'] / 1000:.2f} s; console 'document "
                  f"idle at {idle} ms' seen after {idle_wall} s; websocket in "
                  f"{load['ws_bytes']:,} B in {load['ws_frames']} frames; HTTP "
                  f"{load['http_bytes']:,} B in {load['requests']} requests")
        document = loads[0]["document"]
        print(f"initial document (load 1): JSON {document['json']:,} B + binary buffers "
              f"{document['buffers']:,} B; 'clips' columns: "
              + ", ".join(f"{name} {size:,}" for name, size in document["columns"].most_common()))
        plays = result.get("hover_play_ms") or []
        if plays:
            middle, high = statistics.median(plays), float(np.percentile(plays, 90))
            print(f"hover -> plays (rest the mouse on a point, 'play on hover' on, until the "
                  f"audio element fires 'playing'; {len(plays)} trials): median {middle:.0f} ms, "
                  f"90th percentile {high:.0f} ms, max {max(plays):.0f} ms; target < "
                  f"{TARGET_HOVER_MS} ms at the 90th percentile "
                  f"{'PASS' if high < TARGET_HOVER_MS else 'FAIL'}")
            print("  per trial, in-page ms: move -> row asked (the 40 ms pause, the nearest "
                  "point) + -> answer in (the server's round trip) + -> source set + -> "
                  "'playing' (the browser's decode):")
            print("    " + ", ".join("+".join("?" if step is None else f"{step:.0f}"
                                          for step in steps)
                                 for steps in SPLITS.get(result["n"], [])))
        hover = next((a["hover_ms"] for a in actions if a["hover_ms"] is not None), None)
        if hover is not None:
            print(f"hover only (pointer moves without a button over the first lasso's circle): "
                  f"{hover:.0f} ms/move")
        print(f"{'rep':>3s} {'k':>5s} {'in poly':>7s} {'r px':>5s} {'drawn s':>7s}"
              f" {'ms/move':>7s} {'up->synced s':>12s}"
              f" {'click->recolour ms':>18s} {'->painted ms':>12s} {'bytes in':>9s}"
              f" {'frames':>6s} {'bytes out':>9s} {'B/row':>6s}")
        for action in actions:
            print(f"{action['rep']:3d} {action['k']:5d} {action['expected']:7d} "
                  f"{action['radius']:5.1f} {action['drawn_s']:7.2f} "
                  f"{1000 * action['drawn_s'] / action['moves']:7.0f} "
                  f"{action['selection_s']:12.2f} {action['recolour_ms']:18.0f} "
                  f"{action['painted_ms']:12.0f} "
                  f"{action['bytes']:9,d} {action['frames']:6d} {action['sent']:9,d} "
                  f"{action['bytes'] / action['k']:6.0f}")
        if not actions:
            continue
        last = actions[-1]["breakdown"]
        print("received bytes of the last label action by Bokeh event: "
              + ", ".join(f"{name} {size:,}" for name, size in last.most_common()))
    print("\n(k = rows selected by the lasso; in poly = points inside the lasso polygon by "
          "the benchmark's own hit test in the page; drawn s = mouse press to release, "
          "ms/move = that / pointer moves (Playwright waits for each move to be handled); "
          "up->synced = release to the server's selection table matching the page's "
          "selection, Python wall time; click->recolour = in-page clock from the Apply click "
          "to the source's colours changed (the table's figure); ->painted = from the click "
          "to the second animation frame after that, i.e. after the map's repaint)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"N = {', '.join(map(str, QUICK_SIZES))} instead of "
                             f"{', '.join(map(str, SIZES))}")
    parser.add_argument("--serve", nargs=3, metavar=("KIND", "N", "PORT"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--gl", choices=("webgl", "canvas"),
                        help="draw the map with this, whatever the browser's GPU")
    args = parser.parse_args()
    if args.serve:
        kind, n, port = args.serve
        child_serve(kind, int(n), int(port))
        return
    from playwright.sync_api import sync_playwright

    started = time.perf_counter()
    load_before = os.getloadavg()
    sizes = QUICK_SIZES if args.quick else SIZES
    with tempfile.TemporaryDirectory(prefix="bench_app_") as name, sync_playwright() as p:
        tmp = Path(name)
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            reference = bench_reference(browser, tmp)
            query = f"?gl={args.gl}" if args.gl else ""
            results = [bench_size(browser, n, tmp, query) for n in sizes]
            version = browser.version
        finally:
            browser.close()
    report(reference, results, version, args.quick, load_before)
    if PROBLEMS:
        print("\n== problems seen")
        print("\n".join(PROBLEMS))
    print(f"\ntotal {time.perf_counter() - started:.0f} s{' (--quick)' if args.quick else ''}")


if __name__ == "__main__":
    main()
