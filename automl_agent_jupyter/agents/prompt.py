"""Prompt agent: the user's instruction (plus a peek at the data) -> Requirements (the paper's JSON)."""
from __future__ import annotations

from typing import Any

from ..brains import Brain
from ..schema import Requirements


class PromptAgent:
    def __init__(self, brain: Brain) -> None:
        self.brain = brain

    def parse(self, instruction: str, data_path: str | None, peek: dict[str, Any] | None,
              overrides: dict[str, Any] | None = None) -> Requirements:
        req = self.brain.decide("parse_requirements",
                                {"instruction": instruction, "data_path": data_path, "peek": peek}, Requirements)
        overrides = overrides or {}
        if req.dataset and data_path:
            req.dataset[0].path = data_path
        if overrides.get("target"):
            if not req.dataset:
                from ..schema import DatasetSpec

                req.dataset.append(DatasetSpec(path=data_path))
            req.dataset[0].target_variables = [overrides["target"]]
        if overrides.get("task"):
            req.problem.downstream_task = overrides["task"]
        return req
