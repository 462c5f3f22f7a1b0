"""Data agent: retrieval (the user's file), loading, profiling, split policy, preprocessing plan."""
from __future__ import annotations

from typing import Any

from ..brains import Brain
from ..schema import DataAnalysis, DataReport, Plan, Requirements
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

    def analyse(self, plan: Plan, req: Requirements, report: DataReport) -> DataAnalysis:
        from ..tasks.tabular import RECIPE_TEXT

        recipe = plan.preprocessing.get("recipe", "")
        return self.brain.decide("data_analysis", {"requirements": req, "data_report": report, "plan": plan,
                                                   "recipe_text": RECIPE_TEXT.get(recipe, recipe)}, DataAnalysis)
