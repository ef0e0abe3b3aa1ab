#!/usr/bin/env bash
# The model-lifecycle scenario at scale, through the real programs: a 100,000-file dataset of
# several modalities is registered, one file is corrupted in place (same size, same mtime)
# and `aion data verify` must name it, the dataset is staged and the staged copy verifies,
# and in a pipeline that reads it, changing one file (a new dataset version) reruns exactly
# the stage that reads the dataset and what follows it, not the stage that does not.
# Prints each step's time and writes bench/results/lifecycle.json.
#   bench/lifecycle_100k.sh [FILES]      (default 100000; build/release must be built)
set -euo pipefail
cd "$(dirname "$0")/.."
files=${1:-100000}
bin=$PWD/build/release/bin
work=$(mktemp -d /tmp/aion-lifecycle.XXXXXX)
aiond_pid=""
trap '[ -n "$aiond_pid" ] && kill "$aiond_pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/state"
# One config for the CLI and the daemon: the catalog is the daemon's (root's datasets.db in
# its state directory, where it resolves a pipeline's dataset inputs).
cat > "$work/aion.toml" <<TOML
[daemon]
socket = "$work/aiond.sock"
state_dir = "$work/state"
[datasets]
catalog = "$work/state/datasets.db"
stage_dir = "$work/stage"
[sched]
cgroups = false
cgroup_parent = "aion-lifecycle"
[logs]
kmsg = false
journal = false
TOML
now() { date +%s.%N; }
elapsed() { python3 -c "print(f'{$(now) - $1:.2f}')"; }

echo "lifecycle: writing $files files (text, image, audio, tabular) under $work/data"
python3 - "$work/data" "$files" <<'PY'
import os, struct, sys, zlib
root, n = sys.argv[1], int(sys.argv[2])
png_head = b"\x89PNG\r\n\x1a\n"
for i in range(n):
    d = os.path.join(root, f"shard{i // 1000:03d}")
    if i % 1000 == 0:
        os.makedirs(d, exist_ok=True)
    kind = i % 4
    if kind == 0:
        name, data = f"{i}.txt", f"sample {i}: the quick brown fox {i * 7919 % 1000}\n".encode()
    elif kind == 1:
        name, data = f"{i}.png", png_head + struct.pack(">I", i) + zlib.compress(bytes([i % 251]) * 64)
    elif kind == 2:
        pcm = bytes((i + k) % 256 for k in range(64))
        name = f"{i}.wav"
        data = b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 8000, 1, 8) + b"data" + struct.pack("<I", len(pcm)) + pcm
    else:
        name, data = f"{i}.csv", f"id,x,y\n{i},{i % 13},{i % 7}\n".encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
PY

aion() { "$bin/aion" --config "$work/aion.toml" "$@"; }
t=$(now); aion data add corpus "$work/data" > "$work/add.txt"; add_s=$(elapsed "$t")
echo "lifecycle: registered in ${add_s}s"; tail -n 3 "$work/add.txt"

