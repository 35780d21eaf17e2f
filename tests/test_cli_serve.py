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


def test_serve_says_again_which_clips_failed_or_were_cut_short_when_reopened(tmp_path):
    """The run that made the vectors named them; a later start of the same workspace
    (vectors kept, nothing to compute) said nothing of them."""
    import soundfile

    rows = demo_table().head(10)
    samples, sr = soundfile.read(rows["audio"].iloc[0], dtype="int16")
    cut = tmp_path / "cut take.wav"
    soundfile.write(cut, samples, sr, subtype="PCM_16")
    whole = cut.read_bytes()
    cut.write_bytes(whole[:len(whole) // 2])  # a download cut short
    broken = tmp_path / "Track 18.wav"
    broken.write_bytes(b"RIFF....WAVE and then nothing an audio file has")
    table = tmp_path / "clips.csv"
    pd.DataFrame({"audio": [*rows["audio"], str(cut), str(broken)],
                  "label": [*rows["true_label"], "ABSTAIN", "ABSTAIN"]}).to_csv(table,
                                                                              index=False)
    outputs = []
    for _ in range(2):
        process, port, output = start(table, tmp_path)
        process.kill()
        process.wait()
        outputs.append(output)
    assert "reopening workspace" in outputs[1], outputs[1]
    for output in outputs:
        assert "1 clip(s) could not be read" in output and "Track 18.wav" in output, output
        assert f"cut short: {cut}: holds" in output, output

