#!/usr/bin/env python3
"""Generates a small multi-modal data set for the example pipeline.

Two classes of points in 8 dimensions (Gaussian clouds around two centres), written as the
training and test sets in LIBSVM's sparse text format, plus, for each class, a text card, a
PNG image of its centre and a WAV tone: a data set of several modalities that `aion data add`
sorts by content. Deterministic: the same SEED writes the same bytes.
Usage: gen.py OUT_DIR [N_POINTS]
"""
import os
import random
import struct
import sys
import wave
import zlib

DIM = 8


def png(path, pixels, width, height):
    """A grayscale 8-bit PNG (no library needed: zlib and the chunk layout)."""
    raw = b"".join(b"\x00" + bytes(pixels[y * width:(y + 1) * width]) for y in range(height))

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw, 9)))
        f.write(chunk(b"IEND", b""))


def tone(path, hz, seconds=0.25, rate=8000):
    import math
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        frames = b"".join(
            struct.pack("<h", int(12000 * math.sin(2 * math.pi * hz * i / rate)))
            for i in range(int(seconds * rate)))
        w.writeframes(frames)


def main():
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    rng = random.Random(int(os.environ.get("SEED", "7")))
    os.makedirs(out, exist_ok=True)
    centres = {+1: [rng.uniform(-1, 1) for _ in range(DIM)], -1: [rng.uniform(-1, 1) for _ in range(DIM)]}
    rows = []
    for i in range(n):
        label = +1 if i % 2 == 0 else -1
        x = [c + rng.gauss(0, 0.9) for c in centres[label]]
        rows.append((label, x))
    split = int(n * 0.8)
    for name, part in (("train.svm", rows[:split]), ("test.svm", rows[split:])):
        with open(os.path.join(out, name), "w") as f:
            for label, x in part:
                f.write(f"{label:+d} " + " ".join(f"{j + 1}:{v:.5f}" for j, v in enumerate(x)) + "\n")
    with open(os.path.join(out, "features.csv"), "w") as f:
        f.write("label," + ",".join(f"x{j}" for j in range(DIM)) + "\n")
        for label, x in rows:
            f.write(f"{label}," + ",".join(f"{v:.5f}" for v in x) + "\n")
    for label, c in centres.items():
        tag = "pos" if label > 0 else "neg"
        with open(os.path.join(out, f"class-{tag}.txt"), "w") as f:
            f.write(f"class {label:+d}: centre " + " ".join(f"{v:.3f}" for v in c) + "\n")
        pixels = [max(0, min(255, int(128 + 120 * c[(x + y) % DIM]))) for y in range(16) for x in range(16)]
        png(os.path.join(out, f"class-{tag}.png"), pixels, 16, 16)
        tone(os.path.join(out, f"class-{tag}.wav"), 440 if label > 0 else 330)
    print(f"gen: {n} points ({split} train, {n - split} test) and 6 class files in {out}")


if __name__ == "__main__":
    main()
