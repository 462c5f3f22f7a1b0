"""What the evaluate cell's plots cost: their build time (measured inside the generated code from before
matplotlib's import to the last PNG: ``timings.plots`` of run.json, with the CPU seconds beside it in
results.json) against the run's wall time, per dataset and repetition, through the real pipeline (offline
brain), each run in a fresh process (the run's wall time: run.json's ``timings.total``, the process's
start-up left out). The machine's load average is read before and after every run: the plots' wall time grows with the
load while the training stage is held to the budget, so a share means little without it.

    .venv/bin/python -m benchmarks.plots_overhead                          # banana, crab, smoker, sms, etth1
    .venv/bin/python -m benchmarks.plots_overhead --datasets banana crab smoker --repeats 3 --tag plots

Writes benchmarks/results/<date>[-<tag>]/plots_overhead.json and .md (run folders go to benchmarks/work/, ignored).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
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
    "mnist": ("mnist_test_images/mnist_test_10k.npz", "Classify the handwritten digits in these images; report accuracy."),
}


def load() -> float | None:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def main(argv: list[str] | None = None) -> int:
    from automl_agent_jupyter import AutoMLAgent

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="*", default=["banana", "crab", "smoker", "sms", "etth1"], choices=list(CASES))
    ap.add_argument("--budget", type=float, default=30.0)
    ap.add_argument("--repeats", type=int, default=1, help="runs per dataset (the datasets in turn, then again)")
    ap.add_argument("--tag", default="", help="results go to benchmarks/results/<date>-<tag>/")
    ap.add_argument("--one", help=argparse.SUPPRESS)  # internal: run this one dataset here, into --folder
    ap.add_argument("--folder", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        path, instruction = CASES[args.one]
        AutoMLAgent(budget_s=args.budget).run(instruction, data=str(DATA / path), out=args.folder)
        return 0
    day = dt.date.today().isoformat()
    folder = f"{day}-{args.tag}" if args.tag else day
    work, out = REPO / "benchmarks" / "work" / folder / "plots", REPO / "benchmarks" / "results" / folder
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for rep in range(args.repeats):
        for name in args.datasets:
            load_before, t0 = load(), time.perf_counter()
            folder_ = work / f"{name}-{rep}"
            if folder_.exists():
                shutil.rmtree(folder_)
            # a fresh process per run, as a user's CLI run or a new kernel: matplotlib's import is paid every time
            proc = subprocess.run([sys.executable, "-m", "benchmarks.plots_overhead", "--one", name, "--budget",
                                   str(args.budget), "--folder", str(folder_)], cwd=REPO, capture_output=True,
                                  text=True, check=False)
            wall, load_after = time.perf_counter() - t0, load()
            if proc.returncode != 0:
                print(f"{name} #{rep} failed: {proc.stderr[-2000:]}", flush=True)
                continue
            rec = json.loads((folder_ / "run.json").read_text())
            results = json.loads((folder_ / "results.json").read_text()) if (folder_ / "results.json").exists() else {}
            plots = sorted(k.split(":", 1)[1] for k in rec["artifacts"] if k.startswith("plot:"))
            seconds = rec["timings"].get("plots", 0.0)
            run_s = rec["timings"]["total"]  # the run itself (the process's start-up and imports left out)
            rows.append({"dataset": name, "repeat": rep, "status": rec["status"],
                         "model": rec["environment"].get("model", ""), "plots": plots, "plot_seconds": round(seconds, 2),
                         "plot_cpu_seconds": results.get("plot_cpu_seconds"), "plot_times": results.get("plot_times"),
                         "plot_cpu_times": results.get("plot_cpu_times"), "importance": results.get("importance"),
                         "import_cpu_seconds_background": results.get("plot_import_cpu_seconds"),
                         "run_wall_s": round(run_s, 1), "process_wall_s": round(wall, 1),
                         "share_of_run": round(seconds / run_s, 4) if run_s else None,
                         "load_before": load_before, "load_after": load_after})
            print(f"{name:8s} #{rep} {rec['status']:10s} plots {seconds:5.2f} s (cpu {results.get('plot_cpu_seconds')}) "
                  f"of {run_s:6.1f} s ({100 * seconds / run_s:4.1f}%), load {load_before:.1f} -> {load_after:.1f}; "
                  f"{', '.join(plots)}", flush=True)
    meta = {"date": day, "budget_s": args.budget, "repeats": args.repeats, "platform": platform.platform(),
            "cpus": os.cpu_count()}
    (out / "plots_overhead.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    lines = [f"# Plot overhead ({day}, budget {args.budget:.0f} s, {os.cpu_count()} CPUs, {args.repeats} run(s) per "
             "dataset)", "",
             "Plot build time (from matplotlib's import to the last PNG, inside the generated evaluate cell) as a "
             "share of the whole run's wall time; load = 1-minute load average before -> after the run.", "",
             "| dataset | run | status | plots | plot build s | plot CPU s | run wall s | share | load |",
             "|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['dataset']} | {r['repeat']} | {r['status']} | {', '.join(r['plots'])} | {r['plot_seconds']} | "
              f"{r['plot_cpu_seconds']} | {r['run_wall_s']} | {100 * r['share_of_run']:.1f}% | "
              f"{r['load_before']:.1f} -> {r['load_after']:.1f} |" for r in rows]
    lines += ["", "| dataset | median share | max share | median plot s | median plot CPU s |", "|---|---|---|---|---|"]
    for name in args.datasets:
        mine = [r for r in rows if r["dataset"] == name]
        cpu = [r["plot_cpu_seconds"] for r in mine if r["plot_cpu_seconds"] is not None]
        lines.append(f"| {name} | {100 * statistics.median(r['share_of_run'] for r in mine):.1f}% | "
                     f"{100 * max(r['share_of_run'] for r in mine):.1f}% | "
                     f"{statistics.median(r['plot_seconds'] for r in mine):.2f} | "
                     f"{statistics.median(cpu) if cpu else float('nan'):.2f} |")
    (out / "plots_overhead.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out / 'plots_overhead.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
