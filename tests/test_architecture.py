"""The package's shape: layers in one direction, no import cycles, small modules.

Read from the source (every ``import`` statement, at module level or inside a
function; ``if TYPE_CHECKING:`` blocks excepted), so a cycle hidden in a function
body is found without running anything.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "hover_audio"
# the data flow, first to last; a module may import its own layer and earlier ones
LAYERS = ["common", "audio", "vectors", "maps", "dataset", "model", "app",
          "core", "recipes",  # hover's module paths: aliases of the layers above
          ""]  # hover_audio/__init__.py: the public names (imported lazily)
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def imported_modules(path: Path, modules: set[str]) -> set[str]:
    """The package modules ``path`` imports, wherever the import statement is."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if is_type_checking(node):
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names
                         if alias.name.split(".")[0] == PACKAGE.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] == PACKAGE.name:
                for alias in node.names:
                    child = f"{target}.{alias.name}"
                    found.add(child if child in modules else target)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    found.discard(name)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(path) for path in paths}
    return {module_name(path): imported_modules(path, modules) for path in paths}


def layer_of(module: str) -> int:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else ""
    assert top in LAYERS, f"{module}: folder {top!r} is not a layer; add it to LAYERS"
    return LAYERS.index(top)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path (first module repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def walk(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state and (cycle := walk(target)):
                return cycle
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (cycle := walk(module)):
            return cycle
    return None


def test_the_graph_is_read_from_the_source(graph):
    assert len(graph) > 30
    assert "hover_audio.vectors.jobs" in graph["hover_audio.vectors.runners"]
    # an import inside a function body counts
    assert "hover_audio.vectors.batch" in graph["hover_audio.vectors.contract"]


def test_no_import_cycles(graph):
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_find_cycle_finds_a_cycle_hidden_in_a_function():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_layers_depend_one_way(graph):
    wrong = [f"{module} (layer {LAYERS[layer_of(module)]!r}) imports {target} "
             f"(layer {LAYERS[layer_of(target)]!r})"
             for module, targets in graph.items() for target in sorted(targets)
             if layer_of(target) > layer_of(module)]
    assert not wrong, "imports against the data flow:\n" + "\n".join(wrong)


def test_modules_stay_small():
    long = {module_name(path): count for path in PACKAGE.rglob("*.py")
            if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines (split them by job): {long}"


def test_public_names_and_hover_paths_import():
    import hover_audio

    for name in hover_audio.__all__:
        assert getattr(hover_audio, name) is not None, name
    from hover_audio.core.dataset import SupervisableAudioDataset
    from hover_audio.recipes.stable import active_learning, linked_annotator, simple_annotator

    assert issubclass(SupervisableAudioDataset, hover_audio.AudioDataset)
    assert SupervisableAudioDataset is hover_audio.SupervisableAudioDataset
    assert {simple_annotator, linked_annotator, active_learning} == {
        hover_audio.simple_annotator, hover_audio.linked_annotator, hover_audio.active_learning}


def test_every_module_imports_on_its_own():
    """Each module imports in a fresh interpreter (no hidden order dependence)."""
    names = sorted(module_name(path) for path in PACKAGE.rglob("*.py"))
    code = ("import importlib, sys\n"
            "for name in sys.argv[1:]:\n"
            "    for loaded in [m for m in sys.modules if m.startswith('hover_audio')]:\n"
            "        del sys.modules[loaded]\n"
            "    importlib.import_module(name)\n")
    done = subprocess.run([sys.executable, "-c", code, *names], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
