"""hover's ``hover.core`` module paths, as thin aliases of hover-audio's own (``hover_audio.dataset``)."""
