"""hover's module path for its experimental recipes (``hover.recipes.experimental``), where
older hover versions kept ``active_learning``: the same recipes as :mod:`.stable`."""
from . import active_learning, linked_annotator, simple_annotator

__all__ = ["simple_annotator", "linked_annotator", "active_learning"]
