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
        lines.append(f"| {r['rows']:,} | {r['csv_mb']} | {r.get('table_mb') or '-'} | {r['budget_s']:.0f} | {r['wall_s']} | "
                     f"{r['peak_rss_mb']} | {over} | "
                     f"{r['train_rows']:,}{' (train+valid refit)' if r['refit_on_train_valid'] else ''}"
                     f"{sampled} | {r['model']} | "
                     f"{r['test_f1'] if r['test_f1'] is None else round(r['test_f1'], 4)} | {r['lightgbm_fit_s']} | "
                     f"{r['lightgbm_f1']} | {r['lightgbm_peak_rss_mb']} | {r['load_avg_1m']}{floor_load} on {r['cpus']} CPUs |")
    preamble = ["# Scaling on one machine", "",
                "`python -m benchmarks.scaling --rows 5000000 1000000 --budget 60`. Synthetic tables (no package here "
                "ships a real one of millions of rows): binary make_classification, 30 numeric + 4 string columns, "
                "CSV. Whole run = instruction to saved model (CLI, offline brain, 1 plan), its peak RSS; LightGBM = its "
                "own default fit on all the train rows (the floor), in its own process. Measured on 2 CPU cores "
                "shared with five other jobs (the load column, 1-minute load average at the start): every time here "
                "is several times what the same machine gives unloaded.", "",
                "The 10k row is from 2026-11-30 14:15 UTC (load 5.5), the 5M row from 14:29 "
                "(load 5.7), the 1M and 100k rows from 14:38-14:39 (load 6.6, 5.4), after: training on a "
                "random sample of the train rows when the cost model prices one default fit of every candidate on all "
                "of them over a third of the budget (1M: the three boosting candidates on 700,000 rows priced at 265 "
                "reference CPU s against 15 s, so 100,000 rows; said in the load cell and run.json's split."
                "train_sample), HistGradientBoosting grown in chunks of iterations that the deadline stops, planning "
                "letting go of the table while the cells train, and the model agent's probes taking only their own "
                "rows (no copies of the table); the 1M row also after: the load cell taking over the table planning "
                "read (a large table, the same file, when the cells run in the agent's process: not parsed twice; "
                "python pipeline.py reads the file) and fitting threads keeping one core free (2 OpenMP threads on "
                "these 2 busy cores made HistGradientBoosting's fit 4x and its chunked predictions 8x slower than "
                "one; 1M at 14:35 before it: 118.8 s, 674 MB; 100k at 14:17: 79.0 s). The 5M row has neither (reading the CSV twice is most of "
                "what it takes over the budget; run once, as asked). Before them the 1M run took 223 s and 1,455 MB (a 179 s train cell whose "
                "kept model had one fit of 8 s: the rest went to fits the deadline could not stop). The 5M run took "
                "997 s and 5,755 MB before (load 9.6; its one HistGradientBoosting fit on 3.5M rows, 717 s, was not "
                "cut at the budget). Now 135 s: planning 55 s (the first reading of the 1.5 GB CSV 29 s, the model "
                "agent 21 s), the load cell's own reading and split 49 s, so the budget was spent before training "
                "(15 s: XGBoost's defaults on the 100,000 sampled rows cut at their first round, test F1 0.751 against "
                "LightGBM's 0.764 on all 3.5M rows in 659 s). Reading the file twice (planning, then the load cell) is "
                "what is left over the budget. The 5M floor was measured before (load 9.6) and kept (--reuse-floor): "
                "LightGBM's own fit does not depend on this tool.", "",
                "Memory: 'peak above the 10k run' takes out what a run holds with next to no data (the libraries and "
                "the run's own machinery, the 10k run's peak) and divides by the table as read (compact dtypes). Per "
                "stage on the 1M table (the same run in-process, RSS sampled every 20 ms, load 5-8): planning peaked "
                "at 661 MB (913 MB before the probes took only their rows: pyarrow's parse of the CSV is most of it, "
                "about 3x the table while it parses), then the cells: reading and splitting 736 MB when the load cell "
                "parsed the file again, 569 MB taking over planning's table; preprocessing, training and evaluating "
                "then peak at 778-845 MB before, 526-636 MB after. The 10k run peaks at 408-421 MB.", "",
                "LightGBM's floor is its own default fit on all the train rows (not our sample), in its own process, "
                "with its default threads: on these 2 shared cores its time varies about 2x between runs (1M: 52 s at "
                "load 4.6 in the morning, 120 s at load 4.7 here).",
                ""]
    (OUT / "scaling.md").write_text("\n".join(preamble + lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
