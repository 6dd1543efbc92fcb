"""Watch latency: from a file landing in the inbox to its alerts arriving at a webhook receiver.

Starts a signed-webhook receiver on 127.0.0.1 in this process, runs `auditlake watch` on an
inbox in a subprocess, then drops N Okta files one at a time (written aside, renamed in, at a
random moment of the poll cycle) and times each until the receiver has all of its alerts. Each
file holds `--records` sign-in events with, for one user of its own, three failures (a
correlation alert) and an MFA factor reset (a detection alert). Baseline in the same run: the
cron-style pipeline for the same kind of file, `auditlake ingest` then `auditlake detect`
(fresh processes, started the moment the file lands, no schedule wait counted).

Usage: python benchmarks/watch/run.py [--files 20] [--records 1000] [--out DIR]
Prints a Markdown table (paste it into benchmarks/README.md) and writes results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from auditlake.entry import configure_process

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SECRET = "bench-secret"
START = datetime(2026, 3, 2, 8, tzinfo=UTC)

RULES = """\
title: Okta sign-in failure
id: 7d0c2f5e-5b8a-4b55-9a57-1f1b0f3e2a01
name: bench_okta_failure
status: test
logsource: {product: okta, service: okta}
detection:
  sel:
    eventType: user.session.start
    outcome.result: FAILURE
  condition: sel
level: low
---
title: Okta repeated sign-in failures
id: 7d0c2f5e-5b8a-4b55-9a57-1f1b0f3e2a02
status: test
correlation:
  type: event_count
  rules: [bench_okta_failure]
  group-by: [actor.alternateId]
  timespan: 10m
  condition: {gte: 3}
level: high
---
title: Okta MFA factor reset
id: 7d0c2f5e-5b8a-4b55-9a57-1f1b0f3e2a03
status: test
logsource: {product: okta, service: okta}
detection:
  sel:
    eventType: user.mfa.factor.reset_all
  condition: sel
level: medium
"""
ALERTS_PER_FILE = 2


def okta_event(moment: datetime, user: str, uid: str, event_type: str, result: str) -> str:
    return json.dumps({
        "uuid": uid,
        "published": moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "eventType": event_type,
        "displayMessage": "User login to Okta",
        "severity": "INFO" if result == "SUCCESS" else "WARN",
        "actor": {"id": f"id-{user}", "type": "User", "alternateId": user, "displayName": user},
        "client": {"ipAddress": f"198.51.100.{len(user) % 250}"},
        "outcome": {"result": result},
    })


def write_file(path: Path, number: int, records: int, run: str) -> str:
    """File `number`: `records` events, of which one user's three failures and a factor reset."""
    user = f"user-{run}-{number}@example.com"
    base = START + timedelta(minutes=30 * number)
    lines = []
    for i in range(records - 4):
        who = f"staff-{i % 97}@example.com"
        lines.append(okta_event(base + timedelta(milliseconds=50 * i), who, f"{run}-{number}-{i}",
                                "user.session.start", "SUCCESS"))
    for k in range(3):
        lines.append(okta_event(base + timedelta(minutes=k), user, f"{run}-{number}-fail-{k}",
                                "user.session.start", "FAILURE"))
    lines.append(okta_event(base + timedelta(minutes=4), user, f"{run}-{number}-reset",
                            "user.mfa.factor.reset_all", "SUCCESS"))
    path.write_text("\n".join(lines) + "\n")
    return user


