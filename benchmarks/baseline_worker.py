"""Fit one classic AutoML baseline (FLAML or AutoGluon) on the pipeline's own split and score it on its test split.

Runs in the benchmark venv (``.venv-bench``), never in the product's: the harness starts it as a
subprocess, ``python benchmarks/baseline_worker.py SPEC.json``, and reads the JSON it writes to
``spec["result"]``.

The split: the worker executes the ``setup`` and ``load_split`` cells of the pipeline's own generated
``pipeline.py`` (so train/valid/test are exactly the rows our model saw), and checks them against an
independent re-implementation of the same split from ``run.json`` (seed, ratios, dropped columns, read
options). When the run left no script, the re-implementation alone is used.

Both systems get train as training data and valid as their validation / tuning data (our pipeline
tunes on valid and refits on train+valid), the same time limit, and the metric we are scored on:
F1 (binary, positive class = CLASSES[1]), weighted F1 (multi-class), RMSLE (fitted as RMSE on
log1p(target), predictions mapped back with expm1; neither system offers RMSLE directly).
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


# ------------------------------------------------------------------------------------------ the split
def _cells(script: str) -> dict[str, str]:
    parts = re.split(r"^# %% \[(\w+)\][^\n]*\n", script, flags=re.MULTILINE)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def split_from_pipeline(run_dir: Path) -> dict[str, Any] | None:
    script = run_dir / "pipeline.py"
    if not script.exists():
        return None
    cells = _cells(script.read_text(encoding="utf-8"))
    if "setup" not in cells or "load_split" not in cells:
        return None
    ns: dict[str, Any] = {"__name__": "automl_agent_pipeline"}
    cwd = os.getcwd()
    try:
        exec(compile(cells["setup"], "pipeline.py[setup]", "exec"), ns)  # noqa: S102 - our own generated code
        exec(compile(cells["load_split"], "pipeline.py[load_split]", "exec"), ns)  # noqa: S102
    finally:
        os.chdir(cwd)
    keep = ("X_train", "X_valid", "X_test", "y_train", "y_valid", "y_test")
    return {k: ns[k] for k in keep} | {"classes": ns.get("CLASSES")}


def split_replicated(rec: dict[str, Any]) -> dict[str, Any]:
    """The same split as templates/tabular/load_split.py.j2, from the run record alone."""
    from sklearn.model_selection import train_test_split

    report, req = rec["data_report"], rec["requirements"]
    task = req["problem"]["downstream_task"]
    target = report["target"]
    df = pd.read_csv(report["path"], **(report.get("extra", {}).get("read_kwargs") or {}))
    df = df.drop(columns=list(report.get("dropped_columns") or {}))
    df = df[df[target].notna()].reset_index(drop=True)
    X = df.drop(columns=[target])
    classes = None
    if task == "tabular_classification":
        classes = sorted(df[target].unique().tolist(), key=str)
        y = df[target].map({c: i for i, c in enumerate(classes)}).astype(int)
        stratify = y
    elif task == "tabular_clustering":
        y = df[target].astype("category").cat.codes
        stratify = None
    else:
        y = df[target].astype(float)
        stratify = None
    seed, split = rec["seed"], report["split"]
    X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_size=split["test_size"], random_state=seed,
                                                      stratify=stratify)
    X_train, X_valid, y_train, y_valid = train_test_split(
        X_rest, y_rest, test_size=split["valid_size_of_rest"], random_state=seed,
        stratify=None if stratify is None else y_rest)
    return {"X_train": X_train, "X_valid": X_valid, "X_test": X_test, "y_train": y_train, "y_valid": y_valid,
            "y_test": y_test, "classes": classes}


def _fingerprint(s: dict[str, Any]) -> str:
    h = hashlib.sha256()
    for k in ("X_train", "X_valid", "X_test"):
        h.update(np.asarray(s[k].index).tobytes())
    h.update(np.asarray(s["y_test"]).astype(float).tobytes())
    return h.hexdigest()[:16]


def get_split(spec: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    rec = json.loads(Path(spec["record"]).read_text(encoding="utf-8"))
    replicated = split_replicated(rec)
    info: dict[str, Any] = {"replicated_fingerprint": _fingerprint(replicated)}
    try:
        from_pipeline = split_from_pipeline(Path(spec["run_dir"]))
    except Exception as exc:  # the script did not run here: say so, use the re-implementation
        from_pipeline, info["pipeline_cells_error"] = None, f"{type(exc).__name__}: {exc}"
    if from_pipeline is not None:
        info["source"] = "pipeline.py cells setup + load_split"
        info["fingerprint"] = _fingerprint(from_pipeline)
        info["identical_to_replication"] = info["fingerprint"] == info["replicated_fingerprint"]
        chosen = from_pipeline
    else:
        info["source"] = "re-implementation from run.json"
        info["fingerprint"] = info["replicated_fingerprint"]
        chosen = replicated
    info["sizes"] = {k: len(chosen[f"X_{k}"]) for k in ("train", "valid", "test")}
    ran = {}
    try:  # the sizes the generated code itself printed (results.json in the run folder)
        ran = json.loads((Path(spec["run_dir"]) / "results.json").read_text(encoding="utf-8")).get("split") or {}
    except (OSError, ValueError):
        pass
    info["run_sizes"] = ran.get("sizes")
    info["sizes_match_run"] = None if not ran else info["sizes"] == ran.get("sizes")
    info["record_sizes"] = (rec.get("split") or {}).get("sizes")  # run.json: the data agent's planned sizes
    return chosen, info


# ------------------------------------------------------------------------------------------ systems
def fit_flaml(s: dict[str, Any], kind: str, metric: str, time_limit: float, seed: int, work: Path):
    from flaml import AutoML
    from sklearn.metrics import f1_score

    automl = AutoML()
    kwargs: dict[str, Any] = {"time_budget": time_limit, "seed": seed, "verbose": 0, "X_val": s["X_valid"],
                              "eval_method": "holdout", "log_file_name": str(work / "flaml.log")}
    y_train, y_valid = s["y_train"], s["y_valid"]
    if kind == "regression":
        task = "regression"
        if metric == "rmsle":
            y_train, y_valid = np.log1p(y_train.clip(lower=0)), np.log1p(y_valid.clip(lower=0))
        kwargs["metric"] = "rmse"
    else:
        task = "classification"
        if kind == "binary" and metric == "f1":
            kwargs["metric"] = "f1"
        else:
            avg = metric.split("_")[1] if "_" in metric else "weighted"

            def f1_avg(X_val, y_val, estimator, labels, X_train, y_train_, *args, **kw):
                return 1 - f1_score(y_val, estimator.predict(X_val), average=avg), {}

            kwargs["metric"] = f1_avg
    kwargs["y_val"] = y_valid
    t0 = time.perf_counter()
    automl.fit(s["X_train"], y_train, task=task, **kwargs)
    fit_s = time.perf_counter() - t0

    def predict(X):
        p = automl.predict(X)
        return np.expm1(p) if kind == "regression" and metric == "rmsle" else p

    size_mb = len(pickle.dumps(automl.model)) / 2**20
    info = {"best_estimator": automl.best_estimator, "best_config": automl.best_config}
    return predict, fit_s, size_mb, info


def fit_autogluon(s: dict[str, Any], kind: str, metric: str, time_limit: float, seed: int, work: Path):
    from autogluon.tabular import TabularPredictor

    label = "__target__"
    y_train, y_valid = s["y_train"], s["y_valid"]
    if kind == "regression":
        eval_metric = "rmse"
        if metric == "rmsle":
            y_train, y_valid = np.log1p(y_train.clip(lower=0)), np.log1p(y_valid.clip(lower=0))
    else:
        eval_metric = metric if metric in ("f1", "f1_weighted", "f1_macro", "accuracy") else "f1_weighted"
    train = s["X_train"].assign(**{label: np.asarray(y_train)})
    valid = s["X_valid"].assign(**{label: np.asarray(y_valid)})
    path = work / "autogluon_model"
    shutil.rmtree(path, ignore_errors=True)
    predictor = TabularPredictor(label=label, problem_type=kind, eval_metric=eval_metric, path=str(path),
                                 verbosity=0)
    t0 = time.perf_counter()
    predictor.fit(train, tuning_data=valid, time_limit=time_limit, presets="medium_quality")
    fit_s = time.perf_counter() - t0
    size_mb = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20
    try:
        predictor.persist()  # AutoGluon's advice for online inference: models kept in memory
    except Exception:  # noqa: BLE001 - older/newer APIs
        pass

    def predict(X):
        p = np.asarray(predictor.predict(X))
        return np.expm1(p) if kind == "regression" and metric == "rmsle" else p

    info = {"best_model": predictor.model_best,
            "decision_threshold": getattr(predictor, "decision_threshold", None)}
    return predict, fit_s, size_mb, info


SYSTEMS = {"flaml": fit_flaml, "autogluon": fit_autogluon}


def version(system: str) -> str:
    try:
        from importlib.metadata import version as v

        return v({"flaml": "flaml", "autogluon": "autogluon.tabular"}[system])
    except Exception:  # noqa: BLE001
        return "?"


# ------------------------------------------------------------------------------------------ main
def run(spec: dict[str, Any]) -> dict[str, Any]:
    from automl_agent_jupyter.tasks.scoring import score

    system, metric, task = spec["system"], spec["metric"], spec["task"]
    work = Path(spec["work_dir"])
    work.mkdir(parents=True, exist_ok=True)
    os.chdir(work)  # catboost_info/ and friends land here, not in the repository
    out: dict[str, Any] = {"system": system, "version": version(system), "metric": metric,
                           "time_limit_s": spec["time_limit"]}
    t_all = time.perf_counter()
    s, out["split"] = get_split(spec)
    if task == "tabular_regression":
        kind = "regression"
    else:
        kind = "binary" if len(np.unique(s["y_train"])) == 2 else "multiclass"
    predict, fit_s, size_mb, info = SYSTEMS[system](s, kind, metric, float(spec["time_limit"]),
                                                    int(spec.get("seed", 0)), work)
    t = time.perf_counter()
    pred = predict(s["X_test"])
    total_s = time.perf_counter() - t
    out["value"] = score(metric, np.asarray(s["y_test"]), np.asarray(pred))
    rows = [s["X_test"].iloc[[i]] for i in range(min(int(spec.get("latency_rows", 100)), len(s["X_test"])))]
    predict(rows[0])  # warm-up
    lat = []
    for r in rows:
        t = time.perf_counter()
        predict(r)
        lat.append((time.perf_counter() - t) * 1000.0)
    out["measured"] = {"training_time": fit_s, "inference_latency": float(np.median(lat)),
                       "inference_latency_p95": float(np.percentile(lat, 95)),
                       "inference_time_total": total_s, "model_size": size_mb}
    out["info"] = json.loads(json.dumps(info, default=str))
    out["wall_s"] = time.perf_counter() - t_all
    if not spec.get("keep_models"):
        shutil.rmtree(work / "autogluon_model", ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    try:
        result = run(spec)
    except Exception as exc:  # noqa: BLE001 - reported as a failed baseline row, never a crash of the suite
        result = {"system": spec.get("system"), "error": f"{type(exc).__name__}: {exc}",
                  "traceback": traceback.format_exc()[-4000:]}
    Path(spec["result"]).write_text(json.dumps(result, indent=1, default=str), encoding="utf-8")
    return 0 if "error" not in result else 1


if __name__ == "__main__":
    sys.exit(main())
