"""Numeric verification: predicted (execution verification) or measured (implementation verification)
numbers against every requirement, each check pass/fail with its reason."""
from __future__ import annotations

from .schema import Candidate, Check, Requirements, Verdict
from .tasks.scoring import higher_is_better

COMPLEXITY_UNITS = {"training_time": "s", "inference_latency": "ms", "inference_time_total": "s",
                    "model_size": "MB", "parameters": "count"}


def _check(name: str, kind: str, target: float | None, value: float | None, unit: str, higher: bool,
           what: str) -> Check:
    if value is None:
        return Check(name=name, kind=kind, target=target, value=None, unit=unit, higher_is_better=higher,
                     passed=None, reason=f"{name} was not {what}")
    if target is None:
        return Check(name=name, kind=kind, target=None, value=value, unit=unit, higher_is_better=higher,
                     passed=None, reason=f"{name} {what} {value:.4g}{unit and ' ' + unit} (no target given)")
    ok = value >= target if higher else value <= target
    cmp_ = (">=" if ok else "<") if higher else ("<=" if ok else ">")
    return Check(name=name, kind=kind, target=target, value=value, unit=unit, higher_is_better=higher, passed=ok,
                 reason=f"{name} {what} {value:.4g}{unit and ' ' + unit} {cmp_} target {target:.4g}")


def _verdict(checks: list[Check], score: float) -> Verdict:
    failed = [c for c in checks if c.passed is False]
    return Verdict(passed=not failed, score=score, checks=checks,
                   reasons=[c.reason for c in (failed or checks)])


def rank_candidates(cands: list[Candidate], higher: bool, limits: dict[str, float]) -> list[Candidate]:
    """Best predicted first; a candidate predicted to break a latency or size limit goes after those that do
    not; candidates without a predicted metric go last. Stable: equal candidates keep their given order."""
    def key(c: Candidate) -> tuple[int, float]:
        breaks = 0
        if "inference_latency" in limits and (c.predicted_latency_ms or 0) > limits["inference_latency"]:
            breaks += 1
        if "model_size" in limits and (c.predicted_size_mb or 0) > limits["model_size"]:
            breaks += 1
        m = c.predicted_metric
        value = float("-inf") if m is None else (m if higher else -m)
        return (breaks, -value)

    return sorted(cands, key=key)


def verify_plan(req: Requirements, metric: str, best: Candidate | None, training_budget_s: float) -> Verdict:
    """Execution verification: the plan's predicted outcome against every requirement."""
    if best is None or best.predicted_metric is None:
        return Verdict(passed=False, score=float("-inf"), reasons=["no candidate could be evaluated"])
    # where no probe measured anything, the numbers are a language model's estimate: say so in every reason
    what = "estimated by the LLM" if best.basis.startswith("LLM estimate") else "predicted"
    checks = []
    for pm in req.problem.performance_metrics:
        name = metric if pm.name in (metric, "f1") and metric.startswith("f1") else pm.name
        value = best.predicted_metric if name == metric else None
        checks.append(_check(pm.name, "performance", pm.value, value, "", higher_is_better(pm.name), what))
    if not any(c.name == metric for c in checks):
        checks.insert(0, _check(metric, "performance", None, best.predicted_metric, "", higher_is_better(metric),
                                what))
    predicted = {"training_time": min(training_budget_s, (best.predicted_train_s or 0) * 20 + 1),
                 "inference_latency": best.predicted_latency_ms, "model_size": best.predicted_size_mb}
    for cm in req.problem.complexity_metrics:
        checks.append(_check(cm.name, "complexity", cm.value, predicted.get(cm.name), cm.unit, False, what))
    higher = higher_is_better(metric)
    score = best.predicted_metric if higher else -best.predicted_metric
    return _verdict(checks, score - sum(1.0 for c in checks if c.passed is False))


def verify_results(req: Requirements, metric: str, test_metrics: dict[str, float],
                   measured: dict[str, float], split: str = "test") -> Verdict:
    """Implementation verification: measured metrics (on ``split``) and costs against every requirement.
    The manager decides revisions on the validation split; the test split's verdict is the one reported."""
    checks = []
    on = f"measured on {split}"
    names = [pm.name for pm in req.problem.performance_metrics]
    if metric not in names and not (metric.startswith("f1") and "f1" in names):
        checks.append(_check(metric, "performance", None, test_metrics.get(metric), "", higher_is_better(metric), on))
    for pm in req.problem.performance_metrics:
        key = metric if pm.name == "f1" and metric.startswith("f1") else pm.name
        checks.append(_check(pm.name, "performance", pm.value, test_metrics.get(key), "",
                             higher_is_better(pm.name), on))
    for cm in req.problem.complexity_metrics:
        checks.append(_check(cm.name, "complexity", cm.value, measured.get(cm.name), cm.unit, False, "measured"))
    value = test_metrics.get(metric)
    score = 0.0 if value is None else (value if higher_is_better(metric) else -value)
    return _verdict(checks, score)


def validation_measured(results: dict) -> dict[str, float]:
    """The costs known when a model has been chosen on validation: what the measure stage measured (one-row
    latency on validation rows), else the train stage's own estimate of the chosen model's latency."""
    measured = dict(results.get("measured") or {})
    if "inference_latency" not in measured:
        sel = results.get("selection") or {}
        lat = [(sel.get("candidates") or {}).get(n, {}).get("latency_ms") for n in sel.get("chosen") or {}]
        if lat and all(v is not None for v in lat):
            measured["inference_latency"] = float(sum(lat))
    return measured
