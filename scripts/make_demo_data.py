#!/usr/bin/env python3
"""Generate the synthetic spoken-digit demo dataset shipped with hover_audio.

Each clip is one English digit ("zero".."nine") spoken by espeak-ng with a
random voice / voice variant / speed / pitch, then post-processed with sox
(silence trim, level normalisation, random leading/trailing silence, optional
small-room reverb, resampling to 16 kHz mono), mixed with low-level pink noise
at a random SNR and a random gain, and encoded as 16-bit FLAC (lossless: cheap
to decode, and playable in every current browser).

File names (clip_0001.flac, ...) are assigned in a seeded shuffled order so
they do not reveal the label; labels and generation parameters are written to
manifest.csv.

Requirements: Python >= 3.8 standard library, and the `espeak-ng` and `sox`
binaries (Debian packages espeak-ng and sox).

Usage:
    python scripts/make_demo_data.py [--seed 0] [--out hover_audio/data/digits] [--jobs 2]

The output is deterministic for a given seed (and given espeak-ng/sox/FLAC
versions).
"""

import argparse
import array
import concurrent.futures
import csv
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import wave

DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
VARIANTS_PER_DIGIT = 100
SAMPLE_RATE = 16000

# espeak-ng English voices (built-in formant voices only; MBROLA voices are not used).
VOICES = [
    "en",  # British English (same as en-gb)
    "en-us",
    "en-us-nyc",
    "en-gb-scotland",
    "en-gb-x-rp",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
    "en-029",
]

# espeak-ng voice variants (`espeak-ng --voices=variant`), restricted to
# reasonably intelligible, human-like ones.
VARIANTS = (
    ["m%d" % i for i in range(1, 9)]
    + ["f%d" % i for i in range(1, 6)]
    + ["klatt", "klatt2", "klatt3", "klatt4"]
    + [
        "adam", "Alex", "Andy", "Annie", "aunty", "belinda", "benjamin", "caleb",
        "david", "ed", "edward", "grandma", "grandpa", "john", "linda", "max",
        "michel", "paul", "quincy", "rob", "robert", "steph", "travis", "victor",
    ]
)

SPEED_RANGE = (110, 230)  # words per minute (espeak-ng -s)
PITCH_RANGE = (15, 85)  # espeak-ng -p (0-99)
SNR_RANGE = (20.0, 35.0)  # dB, pink noise relative to speech RMS
GAIN_RANGE = (-4.0, 3.0)  # dB, applied after normalising speech peaks to -6 dBFS
PAD_RANGE = (0.02, 0.25)  # seconds of leading / trailing silence
REVERB_PROB = 0.5
REVERB_RANGE = (10, 40)  # sox reverb "reverberance" (%)
ROOM_SCALE_RANGE = (10, 50)  # sox reverb "room-scale" (%)
FLAC_LEVEL = 8


def plan_clips(seed):
    """Draw all per-clip parameters up front (deterministic for a seed)."""
    rng = random.Random(seed)
    clips = []
    for d in DIGITS:
        # stratify voices so every digit gets every voice about equally often
        voices = [VOICES[i % len(VOICES)] for i in range(VARIANTS_PER_DIGIT)]
        rng.shuffle(voices)
        for v in voices:
            reverb = rng.randint(*REVERB_RANGE) if rng.random() < REVERB_PROB else 0
            clips.append(
                dict(
                    true_label=d,
                    voice=v,
                    variant=rng.choice(VARIANTS),
                    speed_wpm=rng.randint(*SPEED_RANGE),
                    pitch=rng.randint(*PITCH_RANGE),
                    noise_snr_db=round(rng.uniform(*SNR_RANGE), 1),
                    reverb=reverb,
                    room_scale=rng.randint(*ROOM_SCALE_RANGE),
                    gain_db=round(rng.uniform(*GAIN_RANGE), 2),
                    pad_start=round(rng.uniform(*PAD_RANGE), 3),
                    pad_end=round(rng.uniform(*PAD_RANGE), 3),
                )
            )
    order = list(range(len(clips)))
    rng.shuffle(order)
    for num, idx in enumerate(order, start=1):
        clips[idx]["file"] = "clip_%04d.flac" % num
        clips[idx]["noise_seed"] = "%d-%d" % (seed, num)
    return clips


def run(cmd):
    res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if res.returncode != 0:
        raise RuntimeError("command failed (%d): %s\n%s" % (res.returncode, " ".join(cmd), res.stderr))
    return res


def read_wav(path):
    with wave.open(path, "rb") as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1, path
        data = array.array("h", w.readframes(w.getnframes()))
    if sys.byteorder != "little":
        data.byteswap()
    return [s / 32768.0 for s in data], w.getframerate()


def write_wav(path, samples, rate):
    data = array.array("h", (max(-32768, min(32767, int(round(s * 32768.0)))) for s in samples))
    if sys.byteorder != "little":
        data.byteswap()
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(data.tobytes())


def pink_noise(n, rng):
    """Pink-ish noise (Paul Kellet's economy filter), normalised to unit RMS."""
    b0 = b1 = b2 = 0.0
    out = [0.0] * n
    gauss = rng.gauss
    for i in range(n):
        w = gauss(0.0, 1.0)
        b0 = 0.99765 * b0 + w * 0.0990460
        b1 = 0.96300 * b1 + w * 0.2965164
        b2 = 0.57000 * b2 + w * 1.0526913
        out[i] = b0 + b1 + b2 + w * 0.1848
    # remove DC and normalise
    mean = sum(out) / n
    out = [x - mean for x in out]
    rms = math.sqrt(sum(x * x for x in out) / n) or 1.0
    return [x / rms for x in out]


