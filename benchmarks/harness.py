"""The benchmark harness: ``python -m benchmarks`` runs the suite and writes results.

For every dataset and setting (constraint-free ``cf``, constraint-aware ``ca``) it runs the real
pipeline in a subprocess with a hard time limit (``ours_worker.py``), reads the run's ``run.json``
and scores it the paper's way (SR / NPS / CS, constraints held). On tabular classification and
regression sets it then fits FLAML and AutoGluon on exactly the same split with the same time limit,
in the benchmark venv (``baseline_worker.py``), and reports each as a ratio to ours. Results go to
``benchmarks/results/<date>/``: results.json, results.md, chart.png and the run records.

The harness itself needs only the standard library and the product package (to run the pipeline);
it runs in the product venv. The baselines, and the chart if matplotlib is missing here, run with
``--bench-python`` (default ``.venv-bench/bin/python`` when it exists).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from . import registry, report
from .scoring import check, mean, ratio, score_row, summarise
from .suite import PAPER, SETTINGS, Entry, datasets_dir, select

SUITES = ("paper", "wide")  # paper: ../shared/datasets (suite.py); wide: tables packages ship (registry.py)

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BASELINES = ("flaml", "autogluon")
HIGHER_IS_BETTER = {"rmsle": False, "rmse": False, "mae": False, "mse": False}
UNSUPPORTED = "not supported yet"  # what the pipeline says for a task it has no module for
NOT_RUN = ("unsupported", "not_run")
RERUN = ("timeout", "crashed")  # what --resume runs again
UNITS = {"training_time": "s", "inference_latency": "ms", "inference_time_total": "s", "model_size": "MB",
         "parameters": "count"}


# ------------------------------------------------------------------------------------------ helpers
def _log(msg: str) -> None:
    print(f"[{dt.datetime.now().strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


ENV: dict[str, str] = {}  # extra environment for the workers (PYTHONPATH of the code snapshot)


def _run_subprocess(cmd: list[str], timeout: float, log: Path, cwd: Path) -> tuple[int | None, float]:
    """Run ``cmd`` in its own process group; on timeout kill that group (only what we started)."""
    t0 = time.perf_counter()
    env = {**os.environ, **ENV}
    with open(log, "w", encoding="utf-8") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True, env=env)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            rc = None
    return rc, time.perf_counter() - t0


def _load() -> list[float]:
    """The 1, 5 and 15 minute load averages (what `uptime` shows): how busy the shared machine was."""
    return [round(x, 2) for x in os.getloadavg()]


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def _mem_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _versions(python: str, packages: list[str]) -> dict[str, str]:
    code = (f"import json,importlib.metadata as m\nout={{}}\nfor p in {packages!r}:\n    try: out[p]=m.version(p)\n"
            "    except Exception: out[p]=None\nprint(json.dumps(out))")
    try:
        res = subprocess.run([python, "-c", code], check=False, capture_output=True, text=True, timeout=60)
        return json.loads(res.stdout.strip().splitlines()[-1])
    except Exception:  # noqa: BLE001
        return {}


def machine(bench_python: str | None) -> dict[str, Any]:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    info = {"platform": platform.platform(), "cpu": _cpu_model(), "cores": cores, "memory_gb": _mem_gb(),
            "python": platform.python_version(), "gpu": "none used (CPU only)",
            "load_avg_start": [round(x, 2) for x in os.getloadavg()],
            "product_packages": _versions(sys.executable, ["automl-agent-jupyter", "scikit-learn", "lightgbm",
                                                           "xgboost-cpu", "optuna", "pandas", "numpy"])}
    if bench_python:
        info["bench_packages"] = _versions(bench_python, ["autogluon.tabular", "flaml", "xgboost-cpu", "catboost",
                                                          "lightgbm", "scikit-learn", "pandas", "torch"])
    return info


def default_bench_python() -> str | None:
    for cand in (REPO / ".venv-bench" / "bin" / "python", REPO / ".venv-bench" / "Scripts" / "python.exe"):
        if cand.exists():
            return str(cand)
    return None


def available_baselines(bench_python: str | None, wanted: list[str]) -> dict[str, str | None]:
    """system -> None when usable, else why it is skipped."""
    out: dict[str, str | None] = {}
    for system in wanted:
        if not bench_python:
            out[system] = "no benchmark venv (.venv-bench) and no --bench-python given"
            continue
        module = {"flaml": "flaml", "autogluon": "autogluon.tabular"}[system]
        res = subprocess.run([bench_python, "-c", f"import {module}"], check=False, capture_output=True, text=True, timeout=300)
        out[system] = None if res.returncode == 0 else f"`import {module}` failed in {bench_python}: " + \
            (res.stderr.strip().splitlines() or ["?"])[-1]
    return out


def _git(*args: str) -> str | None:
    try:
        res = subprocess.run(["git", *args], check=False, capture_output=True, text=True, timeout=30, cwd=REPO)
        return res.stdout.strip() if res.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def snapshot_code(work: Path) -> dict[str, Any]:
    """Copy the product package once, so every row runs the same code even while the tree is edited.

    The workers get the copy first on PYTHONPATH. The record names the commit, whether the package had
    uncommitted changes, and a hash of the copied files (the exact code that was measured).
    """
    import hashlib

    import automl_agent_jupyter as pkg

    src = Path(pkg.__file__).resolve().parent
    dest = work / "code" / src.name
    shutil.rmtree(dest.parent, ignore_errors=True)
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "node_modules"))
    h = hashlib.sha256()
    for f in sorted(p for p in dest.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(dest)).encode())
        h.update(f.read_bytes())
    ENV["PYTHONPATH"] = os.pathsep.join([str(dest.parent)] + ([os.environ["PYTHONPATH"]]
                                                              if os.environ.get("PYTHONPATH") else []))
    status = _git("status", "--porcelain", "--", str(src))
    return {"package": str(src), "snapshot": str(dest), "package_sha256": h.hexdigest()[:16],
            "git_head": _git("rev-parse", "--short", "HEAD"),
            "uncommitted_changes_in_package": None if status is None else bool(status)}


# ------------------------------------------------------------------------------------------ our rows
def parse_check(entry: Entry, setting: str, rec: dict[str, Any]) -> dict[str, Any]:
    """Did the prompt agent read the instruction the way the suite means it?"""
    req = rec.get("requirements") or {}
    problem = req.get("problem") or {}
    ds = (req.get("dataset") or [{}])[0]
    got_targets = {m["name"]: m.get("value") for m in problem.get("performance_metrics") or []}
    got_limits = {c["name"]: c.get("value") for c in problem.get("complexity_metrics") or []}
    diffs = []
    if problem.get("downstream_task") != entry.task:
        diffs.append(f"task {problem.get('downstream_task')!r} (expected {entry.task!r})")
    tv = ds.get("target_variables") or []
    if entry.target and (tv[:1] != [entry.target]):
        diffs.append(f"target {tv[:1]} (expected {entry.target!r})")
    if entry.metric not in got_targets and not (entry.metric == "f1_weighted" and "f1" in got_targets):
        diffs.append(f"metric {sorted(got_targets)} (expected {entry.metric!r})")
    if setting == "ca":
        for name, v in entry.expect_ca.get("targets", {}).items():
            g = got_targets.get(name, got_targets.get("f1") if name.startswith("f1") else None)
            if g is None or abs(g - v) > 1e-9:
                diffs.append(f"{name} target {g} (expected {v})")
        for name, v in entry.expect_ca.get("limits", {}).items():
            if name not in got_limits or abs(got_limits[name] - v) > 1e-9:
                diffs.append(f"{name} limit {got_limits.get(name)} (expected {v})")
        extra = set(got_limits) - set(entry.expect_ca.get("limits", {}))
        if extra:
            diffs.append(f"unexpected limits {sorted(extra)}")
    return {"ok": not diffs, "diffs": diffs, "targets": got_targets, "limits": got_limits}


def _llm_totals(rec: dict[str, Any]) -> dict[str, Any]:
    usage = rec.get("llm_usage") or {}
    keys = ("calls", "prompt_tokens", "completion_tokens", "tokens", "seconds", "cost_usd", "fallbacks")
    return {k: round(sum(float(u.get(k) or 0) for u in usage.values()), 4) for k in keys}


def row_from_record(entry: Entry, setting: str, instruction: str, rec: dict[str, Any] | None,
                    bench: dict[str, Any] | None, rc: int | None, wall_s: float, timeout_s: float) -> dict[str, Any]:
    bench = bench or {}
    row: dict[str, Any] = {"dataset": entry.key, "setting": setting, "instruction": instruction, "task": entry.task,
                           "paper_name": entry.paper_name, "paper_nps_cf": entry.paper_nps_cf, "note": entry.note,
                           "wall_s": round(wall_s, 2)}
    if bench.get("status") in ("unsupported", "supported") or (rec and UNSUPPORTED in (rec.get("message") or "")):
        status = "not_run" if bench.get("status") == "supported" else "unsupported"
        row.update(status=status, message=bench.get("message") or rec.get("message"), metric=entry.metric,
                   value=None, scores={"SR": None, "NPS": None, "CS": None}, constraints=[],
                   constraints_all_held=None)
        return row
    metric, value = entry.metric, None
    if rec:
        pm = rec.get("primary_metric") or {}
        metric = pm.get("name") or metric
        value = pm.get("value")
        if value is None:
            value = ((rec.get("metrics") or {}).get("test") or {}).get(metric)
    if rc is None:
        status, message = "timeout", f"killed after {timeout_s:.0f} s (hard limit)"
    elif bench.get("status") == "crashed":
        status, message = "crashed", bench.get("message", "")
    elif rec is None:
        status, message = "crashed", f"no run.json (exit code {rc})"
    else:
        status, message = rec.get("status", "?"), rec.get("message", "")
    row.update(status=status, message=message, metric=metric, value=value, scores=score_row(metric, value))
    if bench.get("traceback"):
        row["traceback"] = bench["traceback"]
    if not rec:
        row.update(constraints=[], constraints_all_held=None)
        return row
    checks = ((rec.get("verification") or {}).get("checks")) or []
    row["constraints"] = [{"name": c["name"], "kind": c["kind"], "target": c["target"], "measured": c["value"],
                           "unit": c.get("unit", ""), "pass": c["passed"]} for c in checks if c.get("target") is not None]
    row["constraints_all_held"] = (all(c["pass"] is True for c in row["constraints"])
                                   if row["constraints"] else None)
    row["parse"] = parse_check(entry, setting, rec)
    row["run_status"] = rec.get("status")
    row["run_id"] = rec.get("run_id")
    row["model"] = (rec.get("environment") or {}).get("model")
    row["selected_plan"] = rec.get("selected_plan")
    row["revisions"] = len([r for r in rec.get("revisions") or [] if r.get("kind") == "revision"])
    row["split"] = rec.get("split")
    row["metrics_test"] = (rec.get("metrics") or {}).get("test")
    row["timings"] = rec.get("timings")
    row["llm"] = _llm_totals(rec)
    row["brain"] = rec.get("brain")
    return row


def run_ours(entry: Entry, setting: str, args: argparse.Namespace, work: Path, records: Path) -> dict[str, Any]:
    instruction = entry.instructions[setting]
    out = work / "runs" / f"{entry.key}-{setting}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    settings = {"budget_s": args.budget, "n_plans": args.plans, "seed": args.seed}
    if args.top_k:
        settings["top_k"] = args.top_k
    if args.no_probe:
        settings["probe"] = False
    spec = {"instruction": instruction, "data": entry.data_path(args.datasets_dir), "task": entry.task,
            "out": str(out), "llm": args.llm, "settings": settings,
            "check_only": not entry.tabular and args.non_tabular == "check"}
    spec_path = work / "specs" / f"ours-{entry.key}-{setting}.json"
    spec_path.parent.mkdir(parents=True, exist_ok=True)
    spec_path.write_text(json.dumps(spec, indent=1), encoding="utf-8")
    timeout = args.timeout
    load0 = _load()
    started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    rc, wall = _run_subprocess([args.python, str(HERE / "ours_worker.py"), str(spec_path)], timeout,
                               out.parent / f"{entry.key}-{setting}.log", cwd=out)
    rec = _read_json(out / "run.json")
    bench = _read_json(out / "bench.json")
    row = row_from_record(entry, setting, instruction, rec, bench, rc, wall, timeout)
    row["run_dir"] = str(out)
    load1 = _load()
    row["load_avg"] = {"before": load0, "after": load1}  # 1/5/15-min load averages: CPU contention
    row["load_avg_1min"] = [load0[0], load1[0]]
    row["started"] = started
    if rec:
        dest = records / f"{entry.key}-{setting}.run.json"
        dest.write_text(json.dumps(rec, indent=1), encoding="utf-8")
        row["record"] = str(dest.relative_to(records.parent))
    return row


# ------------------------------------------------------------------------------------------ baselines
def run_baseline(system: str, entry: Entry, our_row: dict[str, Any], args: argparse.Namespace,
                 work: Path) -> dict[str, Any]:
    run_dir = Path(our_row["run_dir"])
    spec = {"system": system, "record": str(run_dir / "run.json"), "run_dir": str(run_dir), "task": entry.task,
            "metric": our_row["metric"], "time_limit": args.baseline_budget, "seed": args.seed,
            "work_dir": str(work / "baselines" / f"{entry.key}-{system}"),
            "result": str(work / "baselines" / f"{entry.key}-{system}.json")}
    Path(spec["work_dir"]).mkdir(parents=True, exist_ok=True)
    Path(spec["result"]).unlink(missing_ok=True)
    spec_path = work / "specs" / f"{system}-{entry.key}.json"
    spec_path.write_text(json.dumps(spec, indent=1), encoding="utf-8")
    timeout = 3 * args.baseline_budget + 240
    load0 = _load()
    rc, wall = _run_subprocess([args.bench_python, str(HERE / "baseline_worker.py"), str(spec_path)], timeout,
                               work / "baselines" / f"{entry.key}-{system}.log", cwd=Path(spec["work_dir"]))
    res = _read_json(Path(spec["result"])) or {"system": system, "error": (
        f"killed after {timeout:.0f} s (hard limit)" if rc is None else f"no result (exit code {rc})")}
    res["process_wall_s"] = round(wall, 2)
    load1 = _load()
    res["load_avg"] = {"before": load0, "after": load1}
    res["load_avg_1min"] = [load0[0], load1[0]]
    metric = our_row["metric"]
    res.update(score_row(metric, res.get("value")))
    return res


def baseline_checks(base: dict[str, Any], ca_row: dict[str, Any] | None, entry: Entry) -> list[dict[str, Any]]:
    """The constraint-aware requirements (as our prompt agent parsed them) checked on a baseline's numbers."""
    if not ca_row or "error" in base:
        return []
    parsed = (ca_row.get("parse") or {})
    targets = parsed.get("targets") or entry.expect_ca.get("targets", {})
    limits = parsed.get("limits") or entry.expect_ca.get("limits", {})
    out = []
    for name, target in targets.items():
        if target is None:
            continue
        value = base.get("value") if name in (ca_row["metric"], "f1") else None
        out.append({"name": name, "kind": "performance", "target": target, "measured": value,
                    "pass": check(name, target, value, HIGHER_IS_BETTER.get(name, True))})
    for name, target in limits.items():
        value = (base.get("measured") or {}).get(name)
        out.append({"name": name, "kind": "complexity", "target": target, "measured": value,
                    "unit": UNITS.get(name, ""), "pass": check(name, target, value, False)})
    return out


