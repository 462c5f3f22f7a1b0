"""Model agent: candidate retrieval, training-free ranking (priors + a labelled probe), top-k, budgets.

Probes spend the same effort on every candidate (task modules' ``probe``), measured in CPU seconds, so the
ranking is the same on a quiet or a busy machine; the learning-curve priors (knowledge/learning_curves)
turn a probe into a full-size prediction with an interval, and a candidate whose interval overlaps the
k-th's stays in the top-k. After training, ``check`` puts what training showed beside every prediction.

All plans are ranked in one decision. When a language model ranks, it chooses the candidates and its
predictions are kept as ``Candidate.llm_estimate`` (with its own rank) and labelled "LLM estimate" in
``basis``; where the probe measured numbers, those stay the candidate's predictions, and the order
follows the predicted numbers (verification.rank_candidates), so an LLM's guess never outranks a
measurement. Without a probe the LLM's estimates are the predictions, labelled as such.
"""
from __future__ import annotations

import importlib
import math
import threading
from typing import Any

from ..brains import Brain
from ..knowledge import model_entry
from ..schema import Candidate, DataReport, Plan, RankRequest, Requirements
from ..tasks import for_task
from ..tasks.base import PROBE_EFFORTS
from ..tasks.scoring import higher_is_better
from ..verification import rank_candidates

PREDICTIONS = ("predicted_metric", "predicted_train_s", "predicted_latency_ms", "predicted_size_mb")
BOUNDED = ("f1", "accuracy", "precision", "recall", "roc_auc", "rand_index", "r2")  # at most 1
# what the probes import on first use (about 2 CPU s together): loaded in the background when the notebook
# extension loads, so the first instruction's planning does not wait for them
PROBE_LIBRARIES = ("sklearn.ensemble", "sklearn.pipeline", "sklearn.svm", "lightgbm", "xgboost")
OVERLAP_EXTRA = 2  # candidates beyond top-k kept because their interval overlaps the k-th's


def warm_up_in_background() -> None:
    """Import the probes' libraries in a daemon thread (a library that is not installed is skipped)."""
    def load() -> None:
        for name in PROBE_LIBRARIES:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - a missing optional library is the probe's to report
                pass

    threading.Thread(target=load, name="automl-agent-probe-libraries", daemon=True).start()


