"""The agent manager: the paper's state machine.

request verification -> parsing (prompt agent) -> retrieval -> planning -> data agent -> model agent
-> execution verification -> selection -> implementation (operation agent: write, run, repair)
-> implementation verification -> revision.

The manager owns no task knowledge: it passes typed data between the agents and records every step in
the run record. Planning (``plan``) and implementation (``begin`` / ``step`` / ``conclude``) are
separate so that a notebook can show the plans and wait for a click in between; ``implement`` drives
the same steps in-process.

With an LLM brain a full run asks about ten questions: the data, model and verification roles answer
for all plans at once. Numbers are never the LLM's alone: plans and results are verified numerically
(verification.py) and the LLM's opinion is kept beside the verdict; code an LLM wrote is checked before
it runs. The record carries the LLM usage per role, its total, and the brain's notes (fallbacks).
"""
from __future__ import annotations

import copy
import platform
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from . import __version__
from .agents import DataAgent, ModelAgent, OperationAgent, PromptAgent
from .agents.data import recipes_for
from .brains import Brain, make_brain
from .brains.base import usage_total
from .config import Settings
from .errors import AutoMLError
from .execution import CellResult, NamespaceExecutor
from .knowledge.retrieval import KnowledgeSource, retrieve, sources_from
from .record import RunFolder, new_run_id, now
from .schema import (
    CellSpec,
    KnowledgeSummary,
    LLMUsage,
    Opinion,
    Opinions,
    Plan,
    PlanSet,
    RequestCheck,
    Requirements,
    Revision,
    RunRecord,
    Step,
    Verdict,
)
from .tasks import for_task
from .tasks.scoring import higher_is_better
from .verification import verify_plan, verify_results

Event = Callable[[str, str, dict[str, Any]], None]  # (stage, "start" | "done" | "info", details)
MIN_CELL_BUDGET_S = 5.0
MIN_REVISION_S = 10.0  # a revision needs at least this much of the budget left (and a quarter of it)  # the generated cells always get at least this much, even past the budget
AGENT_STAGES = ("request_verification", "parsing", "retrieval", "data_profiling", "planning", "model_search",
                "execution_verification")


@dataclass
class Next:
    """What to do after a cell ran: run cell ``index`` (sources may have been repaired), or stop."""

    kind: Literal["run", "done", "failed"]
    index: int = 0
    changed: list[int] = field(default_factory=list)  # indices whose source the repair changed


@dataclass
class _Implementation:
    plan: Plan
    cells: list[CellSpec]
    tries: dict[str, int] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)


