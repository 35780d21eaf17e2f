"""Playback in the page: one shared audio element, fed over the document's own connection.

The page asks for a *row* (never a path) by setting :class:`AudioChannel.request`;
the server answers with that row's clip as base64 WAV in ``payload``. This works
wherever the document lives: ``hover-audio serve``, ``bokeh serve``, an embedded
``Server({'/app': handle})`` with no extra routes, and a notebook.
"""
from __future__ import annotations

from bokeh.core.properties import Int, String
from bokeh.model import DataModel
from bokeh.models import CustomJS

# 10 ms of silence: played inside the "enable sound" click so the browser allows
# later playback started by hover (autoplay rules need one user gesture)
SILENT_WAV = ("UklGRkQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YSAAAAAAAAAAAAAAAAAAAAAAAAAA"
              "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")


class AudioChannel(DataModel):
    """The page <-> server link for playback and keyboard commands."""

    request = Int(-1, help="row the page wants to hear")
    ticket = Int(0, help="incremented with every request, so a repeat is a new request")
    answered = Int(-1, help="row of the current payload")
    payload = String("", help="base64 WAV of the answered row")
    served = Int(0, help="incremented with every answer")
    error = String("", help="why the last request failed")
    command = String("", help="keyboard command: 'undo:<n>', 'redo:<n>', 'label:<k>:<n>', "
                            "'prev:<n>', 'next:<n>'")
    focus = Int(-1, help="row the clip panel shows (set by a tap or a table row)")


# JavaScript shared by the callbacks: the page's single audio element
AUDIO_JS = """
const audio = window.hoverAudio || (window.hoverAudio = new Audio());
"""

REQUEST_JS = """
function request(row) {
    channel.request = row;
    channel.ticket = channel.ticket + 1;
}
"""


def play_answer(channel: AudioChannel, source, playing, volume, status) -> CustomJS:
    """Play each answer in the shared element and ring the point being played."""
    return CustomJS(args=dict(channel=channel, source=source, playing=playing, volume=volume,
                              status=status), code=AUDIO_JS + """
if (!channel.payload) { return; }
audio.pause();
audio.src = "data:audio/wav;base64," + channel.payload;
audio.volume = volume.value;
const row = channel.answered;
const data = source.data;
playing.data = {x: [data.x[row]], y: [data.y[row]]};
window.hoverAudioPlayed = (window.hoverAudioPlayed || []).concat([row]);
audio.play().catch((error) => {
    status.text = "Click 'Enable sound' first: the browser blocks sound before a click.";
});
""")


NEAREST_JS = """
function nearest(x, y) {
    const data = source.data;
    const xr = plot.x_range, yr = plot.y_range;
    const fx = plot.inner_width / (xr.end - xr.start);
    const fy = plot.inner_height / (yr.end - yr.start);
    let best = -1, bestDistance = 100;  // within 10 px
    for (let i = 0; i < data.x.length; i++) {
        const renderer = renderers[data.subset[i]];
        if (renderer && !renderer.visible) { continue; }
        if (!(data.alpha[i] > 0)) { continue; }
        const dx = (data.x[i] - x) * fx, dy = (data.y[i] - y) * fy;
        const distance = dx * dx + dy * dy;
        if (distance < bestDistance) { bestDistance = distance; best = i; }
    }
    return best;
}
"""


def hover_request(channel: AudioChannel, toggle, source, plot, renderers: dict,
                  delay_ms: int = 40) -> CustomJS:
    """On a mouse pause over a point, ask for it (if hover-play is on); debounced.

    A pause is ``delay_ms`` without a pointer move (a moving pointer reports every
    ~16 ms), so crossing points plays nothing and resting on one plays it at once.
    """
    return CustomJS(args=dict(channel=channel, toggle=toggle, source=source, plot=plot,
                              renderers=renderers), code=REQUEST_JS + NEAREST_JS + f"""
if (!toggle.active.length) {{ return; }}
const x = cb_obj.x, y = cb_obj.y;
clearTimeout(window.hoverAudioTimer);
window.hoverAudioTimer = setTimeout(() => {{
    const row = nearest(x, y);
    if (row < 0 || row === window.hoverAudioRow) {{ return; }}
    window.hoverAudioRow = row;
    request(row);
}}, {delay_ms});
""")


def tap_request(channel: AudioChannel, source, plot, renderers: dict) -> CustomJS:
    """Play the visible point nearest to a tap (always, even if it just played)."""
    return CustomJS(args=dict(channel=channel, source=source, plot=plot, renderers=renderers),
                    code=REQUEST_JS + NEAREST_JS + """
const row = nearest(cb_obj.x, cb_obj.y);
if (row >= 0) { window.hoverAudioRow = row; request(row); channel.focus = row; }
""")


def unlock_sound(button) -> CustomJS:
    """Play silence inside the click so later hover playback is allowed."""
    return CustomJS(args=dict(button=button), code=AUDIO_JS + f"""
audio.src = "data:audio/wav;base64,{SILENT_WAV}";
audio.play().then(() => {{
    window.hoverAudioUnlocked = true;
    button.label = "Sound on";
    button.button_type = "success";
}}).catch(() => {{ button.label = "Sound blocked: click again"; }});
""")


def set_volume(slider) -> CustomJS:
    return CustomJS(args=dict(slider=slider), code=AUDIO_JS + "audio.volume = slider.value;")


def keyboard(channel: AudioChannel) -> CustomJS:
    """Ctrl+Z / Ctrl+Y (Cmd on macOS) undo and redo; keys 1-9 apply label buttons; space
    plays or pauses; Left/Right go to the previous/next row of the selection. Keys typed
    into a text field are left alone."""
    return CustomJS(args=dict(channel=channel), code="""
window.hoverAudioChannel = channel;
if (window.hoverAudioKeys) { return; }
window.hoverAudioKeys = true;
let count = 0;
document.addEventListener("keydown", (event) => {
    const target = event.composedPath()[0];
    const tag = target && target.tagName ? target.tagName.toUpperCase() : "";
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable)) {
        return;
    }
    const key = event.key;
    const ctrl = event.ctrlKey || event.metaKey;
    let command = null;
    if (ctrl && (key === "z" || key === "Z") && !event.shiftKey) { command = "undo"; }
    else if (ctrl && (key === "y" || key === "Y" || ((key === "z" || key === "Z") && event.shiftKey))) {
        command = "redo";
    } else if (!ctrl && !event.altKey && key >= "1" && key <= "9") { command = "label:" + key; }
    else if (!ctrl && !event.altKey && key === " ") {
        event.preventDefault();
        const audio = window.hoverAudio;
        if (audio && audio.src) { if (audio.paused) { audio.play(); } else { audio.pause(); } }
        return;
    } else if (!ctrl && !event.altKey && key === "ArrowLeft") { command = "prev"; }
    else if (!ctrl && !event.altKey && key === "ArrowRight") { command = "next"; }
    if (command) {
        event.preventDefault();
        count += 1;
        window.hoverAudioChannel.command = command + ":" + count + ":" + Date.now();
    }
});
""")
