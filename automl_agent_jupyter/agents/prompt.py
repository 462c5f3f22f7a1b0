"""Prompt agent: the user's instruction (plus a peek at the data) -> Requirements (the paper's JSON)."""
from __future__ import annotations

from typing import Any

from ..brains import Brain
from ..schema import DatasetSpec, FieldSource, Question, Requirements


class PromptAgent:
    def __init__(self, brain: Brain) -> None:
        self.brain = brain

    def parse(self, instruction: str, data_path: str | None, peek: dict[str, Any] | None,
              overrides: dict[str, Any] | None = None) -> Requirements:
        from ..tasks import METRIC_DIRECTION
        from ..verification import COMPLEXITY_UNITS

        req = self.brain.decide("parse_requirements", {
            "instruction": instruction, "data_path": data_path, "peek": peek, "metric_names": list(METRIC_DIRECTION),
            "complexity_units": COMPLEXITY_UNITS}, Requirements)
        overrides = overrides or {}
        if data_path and not req.dataset:
            req.dataset.append(DatasetSpec(name=(peek or {}).get("name", ""), path=data_path))
        if req.dataset and data_path:
            req.dataset[0].path = data_path
        if overrides.get("target"):
            if not req.dataset:
                req.dataset.append(DatasetSpec(path=data_path))
            req.dataset[0].target_variables = [overrides["target"]]
            req.field_sources["target"] = FieldSource(value=overrides["target"], source="user",
                                                      evidence="set by the user")
        if overrides.get("task"):
            req.problem.downstream_task = overrides["task"]
            req.field_sources["task"] = FieldSource(value=overrides["task"], source="user", evidence="set by the user")
        return req

    def questions(self, req: Requirements, peek: dict[str, Any] | None) -> list[Question]:
        """What to ask before planning: missing or uncertain fields, each with a best guess and options (the
        same rules for every brain; an answer without confidences is asked about only where it is missing)."""
        from ..brains.offline.parser import questions_for

        return questions_for(req, peek)
