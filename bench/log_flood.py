#!/usr/bin/env python3
"""A local user floods the journal with unique lines while others hammer the API.

Starts the built aiond (build/release/bin/aiond) on a private state directory, with a host
root whose journal directory systemd-journal-remote fills, batch by batch, with records as
`logger` makes them (_TRANSPORT=syslog, a user's _UID, unique random words per line). While
the flood goes on, 8 clients loop on GET /v1/doctor (the slowest viewer route) and one client
loops on GET /v1/status. Reports aiond's peak and final resident memory, its state directory's
size, the templates kept, and the status latency (p50/p99/max), and writes
bench/results/log_flood.json.

  bench/log_flood.py                    1,000,000 lines in batches of 100,000
  bench/log_flood.py --lines 200000     a shorter run
Needs /lib/systemd/systemd-journal-remote (Debian package systemd-journal-remote).
"""
import argparse
import http.client
import json
import multiprocessing as mp
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
JOURNAL_REMOTE = "/lib/systemd/systemd-journal-remote"
BOOT_ID = "0123456789abcdef0123456789abcdef"


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 30):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def get(conn: UnixConnection, path: str) -> tuple[int, bytes]:
    conn.request("GET", path)
    r = conn.getresponse()
    return r.status, r.read()


def hammer(sock: str, stop, results) -> None:
    c, calls, errors = UnixConnection(sock), 0, []
    while not stop.is_set():
        try:
            st, _ = get(c, "/v1/doctor")
            calls += 1
            if st != 200:
                errors.append(f"doctor {st}")
        except OSError as e:
            errors.append(f"doctor {e}")
            c = UnixConnection(sock)
    results.put(("doctor", calls, errors[:10]))


def status_loop(sock: str, stop, results) -> None:
    c, ms, errors = UnixConnection(sock), [], []
    while not stop.is_set():
        t = time.perf_counter()
        try:
            st, _ = get(c, "/v1/status")
            if st == 200:
                ms.append((time.perf_counter() - t) * 1000)
            else:
                errors.append(f"status {st}")
        except OSError as e:
            errors.append(f"status {e}")
            c = UnixConnection(sock)
        time.sleep(0.005)
    results.put(("status", ms, errors[:10]))


def rss_kib(pid: int) -> tuple[int, int, int]:
    """(VmRSS, VmHWM, RssAnon) of pid in KiB. RSS counts the journal files sd-journal maps
    (file pages the kernel may drop); RssAnon is the memory aiond itself holds."""
    rss = hwm = anon = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
            elif line.startswith("RssAnon:"):
                anon = int(line.split()[1])
    return rss, hwm, anon


def dir_bytes(path: Path) -> int:
    total = 0
    for p in path.rglob("*"):
        if p.is_file() and not p.is_symlink():
            total += p.stat().st_size
    return total


def words(rng: random.Random) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return " ".join("".join(rng.choice(letters) for _ in range(rng.randint(3, 9)))
                    for _ in range(rng.randint(4, 12)))


