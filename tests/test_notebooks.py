"""The notebooks run headless, top to bottom, in a fresh folder, and show what they promise.

Each notebook is executed by nbclient in a kernel of this interpreter (the venv's python),
with the current folder a new temporary folder, so ``custom_cache/`` does not exist when it
starts (hover's documented set-up crashed then). While the kernel is still alive, the
annotator it shows is opened as a real Bokeh server session. Also here: hover's guide code,
with only ``from hover.`` changed to ``from hover_audio.``, runs in a fresh process; and the
Binder files provide everything the notebooks import.
"""
from __future__ import annotations

import ast
import configparser
import functools
import http.server
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
BINDER = ROOT / "binder"
CELL_TIMEOUT = 300  # seconds per cell; the first UMAP fit in a process compiles numba code
FREEDESKTOP = Path("/usr/share/sounds/freedesktop/stereo")
BOKEH_EXEC = "application/vnd.bokehjs_exec.v0+json"


# ------------------------------------------------------------------ helpers
@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory):
    """Environment of the kernels and subprocesses: this interpreter, nothing in ~.

    A ``python3`` kernel spec naming ``sys.executable`` is put first on JUPYTER_PATH,
    so the notebooks run in this venv whatever other kernels are installed; Jupyter's
    and IPython's runtime files go to a temporary folder. numba's JIT cache is the
    session's (see conftest.py), so only the first kernel compiles librosa.
    """
    home = tmp_path_factory.mktemp("jupyter")
    spec = home / "data" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (hover-audio tests)",
        "language": "python",
    }))
    patch = pytest.MonkeyPatch()
    patch.setenv("JUPYTER_PATH", str(home / "data"))
    patch.setenv("JUPYTER_RUNTIME_DIR", str(home / "runtime"))
    patch.setenv("IPYTHONDIR", str(home / "ipython"))
    patch.setenv("NUMBA_CACHE_DIR", os.environ["NUMBA_CACHE_DIR"])
    for name in ("HOVER_AUDIO_CACHE", "JUPYTER_BOKEH_EXTERNAL_URL"):
        patch.delenv(name, raising=False)
    from jupyter_client.kernelspec import KernelSpecManager

    argv = KernelSpecManager().get_kernel_spec("python3").argv
    assert argv[0] == sys.executable, f"the python3 kernel resolves to {argv}, not this venv"
    yield dict(os.environ)
    patch.undo()


def run_notebook(name: str, cwd: Path, probe: str, while_alive=None):
    """Execute ``notebooks/name`` in ``cwd``; then ``probe`` (code printing JSON).

    Returns ``(notebook with outputs, the probe's JSON, while_alive(notebook))``;
    ``while_alive`` runs while the kernel (and any server it started) is still up.
    A failing cell raises ``CellExecutionError`` with its traceback.
    """
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(cwd)}})
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
        probe_cell = nbformat.v4.new_code_cell(probe)
        nb.cells.append(probe_cell)
        client.execute_cell(probe_cell, len(nb.cells) - 1)
        extra = while_alive(nb) if while_alive else None
    nb.cells.pop()
    printed = "".join(o.get("text", "") for o in probe_cell.outputs if o.output_type == "stream")
    return nb, json.loads(printed.strip().splitlines()[-1]), extra


def cell_output(nb, starts_with: str) -> str:
    """All text a code cell (found by its first line) printed or returned."""
    cells = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith(starts_with)]
    assert len(cells) == 1, f"{len(cells)} code cells start with {starts_with!r}"
    parts = []
    for output in cells[0].outputs:
        parts.append(output.get("text", ""))
        parts.append(output.get("data", {}).get("text/plain", ""))
    return "".join(parts)


