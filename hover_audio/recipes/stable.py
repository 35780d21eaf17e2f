"""hover's module path for the stable recipes (``hover.recipes.stable``)."""
from . import linked_annotator, simple_annotator

__all__ = ["simple_annotator", "linked_annotator"]