class Receiver:
    """Verifies each request's signature and records when each user's alerts arrived."""

    def __init__(self) -> None:
        self.arrivals: dict[str, list[float]] = defaultdict(list)
        self.bad = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                import hashlib
                import hmac

                body = self.rfile.read(int(self.headers["Content-Length"]))
                now = time.time()
                good = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                ok = hmac.compare_digest(good, self.headers.get("X-Auditlake-Signature", ""))
                with receiver.lock:
                    if not ok:
                        receiver.bad += 1
                    else:
                        for alert in json.loads(body)["alerts"]:
                            receiver.arrivals[str(alert["actor"])].append(now)
                self.send_response(200 if ok else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait_for(self, user: str, timeout: float = 120.0) -> float:
        """When the last of `user`'s alerts arrived."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                times = self.arrivals.get(user, [])
                if len(times) >= ALERTS_PER_FILE:
                    return max(times)
            time.sleep(0.005)
        raise SystemExit(f"alerts for {user} never arrived")


def setup(out: Path, receiver: Receiver, name: str) -> tuple[Path, Path, Path, Path]:
    work = out / name
    shutil.rmtree(work, ignore_errors=True)
    (work / "rules").mkdir(parents=True)
    (work / "rules" / "okta.yml").write_text(RULES)
    config = work / "auditlake.toml"
    config.write_text(f'[[sinks]]\ntype = "webhook"\nurl = "{receiver.url}"\nsecret = "{SECRET}"\n')
    return work, work / "rules", work / "lake", config


def run_watch(out: Path, receiver: Receiver, files: int, records: int, *, poll_s: float, settle_s: float) -> dict:
    """Latencies of `files` files dropped one at a time into a running `auditlake watch`."""
    name = f"watch-poll{poll_s:g}"
    work, rules, lake, config = setup(out, receiver, name)
    inbox, staging = work / "inbox", work / "staging"
    inbox.mkdir()
    staging.mkdir()
    cmd = [sys.executable, "-m", "auditlake", "watch", "--inbox", str(inbox), "--rules", str(rules),
           "--lake", str(lake), "--config", str(config), "--poll-s", str(poll_s),
           "--settle-s", str(settle_s), "--json"]
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None and process.stdout is not None
    while "watching" not in (line := process.stderr.readline()):
        if not line:
            raise SystemExit(f"watch did not start: {process.stdout.read()}")
    reports: list[dict] = []
    stderr, stdout = process.stderr, process.stdout

    def drain_stderr() -> None:
        for _ in stderr:  # keep the pipe flowing; the per-file lines are not needed here
            pass

    def read_reports() -> None:
        reports.extend(json.loads(line) for line in stdout)

    threading.Thread(target=drain_stderr, daemon=True).start()
    threading.Thread(target=read_reports, daemon=True).start()
    latencies = []
    rng = random.Random(7)
    for number in range(files):
        written = staging / f"okta-{number:04d}.jsonl"
        user = write_file(written, number, records, name)
        time.sleep(rng.uniform(0, poll_s))  # land at a random moment of the poll cycle
        os.rename(written, inbox / written.name)
        landed = time.time()
        latencies.append(receiver.wait_for(user) - landed)
    process.terminate()
    process.wait(timeout=30)
    own = [r["latency_s"] for r in reports if r.get("latency_s") is not None]
    return {"case": f"watch --poll-s {poll_s:g} --settle-s {settle_s:g}", "files": files, "records": records,
            "latencies": latencies, "reported": own}


def run_cron_style(out: Path, receiver: Receiver, files: int, records: int) -> dict:
    """Baseline: fresh `ingest` and `detect` processes per file, started when it lands."""
    work, rules, lake, config = setup(out, receiver, "cron-style")
    latencies = []
    for number in range(files):
        path = work / f"okta-{number:04d}.jsonl"
        user = write_file(path, number, records, "cron-style")
        landed = time.time()
        base = [sys.executable, "-m", "auditlake"]
        subprocess.run([*base, "ingest", str(path), "--lake", str(lake), "--workers", "1", "--json"],
                       check=True, capture_output=True)
        subprocess.run([*base, "detect", "--rules", str(rules), "--lake", str(lake), "--config", str(config)],
                       check=True, capture_output=True)
        latencies.append(receiver.wait_for(user) - landed)
    return {"case": "baseline: ingest + detect processes per file", "files": files, "records": records,
            "latencies": latencies, "reported": []}


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> None:
    # Every process measured here, the baselines too, allocates as the `auditlake` command does.
    configure_process()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20, help="files dropped per watch case")
    parser.add_argument("--records", type=int, default=1000, help="events per file")
    parser.add_argument("--baseline-files", type=int, default=5)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "watch")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    receiver = Receiver()
    rows = [
        run_watch(args.out, receiver, args.files, args.records, poll_s=1.0, settle_s=0.5),
        run_watch(args.out, receiver, args.files, args.records, poll_s=0.1, settle_s=0.1),
        run_cron_style(args.out, receiver, args.baseline_files, args.records),
    ]
    if receiver.bad:
        raise SystemExit(f"{receiver.bad} requests had a bad signature")
    (args.out / "results.json").write_text(json.dumps({"cores": os.cpu_count(), "rows": rows}, indent=2))
    print("| case | files | events/file | median s | p95 s | max s | watch's own median s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        own = f"{statistics.median(r['reported']):.2f}" if r["reported"] else "-"
        print(f"| {r['case']} | {r['files']} | {r['records']:,} | {statistics.median(r['latencies']):.2f} | "
              f"{_p95(r['latencies']):.2f} | {max(r['latencies']):.2f} | {own} |")


if __name__ == "__main__":
    main()
