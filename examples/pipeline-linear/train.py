#!/usr/bin/env python3
"""Trains the example's linear classifier with LIBLINEAR (Debian's liblinear-tools).

Model selection first: 5-fold cross-validation of each regularisation cost C in a grid, one
step per C, each result written to the checkpoint directory as it is known. A retried run
(aion sets AION_RESUME_FROM to the newest checkpoint) skips the steps done. Then the final
model is trained on all the training data with the best C.
Usage: train.py TRAIN_SET CHECKPOINT_DIR MODEL_OUT
Environment: STEP_SECONDS (pause after each step, so that a test can interrupt one; default 0).
"""
import json
import os
import re
import subprocess
import sys
import time

GRID = [0.001, 0.01, 0.1, 1.0, 10.0, 100.0]


def main():
    train, ckpt, model = sys.argv[1], sys.argv[2], sys.argv[3]
    os.makedirs(ckpt, exist_ok=True)
    pause = float(os.environ.get("STEP_SECONDS", "0"))
    done = {}
    resume = os.environ.get("AION_RESUME_FROM", "")
    if resume and os.path.isfile(resume):
        with open(resume) as f:
            done = json.load(f)["scores"]
        print(f"train: resuming from {os.path.basename(resume)} with {len(done)} of {len(GRID)} steps done")
    for step, c in enumerate(GRID):
        key = repr(c)
        if key in done:
            continue
        out = subprocess.run(["liblinear-train", "-q", "-s", "2", "-v", "5", "-c", str(c), train],
                             check=True, capture_output=True, text=True).stdout
        m = re.search(r"Cross Validation Accuracy = ([0-9.]+)%", out)
        if not m:
            sys.exit(f"train: liblinear-train printed no accuracy: {out!r}")
        done[key] = float(m.group(1))
        tmp = os.path.join(ckpt, f".step-{step:02d}.json")
        with open(tmp, "w") as f:
            json.dump({"step": step, "scores": done}, f)
        os.replace(tmp, os.path.join(ckpt, f"step-{step:02d}.json"))
        print(f"train: step {step + 1}/{len(GRID)}: C={c} cross-validation accuracy {done[key]:.2f}%", flush=True)
        time.sleep(pause)
    best = max(GRID, key=lambda c: (done[repr(c)], -c))
    subprocess.run(["liblinear-train", "-q", "-s", "2", "-c", str(best), train, model], check=True)
    print(f"train: model with C={best} ({done[repr(best)]:.2f}% in cross-validation) written to {model}")


if __name__ == "__main__":
    main()
