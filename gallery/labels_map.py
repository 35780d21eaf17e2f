"""A map learned from your labels: the demo's digits drawn by what its 500 labels tell apart.

Runs ``hover-audio demo --fresh --no-umap`` (500 labeled clips, 500 raw), chooses
"labels" in "map: near in" (a distance learned from the labels, computed by the server
in a worker while the page stays live), waits for the points to move, lassoes raw points
that lie among labeled points of one digit, labels them, checks the population table,
and presses "↻ redraw (N changed)" (N: clips whose label changed since the map was
drawn) so the map learns from the new labels too. The demo knows each clip's true digit, so the script prints how
many of the lassoed raw clips were right.

Usage: python gallery/labels_map.py [--out PNG] [--port N]
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _browser as b  # noqa: E402

MOVED_JS = """(before) => { const x = Array.from(Bokeh.documents[0].get_model_by_name('clips')
    .data.x); return x.some((v, i) => v !== before[i]); }"""


def true_digits() -> dict:
    """The demo's own answer per file name (``hover_audio.dataset.demo``)."""
    from hover_audio.dataset.demo import demo_table

    table = demo_table()
    return {Path(path).name: label for path, label in zip(table["audio"], table["true_label"])}


def map_status(tab, text: str) -> None:
    tab.wait_for_function("(text) => [...Bokeh.documents[0].all_models].some((m) => "
                          "m.type === 'Div' && String(m.text).includes(text))", arg=text,
                          timeout=240_000)


def main() -> int:
    args = b.arguments("labels_map", __doc__)
    began = time.monotonic()
    truth = true_digits()
    with tempfile.TemporaryDirectory(prefix="gallery-labels-") as tmp, \
            b.app(["demo", "--fresh"], Path(tmp), args.port) as url, b.page(url) as tab:
        assert len(b.column(tab, "clips", "x")) == 1000
        before = b.column(tab, "clips", "x")
        select = tab.locator("label:has-text('map: near in')").locator("xpath=..").locator(
            "select")
        # the option says what the labels map learns from: the demo's 400 train and dev labels
        offered = select.locator("option").all_text_contents()
        assert "labels (400 clips)" in offered, offered
        select.select_option(label="labels (400 clips)")
        tab.wait_for_function(MOVED_JS, arg=before, timeout=240_000)
        map_status(tab, "map: labels")
        print("the map moved to the labels aspect")

        population = dict(zip(b.column(tab, "population", "label"),
                              b.column(tab, "population", "raw")))
        centre, radius, digit = b.shot.label_group(tab.evaluate(b.POINTS_JS))
        rows = b.lasso_rows(tab, centre, radius)
        subsets, names = b.column(tab, "clips", "subset"), b.column(tab, "clips", "name")
        raw = [i for i in rows if subsets[i] == "raw"]
        assert raw, "the lasso caught no raw clip"
        right = sum(truth.get(names[i]) == digit for i in raw)
        old = b.column(tab, "clips", "label")
        learnable = sum(subsets[i] != "test" and old[i] != digit for i in rows)
        b.apply_label(tab, rows, digit)
        b.check_population(tab, {"ABSTAIN": [population["ABSTAIN"] - len(raw)],
                                 digit: [population[digit] + len(raw)]})
        print(f"lassoed {len(raw)} raw clips among labeled '{digit}' points and labeled them "
              f"'{digit}': {right} of {len(raw)} are truly '{digit}'")
        assert right >= 0.8 * len(raw), "the labels map grouped other digits with this one"

        b.clear_selection(tab)
        moved_from = b.column(tab, "clips", "x")
        # the button counts the labels the map has not learned yet
        tab.get_by_role("button", name=f"↻ redraw ({learnable} changed)", exact=True).click()
        tab.wait_for_function(MOVED_JS, arg=moved_from, timeout=240_000)
        map_status(tab, "map: labels")
        print(f"redrawn with the {len(raw)} new labels")
        tab.wait_for_timeout(500)
        b.snap(tab, args.out)
    print(f"saved {args.out} in {time.monotonic() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
