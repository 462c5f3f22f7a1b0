"""What the evaluate cell's plots cost: their build time (measured inside the generated code, ``timings.plots``
of run.json) against the run's wall time, per dataset, through the real pipeline (offline brain).

    .venv/bin/python -m benchmarks.plots_overhead                          # banana, crab, smoker, sms, etth1
    .venv/bin/python -m benchmarks.plots_overhead --datasets banana crab --budget 30

Writes benchmarks/results/<date>/plots_overhead.json and .md (run folders go to benchmarks/work/, ignored).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "datasets"
CASES = {
    "banana": ("banana_quality/banana_quality.csv", "Classify banana quality as Good or Bad; report F1."),
    "crab": ("crab_age/CrabAgePrediction.csv", "Predict the age of the crabs; report RMSLE."),
    "smoker": ("smoker_status/smoker_status_biosignals.csv",
               "Cluster the people into two groups and evaluate against the smoking labels."),
    "mfeat": ("mfeat_factors/mfeat_factors.csv", "Classify the digit class of each row; report F1."),
    "sms": ("sms_spam/SMSSpamCollection.tsv", "Classify SMS messages as spam or ham; report accuracy."),
    "etth1": ("etth1_timeseries/ETTh1.csv", ("Forecast all channels. INPUT_SEQ_LEN=96, INPUT_DIM=7, PRED_SEQ_LEN=96, "
                                             "PRED_DIM=7. Report MSE.")),
}


def main(argv: list[str] | None = None) -> int:
    from automl_agent_jupyter import AutoMLAgent

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="*", default=["banana", "crab", "smoker", "sms", "etth1"], choices=list(CASES))
    ap.add_argument("--budget", type=float, default=30.0)
    args = ap.parse_args(argv)
    day = dt.date.today().isoformat()
    work, out = REPO / "benchmarks" / "work" / day / "plots", REPO / "benchmarks" / "results" / day
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.datasets:
        path, instruction = CASES[name]
        t0 = time.perf_counter()
        run = AutoMLAgent(budget_s=args.budget).run(instruction, data=str(DATA / path), out=work / name)
        wall = time.perf_counter() - t0
        rec = run.record
        plots = sorted(k.split(":", 1)[1] for k in rec.artifacts if k.startswith("plot:"))
        seconds = rec.timings.get("plots", 0.0)
        rows.append({"dataset": name, "status": rec.status, "model": rec.environment.get("model", ""),
                     "plots": plots, "plot_seconds": round(seconds, 2), "run_wall_s": round(wall, 1),
                     "implementation_s": rec.timings.get("implementation"),
                     "share_of_run": round(seconds / wall, 4) if wall else None})
        print(f"{name:8s} {rec.status:10s} plots {seconds:5.2f} s of {wall:6.1f} s ({100 * seconds / wall:4.1f}%) "
              f"{', '.join(plots)}", flush=True)
    meta = {"date": day, "budget_s": args.budget, "platform": platform.platform(), "cpus": os.cpu_count(),
            "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None}
    (out / "plots_overhead.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    lines = [f"# Plot overhead ({day}, budget {args.budget:.0f} s, {os.cpu_count()} CPUs, load average "
             f"{meta['load_average'][0]:.1f} at the end)" if meta["load_average"] else "# Plot overhead", "",
             "| dataset | status | plots | plot build s | run wall s | share |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['dataset']} | {r['status']} | {', '.join(r['plots'])} | {r['plot_seconds']} | {r['run_wall_s']} | "
              f"{100 * r['share_of_run']:.1f}% |" for r in rows]
    (out / "plots_overhead.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out / 'plots_overhead.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
