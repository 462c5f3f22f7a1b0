"""The leaderboard: every candidate a tried plan trained, side by side with what the model agent predicted.

Built from what the generated train cell reports - ``RESULTS["tuning"]`` (per candidate: validation score,
trials or epochs, seconds, parameters) or, for tabular tasks, ``RESULTS["selection"]`` (per candidate: best
validation score, every trial, parameters, single-row latency; the chosen weights) - and ``RESULTS["measured"]``
(the kept model's latency and size), and from the plan's candidates (the model agent's predictions). Scores are on the validation split, as the
metric reads (error metrics are maximised as negatives by the generated code and turned back here).
"""
from __future__ import annotations

import math
from typing import Any

from .schema import LeaderboardRow, Plan
from .tasks.scoring import higher_is_better

KEY_PARAMS = 6  # hyper-parameters shown per row


def _number(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None  # NaN / inf: not a score


def key_params(params: dict[str, Any] | None) -> dict[str, Any]:
    """The hyper-parameters worth a column: plain values, the first few."""
    out: dict[str, Any] = {}
    for k, v in (params or {}).items():
        if isinstance(v, (bool, int, float, str)) or v is None:
            out[k] = round(v, 6) if isinstance(v, float) else v
        elif isinstance(v, (list, tuple)) and len(v) <= 4:
            out[k] = list(v)
        if len(out) >= KEY_PARAMS:
            break
    return out


def _reported(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per candidate, what the train cell reported, in one shape."""
    tuning = {n: dict(t or {}) for n, t in (results.get("tuning") or {}).items()}
    for name, c in ((results.get("selection") or {}).get("candidates") or {}).items():
        trials = c.get("trials") or []
        fitted = [t for t in trials if t.get("valid") is not None]
        tuning[name] = {"best_valid": c.get("best_valid"), "trials": len(trials), "params": c.get("params"),
                        "seconds": round(sum(float(t.get("seconds") or 0) for t in fitted), 3) or None,
                        "latency_ms": c.get("latency_ms")}
    return tuning


def _ensemble(results: dict[str, Any]) -> dict[str, Any]:
    """The kept ensemble's weights and validation score ({} when a single model was kept)."""
    selection = results.get("selection") or {}
    chosen = selection.get("chosen") or {}
    if len(chosen) > 1:
        return {"weights": chosen, "valid": selection.get("ensemble_valid")}
    return results.get("ensemble") or {}


def rows_for(plan: Plan, results: dict[str, Any], metric: str) -> list[LeaderboardRow]:
    """One row per candidate the plan's train cell reported (plus the ensemble when one was kept)."""
    tuning = _reported(results)
    kept = str(results.get("model") or "")
    measured = results.get("measured") or {}
    sign = 1.0 if higher_is_better(metric) else -1.0
    predicted = {c.name: c for c in plan.candidates}
    rows = []
    for name, t in tuning.items():
        t = t or {}
        raw = t.get("best_valid", t.get("valid"))
        score = _number(raw)
        c = predicted.get(name)
        is_kept = name == kept
        params = t.get("params") if isinstance(t.get("params"), dict) else (results.get("params") if is_kept else None)
        rows.append(LeaderboardRow(
            plan_id=plan.id, plan_title=plan.title, model=name, params=key_params(params),
            valid_score=None if score is None else round(sign * score, 6), metric=metric,
            trials=t.get("trials"), epochs=_number(t.get("epochs")), fit_seconds=_number(t.get("seconds")),
            predicted_metric=c.predicted_metric if c else None,
            predicted_latency_ms=c.predicted_latency_ms if c else None,
            latency_ms=_number(t.get("latency_ms")) if not is_kept else _number(measured.get("inference_latency")),
            predicted_size_mb=c.predicted_size_mb if c else None,
            size_mb=_number(t.get("size_mb")) if not is_kept else _number(measured.get("model_size")),
            kept=is_kept))
    ensemble = _ensemble(results)
    if kept == "ensemble" and ensemble:
        weights = ensemble.get("weights") or {}
        score = _number(ensemble.get("valid"))
        rows.append(LeaderboardRow(
            plan_id=plan.id, plan_title=plan.title, model="ensemble", params={k: v for k, v in weights.items()},
            valid_score=None if score is None else round(sign * score, 6), metric=metric,
            latency_ms=_number(measured.get("inference_latency")), size_mb=_number(measured.get("model_size")),
            kept=True, note="greedy ensemble of " + ", ".join(weights)))
        for r in rows:
            if r.model in weights and r.plan_id == plan.id and r.model != "ensemble":
                r.note = f"ensemble member (weight {weights[r.model]})"
    return rows


def merge(board: list[LeaderboardRow], plan: Plan, results: dict[str, Any] | None, metric: str,
          saved: bool = True) -> list[LeaderboardRow]:
    """The run's leaderboard after ``plan`` trained: its rows replace any earlier rows of the same plan. When the
    plan's model was ``saved`` (its save cell wrote the run folder's model), it is the kept one and no earlier
    plan's model stays kept; a plan set aside before its test split saved nothing and keeps no row. Best first."""
    fresh = rows_for(plan, results or {}, metric) if results else []
    if not saved:
        fresh = [r.model_copy(update={"kept": False}) for r in fresh]
    others = [r.model_copy(update={"kept": False}) if fresh and saved else r for r in board if r.plan_id != plan.id]
    out = others + fresh
    higher = higher_is_better(metric)
    return sorted(out, key=lambda r: (r.valid_score is None,
                                      -(r.valid_score or 0.0) if higher else (r.valid_score or 0.0)))


def as_records(board: list[LeaderboardRow]) -> list[dict[str, Any]]:
    """Flat rows for a table (DataFrame, widget): parameters as one short text."""
    out = []
    for r in board:
        d = r.model_dump()
        d["params"] = ", ".join(f"{k}={v}" for k, v in r.params.items())
        out.append(d)
    return out


COLUMNS = ["plan_id", "model", "params", "valid_score", "metric", "trials", "epochs", "fit_seconds",
           "predicted_metric", "predicted_latency_ms", "latency_ms", "predicted_size_mb", "size_mb", "kept", "note",
           "plan_title"]


def to_frame(board: list[LeaderboardRow]):
    """A pandas DataFrame of the leaderboard (the columns in ``COLUMNS``)."""
    import pandas as pd

    return pd.DataFrame(as_records(board), columns=COLUMNS)
