"""Ingest throughput and peak memory for CloudTrail JSON Lines, CloudTrail delivery files,
Windows JSON and a day of the synthetic organisation's Okta, GitHub, Google Cloud and
Kubernetes logs.

Each case writes a synthetic input, then runs `auditlake ingest` in a fresh subprocess and
reads its wall time and peak RSS. In the same run it measures a baseline on the same file:
Polars' multi-threaded `read_ndjson` of the whole input (parse only, no lake), so the result
is a ratio that survives a noisy shared machine. Memory boundedness is shown by ingesting
inputs of two sizes: peak RSS must stay flat while the input grows.

Usage: python benchmarks/ingest/run.py [--records N] [--growth 1,3,9]
       [--cases cloudtrail,deliveries,windows,sources]
       [--out DIR]
Prints a Markdown table (paste it into benchmarks/README.md) and writes results.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from auditlake.entry import configure_process

WEEK_START = datetime(2026, 3, 2, tzinfo=UTC)
HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SAMPLES = REPO.parent / "shared" / "data"


def _moment(i: int, count: int) -> datetime:
    """The i-th of `count` moments spread evenly over a week, in order (as logs arrive)."""
    return WEEK_START + timedelta(seconds=7 * 86400 * i / count)


def cloudtrail_lines(count: int, path: Path) -> None:
    """CloudTrail records shaped like the public samples, with fresh ids and times."""
    events = []
    for line in (SAMPLES / "samples" / "aws_cloudtrail.jsonl").open():
        event = json.loads(line)["event"]
        if "eventTime" in event and "eventName" in event and "userIdentity" in event:
            events.append(event)
    with path.open("w") as out:
        for i in range(count):
            record = dict(events[i % len(events)])
            record["eventID"] = f"{i:08x}-0000-4000-8000-{i * 7919 % 10**12:012d}"
            record["eventTime"] = _moment(i, count).strftime("%Y-%m-%dT%H:%M:%SZ")
            record["sourceIPAddress"] = f"198.51.{i // 256 % 256}.{i % 256}"
            out.write(json.dumps(record, separators=(",", ":")) + "\n")


def windows_lines(count: int, path: Path) -> None:
    """Sysmon/Security events from the SigmaHQ regression data, varied record ids and times."""
    events = []
    for file in sorted((SAMPLES / "sigmahq" / "regression_data").rglob("*.json")):
        decoder, text, pos = json.JSONDecoder(), file.read_text(), 0
        while pos < len(text):
            while pos < len(text) and text[pos].isspace():
                pos += 1
            if pos >= len(text):
                break
            obj, pos = decoder.raw_decode(text, pos)
            events.append(obj)
    with path.open("w") as out:
        for i in range(count):
            record = json.loads(json.dumps(events[i % len(events)]))
            system = record["Event"]["System"]
            system["EventRecordID"] = i + 1
            system["Computer"] = f"ws-{i % 400:04d}.corp.example"
            system["TimeCreated"] = {"#attributes": {"SystemTime": _moment(i, count).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}}
            out.write(json.dumps(record, separators=(",", ":")) + "\n")


DELIVERY_RECORDS = 500
"""Records per CloudTrail delivery file: a trail writes a file every five minutes per region,
of a few hundred records on a busy account."""


def cloudtrail_deliveries(lines: Path, folder: Path) -> None:
    """The records of `lines` as CloudTrail delivers them: gzipped `{"Records": [...]}` files
    on one line, `eventVersion` first."""
    folder.mkdir(parents=True)
    records: list[str] = []
    with lines.open() as source:
        for line in source:
            record = json.loads(line)
            record = {"eventVersion": record.pop("eventVersion", "1.08"), **record}
            records.append(json.dumps(record, separators=(",", ":")))
    for n, start in enumerate(range(0, len(records), DELIVERY_RECORDS)):
        body = '{"Records":[' + ",".join(records[start : start + DELIVERY_RECORDS]) + "]}"
        (folder / f"{n:05d}.json.gz").write_bytes(gzip.compress(body.encode(), compresslevel=6))


PEAK_PROBE = (
    "import resource, runpy, sys\n"
    "sys.argv = ['auditlake', *sys.argv[1:]]\n"
    "try:\n    runpy.run_module('auditlake', run_name='__main__')\n"
    "except SystemExit as e:\n    code = e.code\n"
    "print('PEAK_RSS_KIB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def run_ingest(data: Path, lake: Path, source: str) -> dict[str, float]:
    """Ingest in a fresh process; wall seconds, records/s and that process's peak RSS in MiB."""
    shutil.rmtree(lake, ignore_errors=True)
    cmd = [sys.executable, "-c", PEAK_PROBE, "ingest", str(data), "--lake", str(lake),
           "--source", source, "--json"]
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, check=True, text=True)
    wall = time.perf_counter() - started
    peak_kib = int(done.stderr.rsplit("PEAK_RSS_KIB", 1)[1].split()[0])
    summary = json.loads(done.stdout)
    if summary["added"] != summary["records"]:
        raise SystemExit(f"ingest lost records: {summary}")
    return {"records": summary["records"], "seconds": wall, "per_s": summary["records"] / wall,
            "peak_rss_mib": peak_kib / 1024}


