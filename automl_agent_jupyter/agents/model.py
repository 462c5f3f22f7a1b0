"""Model agent: candidate retrieval, training-free ranking (priors + a labelled probe), top-k, budgets.

All plans are ranked in one decision. When a language model ranks, it chooses the candidates and its
predictions are kept as ``Candidate.llm_estimate`` (with its own rank) and labelled "LLM estimate" in
``basis``; where the probe measured numbers, those stay the candidate's predictions, and the order
follows the predicted numbers (verification.rank_candidates), so an LLM's guess never outranks a
measurement. Without a probe the LLM's estimates are the predictions, labelled as such.
"""
from __future__ import annotations

import math
from typing import Any

from ..brains import Brain
from ..knowledge import model_entry
from ..schema import Candidate, DataReport, Plan, RankRequest, Requirements
from ..tasks import for_task
from ..tasks.scoring import higher_is_better
from ..verification import rank_candidates

PREDICTIONS = ("predicted_metric", "predicted_train_s", "predicted_latency_ms", "predicted_size_mb")
BOUNDED = ("f1", "accuracy", "precision", "recall", "roc_auc", "rand_index", "r2")  # at most 1


class ModelAgent:
    def __init__(self, brain: Brain) -> None:
        self.brain = brain

    def rank(self, plans: list[Plan], req: Requirements, report: DataReport, data: Any,
             settings: dict[str, Any]) -> list[Plan]:
        """Every plan with its top-k candidates, best first, each with predictions and a tuning budget."""
        task = for_task(req.task)
        metric = task.primary_metric(req, report)
        probed = []
        for plan in plans:
            candidates = [Candidate(name=k, family=model_entry(k)["family"]) for k in plan.model_families]
            if settings.get("probe", True):
                candidates = task.probe(plan, candidates, data, report, req, settings["seed"],
                                        budget_s=settings.get("budget_s"))
            probed.append(plan.model_copy(update={"candidates": candidates}))
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
            top = top[: settings["top_k"]] or plan.candidates[: settings["top_k"]]
            top = [c.model_copy(update={"rank": i + 1}) for i, c in enumerate(top)]
            out.append(plan.model_copy(update={"candidates": self._budget(top, settings["budget_s"])}))
        return out

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
