"""Detection throughput and peak memory: SigmaHQ rules over a Windows lake and a cloud lake.

Two cases, each a lake under `benchmarks/out/detect/` and a rule folder:

- **windows**: every SigmaHQ rule for `product: windows` (`rules/windows`,
  `rules-emerging-threats`, `rules-threat-hunting`) over Windows events grown from SigmaHQ's
  regression samples (`windows_events.py`: mostly benign variants, some near misses, a few
  attacks), written as evtx_dump-style JSON Lines and ingested with `auditlake ingest`;
- **cloud**: every SigmaHQ rule whose logsource routes to CloudTrail, GCP audit, Okta, GitHub
  or Kubernetes audit, plus the repository's `rules/`, over the synthetic organisation's
  week of those sources (`auditlake.synth.generate.generate`).

auditlake is measured through its entry point, `auditlake detect --since --until --rules
--lake`, in a fresh process that times rule compilation and detection separately and reports
its own peak RSS. In the same invocation, on the same lake, two baselines:

- the **scan floor** (`scan_floor.py`): reading just the columns the engine read;
- **SQLite** (`sqlite_baseline.py`): pySigma's SQLite backend over the events loaded into an
  in-memory SQLite table, Zircolite's approach, on a uniform sample of the events.

Inputs and lakes are kept and reused (`--fresh` rebuilds them). A full run: `python
benchmarks/detect/run.py`; a smoke run: `--events 50000 --scale 0.25 --sqlite-windows-events 5000
--sqlite-cloud-events 20000`.
Prints Markdown tables (paste them into benchmarks/README.md) and writes results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from auditlake.detection.logsources import route
from auditlake.entry import configure_process

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SIGMAHQ = REPO.parent / "shared" / "data" / "sigmahq"
SIGMAHQ_DIRS = ("rules", "rules-emerging-threats", "rules-threat-hunting", "rules-compliance",
                "rules-placeholder")
WINDOWS_RULE_DIRS = ("rules/windows", "rules-emerging-threats", "rules-threat-hunting")
WINDOWS_SOURCE = "windows.eventlog"
CLOUD_SOURCES = ("aws.cloudtrail", "okta.system", "github.audit", "gcp.audit", "k8s.audit")
SINCE, UNTIL = "2026-03-02", "2026-03-09"
"""The week both generators write (the synthetic organisation's default start is this Monday)."""

TARGETS = {"sqlite_ratio": 20.0, "floor_ratio": 3.0, "windows_per_s": 250_000, "peak_rss_mib": 2048}

PROBE = r"""
import json, os, resource, runpy, sys, time
began = time.perf_counter()
import auditlake.cli_detect as cli_detect
import auditlake.detection.alert_store as alert_store
import auditlake.detection.engine as engine
report = {"import_s": time.perf_counter() - began, "compile_s": 0.0, "detect_s": 0.0, "columns": {},
          "package": os.path.dirname(engine.__file__)}

def timed(name, function):
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            result = function(*args, **kwargs)
        finally:
            report[name] += time.perf_counter() - started
        if name == "compile_s":
            report["rules"] = len(result.rules)
            report["correlations"] = len(result.correlations)
            report["failures"] = len(result.failures)
        else:
            report["events"] = result.events_scanned
            report["alerts"] = result.new_alerts
            report["rules_run"] = result.rules
        return result
    return wrapper

def recording(function):
    def wrapper(rules, schema, source, *args, **kwargs):
        columns = function(rules, schema, source, *args, **kwargs)
        seen = report["columns"].setdefault(source, [])
        seen += [c for c in columns if c not in seen]
        return columns
    return wrapper

def phase(label, function):
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            report["phases"][label] = report["phases"].get(label, 0.0) + time.perf_counter() - started
    return wrapper

# Internal steps timed when the engine has them (names change as it evolves; absent ones are
# skipped). Batches evaluated include rule evaluation; a batch may be read in a thread while the
# one before is evaluated, and alerts are built (and stored) in a thread that overlaps the next
# batch, so the phases add up to more than the detection.
report["phases"] = {}
for owner, name, label in ((engine, "_read_batch", "batches read"),
                           (engine, "_source_matches", "batches evaluated"),
                           (engine, "evaluate_candidates", "rule evaluation"),
                           (engine, "_store_matches", "alerts built and stored"),
                           (alert_store.AlertStore, "_write", "alert files written"),
                           (engine, "_correlate", "correlations")):
    if hasattr(owner, name):
        setattr(owner, name, phase(label, getattr(owner, name)))

# Rows of each source whose late columns (`raw`) the engine read, against the rows it read:
# the scan floor reads a late column only where the engine read it for every row.
def late_counting(function):
    import dataclasses
    def wrapper(*args, **kwargs):
        batch = function(*args, **kwargs)
        if batch is None or batch.late is None:
            return batch
        seen = report["late"].setdefault(batch.source, {"columns": list(batch.late.schema), "rows": 0, "of": 0})
        seen["of"] += batch.events.height
        read = batch.late.read
        def counted(rows):
            frame = read(rows)
            seen["rows"] += frame.height
            return frame
        return dataclasses.replace(batch, late=dataclasses.replace(batch.late, read=counted))
    return wrapper

report["late"] = {}
if hasattr(engine, "_read_batch"):
    engine._read_batch = late_counting(engine._read_batch)
for name in ("compile_rules", "compile_rules_cached"):
    if hasattr(cli_detect, name):
        setattr(cli_detect, name, timed("compile_s", getattr(cli_detect, name)))
cli_detect.run_detection = timed("detect_s", cli_detect.run_detection)
engine.needed_columns = recording(engine.needed_columns)
sys.argv = ["auditlake", *sys.argv[1:]]
code = 0
try:
    runpy.run_module("auditlake", run_name="__main__")
except SystemExit as exit:
    code = exit.code
usage = resource.getrusage(resource.RUSAGE_SELF)
report["peak_rss_mib"] = usage.ru_maxrss / 1024
report["cpu_s"] = usage.ru_utime + usage.ru_stime
print("BENCH_REPORT " + json.dumps(report), file=sys.stderr)
sys.exit(code)
"""
"""Runs the CLI unchanged; wraps the rule compiler (cached or not), run_detection, a few engine
steps and needed_columns to time the phases and record the columns read (the scan floor reads
them too); reports peak RSS and CPU time of the process."""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- rule folders ------------------------------------------------------------------------------


def _logsources(path: Path) -> list[tuple[str | None, str | None, str | None]]:
    """(product, category, service) of every rule document in the file."""
    out = []
    for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
        if isinstance(document, dict) and isinstance(document.get("logsource"), dict):
            logsource = document["logsource"]
            out.append(tuple(str(logsource[k]).lower() if logsource.get(k) else None
                             for k in ("product", "category", "service")))
    return out


def link_rules(folder: Path, files: Iterable[Path]) -> int:
    """A folder of links to `files` (named after their SigmaHQ path), rebuilt from scratch."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    count = 0
    for file in files:
        (folder / str(file.relative_to(SIGMAHQ)).replace("/", "__")).symlink_to(file)
        count += 1
    return count


def windows_rule_files() -> list[Path]:
    """SigmaHQ rules for `product: windows` in the rules, emerging-threats and hunting sets."""
    return [p for d in WINDOWS_RULE_DIRS for p in sorted((SIGMAHQ / d).rglob("*.yml"))
            if any(ls[0] == "windows" for ls in _logsources(p))]


def cloud_rule_files() -> list[Path]:
    """SigmaHQ rules (every set) whose logsource routes to one of the cloud sources."""
    files = []
    for directory in SIGMAHQ_DIRS:
        for path in sorted((SIGMAHQ / directory).rglob("*.yml")):
            routed = {alt.source for ls in _logsources(path) for alt in route(*ls)}
            if routed & set(CLOUD_SOURCES):
                files.append(path)
    return files


# -- inputs and lakes --------------------------------------------------------------------------


def ingest(inputs: list[tuple[Path, str]], lake: Path) -> dict[str, Any]:
    """`auditlake ingest` each (input, source) into `lake`; fails loudly on lost records."""
    shutil.rmtree(lake, ignore_errors=True)
    total, started = 0, time.perf_counter()
    for path, source in inputs:
        cmd = [sys.executable, "-m", "auditlake", "ingest", str(path), "--lake", str(lake),
               "--source", source, "--json"]
        summary = json.loads(subprocess.run(cmd, capture_output=True, check=True, text=True).stdout)
        if summary["added"] != summary["records"]:
            raise SystemExit(f"ingest of {path} lost records: {summary}")
        total += summary["added"]
        log(f"  ingested {path.name}: {summary['added']:,} events")
    return {"events": total, "ingest_s": time.perf_counter() - started}


def prepare_windows(out: Path, events: int, fresh: bool) -> tuple[Path, dict[str, Any]]:
    from windows_events import load_samples, write_events

    data, lake = out / f"windows-{events}.jsonl", out / f"lake-windows-{events}"
    ready = lake.parent / f"{lake.name}.ready.json"
    if fresh:
        for stale in (data, ready):
            stale.unlink(missing_ok=True)
    if ready.exists():
        return lake, json.loads(ready.read_text())
    if not data.exists():
        log(f"writing {events:,} Windows events to {data}")
        started = time.perf_counter()
        variants = write_events(load_samples(SIGMAHQ / "regression_data"), events, data)
        log(f"  {dict(variants)} in {time.perf_counter() - started:.0f} s")
    info = ingest([(data, WINDOWS_SOURCE)], lake)
    ready.write_text(json.dumps(info))
    return lake, info


def prepare_cloud(out: Path, scale: float, fresh: bool) -> tuple[Path, dict[str, Any]]:
    from auditlake.synth.generate import generate

    synth, lake = out / f"synth-cloud-{scale:g}", out / f"lake-cloud-{scale:g}"
    ready = lake.parent / f"{lake.name}.ready.json"
    if fresh:
        shutil.rmtree(synth, ignore_errors=True)
        ready.unlink(missing_ok=True)
    if ready.exists():
        return lake, json.loads(ready.read_text())
    if not (synth / "manifest.json").exists():
        log(f"generating the synthetic organisation's cloud sources at scale {scale:g} into {synth}")
        summary = generate(synth, days=7, scale=scale, sources=list(CLOUD_SOURCES), workers=os.cpu_count() or 1)
        log(f"  {summary.total_events:,} events in {summary.elapsed_s:.0f} s")
    info = ingest([(synth / source, source) for source in CLOUD_SOURCES], lake)
    ready.write_text(json.dumps(info))
    return lake, info


# -- measurements ------------------------------------------------------------------------------


def run_detect(lake: Path, rules: list[Path], report_dir: Path, *, label: str = "detect") -> dict[str, Any]:
    """`auditlake detect` over the week in a fresh process, alerts store emptied first.

    Alerts have deterministic ids and a re-run stores none, so every measured run starts from
    an empty alert table and does the same work. The compiled-rule cache is the benchmark's
    own (`AUDITLAKE_CACHE_DIR`), so the user's cache is neither used nor touched.
    """
    shutil.rmtree(lake / "alerts", ignore_errors=True)
    cmd = [sys.executable, "-c", PROBE, "detect", "--since", SINCE, "--until", UNTIL,
           "--lake", str(lake)]
    for folder in rules:
        cmd += ["--rules", str(folder)]
    env = {**os.environ, "COLUMNS": "200", "AUDITLAKE_CACHE_DIR": str(report_dir / "rule-cache")}
    started = time.perf_counter()
    done = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env, cwd=report_dir)
    wall = time.perf_counter() - started
    (report_dir / f"{label}.stdout").write_text(done.stdout)
    (report_dir / f"{label}.stderr").write_text(done.stderr)
    if done.returncode != 0 or "BENCH_REPORT " not in done.stderr:
        raise SystemExit(f"auditlake detect failed ({done.returncode}); see {report_dir}/{label}.stderr")
    report = json.loads(done.stderr.rsplit("BENCH_REPORT ", 1)[1].splitlines()[0])
    # Other jobs share the machine: the load over the last minute says how much they took.
    return report | {"wall_s": wall, "load_after": os.getloadavg()[0]}


def cold_run(lake: Path, rules: list[Path], report_dir: Path) -> dict[str, Any]:
    """A first run with empty caches: rule compilation, then detection planning every rule.

    It fills the rule and plan caches, so the measured run that follows starts as a scheduled
    job over an unchanged rule set does: every rule file compiled, and the rules planned for
    the lake's schemas.
    """
    shutil.rmtree(report_dir / "rule-cache", ignore_errors=True)
    return run_detect(lake, rules, report_dir, label="cold-run")


def floor_columns(columns: dict[str, list[str]], late: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """The columns the scan floor reads of each source: those the engine read, less a late
    column (`raw`) it read for only some rows. Reading those whole would lift the floor above
    what the engine needs; leaving them out keeps the floor a lower bound."""
    out = {}
    for source, names in columns.items():
        partial = late.get(source, {})
        skipped = set(partial.get("columns", [])) if partial.get("rows", 0) < partial.get("of", 0) else set()
        out[source] = [c for c in names if c not in skipped]
    return out


def run_floor(lake: Path, columns: dict[str, list[str]], report_dir: Path) -> dict[str, Any]:
    spec = report_dir / "columns.json"
    spec.write_text(json.dumps(columns, indent=1))
    cmd = [sys.executable, str(HERE / "scan_floor.py"), str(lake), SINCE, UNTIL, str(spec)]
    return json.loads(subprocess.run(cmd, capture_output=True, check=True, text=True).stdout)


def run_sqlite(lake: Path, rules: list[Path], sources: Iterable[str], events: int) -> dict[str, Any]:
    cmd = [sys.executable, str(HERE / "sqlite_baseline.py"), str(lake), SINCE, UNTIL,
           "--events", str(events), "--sources", ",".join(sources)]
    for folder in rules:
        cmd += ["--rules", str(folder)]
    done = subprocess.run(cmd, capture_output=True, check=True, text=True)
    sys.stderr.write(done.stderr)
    result: dict[str, Any] = json.loads(done.stdout)
    sampled = sum(s["events"] for s in result["sources"].values())
    query_s = sum(s["query_s"] for s in result["sources"].values())
    load_s = sum(s["load_s"] for s in result["sources"].values())
    return result | {
        "events": sampled, "query_s": query_s, "load_s": load_s,
        "per_s": sampled / query_s if query_s else 0.0,
        "per_s_with_load": sampled / (query_s + load_s) if query_s else 0.0,
        "rules": sum(s["rules"] for s in result["sources"].values()),
        "query_errors": sum(len(s["query_errors"]) for s in result["sources"].values()),
        "matches": sum(s["matches"] for s in result["sources"].values()),
    }


def measure(name: str, lake: Path, rules: list[Path], *, sources: Iterable[str], sqlite_events: int,
            out: Path) -> dict[str, Any]:
    report_dir = out / f"report-{name}"
    report_dir.mkdir(parents=True, exist_ok=True)
    log(f"[{name}] a first run with empty caches")
    cold = cold_run(lake, rules, report_dir)
    compile_cold = float(cold["compile_s"])
    log(f"  compile {compile_cold:.1f} s, then detection {cold['detect_s']:.1f} s with every rule planned")
    log(f"[{name}] auditlake detect")
    detect = run_detect(lake, rules, report_dir)
    log(f"  {detect['events']:,} events: compile {detect['compile_s']:.1f} s (cached), detection "
        f"{detect['detect_s']:.1f} s, peak {detect['peak_rss_mib']:.0f} MiB, {detect['alerts']:,} alerts")
    log(f"[{name}] scan floor")
    floor = run_floor(lake, floor_columns(detect["columns"], detect.get("late", {})), report_dir)
    log(f"  {floor['rows']:,} rows in {floor['seconds']:.2f} s")
    log(f"[{name}] SQLite baseline")
    sqlite = run_sqlite(lake, rules, sources, sqlite_events)
    per_s = detect["events"] / detect["detect_s"]
    return {
        "case": name, "events": detect["events"], "rules": detect["rules"],
        "rules_run": detect["rules_run"], "correlations": detect["correlations"],
        "compile_cold_s": compile_cold, "detect_cold_s": cold["detect_s"], "compile_s": detect["compile_s"], "detect_s": detect["detect_s"], "wall_s": detect["wall_s"],
        "per_s": per_s, "per_s_end_to_end": detect["events"] / detect["wall_s"],
        "peak_rss_mib": detect["peak_rss_mib"], "alerts": detect["alerts"], "package": detect["package"],
        "phases": detect.get("phases", {}), "cpu_s": detect["cpu_s"], "load": detect["load_after"],
        "columns_read": {s: len(c) for s, c in detect["columns"].items()},
        "late_rows_read": detect.get("late", {}),
        "floor": floor, "floor_ratio": detect["detect_s"] / floor["seconds"],
        "sqlite": sqlite, "sqlite_ratio": per_s / sqlite["per_s"] if sqlite["per_s"] else 0.0,
    }


# -- report ------------------------------------------------------------------------------------


def tables(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| case | events | rules run | compile s (cold / cached) | detection s (first run / measured) | process CPU s | load "
        "| events/s (detection) | events/s (end to end) | peak RSS MiB | alerts | scan floor s | x floor "
        "| SQLite events/s | x SQLite |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['case']} | {r['events']:,} | {r['rules_run']:,} + {r['correlations']} corr. "
            f"| {r['compile_cold_s']:.1f} / {r['compile_s']:.1f} | {r.get('detect_cold_s', 0.0):.1f} / {r['detect_s']:.1f} "
            f"| {r['cpu_s']:.0f} "
            f"| {r['load']:.1f} | {r['per_s']:,.0f} | {r['per_s_end_to_end']:,.0f} | {r['peak_rss_mib']:,.0f} "
            f"| {r['alerts']:,} | {r['floor']['seconds']:.2f} | {r['floor_ratio']:.0f} "
            f"| {r['sqlite']['per_s']:,.0f} | {r['sqlite_ratio']:.1f} |"
        )
    lines += [
        "",
        "| case | SQLite sample (every k-th event) | rules run | not expressible | matches in sample "
        "| load s | queries s | events/s (queries) | events/s (load + queries) | peak RSS MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        s = r["sqlite"]
        lines.append(
            f"| {r['case']} | {s['events']:,} (k = {s['every']}) | {s['rules']:,} "
            f"| {s['skipped']['keyword or unsupported'] + s['query_errors']} | {s['matches']:,} "
            f"| {s['load_s']:.1f} | {s['query_s']:.1f} "
            f"| {s['per_s']:,.0f} | {s['per_s_with_load']:,.0f} | {s['peak_rss_mib']:.0f} |"
        )
    labels = sorted({label for r in rows for label in r["phases"]}, key=PHASE_ORDER.index)
    if labels:
        lines += [
            "",
            "| case | detection s | " + " | ".join(f"{label} s" for label in labels) + " |",
            "|---|---:|" + "---:|" * len(labels),
        ]
        for r in rows:
            cells = " | ".join(f"{r['phases'][label]:.1f}" if label in r["phases"] else "-" for label in labels)
            lines.append(f"| {r['case']} | {r['detect_s']:.1f} | {cells} |")
    return "\n".join(lines)


PHASE_ORDER = ["batches read", "batches evaluated", "rule evaluation", "alerts built and stored", "alert files written", "correlations"]
"""The probe's nested phases, outermost first (see PROBE)."""


def verdicts(rows: list[dict[str, Any]]) -> str:
    lines = []
    for r in rows:
        checks = [
            (f"≥ {TARGETS['sqlite_ratio']:.0f}x SQLite", r["sqlite_ratio"] >= TARGETS["sqlite_ratio"], f"{r['sqlite_ratio']:.1f}x"),
            (f"within {TARGETS['floor_ratio']:.0f}x of the scan floor", r["floor_ratio"] <= TARGETS["floor_ratio"], f"{r['floor_ratio']:.0f}x"),
            ("peak RSS ≤ 2 GiB", r["peak_rss_mib"] <= TARGETS["peak_rss_mib"], f"{r['peak_rss_mib']:,.0f} MiB"),
        ]
        if r["case"] == "windows":
            checks.append((f"≥ {TARGETS['windows_per_s']:,} events/s", r["per_s"] >= TARGETS["windows_per_s"], f"{r['per_s']:,.0f}/s"))
        lines += [f"- {r['case']}: {label}: {'met' if ok else 'missed'} ({value})" for label, ok, value in checks]
    return "\n".join(lines)


def source_tree(package: str) -> str:
    """The code measured: the commit and whether `src/` had uncommitted changes, or, when the
    engine was imported from elsewhere (`PYTHONPATH`), that location."""
    if not Path(package).resolve().is_relative_to(REPO / "src"):
        return package

    def git(*argv: str) -> str:
        done = subprocess.run(["git", *argv], check=False, capture_output=True, text=True, cwd=REPO)
        return done.stdout.strip()

    changed = git("status", "--porcelain", "--", "src").splitlines()
    return git("rev-parse", "--short", "HEAD") + (f" + {len(changed)} changed files in src/" if changed else "")


def main() -> None:
    # Every process measured here, the baselines too, allocates as the `auditlake` command does.
    configure_process()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="Windows events to generate")
    parser.add_argument("--scale", type=float, default=22.0,
                        help="synthetic organisation scale for the cloud week (22 gives ~5.2M events)")
    parser.add_argument("--sqlite-windows-events", type=int, default=20_000,
                        help="events in the Windows SQLite sample (a uniform every-k-th sample)")
    parser.add_argument("--sqlite-cloud-events", type=int, default=500_000,
                        help="events in the cloud SQLite sample, over all five sources")
    parser.add_argument("--cases", type=str, default="windows,cloud", help="comma-separated")
    parser.add_argument("--fresh", action="store_true", help="regenerate inputs and lakes")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "detect")
    args = parser.parse_args()
    args.out = args.out.resolve()  # the detect processes run from their report folder
    args.out.mkdir(parents=True, exist_ok=True)
    cases = args.cases.split(",")
    began = time.perf_counter()
    load_before = os.getloadavg()
    rows = []
    if "windows" in cases:
        lake, info = prepare_windows(args.out, args.events, args.fresh)
        count = link_rules(args.out / "rules-windows", windows_rule_files())
        log(f"[windows] {info['events']:,} events in {lake}, {count} rule files")
        rows.append(measure("windows", lake, [args.out / "rules-windows"], sources=[WINDOWS_SOURCE],
                            sqlite_events=args.sqlite_windows_events, out=args.out) | {"rule_files": count})
    if "cloud" in cases:
        lake, info = prepare_cloud(args.out, args.scale, args.fresh)
        count = link_rules(args.out / "rules-cloud", cloud_rule_files())
        log(f"[cloud] {info['events']:,} events in {lake}, {count} SigmaHQ rule files + {REPO / 'rules'}")
        rows.append(measure("cloud", lake, [args.out / "rules-cloud", REPO / "rules"], sources=CLOUD_SOURCES,
                            sqlite_events=args.sqlite_cloud_events, out=args.out) | {"rule_files": count})
    elapsed = time.perf_counter() - began
    meta = {"cores": os.cpu_count(), "load_before": load_before, "load_after": os.getloadavg(),
            "elapsed_s": elapsed, "args": {k: str(v) for k, v in vars(args).items()},
            "source_tree": source_tree(rows[0]["package"]) if rows else ""}
    (args.out / "results.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(tables(rows))
    print()
    print(verdicts(rows))
    print(f"\n{os.cpu_count()} cores, load average {load_before[0]:.1f} before and "
          f"{meta['load_after'][0]:.1f} after; whole run {elapsed / 60:.1f} min; source {meta['source_tree']}")


if __name__ == "__main__":
    main()
