"""Measuring vectors against labels: precision@k, kNN, labeling effort, compare and its CLI."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from hover_audio import AudioDataset, compare
from hover_audio.app.cli import main
from hover_audio.dataset.demo import demo_table
from hover_audio.app.compare_report import text_table, write_plot
from hover_audio.model.evaluation import (knn_accuracy, labeling_effort, precision_at_k,
                                       precision_ceiling)
from hover_audio.vectors import registry


def blobs(per_class=40, classes=3, spread=0.05, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 1, (classes, 2)) * 10
    coords = np.concatenate([center + rng.normal(0, spread, (per_class, 2)) for center in centers])
    labels = np.repeat([f"c{i}" for i in range(classes)], per_class)
    return coords.astype(np.float32), labels


def test_precision_at_k_matches_a_brute_force_count():
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(60, 5)).astype(np.float32)
    labels = rng.choice(["a", "b", "c"], 60)
    from hover_audio.maps.scaling import Scaler, unit_rows

    unit = unit_rows(Scaler.fit(vectors).transform(vectors))
    similar = unit @ unit.T
    np.fill_diagonal(similar, -np.inf)
    nearest = np.argsort(-similar, axis=1)[:, :10]
    assert precision_at_k(vectors, labels, 10) == pytest.approx(
        np.mean(labels[nearest] == labels[:, None]))
    # failed clips (NaN vectors) are left out, not counted as misses
    vectors[5] = np.nan
    assert np.isfinite(precision_at_k(vectors, labels, 10))


def test_precision_ceiling_is_what_perfect_vectors_reach():
    rng = np.random.default_rng(4)
    labels = np.repeat(["a", "b", "c", "d"], [3, 7, 12, 30])
    # one direction per label, a little noise: every nearest clip shares the label
    perfect = (np.eye(4)[np.searchsorted(["a", "b", "c", "d"], labels)] * 10
               + rng.normal(0, 0.01, (len(labels), 4))).astype(np.float32)
    ceiling = precision_ceiling(labels, 10)
    assert ceiling == pytest.approx((3 * 0.2 + 7 * 0.6 + 12 * 1 + 30 * 1) / 52)
    assert precision_at_k(perfect, labels, 10) == pytest.approx(ceiling)
    assert precision_ceiling(labels, 2) == 1.0  # every label has at least 3 clips
    assert precision_ceiling(labels, 10, queries=labels == "a") == pytest.approx(0.2)
    assert np.isnan(precision_ceiling(["a"], 10))


def test_knn_accuracy_is_perfect_on_separate_classes_and_chance_on_noise():
    coords, labels = blobs()
    assert knn_accuracy(coords, labels) == 1.0
    rng = np.random.default_rng(0)
    noise = rng.normal(size=(300, 8)).astype(np.float32)
    assert knn_accuracy(noise, rng.choice(["a", "b", "c"], 300)) < 0.5


def test_labeling_effort_counts_lasso_actions():
    coords, labels = blobs(per_class=50, classes=3)
    clean = labeling_effort(coords, labels, regions=10, seed=0)
    # ten pure regions: one action each, every label right
    assert clean["actions"] == 10 and clean["accuracy"] == 1.0 and clean["clips"] == 150
    assert clean["actions_per_100"] == pytest.approx(100 * 10 / 150)
    # shuffled labels: regions disagree, are split, and end up labeled clip by clip
    shuffled = labeling_effort(coords, np.random.default_rng(1).permutation(labels), seed=0)
    assert shuffled["actions"] > 3 * clean["actions"]
    # clips without coordinates are left out
    coords[:10] = np.nan
    assert labeling_effort(coords, labels, seed=0)["clips"] == 140


def test_labeling_effort_of_a_tiny_map():
    coords = np.array([[0, 0], [1, 1], [2, 2]], dtype=np.float32)
    result = labeling_effort(coords, ["a", "b", "a"])
    assert result["actions"] == 2 and result["accuracy"] == 1.0  # clip by clip: 2 labels


@pytest.fixture(scope="module")
def digits():
    """Three digits of the embedded demo (real decoding), labeled."""
    table = demo_table()
    table = table[table["true_label"].isin(["one", "five", "nine"])].groupby("true_label").head(25)
    return AudioDataset.from_pandas(pd.DataFrame({"audio": table["audio"],
                                                  "label": table["true_label"]}))


def test_compare_reports_every_aspect_of_the_default(digits):
    everything = compare(digits, map_method="pca", workers=1)
    # every installed vectorizer (the test install has the pretrained extras too)
    installed = [name for name in registry.names() if registry.is_installed(name)]
    assert list(dict.fromkeys(everything["vectorizer"])) == installed
    table = everything[everything["vectorizer"] == "mfcc"]
    assert list(table["aspect"]) == ["overall", "timbre", "shape", "labels"]
    assert (table["clips"] == 75).all() and (table["classes"] == 3).all()
    for column in ("precision_at_10", "knn_accuracy", "effort_accuracy"):
        assert table[column].between(0, 1).all(), column
    assert (table["seconds_per_clip"] > 0).all() and (table["failed"] == 0).all()
    by_aspect = table.set_index("aspect")
    # the labels are words: the shape aspect separates them best
    assert by_aspect.loc["shape", "precision_at_10"] > by_aspect.loc["timbre", "precision_at_10"]
    assert by_aspect.loc["shape", "precision_at_10"] > 0.6  # chance: 1/3
    # learned from half of the labels, measured on the other half: above the unlearned overall
    assert by_aspect.loc["labels", "precision_at_10"] > by_aspect.loc["overall",
                                                                     "precision_at_10"]
    assert by_aspect.loc["labels", "knn_accuracy"] >= by_aspect.loc["overall", "knn_accuracy"]


def test_compare_reads_small_classes_against_their_ceiling(digits, tmp_path):
    table = digits.to_pandas()
    few = AudioDataset.from_pandas(table.groupby("label").head(6)[["audio", "label"]])
    result = compare(few, vectorizers=["mfcc"], map_method=None, workers=1)
    plain = result[result["aspect"] != "labels"]
    # 6 clips per label: at most 5 of the 10 nearest share it, whatever the vectors
    assert (plain["precision_ceiling"] == 0.5).all()
    assert (plain["precision_at_10"] <= 0.5).all() and (plain["precision_at_10"] > 0.25).all()
    assert "precision_ceiling: the most precision@10 can be" in text_table(result)
    # the pictures mark it: a line across the precision bars at 0.5, a marker in the HTML
    png, page = write_plot(result, tmp_path / "few.png"), write_plot(result, tmp_path / "f.html")
    from PIL import Image

    image = Image.open(png).convert("L")
    at_half = [image.getpixel((x, 50 + 150)) for x in range(58, 80)]  # top 50, height 300
    assert min(at_half) < 60, at_half
    assert "precision@10 ceiling" in page.read_text()
    # 25 clips per label: the ceiling is 1 and the table says nothing of it
    everyone = compare(digits, vectorizers=["mfcc"], aspects=["overall"], map_method=None,
                       workers=1)
    assert everyone["precision_ceiling"].tolist() == [1.0]
    assert "precision_ceiling:" not in text_table(everyone)


def test_compare_takes_objects_callables_and_chosen_aspects(digits, capsys):
    from hover_audio import MFCCVectorizer

    table = compare(digits, vectorizers=[MFCCVectorizer(segments=1), lambda key: [len(key), 1.0]],
                    aspects=["overall"], map_method=None, workers=1, progress=True)
    assert list(table["vectorizer"]) == ["MFCCVectorizer", "CallableVectorizer"]
    printed = capsys.readouterr()  # which vectorizer the progress bars are for, on stderr
    assert printed.out == ""
    assert printed.err.index("[1/2] MFCCVectorizer: vectorizing 75 clips, then measuring") < (
        printed.err.index("[2/2] CallableVectorizer: vectorizing 75 clips"))
    assert table["actions_per_100"].isna().all()  # no map asked for
    with pytest.raises(ValueError, match="at least 2 labels"):
        compare(AudioDataset.from_pandas(pd.DataFrame({"audio": ["a.wav"], "label": ["x"]})))


def write_labeled_folder(root, digits_dataset):
    import shutil

    for key, label in zip(digits_dataset.keys, digits_dataset.column("label")):
        folder = root / label
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(key, folder)
    return root


def test_cli_vectorizers_and_compare(tmp_path, digits, capsys):
    assert main(["vectorizers"]) == 0
    listing = capsys.readouterr().out
    assert "mfcc" in listing and "installed" in listing
    folder = write_labeled_folder(tmp_path / "labeled", digits)
    assert main(["compare", str(folder), "--vectorizer", "mfcc", "--json", "--no-map",
                 "--workers", "1"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["aspect"] for row in rows] == ["overall", "timbre", "shape", "labels"]
    assert all(row["actions_per_100"] is None for row in rows)
    png, html = tmp_path / "figures.png", tmp_path / "figures.html"
    assert main(["compare", str(folder), "--vectorizer", "mfcc", "--aspect", "shape", "--no-map",
                 "--quiet", "--workers", "1", "--plot", str(png)]) == 0
    out, err = capsys.readouterr()
    assert "vectorizing" not in err  # --quiet
    assert "shape" in out and "timbre" not in out and f"wrote {png}" in out
    assert "labels:" not in out  # the note on the labels aspect only comes with its row
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 2000
    assert main(["compare", str(folder), "--vectorizer", "mfcc", "--vectorizer", "speech",
                 "--no-map", "--quiet", "--workers", "1", "--plot", str(html)]) == 0
    out = capsys.readouterr().out
    assert any(line.split()[:2] == ["mfcc", "labels"] for line in out.splitlines())
    assert "labels: a distance learned from your labels" in out
    assert "speech / overall" in html.read_text()
    assert "Bokeh" in html.read_text() or "bokeh" in html.read_text()


def test_cli_compare_names_the_clips_it_could_not_read(tmp_path, digits, capsys):
    folder = write_labeled_folder(tmp_path / "labeled", digits)
    label = digits.column("label")[0]
    broken = folder / label / "broken.wav"
    broken.write_bytes(b"RIFF....WAVEnot a wave file")
    assert main(["compare", str(folder), "--vectorizer", "mfcc", "--aspect", "overall",
                 "--json", "--no-map", "--workers", "1"]) == 0
    out, err = capsys.readouterr()
    rows = json.loads(out)  # the failures go to stderr: stdout stays one JSON document
    assert rows[0]["failed"] == 1 and rows[0]["clips"] == len(digits) + 1
    assert "mfcc: 1 clip(s) could not be read" in err
    assert f"decode: {broken}: cannot decode" in err


def test_cli_names_a_missing_extra_and_an_unknown_vectorizer(tmp_path, digits, capsys,
                                                             monkeypatch):
    folder = write_labeled_folder(tmp_path / "labeled", digits)
    monkeypatch.setitem(registry.REGISTRY, "imaginary", registry.Entry(
        "hover_audio.vectors.imaginary", "Imaginary", "imaginary",
        "a vectorizer whose extra is not installed", ("no_such_module_here",)))
    assert not registry.is_installed("imaginary")
    assert main(["compare", str(folder), "--vectorizer", "imaginary", "--no-map"]) == 1
    error = capsys.readouterr().err
    assert "pip install 'hover-audio[imaginary]'" in error and "no_such_module_here" in error
    assert main(["vectorizers"]) == 0
    assert "pip install 'hover-audio[imaginary]'" in capsys.readouterr().out
    assert main(["vectorize", str(folder), "--vectorizer", "nope", "--quiet"]) == 1
    assert "unknown vectorizer 'nope'" in capsys.readouterr().err


def test_cli_vectorize_with_a_named_vectorizer(tmp_path, digits, capsys):
    folder = write_labeled_folder(tmp_path / "labeled", digits)
    workspace = tmp_path / "ws"
    assert main(["vectorize", str(folder), "--vectorizer", "mfcc", "--workspace", str(workspace),
                 "--quiet", "--workers", "1"]) == 0
    assert "(297 dimensions)" in capsys.readouterr().out
    loaded = AudioDataset.load(workspace, attach=False)
    assert loaded.vectors.shape == (75, 297) and loaded.aspects() == ["overall", "timbre", "shape",
                                                                      "labels"]
