"""Layer 1, audio: clip keys -> bytes or files -> decoded samples; segments; WAVs to play.

- ``sources``: parse keys (paths, ``file://``, ``http(s)://``, ``#t=`` ranges) and fetch them.
- ``decode``: samples of a range of a file (soundfile; ffmpeg's libraries or program
  for the rest).
- ``whole_file``: decode's fast paths: whole plain FLAC and WAV files by miniaudio; the
  Ogg stream a WAV file wraps.
- ``av_read``: PyAV, ffmpeg's libraries: whole files libsndfile cannot read, ranges of
  MP4, MP3, Ogg and WebM-Opus files by a seek, lengths from headers or packets.
- ``file_tags``: tags in the files' own metadata (mutagen), with ``tag_containers``
  (which container a file is, by content; ID3 frames walked), ``riff_info`` (WAV INFO and
  bext), ``tag_copies`` (the temporary copy written, leftovers of a killed run found) and
  ``tag_history`` (earlier manifests: which tags hover-audio wrote; one run at a time).
- ``segments``: where the clips of a long recording are (fixed windows, non-silent regions).
- ``wav``: a clip as 16-bit WAV bytes, for playback in a browser.

Nothing here knows about tables, vectors or labels.
"""
