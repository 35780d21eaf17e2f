"""The examples in the package's docstrings run and give what they show (NumPy-style
``Examples`` sections are documentation users copy; a stale one is a defect)."""
from __future__ import annotations

import doctest
import importlib
import io
import pkgutil

import pytest

import hover_audio

MODULES = sorted(name for _, name, _ in pkgutil.walk_packages(hover_audio.__path__,
                                                              "hover_audio."))


def test_every_module_is_seen():
    assert {"hover_audio.vectors.features", "hover_audio.dataset.schema",
            "hover_audio.app.explorer.clip_overview"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing an example might write lands in the checkout
    module = importlib.import_module(name)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    out = io.StringIO()
    for test in doctest.DocTestFinder().find(module, name):
        if test.examples:
            runner.run(test, out=out.write)
    assert runner.failures == 0, out.getvalue()
