"""The embedded demo: 1000 spoken digits, a group of unlabeled clips labeled by ear.

Runs ``hover-audio demo --fresh --no-umap`` (500 raw clips, 500 labeled ones), enables
sound, lassoes raw points lying among labeled points of one digit, types that digit in
Label and clicks Apply, checks the population table shows them, searches "More like the
selection" and rests the mouse on a result (it plays; tooltip and ring) for the picture.

Usage: python gallery/digits_demo.py [--out PNG] [--port N]
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _browser as b  # noqa: E402


def main() -> int:
    args = b.arguments("digits_demo", __doc__)
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="gallery-digits-") as tmp, \
            b.app(["demo", "--fresh"], Path(tmp), args.port) as url, b.page(url) as tab:
        assert len(b.column(tab, "clips", "x")) == 1000
        before = dict(zip(b.column(tab, "population", "label"), b.column(tab, "population", "raw")))
        centre, radius, digit = b.shot.label_group(tab.evaluate(b.POINTS_JS))
        rows = b.lasso_rows(tab, centre, radius)
        subsets = b.column(tab, "clips", "subset")
        raw = [i for i in rows if subsets[i] == "raw"]
        assert raw, "the lasso caught no raw clip"
        b.apply_label(tab, rows, digit)
        expected = {"ABSTAIN": [before["ABSTAIN"] - len(raw)], digit: [before[digit] + len(raw)]}
        sent = dict(zip(b.column(tab, "population", "label"), b.column(tab, "population", "raw")))
        assert {k: [sent[k]] for k in expected} == expected, sent
        print(f"labeled {len(raw)} raw clips '{digit}' (lasso of {len(rows)} points)")

        b.check_population(tab, expected)

        tab.get_by_role("button", name="More like the selection").click()
        tab.wait_for_function("() => Array.from(Bokeh.documents[0].get_model_by_name('clips')"
                              ".data.score).some((s) => Number.isFinite(s))")
        alpha = b.column(tab, "clips", "alpha")
        hits = [i for i, a in enumerate(alpha) if a == 1 and i not in rows]
        assert hits, "the search found nothing outside the selection"
        labels = b.column(tab, "clips", "label")
        print(f"search: {sum(a == 1 for a in alpha)} results, "
              f"{sum(labels[i] == digit for i in hits)} of {len(hits)} new ones labeled '{digit}'")
        lonely = b.lonely_rows(tab, hits) or hits
        b.hover_row(tab, lonely[0])
        b.wait_played(tab, lonely[0])
        tab.wait_for_timeout(400)
        b.snap(tab, args.out)
    print(f"saved {args.out} in {time.monotonic() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
