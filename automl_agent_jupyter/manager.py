"""The agent manager: the paper's state machine, in its two phases.

request verification -> parsing (prompt agent) -> retrieval -> planning -> data agent -> model agent
-> execution verification -> selection -> implementation (operation agent: write, run, repair)
-> implementation verification -> revision.

The manager owns no task knowledge: it passes typed data between the phases and records every step in
the run record (runlog.py). Planning (:meth:`Manager.plan`, planning.py) yields a typed
:class:`~automl_agent_jupyter.planning.Planning`: the plans and their verdicts. Selecting a plan
(:meth:`Manager.start`) builds an :class:`~automl_agent_jupyter.implementation.Implementation` that owns
the cells, attempts, approvals and flags; whoever runs the cells reports each result to it. A notebook
shows the plans and waits for a click in between; :meth:`Manager.implement` drives the same objects
in-process.

With an LLM brain a full run asks about ten questions: the data, model and verification roles answer
for all plans at once. Numbers are never the LLM's alone: plans and results are verified numerically
(verification.py) and the LLM's opinion is kept beside the verdict; code an LLM wrote is checked before
it runs. The record carries the LLM usage per role, its total, and the brain's notes (fallbacks).
"""
from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .agents import OperationAgent
from .brains import Brain, make_brain
from .config import Settings
from .errors import AutoMLError
from .execution import NamespaceExecutor
from .implementation import Implementation, Next, keep_best
from .knowledge.retrieval import KnowledgeSource
from .planning import Planner, Planning
from .record import RunFolder
from .runlog import Event, RunLog
from .schema import CellSpec, Plan, Requirements, RunRecord
from .tasks import for_task

AGENT_STAGES = ("request_verification", "parsing", "retrieval", "data_profiling", "planning", "model_search",
                "execution_verification")
__all__ = ["AGENT_STAGES", "Event", "Implementation", "Manager", "Next", "Planning"]


class NotPlanned(AutoMLError):
    """An implementation was asked for before planning succeeded."""


