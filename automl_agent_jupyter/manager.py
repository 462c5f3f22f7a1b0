"""The agent manager: the paper's state machine.

request verification -> parsing (prompt agent) -> retrieval -> planning -> data agent -> model agent
-> execution verification -> selection -> implementation (operation agent: write, run, repair)
-> implementation verification -> revision.

The manager owns no task knowledge: it passes typed data between the agents and records every step in
the run record. Planning (``plan``) and implementation (``begin`` / ``step`` / ``conclude``) are
separate so that a notebook can show the plans and wait for a click in between; ``implement`` drives
the same steps in-process.
"""
from __future__ import annotations

import platform
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Literal

from . import __version__
from .agents import DataAgent, ModelAgent, OperationAgent, PromptAgent
from .brains import Brain, make_brain
from .config import Settings
from .errors import AutoMLError
from .execution import CellResult, NamespaceExecutor
from .knowledge.retrieval import KnowledgeSource, retrieve
from .record import RunFolder, new_run_id, now
from .schema import (CellSpec, KnowledgeSummary, Opinion, Plan, PlanSet, RequestCheck, Requirements, Revision,
                     RunRecord, Verdict)
from .tasks import for_task
from .tasks.scoring import higher_is_better
from .verification import verify_plan, verify_results

Event = Callable[[str, str, dict[str, Any]], None]  # (stage, "start" | "done" | "info", details)
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
        self.brain = brain or make_brain(self.settings.llm)
        self.on_event = on_event or (lambda *a: None)
        self.sources = sources
        self.prompt_agent = PromptAgent(self.brain)
        self.data_agent = DataAgent(self.brain)
        self.model_agent = ModelAgent(self.brain)
        self.operation_agent = OperationAgent(self.brain)
        self.record: RunRecord | None = None
        self.folder: RunFolder | None = None
        self.req: Requirements | None = None
        self.data: Any = None
        self.impl: _Implementation | None = None
        self._t0 = time.perf_counter()

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
        self.record.llm_usage = {k: v.model_copy() for k, v in self.brain.usage.items()}
        self.folder.write_record(self.record)
        return self.record

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

    def settings_for_cells(self) -> dict[str, Any]:
        assert self.record is not None and self.folder is not None
        return {"run_id": self.record.run_id, "run_dir": str(self.folder.path), "seed": self.settings.seed,
                "storage": self.settings.optuna_storage(str(self.folder.path)), "budget_s": self.settings.budget_s}

    # ------------------------------------------------------------------------------------ planning
    def plan(self, instruction: str, data: str | None = None, out: str | Path | None = None,
             target: str | None = None, task: str | None = None) -> RunRecord:
        """Everything before implementation. Never raises for bad input: the record says what happened."""
        instruction = (instruction or "").strip()
        run_id = new_run_id(instruction)
        self.folder = RunFolder(out or Path(self.settings.runs_dir) / run_id)
        self.record = RunRecord(run_id=run_id, created=now(), instruction=instruction, data=data,
                                brain=self.brain.name, seed=self.settings.seed, environment={
                                    "python": platform.python_version(), "platform": platform.platform(),
                                    "automl_agent_jupyter": __version__})
        t0 = self._t0 = time.perf_counter()
        try:
            return self._plan(instruction, data, target, task)
        except AutoMLError as exc:
            return self._stop("failed", str(exc))
        finally:
            self.record.timings["agent_stages"] = round(time.perf_counter() - t0, 3)
            self.save()

    def _plan(self, instruction: str, data: str | None, target: str | None, task: str | None) -> RunRecord:
        rec, s = self.record, self.settings
        assert rec is not None
        with self._stage("request_verification"):
            check = self.brain.decide("verify_request", {"instruction": instruction, "data_path": data}, RequestCheck)
        if check.status != "ok":
            return self._stop(check.status, check.message, check.questions)
        with self._stage("parsing"):
            peek = self.data_agent.peek(data) if data else None
            self.req = req = self.prompt_agent.parse(instruction, data, peek, {"target": target, "task": task})
            rec.requirements = req
        questions = self._missing_essentials(req, peek)
        if questions:
            return self._stop("needs_clarification", "Some essentials are missing: " + " ".join(questions), questions)
        with self._stage("retrieval"):
            items, notes = retrieve(req, self.sources)
            rec.knowledge = items
            summary = self.brain.decide("summarise_knowledge", {"items": items, "requirements": req}, KnowledgeSummary)
            req.knowledge = [{"insight": i} for i in summary.insights] + [{"note": n} for n in notes]
        with self._stage("data_profiling"):
            report, self.data = self.data_agent.profile(req, s.seed)
            rec.data_report, rec.split = report, {k: report.split[k] for k in ("method", "seed", "ratios", "sizes")}
        task_module = for_task(req.task)
        with self._stage("planning"):
            plans = self.brain.decide("plan", {
                "requirements": req, "data_report": report, "knowledge": items, "n_plans": s.n_plans,
                "top_k": s.top_k, "pool": task_module.candidate_pool(req, report)}, PlanSet).plans
            for p in plans:
                analysis = self.data_agent.analyse(p, req, report)
                p.data_summary = analysis.summary
                p.steps = [*(_step("data", t) for t in analysis.steps)]
        with self._stage("model_search"):
            plans = [self.model_agent.rank(p, req, report, self.data, {**s.as_dict()}) for p in plans]
            for p in plans:
                p.steps += self._model_steps(p)
        with self._stage("execution_verification"):
            rec.plans = self._verify_and_rank(plans)
            rec.selected_plan = rec.plans[0].id if rec.plans else None
        rec.status = "planned"
        rec.message = f"{len(rec.plans)} plans; best predicted: {rec.plans[0].title}" if rec.plans else "no plan"
        return self.save()

    def _missing_essentials(self, req: Requirements, peek: dict[str, Any] | None) -> list[str]:
        q = []
        columns = (peek or {}).get("columns") or []
        if not req.data_path:
            q.append("Which data file should I use? Pass --data PATH (a CSV file).")
        if not req.task:
            q.append("What kind of task is it: classification, regression or clustering? Name the column to "
                     "predict, e.g. 'predict the price'.")
        elif req.task.startswith("tabular") and not req.target and columns:
            what = "hold the reference labels for the clustering" if req.task == "tabular_clustering" \
                else "should be predicted"
            q.append(f"Which column {what}? Columns are: {', '.join(columns[:40])}.")
        return q

    def _model_steps(self, p: Plan) -> list[Any]:
        names = ", ".join(c.name for c in p.candidates)
        trials = ", ".join(f"{c.name} {c.params.get('n_trials')}" for c in p.candidates)
        return [_step("model", f"Rank candidates without full training; top-{len(p.candidates)}: {names}."),
                _step("model", f"Tune each with Optuna TPE on the validation split (trials: {trials}; "
                               f"budget {self.settings.budget_s:.0f} s), seed {self.settings.seed}."),
                _step("model", "Refit the best on train+valid; evaluate once on the untouched test split."),
                _step("model", "Measure single-row latency, test-set inference time and model size; save "
                               "model.joblib with predict.py and serve.py.")]

    def _verify_and_rank(self, plans: list[Plan]) -> list[Plan]:
        assert self.req is not None
        for p in plans:
            best = p.candidates[0] if p.candidates else None
            p.verdict = verify_plan(self.req, self.metric, best, self.settings.budget_s * 3)
            opinion = self.brain.decide("verify_plans", {"plan": p, "verdict": p.verdict, "requirements": self.req},
                                        Opinion)
            p.verdict.brain_opinion = opinion.text if self.brain.name != "offline" else ""
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
            fresh = self.brain.decide("plan", {"requirements": self.req, "data_report": self.record.data_report,
                                               "knowledge": self.record.knowledge, "n_plans": self.settings.n_plans,
                                               "top_k": self.settings.top_k, "pool": pool}, PlanSet).plans
        n0 = len(self.record.plans)
        for i, p in enumerate(fresh):
            p.id, p.revision_of = f"P{n0 + i + 1}", ",".join(r.id for r in rejected)
            p.steps = [_step("data", t) for t in self.data_agent.analyse(p, self.req, self.record.data_report).steps]
        with self._stage("model_search"):
            fresh = [self.model_agent.rank(p, self.req, self.record.data_report, self.data, self.settings.as_dict())
                     for p in fresh]
            for p in fresh:
                p.steps += self._model_steps(p)
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
        plan.state = "selected"
        self.record.selected_plan = plan.id
        self.record.status = "running"
        with self._stage("code_generation"):
            cells = self.operation_agent.write(plan, self.req, self.record.data_report, self.settings_for_cells())
        self.impl = _Implementation(plan=plan, cells=cells)
        self.save()
        return cells

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
        with self._stage("debugging"):
            repair = self.operation_agent.diagnose(cell, result, n, impl.plan)
        self.record.attempts.append(self.operation_agent.attempt(impl.plan, cell, n, result, repair))
        self.on_event(f"cell:{cell.stage}", "info", {"attempt": n, "error": f"{result.error_type}: {result.error}",
                                                      "repair": repair.diagnosis})
        self.save()
        if repair.action == "give_up":
            return Next("failed", index)
        if repair.action == "source" and repair.source:
            if self.brain.name != "offline" and self.operation_agent.check_code:
                findings = self.operation_agent.check_code(repair.source)
                if findings:
                    self.record.attempts[-1].repair += f" (not applied: flagged by the code check: {findings[0]})"
                    return Next("failed", index)
            cell.source = repair.source
            return Next("run", index, [index])
        if repair.action == "rerun_from":
            stages = [c.stage for c in impl.cells]
            return Next("run", stages.index(repair.params.get("stage", "setup")))
        impl.plan = self.operation_agent.apply(repair, impl.plan)
        fresh = self.operation_agent.write(impl.plan, self.req, self.record.data_report, self.settings_for_cells())
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
                rec.environment["model"] = str(results.get("model", ""))
            if self.brain.name != "offline":
                verdict.brain_opinion = self.brain.decide("verify_implementation", {
                    "verdict": verdict, "requirements": self.req, "results": results or {}}, Opinion).text
        rec.verification = verdict
        rec.artifacts["script"] = str(self.folder.write_script(self.impl.cells, rec))
        rec.artifacts["notebook"] = str(self.folder.write_notebook(self.impl.cells, rec))
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
        verdict = self.record.verification
        failed = [c.name for c in verdict.checks if c.passed is False] if verdict else []
        if not failed and self.record.metrics:
            return None
        tried = [p for p in self.record.plans if p.state in ("tried", "selected")]
        remaining = [p for p in self.record.plans if p.state == "proposed"]
        with self._stage("revision"):
            rev = self.brain.decide("revise", {"requirements": self.req, "tried": tried, "remaining": remaining,
                                               "failure": {"failed_checks": failed or ["execution"],
                                                           "reasons": verdict.reasons if verdict else []}}, Revision)
        self.record.revisions.append({"kind": "revision", "after": self.impl.plan.id, "reason": rev.reason,
                                      "metrics": dict(self.record.metrics.get("test", {})),
                                      "failed_checks": failed, "next": rev.plan.id if rev.plan else None})
        self.save()
        if rev.plan is None:
            return None
        known = {p.id for p in self.record.plans}
        if rev.plan.id not in known:
            self.record.plans.append(rev.plan)
        return rev.plan

    def implement(self, plan_id: str | None = None, executor: NamespaceExecutor | None = None) -> RunRecord:
        """Run the selected plan in-process with repairs; verify; revise while a revision is allowed."""
        assert self.record is not None
        executor = executor or NamespaceExecutor()
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
        self.record.timings["total"] = round(time.perf_counter() - self._t0, 3)
        return self.save()


def _step(agent: str, text: str):
    from .schema import Step

    return Step(agent=agent, text=text)  # type: ignore[arg-type]