class ModelAgent:
    def __init__(self, brain: Brain) -> None:
        self.brain = brain
        self.effort: dict[str, Any] = {}  # the last ranking's probe effort and why (the record's probe_effort)

    def rank(self, plans: list[Plan], req: Requirements, report: DataReport, data: Any,
             settings: dict[str, Any]) -> list[Plan]:
        """Every plan with its top-k candidates, best first, each with predictions and a tuning budget."""
        task = for_task(req.task)
        metric = task.primary_metric(req, report)
        probed = self._probe_all(task, plans, req, report, data, settings)
        complexity = [c.model_dump() for c in req.problem.complexity_metrics]
        answer = self.brain.ask(RankRequest(
            requirements=req, metric=metric, higher_is_better=higher_is_better(metric), top_k=settings["top_k"],
            complexity=complexity, plans=[p.model_copy(update={"steps": []}) for p in probed]))
        by_id = {r.plan_id: r for r in answer.rankings}
        llm = self.brain.from_llm("rank_models")
        limits = {c["name"]: c["value"] for c in complexity}
        out = []
        for plan in probed:
            ranked = by_id[plan.id].candidates if plan.id in by_id else []
            if llm:  # the LLM's choice and estimates; the order follows the numbers (probe where measured)
                top = rank_candidates(self._merge(plan.candidates, ranked, metric), higher_is_better(metric), limits)
            else:
                top = [c for c in ranked if c.name in plan.model_families]
            top = self._keep_overlapping(top, plan.candidates, metric, limits, settings["top_k"])
            top = [c.model_copy(update={"rank": i + 1}) for i, c in enumerate(top)]
            out.append(plan.model_copy(update={"candidates": self._budget(top, settings["budget_s"])}))
        return out

    @staticmethod
    def probe_effort(task: Any, plans: list[Plan], report: DataReport, settings: dict[str, Any]) -> dict[str, Any]:
        """The probes' effort, from the budget and the data alone: the largest of PROBE_EFFORTS whose probes (one
        per recipe and candidate, as the task modules share them) the cost model prices within the task's
        ``probe_share`` of the run's budget (the settings' ``probe_share`` when set); the smallest when none fits.
        ``probe_effort`` in the settings fixes it (benchmarks). Returns the effort with its sizes, the predicted
        cost and the reason."""
        share = float(settings.get("probe_share") or task.probe_share)
        allowed = share * float(settings["budget_s"])
        probes = sorted({(p.preprocessing.get("recipe") or "", k) for p in plans for k in p.model_families})
        # priced at the upper end of each model's cost interval: the probes fit the share with 80% confidence each
        cost = {e: sum(task.probe_cost_s(k, e, report, upper=True) for _, k in probes) for e in PROBE_EFFORTS}
        if settings.get("probe_effort"):
            effort = float(settings["probe_effort"])
            why = f"fixed by the settings (probe_effort {effort:g})"
            cost.setdefault(effort, sum(task.probe_cost_s(k, effort, report, upper=True) for _, k in probes))
        else:
            effort = next((e for e in PROBE_EFFORTS if cost[e] <= allowed), PROBE_EFFORTS[-1])
            why = (f"the largest probe effort whose {len(probes)} probes the cost model prices (each at its 80% "
                   f"upper cost) within {share:.1%} of the {float(settings['budget_s']):g} s budget ({allowed:.2f} "
                   "reference CPU s)")
            if cost[effort] > allowed:
                why = (f"even the smallest probe effort costs {cost[effort]:.2f} reference CPU s, more than "
                       f"{share:.1%} of the {float(settings['budget_s']):g} s budget ({allowed:.2f} s)")
        return {"effort": effort, **task.probe_size(effort, report), "predicted_cpu_s": round(cost[effort], 3),
                "allowed_cpu_s": round(allowed, 3), "share": share, "budget_s": float(settings["budget_s"]),
                "probes": len(probes), "why": why,
                "cost_by_effort": {f"{e:g}": round(c, 3) for e, c in sorted(cost.items(), reverse=True)}}

    def _probe_all(self, task: Any, plans: list[Plan], req: Requirements, report: DataReport, data: Any,
                   settings: dict[str, Any]) -> list[Plan]:
        """Every plan's candidates probed at the same effort, sized from the budget (``probe_effort``); the
        effort and why are kept in ``self.effort`` (the record's ``probe_effort``), with the CPU the probes
        measured beside the cost model's prediction."""
        self.effort = self.probe_effort(task, plans, report, settings) if settings.get("probe", True) else \
            {"effort": None, "why": "probes switched off in the settings"}
        probed = []
        for plan in plans:
            candidates = [Candidate(name=k, family=model_entry(k)["family"]) for k in plan.model_families]
            if settings.get("probe", True):
                candidates = task.probe(plan, candidates, data, report, req, settings["seed"],
                                        budget_s=settings["budget_s"], effort=self.effort["effort"])
            probed.append(plan.model_copy(update={"candidates": candidates}))
        if settings.get("probe", True):
            seen = {(p.preprocessing.get("recipe") or "", c.name): c.probe.get("cpu_s", 0.0)
                    for p in probed for c in p.candidates}
            self.effort["measured_cpu_s"] = round(sum(seen.values()), 3)  # for the record only: never decides
        return probed

    @staticmethod
    def _keep_overlapping(top: list[Candidate], probed: list[Candidate], metric: str, limits: dict[str, float],
                          k: int) -> list[Candidate]:
        """The top-k, plus (at most OVERLAP_EXTRA) next-best candidates whose predicted interval overlaps the
        k-th's: the probe cannot tell them apart, so training decides."""
        top = top[:k] or rank_candidates(probed, higher_is_better(metric), limits)[:k]
        if not top or top[-1].predicted_interval is None:
            return top
        higher = higher_is_better(metric)
        lo, hi = top[-1].predicted_interval
        names = {c.name for c in top}
        rest = [c for c in rank_candidates(probed, higher, limits) if c.name not in names and c.predicted_interval]
        extra = [c for c in rest if (c.predicted_interval[1] >= lo if higher else c.predicted_interval[0] <= hi)]
        return top + extra[:OVERLAP_EXTRA]

    @staticmethod
    def check(plan: Plan, results: dict[str, Any] | None, metric: str) -> Plan:
        """The plan with each candidate's realized numbers beside its predictions: the validation score its
        training reached (the train cell's RESULTS["tuning"]), its latency and size as trained, and for the
        chosen model the latency and size measured on the saved artifact."""
        # per candidate: the tabular train cell's selection, the other tasks' tuning
        tuning = ((results or {}).get("selection") or {}).get("candidates") or (results or {}).get("tuning") or {}
        measured = (results or {}).get("measured") or {}
        chosen = (results or {}).get("model")
        higher = higher_is_better(metric)
        out = []
        for c in plan.candidates:
            t = tuning.get(c.name)
            if not isinstance(t, dict):
                out.append(c)
                continue
            valid = t.get("best_valid", t.get("valid"))
            real: dict[str, Any] = {
                "valid_metric": None if valid is None else round(float(valid if higher else -valid), 5),
                "latency_ms": t.get("latency_ms"), "latency_cpu_ms": t.get("latency_cpu_ms"), "size_mb": t.get("size_mb"),
                "train_s": t.get("seconds"),
                "trials": len(t["trials"]) if isinstance(t.get("trials"), list) else t.get("trials"),
                "epochs": t.get("epochs"), "chosen": c.name == chosen}
            if c.name == chosen and measured.get("inference_latency") is not None:
                real.update(latency_ms=measured.get("inference_latency"), size_mb=measured.get("model_size"),
                            measured_on="saved model")
            if real["valid_metric"] is not None and c.predicted_interval:
                lo, hi = c.predicted_interval
                real["within_interval"] = bool(lo <= real["valid_metric"] <= hi)
            out.append(c.model_copy(update={"realized": {k: v for k, v in real.items() if v is not None}}))
        return plan.model_copy(update={"candidates": out})

    @staticmethod
    def _merge(probed: list[Candidate], ranked: list[Candidate], metric: str) -> list[Candidate]:
        """The LLM's order and estimates beside the probe's evidence (probe numbers win where measured)."""
        by_name = {c.name: c for c in probed}
        out, seen = [], set()
        for guess in ranked:
            if guess.name not in by_name or guess.name in seen:
                continue
            seen.add(guess.name)
            estimate: dict[str, Any] = {k: v for k in PREDICTIONS
                                        if (v := _plausible(k, getattr(guess, k), metric)) is not None}
            shown = ", ".join(f"{k.removeprefix('predicted_')} {v:.4g}" for k, v in estimate.items()) or "no numbers"
            said = f" ({guess.basis.strip()[:200]})" if guess.basis.strip() else ""
            estimate["rank"] = len(out) + 1  # the LLM's own order, shown beside the numeric one
            if guess.basis.strip():
                estimate["basis"] = guess.basis.strip()[:500]
            base = by_name[guess.name]
            if base.predicted_metric is not None:  # the probe measured: keep its numbers, show the LLM's
                c = base.model_copy(update={"llm_estimate": estimate,
                                            "basis": f"{base.basis}; LLM estimate: {shown}{said}"})
            else:
                why = f"; {base.basis}" if base.basis else ""
                c = base.model_copy(update={**{k: estimate.get(k) for k in PREDICTIONS}, "llm_estimate": estimate,
                                            "basis": f"LLM estimate: {shown}{said}{why}"})
            out.append(c)
        return out

    @staticmethod
    def _budget(cands: list[Candidate], budget_s: float) -> list[Candidate]:
        """Split the tuning budget over the candidates as a fixed number of trials (reproducible reruns);
        the timeout (3x the share) is only a safety net against a bad estimate."""
        per = budget_s / max(1, len(cands))
        out = []
        for c in cands:
            trial_s = max(0.05, (c.predicted_train_s or 1.0) * 1.5)
            n_trials = int(max(2, min(40, per / trial_s)))
            out.append(c.model_copy(update={"params": {**c.params, "n_trials": n_trials,
                                                       "timeout": round(max(per * 3, 5), 1)}}))
        return out


def _plausible(field: str, value: float | None, metric: str) -> float | None:
    """An LLM's number if it can be true (a bounded metric within [0, 1], costs non-negative), else None."""
    if value is None or math.isnan(value):
        return None
    if field == "predicted_metric":
        if metric in BOUNDED or metric.startswith("f1"):
            return value if (-1.0 if metric == "r2" else 0.0) <= value <= 1.0 else None
        return value if value >= 0 else None
    return value if value >= 0 else None
