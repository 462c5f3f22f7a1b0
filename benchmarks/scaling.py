"""Scaling on one machine: the whole run (instruction to saved model) at a fixed budget on synthetic tables
of 10k, 100k, 1M and 5M rows, beside LightGBM's own fit on all the training rows (the floor).

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
    ap.add_argument("--reuse-floor", action="store_true", help="keep LightGBM's floor measured before for the same "
                    "table and train rows (it does not depend on this tool; at 5M rows it takes over 10 minutes)")
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
        n_floor = (rec["split"].get("train_sample") or {}).get("of", sizes["train"])  # LightGBM on the whole train split
        before = results.get(str(rows), {})
        if args.reuse_floor and before.get("lightgbm_fit_s") and before.get("floor_train_rows", n_floor) == n_floor:
            floor = {"fit_s": before["lightgbm_fit_s"], "f1": before["lightgbm_f1"]}
            lgb_rss, floor_load = before["lightgbm_peak_rss_mb"], before.get("floor_load_avg_1m", before["load_avg_1m"])
        else:
            floor_load = round(os.getloadavg()[0], 1)
            _, lgb_rss, out = timed([sys.executable, "-c", LGBM_FLOOR, str(path), str(n_floor)], env)
            floor = json.loads(out.strip().splitlines()[-1])
        results[str(rows)] = {
            "rows": rows, "csv_mb": round(path.stat().st_size / 2**20, 1), "budget_s": args.budget,
            "status": rec["status"], "wall_s": round(wall, 1), "peak_rss_mb": round(rss), "train_rows": used,
            "refit_on_train_valid": refit, "model": res.get("model"),
            "test_f1": (rec.get("metrics") or {}).get("test", {}).get("f1"),
            "lightgbm_fit_s": round(floor["fit_s"], 1), "lightgbm_f1": round(floor["f1"], 4),
            "lightgbm_peak_rss_mb": round(lgb_rss), "load_avg_1m": round(load, 1), "cpus": os.cpu_count(),
            "floor_train_rows": n_floor, "floor_load_avg_1m": floor_load,
            "table_mb": (rec.get("data_report") or {}).get("extra", {}).get("memory_mb"),
            "train_sample": rec["split"].get("train_sample"), "measured": time.strftime("%Y-%m-%d %H:%M")}
        load = os.getloadavg()[0]
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
    lines = ["| rows | CSV MB | table MB in memory | budget s | whole run s | peak RSS MB | peak above the 10k run, x table "
             "| rows trained on | model | test F1 | LightGBM fit s (on all train rows) | LightGBM F1 | LightGBM RSS MB | "
             "load (1 min) |", "|" + "---|" * 14]
    base = results.get("10000", {}).get("peak_rss_mb")  # the libraries and the run's own machinery, next to no data
    for r in sorted(results.values(), key=lambda r: r["rows"]):
        over = f"{(r['peak_rss_mb'] - base) / r['table_mb']:.1f}" if base and r.get("table_mb") and r["rows"] > 10_000 \
            else "-"
        floor_load = f" (floor: {r['floor_load_avg_1m']})" if r.get("floor_load_avg_1m") not in (None, r["load_avg_1m"]) \
            else ""
        sample = r.get("train_sample")
        sampled = f"; {sample['rows']:,} of them sampled from {sample['of']:,} train rows" if sample else ""
        if sample and sample.get("valid_rows"):
            sampled += f" (validation: {sample['valid_rows']:,} of {sample['valid_of']:,} rows)"
        lines.append(f"| {r['rows']:,} | {r['csv_mb']} | {r.get('table_mb') or '-'} | {r['budget_s']:.0f} | {r['wall_s']} | "
                     f"{r['peak_rss_mb']} | {over} | "
                     f"{r['train_rows']:,}{' (train+valid refit)' if r['refit_on_train_valid'] else ''}"
                     f"{sampled} | {r['model']} | "
                     f"{r['test_f1'] if r['test_f1'] is None else round(r['test_f1'], 4)} | {r['lightgbm_fit_s']} | "
                     f"{r['lightgbm_f1']} | {r['lightgbm_peak_rss_mb']} | {r['load_avg_1m']}{floor_load} on {r['cpus']} CPUs |")
    preamble = ["# Scaling on one machine", "",
                "`python -m benchmarks.scaling --rows 5000000 1000000 100000 10000 --budget 60`. Synthetic tables (no "
                "package here ships a real one of millions of rows): binary make_classification, 30 numeric + 4 string "
                "columns, CSV. Whole run = the CLI process from its start to its exit (instruction to saved model, "
                "offline brain, 1 plan), its peak RSS; LightGBM = its own default fit on all the train rows (the floor), "
                "in its own process. Load column: the 1-minute load average at the start, on 2 CPU cores.", "",
                "Measured 2026-11-30 18:10-18:19 UTC on main 76744f2 + the tail rule (4422e5a), at load 0.9-1.2 (one "
                "or two other light jobs beside it; every benchmark ran under the shared lock): the 10k, 100k and 1M "
                "rows and their LightGBM floors at 18:14-18:17, the 5M row and its floor at 18:17-18:19. Every run "
                "holds the 60 s budget: 47.8, 49.1, 52.3 and 54.2 s. Repeats: 5M 52.0-55.8 s and 1,646-1,666 MB over "
                "four runs (18:00-18:17; the 18:00 one before the tail rule), 1M 52.5 s and 580 MB at 18:11.", "",
                "What changed for 1M and 5M rows (earlier: 1M 60.7 s / 660 MB at load 6.6, 5M 134.8 s / 2,483 MB at "
                "load 5.7; on main 544594a at load 1.1 the 5M run took 61.4 s and 2,165 MB): (1) the model agent's "
                "probes split the table once per table, as the load cell does (class codes renumbered from the "
                "categories, not a text copy of 5M labels; each plan's probe rows drawn from a random 200,000 of the "
                "train split): its stage 7.9 s -> 5.6-6.3 s, and its peak no longer 480 MB over the table; (2) when "
                "training takes a sample of the train rows, validation takes as many of its rows (5M: 100,000 of "
                "999,999; said in the load cell and run.json's split.train_sample), so every boosting round and "
                "trial scores 100,000 rows, not a million: LightGBM's defaults ran 243 rounds to early stopping in "
                "5.4 s where they were cut at 90 rounds after 11.6 s; the test split keeps every row; (3) a large CSV "
                "is converted from arrow one column at a time, the heap handed back after each (glibc malloc_trim): "
                "reading the 1.5 GB CSV peaks 1.3x the table above the start, was 2.4x (776 against 1,453 MB; the "
                "freed arrow blocks had stayed in the heap, 740 MB of RSS); (4) a data file over 64 MB is "
                "fingerprinted on 64 blocks of 1 MB (said in run.json), not hashed whole twice (3.6 s on 1.5 GB); (5) "
                "missing values counted one column at a time (no mask of the table); (6) the tail kept after training "
                "grows 0.5 s per 100,000 test rows beyond 100,000 (evaluating and measuring 500,000 test rows took "
                "4.4-4.9 s, over the fixed 4 s).", "",
                "Where the 5M run's 53 s go (run.json timings, 18:17): planning 17.3 s (reading the CSV 9.6 s with the "
                "prompt agent's look at it, profiling 0.7 s on a 200,000-row sample, the model agent 6.3 s: its two "
                "stratified splits of 5M row numbers 2.4 s, three probes on 1,000 rows 2.2 s, the libraries' first "
                "import 1.2 s), then the cells: load and split 3.7 s (the table planning read is taken over, not parsed "
                "again), preprocess 0.5 s, train 27.1 s, evaluate 2.5 s, measure 1.6 s, plots 0.6 s. XGBoost was kept "
                "(validation F1 0.7993; LightGBM's 0.8005 was left out because predicting the 500,000 test rows twice "
                "would take over half the tail). At 1M rows planning takes 7.0 s and training 40.5 s.", "",
                "Cost grows slower than the data: 10k -> 5M rows is 500x the rows for 1.13x the wall time, because the "
                "budget caps training (a sample of 100,000 train and 100,000 validation rows from 1M rows up, said in "
                "the run) and the fixed costs that do grow with the rows (reading, splitting, predicting the test "
                "split) are 26 s of the 54 s at 5M rows. Under load these fixed costs stretch: at load 5.7 the same 5M "
                "run on older code spent 55 s planning; this one has not been measured under load.", "",
                "Memory: 'peak above the 10k run' takes out what a run holds with next to no data (the libraries and "
                "the run's own machinery, the 10k run's peak, 472 MB) and divides by the table as read (compact "
                "dtypes). At 5M rows the whole peak is 1,666 MB = 2.8x the 596 MB table, 2.0x above the 10k run (was "
                "3.5x); it is reached while the CSV is read (table plus one column being converted, plus the prompt "
                "agent's sample) and while the load cell splits the rows (sklearn's stratified split holds its "
                "row numbers as a Python list).", "",
                "LightGBM's floor is its own default fit on all the train rows (not our sample), in its own process, "
                "with its default threads, reading the CSV with pandas' pyarrow engine: 32.6 s and 5,659 MB at 5M rows "
                "(F1 0.764, lower than our 0.799 on 100,000 sampled rows with a tuned threshold for F1). The floors "
                "measured earlier under load 4.7-9.6 were 6-20x slower (5M: 659 s), so every floor here was measured "
                "again at load 1.",
                ""]
    (OUT / "scaling.md").write_text("\n".join(preamble + lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
