"""The paper's second phase for one accepted plan: implementation (the operation agent writes, runs and
repairs the cells) -> implementation verification.

An :class:`Implementation` is built from an accepted plan of a :class:`~automl_agent_jupyter.planning.Planning`
and owns what that implementation changes: the cells (each with its template, its flagged or approved
code), the attempts per stage and the timing. Whoever runs the cells (the in-process executor, the
notebook kernel, the JupyterLab frontend) reports each result to :meth:`Implementation.step`, which says
what to run next; :meth:`Implementation.conclude` verifies the measured numbers.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from . import leaderboard
from .agents import OperationAgent
from .agents.model import ModelAgent
from .errors import DataError
from .execution import CellResult
from .planning import Planning, revision_allowed, revision_reserve_s
from .record import data_changed
from .runlog import RunLog
from .schema import Attempt, CellSpec, Plan, Verdict, VerifyImplementationRequest
from .tasks.scoring import higher_is_better
from .verification import validation_measured, verify_results


@dataclass
class Next:
    """What to do after a cell ran: run cell ``index`` (sources may have been repaired), or stop."""

    kind: Literal["run", "done", "failed", "revise"]  # revise: missed on validation, set aside before its test
    index: int = 0
    changed: list[int] = field(default_factory=list)  # indices whose source the repair changed


class Implementation:
    """One accepted plan's cells, attempts, approvals and flags; recorded in ``log`` as it goes."""

    def __init__(self, log: RunLog, planning: Planning, plan: Plan, agent: OperationAgent) -> None:
        self.log, self.planning, self.agent, self.settings = log, planning, agent, log.settings
        log.folder.claim(log.record.run_id, fresh=False)  # released while the plans waited for a click
        changed = data_changed(planning.requirements.data_path, log.record.data_fingerprint)
        if changed:  # no cell runs on data the plans never saw
            raise DataError(changed)
        self.plan = plan
        self.tries: dict[str, int] = {}  # stage -> attempts so far
        self.started = log.start_implementation()
        self.verdict: Verdict | None = None  # on the test split: what the record reports
        self.valid_verdict: Verdict | None = None  # on the validation split: what decides a revision
        self.valid_numbers: dict[str, float] = {}  # the validation metrics behind it
        plan.state = "selected"
        log.record.selected_plan = plan.id
        log.record.status = "running"
        with log.stage("code_generation"):
            self.cells: list[CellSpec] = agent.write(plan, planning.requirements, planning.report,
                                                     self.cell_settings())
        # the deployment files written with these cells: written again if this plan is kept after a later one ran
        self.files = {n: (log.folder.path / n).read_text(encoding="utf-8") for n in DEPLOY_FILES
                      if (log.folder.path / n).is_file()}
        self.gated = False  # True once decided on validation: this plan's test split is to be scored (once)
        self._before: dict[str, Any] | None = None  # the namespace before this plan's cells ran (watch)
        self.state: dict[str, Any] = {}  # what this plan's cells bound, kept while it is set aside
        for c in self.cells:
            if c.flagged:
                log.note(f"write_code {c.stage}: the edit was flagged ({'; '.join(c.flagged)[:200]}); "
                         + ("run with your approval" if c.approved else
                            "the tested template runs instead (approve(index) to use the edit)"))
        log.save()

    @property
    def attempts(self) -> list[Attempt]:
        """This plan's attempts, in order."""
        return [a for a in self.log.record.attempts if a.plan_id == self.plan.id]

    @property
    def gate(self) -> int:
        """The index of the evaluate cell: the cells before it decide on validation; it scores the test split."""
        return next((i for i, c in enumerate(self.cells) if c.stage == "evaluate"), len(self.cells))

    def title(self, stage: str) -> str:
        return next((c.title for c in self.cells if c.stage == stage), stage)

    def approve(self, index: int) -> Next:
        """The user approves the flagged code proposed for cell ``index`` (a repair, else an edit): it replaces
        the cell's source, and the cell is to be run again. Nothing flagged: the cell is left as it is."""
        cell = self.cells[index]
        proposed = next((a for a in reversed(self.attempts) if a.stage == cell.stage and a.proposed_source), None)
        source = proposed.proposed_source if proposed else cell.flagged_source
        if not source or source == cell.source:
            return Next("run", index)
        cell.approved, cell.flagged_source = True, None
        if proposed:
            proposed.proposed_source = None  # approved once; a new flag needs a new approval
        cell.replace_source(source)
        self.log.note(f"{cell.stage}: flagged code approved by the user and run")
        self.log.save()
        return Next("run", index, [index])

    def step(self, index: int, result: CellResult) -> Next:
        """Record what cell ``index`` did; on failure diagnose, repair (bounded) and say what to run next."""
        log, rec, cell = self.log, self.log.record, self.cells[index]
        n = self.tries[cell.stage] = self.tries.get(cell.stage, 0) + 1
        rec.timings[f"cell:{cell.stage}"] = round(rec.timings.get(f"cell:{cell.stage}", 0) + result.seconds, 3)
        if result.ok:
            rec.attempts.append(self.agent.attempt(self.plan, cell, n, result, None))
            log.on_event(f"cell:{cell.stage}", "done", {"seconds": round(result.seconds, 2), "attempt": n})
            log.save()
            return Next("done") if index == len(self.cells) - 1 else Next("run", index + 1)
        if n > self.settings.max_repairs:
            rec.attempts.append(self.agent.attempt(self.plan, cell, n, result, None))
            log.save()
            return Next("failed", index)
        with log.stage("debugging"):
            repair = self.agent.diagnose(cell, result, n, self.plan, pool=self.planning.pool(),
                                         stages=[c.stage for c in self.cells])
        attempt = self.agent.attempt(self.plan, cell, n, result, repair)
        flagged = self.agent.check_repair(repair, cell, str(log.folder.path))
        approved = self.settings.approve_flagged_code
        if flagged:
            attempt.flagged, attempt.proposed_source = flagged, repair.source
            attempt.repair = f"{repair.diagnosis} ({'applied with your approval' if approved else 'not run'}: " \
                             f"the code check flagged {'; '.join(flagged)[:300]})"
            log.note(f"debug {cell.stage}: repaired code flagged ({'; '.join(flagged)[:200]}); "
                     + ("run because approve_flagged_code is set" if approved else "not run"))
        rec.attempts.append(attempt)
        log.on_event(f"cell:{cell.stage}", "info", {"attempt": n, "error": f"{result.error_type}: {result.error}",
                                                     "repair": attempt.repair})
        log.save()
        if repair.action == "give_up" or (flagged and not approved):
            return Next("failed", index)
        if repair.action == "source" and repair.source:
            cell.replace_source(repair.source)
            return Next("run", index, [index])
        if repair.action == "rerun_from":
            stages = [c.stage for c in self.cells]
            return Next("run", stages.index(repair.params.get("stage", "setup")))
        self.plan = self.agent.apply(repair, self.plan)
        fresh = self.agent.write(self.plan, self.planning.requirements, self.planning.report, self.cell_settings(),
                                 previous=self.cells)
        changed = [i for i, (a, b) in enumerate(zip(self.cells, fresh)) if a.source != b.source]
        self.cells = fresh
        self.files = {n: (log.folder.path / n).read_text(encoding="utf-8") for n in DEPLOY_FILES
                      if (log.folder.path / n).is_file()}  # as the re-render wrote them
        return Next("run", min(changed + [index]), changed)

    def cell_settings(self) -> dict[str, Any]:
        """The run's settings for the cells, the budget less what a revision may still need. Fixed when the
        plan's cells are first written: a repair's re-render keeps the deadline the setup cell set."""
        if getattr(self, "_cell_settings", None) is None:
            self._cell_settings = self.log.cell_settings(revision_reserve_s(self.log, self.planning.requirements))
        return dict(self._cell_settings)

    # ------------------------------------------------------------------ decisions on validation
    def judge_on_validation(self, results: dict[str, Any] | None) -> Verdict | None:
        """The verdict that decides revisions: the chosen model's validation metrics and its measured costs
        against every requirement (None when the code reported no validation metrics)."""
        valid = ((results or {}).get("metrics") or {}).get("valid")
        if not valid:
            return None
        numbers = {k: v for k, v in valid.items() if isinstance(v, float)}
        return verify_results(self.planning.requirements, self.planning.metric, numbers,
                              validation_measured(results or {}), split="validation")

    def judge(self, results: dict[str, Any] | None) -> Verdict | None:
        """The verdict on validation (kept in ``valid_verdict``, the numbers in ``valid_numbers``)."""
        self.valid_verdict = self.judge_on_validation(results)
        valid = ((results or {}).get("metrics") or {}).get("valid") or {}
        self.valid_numbers = {k: v for k, v in valid.items() if isinstance(v, float)}
        return self.valid_verdict

    def should_set_aside(self, results: dict[str, Any] | None) -> bool:
        """Before the test split is scored: does the plan miss a requirement on validation while a revision
        can still run (count and time)?"""
        verdict = self.judge_on_validation(results)
        return verdict is not None and not verdict.passed and revision_allowed(self.log) is None

    # ------------------------------------------------------------------ set aside, kept
    def watch(self, namespace: dict[str, Any]) -> None:
        """Note the namespace before this plan's cells run (references only), to know later what they bound."""
        self._before = dict(namespace)

    def set_aside(self, results: dict[str, Any] | None, namespace: dict[str, Any] | None = None) -> Verdict | None:
        """The plan's test split is not scored now (it missed on validation and a revision follows, or a better
        plan on validation is kept): recorded as trained with the validation numbers that decided, and what its
        cells bound in ``namespace`` kept (references), so that it can still be kept if it proves the best."""
        self.judge(results)
        if namespace is not None and results is not None:
            before = self._before or {}
            self.state = {k: v for k, v in namespace.items() if k not in before or before[k] is not v}
        self._record_trained(results, tested=False)
        self.plan.state = "tried"
        self.log.save()
        return self.valid_verdict

    def rank(self) -> tuple[int, int, float]:
        """The order in which plans are kept, decided on validation only: meeting every requirement first, then
        fewer missed requirements, then the better primary metric. A plan without validation numbers is last."""
        v = self.valid_verdict
        if v is None:
            return (0, -99, float("-inf"))
        return (int(v.passed), -sum(1 for c in v.checks if c.passed is False), v.score)

    def restore(self, namespace: dict[str, Any]) -> None:
        """This plan is kept after a later plan ran: its names back in ``namespace`` and its deployment files in
        the run folder, so that its own evaluate, measure and save cells run on its model."""
        namespace.update(self.state)
        OperationAgent.write_files(self.files, str(self.log.folder.path))
        self.plan.state = "selected"
        self.log.record.selected_plan = self.plan.id

    def _record_trained(self, results: dict[str, Any] | None, tested: bool) -> None:
        """run.json's list of every plan trained with the validation numbers that decided what came next (one
        entry per plan: a plan kept after it was set aside has its entry updated when its test split is scored)."""
        verdict, metric = self.valid_verdict, self.planning.metric
        valid = ((results or {}).get("metrics") or {}).get("valid") or {}
        # each candidate's realized validation score, latency and size beside the model agent's predictions
        self.plan.candidates = ModelAgent.check(self.plan, results, metric).candidates
        entry = {
            "plan": self.plan.id, "model": (results or {}).get("model"), "valid": valid,
            "decided_on": f"validation {metric} {valid.get(metric)}" if valid else "no validation result",
            "passed_on_validation": verdict.passed if verdict else False,
            "failed_checks": [c.name for c in verdict.checks if c.passed is False] if verdict else ["execution"],
            "test_scored": bool(((results or {}).get("metrics") or {}).get("test"))}
        trained = self.log.record.trained
        same = next((i for i, t in enumerate(trained) if t["plan"] == self.plan.id), None)
        if same is None:
            trained.append(entry)
        else:
            trained[same] = entry
        # every candidate the plan trained; a plan set aside before its test split saved no model
        self.log.record.leaderboard = leaderboard.merge(self.log.record.leaderboard, self.plan, results, metric,
                                                        saved=tested)

    def conclude(self, results: dict[str, Any] | None) -> Verdict:
        """Implementation verification: the measured numbers against every requirement."""
        log, rec, req, metric = self.log, self.log.record, self.planning.requirements, self.planning.metric
        self.judge(results)
        self._record_trained(results, tested=True)
        with log.stage("implementation_verification"):
            if not results or not results.get("metrics", {}).get("test"):
                verdict = Verdict(passed=False, score=float("-inf"),
                                  reasons=["the generated code did not finish; no test metric was measured"])
            else:
                rec.metrics = {"test": {k: v for k, v in results["metrics"]["test"].items() if isinstance(v, float)}}
                verdict = verify_results(req, metric, rec.metrics["test"], results.get("measured", {}))
                rec.primary_metric = {"name": metric, "value": rec.metrics["test"].get(metric),
                                      "higher_is_better": higher_is_better(metric), "split": "test"}
                rec.constraints = [{"name": c.name, "target": c.target, "measured": c.value, "unit": c.unit,
                                    "pass": c.passed} for c in verdict.checks if c.kind == "complexity"]
                rec.artifacts.update(results.get("artifacts", {}))
                plots = results.get("plots") or {}
                rec.artifacts.update({f"plot:{k}": v for k, v in plots.items()})
                if results.get("main_plot") in plots:
                    rec.artifacts["main_plot"] = plots[results["main_plot"]]
                if results.get("plot_seconds") is not None:
                    rec.timings["plots"] = float(results["plot_seconds"])
                rec.device = results.get("device", "cpu")
                if results.get("split", {}).get("sizes"):  # what the code really did, not what was planned
                    rec.split = {**rec.split, **results["split"]}
                rec.environment["model"] = str(results.get("model", ""))
            opinion = log.brain.ask(VerifyImplementationRequest(
                verdict=verdict, requirements=req, plan={"id": self.plan.id, "title": self.plan.title},
                results={k: (results or {}).get(k) for k in ("metrics", "measured", "model", "params", "split")},
                failed_cells=[a.model_dump(include={"stage", "error_type", "error"}) for a in self.attempts
                              if not a.ok]))
            verdict.brain_opinion = opinion.text if log.brain.from_llm("verify_implementation") else ""
        rec.verification = self.verdict = verdict
        cells = self.planning.task.replay_cells(self.cells, results or {})  # what reruns the same fits
        cells = with_deploy_files(cells, log.folder.path)  # pipeline.py rebuilds predict.py / serve.py too
        rec.artifacts["script"] = str(log.folder.write_script(cells, rec))
        rec.artifacts["notebook"] = str(log.folder.write_notebook(cells, rec))
        rec.artifacts["record"] = str(log.folder.path / "run.json")
        rec.timings["implementation"] = round(time.perf_counter() - self.started, 3)
        self.plan.state = "tried"
        for i, p in enumerate(self.planning.plans):
            if p.id == self.plan.id:
                self.planning.plans[i] = self.plan
        if rec.metrics:
            rec.status = "succeeded" if verdict.passed else "failed"
            rec.message = ("all requirements met: " if verdict.passed else "requirements not met: ") + \
                "; ".join(verdict.reasons)
        else:
            rec.status, rec.message = "failed", verdict.reasons[0]
        log.save()
        return verdict