def autoload_url(nb) -> str:
    """The server URL in the annotator's autoload script: Bokeh's output for ``show(app)``."""
    scripts = [o["data"]["text/html"] for c in nb.cells if c.cell_type == "code"
               for o in c.outputs
               if o.output_type == "display_data" and BOKEH_EXEC in o.get("data", {})]
    assert len(scripts) == 1, f"expected one Bokeh server app output, found {len(scripts)}"
    match = re.search(r'"(http://localhost:\d+/autoload\.js\?[^"]+)"', scripts[0])
    assert match, f"no autoload script for a server session in: {scripts[0][:300]}"
    query = parse_qs(urlsplit(match.group(1)).query)
    assert query["bokeh-autoload-element"] and query["bokeh-absolute-url"]
    return query["bokeh-absolute-url"][0]


def open_session(url: str) -> dict:
    """Open a session of the app at ``url`` as a browser tab would; describe its document.

    It runs in a thread of its own: bokeh.client runs an event loop, and another test
    module's Playwright (sync API) may already run one in this thread.
    """
    import importlib
    from concurrent.futures import ThreadPoolExecutor

    from bokeh.client import pull_session

    importlib.import_module("hover_audio.app.explorer.annotator")  # defines the app's custom Bokeh models

    def describe() -> dict:
        import asyncio

        asyncio.set_event_loop(asyncio.new_event_loop())
        with pull_session(url=url) as session:
            document = session.document
            clips = document.select_one({"name": "clips"})
            assert clips is not None, "the annotator's document has no clips source"
            return {"roots": len(document.roots), "clips": len(clips.data["index"]),
                    "on_map": int(np.isfinite(np.asarray(clips.data["x"], dtype=float)).sum())}

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(describe).result(timeout=120)


def all_outputs(nb) -> str:
    return "\n".join(json.dumps(o) for c in nb.cells if c.cell_type == "code" for o in c.outputs)


# ---------------------------------------------------------------- the notebooks
QUICKSTART_PROBE = r"""
import json, os
import numpy as np
test_xy = dataset.dfs["test"][["embed_2d_0", "embed_2d_1"]].to_numpy(dtype=float)
print(json.dumps({
    "cwd": os.getcwd(),
    "rows": len(dataset),
    "test_rows": len(test_xy),
    "test_finite": int(np.isfinite(test_xy).all(axis=1).sum()),
    "all_finite": int(np.isfinite(dataset.to_pandas()[["embed_2d_0", "embed_2d_1"]]
                                  .to_numpy(dtype=float)).all(axis=1).sum()),
    "small_vectors": list(small.vectors.shape),
    "small_test_finite": int(np.isfinite(small.dfs["test"][["embed_2d_0", "embed_2d_1"]]
                                         .to_numpy(dtype=float)).all()),
    "workspace": str(dataset.workspace),
}))
"""


def test_quickstart(tmp_path, kernel_env, hover_guide):
    hover_guide.start()  # hover's guide code runs in its own process meanwhile (own UMAP fit)
    assert not (tmp_path / "custom_cache").exists()
    nb, state, session = run_notebook(
        "quickstart.ipynb", tmp_path, QUICKSTART_PROBE,
        while_alive=lambda nb: open_session(autoload_url(nb)))

    assert Path(state["cwd"]) == tmp_path
    population = cell_output(nb, "dataset.population()")
    assert re.search(r"ABSTAIN\s+150\s+0\s+0\s+0\b", population), population
    assert "http://127.0.0.1:" in cell_output(nb, 'from hover_audio.core.dataset import')
    # test rows are on the map (hover left them NaN); every clip is
    assert "test rows on the map: 30 of 30" in cell_output(nb, 'test_xy = dataset.dfs["test"]')
    assert (state["test_rows"], state["test_finite"], state["all_finite"]) == (30, 30, 300)
    # the hover-style vectorizer: 60 clips, 32 MFCC means, its memos pickled to custom_cache/
    assert state["small_vectors"] == [60, 32] and state["small_test_finite"] == 1
    import dill

    for name, check in (("url_to_content.pkl", lambda v: isinstance(v, bytes) and v[:4] == b"fLaC"),
                        ("audio_vectors.pkl", lambda v: np.shape(v) == (32,))):
        with open(tmp_path / "custom_cache" / name, "rb") as handle:
            memory = dill.load(handle)
        assert len(memory) == 60, name  # written every 20 new results
        assert all(check(value) for value in memory.values()), name
    # search by example: the 10 nearest clips of a digit are mostly that digit
    same = re.search(r"(\d+) of 10 nearest clips say the same digit",
                     cell_output(nb, "index = dataset.similarity_index()"))
    assert same and int(same.group(1)) >= 7
    assert Path(state["workspace"]) == tmp_path / "custom_cache" / "quickstart_workspace"
    assert (tmp_path / "custom_cache" / "quickstart_workspace" / "journal.jsonl").is_file()
    # the annotator: an autoload script for a server session, and that session works
    assert session["roots"] >= 1 and session["clips"] == session["on_map"] == 300
    assert "Traceback" not in all_outputs(nb)
    assert "IProgress not found" not in all_outputs(nb)  # (tqdm.auto without ipywidgets)


