"""Operation agent: writes the selected plan as cells, runs them, diagnoses and repairs failures."""
from __future__ import annotations

from typing import Any, Callable

from ..brains import Brain
from ..execution import CellResult
from ..schema import Attempt, CellSpec, CodeEdits, DataReport, Plan, Repair, Requirements
from ..tasks import for_task


class OperationAgent:
    def __init__(self, brain: Brain, check_code: Callable[[str], list[Any]] | None = None) -> None:
        self.brain = brain
        self.check_code = check_code  # safety check for code that did not come from our templates

    def write(self, plan: Plan, req: Requirements, report: DataReport, settings: dict[str, Any]) -> list[CellSpec]:
        cells = for_task(req.task).cells(plan, req, report, settings)
        edits = self.brain.decide("write_code", {"plan": plan, "requirements": req,
                                                 "cells": [c.model_dump() for c in cells]}, CodeEdits)
        for c in cells:
            if c.stage in edits.edits and edits.edits[c.stage].strip():
                c.params["template_source"] = c.source
                c.source = edits.edits[c.stage]
        return cells

    def diagnose(self, cell: CellSpec, result: CellResult, attempt: int, plan: Plan) -> Repair:
        return self.brain.decide("debug", {
            "stage": cell.stage, "error_type": result.error_type or "Error", "error": result.error or "",
            "traceback": result.traceback or "", "attempt": attempt, "cell_source": cell.source,
            "template_source": cell.params.get("template_source", cell.source),
            "candidates": [c.name for c in plan.candidates]}, Repair)

    @staticmethod
    def apply(repair: Repair, plan: Plan) -> Plan:
        """A plan changed as a 'rerender' repair asks (the cells are then written again from templates)."""
        p = plan.model_copy(deep=True)
        if "drop_candidate" in repair.params:
            p.candidates = [c for c in p.candidates if c.name != repair.params["drop_candidate"]]
        if "replace_candidate" in repair.params:
            old, new = repair.params["replace_candidate"]
            for c in p.candidates:
                if c.name == old:
                    c.name = new
        for key in ("stratify", "max_train_fraction", "mixed_as_categorical"):
            if key in repair.params:
                p.preprocessing[key] = repair.params[key]
        p.model_families = [c.name for c in p.candidates]
        return p

    @staticmethod
    def attempt(plan: Plan, cell: CellSpec, n: int, result: CellResult, repair: Repair | None) -> Attempt:
        return Attempt(plan_id=plan.id, stage=cell.stage, attempt=n, ok=result.ok, seconds=round(result.seconds, 3),
                       error_type=result.error_type, error=result.error, traceback=result.traceback,
                       repair=repair.diagnosis if repair else None, stdout_tail=result.stdout[-1500:])
