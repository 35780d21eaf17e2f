"""A page whose server went away says so, and reloads itself when the server is back.

Bokeh's page, when its websocket closes, tries to reconnect; to a restarted server its
document is unknown (``UnknownReferenceError``), and the tab stays on "Reconnecting",
its buttons doing nothing. :func:`watch_connection` makes the document's
``connection_lost`` event show a banner (every label the server acknowledged is saved)
and poll the page's own address; as soon as it answers, the page reloads into a new
session of the same workspace.
"""
from __future__ import annotations

POLL_MS = 1000
RELOAD_WHEN_BACK_JS = """
if (window.hoverAudioWaiting) { return; }
window.hoverAudioWaiting = true;
const banner = document.createElement("div");
banner.className = "hover-audio-reconnect";
Object.assign(banner.style, {position: "fixed", top: "0", left: "0", right: "0",
    zIndex: "2000", background: "#fff3cd", borderBottom: "1px solid #d4a72c",
    padding: "8px 12px", font: "14px sans-serif"});
banner.textContent = "The annotator's server stopped. Every label it acknowledged is " +
    "saved; this page reloads when the server is back.";
document.body.appendChild(banner);
const address = window.location.href;
const poll = () => fetch(address, {cache: "no-store"})
    .then((answer) => { if (answer.ok) { window.location.reload(); }
                        else { setTimeout(poll, wait); } })
    .catch(() => setTimeout(poll, wait));
setTimeout(poll, wait);
"""


def watch_connection(doc) -> None:
    """Have ``doc``'s page reload itself once its server answers again after a loss."""
    from bokeh.models import CustomJS

    doc.js_on_event("connection_lost", CustomJS(args=dict(wait=POLL_MS),
                                                code=RELOAD_WHEN_BACK_JS))