DEPLOY_FILES = ("predict.py", "serve.py")


def keep_best(current: Implementation, aside: list[Implementation]) -> Implementation:
    """The plan whose test split is scored, as the final model: the best on validation (Implementation.rank)
    among the plan that just trained (``current``, kept on a tie) and those set aside. run.json's ``kept``
    says which won and on what validation numbers."""
    best = max([current, *aside], key=Implementation.rank)
    metric = current.planning.metric

    def numbers(impl: Implementation) -> dict[str, Any]:
        v = impl.valid_verdict
        return {"plan": impl.plan.id, metric: impl.valid_numbers.get(metric),
                "passed_on_validation": bool(v and v.passed),
                "failed_checks": [c.name for c in v.checks if c.passed is False] if v else ["no validation result"]}

    current.log.record.kept = {
        **numbers(best), "decided_on": "validation", "metric": metric,
        "valid": dict(best.valid_numbers),
        "rule": f"meets every requirement on validation first, then fewer missed requirements, then the better "
                f"validation {metric}",
        "over": [numbers(i) for i in [current, *aside] if i is not best]}
    return best


def with_deploy_files(cells: list[CellSpec], run_dir: Path) -> list[CellSpec]:
    """The cells for the standalone pipeline.py / pipeline.ipynb: the setup cell also writes the run's
    deployment files (as they are in the run folder), so that the pipeline rebuilds the whole run folder on
    its own. The cells of the live notebook only load them."""
    files = {n: (run_dir / n).read_text(encoding="utf-8") for n in DEPLOY_FILES if (run_dir / n).is_file()}
    if not files or not cells:
        return cells
    lines = ["", "", "# The run's deployment files (written beside its cells; the save and predict stages load them),",
             "# written here too so that this pipeline rebuilds the run folder on its own."]
    for name, text in files.items():
        literal = f"r'''{text}'''" if "'''" not in text and not text.endswith("\\") else repr(text)
        lines.append(f"(RUN_DIR / {name!r}).write_text({literal}, encoding=\"utf-8\")")
    first = cells[0].model_copy(update={"source": cells[0].source.rstrip("\n") + "\n".join(lines) + "\n"})
    return [first, *cells[1:]]
