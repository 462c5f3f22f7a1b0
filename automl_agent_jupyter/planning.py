"""The paper's first phase: request verification -> parsing (prompt agent) -> retrieval -> planning ->
data agent -> model agent -> execution verification, and the revisions of the plans.

:meth:`Planner.plan` returns a :class:`Planning`: the requirements, the data's profile, the primary
metric and the plans with their verdicts, best first. Everything implementation needs is in it, so an
implementation (implementation.py) is built from an accepted plan of a ``Planning`` and nothing else.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .agents import DataAgent, ModelAgent, PromptAgent
from .agents.data import recipes_for
from .knowledge.retrieval import KnowledgeSource, retrieve, sources_from
from .record import data_fingerprint
from .runlog import RunLog
from .schema import (
    DataReport,
    KnowledgeRequest,
    Plan,
    PlanRequest,
    Requirements,
    ReviseRequest,
    Step,
    Verdict,
    VerifyPlansRequest,
    VerifyRequest,
)
from .tasks import for_task
from .verification import verify_plan

MIN_REVISION_S = 10.0  # a revision needs at least this much of the budget
REVISION_SHARE = 0.25  # of the budget, kept back for a revision when a plan can miss a target


def revision_reserve_s(log: RunLog, req: Requirements) -> float:
    """Seconds kept back from a plan's cells for a revision: only when the requirements set a target or a
    limit that a plan can miss, and a revision is still allowed."""
    targets = any(pm.value is not None for pm in req.problem.performance_metrics) or \
        bool(req.problem.complexity_metrics)
    revisions = sum(1 for r in log.record.revisions if r.get("kind") == "revision")
    if not targets or revisions >= log.settings.max_revisions:
        return 0.0
    return max(MIN_REVISION_S, REVISION_SHARE * log.settings.budget_s)


def revision_allowed(log: RunLog) -> str | None:
    """None when a revision may run; else why not ("max_revisions", or the time left)."""
    if sum(1 for r in log.record.revisions if r.get("kind") == "revision") >= log.settings.max_revisions:
        return "max_revisions"
    left, budget = log.remaining_s(), log.settings.budget_s
    if left < 0.8 * max(MIN_REVISION_S, REVISION_SHARE * budget):
        return f"{max(0.0, left):.0f} s of the {budget:.0f} s budget left"
    return None


def _return_freed_memory() -> None:
    """Collect what was let go and hand the freed heap back to the system (glibc's malloc_trim), so the cells'
    own reading of the table starts from what is really in use."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, Windows, musl): the memory stays with the process
        pass


@dataclass
class Planning:
    """What planning established: all of it present once planning succeeded."""

    requirements: Requirements
    report: DataReport
    data: Any  # the loaded data (what the model agent probes on)
    metric: str  # the primary metric
    plans: list[Plan]  # the record's plans, with their verdicts; best predicted first, new plans appended

    @property
    def task(self) -> Any:
        return for_task(self.requirements.task)

    def pool(self) -> list[str]:
        """The models a plan may use for this task and data."""
        return self.task.candidate_pool(self.requirements, self.report)

    def get(self, plan_id: str) -> Plan:
        return next(p for p in self.plans if p.id == plan_id)

    def release(self, handoff: bool = True) -> None:
        """While the cells train: a large dataset is not held here beside their own copy (the task decides;
        ``handoff``: the cells, run in this process, may take this one instead of reading the file again);
        :meth:`loaded` reads it again for a revision's probes."""
        if self.data is not None and self.task.release(self.report, handoff):
            self.data = None
            _return_freed_memory()

    def loaded(self) -> Any:
        """The loaded data, read again if :meth:`release` let it go."""
        if self.data is None:
            self.data = self.task.profile(self.requirements.data_path or "", self.requirements, self.report.split.get("seed", 0))[1]
        return self.data


class Planner:
    """Plans a run and revises its plans; every step is timed and recorded in ``log``."""

    def __init__(self, log: RunLog, sources: list[KnowledgeSource] | None = None) -> None:
        self.log, self.settings, self.brain = log, log.settings, log.brain
        self.sources = sources
        self.peek: dict[str, Any] | None = None  # the prompt agent's look at the data (columns, values)
        self.prompt_agent = PromptAgent(self.brain)
        self.data_agent = DataAgent(self.brain)
        self.model_agent = ModelAgent(self.brain)

    # ------------------------------------------------------------------------------------ planning
    def plan(self, instruction: str, data: str | None, target: str | None, task: str | None,
             requirements: Requirements | None = None) -> Planning | None:
        """The plans for ``instruction`` (or for the user's corrected ``requirements``, not parsed again);
        None when the run stopped (the record says why)."""
        log, rec, s = self.log, self.log.record, self.settings
        if requirements is None:
            with log.stage("request_verification"):
                check = self.brain.ask(VerifyRequest(instruction=instruction, data_path=data))
            if check.status != "ok":
                log.stop(check.status, check.message, check.questions)
                return None
        with log.stage("parsing"):
            self.peek = peek = self.data_agent.peek(data) if data else None
            if requirements is not None:  # the user's corrected requirements (the form): no parsing
                req = requirements.model_copy(deep=True)
                if req.dataset and data:
                    req.dataset[0].path = data
            else:
                req = self.prompt_agent.parse(instruction, data, peek, {"target": target, "task": task})
            rec.requirements = req
        choices = self.prompt_agent.questions(req, peek)
        if choices:
            rec.choices = choices
            questions = [q.text for q in choices]
            fields = ", ".join(dict.fromkeys(q.field for q in choices))
            log.stop("needs_clarification", f"Some essentials are missing or unsure ({fields}).", questions)
            return None
        with log.stage("retrieval"):
            items, notes = retrieve(req, self.sources or sources_from(s.knowledge_sources))
            rec.knowledge = items
            summary = self.brain.ask(KnowledgeRequest(items=items, requirements=req))
            req.knowledge = [{"insight": i} for i in summary.insights] + [{"note": n} for n in notes]
        with log.stage("data_profiling"):
            rec.data_fingerprint = data_fingerprint(req.data_path)
            report, loaded = self.data_agent.profile(req, s.seed)
            rec.data_report, rec.split = report, {k: report.split[k] for k in ("method", "seed", "ratios", "sizes")}
        metric = for_task(req.task).primary_metric(req, report)
        planning = Planning(requirements=req, report=report, data=loaded, metric=metric, plans=rec.plans)
        with log.stage("planning"):
            plans = self._new_plans(planning, planning.pool(), 0)
        with log.stage("model_search"):
            plans = self._search_models(planning, plans)
        with log.stage("execution_verification"):
            planning.plans += self._verify_and_rank(planning, plans)
        rec.selected_plan = rec.plans[0].id if rec.plans else None
        rec.status = "planned"
        rec.message = f"{len(rec.plans)} plans; best predicted: {rec.plans[0].title}" if rec.plans else "no plan"
        return planning

    def _new_plans(self, planning: Planning, pool: list[str], n0: int) -> list[Plan]:
        """P plans from the brain (ids P<n0+1>...), each decomposed into the data agent's steps."""
        s, req = self.settings, planning.requirements
        plans = self.brain.ask(PlanRequest(requirements=req, data_report=planning.report, n_plans=s.n_plans,
                                           top_k=s.top_k, pool=pool, recipes=recipes_for(req.task) or None)).plans
        plans = [self._fresh(planning, p, f"P{n0 + i + 1}") for i, p in enumerate(plans[: s.n_plans])]
        analyses = self.data_agent.analyse(plans, req, planning.report)
        for p in plans:
            p.data_summary = analyses[p.id].summary
            p.steps = [Step(agent="data", text=t) for t in analyses[p.id].steps]
        return plans

    def _fresh(self, planning: Planning, p: Plan, plan_id: str) -> Plan:
        """A brain's plan as a new proposal: its own id, its recipe and models fitting together (the task
        decides), at most top-k models (and the task's ``extra_families``, which the probes narrow to top-k), no
        results carried over."""
        p = planning.task.align_plan(p.model_copy(update={"model_families": list(dict.fromkeys(p.model_families))}))
        most = self.settings.top_k + planning.task.extra_families
        return p.model_copy(update={"id": plan_id, "model_families": p.model_families[:most],
                                    "candidates": [], "steps": [], "verdict": None, "state": "proposed"})

    def _search_models(self, planning: Planning, plans: list[Plan]) -> list[Plan]:
        s = self.settings
        plans = self.model_agent.rank(plans, planning.requirements, planning.report, planning.loaded(), s.as_dict())
        if self.model_agent.effort:  # the probe effort sized from the budget, and why (a revision's probes too)
            self.log.record.probe_effort = dict(self.model_agent.effort)
        for p in plans:
            p.steps += [Step(agent="model", text=t) for t in planning.task.model_steps(p, s.budget_s, s.seed)]
        return plans

    def _verdict(self, planning: Planning, p: Plan) -> Verdict:
        best = p.candidates[0] if p.candidates else None
        return verify_plan(planning.requirements, planning.metric, best, self.settings.budget_s * 3)

    def _verify_and_rank(self, planning: Planning, plans: list[Plan]) -> list[Plan]:
        """Execution verification: numeric verdicts decide the order; the brain's opinions stand beside."""
        for p in plans:
            p.verdict = self._verdict(planning, p)
        answer = self.brain.ask(VerifyPlansRequest(requirements=planning.requirements, metric=planning.metric,
                                                   plans=[p.model_copy(update={"steps": []}) for p in plans]))
        if self.brain.from_llm("verify_plans"):
            said = {o.plan_id: o for o in answer.opinions}
            for p in plans:
                o = said.get(p.id)
                text = (o.text if o else "") + (" (the LLM would pick this plan)" if answer.best == p.id else "")
                if o and o.passed is not None and o.passed != p.verdict.passed:  # type: ignore[union-attr]
                    text += f" [the LLM says {'pass' if o.passed else 'fail'}; the numeric checks decide]"
                p.verdict.brain_opinion = text.strip()  # type: ignore[union-attr]
        return sorted(plans, key=lambda p: (not p.verdict.passed, -p.verdict.score))  # type: ignore[union-attr]

    # ------------------------------------------------------------------------------------ revisions
    def reject(self, planning: Planning, plan_id: str) -> None:
        for p in planning.plans:
            if p.id == plan_id:
                p.state = "rejected"

    def replan(self, planning: Planning) -> list[Plan]:
        """All plans rejected: ask for new ones (a revision of the planning step) and verify them."""
        log = self.log
        rejected = [p for p in planning.plans if p.state == "rejected"]
        used = {c.name for p in rejected for c in p.candidates}
        pool = [k for k in planning.pool() if k not in used] or planning.pool()
        with log.stage("planning"):
            fresh = self._new_plans(planning, pool, len(planning.plans))
            for p in fresh:
                p.revision_of = ",".join(r.id for r in rejected)
        with log.stage("model_search"):
            fresh = self._search_models(planning, fresh)
        with log.stage("execution_verification"):
            fresh = self._verify_and_rank(planning, fresh)
        planning.plans += fresh
        log.record.revisions.append({"kind": "replan", "reason": "all plans rejected by the user",
                                     "new_plans": [p.id for p in fresh]})
        return fresh

    def revise(self, planning: Planning, after: Plan, verdict: Verdict | None) -> Plan | None:
        """After plan ``after`` was verified on validation (``verdict``; None: it did not finish): the next
        plan to try (bounded), the reason recorded. Never decided on the test split."""
        rec = self.log.record
        failed = [c.name for c in verdict.checks if c.passed is False] if verdict else []
        if verdict is not None and not failed:
            return None  # met on validation: a miss on test is reported as it is, not chased
        why_not = revision_allowed(self.log)
        if why_not == "max_revisions":
            return None
        if why_not:
            rec.revisions.append({"kind": "no_revision", "after": after.id, "reason": why_not})
            return None
        tried = [p for p in planning.plans if p.state in ("tried", "selected")]
        remaining = [p for p in planning.plans if p.state == "proposed"]
        with self.log.stage("revision"):
            rev = self.brain.ask(ReviseRequest(
                requirements=planning.requirements, tried=tried, remaining=remaining,
                failure={"failed_checks": failed or ["execution"], "reasons": verdict.reasons if verdict else []},
                pool=planning.pool(), recipes=recipes_for(planning.requirements.task) or None))
            plan = self._revised(planning, rev.plan, after)
        valid = next((t["valid"] for t in reversed(rec.trained) if t["plan"] == after.id), {})
        rec.revisions.append({"kind": "revision", "after": after.id, "reason": rev.reason,
                              "decided_on": "validation", "validation": dict(valid),
                              "failed_checks": failed, "next": plan.id if plan else None})
        return plan

    def _revised(self, planning: Planning, plan: Plan | None, after: Plan) -> Plan | None:
        """The plan a revision names: a known untried one, or a new one (analysed, ranked and verified)."""
        if plan is None:
            return None
        known = {p.id: p for p in planning.plans}
        if plan.id in known:
            return known[plan.id] if known[plan.id].state == "proposed" else None
        fresh = self._fresh(planning, plan, f"P{len(known) + 1}")
        analysis = self.data_agent.analyse([fresh], planning.requirements, planning.report)[fresh.id]
        fresh.data_summary, fresh.steps = analysis.summary, [Step(agent="data", text=t) for t in analysis.steps]
        fresh = self._search_models(planning, [fresh])[0]
        fresh.verdict = self._verdict(planning, fresh)
        fresh.revision_of = after.id
        planning.plans.append(fresh)
        return fresh