def write_batch(path: Path, start: int, count: int, rng: random.Random, t0_us: int) -> None:
    with open(path, "w") as out:
        for i in range(start, start + count):
            mono = 1000 * (i + 1)
            out.write(f"__REALTIME_TIMESTAMP={t0_us + mono}\n__MONOTONIC_TIMESTAMP={mono}\n"
                      f"_BOOT_ID={BOOT_ID}\n_HOSTNAME=node\n_TRANSPORT=syslog\n_UID=1000\n"
                      f"_GID=1000\n_PID={4000 + i % 1000}\nSYSLOG_IDENTIFIER=logger\n"
                      f"PRIORITY=5\nMESSAGE={words(rng)} {i}\n\n")


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    v = sorted(values)
    return v[min(len(v) - 1, int(p * (len(v) - 1)))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=100_000)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--build", default="release")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "log_flood.json"))
    args = ap.parse_args()
    aiond = ROOT / "build" / args.build / "bin" / "aiond"
    if not aiond.exists():
        sys.exit(f"log_flood: {aiond} is not built (cmake --build --preset {args.build})")
    if not os.path.exists(JOURNAL_REMOTE):
        sys.exit(f"log_flood: {JOURNAL_REMOTE} is missing (apt install systemd-journal-remote)")

    work = Path(tempfile.mkdtemp(prefix="aion-log-flood-"))
    os.chmod(work, 0o755)
    host = work / "root"
    shutil.copytree(ROOT / "tests/fixtures/hw/dgx-a100/root", host, symlinks=True)
    (host / "dev").mkdir(exist_ok=True)
    (host / "dev/kmsg").touch()
    journal = host / "var/log/journal"
    journal.mkdir(parents=True, exist_ok=True)
    # A journal as journald keeps it: one file, already holding a record when aiond starts;
    # the flood is appended to it.
    system_journal = journal / "system.journal"
    first = work / "first.export"
    t0_us = int(time.time() * 1e6) - 2 * args.lines * 1000
    write_batch(first, 0, 1, random.Random(0), t0_us)
    subprocess.run([JOURNAL_REMOTE, "-o", str(system_journal), str(first)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state, sock, config = work / "state", work / "aiond.sock", work / "aion.toml"
    config.write_text("[sched]\ncgroups = false\n[logs]\npoll_interval_ms = 50\n")
    env = dict(os.environ, AION_DATA_DIR=str(ROOT / "data"))
    log = open(work / "aiond.log", "w")
    daemon = subprocess.Popen([str(aiond), "--foreground", "--state-dir", str(state),
                               "--socket", str(sock), "--config", str(config),
                               "--host-root", str(host)], stdout=log, stderr=log, env=env)
    result = {"benchmark": "log_flood", "lines": args.lines, "clients": args.clients,
              "slow_route": "/v1/doctor", "build": args.build}
    try:
        deadline = time.monotonic() + 60
        while not sock.exists():
            if daemon.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"log_flood: aiond did not start; see {work / 'aiond.log'}")
            time.sleep(0.1)
        time.sleep(0.5)

        stop = threading.Event()
        # The clients are processes, so that no interpreter lock stands between the status
        # client and its socket.
        mp_stop = mp.Event()
        results = mp.Queue()
        clients = [mp.Process(target=hammer, args=(str(sock), mp_stop, results))
                   for _ in range(args.clients)]
        clients.append(mp.Process(target=status_loop, args=(str(sock), mp_stop, results)))
        for p in clients:
            p.start()

        peak = [0, 0]

        def sampler():
            while not stop.is_set():
                try:
                    rss, _, anon = rss_kib(daemon.pid)
                    peak[0], peak[1] = max(peak[0], rss), max(peak[1], anon)
                except OSError:
                    pass
                time.sleep(0.2)

        sampling = threading.Thread(target=sampler)
        sampling.start()

        rss_start = rss_kib(daemon.pid)[0]
        rng = random.Random(1)
        t_flood = time.monotonic()
        written = 0
        while written < args.lines:
            count = min(args.batch, args.lines - written)
            exp = work / "batch.export"
            write_batch(exp, 1 + written, count, rng, t0_us)
            r = subprocess.run([JOURNAL_REMOTE, "-o", str(system_journal), str(exp)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if r.returncode != 0:
                sys.exit(f"log_flood: journal-remote failed: {r.stdout[-2000:]}")
            written += count
            rss, _, anon = rss_kib(daemon.pid)
            print(f"log_flood: {written} lines in the journal, aiond RSS {rss / 1024:.1f} MiB "
                  f"(anonymous {anon / 1024:.1f} MiB)", flush=True)
        exp.unlink()

        # Until aiond has read them all (or stops making progress for a minute).
        c = UnixConnection(str(sock))
        lines_read, templates, last, last_change = 0, 0, -1, time.monotonic()
        while True:
            st, body = get(c, "/v1/logs/templates?limit=1")
            stats = json.loads(body)["stats"]
            lines_read, templates = stats["lines"], stats["templates"]
            if lines_read >= args.lines:
                break
            if lines_read != last:
                last, last_change = lines_read, time.monotonic()
            elif time.monotonic() - last_change > 60:
                break
            time.sleep(0.5)
        ingest_s = time.monotonic() - t_flood
        time.sleep(2)  # a state save after the last line
        stop.set()
        mp_stop.set()
        status_ms: list[float] = []
        doctor_calls, errors = 0, []
        for _ in clients:
            kind, values, errs = results.get(timeout=60)
            errors += errs
            if kind == "status":
                status_ms = values
            else:
                doctor_calls += values
        sampling.join()
        for p in clients:
            p.join()
        rss_end, hwm, anon_end = rss_kib(daemon.pid)
        state_bytes = dir_bytes(state)
        journal_bytes = dir_bytes(journal)
        result.update({
            "lines_read": lines_read, "templates": templates,
            "flood_and_ingest_s": round(ingest_s, 1),
            "rss_start_mib": round(rss_start / 1024, 1),
            "rss_peak_mib": round(max(peak[0], hwm) / 1024, 1),
            "rss_end_mib": round(rss_end / 1024, 1),
            "anon_peak_mib": round(peak[1] / 1024, 1),
            "anon_end_mib": round(anon_end / 1024, 1),
            "state_dir_mib": round(state_bytes / 2**20, 2),
            "journal_mib": round(journal_bytes / 2**20, 1),
            "status_requests": len(status_ms),
            "status_p50_ms": round(percentile(status_ms, 0.5), 2),
            "status_p99_ms": round(percentile(status_ms, 0.99), 2),
            "status_max_ms": round(max(status_ms, default=0), 2),
            "doctor_calls": doctor_calls, "errors": len(errors),
            "first_error": errors[0] if errors else None,
        })
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
        log.close()
    for k, v in result.items():
        print(f"  {k:20} {v}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"log_flood: wrote {args.out}")
    shutil.rmtree(work, ignore_errors=True)
    ok = result["lines_read"] >= args.lines and result["errors"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
