"""Scaling on one machine: the whole run (instruction to saved model) at a fixed budget on synthetic tables
of 10k, 100k, 1M and 5M rows, beside LightGBM's own fit on the same training rows (the floor).

    .venv/bin/python -m benchmarks.scaling --rows 10000 100000 1000000 --budget 60

Synthetic on purpose: no package here ships a real table of millions of rows. Each table is
sklearn's make_classification (binary, 30 numeric columns, 8 informative) plus 4 string columns of 3-50
categories (two of them carrying signal), written as CSV to benchmarks/work/scaling/ (git ignores it).
Each run and each LightGBM fit is its own process, so peak RSS (ru_maxrss from wait4) is that process
alone. Writes benchmarks/results/scaling/scaling.{json,md}.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "benchmarks" / "work" / "scaling"
OUT = ROOT / "benchmarks" / "results" / "scaling"


def make_table(rows: int, seed: int = 0) -> Path:
    """The table's CSV, written by a process of its own: this one stays small, so that a run or fit it starts
    (fork, then exec) does not begin its peak RSS (ru_maxrss) at the size of a table made here."""
    path = WORK / f"synthetic_{rows}.csv"
    if not path.exists():
        subprocess.run([sys.executable, "-c", f"from benchmarks.scaling import write_table; write_table({rows}, {seed})"],
                       check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return path


def write_table(rows: int, seed: int = 0) -> None:
    path = WORK / f"synthetic_{rows}.csv"
    import numpy as np
    import pandas as pd
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=rows, n_features=30, n_informative=8, n_redundant=4, flip_y=0.05,
                               class_sep=0.8, random_state=seed)
    df = pd.DataFrame(X.astype(np.float32), columns=[f"x{i}" for i in range(30)])
    rng = np.random.default_rng(seed)
    for i, k in enumerate((3, 8, 20, 50)):
        codes = rng.integers(0, k, rows)
        if i < 2:  # two categoricals carry signal: they flip some labels
            y = np.where((codes == 0) & (rng.random(rows) < 0.5), 1 - y, y)
        df[f"c{i}"] = pd.Categorical.from_codes(codes, [f"level_{j}" for j in range(k)]).astype(str)
    df["label"] = np.where(y == 1, "yes", "no")
    WORK.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False, float_format="%.6g")


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MB of the child process, its stdout."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"{cmd[:4]} failed ({proc.returncode}):\n{out[-3000:]}")
    return time.perf_counter() - t0, usage.ru_maxrss / 1024, out


LGBM_FLOOR = r"""
import json, sys, time
import pandas as pd, lightgbm as lgb
from sklearn.model_selection import train_test_split
path, n_train, seed = sys.argv[1], int(sys.argv[2]), 0
df = pd.read_csv(path, engine="pyarrow")
for c in df.columns:
    if df[c].dtype != float and c != "label":
        df[c] = df[c].astype("category")
