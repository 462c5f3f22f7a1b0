"""Data agent: retrieval (the user's file), loading, profiling, split policy, preprocessing plan."""
from __future__ import annotations

from typing import Any

from ..brains import Brain
from ..schema import DataAnalysis, DataAnalysisRequest, DataReport, Plan, Requirements
from ..tasks import for_task


class DataAgent:
    def __init__(self, brain: Brain) -> None:
        self.brain = brain

    def peek(self, path: str) -> dict[str, Any]:
        """A cheap look at the file for the prompt agent (columns and their values)."""
        from ..tasks import peek_data

        return peek_data(path)

    def profile(self, req: Requirements, seed: int) -> tuple[DataReport, Any]:
        return for_task(req.task).profile(req.data_path or "", req, seed)

    def analyse(self, plans: list[Plan], req: Requirements, report: DataReport) -> dict[str, DataAnalysis]:
        """Each plan's preprocessing steps and expected processed data, from the real profile (one decision
        for all plans). Only the profile is shown to the brain, never the data."""
        answer = self.brain.ask(DataAnalysisRequest(requirements=req, data_report=report, plans=plans,
                                                    recipes=recipes_for(req.task)))
        by_id = {a.plan_id: a for a in answer.analyses}
        return {p.id: by_id.get(p.id) or DataAnalysis(summary="", plan_id=p.id) for p in plans}


def recipes_for(task: str | None) -> dict[str, str]:
    """The preprocessing recipes (name -> what it does, from the catalogue) a brain's plan may choose from for
    ``task``: the task module's ``recipes`` where it declares them, else the tabular recipes for a tabular
    task, else the recipes that the task's models use."""
    from ..knowledge import catalogue

    module = for_task(task)
    if getattr(module, "recipes", None):
        return dict(module.recipes)
    recipes = catalogue().get("recipes", {})
    if module.modality == "tabular":
        return {k: str(v["text"]) for k, v in recipes.items() if v.get("modality") == "tabular"}
    used = {r for m in catalogue().get("models", {}).values() if task in m.get("tasks", [])
            for r in (m.get("recipes") or [m.get("preprocessing")])}
    return {k: str(v.get("text", k)) for k, v in recipes.items() if k in used}
