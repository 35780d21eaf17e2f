"""hover's ``hover.core`` module paths, as thin aliases of ``hover_audio.dataset``."""