FOLDER_PROBE = r"""
import json
print(json.dumps({
    "rows": len(ds),
    "population": {label: int(n) for label, n in ds.population()["raw"].items()},
    "workspace": str(ds.workspace),
    "tree_rows": len(tree),
    "actions": sorted(set(tree["action"])),
}))
"""
KINDS = ("announcer", "chime", "phone", "shutter", "speech")


def test_folder_to_labels(tmp_path, kernel_env):
    assert FREEDESKTOP.is_dir(), (
        f"{FREEDESKTOP} is missing: install the Debian package sound-theme-freedesktop "
        "(make test does)")
    nb, state, session = run_notebook(
        "folder_to_labels.ipynb", tmp_path, FOLDER_PROBE,
        while_alive=lambda nb: open_session(autoload_url(nb)))

    cache = tmp_path / "custom_cache"
    library = sorted(p.name for p in (cache / "sfx_library").iterdir())
    assert library == [f"Track {n:02d}.wav" for n in range(1, len(library) + 1)]
    assert state["rows"] == len(library) == 41
    # before labeling: every track ABSTAIN in raw
    first_population = cell_output(nb, "from hover_audio import AudioDataset")
    assert re.search(rf"ABSTAIN\s+{len(library)}\s+0\s+0\s+0\b", first_population)
    # after: every kind labeled, the rest still ABSTAIN, nothing lost
    population = state["population"]
    assert set(population) == {"ABSTAIN", *KINDS}
    assert all(population[kind] >= 4 for kind in KINDS), population
    assert sum(population.values()) == len(library)
    assert re.search(rf"ABSTAIN\s+{population['ABSTAIN']}\s+0\s+0\s+0\b",
                     cell_output(nb, "ds.population()"))
    # the export
    exported = pd.read_csv(cache / "sfx_labels.csv")
    assert len(exported) == len(library)
    assert exported["label"].value_counts().to_dict() == population
    # the labelled tree: one folder per kind plus "unsorted", links to the tracks, labels.csv
    tree = cache / "sfx_by_label"
    folders = {p.name: sorted(q.name for q in p.iterdir()) for p in tree.iterdir() if p.is_dir()}
    assert set(folders) == {*KINDS, "unsorted"}
    assert {kind: len(folders[kind]) for kind in KINDS} == {k: population[k] for k in KINDS}
    assert len(folders["unsorted"]) == population["ABSTAIN"]
    for kind, names in folders.items():
        for name in names:
            link = tree / kind / name
            assert link.is_symlink() and link.resolve() == (cache / "sfx_library" / name).resolve()
    table = pd.read_csv(tree / "labels.csv")
    assert len(table) == state["tree_rows"] == len(library)
    assert set(table["action"]) == {"linked"} and state["actions"] == ["linked"]
    assert sorted(table["path"]) == sorted(f"{k}/{n}" for k, names in folders.items() for n in names)
    listing = cell_output(nb, "from hover_audio.dataset.label_tree import write_label_tree")
    for kind in KINDS:
        assert f"{kind}/ ({population[kind]}):" in listing
    assert Path(state["workspace"]) == cache / "sfx_workspace"
    # the annotator on the same dataset, in a live server session
    assert session["roots"] >= 1 and session["clips"] == session["on_map"] == len(library)
    assert "Traceback" not in all_outputs(nb)
    assert "IProgress not found" not in all_outputs(nb)


