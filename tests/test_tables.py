"""Exports: lossless round trips through CSV, JSON and Parquet."""
from __future__ import annotations

import pandas as pd
import pytest

from hover_audio import AudioDataset
from hover_audio.dataset.table_files import read_table


@pytest.mark.parametrize("suffix", [".csv", ".json", ".parquet"])
def test_round_trip_is_lossless(tmp_path, awkward_table, suffix):
    ds = AudioDataset.from_pandas(awkward_table)
    ds.set_labels("clips/f.wav", "raw scratch label")
    path = ds.export(tmp_path / f"labels{suffix}")
    back = AudioDataset.from_file(path)
    got, want = back.to_pandas(), ds.to_pandas()
    # None and NaN are the same missing value; empty strings may not become missing
    got["speaker"] = got["speaker"].where(got["speaker"].notna(), None)
    want["speaker"] = want["speaker"].where(want["speaker"].notna(), None)
    if suffix == ".csv":  # CSV cannot tell "" from a missing value
        want.loc[want["speaker"] == "", "speaker"] = None
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    for column in ("take", "score", "checked"):
        assert got[column].dtype == want[column].dtype, column
    assert back.to_pandas()["label"].tolist()[-1] == "raw scratch label"


def test_labels_that_look_missing_or_numeric_stay_text(tmp_path, awkward_table):
    path = AudioDataset.from_pandas(awkward_table).export(tmp_path / "t.csv")
    labels = read_table(path)["label"].tolist()
    assert labels == ["NA", "ABSTAIN", "007", 'dog, "big"', "nan", "null"]


def test_unknown_suffix_is_a_clear_error(tmp_path, awkward_table):
    ds = AudioDataset.from_pandas(awkward_table)
    with pytest.raises(ValueError, match=r"cannot tell the format from '\.xlsx'"):
        ds.export(tmp_path / "t.xlsx")
    with pytest.raises(FileNotFoundError):
        AudioDataset.from_file(tmp_path / "absent.csv")


def test_plain_records_json_from_another_tool(tmp_path):
    path = tmp_path / "records.json"
    path.write_text('[{"audio": "a.wav", "label": "x", "SUBSET": "train", "n": 1}]')
    table = AudioDataset.from_file(path).to_pandas()
    assert table.to_dict("records") == [{"audio": "a.wav", "label": "x", "SUBSET": "train", "n": 1}]


def test_export_is_atomic_over_an_existing_file(tmp_path, awkward_table):
    path = tmp_path / "t.parquet"
    AudioDataset.from_pandas(awkward_table).export(path)
    AudioDataset.from_pandas(awkward_table.head(2)).export(path)
    assert len(read_table(path)) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]


def test_empty_transcripts_and_tags_stay_empty_text_through_csv(tmp_path):
    ds = AudioDataset.from_pandas(pd.DataFrame({"audio": ["a.wav", "b.wav"],
                                                "label": ["NA", "ABSTAIN"],
                                                "SUBSET": ["train", "raw"]}))
    ds.set_transcript(["a.wav"], "hello")
    ds.add_tags(["a.wav"], ["t1"])
    back = AudioDataset.from_file(ds.export(tmp_path / "x.csv")).to_pandas()
    assert back[["label", "transcript", "tags"]].values.tolist() == [["NA", "hello", "t1"],
                                                                     ["ABSTAIN", "", ""]]

