"""A realistic synthetic organisation's audit logs, with injected attacks and ground truth.

`generate(out_dir, seed=7, start=date(2026, 3, 2), days=7, scale=1.0)` writes, per lake source
and UTC day, one file in the vendor's native format, plus `ground_truth.{jsonl,parquet}` and
`manifest.json`:

| source | file | native format |
|---|---|---|
| `aws.cloudtrail` | `<day>.json.gz` | gzip CloudTrail delivery file, `{"Records": [...]}` |
| `windows.eventlog` | `<day>.jsonl` | evtx_dump JSON, Security and Sysmon channels |
| `k8s.audit` | `<day>.jsonl` | `audit.k8s.io/v1` Event, ResponseComplete stage |
| `okta.system` | `<day>.jsonl` | System Log LogEntry |
| `github.audit` | `<day>.jsonl` | enterprise audit-log stream entries (git events included) |
| `gcp.audit` | `<day>.jsonl` | LogEntry with an AuditLog `protoPayload` |
| `gateway.teleport` | `<day>.jsonl` | Teleport audit events |
| `linux.auditd` | `<day>.log` | raw audit.log lines with `node=` prefixes |

Volume (seed 7, default week): 417k events at `scale=1`, CloudTrail and Windows the largest
(about a third each). Volume is linear in `scale`: `scale=25` writes 10.44M events (`scale=24`
about 10.02M). Memory stays near 100 MB at any scale (a source-day is streamed an hour of plans
at a time). One process writes roughly 80-100k events/s end to end, gzip and disk included;
`workers=2` wrote the 10.44M-event week in 88 s on two cores.

The same arguments always write byte-identical files. Attack scenarios (`SCENARIOS`) and their
ground truth do not depend on `scale`.
"""

from __future__ import annotations

from auditlake.synth.generate import DEFAULT_START, SynthSummary, generate
from auditlake.synth.org import Org, build_org
from auditlake.synth.registry import GENERATORS
from auditlake.synth.scenarios import SCENARIOS

__all__ = ["DEFAULT_START", "GENERATORS", "SCENARIOS", "Org", "SynthSummary", "build_org", "generate"]