# ------------------------------------------------------- hover's code, renamed
HOVER_GUIDE_CODE = r'''
import io
import json

import librosa
import pandas as pd
import requests
import wrappy
from bokeh.document import Document

from hover.core.dataset import SupervisableAudioDataset
from hover.recipes.stable import simple_annotator

df = pd.read_csv("clips.csv")
dataset = SupervisableAudioDataset.from_pandas(df, feature_key="audio", label_key="label")
dataset.dfs["raw"].head()


@wrappy.memoize(cache_limit=10000, persist_path="custom_cache/url_to_content.pkl",
                persist_batch_size=10)
def url_to_content(url):
    return requests.get(url).content


@wrappy.memoize(cache_limit=10000, persist_path="custom_cache/audio_vectors.pkl",
                persist_batch_size=10)
def vectorizer(url):
    y, sr = librosa.load(io.BytesIO(url_to_content(url)))
    return librosa.feature.mfcc(y=y, sr=sr, n_mfcc=32).mean(axis=1)


dataset.compute_nd_embedding(vectorizer, "umap", dimension=2)
handle = simple_annotator(dataset)

doc = Document()
handle(doc)
test_xy = dataset.dfs["test"][["embed_2d_0", "embed_2d_1"]]
print(json.dumps({"rows": len(dataset), "roots": len(doc.roots),
                  "test_on_map": int(test_xy.notna().all(axis=1).sum()),
                  "test_rows": len(test_xy)}))
'''


