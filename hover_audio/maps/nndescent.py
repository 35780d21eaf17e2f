"""pynndescent, imported only when a map needs approximate neighbours.

umap-learn imports pynndescent at its own import, and pynndescent compiles about a
hundred numba functions as it is imported: 16-18 s on a machine that has never
run it, ~2 s to load them from numba's disk cache after that. Maps of fewer than
4,096 rows never use it (their neighbours are exact, ``jit.exact_distances``), so
:func:`import_umap_deferring` imports umap-learn with three names standing in for
pynndescent's (``NNDescent`` and the two tables of distance names); the first use
of any of them, by a large map or by ``transform`` of one, imports pynndescent
and puts the real names back into ``umap.umap_``. umap-learn's code runs
unchanged either way. Where pynndescent is already imported (the user did), or
umap-learn's module does not look as expected, umap-learn is imported as usual.
"""
from __future__ import annotations

import importlib
import sys
import threading
import types
from collections.abc import Mapping
from typing import Callable

_NAMES = {  # umap.umap_'s name -> (pynndescent module, name in it)
    "NNDescent": ("pynndescent", "NNDescent"),
    "pynn_named_distances": ("pynndescent.distances", "named_distances"),
    "pynn_sparse_named_distances": ("pynndescent.sparse", "sparse_named_distances"),
}
_lock = threading.RLock()
on_import: list[Callable[[], None]] = []  # called once pynndescent is really imported


def is_imported() -> bool:
    """Whether the real pynndescent is loaded in this process."""
    module = sys.modules.get("pynndescent")
    return module is not None and not getattr(module, "_hover_audio_stand_in", False)


def load_real(umap_module: types.ModuleType | None = None) -> None:
    """Import pynndescent and give ``umap.umap_`` its real names (once; thread-safe)."""
    with _lock:
        umap_module = umap_module or sys.modules.get("umap.umap_")
        fresh = not is_imported()
        for name, (module, attribute) in _NAMES.items():
            value = getattr(importlib.import_module(module), attribute)
            if umap_module is not None:
                setattr(umap_module, name, value)
        if fresh:
            for call in on_import:
                call()


def _real(name: str):
    load_real()
    return getattr(importlib.import_module(_NAMES[name][0]), _NAMES[name][1])


class _DeferredTable(Mapping):
    """Stands in for one of pynndescent's tables of distances until it is first read."""

    def __init__(self, name: str):
        self._name = name

    def __getitem__(self, key):
        return _real(self._name)[key]

    def __iter__(self):
        return iter(_real(self._name))

    def __len__(self) -> int:
        return len(_real(self._name))

    def __contains__(self, key) -> bool:
        return key in _real(self._name)


class _DeferredClassType(type):
    def __call__(cls, *args, **kwargs):  # NNDescent(...) builds the real index
        return _real("NNDescent")(*args, **kwargs)

    def __instancecheck__(cls, instance) -> bool:
        return is_imported() and isinstance(instance, _real("NNDescent"))


class _DeferredNNDescent(metaclass=_DeferredClassType):
    """Stands in for ``pynndescent.NNDescent`` until a map needs approximate neighbours."""


def _stand_ins() -> dict[str, types.ModuleType]:
    modules = {}
    for name, value in (("NNDescent", _DeferredNNDescent),
                        ("pynn_named_distances", _DeferredTable("pynn_named_distances")),
                        ("pynn_sparse_named_distances",
                         _DeferredTable("pynn_sparse_named_distances"))):
        module_name, attribute = _NAMES[name]
        module = modules.setdefault(module_name, types.ModuleType(module_name))
        module._hover_audio_stand_in = True
        setattr(module, attribute, value)
    modules["pynndescent"].__path__ = []  # a package, so its submodules import
    return modules


def import_umap_deferring() -> types.ModuleType:
    """``import umap`` without importing pynndescent, when that can be done safely."""
    with _lock:
        if "umap.umap_" in sys.modules or is_imported():
            return importlib.import_module("umap")
        stand_ins = _stand_ins()
        sys.modules.update(stand_ins)
        try:
            umap = importlib.import_module("umap")
        except ImportError:  # it wants more of pynndescent than the stand-ins: the usual way
            for name in [name for name in sys.modules if name.split(".")[0] == "umap"]:
                del sys.modules[name]
            umap = None
        finally:
            for name, module in stand_ins.items():  # nobody else may see the stand-ins
                if sys.modules.get(name) is module:
                    del sys.modules[name]
        if umap is None:
            load_real()
            return importlib.import_module("umap")
        umap_ = sys.modules["umap.umap_"]
        if not all(isinstance(getattr(umap_, name, None), (_DeferredClassType, _DeferredTable))
                   for name in _NAMES):
            load_real(umap_)  # an umap-learn laid out otherwise: the usual import
        return umap