BASELINE_FIELDS = {
    "cloudtrail": ["eventTime", "eventName", "userIdentity"], "windows": ["Event"],
    "okta.system": ["eventType", "published", "actor"], "github.audit": ["action", "actor"],
    "gcp.audit": ["logName", "insertId", "protoPayload"], "k8s.audit": ["auditID", "verb", "user"],
}
SOURCES_SCALE = 22
"""The synthetic organisation's scale for the sources case: a day of it holds from about 41k
(GitHub) to 176k (Kubernetes) records of each of the four sources."""


def baseline_read(data: Path, fields: list[str]) -> dict[str, float]:
    """Polars' own parallel NDJSON parse of the whole file into a few text columns."""
    code = (
        "import polars as pl, sys, time; t=time.perf_counter(); "
        "schema={f: pl.String for f in sys.argv[2:]}; "
        "n=pl.read_ndjson(sys.argv[1], schema=schema).height; "
        "print(n, time.perf_counter()-t)"
    )
    cmd = [sys.executable, "-c", code, str(data), *fields]
    out = subprocess.run(cmd, capture_output=True, check=True, text=True)
    count, seconds = out.stdout.split()
    return {"records": int(count), "seconds": float(seconds), "per_s": int(count) / float(seconds)}


def measure(
    name: str, make: Callable[[int, Path], None], source: str, sizes: list[int], out: Path
) -> list[dict]:
    rows = []
    for size in sizes:
        data = out / f"{name}-{size}.jsonl"
        if not data.exists():
            make(size, data)
        ingest = run_ingest(data, out / f"lake-{name}", source)
        base = baseline_read(data, BASELINE_FIELDS[name])
        rows.append({
            "case": name, "records": size, "input_mib": data.stat().st_size / 2**20,
            "ingest_per_s": ingest["per_s"], "peak_rss_mib": ingest["peak_rss_mib"],
            "baseline_per_s": base["per_s"], "ratio_to_baseline": ingest["per_s"] / base["per_s"],
        })
        print(f"  {name} {size:,}: {ingest['per_s']:,.0f} rec/s, peak {ingest['peak_rss_mib']:.0f} MiB", file=sys.stderr)
    return rows


