"""A model server in the classic shape: ``POST /model/predict`` answers an audio file's labels.

``hover-audio predict-server WORKSPACE --port 5000`` fits the model in the loop on the
workspace's labeled clips and serves, with Tornado (Bokeh's own web server):

- ``POST /model/predict`` with a multipart ``audio`` file (WAV or anything we decode),
  query ``start_time`` (seconds: the clip from there), ``filter`` (comma-separated
  labels to keep) and ``top`` (default 5):
  ``{"status": "ok", "predictions": [{"label_id", "label", "probability"}, ...]}``;
  audio that cannot be read answers 400 with a message, never a 500;
- ``GET /model/metadata`` and ``GET /model/labels``.

The bind and token rules are the annotator's: 127.0.0.1 by default; on another
address every request needs the token (``?token=`` or ``Authorization: Bearer``).
"""
from __future__ import annotations

import hmac
import json
import os
import tempfile
from pathlib import Path

MAX_UPLOAD = 64 * 2**20


def prediction_items(model, found: list[dict]) -> list[dict]:
    """``model.predict`` results in the classic JSON shape: label_id, label, probability."""
    return [{"label_id": model.classes.index(item["label"]), "label": item["label"],
             "probability": round(float(item["probability"]), 6)} for item in found]


def make_app(model, token: str | None = None, name: str = "hover-audio"):
    """The Tornado application serving ``model`` (an :class:`~hover_audio.model.AudioModel`)."""
    import tornado.web

    class Base(tornado.web.RequestHandler):
        def prepare(self):
            if token is None:
                return
            given = self.get_query_argument("token", "") or self.request.headers.get(
                "Authorization", "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(given.encode(), token.encode()):
                self.answer(403, {"status": "error", "message": "a token is required"})

        def answer(self, code: int, body: dict) -> None:
            self.set_status(code)
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps(body))

    class Predict(Base):
        def post(self):
            files = self.request.files.get("audio") or []
            if not files:
                return self.answer(400, {"status": "error",
                                         "message": "send the audio as a multipart field 'audio'"})
            upload = files[0]
            try:
                start = float(self.get_query_argument("start_time", "0") or 0)
                top = int(self.get_query_argument("top", "5"))
                wanted = [label.strip() for label in
                          self.get_query_argument("filter", "").split(",") if label.strip()]
                if start < 0 or top < 1:
                    raise ValueError("start_time must be >= 0 and top >= 1")
            except ValueError as error:
                return self.answer(400, {"status": "error", "message": str(error)})
            unknown = sorted(set(wanted) - set(model.classes))
            if unknown:
                return self.answer(400, {"status": "error",
                                         "message": f"unknown label(s) in filter: {unknown}"})
            suffix = Path(upload.get("filename") or "upload.wav").suffix or ".wav"
            handle, path = tempfile.mkstemp(prefix="hover-audio-predict-", suffix=suffix)
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(upload["body"])
                key = f"{path}#t={start:g}" if start else path
                found = model.predict([key], top=top, labels=wanted or None)[0]
            except Exception as error:  # audio we cannot read: the client's fault
                name = upload.get("filename") or "the upload"
                message = str(error).replace(path, name)
                return self.answer(400, {"status": "error", "message": message})
            finally:
                Path(path).unlink(missing_ok=True)
            if not found:
                return self.answer(400, {"status": "error",
                                         "message": "the audio could not be vectorized"})
            self.answer(200, {"status": "ok", "predictions": prediction_items(model, found)})

    class Metadata(Base):
        def get(self):
            self.answer(200, {"id": "hover-audio", "name": name, "type": "audio classifier",
                              "labels": len(model.classes),
                              "vectorizer": repr(model.vectorizer),
                              "dev_accuracy": model.dev_accuracy})

    class Labels(Base):
        def get(self):
            self.answer(200, {"count": len(model.classes), "labels": [
                {"id": number, "name": label} for number, label in enumerate(model.classes)]})

    return tornado.web.Application([(r"/model/predict", Predict), (r"/model/metadata", Metadata),
                                    (r"/model/labels", Labels)])


def serve(model, port: int = 5000, host: str = "127.0.0.1", token: str | None = None,
          name: str = "hover-audio") -> None:
    """Serve ``model`` until interrupted, printing the address (and the token, if any)."""
    import tornado.ioloop

    app = make_app(model, token, name)
    server = app.listen(port, address=host, max_body_size=MAX_UPLOAD)
    query = f"?token={token}" if token else ""
    print(f"hover-audio: model server at http://{host}:{port}/model/predict{query} "
          "(Ctrl+C to stop)", flush=True)
    try:
        tornado.ioloop.IOLoop.current().start()
    except KeyboardInterrupt:
        server.stop()