# ------------------------------------------------------------------------------------------ summary
def summary(results: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for setting in results["config"]["settings"]:
        rows = [r for r in results["rows"] if r["setting"] == setting]
        s: dict[str, Any] = {"ours": summarise(rows), "paper": PAPER[setting], "baselines": {}}
        for system in BASELINES:
            pairs = []
            for r in rows:
                b = (results["baselines"].get(r["dataset"]) or {}).get(system)
                if b and r["status"] not in NOT_RUN:
                    pairs.append((r, b))
            if not pairs:
                continue
            ours_nps = [r["scores"]["NPS"] for r, _ in pairs]
            base_nps = [b["NPS"] for _, b in pairs]
            held = [b.get("constraints_all_held") for _, b in pairs if b.get("constraints_all_held") is not None]
            ours_wall = sum(r.get("wall_s") or 0 for r, _ in pairs)
            base_wall = sum(b.get("process_wall_s") or 0 for _, b in pairs)
            s["baselines"][system] = {
                "n": len(pairs), "NPS": mean(base_nps), "ours_NPS_same_rows": mean(ours_nps),
                "ratio_of_means": ratio(mean(base_nps), mean(ours_nps)),
                "ours_better": sum(1 for o, b in zip(ours_nps, base_nps) if o > b),
                "baseline_better": sum(1 for o, b in zip(ours_nps, base_nps) if b > o),
                "requirements_met": (sum(held) / len(held)) if held else None,
                "wall_s": base_wall, "ours_wall_s_same_rows": ours_wall,
                "wall_ratio": ratio(base_wall, ours_wall),
            }
        out[setting] = s
    out["head_to_head"] = head_to_head(results)
    return out


def _gain(metric: str, ours: float | None, base: float | None) -> float | None:
    """How much better ours is than a baseline, relative to the baseline (positive: ours better)."""
    if ours is None or base is None or base == 0:
        return None
    d = (ours - base) if HIGHER_IS_BETTER.get(metric, True) else (base - ours)
    return d / abs(base)


def head_to_head(results: dict[str, Any], tolerance: float = 0.01) -> dict[str, Any]:
    """Per dataset, ours (constraint-free row) against each baseline on the raw test metric, with the verdicts
    the issue asks for: ours >= AutoGluon within ``tolerance`` (1 %), ours ahead of FLAML, our whole run within
    the budget; the constraint-aware row adds whether its limits held. Every row is listed, wins and losses."""
    budget = results["config"]["budget_s"]
    rows, tally = [], {"n": 0, "autogluon_ok": 0, "flaml_ahead": 0, "within_budget": 0, "ca_n": 0, "ca_held": 0}
    for r in results["rows"]:
        if r["setting"] != "cf" or r["status"] in NOT_RUN or r["task"] not in ("tabular_classification",
                                                                               "tabular_regression"):
            continue
        ca = next((x for x in results["rows"] if x["dataset"] == r["dataset"] and x["setting"] == "ca"), None)
        t = r.get("timings") or {}
        row: dict[str, Any] = {"dataset": r["dataset"], "metric": r["metric"], "ours": r["value"],
                               "ours_status": r["status"], "ours_wall_s": r["wall_s"],
                               "ours_record_total_s": t.get("total"), "ours_load": r.get("load_avg"),
                               "within_budget": r["value"] is not None and r["wall_s"] <= budget}
        if ca and ca["status"] not in NOT_RUN:
            row["ca"] = {"value": ca["value"], "status": ca["status"], "wall_s": ca["wall_s"],
                         "held": ca.get("constraints_all_held"), "load": ca.get("load_avg"),
                         "latency_ms": next((c["measured"] for c in ca.get("constraints") or []
                                             if c["name"] == "inference_latency"), None),
                         "limit_ms": next((c["target"] for c in ca.get("constraints") or []
                                           if c["name"] == "inference_latency"), None)}
            tally["ca_n"] += 1
            tally["ca_held"] += bool(row["ca"]["held"])
        for system in BASELINES:
            b = (results["baselines"].get(r["dataset"]) or {}).get(system)
            if not b:
                continue
            value = None if "error" in b else b.get("value")
            gain = _gain(r["metric"], r["value"], value)
            if value is None:
                verdict = "baseline failed" if r["value"] is not None else "both failed"
            elif r["value"] is None:
                verdict = "loss (ours failed)"
            elif system == "autogluon":
                verdict = "win" if gain > 0 else ("within 1%" if gain >= -tolerance else "loss")
            else:
                verdict = "win" if gain > 0 else ("tie" if gain == 0 else "loss")
            row[system] = {"value": value, "gain": gain, "verdict": verdict, "wall_s": b.get("process_wall_s"),
                           "fit_s": (b.get("measured") or {}).get("training_time"), "load": b.get("load_avg"),
                           "error": b.get("error")}
        tally["n"] += 1
        tally["within_budget"] += row["within_budget"]
        tally["autogluon_ok"] += (row.get("autogluon") or {}).get("verdict") in ("win", "within 1%",
                                                                                 "baseline failed")
        tally["flaml_ahead"] += (row.get("flaml") or {}).get("verdict") in ("win", "baseline failed")
        rows.append(row)
    return {"tolerance": tolerance, "budget_s": budget, "rows": rows, "tally": tally}


def write_outputs(results: dict[str, Any], out_dir: Path, bench_python: str | None) -> None:
    results["summary"] = summary(results)
    (out_dir / "results.json").write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    (out_dir / "results.md").write_text(report.markdown(results), encoding="utf-8")


def chart(out_dir: Path, bench_python: str | None) -> str | None:
    """chart.png with matplotlib here, else with the benchmark venv's python; None when neither has it."""
    png = out_dir / "chart.png"
    try:
        report.chart(json.loads((out_dir / "results.json").read_text()), png)
        return str(png)
    except ImportError:
        pass
    if bench_python:
        res = subprocess.run([bench_python, str(HERE / "report.py"), "chart", str(out_dir / "results.json"), str(png)],
                             check=False, capture_output=True, text=True, timeout=300)
        if res.returncode == 0:
            return str(png)
        _log(f"chart failed: {res.stderr.strip()[-300:]}")
    return None


# ------------------------------------------------------------------------------------------ main
def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description="Run the AutoML-Agent benchmark suite "
                                "(the paper's SR / NPS / CS) against FLAML and AutoGluon.")
    p.add_argument("--suite", choices=SUITES, default="paper",
                   help="paper: the paper's datasets in ../shared/datasets (suite.py); wide: real tables that "
                        "packages ship as files, never tuned on (registry.py)")
    p.add_argument("--half", choices=tuple(registry.HALVES), default=None,
                   help="wide suite only: dev (may be tuned on) or check (kept aside for the end); default both")
    p.add_argument("--datasets", help="comma-separated suite keys (default: all); see benchmarks/suite.py, registry.py")
    p.add_argument("--tabular-only", action="store_true", help="only the tabular datasets")
    p.add_argument("--settings", default="cf,ca", help="cf (constraint-free), ca (constraint-aware) or both")
    p.add_argument("--budget", type=float, default=60.0, help="our budget_s, seconds (passed to AutoMLAgent)")
    p.add_argument("--plans", type=int, default=3, help="number of competing plans (n_plans)")
    p.add_argument("--top-k", type=int, default=None, help="candidates per plan (default: the product's)")
    p.add_argument("--no-probe", action="store_true", help="skip the model agent's probe fits (smoke runs)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--llm", default=None, help="model name for the LLM brain (default: the offline brain)")
    p.add_argument("--timeout", type=float, default=None,
                   help="hard wall limit per run of ours (default 6*budget+180; wide suite 2*budget+60)")
    p.add_argument("--baselines", default="flaml,autogluon", help="flaml,autogluon | none")
    p.add_argument("--baseline-budget", type=float, default=60.0, help="FLAML time_budget / AutoGluon time_limit (s)")
    p.add_argument("--bench-python", default=None, help="python of the venv with FLAML/AutoGluon (default .venv-bench)")
    p.add_argument("--python", default=sys.executable, help="python that runs our pipeline (default: this one)")
    p.add_argument("--datasets-dir", default=None, help="default ../shared/datasets or $AUTOML_AGENT_DATASETS; "
                   "wide suite: where the CSVs are written (default benchmarks/work/data)")
    p.add_argument("--date", default=None, help="results folder name (default: today, YYYY-MM-DD)")
    p.add_argument("--out", default=None, help="results folder (default benchmarks/results/<date>, wide suite "
                   "benchmarks/results/<date>-wide[-<half>])")
    p.add_argument("--work-dir", default=None, help="run folders and logs (default benchmarks/work/<date>)")
    p.add_argument("--non-tabular", choices=("run", "check"), default="run",
                   help="check: for text/image/time-series/graph rows only ask whether the task is supported")
    p.add_argument("--resume", action="store_true",
                   help="keep the rows of an earlier run in --out and rerun only those that timed out or crashed "
                        "(and rows only support-checked before, with --non-tabular run), and baselines whose split "
                        "could not be taken from our pipeline's own cells (same options and code copy required)")
    p.add_argument("--no-chart", action="store_true")
    p.add_argument("--no-snapshot", action="store_true",
                   help="run the package in place instead of a copy taken at the start")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    keys = args.datasets.split(",") if args.datasets else None
    sources: dict[str, Any] = {}
    if args.suite == "wide":
        entries = registry.select(keys, args.half)
        args.datasets_dir = str(Path(args.datasets_dir or registry.DATA_DIR).resolve())
        for e in entries:  # the CSVs, written from the packages' own files (no download)
            sources[e.key] = registry.materialise(e, args.datasets_dir)
        args.timeout = args.timeout or (2 * args.budget + 60)
        args.no_chart = True  # NPS of an RMSE in the hundreds is ~0: the head-to-head table says it instead
        folder = "wide" + (f"-{args.half}" if args.half else "")
    else:
        if args.half:
            raise SystemExit("--half applies to --suite wide only")
        args.datasets_dir = str(datasets_dir(args.datasets_dir))
        entries = select(keys, args.tabular_only)
        args.timeout = args.timeout or (6 * args.budget + 180)
        folder = ""
    settings = [s.strip() for s in args.settings.split(",") if s.strip()]
    if not set(settings) <= set(SETTINGS):
        raise SystemExit(f"--settings: choose from {', '.join(SETTINGS)}")
    date = args.date or dt.date.today().isoformat()
    out_dir = (Path(args.out) if args.out else HERE / "results" / (f"{date}-{folder}" if folder else date)).resolve()
    work = (Path(args.work_dir) if args.work_dir else HERE / "work" / (f"{date}-{folder}" if folder else date)).resolve()
    records = out_dir / "records"
    for d in (out_dir, work, records):
        d.mkdir(parents=True, exist_ok=True)
    args.bench_python = args.bench_python or default_bench_python()
    wanted = [] if args.baselines.strip() in ("", "none") else [b.strip() for b in args.baselines.split(",")]
    unknown = set(wanted) - set(BASELINES)
    if unknown:
        raise SystemExit(f"--baselines: unknown {sorted(unknown)}; choose from {', '.join(BASELINES)} or none")
    skipped = available_baselines(args.bench_python, wanted)
    usable = [b for b in wanted if skipped[b] is None]
    for b, why in skipped.items():
        if why:
            _log(f"baseline {b} skipped: {why}")
    t_start = time.perf_counter()
    previous = _read_json(out_dir / "results.json") if args.resume else None
    if previous:
        pc = previous["config"]
        same = {k: (pc.get(k), v) for k, v in (("budget_s", args.budget), ("n_plans", args.plans),
                                                 ("baseline_budget_s", args.baseline_budget), ("seed", args.seed),
                                                 ("llm", args.llm or "offline")) if pc.get(k) != v}
        if same:
            raise SystemExit(f"--resume: the options differ from the previous run's: {same}")
    if previous and (previous["config"].get("code") or {}).get("snapshot") and \
            Path(previous["config"]["code"]["snapshot"]).exists():
        code = previous["config"]["code"]  # the same code as the rows being kept
        ENV["PYTHONPATH"] = str(Path(code["snapshot"]).parent)
    elif args.no_snapshot:
        code = {"snapshot": None, "git_head": _git("rev-parse", "--short", "HEAD")}
    else:
        code = snapshot_code(work)
    _log(f"code: {code}")
    results: dict[str, Any] = {
        "schema": 1, "date": date, "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": "python -m benchmarks " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])),
        "config": {"suite": args.suite, "half": args.half, "datasets": [e.key for e in entries],
                   "halves": {e.key: registry.half_of(e.key) for e in entries} if args.suite == "wide" else None,
                   "sources": sources or None, "settings": settings, "budget_s": args.budget,
                   "n_plans": args.plans, "top_k": args.top_k, "probe": not args.no_probe, "seed": args.seed,
                   "llm": args.llm or "offline", "baseline_budget_s": args.baseline_budget,
                   "timeout_s": args.timeout, "baselines": usable,
                   "non_tabular": args.non_tabular, "code": code,
                   "baselines_skipped": {b: w for b, w in skipped.items() if w}, "datasets_dir": args.datasets_dir},
        "machine": machine(args.bench_python if usable else None),
        "paper_reference": {"note": "AutoML-Agent (GPT-4o) as reported in the paper, read from its charts "
                                    "(+-0.03); from the paper, not re-run",
                            **PAPER, "per_dataset_cf_nps": {e.key: e.paper_nps_cf for e in entries if e.paper_nps_cf}},
        "rows": [], "baselines": {},
    }
    old_rows: dict[tuple[str, str], dict[str, Any]] = {}
    old_base: dict[str, dict[str, Any]] = {}
    if previous:
        results["created"] = previous["created"]
        results["commands"] = previous.get("commands", [previous["command"]]) + [results["command"]]
        results["command"] = previous["command"]
        results["machine"]["load_avg_start"] = previous["machine"].get("load_avg_start")
        results["wall_s_previous"] = previous.get("wall_s_total")
        old_rows = {(r["dataset"], r["setting"]): r for r in previous["rows"]}
        old_base = previous.get("baselines") or {}
    for entry in entries:
        for setting in settings:
            if setting not in entry.instructions:  # the wide bench has no latency variant for some tables
                continue
            old = old_rows.get((entry.key, setting))
            rerun = old and (old["status"] in RERUN or (old["status"] == "not_run" and args.non_tabular == "run"))
            if old and not rerun:
                results["rows"].append(old)
                _log(f"ours  {entry.key:20s} {setting} kept from the previous run ({old['status']})")
                continue
            _log(f"ours  {entry.key:20s} {setting} ...")
            row = run_ours(entry, setting, args, work, records)
            if old:
                row["rerun_of"] = {k: old.get(k) for k in ("status", "message", "wall_s", "load_avg_1min", "started")}
            results["rows"].append(row)
            sc = row["scores"]
            _log(f"ours  {entry.key:20s} {setting} {row['status']}: {row['metric']}={row['value']} "
                 f"SR={sc['SR']} NPS={sc['NPS']} CS={sc['CS']} ({row['wall_s']:.0f} s)")
            write_outputs(results, out_dir, args.bench_python)
        if not (usable and entry.supervised_tabular):
            continue
        mine = [r for r in results["rows"] if r["dataset"] == entry.key]
        # the split comes from a run that got as far as writing pipeline.py (its own split cells), else any
        # run that profiled the data (run.json holds what the re-implementation of the split needs)
        usable_runs = [r for r in mine if r.get("run_dir") and (Path(r["run_dir"]) / "run.json").exists()
                       and (r.get("split") or {}).get("sizes")]
        source = next((r for r in usable_runs if (Path(r["run_dir"]) / "pipeline.py").exists()),
                      usable_runs[0] if usable_runs else None)
        ca_row = next((r for r in mine if r["setting"] == "ca" and r["status"] not in NOT_RUN), None)
        results["baselines"][entry.key] = {}
        for system in usable:
            kept = (old_base.get(entry.key) or {}).get(system)
            verified = (kept or {}).get("split", {}).get("source", "").startswith("pipeline.py") or not (
                source and (Path(source["run_dir"]) / "pipeline.py").exists())
            if kept and "error" not in kept and verified:
                results["baselines"][entry.key][system] = kept
                _log(f"base  {entry.key:20s} {system} kept from the previous run")
                continue
            if source is None:
                results["baselines"][entry.key][system] = {"system": system, "error": "our run left no split to reuse",
                                                           **score_row(entry.metric, None)}
                continue
            _log(f"base  {entry.key:20s} {system} ...")
            res = run_baseline(system, entry, source, args, work)
            if kept:  # a rerun on --resume: keep what the first fit gave
                res["replaces"] = {k: kept.get(k) for k in ("value", "error", "process_wall_s", "load_avg_1min")}
                res["replaces"]["split_source"] = (kept.get("split") or {}).get("source")
            res["constraints"] = baseline_checks(res, ca_row, entry)
            res["constraints_all_held"] = (all(c["pass"] is True for c in res["constraints"])
                                           if res["constraints"] else None)
            results["baselines"][entry.key][system] = res
            _log(f"base  {entry.key:20s} {system}: {res.get('value', res.get('error'))} "
                 f"({res['process_wall_s']:.0f} s)")
            write_outputs(results, out_dir, args.bench_python)
    results["machine"]["load_avg_end"] = _load()
    results["wall_s_total"] = round(time.perf_counter() - t_start + (results.get("wall_s_previous") or 0), 1)
    write_outputs(results, out_dir, args.bench_python)
    if not args.no_chart:
        png = chart(out_dir, args.bench_python)
        results["chart"] = Path(png).name if png else None
        write_outputs(results, out_dir, args.bench_python)
    _log(f"wrote {out_dir / 'results.md'} ({results['wall_s_total']:.0f} s)")
    return 0