class Manager:
    """One run: :meth:`plan`, then :meth:`start` an accepted plan (or :meth:`implement` it in-process)."""

    def __init__(self, settings: Settings | None = None, brain: Brain | None = None, on_event: Event | None = None,
                 sources: list[KnowledgeSource] | None = None) -> None:
        self.settings = settings or Settings()
        self.brain = brain or make_brain(self.settings)
        self.on_event = on_event or (lambda *a: None)
        self.sources = sources
        self.operation_agent = OperationAgent(self.brain, allowed_hosts=self.settings.allowed_hosts,
                                              approve_flagged=self.settings.approve_flagged_code)
        self.log: RunLog | None = None
        self.planner: Planner | None = None
        self.planning: Planning | None = None  # set once planning succeeded
        self.impl: Implementation | None = None  # the plan being implemented (the last one tried)
        self.aside: list[Implementation] = []  # plans trained and set aside before their test split was scored

    # ------------------------------------------------------------------------------------ reading
    @property
    def record(self) -> RunRecord | None:
        return self.log.record if self.log else None

    @property
    def folder(self) -> RunFolder | None:
        return self.log.folder if self.log else None

    @property
    def peek(self) -> dict[str, Any] | None:
        """The prompt agent's look at the data (columns, values)."""
        return self.planner.peek if self.planner else None

    def remaining_s(self) -> float:
        """Seconds left of the run's budget (see RunLog.remaining_s: planning charged its CPU seconds)."""
        return self._log().remaining_s()

    @property
    def metric(self) -> str:
        return self._planned().metric

    def save(self) -> RunRecord:
        return self._log().save()

    def progress_hook(self) -> Callable[[dict[str, Any]], None]:
        """What a generated cell calls with its live progress (``AUTOML_PROGRESS`` in the cells' namespace): stage,
        candidate, trial or epoch, time used of the budget, best validation score so far -> ``on_event``."""
        def hook(state: dict[str, Any]) -> None:
            with contextlib.suppress(Exception):  # showing progress must never stop the training that reports it
                self.on_event("progress", "info", dict(state))

        return hook

    def release(self) -> None:
        """Let other runs use the run folder (the notebook waits for a click unlocked; the end of a run)."""
        if self.log is not None:
            self.log.release()

    def _log(self) -> RunLog:
        if self.log is None:
            raise NotPlanned("no run yet: call plan() first")
        return self.log

    def _planned(self) -> Planning:
        if self.planning is None:
            raise NotPlanned("no plans yet: planning did not succeed")
        return self.planning

    # ------------------------------------------------------------------------------------ planning
    def plan(self, instruction: str, data: str | None = None, out: str | Path | None = None,
             target: str | None = None, task: str | None = None,
             requirements: Requirements | None = None) -> RunRecord:
        """Everything before implementation (from the user's corrected ``requirements`` when given: no
        parsing). Never raises for bad input: the record says what happened."""
        instruction = (instruction or "").strip()
        self.log = log = RunLog(self.settings, self.brain, self.on_event, instruction, data, out)
        self.planner, self.planning, self.impl = Planner(log, self.sources), None, None
        self.aside = []
        try:
            log.save()  # "running: planning" at once: a run killed while planning reads abandoned, not absent
            self.planning = self.planner.plan(instruction, data, target, task, requirements)
        except AutoMLError as exc:
            log.stop("failed", str(exc))
        finally:
            log.planned()
        return log.save()

    def resume(self, folder: str | Path) -> RunRecord:
        """Continue an interrupted or abandoned run from its folder under the budget that was left: its
        requirements, data report, split (the same seed) and plans are reused; a run stopped while planning
        is planned again into the same record. Raises ``UserInputError`` (one line) when there is nothing to
        resume or the data changed."""
        from .errors import DataError
        from .record import RunFolder, data_changed

        self.log = log = RunLog.resume(self.settings, self.brain, self.on_event, RunFolder(folder))
        rec = log.record
        self.planner, self.planning, self.impl = Planner(log, self.sources), None, None
        self.aside = []
        changed = data_changed(rec.data, rec.data_fingerprint)
        if changed:
            log.stop("interrupted", changed)  # still resumable once the data is back
            raise DataError(changed)
        if not rec.plans or rec.requirements is None or rec.data_report is None:
            rec.timings = {k: v for k, v in rec.timings.items() if k.startswith("cell:")}
            try:
                self.planning = self.planner.plan(rec.instruction, rec.data, rec.requirements.target
                                                  if rec.requirements else None, None, None)
            except AutoMLError as exc:
                log.stop("failed", str(exc))
            finally:
                log.planned()
            return log.save()
        req = rec.requirements
        report, loaded = self.planner.data_agent.profile(req, self.settings.seed)  # the data, for revisions
        if report.split.get("sizes") != rec.data_report.split.get("sizes"):
            raise DataError("the data no longer splits as it did (sizes differ); plan again")
        metric = for_task(req.task).primary_metric(req, rec.data_report)
        self.planning = Planning(requirements=req, report=rec.data_report, data=loaded, metric=metric,
                                 plans=rec.plans)
        for p in rec.plans:
            if p.state == "selected":
                p.state = "proposed"  # selected again below
        rec.status = "planned"
        return log.save()

    def reject(self, plan_id: str) -> None:
        assert self.planner is not None
        self.planner.reject(self._planned(), plan_id)
        self.save()

    def replan(self) -> list[Plan]:
        """All plans rejected: new plans (a revision of the planning step), verified and recorded."""
        assert self.planner is not None
        fresh = self.planner.replan(self._planned())
        self.save()
        return fresh

    # ------------------------------------------------------------------------------------ implementation
    def start(self, plan_id: str | None = None, namespace: dict[str, Any] | None = None) -> Implementation:
        """Select a plan (default: the best) and have the operation agent write its cells; ``namespace``, where
        they will run, is watched so that the plan can be set aside and kept later (see :meth:`before_test`)."""
        planning, log = self._planned(), self._log()
        planning.release()  # a large table: not held by planning while the cells (which take it over) train
        self.impl = Implementation(log, planning, planning.get(plan_id or log.record.selected_plan or ""),
                                   self.operation_agent)
        if namespace is not None:
            self.impl.watch(namespace)
        return self.impl

    def begin(self, plan_id: str | None = None) -> list[CellSpec]:
        """The selected plan's cells (see :meth:`start`)."""
        return self.start(plan_id).cells

    def revise(self) -> Plan | None:
        """After a failed verification: the next plan to try (bounded), with the reason recorded."""
        assert self.planner is not None and self.impl is not None
        plan = self.planner.revise(self._planned(), self.impl.plan, self.impl.valid_verdict)
        self.save()
        return plan

    # ------------------------------------------------------------------------------------ the validation gate
    def before_test(self, namespace: dict[str, Any]) -> Next:
        """The decision before a plan's test split is scored, made on validation only, wherever the cells run
        (in-process, in the kernel, by the JupyterLab frontend): the cells before the evaluate cell have run in
        ``namespace``. A plan that misses a requirement on validation is set aside (its names kept) and, while
        a revision may run, the next plan is started: ``Next("revise", 0)``, run the new plan's cells. Else the
        best plan on validation among those trained is kept (its names restored if it is an earlier one) and
        ``Next("run", gate)`` says to run the kept plan's cells from its evaluate cell: the test split is
        scored once, for that plan."""
        impl = self._impl()
        results = namespace.get("RESULTS")
        verdict = impl.judge(results)
        if verdict is not None and not verdict.passed:
            impl.set_aside(results, namespace)
            plan = self.revise()  # records why not, when no revision may run
            if plan is not None:
                self.aside.append(impl)
                self.start(plan.id, namespace)
                return Next("revise", 0)
        return self._keep(keep_best(impl, self.aside), namespace, results)

    def after_failure(self, namespace: dict[str, Any]) -> Next:
        """A plan's cells failed before its test split was scored: the next plan (``Next("revise", 0)``), else
        the best plan set aside on validation, kept (``Next("run", gate)``), else ``Next("failed")``."""
        impl = self._impl()
        impl.set_aside(None)  # recorded as trained without a result
        plan = self.revise()
        if plan is not None:
            self.start(plan.id, namespace)
            return Next("revise", 0)
        if not self.aside:
            impl.plan.state = "selected"
            return Next("failed", impl.gate)
        best = keep_best(self.aside[0], self.aside[1:])
        return self._keep(best, namespace, None)

    def _keep(self, best: Implementation, namespace: dict[str, Any], results: dict[str, Any] | None) -> Next:
        impl = self._impl()
        if best is not impl:
            if impl.plan.state != "tried":
                impl.set_aside(results, namespace)
            best.restore(namespace)
            self.aside = [i for i in self.aside if i is not best] + [impl]
            self.impl = best
            self._log().note(f"plan {best.plan.id} kept: the best on validation ({(self.record.kept or {}).get('rule')})"
                             f"; its names are restored and its test split is scored once")
        best.plan.state, best.gated = "selected", True
        self._log().record.selected_plan = best.plan.id
        self.save()
        return Next("run", best.gate)

    def _impl(self) -> Implementation:
        if self.impl is None:
            raise NotPlanned("no plan is being implemented: call start() first")
        return self.impl

    def implement(self, plan_id: str | None = None, executor: NamespaceExecutor | None = None) -> RunRecord:
        """Run the selected plan in-process with repairs; verify; revise while a revision is allowed."""
        log = self._log()
        executor = executor or NamespaceExecutor()
        try:
            self._implement(plan_id, executor)
        except AutoMLError as exc:  # e.g. the LLM server rejected the key mid-run: one line in the record
            log.stop("failed", str(exc))
        log.record.timings["total"] = round(time.perf_counter() - log.t0, 3)
        return log.save()

    def _implement(self, plan_id: str | None, executor: NamespaceExecutor) -> None:
        """The cells of each plan up to its evaluate cell, the validation gate (:meth:`before_test`), then the
        kept plan's cells from its evaluate cell on: the test split is scored once, for the final model."""
        if self.settings.race:  # the top plans side by side in workers of their own; the best on validation kept
            from .race import race_plans

            race_plans(self)
            return
        ns = executor.namespace
        ns["AUTOML_PROGRESS"] = self.progress_hook()
        impl, i = self.start(plan_id, ns), 0
        while True:
            if i == impl.gate and not impl.gated:
                nxt = self.before_test(ns)
            else:
                cell = impl.cells[i]
                self.on_event(f"cell:{cell.stage}", "start", {})
                nxt = impl.step(i, executor.run(cell.source, cell.stage))
                if nxt.kind == "failed" and not impl.gated:
                    nxt = self.after_failure(ns)
            if nxt.kind in ("done", "failed"):
                self._impl().conclude(ns.get("RESULTS") if nxt.kind == "done" else None)
                return
            impl, i = self._impl(), nxt.index
