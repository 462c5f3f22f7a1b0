"""Operation agent: writes the selected plan as cells, runs them, diagnoses and repairs failures.

The cells come from the task's tested templates (trusted). Code a brain wrote instead (an edit of a
template cell, a repaired cell source) is checked by :func:`~automl_agent_jupyter.brains.code_safety.check_code`
first: flagged code does not run unless the user approved flagged code, and the cell / attempt keeps
what was flagged and why.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..brains import Brain
from ..execution import CellResult
from ..schema import Attempt, CellSpec, DataReport, DebugRequest, Plan, Repair, Requirements, WriteCodeRequest
from ..tasks import for_task

# The cells an LLM may edit, and the longest source sent: the others (evaluation, measurement, saving, the
# prediction example, and the long engines such as the tabular train cell) run as tested, and their code is
# not sent (it would be most of the prompt's tokens).
EDITABLE_STAGES = ("setup", "load_split", "preprocess", "train")
MAX_SENT_SOURCE = 10_000  # characters (the tabular load cell, reader included, is about 8,600)


def _shown(cell: CellSpec) -> dict[str, str]:
    """A cell as the write_code request shows it: with its source where it may be edited."""
    if cell.stage in EDITABLE_STAGES and len(cell.source) <= MAX_SENT_SOURCE:
        return {"stage": cell.stage, "title": cell.title, "source": cell.source}
    return {"stage": cell.stage, "title": cell.title,
            "kept": f"tested code ({len(cell.source)} characters, not sent): it runs as it is"}


class OperationAgent:
    def __init__(self, brain: Brain, allowed_hosts: list[str] | None = None, approve_flagged: bool = False) -> None:
        self.brain = brain
        self.allowed_hosts = set(allowed_hosts or [])
        self.approve_flagged = approve_flagged  # the user's explicit approval of flagged code

    # ------------------------------------------------------------------------------ code review
    def review(self, source: str, template_source: str | None, run_dir: str) -> list[str]:
        """Why ``source`` must not run without approval; [] when it is a template's own code or looks safe."""
        if template_source is not None and source.strip() == template_source.strip():
            return []
        from ..brains.code_safety import check_code

        return [f"line {f.line} {f.rule}: {f.reason}" for f in check_code(source, run_dir, self.allowed_hosts)]

    # ------------------------------------------------------------------------------ writing
    def write(self, plan: Plan, req: Requirements, report: DataReport, settings: dict[str, Any],
              previous: list[CellSpec] | None = None) -> list[CellSpec]:
        """The plan's cells: rendered templates with the brain's edits (checked before they are used).

        With ``previous`` (a re-render after a repair), the brain is not asked again: earlier edits are
        kept for the cells whose template did not change.
        """
        task = for_task(req.task)
        cells = task.cells(plan, req, report, settings)
        self.write_files(task.files(plan, req, report, settings), settings.get("run_dir"))
        if previous is not None:
            old = {c.stage: c for c in previous}
            for c in cells:
                before = old.get(c.stage)
                if before and before.template_source == c.source:
                    c.source, c.template_source, c.edited_by = before.source, before.template_source, before.edited_by
                    c.flagged, c.approved = before.flagged, before.approved
            return cells
        edits = self.brain.ask(WriteCodeRequest(
            plan={k: v for k, v in plan.model_dump().items() if k in ("id", "title", "strategy", "preprocessing",
                                                                       "candidates")},
            requirements=req, run_dir=settings.get("run_dir"),
            cells=[_shown(c) for c in cells]))
        for c in cells:
            new = edits.edits.get(c.stage, "")
            if not new.strip() or new.strip() == c.source.strip():
                continue
            flagged = self.review(new, c.source, settings.get("run_dir", ""))
            if flagged and not self.approve_flagged:
                c.flagged, c.flagged_source = flagged, new  # shown for review; the template runs
                continue
            c.edited_by = "llm" if self.brain.from_llm("write_code") else self.brain.name
            c.flagged, c.approved = flagged, bool(flagged)
            c.replace_source(new)
        return cells

    @staticmethod
    def write_files(files: dict[str, str], run_dir: str | None) -> None:
        """The deployment files (predict.py, serve.py) into the run folder, where the cells expect them."""
        if not run_dir:
            return
        folder = Path(run_dir)
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (folder / name).write_text(text, encoding="utf-8")

    # ------------------------------------------------------------------------------ repairing
    def diagnose(self, cell: CellSpec, result: CellResult, attempt: int, plan: Plan,
                 pool: list[str] | None = None, stages: list[str] | None = None) -> Repair:
        """A repair for the failed cell; ``pool`` and ``stages`` bound what a brain may propose."""
        return self.brain.ask(DebugRequest(
            stage=cell.stage, error_type=result.error_type or "Error", error=result.error or "",
            traceback=result.traceback or "", attempt=attempt, cell_source=cell.source,
            template_source=cell.template, stdout_tail=result.stdout[-1500:],
            candidates=[c.name for c in plan.candidates], pool=pool, stages=stages))

    def check_repair(self, repair: Repair, cell: CellSpec, run_dir: str) -> list[str]:
        """Findings that keep a repaired source from running (none for the cell's own template)."""
        if repair.action != "source" or not repair.source:
            return []
        return self.review(repair.source, cell.template, run_dir)

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
