"""Prompt agent: the user's instruction (plus a peek at the data) -> Requirements (the paper's JSON).

The rules read every field with its evidence and a confidence (``brains/offline/parser.py``). With an LLM
brain, the fields the rules read confidently stand, and the LLM is asked only about the uncertain ones
(``Requirements.uncertain``): its validated answer decides those fields and ``field_sources`` says so
(``source="llm"``); when every field is confident, the LLM is not asked at all. A rejected answer leaves
the rules' reading, with the reason in the field's evidence.
"""
from __future__ import annotations

from typing import Any

from ..brains import Brain
from ..schema import DatasetSpec, FieldSource, ParseRequest, Question, Requirements

LLM_BAR = 0.6  # an LLM brain is asked about the fields the rules read with less confidence than this


class PromptAgent:
    def __init__(self, brain: Brain) -> None:
        self.brain = brain

    def parse(self, instruction: str, data_path: str | None, peek: dict[str, Any] | None,
              overrides: dict[str, Any] | None = None) -> Requirements:
        from ..tasks import METRIC_DIRECTION
        from ..verification import COMPLEXITY_UNITS

        req = self._read(ParseRequest(instruction=instruction, data_path=data_path, peek=peek,
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

    def _read(self, request: ParseRequest) -> Requirements:
        """The rules' reading, with the uncertain fields decided by an LLM brain when there is one."""
        from ..brains.offline import parser

        if not self.brain.llm:
            return self.brain.ask(request)
        rules = parser.parse(request.instruction, request.peek, request.data_path)
        fields = [f for f in rules.uncertain(below=LLM_BAR) if f in FIELDS]
        if not fields:
            self.brain.not_asked("parse_requirements", f"the rules read every field with confidence {LLM_BAR} or more")
            return rules
        reading = {k: {"value": f.value, "confidence": f.confidence, "evidence": f.evidence,
                       "options": f.options[:10]} for k, f in rules.field_sources.items() if k in FIELDS}
        answer = self.brain.ask(request.model_copy(update={"rules_reading": reading, "ask_about": fields}))
        llm = self.brain.from_llm("parse_requirements")
        why = next((d.reason for d in reversed(self.brain.decisions) if d.role == "parse_requirements"), "")
        who = getattr(self.brain, "model", "the LLM")
        for field in fields:
            before = rules.field_sources[field]
            value = FIELDS[field](answer)
            if not llm or value in (None, [], {}):
                before.evidence += f" (asked {who}: {why or 'no answer for this field'}; the rules' reading kept)"
                continue
            _take(field, rules, answer)
            rules.field_sources[field] = FieldSource(
                value=value, source="llm", confidence=max(before.confidence, LLM_BAR), options=before.options,
                evidence=f"decided by {who}; the rules had read {before.value!r} ({before.evidence}, "
                         f"confidence {before.confidence})")
        return rules

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


# The fields an LLM may decide (keys of Requirements.field_sources) and how to read each from an answer.
FIELDS: dict[str, Any] = {
    "task": lambda r: r.problem.downstream_task,
    "target": lambda r: r.target,
    "metric": lambda r: [m.model_dump() for m in r.problem.performance_metrics],
    "limits": lambda r: [m.model_dump() for m in r.problem.complexity_metrics],
    "models": lambda r: [m.name for m in r.model],
    "n_clusters": lambda r: r.problem.n_clusters,
    "windows": lambda r: dict(r.problem.task_params),
    "split": lambda r: (r.dataset[0].split or r.dataset[0].split_column) if r.dataset else None,
}


def _take(field: str, req: Requirements, answer: Requirements) -> None:
    """Copy ``field`` from ``answer`` into ``req``."""
    if not req.dataset:
        req.dataset.append(DatasetSpec())
    prob, ds, theirs = req.problem, req.dataset[0], (answer.dataset or [DatasetSpec()])[0]
    if field == "task":
        prob.downstream_task = answer.problem.downstream_task
    elif field == "target":
        ds.target_variables = list(theirs.target_variables[:1])
    elif field == "metric":
        prob.performance_metrics = list(answer.problem.performance_metrics)
    elif field == "limits":
        prob.complexity_metrics = list(answer.problem.complexity_metrics)
    elif field == "models":
        req.model = list(answer.model)
    elif field == "n_clusters":
        prob.n_clusters = answer.problem.n_clusters
    elif field == "windows":
        prob.task_params = dict(answer.problem.task_params)
    elif field == "split":
        ds.split, ds.split_column = theirs.split, theirs.split_column
