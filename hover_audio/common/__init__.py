"""What every layer shares: value helpers, atomic files, the cache folder, progress bars.

Modules here import nothing else from hover-audio.
"""
