"""pynndescent stays unimported until a map needs approximate neighbours; umap-learn unchanged."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np

SMALL_MAP = """
import json, sys, numpy as np
{before}
from hover_audio.maps.layout import fit_layout
rng = np.random.default_rng(7)
vectors = rng.normal(size=(300, 16)).astype(np.float32)
subsets = np.array(["raw"] * 290 + ["test"] * 10, dtype=object)
coords = fit_layout(vectors, subsets, "umap", 2, seed=0).coords
print(json.dumps({{"pynndescent": "pynndescent" in sys.modules, "coords": coords.tolist()}}))
"""


def run(script: str, tmp_path) -> dict:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], env=dict(os.environ),
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_small_map_never_imports_pynndescent_and_is_the_same_map(tmp_path):
    deferred = run(SMALL_MAP.format(before=""), tmp_path)
    usual = run(SMALL_MAP.format(before="import pynndescent"), tmp_path)
    assert deferred["pynndescent"] is False and usual["pynndescent"] is True
    assert np.array_equal(np.array(deferred["coords"]), np.array(usual["coords"]))


def test_the_first_use_of_a_stand_in_imports_the_real_names(tmp_path):
    script = """
    import json, sys
    from hover_audio.maps import jit, nndescent
    umap = jit.import_umap()
    umap_ = umap.umap_
    facts = {"hidden": "pynndescent" not in sys.modules and "pynndescent.sparse" not in sys.modules,
             "not an instance": not isinstance(object(), umap_.NNDescent),
             "still deferred": not nndescent.is_imported()}
    facts["metric known"] = "euclidean" in umap_.pynn_named_distances
    import pynndescent, pynndescent.distances, pynndescent.sparse
    facts["real names"] = (umap_.NNDescent is pynndescent.NNDescent
                           and umap_.pynn_named_distances is pynndescent.distances.named_distances
                           and umap_.pynn_sparse_named_distances
                           is pynndescent.sparse.sparse_named_distances)
    facts["real module"] = hasattr(pynndescent, "PyNNDescentTransformer")
    print(json.dumps(facts))
    """
    facts = run(script, tmp_path)
    assert facts == {"hidden": True, "not an instance": True, "still deferred": True,
                     "metric known": True, "real names": True, "real module": True}


def test_a_stand_in_builds_and_recognises_real_indexes(tmp_path):
    script = """
    import json
    import numpy as np
    from hover_audio.maps import jit, nndescent
    umap_ = jit.import_umap().umap_
    stand_in = umap_.NNDescent
    try:
        stand_in()  # the real class's own complaint: it needs data
        message = ""
    except TypeError as error:
        message = str(error)
    import pynndescent
    print(json.dumps({"message": message, "imported": nndescent.is_imported(),
                      "same class": umap_.NNDescent is pynndescent.NNDescent,
                      "instancecheck": isinstance(object.__new__(pynndescent.NNDescent), stand_in)}))
    """
    facts = run(script, tmp_path)
    assert "data" in facts["message"]
    assert facts["imported"] and facts["same class"] and facts["instancecheck"]


def test_pynndescent_imported_first_means_the_usual_import(tmp_path):
    script = """
    import json, pynndescent
    from hover_audio.maps import jit
    umap_ = jit.import_umap().umap_
    print(json.dumps({"real": umap_.NNDescent is pynndescent.NNDescent}))
    """
    assert run(script, tmp_path) == {"real": True}