X, y = df.drop(columns=["label"]), (df["label"] == "yes").astype(int)
X_tr, X_te, y_tr, y_te = train_test_split(X, y, train_size=n_train, random_state=seed, stratify=y)
t = time.perf_counter()
model = lgb.LGBMClassifier(verbose=-1, random_state=seed).fit(X_tr, y_tr)
fit_s = time.perf_counter() - t
from sklearn.metrics import f1_score
print(json.dumps({"fit_s": fit_s, "f1": f1_score(y_te, model.predict(X_te))}))
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000, 5_000_000])
    ap.add_argument("--budget", type=float, default=60.0)
    ap.add_argument("--report", action="store_true", help="only re-read the run folders and write the table")
    args = ap.parse_args(argv)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    OUT.mkdir(parents=True, exist_ok=True)
    results_path = OUT / "scaling.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    load = os.getloadavg()[0]
    for rows in [] if args.report else args.rows:
        path = make_table(rows)
        run_dir = WORK / f"run_{rows}"
        wall, rss, _ = timed([sys.executable, "-m", "automl_agent_jupyter.cli", "run",
                              "Classify the label column (yes or no), F1", "--data", str(path), "--target", "label",
                              "--plans", "1", "--budget", str(args.budget), "--out", str(run_dir), "--quiet"], env)
        rec = json.loads((run_dir / "run.json").read_text())
        sizes = rec["split"]["sizes"]
        res = json.loads((run_dir / "results.json").read_text()) if (run_dir / "results.json").exists() else {}
        refit = bool((res.get("selection") or {}).get("refit_on_train_valid"))
        used = sizes["train"] + (sizes["valid"] if refit else 0)
        _, lgb_rss, out = timed([sys.executable, "-c", LGBM_FLOOR, str(path), str(sizes["train"])], env)
        floor = json.loads(out.strip().splitlines()[-1])
        results[str(rows)] = {
            "rows": rows, "csv_mb": round(path.stat().st_size / 2**20, 1), "budget_s": args.budget,
            "status": rec["status"], "wall_s": round(wall, 1), "peak_rss_mb": round(rss), "train_rows": used,
            "refit_on_train_valid": refit, "model": res.get("model"),
            "test_f1": (rec.get("metrics") or {}).get("test", {}).get("f1"),
            "lightgbm_fit_s": round(floor["fit_s"], 1), "lightgbm_f1": round(floor["f1"], 4),
            "lightgbm_peak_rss_mb": round(lgb_rss), "load_avg_1m": round(load, 1), "cpus": os.cpu_count()}
        print(json.dumps(results[str(rows)]), flush=True)
        results_path.write_text(json.dumps(results, indent=1))
    for r in results.values():  # the kept model and the rows it was trained on, from each run's results.json
        res_path = WORK / f"run_{r['rows']}" / "results.json"
        if res_path.exists():
            res = json.loads(res_path.read_text())
            r["refit_on_train_valid"] = bool((res.get("selection") or {}).get("refit_on_train_valid"))
            r["model"] = res.get("model")
            sizes = res["split"]["sizes"]
            r["train_rows"] = sizes["train"] + (sizes["valid"] if r["refit_on_train_valid"] else 0)
    results_path.write_text(json.dumps(results, indent=1))
    lines = ["| rows | CSV MB | budget s | whole run s | peak RSS MB | rows trained on | model | test F1 | "
             "LightGBM fit s | LightGBM F1 | LightGBM RSS MB | load (1 min) |", "|" + "---|" * 12]
    for r in sorted(results.values(), key=lambda r: r["rows"]):
        lines.append(f"| {r['rows']:,} | {r['csv_mb']} | {r['budget_s']:.0f} | {r['wall_s']} | {r['peak_rss_mb']} | "
                     f"{r['train_rows']:,}{' (train+valid refit)' if r['refit_on_train_valid'] else ''} | {r['model']} | "
                     f"{r['test_f1'] if r['test_f1'] is None else round(r['test_f1'], 4)} | {r['lightgbm_fit_s']} | "
                     f"{r['lightgbm_f1']} | {r['lightgbm_peak_rss_mb']} | {r['load_avg_1m']} on {r['cpus']} CPUs |")
    preamble = ["# Scaling on one machine", "",
                "`python -m benchmarks.scaling --rows 5000000 1000000 --budget 60`. Synthetic tables (no package here "
                "ships a real one of millions of rows): binary make_classification, 30 numeric + 4 string columns, "
                "CSV. Whole run = instruction to saved model (CLI, offline brain, 1 plan), its peak RSS; LightGBM = its "
                "own default fit on the same train rows (the floor), in its own process. Measured on 2 CPU cores "
                "shared with five other jobs (the load column, 1-minute load average at the start): every time here "
                "is several times what the same machine gives unloaded.", "",
                "The 5M, 1M and 100k rows are from 2026-11-30 after the memory work (Arrow parses straight into float32 and "
                "categories, the split takes row numbers, the preprocessing is fitted on a 200k-row sample and applied "
                "in blocks); the 10k row is from the day before (load 15). Peak RSS includes about 450 MB of "
                "libraries (the 10k run). In memory the 5M table is about 640 MB (1M: 128 MB). The 5M run's train cell "
                "took 717 s of its 997 s: one HistGradientBoosting fit on 3.5M rows is not cut at the budget.", "",
                "Where the copies were (the generated cells on the 1M table, run one by one with RSS sampled every "
                "10 ms, load 7): reading and splitting peaked at 1,273 MB and preprocessing at 1,541 MB before; "
                "654 MB and 723 MB after (both include the 102 MB of the setup cell and the libraries the cells "
                "import). What is left above 3x the table is the train cell's (the boosting libraries' own copies).",
                ""]
    (OUT / "scaling.md").write_text("\n".join(preamble + lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