class HoverGuideRun:
    """hover's guide code with hover_audio's import path, in a fresh Python process.

    The clips are served over HTTP from this process; the run starts on the first
    ``start()`` (the quickstart test starts it early, so both UMAP compilations overlap).
    """

    def __init__(self, folder: Path, env: dict):
        from hover_audio.dataset.demo import DATA_DIR

        self.folder, self.env, self.process = folder, env, None
        self.server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(DATA_DIR)))
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        manifest = pd.read_csv(DATA_DIR / "manifest.csv").head(40)
        subsets = ["raw"] * 20 + ["train"] * 10 + ["dev"] * 5 + ["test"] * 5
        pd.DataFrame({
            "audio": [f"{base}/{name}" for name in manifest["file"]],
            "label": np.where(np.array(subsets) == "raw", "ABSTAIN", manifest["true_label"]),
            "SUBSET": subsets,
        }).to_csv(folder / "clips.csv", index=False)
        self.code = HOVER_GUIDE_CODE.replace("from hover.", "from hover_audio.")

    def start(self) -> None:
        if self.process is None:
            self.started_without_cache = not (self.folder / "custom_cache").exists()
            self.process = subprocess.Popen(
                [sys.executable, "-c", self.code], cwd=self.folder, env=self.env,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def result(self, timeout: float = 300) -> tuple[int, str, str]:
        self.start()
        stdout, stderr = self.process.communicate(timeout=timeout)
        return self.process.returncode, stdout, stderr

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.communicate()
        self.server.shutdown()
        self.server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def hover_guide(tmp_path_factory, kernel_env):
    run = HoverGuideRun(tmp_path_factory.mktemp("hover_guide"), kernel_env)
    yield run
    run.close()


def test_hover_guide_code_runs_with_only_the_import_path_changed(hover_guide):
    code = hover_guide.code
    changed = [(before, after) for before, after
               in zip(HOVER_GUIDE_CODE.splitlines(), code.splitlines()) if before != after]
    assert changed == [
        ("from hover.core.dataset import SupervisableAudioDataset",
         "from hover_audio.core.dataset import SupervisableAudioDataset"),
        ("from hover.recipes.stable import simple_annotator",
         "from hover_audio.recipes.stable import simple_annotator"),
    ]
    returncode, stdout, stderr = hover_guide.result()
    assert hover_guide.started_without_cache  # hover's set-up crashed on a fresh folder
    assert returncode == 0, stderr[-3000:]
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary == {"rows": 40, "roots": summary["roots"], "test_on_map": 5, "test_rows": 5}
    assert summary["roots"] >= 1
    for name in ("url_to_content.pkl", "audio_vectors.pkl"):
        assert (hover_guide.folder / "custom_cache" / name).stat().st_size > 0


# ------------------------------------------------------------------- Binder
def requirement_lines(path: Path) -> list[str]:
    lines = []
    for line in path.read_text().splitlines():
        line = line.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def notebook_imports() -> dict[str, set]:
    """Top-level modules imported by each notebook's code cells."""
    found = {}
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        modules = set()
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            for node in ast.walk(ast.parse(cell.source)):
                if isinstance(node, ast.Import):
                    modules.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    modules.add(node.module.split(".")[0])
        found[path.name] = modules
    return found


def test_binder_requirements_provide_every_notebook_import():
    """binder/requirements.txt is valid and installs, directly, what the notebooks import.

    Binder runs ``pip install -r binder/requirements.txt`` in the repository root, and pip
    resolves a local path in a requirements file against the current directory, so ``.``
    is this project; its install_requires (setup.cfg) count as provided.
    """
    from importlib.metadata import packages_distributions

    from packaging.requirements import Requirement

    provided = set()
    project = None
    lines = requirement_lines(BINDER / "requirements.txt")
    while lines:
        line = lines.pop(0)
        if line.startswith((".", "/")):
            project = (ROOT / line).resolve()
            assert project == ROOT, f"{line!r} is not the repository root (pip: relative to cwd)"
            continue
        if line.startswith("-r "):  # included file: relative to the including file
            included = BINDER / line[3:].strip()
            assert included.is_file(), line
            lines += requirement_lines(included)
            continue
        assert not line.startswith("-"), f"{line!r}: unexpected pip option"
        provided.add(canonical(Requirement(line).name))  # raises on an invalid line
    assert project is not None, "binder/requirements.txt must install this repository ('.')"
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    provided.add(canonical(setup["metadata"]["name"]))
    for line in setup["options"]["install_requires"].strip().splitlines():
        provided.add(canonical(Requirement(line).name))

    distributions = packages_distributions()
    imports = notebook_imports()
    assert set(imports) == {"quickstart.ipynb", "folder_to_labels.ipynb"}
    for notebook, modules in imports.items():
        for module in sorted(modules - set(sys.stdlib_module_names)):
            if (ROOT / module / "__init__.py").is_file():
                continue  # this project
            names = {canonical(d) for d in distributions.get(module, [])}
            assert names, f"{notebook} imports {module!r}, which is not installed"
            assert names & provided, (
                f"{notebook} imports {module!r} (from {sorted(names)}), which neither "
                "binder/requirements.txt nor hover-audio's install_requires provides")


def test_binder_apt_packages_cover_the_notebooks_and_the_package():
    apt = requirement_lines(BINDER / "apt.txt")
    assert {"ffmpeg", "sound-theme-freedesktop"} <= set(apt)
    makefile = (ROOT / "Makefile").read_text()
    run_packages = re.search(r"^APT_PACKAGES_RUN\s*:?=(.*)$", makefile, re.MULTILINE)
    assert run_packages and set(run_packages.group(1).split()) <= set(apt)
    assert "sound-theme-freedesktop" in re.search(
        r"^APT_PACKAGES_TEST\s*:?=(.*)$", makefile, re.MULTILINE).group(1)
