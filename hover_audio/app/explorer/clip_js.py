"""The clip panel's JavaScript: the playhead follows the shared audio element; a click on
the waveform or spectrogram places it.

The playhead follows the audio only while the audio holds the shown clip: the server
writes the ``served`` number of that clip's answer into the panel's state (``-1`` when
the audio holds another clip, or the shown clip's range changed since), so playing it
again with Space, seeking or looping moves the playhead too; another clip's sound never
does.
"""
from __future__ import annotations

from .playback_js import AUDIO_JS

SETTINGS_JS = AUDIO_JS + """
// a new clip keeps the chosen speed (defaultPlaybackRate survives a new src) and loop
audio.defaultPlaybackRate = audio.playbackRate = parseFloat(speed.value);
audio.preservesPitch = true;
audio.loop = loop.active;
"""

# run on every answer: the element's listeners are added once per page, and read the
# panel's models from window.hoverAudioClip (the newest document's, after a reload)
FOLLOW_JS = SETTINGS_JS + """
window.hoverAudioClip = {state: info, channel: channel, playhead: playhead};
if (!audio.hoverAudioFollowed) {
    audio.hoverAudioFollowed = true;
    const follow = () => {
        const clip = window.hoverAudioClip;
        if (!clip) { return; }
        const data = clip.state.data;
        // the audio holds the shown clip's answer (not the silence that unlocks sound)
        if (data.served[0] !== clip.channel.served || !audio.src
            || audio.src.length !== clip.channel.payload.length + 22) { return; }
        const at = data.start[0] + audio.currentTime;
        if (clip.playhead.location !== at) { clip.playhead.location = at; }
    };
    const step = () => {
        follow();
        if (!audio.paused && !audio.ended) { requestAnimationFrame(step); }
    };
    audio.addEventListener("play", () => requestAnimationFrame(step));
    for (const name of ["playing", "timeupdate", "seeked", "pause", "ended"]) {
        audio.addEventListener(name, follow);
    }
}
"""

# a click on the waveform or spectrogram: the playhead goes there (and the audio too,
# when it holds the shown clip and the click is inside its range)
PLACE_JS = AUDIO_JS + """
const data = info.data;
if (data.row[0] < 0) { return; }
const at = cb_obj.x;
playhead.location = at;
if (data.served[0] === channel.served && audio.src && at >= data.start[0] && at <= data.end[0]) {
    audio.currentTime = at - data.start[0];
}
"""
