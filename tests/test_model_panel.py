"""The active-learning panel on real Bokeh documents, over the embedded demo."""
from __future__ import annotations

import numpy as np
import pytest

from hover_audio.dataset.demo import load_dataset
from hover_audio.app.explorer.model_panel import ModelPanel
from hover_audio.app.explorer.page_data import label_color, packed
from hover_audio.vectors.mfcc import MFCCVectorizer

from .test_explorer import Page


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    ds = load_dataset()
    ds.vectorize(MFCCVectorizer(cache_dir=tmp_path_factory.mktemp("cache")), progress=False)
    ds.compute_nd_embedding(method="pca", progress=False)
    return ds


class ModelPage(Page):
    """A page of the active-learning recipe."""

    def __init__(self, dataset):
        super().__init__(dataset, panels=(ModelPanel,))
        self.panel = self.annotator.panels[0]


def test_train_predict_and_accept_above_threshold(demo):
    page, other = ModelPage(demo), ModelPage(demo)
    page.panel.fit().result(timeout=120)
    assert "dev accuracy" in page.panel.summary.text
    table = demo.to_pandas()
    raw = table[table["SUBSET"] == "raw"]
    accuracy = (raw["pred_label"] == raw["true_label"]).mean()
    assert accuracy > 0.8
    # both pages show the predictions: colour by predicted label, alpha by confidence
    for each in (page, other):
        data = each.annotator.source.data
        assert data["pred_label"][raw.index[0]] == raw["pred_label"].iloc[0]
        assert 0.15 <= data["pred_alpha"][raw.index[0]] <= 1.0
    page.panel.view.active = 1
    glyph = page.annotator.renderers["raw"].glyph
    assert glyph.fill_color == "pred_color" or getattr(glyph.fill_color, "field", None) == "pred_color"
    # the predicted colour of a raw row is its predicted label's, as a number 0xRRGGBBAA
    predicted = raw["pred_label"].iloc[0]
    assert page.annotator.source.data["pred_color"][raw.index[0]] == packed(
        label_color(predicted, demo.label_order))
    page.panel.view.active = 0  # back to labels: filled points, still without an outline
    assert getattr(glyph.fill_color, "field", glyph.fill_color) == "color"
    assert glyph.line_color is None
    page.panel.view.active = 1
    rows = raw.index[:40].tolist()
    page.select(rows)
    page.panel.threshold.value = 0.9
    page.panel.accept_predictions()
    after = demo.to_pandas().loc[rows]
    sure = after["pred_probability"] >= 0.9
    assert (after.loc[sure, "label"] == after.loc[sure, "pred_label"]).all()
    assert (after.loc[~sure, "label"] == "ABSTAIN").all()
    assert "accepted" in page.annotator.status.text
    if sure.any():
        demo.undo()  # leave the shared demo as it was


def test_quality_flags_filter_the_selection(demo):
    page = ModelPage(demo)
    page.panel.find_problems().result(timeout=120)
    assert "suspect" in page.annotator.status.text
    table = demo.to_pandas()
    assert {"suspect_label", "suggested", "duplicate_of", "outlier"} <= set(table.columns)
    page.panel.select_flagged("outlier")
    assert set(page.annotator.selected()) == set(np.flatnonzero(table["outlier"].to_numpy(bool)))
    modes = ["none", "union", "intersection", "difference"]
    page.annotator.labeling["mode"].active = modes.index("intersection")
    page.select([0, 1, 2] + page.annotator.selected()[:2])
    page.panel.select_flagged("outlier")
    assert len(page.annotator.selected()) <= 5


def test_training_without_two_classes_is_a_message():
    import pandas as pd

    from hover_audio import AudioDataset

    ds = AudioDataset.from_pandas(pd.DataFrame({"audio": [f"c{i}.wav" for i in range(6)]}))
    ds.vectors = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    ds.compute_nd_embedding(method="pca", progress=False)
    page = ModelPage(ds)
    page.panel.fit().result(timeout=120)
    assert "cannot train" in page.annotator.status.text


def test_the_summary_says_when_dev_holds_labels_train_lacks():
    import pandas as pd

    from hover_audio import AudioDataset
    from hover_audio.app.explorer.model_panel import ModelState

    rng = np.random.default_rng(0)
    ds = AudioDataset.from_pandas(pd.DataFrame({
        "audio": [f"{i}.wav" for i in range(40)],
        "label": ["dog"] * 15 + ["cat"] * 15 + ["owl"] * 6 + ["ABSTAIN"] * 4,
        "SUBSET": ["train"] * 30 + ["dev"] * 6 + ["raw"] * 4}))
    ds.vectors = rng.normal(size=(40, 6)).astype(np.float32)
    summary = ModelState(ds).train()
    assert "dev accuracy 0.0%" in summary
    assert "(6 dev clip(s) carry labels no train clip has: owl)" in summary