def measure_deliveries(sizes: list[int], out: Path) -> list[dict]:
    """The CloudTrail case's records in delivery files; the baseline reads their JSON Lines."""
    rows = []
    for size in sizes:
        lines = out / f"cloudtrail-{size}.jsonl"
        if not lines.exists():
            cloudtrail_lines(size, lines)
        folder = out / f"cloudtrail-deliveries-{size}"
        if not folder.exists():
            cloudtrail_deliveries(lines, folder)
        ingest = run_ingest(folder, out / "lake-cloudtrail-deliveries", "aws.cloudtrail")
        base = baseline_read(lines, BASELINE_FIELDS["cloudtrail"])
        mib = sum(f.stat().st_size for f in folder.iterdir()) / 2**20
        rows.append({
            "case": f"cloudtrail delivery files ({DELIVERY_RECORDS} records, gzip)", "records": size,
            "input_mib": mib, "ingest_per_s": ingest["per_s"], "peak_rss_mib": ingest["peak_rss_mib"],
            "baseline_per_s": base["per_s"], "ratio_to_baseline": ingest["per_s"] / base["per_s"],
        })
        print(f"  deliveries {size:,}: {ingest['per_s']:,.0f} rec/s, peak {ingest['peak_rss_mib']:.0f} MiB", file=sys.stderr)
    return rows


def measure_sources(out: Path) -> list[dict]:
    """One day of each per-record JSON source of the synthetic organisation (`auditlake.synth`),
    each ingested on its own."""
    from auditlake.synth.generate import generate

    folder = out / f"synth-{SOURCES_SCALE}"
    names = [name for name in BASELINE_FIELDS if "." in name]
    if not (folder / "manifest.json").exists():
        shutil.rmtree(folder, ignore_errors=True)
        generate(folder, days=1, scale=SOURCES_SCALE, sources=names, workers=os.cpu_count() or 1)
    rows = []
    for name in names:
        data = next((folder / name).glob("*.jsonl"))
        ingest = run_ingest(data, out / "lake-sources", name)
        base = baseline_read(data, BASELINE_FIELDS[name])
        rows.append({
            "case": f"{name} (a synthetic day)", "records": int(ingest["records"]),
            "input_mib": data.stat().st_size / 2**20, "ingest_per_s": ingest["per_s"],
            "peak_rss_mib": ingest["peak_rss_mib"], "baseline_per_s": base["per_s"],
            "ratio_to_baseline": ingest["per_s"] / base["per_s"],
        })
        print(f"  {name}: {ingest['per_s']:,.0f} rec/s, peak {ingest['peak_rss_mib']:.0f} MiB", file=sys.stderr)
    return rows


def main() -> None:
    # Every process measured here, the baselines too, allocates as the `auditlake` command does.
    configure_process()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000, help="smallest input, in records")
    parser.add_argument("--growth", type=str, default="1,3,9",
                        help="input sizes as multiples of --records (peak RSS must stay flat)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "ingest")
    parser.add_argument("--cases", type=str, default="cloudtrail,deliveries,windows,sources",
                        help="which cases to run, comma-separated (to iterate on one faster)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    growth = [int(g) for g in args.growth.split(",")]
    cases = set(args.cases.split(","))
    rows = []
    if "cloudtrail" in cases:
        sizes = [args.records * g for g in growth]
        rows += measure("cloudtrail", cloudtrail_lines, "aws.cloudtrail", sizes, args.out)
    if "deliveries" in cases:
        rows += measure_deliveries([args.records * growth[min(1, len(growth) - 1)]], args.out)
    if "windows" in cases:
        sizes = [args.records * g // 2 for g in growth[:2]]
        rows += measure("windows", windows_lines, "windows.eventlog", sizes, args.out)
    if "sources" in cases:
        rows += measure_sources(args.out)
    (args.out / "results.json").write_text(json.dumps({"cores": os.cpu_count(), "rows": rows}, indent=2))
    print("| case | records | input MiB | ingest rec/s | peak RSS MiB | polars read_ndjson rec/s | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['case']} | {r['records']:,} | {r['input_mib']:.0f} | {r['ingest_per_s']:,.0f} | "
              f"{r['peak_rss_mib']:.0f} | {r['baseline_per_s']:,.0f} | {r['ratio_to_baseline']:.2f} |")


if __name__ == "__main__":
    main()