def rms(xs):
    return math.sqrt(sum(x * x for x in xs) / max(1, len(xs)))


def make_clip(clip, out_dir):
    with tempfile.TemporaryDirectory(prefix="hover_digits_") as tmp:
        raw = os.path.join(tmp, "raw.wav")
        speech = os.path.join(tmp, "speech.wav")
        clean = os.path.join(tmp, "clean.wav")
        mixed = os.path.join(tmp, "mixed.wav")

        # 1. synthesise
        run([
            "espeak-ng", "-v", "%s+%s" % (clip["voice"], clip["variant"]),
            "-s", str(clip["speed_wpm"]), "-p", str(clip["pitch"]),
            "-w", raw, clip["true_label"],
        ])
        # 2. trim espeak's own silence, normalise peaks, 16 kHz mono
        run([
            "sox", "-R", "-D", raw, "-b", "16", speech,
            "silence", "1", "0.01", "-50d", "reverse", "silence", "1", "0.01", "-50d", "reverse",
            "norm", "-6", "rate", "-h", str(SAMPLE_RATE), "channels", "1",
        ])
        # 3. random silence padding and optional small-room reverb
        effects = ["pad", str(clip["pad_start"]), str(clip["pad_end"])]
        if clip["reverb"]:
            # reverb [-w] reverberance hf-damping room-scale stereo-depth pre-delay wet-gain
            effects += ["reverb", str(clip["reverb"]), "50", str(clip["room_scale"]), "0", "0", "-4"]
        run(["sox", "-R", "-D", speech, "-b", "16", clean] + effects + ["channels", "1"])

        # 4. gain + pink noise at the requested SNR (relative to the speech RMS)
        sp, _ = read_wav(speech)
        x, rate = read_wav(clean)
        g = 10 ** (clip["gain_db"] / 20.0)
        noise_rms = rms(sp) * g / 10 ** (clip["noise_snr_db"] / 20.0)
        noise = pink_noise(len(x), random.Random(clip["noise_seed"]))
        y = [max(-1.0, min(1.0, g * s + noise_rms * n)) for s, n in zip(x, noise)]
        write_wav(mixed, y, rate)

        # 5. encode
        dst = os.path.join(out_dir, clip["file"])
        run(["sox", "-R", "-D", mixed, "-b", "16", "-C", str(FLAC_LEVEL), dst])
        return clip["file"], round(len(y) / float(rate), 3)


README = """\
# Demo dataset: synthetic spoken digits

{n} short clips of English digits ("zero" .. "nine", {k} clips each). They are fully
synthetic: spoken by the espeak-ng speech synthesizer with varied voices, voice variants,
speeds ({s0}-{s1} wpm) and pitches ({p0}-{p1}), then processed with sox (silence trim,
random padding, small-room reverb on about half, random gain), mixed with pink noise at
{snr0:g}-{snr1:g} dB SNR, and encoded as 16 kHz mono 16-bit FLAC. File names are shuffled and
do not reveal the label; labels and generation parameters are in `manifest.csv`.

Generated by `scripts/make_demo_data.py`; regenerate (deterministic for a seed) with:

    python scripts/make_demo_data.py --seed {seed} --out hover_audio/data/digits
"""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    ap.add_argument("--out", default=os.path.join("hover_audio", "data", "digits"),
                    help="output folder (default hover_audio/data/digits)")
    ap.add_argument("--jobs", type=int, default=2, help="parallel worker processes (default 2)")
    args = ap.parse_args(argv)

    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            ap.error("%s not found on PATH" % tool)

    os.makedirs(args.out, exist_ok=True)
    for name in os.listdir(args.out):
        if name.startswith("clip_") and name.endswith((".ogg", ".flac")):
            os.remove(os.path.join(args.out, name))

    clips = plan_clips(args.seed)
    durations = {}
    with concurrent.futures.ProcessPoolExecutor(max_workers=max(1, args.jobs)) as ex:
        futures = [ex.submit(make_clip, c, args.out) for c in clips]
        for i, fut in enumerate(concurrent.futures.as_completed(futures), start=1):
            name, dur = fut.result()
            durations[name] = dur
            if i % 100 == 0 or i == len(clips):
                print("%d/%d clips" % (i, len(clips)), file=sys.stderr)

    fields = ["file", "true_label", "voice", "variant", "speed_wpm", "pitch",
              "noise_snr_db", "reverb", "duration_s"]
    with open(os.path.join(args.out, "manifest.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for c in sorted(clips, key=lambda c: c["file"]):
            w.writerow(dict(c, duration_s="%.3f" % durations[c["file"]]))

    with open(os.path.join(args.out, "README.md"), "w") as f:
        f.write(README.format(
            n=len(clips), k=VARIANTS_PER_DIGIT, s0=SPEED_RANGE[0], s1=SPEED_RANGE[1],
            p0=PITCH_RANGE[0], p1=PITCH_RANGE[1], snr0=SNR_RANGE[0], snr1=SNR_RANGE[1],
            seed=args.seed,
        ))
    print("wrote %d clips to %s" % (len(clips), args.out), file=sys.stderr)


if __name__ == "__main__":
    main()
