"""Prompt agent: the user's instruction (plus a peek at the data) -> Requirements (the paper's JSON)."""
from __future__ import annotations

from typing import Any

from ..brains import Brain
from ..schema import DatasetSpec, FieldSource, ParseRequest, Question, Requirements


class PromptAgent:
    def __init__(self, brain: Brain) -> None:
        self.brain = brain

    def parse(self, instruction: str, data_path: str | None, peek: dict[str, Any] | None,
              overrides: dict[str, Any] | None = None) -> Requirements:
        from ..tasks import METRIC_DIRECTION
        from ..verification import COMPLEXITY_UNITS

        req = self.brain.ask(ParseRequest(instruction=instruction, data_path=data_path, peek=peek,
                                          metric_names=list(METRIC_DIRECTION), complexity_units=COMPLEXITY_UNITS))
        overrides = overrides or {}
        for src in req.field_sources.values():
            if src.source == "user":  # only the user's flags and form answers are the user's (never a brain's say)
                src.source = "agent"
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


def apply_answers(req: Requirements, answers: dict[str, Any]) -> Requirements:
    """The requirements with the user's answers (the question widget, the requirements form, the CLI flags):
    each answered field is marked as set by the user in ``field_sources``; the rest stays as inferred.

    ``answers`` keys: task, target, metric ({"name", "value"}: replaces the first metric), limits ({name:
    value or None}), n_clusters, split_column, models (catalogue names)."""
    from ..knowledge import catalogue
    from ..schema import ComplexityMetric, ModelSpec, PerformanceMetric
    from ..verification import COMPLEXITY_UNITS

    req = req.model_copy(deep=True)
    if not req.dataset:
        req.dataset.append(DatasetSpec())
    ds, prob = req.dataset[0], req.problem
    for key, value in answers.items():
        if key == "task":
            prob.downstream_task = value or None
        elif key == "target":
            ds.target_variables = [value] if value else []
        elif key == "metric":
            name = (value or {}).get("name")
            rest = prob.performance_metrics[1:]
            prob.performance_metrics = ([PerformanceMetric(name=name, value=value.get("value"))] if name else []) + \
                [m for m in rest if m.name != name]
        elif key == "limits":
            kept = {c.name: c for c in prob.complexity_metrics if c.name not in value}
            new = {k: ComplexityMetric(name=k, value=float(v), unit=COMPLEXITY_UNITS[k])
                   for k, v in value.items() if v is not None and k in COMPLEXITY_UNITS}
            prob.complexity_metrics = list(kept.values()) + list(new.values())
        elif key == "n_clusters":
            prob.n_clusters = int(value) if value else None
        elif key == "split_column":
            ds.split_column = value or None
        elif key == "models":
            models = catalogue().get("models", {})
            req.model = [ModelSpec(name=m, family=(models.get(m) or {}).get("family", ""), type="preferred",
                                   description="named by the user") for m in value or []]
        else:
            raise ValueError(f"unknown requirement field {key!r}")
        req.field_sources[key] = FieldSource(value=value, source="user", evidence="set by the user")
    return req
