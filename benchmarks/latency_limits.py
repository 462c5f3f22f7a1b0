"""Constraint-aware prompts with 1-5 ms latency limits on tree-friendly tables: are the limits met?

Runs the benchmark harness (our pipeline only, no baselines) on the ``ca`` instruction of banana_quality (the
shared data, 5 ms) and of tree-friendly tables of the wide bench's dev half (1-2 ms), then writes one table:
the limit, the latency measured by the run (median one-row latency through the saved predict.py, one thread),
the plans' validation decision, the test metric, the whole-run wall time and the 1-minute load average before
and after each run. The check half of the wide bench is never run here.

    .venv/bin/python -m benchmarks.latency_limits [--budget 60] [--out benchmarks/results/<date>-latency-limits]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from . import registry
from .harness import HERE
from .harness import main as harness

WIDE = ("trump_vote", "concrete", "diamonds", "hpc_jobs", "credit_status")  # tree-friendly, the dev half
SHARED = ("banana_quality",)


def run(budget: float, out: Path) -> list[dict]:
    for key in WIDE:
        if registry.half_of(key) != "dev":
            raise SystemExit(f"{key} is in the check half: it is run only at the end, not here")
    common = ["--settings", "ca", "--baselines", "none", "--budget", str(budget)]
    harness(["--suite", "paper", "--datasets", ",".join(SHARED), "--out", str(out / "shared"), *common])
    harness(["--suite", "wide", "--datasets", ",".join(WIDE), "--out", str(out / "wide"), *common])
    rows = []
    for part in ("shared", "wide"):
        rows += json.loads((out / part / "results.json").read_text())["rows"]
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| table | limit (ms) | measured (ms) | met | model | metric (test) | whole run (s) | load 1-min "
             "before → after |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lat = next((c for c in r.get("constraints") or [] if c["name"] == "inference_latency"), None)
        value = "-" if r.get("value") is None else f"{r['metric']} {r['value']:.4g}"
        load = r.get("load_avg_1min") or [None, None]
        lines.append(f"| {r['dataset']} | {lat['target'] if lat else '-'} | "
                     f"{'-' if not lat or lat['measured'] is None else format(lat['measured'], '.3f')} | "
                     f"{'yes' if lat and lat['pass'] else 'NO'} | {r.get('model') or r.get('status')} | {value} | "
                     f"{r['wall_s']:.0f} | {load[0]} → {load[1]} |")
    met = sum(1 for r in rows for c in r.get("constraints") or [] if c["name"] == "inference_latency" and c["pass"])
    return "\n".join(lines) + f"\n\nLatency limits met: {met} of {len(rows)}.\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget", type=float, default=60.0)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    out = Path(args.out or HERE / "results" / f"{dt.date.today().isoformat()}-latency-limits").resolve()
    rows = run(args.budget, out)
    text = (f"# Constraint-aware prompts with 1-5 ms latency limits ({dt.date.today().isoformat()})\n\n"
            f"`python -m benchmarks.latency_limits --budget {args.budget:g}`: our pipeline, offline brain, the `ca` "
            "instruction of each table, budget the whole run. Latency: median of one row at a time through the "
            "saved predict.py on one thread (the measure cell). Records under shared/ and wide/.\n\n"
            + table(rows))
    (out / "README.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
