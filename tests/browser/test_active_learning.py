"""The active-learning recipe in the browser: train, see predictions, accept them."""
from __future__ import annotations


import pytest

from hover_audio.dataset.history import decode_line

from .conftest import N_ROWS

READY = ("() => window.Bokeh && Bokeh.documents.length && "
         "Bokeh.documents[0].get_model_by_name('clips')")


@pytest.fixture(scope="module")
def active_server(dataset, start_server, tmp_path_factory):
    workspace = tmp_path_factory.mktemp("ws-active") / "workspace"
    return start_server(dataset["table"], workspace, extra=("--recipe", "active"))


def clips(page) -> dict:
    return page.evaluate("""() => { const d = Bokeh.documents[0].get_model_by_name('clips').data;
        return {label: Array.from(d.label), pred: Array.from(d.pred_label),
                subset: Array.from(d.subset), alpha: Array.from(d.pred_alpha)}; }""")


def test_train_see_predictions_and_accept_above_threshold(page, active_server):
    page.goto(active_server.url)
    page.wait_for_function(READY)
    page.get_by_role("button", name="Train", exact=True).click()
    page.wait_for_function("""() => Array.from(Bokeh.documents[0].get_model_by_name('clips')
        .data.pred_label).some((p) => p)""")
    page.get_by_text("dev accuracy").first.wait_for()  # training runs off the event loop
    data = clips(page)
    assert len(data["pred"]) == N_ROWS and all(data["pred"])
    assert all(0.0 <= a <= 1.0 for a in data["alpha"])
    # the map can be coloured by prediction
    page.get_by_role("button", name="colour by prediction").click()
    # accept predictions for every raw clip, with a threshold nothing can fail
    raw = [i for i, (s, l) in enumerate(zip(data["subset"], data["label"]))
           if s == "raw" and l == "ABSTAIN"]
    page.evaluate("(rows) => { Bokeh.documents[0].get_model_by_name('clips')"
                  ".selected.indices = rows; }", raw)
    page.evaluate("""() => { const doc = Bokeh.documents[0];
        const slider = [...doc.all_models].find((m) => m.title &&
            String(m.title).startsWith('accept predictions'));
        slider.value = 0.5; }""")
    page.get_by_role("button", name="Accept for the selection").click()
    page.wait_for_function("""(rows) => { const d = Bokeh.documents[0]
        .get_model_by_name('clips').data; return rows.some((i) => d.label[i] !== 'ABSTAIN'); }""",
                           arg=raw)
    after = clips(page)
    accepted = [i for i in raw if after["label"][i] != "ABSTAIN"]
    assert accepted and all(after["label"][i] == after["pred"][i] for i in accepted)
    assert page.get_by_text("accepted").count() >= 1
    # the acceptance went to the workspace journal like any label action
    # as one operation (one undo step), however many labels it set
    journal = (active_server.workspace / "journal.jsonl").read_bytes().splitlines()
    entries = [decode_line(line) for line in journal]
    accepts = [entry for entry in entries if entry["op"] == "do"
               and {change["new"] for change in entry["changes"]}
               == {after["label"][i] for i in accepted}]
    assert len(accepts) == 1, entries