v=$(( files / 2 / 4 * 4 + 1 ))   # an image in the middle of the tree
victim_rel=shard$(printf %03d $(( v / 1000 )))/$v.png
victim=$work/data/$victim_rel
python3 - "$victim" <<'PY'
import os, sys
p = sys.argv[1]; st = os.stat(p)
with open(p, "r+b") as f:
    f.seek(st.st_size // 2); b = f.read(1); f.seek(st.st_size // 2); f.write(bytes([b[0] ^ 0xFF]))
os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
PY
t=$(now)
if aion --json data verify corpus > "$work/verify.json"; then
  echo "lifecycle: FAIL: verify did not notice the corrupted file" >&2; exit 1
fi
verify_s=$(elapsed "$t")
grep -q "$victim_rel" "$work/verify.json" || { echo "lifecycle: FAIL: verify did not name the file" >&2; cat "$work/verify.json" >&2; exit 1; }
echo "lifecycle: verify named the corrupted file in ${verify_s}s"
# Put the byte back, stage, and verify the staged copy.
python3 - "$victim" <<'PY'
import os, sys
p = sys.argv[1]; st = os.stat(p)
with open(p, "r+b") as f:
    f.seek(st.st_size // 2); b = f.read(1); f.seek(st.st_size // 2); f.write(bytes([b[0] ^ 0xFF]))
os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
PY
t=$(now); aion data stage corpus --to "$work/staged" > /dev/null; stage_s=$(elapsed "$t")
t=$(now); aion data verify corpus --root "$work/staged" > /dev/null; staged_verify_s=$(elapsed "$t")
echo "lifecycle: staged in ${stage_s}s; the staged copy verified in ${staged_verify_s}s"

# A daemon of its own, then a pipeline: 'count' (a checksum of every file) reads the dataset,
# 'tokenizer' does not, 'report' reads what 'count' wrote.
"$bin/aiond" --foreground --config "$work/aion.toml" > "$work/aiond.log" 2>&1 &
aiond_pid=$!
for _ in $(seq 100); do [ -S "$work/aiond.sock" ] && break; sleep 0.1; done
mkdir -p "$work/p/out"
cat > "$work/p/pipeline.toml" <<'TOML'
name = "lifecycle"
[[stage]]
name = "tokenizer"
command = ["sh", "-c", "echo vocab > out/vocab.txt"]
outputs = ["out/vocab.txt"]
[[stage]]
name = "count"
command = ["sh", "-c", "find \"$AION_DATASET_CORPUS\" -type f -exec cksum {} + | sort | cksum > out/count.txt"]
inputs = ["dataset:corpus", "out/vocab.txt"]
outputs = ["out/count.txt"]
depends_on = ["tokenizer"]
[[stage]]
name = "report"
command = ["sh", "-c", "cat out/count.txt > out/report.txt"]
inputs = ["out/count.txt"]
outputs = ["out/report.txt"]
depends_on = ["count"]
TOML
run() { aion --json pipeline run "$work/p/pipeline.toml" --watch; }
states() { python3 -c 'import json,sys; j=json.load(sys.stdin); print(" ".join(s["stage"] + "=" + s["state"] for s in j["stages"]))'; }
t=$(now); run | states > "$work/run1.txt"; run1_s=$(elapsed "$t")
echo "lifecycle: first run (${run1_s}s): $(cat "$work/run1.txt")"
echo "one more line" >> "$work/data/shard000/4.txt"
t=$(now); aion data add corpus "$work/data" > "$work/add2.txt"; readd_s=$(elapsed "$t")
echo "lifecycle: one file changed, version 2 recorded in ${readd_s}s: $(grep "^changes since" "$work/add2.txt" | head -1)"
t=$(now); run | states > "$work/run2.txt"; run2_s=$(elapsed "$t")
echo "lifecycle: second run (${run2_s}s): $(cat "$work/run2.txt")"
expected="tokenizer=skipped count=succeeded report=succeeded"
[ "$(cat "$work/run2.txt")" = "$expected" ] || { echo "lifecycle: FAIL: expected $expected" >&2; exit 1; }

mkdir -p bench/results
python3 - "$files" "$add_s" "$verify_s" "$stage_s" "$staged_verify_s" "$readd_s" "$run1_s" "$run2_s" "$(cat "$work/run2.txt")" <<'PY' > bench/results/lifecycle.json
import json, os, platform, sys
a = sys.argv[1:]
print(json.dumps({"benchmark": "lifecycle_100k", "machine": {"cpus": os.cpu_count(), "kernel": platform.release()},
  "files": int(a[0]), "seconds": {"data_add": float(a[1]), "verify_finds_corruption": float(a[2]), "stage_copy": float(a[3]),
  "verify_staged_copy": float(a[4]), "data_add_new_version": float(a[5]), "pipeline_first_run": float(a[6]),
  "pipeline_after_one_file_changed": float(a[7])}, "second_run_stages": a[8]}, indent=2))
PY
echo "lifecycle: ok; wrote bench/results/lifecycle.json"
