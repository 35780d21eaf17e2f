"""``hover-audio serve`` on a table with clips it cannot read: it serves the rest and
says which clips and why."""
from __future__ import annotations

import pandas as pd

from hover_audio.dataset.demo import demo_table

from .test_access import get, start


def test_serve_names_each_clip_it_could_not_read(tmp_path):
    rows = demo_table().head(10)
    broken = tmp_path / "Track 18.wav"
    broken.write_bytes(b"RIFF....WAVE and then nothing an audio file has")
    missing = tmp_path / "gone.flac"
    table = tmp_path / "clips.csv"
    pd.DataFrame({"audio": [*rows["audio"], str(broken), str(missing)],
                  "label": [*rows["true_label"], "ABSTAIN", "ABSTAIN"]}).to_csv(table,
                                                                              index=False)
    process, port, output = start(table, tmp_path)
    try:
        assert "2 clip(s) could not be read" in output, output
        assert f"decode: {broken}: cannot decode" in output, output
        assert f"not_found: '{missing}': no such file" in output, output
        assert get(port, "/").status == 200  # the other clips are served
    finally:
        process.kill()
        process.wait()
