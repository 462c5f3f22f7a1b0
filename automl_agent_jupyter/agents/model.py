"""Model agent: candidate retrieval, training-free ranking (priors + a labelled probe), top-k, budgets."""
from __future__ import annotations

from typing import Any

from ..brains import Brain
from ..knowledge import model_entry
from ..schema import Candidate, DataReport, Plan, Ranking, Requirements
from ..tasks import for_task
from ..tasks.scoring import higher_is_better


class ModelAgent:
    def __init__(self, brain: Brain) -> None:
        self.brain = brain

    def rank(self, plan: Plan, req: Requirements, report: DataReport, data: Any, settings: dict[str, Any]) -> Plan:
        task = for_task(req.task)
        metric = task.primary_metric(req, report)
        candidates = [Candidate(name=k, family=model_entry(k)["family"]) for k in plan.model_families]
        if settings.get("probe", True):
            candidates = task.probe(plan, candidates, data, report, req, settings["seed"])
        ranking = self.brain.decide("rank_models", {
            "plan": plan, "requirements": req, "candidates": candidates, "metric": metric,
            "higher_is_better": higher_is_better(metric), "top_k": settings["top_k"],
            "complexity": [c.model_dump() for c in req.problem.complexity_metrics]}, Ranking)
        top = [c for c in ranking.candidates if c.name in plan.model_families] or candidates[: settings["top_k"]]
        return plan.model_copy(update={"candidates": self._budget(top, settings["budget_s"])})

    @staticmethod
    def _budget(cands: list[Candidate], budget_s: float) -> list[Candidate]:
        """Split the tuning budget over the candidates as a fixed number of trials (reproducible reruns)."""
        per = budget_s / max(1, len(cands))
        out = []
        for c in cands:
            trial_s = max(0.05, (c.predicted_train_s or 1.0) * 1.5)
            n_trials = int(max(2, min(40, per / trial_s)))
            out.append(c.model_copy(update={"params": {**c.params, "n_trials": n_trials,
                                                       "timeout": round(max(per * 1.25, 5), 1)}}))
        return out