class Manager:
    def __init__(self, settings: Settings | None = None, brain: Brain | None = None, on_event: Event | None = None,
                 sources: list[KnowledgeSource] | None = None) -> None:
        self.settings = settings or Settings()
        self.brain = brain or make_brain(self.settings)
        self.on_event = on_event or (lambda *a: None)
        self.sources = sources
        self.prompt_agent = PromptAgent(self.brain)
        self.data_agent = DataAgent(self.brain)
        self.model_agent = ModelAgent(self.brain)
        self.operation_agent = OperationAgent(self.brain, allowed_hosts=self.settings.allowed_hosts,
                                              approve_flagged=self.settings.approve_flagged_code)
        self.record: RunRecord | None = None
        self.folder: RunFolder | None = None
        self.req: Requirements | None = None
        self.peek: dict[str, Any] | None = None  # the prompt agent's look at the data (columns, values)
        self.data: Any = None
        self.impl: _Implementation | None = None
        self._t0 = time.perf_counter()
        self._usage0: dict[str, LLMUsage] = {}  # the brain's usage and notes before this run
        self._notes0 = 0
        self._implemented_s = 0.0  # implementation time of plans already concluded (the budget counts it)

    # ------------------------------------------------------------------------------------ helpers
    @contextmanager
    def _stage(self, name: str) -> Iterator[None]:
        self.on_event(name, "start", {})
        t0 = time.perf_counter()
        try:
            yield
        finally:
            dt = round(time.perf_counter() - t0, 3)
            assert self.record is not None
            self.record.timings[name] = round(self.record.timings.get(name, 0.0) + dt, 3)
            self.on_event(name, "done", {"seconds": dt})

    def save(self) -> RunRecord:
        assert self.record is not None and self.folder is not None
        self.record.llm_usage = usage = self.brain.usage_since(self._usage0)
        self.record.llm_total = usage_total(usage.values())
        self.record.notes = list(self.brain.notes[self._notes0:])
        self.record.brain_config = self.brain.describe()
        self.folder.write_record(self.record)
        return self.record

    def note(self, text: str) -> None:
        """A manager event for the record (kept with the brain's notes, in order)."""
        self.brain.notes.append(text)

    def _stop(self, status: str, message: str, questions: list[str] | None = None) -> RunRecord:
        assert self.record is not None
        self.record.status = status  # type: ignore[assignment]
        self.record.message = message
        self.record.questions = questions or []
        self.on_event("manager", "info", {"status": status, "message": message})
        return self.save()

    @property
    def metric(self) -> str:
        assert self.req is not None and self.record is not None and self.record.data_report is not None
        return for_task(self.req.task).primary_metric(self.req, self.record.data_report)

    def remaining_s(self) -> float:
        """Seconds left of the run's wall-clock budget: planning and every implementation so far count;
        time spent waiting for a user's click does not."""
        assert self.record is not None
        spent = self.record.timings.get("agent_stages", 0.0) + self._implemented_s
        if self.impl is not None:
            spent += time.perf_counter() - self.impl.started
        return self.settings.budget_s - spent

    def settings_for_cells(self) -> dict[str, Any]:
        assert self.record is not None and self.folder is not None
        return {"run_id": self.record.run_id, "run_dir": str(self.folder.path), "seed": self.settings.seed,
                "storage": self.settings.optuna_storage(str(self.folder.path)),
                "budget_s": max(MIN_CELL_BUDGET_S, self.remaining_s())}

    # ------------------------------------------------------------------------------------ planning
    def plan(self, instruction: str, data: str | None = None, out: str | Path | None = None,
             target: str | None = None, task: str | None = None,
             requirements: Requirements | None = None) -> RunRecord:
        """Everything before implementation. Never raises for bad input: the record says what happened."""
        instruction = (instruction or "").strip()
        run_id = new_run_id(instruction)
        self.folder = RunFolder(out or Path(self.settings.runs_dir) / run_id)
        self.record = RunRecord(run_id=run_id, created=now(), instruction=instruction, data=data,
                                brain=self.brain.name, seed=self.settings.seed, environment={
                                    "python": platform.python_version(), "platform": platform.platform(),
                                    "automl_agent_jupyter": __version__})
        t0 = self._t0 = time.perf_counter()
        self._usage0, self._notes0 = copy.deepcopy(self.brain.usage), len(self.brain.notes)  # a shared brain
        try:
            return self._plan(instruction, data, target, task, requirements)
        except AutoMLError as exc:
            return self._stop("failed", str(exc))
        finally:
            self.record.timings["agent_stages"] = round(time.perf_counter() - t0, 3)
            self.save()

    def _plan(self, instruction: str, data: str | None, target: str | None, task: str | None,
              requirements: Requirements | None = None) -> RunRecord:
        rec, s = self.record, self.settings
        assert rec is not None
        if requirements is None:
            with self._stage("request_verification"):
                check = self.brain.decide("verify_request", {"instruction": instruction, "data_path": data},
                                          RequestCheck)
            if check.status != "ok":
                return self._stop(check.status, check.message, check.questions)
        with self._stage("parsing"):
            self.peek = peek = self.data_agent.peek(data) if data else None
            if requirements is not None:  # the user's corrected requirements (the form): no parsing
                req = requirements.model_copy(deep=True)
                if req.dataset and data:
                    req.dataset[0].path = data
            else:
                req = self.prompt_agent.parse(instruction, data, peek, {"target": target, "task": task})
            self.req = rec.requirements = req
        choices = self.prompt_agent.questions(req, peek)
        if choices:
            rec.choices = choices
            questions = [q.text for q in choices]
            fields = ", ".join(dict.fromkeys(q.field for q in choices))
            return self._stop("needs_clarification", f"Some essentials are missing or unsure ({fields}).", questions)
        with self._stage("retrieval"):
            items, notes = retrieve(req, self.sources or sources_from(self.settings.knowledge_sources))
            rec.knowledge = items
            summary = self.brain.decide("summarise_knowledge", {"items": items, "requirements": req}, KnowledgeSummary)
            req.knowledge = [{"insight": i} for i in summary.insights] + [{"note": n} for n in notes]
        with self._stage("data_profiling"):
            report, self.data = self.data_agent.profile(req, s.seed)
            rec.data_report, rec.split = report, {k: report.split[k] for k in ("method", "seed", "ratios", "sizes")}
        with self._stage("planning"):
            plans = self._new_plans(for_task(req.task).candidate_pool(req, report), 0)
        with self._stage("model_search"):
            plans = self._search_models(plans)
        with self._stage("execution_verification"):
            rec.plans = self._verify_and_rank(plans)
            rec.selected_plan = rec.plans[0].id if rec.plans else None
        rec.status = "planned"
        rec.message = f"{len(rec.plans)} plans; best predicted: {rec.plans[0].title}" if rec.plans else "no plan"
        return self.save()

    def _new_plans(self, pool: list[str], n0: int) -> list[Plan]:
        """P plans from the brain (ids P<n0+1>...), each decomposed into the data agent's steps."""
        assert self.req is not None and self.record is not None and self.record.data_report is not None
        s, req, report = self.settings, self.req, self.record.data_report
        plans = self.brain.decide("plan", {
            "requirements": req, "data_report": report, "n_plans": s.n_plans, "top_k": s.top_k, "pool": pool,
            "recipes": recipes_for(req.task) or None}, PlanSet).plans
        plans = [self._fresh(p, f"P{n0 + i + 1}") for i, p in enumerate(plans[: s.n_plans])]
        analyses = self.data_agent.analyse(plans, req, report)
        for p in plans:
            p.data_summary = analyses[p.id].summary
            p.steps = [_step("data", t) for t in analyses[p.id].steps]
        return plans

    def _fresh(self, p: Plan, plan_id: str) -> Plan:
        """A brain's plan as a new proposal: its own id, its recipe and models fitting together (the task
        decides), at most top-k models, no results carried over."""
        assert self.req is not None
        p = for_task(self.req.task).align_plan(p.model_copy(update={"model_families": list(dict.fromkeys(
            p.model_families))}))
        return p.model_copy(update={"id": plan_id, "model_families": p.model_families[: self.settings.top_k],
                                    "candidates": [], "steps": [], "verdict": None, "state": "proposed"})

    def _search_models(self, plans: list[Plan]) -> list[Plan]:
        assert self.req is not None and self.record is not None and self.record.data_report is not None
        plans = self.model_agent.rank(plans, self.req, self.record.data_report, self.data, self.settings.as_dict())
        for p in plans:
            p.steps += self._model_steps(p)
        return plans

    def _model_steps(self, p: Plan) -> list[Any]:
        assert self.req is not None
        texts = for_task(self.req.task).model_steps(p, self.settings.budget_s, self.settings.seed)
        return [_step("model", t) for t in texts]

    def _verify_and_rank(self, plans: list[Plan]) -> list[Plan]:
        """Execution verification: numeric verdicts decide the order; the brain's opinions stand beside."""
        assert self.req is not None
        for p in plans:
            best = p.candidates[0] if p.candidates else None
            p.verdict = verify_plan(self.req, self.metric, best, self.settings.budget_s * 3)
        answer = self.brain.decide("verify_plans", {"requirements": self.req, "metric": self.metric, "plans": [
            p.model_copy(update={"steps": []}) for p in plans]}, Opinions)
        if self.brain.from_llm("verify_plans"):
            said = {o.plan_id: o for o in answer.opinions}
            for p in plans:
                o = said.get(p.id)
                text = (o.text if o else "") + (" (the LLM would pick this plan)" if answer.best == p.id else "")
                if o and o.passed is not None and o.passed != p.verdict.passed:  # type: ignore[union-attr]
                    text += f" [the LLM says {'pass' if o.passed else 'fail'}; the numeric checks decide]"
                p.verdict.brain_opinion = text.strip()  # type: ignore[union-attr]
        return sorted(plans, key=lambda p: (not p.verdict.passed, -p.verdict.score))  # type: ignore[union-attr]

    def reject(self, plan_id: str) -> None:
        assert self.record is not None
        for p in self.record.plans:
            if p.id == plan_id:
                p.state = "rejected"
        self.save()

    def replan(self) -> list[Plan]:
        """All plans rejected: ask for new ones (a revision of the planning step) and verify them."""
        assert self.record is not None and self.req is not None and self.record.data_report is not None
        rejected = [p for p in self.record.plans if p.state == "rejected"]
        used = {c.name for p in rejected for c in p.candidates}
        task_module = for_task(self.req.task)
        pool = [k for k in task_module.candidate_pool(self.req, self.record.data_report) if k not in used] or \
            task_module.candidate_pool(self.req, self.record.data_report)
        with self._stage("planning"):
            fresh = self._new_plans(pool, len(self.record.plans))
            for p in fresh:
                p.revision_of = ",".join(r.id for r in rejected)
        with self._stage("model_search"):
            fresh = self._search_models(fresh)
        with self._stage("execution_verification"):
            fresh = self._verify_and_rank(fresh)
        self.record.plans += fresh
        self.record.revisions.append({"kind": "replan", "reason": "all plans rejected by the user",
                                      "new_plans": [p.id for p in fresh]})
        self.save()
        return fresh

    # ------------------------------------------------------------------------------------ implementation
    def begin(self, plan_id: str | None = None) -> list[CellSpec]:
        """Select a plan and have the operation agent write its cells."""
        assert self.record is not None and self.req is not None and self.record.data_report is not None
        plan = next(p for p in self.record.plans if p.id == (plan_id or self.record.selected_plan))
        if self.impl is not None:  # a revision: the plan before it spent its share of the budget
            self._implemented_s += time.perf_counter() - self.impl.started
            self.impl = None
        plan.state = "selected"
        self.record.selected_plan = plan.id
        self.record.status = "running"
        with self._stage("code_generation"):
            cells = self.operation_agent.write(plan, self.req, self.record.data_report, self.settings_for_cells())
        for c in cells:
            if c.params.get("flagged"):
                self.note(f"write_code {c.stage}: the edit was flagged ({'; '.join(c.params['flagged'])[:200]}); "
                          + ("run with your approval" if c.params.get("approved") else
                             "the tested template runs instead (approve(index) to use the edit)"))
        self.impl = _Implementation(plan=plan, cells=cells)
        self.save()
        return cells

    def approve(self, index: int) -> Next:
        """The user approves the flagged code proposed for cell ``index`` (a repair, else an edit): it replaces
        the cell's source, and the cell is to be run again. Nothing flagged: the cell is left as it is."""
        assert self.impl is not None and self.record is not None
        cell = self.impl.cells[index]
        proposed = next((a for a in reversed(self.record.attempts) if a.plan_id == self.impl.plan.id
                         and a.stage == cell.stage and a.proposed_source), None)
        source = proposed.proposed_source if proposed else cell.params.get("flagged_source")
        if not source or source == cell.source:
            return Next("run", index)
        cell.params.setdefault("template_source", cell.source)
        cell.params.update(approved=True, flagged_source=None)
        if proposed:
            proposed.proposed_source = None  # approved once; a new flag needs a new approval
        cell.source = source
        self.note(f"{cell.stage}: flagged code approved by the user and run")
        self.save()
        return Next("run", index, [index])

    def step(self, index: int, result: CellResult) -> Next:
        """Record what cell ``index`` did; on failure diagnose, repair (bounded) and say what to run next."""
        assert self.impl is not None and self.record is not None and self.req is not None
        impl, cell = self.impl, self.impl.cells[index]
        n = impl.tries[cell.stage] = impl.tries.get(cell.stage, 0) + 1
        self.record.timings[f"cell:{cell.stage}"] = round(self.record.timings.get(f"cell:{cell.stage}", 0)
                                                         + result.seconds, 3)
        if result.ok:
            self.record.attempts.append(self.operation_agent.attempt(impl.plan, cell, n, result, None))
            self.on_event(f"cell:{cell.stage}", "done", {"seconds": round(result.seconds, 2), "attempt": n})
            self.save()
            return Next("done") if index == len(impl.cells) - 1 else Next("run", index + 1)
        if n > self.settings.max_repairs:
            self.record.attempts.append(self.operation_agent.attempt(impl.plan, cell, n, result, None))
            self.save()
            return Next("failed", index)
        assert self.record.data_report is not None and self.folder is not None
        with self._stage("debugging"):
            repair = self.operation_agent.diagnose(
                cell, result, n, impl.plan, pool=for_task(self.req.task).candidate_pool(self.req, self.record.data_report),
                stages=[c.stage for c in impl.cells])
        attempt = self.operation_agent.attempt(impl.plan, cell, n, result, repair)
        flagged = self.operation_agent.check_repair(repair, cell, str(self.folder.path))
        if flagged:
            attempt.flagged, attempt.proposed_source = flagged, repair.source
            approved = self.settings.approve_flagged_code
            attempt.repair = f"{repair.diagnosis} ({'applied with your approval' if approved else 'not run'}: " \
                             f"the code check flagged {'; '.join(flagged)[:300]})"
            self.note(f"debug {cell.stage}: repaired code flagged ({'; '.join(flagged)[:200]}); "
                      + ("run because approve_flagged_code is set" if approved else "not run"))
        self.record.attempts.append(attempt)
        self.on_event(f"cell:{cell.stage}", "info", {"attempt": n, "error": f"{result.error_type}: {result.error}",
                                                      "repair": attempt.repair})
        self.save()
        if repair.action == "give_up" or (flagged and not self.settings.approve_flagged_code):
            return Next("failed", index)
        if repair.action == "source" and repair.source:
            cell.params.setdefault("template_source", cell.source)
            cell.source = repair.source
            return Next("run", index, [index])
        if repair.action == "rerun_from":
            stages = [c.stage for c in impl.cells]
            return Next("run", stages.index(repair.params.get("stage", "setup")))
        impl.plan = self.operation_agent.apply(repair, impl.plan)
        fresh = self.operation_agent.write(impl.plan, self.req, self.record.data_report, self.settings_for_cells(),
                                           previous=impl.cells)
        changed = [i for i, (a, b) in enumerate(zip(impl.cells, fresh)) if a.source != b.source]
        impl.cells = fresh
        return Next("run", min(changed + [index]), changed)

    def conclude(self, results: dict[str, Any] | None) -> Verdict:
        """Implementation verification: the measured numbers against every requirement."""
        assert self.impl is not None and self.record is not None and self.req is not None and self.folder
        rec, metric = self.record, self.metric
        with self._stage("implementation_verification"):
            if not results or not results.get("metrics", {}).get("test"):
                verdict = Verdict(passed=False, score=float("-inf"),
                                  reasons=["the generated code did not finish; no test metric was measured"])
            else:
                rec.metrics = {"test": {k: v for k, v in results["metrics"]["test"].items() if isinstance(v, float)}}
                measured = results.get("measured", {})
                verdict = verify_results(self.req, metric, rec.metrics["test"], measured)
                rec.primary_metric = {"name": metric, "value": rec.metrics["test"].get(metric),
                                      "higher_is_better": higher_is_better(metric), "split": "test"}
                rec.constraints = [{"name": c.name, "target": c.target, "measured": c.value, "unit": c.unit,
                                    "pass": c.passed} for c in verdict.checks if c.kind == "complexity"]
                rec.artifacts.update(results.get("artifacts", {}))
                rec.device = results.get("device", "cpu")
                if results.get("split", {}).get("sizes"):  # what the code really did, not what was planned
                    rec.split = {**rec.split, **results["split"]}
                rec.environment["model"] = str(results.get("model", ""))
            opinion = self.brain.decide("verify_implementation", {
                "verdict": verdict, "requirements": self.req, "plan": {"id": self.impl.plan.id,
                                                                     "title": self.impl.plan.title},
                "results": {k: (results or {}).get(k) for k in ("metrics", "measured", "model", "params", "split")},
                "failed_cells": [a.model_dump(include={"stage", "error_type", "error"}) for a in rec.attempts
                                 if not a.ok and a.plan_id == self.impl.plan.id]}, Opinion)
            verdict.brain_opinion = opinion.text if self.brain.from_llm("verify_implementation") else ""
        rec.verification = verdict
        cells = for_task(self.req.task).replay_cells(self.impl.cells, results or {})
        rec.artifacts["script"] = str(self.folder.write_script(cells, rec))
        rec.artifacts["notebook"] = str(self.folder.write_notebook(cells, rec))
        rec.artifacts["record"] = str(self.folder.path / "run.json")
        rec.timings["implementation"] = round(time.perf_counter() - self.impl.started, 3)
        self.impl.plan.state = "tried"
        for i, p in enumerate(rec.plans):
            if p.id == self.impl.plan.id:
                rec.plans[i] = self.impl.plan
        if rec.metrics:
            rec.status = "succeeded" if verdict.passed else "failed"
            rec.message = ("all requirements met: " if verdict.passed else "requirements not met: ") + \
                "; ".join(verdict.reasons)
        else:
            rec.status, rec.message = "failed", verdict.reasons[0]
        self.save()
        return verdict

    def revise(self) -> Plan | None:
        """After a failed verification: the next plan to try (bounded), with the reason recorded."""
        assert self.record is not None and self.req is not None and self.impl is not None
        tried_n = sum(1 for r in self.record.revisions if r.get("kind") == "revision")
        if tried_n >= self.settings.max_revisions:
            return None
        left = self.remaining_s()
        if left < max(MIN_REVISION_S, 0.25 * self.settings.budget_s):
            self.record.revisions.append({"kind": "no_revision", "after": self.impl.plan.id, "reason":
                                          f"{max(0.0, left):.0f} s of the {self.settings.budget_s:.0f} s budget left"})
            self.save()
            return None
        verdict = self.record.verification
        failed = [c.name for c in verdict.checks if c.passed is False] if verdict else []
        if not failed and self.record.metrics:
            return None
        tried = [p for p in self.record.plans if p.state in ("tried", "selected")]
        remaining = [p for p in self.record.plans if p.state == "proposed"]
        assert self.record.data_report is not None
        with self._stage("revision"):
            rev = self.brain.decide("revise", {
                "requirements": self.req, "tried": tried, "remaining": remaining,
                "failure": {"failed_checks": failed or ["execution"], "reasons": verdict.reasons if verdict else []},
                "pool": for_task(self.req.task).candidate_pool(self.req, self.record.data_report),
                "recipes": recipes_for(self.req.task) or None}, Revision)
            plan = self._revised(rev.plan)
        self.record.revisions.append({"kind": "revision", "after": self.impl.plan.id, "reason": rev.reason,
                                      "metrics": dict(self.record.metrics.get("test", {})),
                                      "failed_checks": failed, "next": plan.id if plan else None})
        self.save()
        return plan

    def _revised(self, plan: Plan | None) -> Plan | None:
        """The plan a revision names: a known untried one, or a new one (analysed, ranked and verified)."""
        assert self.record is not None and self.impl is not None and self.req is not None
        if plan is None:
            return None
        known = {p.id: p for p in self.record.plans}
        if plan.id in known:
            return known[plan.id] if known[plan.id].state == "proposed" else None
        fresh = self._fresh(plan, f"P{len(known) + 1}")
        analysis = self.data_agent.analyse([fresh], self.req, self.record.data_report)[fresh.id]  # type: ignore[arg-type]
        fresh.data_summary, fresh.steps = analysis.summary, [_step("data", t) for t in analysis.steps]
        fresh = self._search_models([fresh])[0]
        fresh.verdict = verify_plan(self.req, self.metric, fresh.candidates[0] if fresh.candidates else None,
                                    self.settings.budget_s * 3)
        fresh.revision_of = self.impl.plan.id
        self.record.plans.append(fresh)
        return fresh

    def implement(self, plan_id: str | None = None, executor: NamespaceExecutor | None = None) -> RunRecord:
        """Run the selected plan in-process with repairs; verify; revise while a revision is allowed."""
        assert self.record is not None
        executor = executor or NamespaceExecutor()
        try:
            self._implement(plan_id, executor)
        except AutoMLError as exc:  # e.g. the LLM server rejected the key mid-run: one line in the record
            self._stop("failed", str(exc))
        self.record.timings["total"] = round(time.perf_counter() - self._t0, 3)
        return self.save()

    def _implement(self, plan_id: str | None, executor: NamespaceExecutor) -> None:
        assert self.record is not None
        plan = plan_id
        while True:
            self.begin(plan)
            i = 0
            while True:
                self.on_event(f"cell:{self.impl.cells[i].stage}", "start", {})  # type: ignore[union-attr]
                nxt = self.step(i, executor.run(self.impl.cells[i].source, self.impl.cells[i].stage))  # type: ignore[union-attr]
                if nxt.kind != "run":
                    break
                i = nxt.index
            verdict = self.conclude(executor.namespace.get("RESULTS") if nxt.kind == "done" else None)
            if verdict.passed:
                break
            nxt_plan = self.revise()
            if nxt_plan is None:
                break
            plan = nxt_plan.id


def _step(agent: str, text: str) -> Step:
    return Step(agent=agent, text=text)  # type: ignore[arg-type]
