#!/usr/bin/env python3
"""Evaluates the example's model on the held-out test set with liblinear-predict and writes
the figures as JSON; fails (exit 1) below the accuracy floor, so that a bad model is never
deployed.
Usage: evaluate.py TEST_SET MODEL METRICS_OUT [MIN_ACCURACY]
"""
import json
import re
import subprocess
import sys
import tempfile


def main():
    test, model, out = sys.argv[1], sys.argv[2], sys.argv[3]
    floor = float(sys.argv[4]) if len(sys.argv) > 4 else 70.0
    with tempfile.NamedTemporaryFile() as pred:
        text = subprocess.run(["liblinear-predict", test, model, pred.name], check=True,
                              capture_output=True, text=True).stdout
    m = re.search(r"Accuracy = ([0-9.]+)% \((\d+)/(\d+)\)", text)
    if not m:
        sys.exit(f"evaluate: liblinear-predict printed no accuracy: {text!r}")
    acc = float(m.group(1))
    with open(out, "w") as f:
        json.dump({"accuracy_percent": acc, "correct": int(m.group(2)), "total": int(m.group(3))}, f)
    print(f"evaluate: accuracy {acc:.2f}% on {m.group(3)} held-out points (floor {floor}%)")
    if acc < floor:
        sys.exit(1)


if __name__ == "__main__":
    main()
