"""One run's record as it grows: the folder, the record, the timed stages and the brain's usage.

Both phases of a run (planning.py, implementation.py) write into the same :class:`RunLog`: every stage
is timed and announced through ``on_event``, and the record is saved after every step, so that
``run.json`` always says where the run stands.
"""
from __future__ import annotations

import copy
import platform
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from . import __version__
from .brains import Brain
from .brains.base import usage_total
from .config import Settings
from .record import RunFolder, RunFolderError, new_run_id, now, process_identity, unique_folder
from .schema import RunRecord, Segment

Event = Callable[[str, str, dict[str, Any]], None]  # (stage, "start" | "done" | "info", details)
MIN_CELL_BUDGET_S = 5.0  # the generated cells always get at least this much, even past the budget


class RunLog:
    """The record of one run, its folder, and what the shared brain did since the run began."""

    def __init__(self, settings: Settings, brain: Brain, on_event: Event, instruction: str, data: str | None,
                 out: str | Path | None = None) -> None:
        self.settings, self.brain, self.on_event = settings, brain, on_event
        run_id = new_run_id(instruction)
        for _ in range(20):  # the folder is claimed before anything is written (raises RunFolderError)
            if not out:
                run_id, self.folder = unique_folder(settings.runs_dir, new_run_id(instruction))
            else:
                self.folder = RunFolder(out)
            try:
                self.folder.claim(run_id)
                break
            except RunFolderError:
                if out:
                    raise
        ident = process_identity()
        self.record = RunRecord(run_id=run_id, created=now(), instruction=instruction, data=data,
                                brain=brain.name, seed=settings.seed, environment={
                                    "python": platform.python_version(), "platform": platform.platform(),
                                    "automl_agent_jupyter": __version__},
                                status="running", message="planning", settings=settings.as_dict(),
                                segments=[Segment(started=now(), pid=ident["pid"], host=ident["host"],
                                                  budget_s=settings.budget_s)])
        self.t0 = time.perf_counter()
        self.cpu0 = time.process_time()
        self.implemented_s = 0.0  # implementation time of plans already concluded (the budget counts it)
        self.impl_started: float | None = None  # when the plan being implemented started
        self._usage0, self._notes0 = copy.deepcopy(brain.usage), len(brain.notes)  # a brain shared by runs
        self._decisions0 = len(brain.decisions)
        self._earlier_notes: list[str] = []  # a resumed run keeps what its earlier segments recorded
        self._earlier_decisions: list = []
        brain.begin_run()  # the brain's per-run limits (an LLM's budget) count from here

    @classmethod
    def resume(cls, settings: Settings, brain: Brain, on_event: Event, folder: RunFolder) -> RunLog:
        """The log of an interrupted or abandoned run, continued by this process: the folder claimed, a new
        segment opened, and the time its earlier segments spent on implementation counted against the budget."""
        from .errors import UserInputError
        from .record import RESUMABLE, effective

        rec = effective(folder.read_record())
        if rec.status not in RESUMABLE:
            raise UserInputError(f"run {rec.run_id} is {rec.status}, not interrupted or abandoned: nothing to resume")
        folder.claim(rec.run_id, fresh=False)
        log = cls.__new__(cls)
        log.settings, log.brain, log.on_event, log.folder = settings, brain, on_event, folder
        stage = (rec.interruption.stage if rec.interruption else None) or rec.stage
        if rec.segments and rec.segments[-1].ended is None:  # abandoned: its process could not close it
            rec.segments[-1].ended, rec.segments[-1].status = now(), "abandoned"
        ident = process_identity()
        rec.segments.append(Segment(started=now(), pid=ident["pid"], host=ident["host"], budget_s=None,
                                    resumed_from=stage))
        rec.status, rec.message, rec.stage, rec.interruption = "running", f"resumed from {stage}", None, None
        log.record = rec
        log.t0 = time.perf_counter() - rec.timings.get("agent_stages", 0.0)
        log.cpu0 = time.process_time() - rec.planning_charge.get("cpu_s", rec.timings.get("agent_stages", 0.0))
        log.implemented_s = sum(v for k, v in rec.timings.items()
                                if k.startswith("cell:") or k in ("code_generation", "debugging"))
        log.impl_started = None
        log._usage0, log._notes0 = copy.deepcopy(brain.usage), len(brain.notes)
        log._decisions0 = len(brain.decisions)
        log._earlier_notes, log._earlier_decisions = list(rec.notes), list(rec.decisions)
        rec.segments[-1].budget_s = round(max(0.0, log.remaining_s()), 3)
        return log

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """A timed stage: announced at start and end, its seconds added to the record's timings."""
        self.on_event(name, "start", {})
        t0 = time.perf_counter()
        try:
            yield
        finally:
            dt = round(time.perf_counter() - t0, 3)
            self.record.timings[name] = round(self.record.timings.get(name, 0.0) + dt, 3)
            self.on_event(name, "done", {"seconds": dt})

    def save(self) -> RunRecord:
        rec = self.record
        rec.llm_usage = usage = self.brain.usage_since(self._usage0)
        rec.llm_total = usage_total(usage.values())
        rec.notes = self._earlier_notes + list(self.brain.notes[self._notes0:])
        rec.decisions = self._earlier_decisions + list(self.brain.decisions[self._decisions0:])
        rec.brain_config = self.brain.describe()
        rec.process = process_identity()
        if rec.status != "running":
            rec.stage = None
        seg = rec.segments[-1] if rec.segments else None
        if seg is not None and seg.ended is None and rec.status not in ("running", "planned"):
            seg.ended, seg.status = now(), rec.status
        self.folder.write_record(rec)
        return rec

    def release(self) -> None:
        """Let other runs use the folder (after planning, while waiting for a click; and at the end)."""
        self.folder.release()

    def note(self, text: str) -> None:
        """A manager event for the record (kept with the brain's notes, in order)."""
        self.brain.notes.append(text)

    def stop(self, status: str, message: str, questions: list[str] | None = None) -> RunRecord:
        self.record.status = status  # type: ignore[assignment]
        self.record.message = message
        self.record.questions = questions or []
        self.on_event("manager", "info", {"status": status, "message": message})
        return self.save()

    def start_implementation(self) -> float:
        """A plan's implementation starts now (the one before it, if any, spent its share of the budget)."""
        now = time.perf_counter()
        if self.impl_started is not None:
            self.implemented_s += now - self.impl_started
        self.impl_started = now
        return now

    def planned(self) -> None:
        """Planning ended: its wall seconds (what the budget is charged) and its CPU seconds go in the record."""
        rec = self.record
        rec.timings["agent_stages"] = round(time.perf_counter() - self.t0, 3)
        rec.planning_charge = {"wall_s": rec.timings["agent_stages"], "cpu_s": round(time.process_time() - self.cpu0, 3),
                               "rule": "the wall-clock seconds are charged: the budget is wall-clock seconds for the "
                                       "whole run (as AutoGluon's time_limit and FLAML's time_budget), under load too"}

    def remaining_s(self) -> float:
        """Seconds left of the run's budget: planning's wall time and every implementation so far count; time
        spent waiting for a user's click does not."""
        spent = self.record.timings.get("agent_stages", 0.0) + self.implemented_s
        if self.impl_started is not None:
            spent += time.perf_counter() - self.impl_started
        return self.settings.budget_s - spent

    def cell_settings(self, reserve_s: float = 0.0) -> dict[str, Any]:
        """What the generated cells are rendered with: the run, its folder, seed, storage and what is left of
        the budget (less ``reserve_s`` kept back for a revision)."""
        s = self.settings
        return {"run_id": self.record.run_id, "run_dir": str(self.folder.path), "seed": s.seed,
                "storage": s.optuna_storage(str(self.folder.path)), "cluster": s.cluster,
                "budget_s": max(MIN_CELL_BUDGET_S, self.remaining_s() - reserve_s),
                "resume": len(self.record.segments) > 1}  # a resumed run reuses what is on disk (Optuna trials)
