"""hover's module path for the stable recipes (``hover.recipes.stable``)."""
from . import active_learning, linked_annotator, simple_annotator

__all__ = ["simple_annotator", "linked_annotator", "active_learning"]
