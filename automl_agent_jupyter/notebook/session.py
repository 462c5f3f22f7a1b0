"""One ``%%automl`` run in a notebook: the glue between the manager, the notebook and the widgets.

Two modes, chosen once per run and never by waiting for an answer:

``lab``     the JupyterLab extension answered the bridge (``Bridge.connected``) and the cell has a
            ``cellId``: an accepted plan's cells are inserted below the ``%%automl`` cell as ordinary
            code cells and run by the frontend; each result comes back through the bridge, a failed cell
            is repaired in place (``update_and_run``) and, after the last cell, the manager verifies.
``kernel``  anything else (VS Code, Colab, classic Notebook, nbval, plain IPython): the cells run here
            in the user's namespace (``NamespaceExecutor``), each stage's code is shown in the widget,
            and the run folder holds pipeline.py / pipeline.ipynb.

The widgets only render; every decision comes back here through ``RunView.on_decision``.
"""
from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from ..config import Settings
from ..execution import CellResult, NamespaceExecutor
from ..implementation import Implementation
from ..interrupt import Interrupted, RunGuard, arm, disarm, signals
from ..leaderboard import as_records
from ..manager import Manager, Next
from ..schema import RunRecord
from .bridge import Bridge
from .widgets import RunView

# no repair: the user (or the kernel) stopped it; the record says "interrupted" with this reason
STOPPED = {"CellMissing": "a generated cell was deleted", "NoKernel": "the notebook lost its kernel",
           "Canceled": "the frontend cancelled the cell", "Aborted": "the kernel aborted the cell",
           "KeyboardInterrupt": "the kernel's Interrupt button", "Interrupted": "the kernel's Interrupt button"}


class CellClock:
    """Times every executed cell by its ``cellId`` and keeps its exception (IPython run-cell events).

    In ``lab`` mode the frontend reports only a status per cell; the seconds, the exception and the
    traceback that the operation agent needs for a repair come from here.
    """

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self._start: dict[str | None, float] = {}
        self.done: dict[str, tuple[float, BaseException | None]] = {}
        shell.events.register("pre_run_cell", self.pre)
        shell.events.register("post_run_cell", self.post)

    def close(self) -> None:
        for name, cb in (("pre_run_cell", self.pre), ("post_run_cell", self.post)):
            try:
                self.shell.events.unregister(name, cb)
            except ValueError:
                pass

    def pre(self, info: Any) -> None:
        arm()  # an interrupt belongs to this cell: clear the stop flag, let SIGINT set it
        self._start[getattr(info, "cell_id", None)] = time.perf_counter()

    def post(self, result: Any) -> None:
        disarm()
        cell_id = getattr(getattr(result, "info", None), "cell_id", None)
        t0 = self._start.pop(cell_id, None)
        if cell_id:
            exc = getattr(result, "error_in_exec", None) or getattr(result, "error_before_exec", None)
            self.done[cell_id] = (time.perf_counter() - t0 if t0 else 0.0, exc)
            while len(self.done) > 200:
                self.done.pop(next(iter(self.done)))

    def result(self, msg: dict) -> CellResult:
        """A ``CellResult`` for a bridge ``cell_result`` message."""
        seconds, exc = self.done.pop(str(msg.get("cell_id")), (0.0, None))
        if msg.get("status") == "ok":
            return CellResult(ok=True, seconds=seconds)
        if exc is None and getattr(sys, "last_value", None) is not None:  # set by IPython's showtraceback
            exc = sys.last_value
        if exc is not None and type(exc).__name__ == msg.get("ename", type(exc).__name__):
            tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            return CellResult(ok=False, seconds=seconds, error_type=type(exc).__name__, error=str(exc)[:2000],
                              traceback=tb[-6000:])
        return CellResult(ok=False, seconds=seconds, error_type=str(msg.get("ename") or "Error"),
                          error=str(msg.get("evalue") or ""))


class _ShowingExecutor(NamespaceExecutor):
    """Runs cells in the user's namespace and shows each stage's code and output in the view."""

    def __init__(self, namespace: dict, echo: bool, session: Session) -> None:
        super().__init__(namespace, echo=echo)
        self.session = session

    def run(self, source: str, name: str) -> CellResult:
        result = super().run(source, name)
        impl = self.session.manager.impl
        title = impl.title(name) if impl else name
        output = result.stdout + (f"\n{result.error_type}: {result.error}" if not result.ok else "")
        self.session.view.show_code(name, title, source, output, result.ok)
        return result


class Session:
    """One run: plans shown in ``view``, then implemented on Accept (or at once with ``auto``)."""

    def __init__(self, shell: Any, settings: Settings, view: RunView, bridge: Bridge | None = None,
                 clock: CellClock | None = None, cell_id: str | None = None) -> None:
        self.shell, self.view, self.bridge, self.clock = shell, view, bridge, clock
        self.cell_id = self.anchor = cell_id
        self.mode = "lab" if bridge is not None and bridge.connected and cell_id and clock else "kernel"
        self.manager = Manager(settings)
        self.guard = RunGuard(lambda: self.manager.record, self.manager.save, self._release, forward=self._on_event)
        self.manager.on_event = self.guard.event
        self._sigterm: Any = None
        self._n_sent = 0  # cells in the current bridge request
        self._existing = False  # the next request runs the cells already in the notebook (resume)
        self._last_cell: dict[str, str] = {}  # plan id -> the id of its last generated cell that ran
        self.busy = False
        self.shown: list[str] = []  # plan ids in the current row of cards
        self._n_attempts = self._n_notes = 0
        self._offset = 0  # manager index of the current bridge request's first cell
        self._next: Next | None = None
        self._pending: Next | None = None
        self._stopped = ""
        self.request: str | None = None
        view.on_decision(self.decide)
        view.on_revise(self.revise)

    # ------------------------------------------------------------------ reading state
    @property
    def record(self) -> RunRecord:
        assert self.manager.record is not None
        return self.manager.record

    @property
    def impl(self) -> Implementation:
        """The plan being implemented (built by the manager when a plan is accepted)."""
        if self.manager.impl is None:
            raise RuntimeError("no plan is being implemented")
        return self.manager.impl

    @property
    def folder(self) -> Path:
        assert self.manager.folder is not None
        return self.manager.folder.path

    def _metric(self) -> str:
        try:
            return self.manager.metric
        except Exception:  # noqa: BLE001 - before profiling there is no metric yet
            return "metric"

    def mode_line(self) -> tuple[str, str]:
        if self.mode == "lab" and self.manager.settings.race:
            return ("JupyterLab extension", ("a race: the plans train side by side in worker processes; the winner's "
                                             "cells are then inserted below this cell as they ran there (not run "
                                             "again in this kernel); rerun any of them by hand"))
        if self.mode == "lab":
            return ("JupyterLab extension", ("an accepted plan's cells are inserted below this cell as ordinary "
                                             "code cells and run in this kernel; rerun any of them by hand"))
        b = self.bridge
        if b is None:
            why = "no kernel to talk to a frontend (plain IPython)"
        elif b.state == "mismatch":
            why = b.mismatch
        elif b.state == "closed":
            why = "the JupyterLab extension is not installed or not enabled in this frontend"
        elif b.connected:
            why = "this frontend sends no cell id"
        elif self.cell_id:
            why = ("no JupyterLab extension has answered yet (it answers once the cell that ran %load_ext has "
                   "finished, so not during Run All)")
        else:
            why = "no frontend extension answered (VS Code, Colab, classic Notebook, nbval)"
        return ("in-kernel", (f"{why}; the generated code runs in this kernel's namespace, each stage's code is "
                              "shown below, and pipeline.py / pipeline.ipynb are written to the run folder"))

    # ------------------------------------------------------------------ planning
    def start(self, instruction: str, data: str | None, out: str | None = None, target: str | None = None,
              task: str | None = None) -> RunRecord:
        self.view.show_mode(*self.mode_line())
        try:
            with signals():
                rec = self.manager.plan(instruction, data=data, out=out, target=target, task=task)
        except KeyboardInterrupt as exc:
            self._interrupted(exc)
            return self.record
        finally:
            self.manager.release()  # nothing writes while the plans wait for a click
        return self._planned(rec)

    def resume(self, folder: Path) -> RunRecord:
        """Continue an interrupted or abandoned run (``%automl resume``): the plans as recorded, then the
        selected plan's cells run in this kernel from the start of its code (fresh names, the same split)."""
        if self.mode == "lab":
            self._existing = True
            self.view.show_mode("JupyterLab extension", "resuming a run: its generated cells already in the notebook "
                                "run again from setup (nothing is inserted)")
        else:
            self.view.show_mode("in-kernel", "resuming a run: its cells run in this kernel's namespace")
        try:
            with signals():
                rec = self.manager.resume(folder)
        except KeyboardInterrupt as exc:
            self._interrupted(exc)
            return self.record
        except BaseException:
            self.manager.release()
            raise
        self.view.say(f"Resuming run {rec.run_id} ({rec.segments[-1].resumed_from or 'planning'}); run folder "
                      f"{self.folder}")
        if rec.status != "planned":
            self._planned(rec)
            self.manager.release()
            return rec
        self.shown = [p.id for p in rec.plans]
        self.view.show_plans(rec.plans, self._metric(), note="The plans of the interrupted run.")
        self.accept(rec.selected_plan)
        return self.record

    def _planned(self, rec: RunRecord) -> RunRecord:
        """Show what planning gave: the plans, or the outcome; and the requirements form (questions first)."""
        self._sync_notes()
        self._show_form(rec)
        if rec.status != "planned":
            self.view.show_outcome(rec.status, rec.message, rec.questions)
            self.view.plans.children = ()
            return rec
        self.view.show_outcome("", "")
        self.shown = [p.id for p in rec.plans]
        self.view.show_plans(rec.plans, self._metric(), note=f"{len(rec.plans)} plans, best predicted first. "
                             "Accept one to implement it; Reject all to ask for new plans.")
        self.view.say(f"Run folder: {self.folder}")
        return rec

    def _show_form(self, rec: RunRecord) -> None:
        """The requirements as a form when there are requirements to correct and a data file to read."""
        if rec.requirements is None or not rec.data or rec.status not in ("planned", "needs_clarification"):
            self.view.form.layout.display = "none"
            return
        from ..brains.offline.parser import column_options

        self.view.show_form(rec.requirements.model_dump(mode="json"), column_options(self.manager.peek or {}),
                            [q.model_dump() for q in rec.choices])

    def revise(self, answers: dict[str, Any]) -> RunRecord | None:
        """Continue / Re-plan in the form: plan again from the corrected requirements (a new run folder; the
        cell is not rerun). The record's field_sources say which values the user set."""
        if self.busy:
            self.view.note(f"Plan {self.record.selected_plan} is running; wait for it to finish.")
            return None
        from ..agents.prompt import apply_answers

        old = self.record
        assert old.requirements is not None
        req = apply_answers(old.requirements, answers)
        changed = ", ".join(sorted(answers)) or "nothing"
        self.view.say(f"Re-planning with the requirements you set ({changed}).")
        rec = self.manager.plan(old.instruction, data=old.data, requirements=req)
        return self._planned(rec)

    def _on_event(self, stage: str, state: str, details: dict[str, Any]) -> None:
        if stage == "manager":
            return
        if stage == "progress":  # from inside a running generated cell: the widget only, at once
            self.view.show_progress(details)
            return
        if stage == "race":  # --race: the plans racing, then their validation scores and the winner
            from ..race import race_lines

            for line in race_lines(state, details):
                self.view.note(line)
            if state == "revise":  # the revision's plan trains next (its card, when it has one)
                self.view.set_plan_state(details.get("plan", ""), "selected")
            for row in (details.get("race") or {}).get("plans", []):
                self.view.set_plan_state(row["plan"], "selected" if row["status"] == "winner" else "tried")
            return
        if state in ("start", "done"):
            self.view.show_stage(stage, state, details.get("seconds"))
        rec = self.manager.record
        if rec is None:
            return
        if stage == "parsing" and state == "done" and rec.requirements is not None:
            self.view.show_requirements(rec.requirements.model_dump(mode="json"))
        elif stage == "retrieval" and state == "done" and rec.knowledge:
            insights = [k["insight"] for k in (rec.requirements.knowledge if rec.requirements else [])
                        if "insight" in k]
            self.view.show_knowledge(rec.knowledge, insights)
        elif stage.startswith("cell:"):
            self._sync_attempts()

    def _sync_notes(self) -> None:
        """The brain's and manager's notes (LLM fallbacks, flagged code), once each."""
        notes = getattr(self.record, "notes", [])
        for n in notes[self._n_notes:]:
            self.view.note(f"Note: {n}")
        self._n_notes = len(notes)

    def _sync_attempts(self) -> None:
        attempts = self.record.attempts
        for a in attempts[self._n_attempts:]:
            self.view.show_attempt(a)
        self._n_attempts = len(attempts)

    # ------------------------------------------------------------------ decisions
    def decide(self, action: str, plan_id: str) -> None:
        (self.accept if action == "accept" else self.reject)(plan_id)

    def reject(self, plan_id: str) -> None:
        if self.busy:
            self.view.note(f"Plan {self.record.selected_plan} is running; wait for it to finish.")
            return
        self.manager.reject(plan_id)
        self.view.set_plan_state(plan_id, "rejected")
        self.view.say(f"Rejected plan {plan_id}")
        states = {p.id: p.state for p in self.record.plans}
        if self.shown and all(states.get(pid) == "rejected" for pid in self.shown):
            self.view.note(f"All plans rejected ({', '.join(self.shown)}); asking the manager for new plans.")
            fresh = self.manager.replan()
            self.shown = [p.id for p in fresh]
            self.view.show_plans(fresh, self._metric(), note=f"New plans {', '.join(self.shown)} (revised after "
                                 "the user rejected every plan).")

    def accept(self, plan_id: str | None = None) -> None:
        if self.busy:
            self.view.note(f"Plan {self.record.selected_plan} is already running.")
            return
        plan_id = plan_id or self.record.selected_plan
        self.busy = True
        for pid in self.shown:
            state = next(p.state for p in self.record.plans if p.id == pid)
            self.view.set_plan_state(pid, "selected" if pid == plan_id else "locked" if state == "proposed" else state)
        self.view.say(f"Accepted plan {plan_id}")
        try:
            if self.mode == "lab" and not self.manager.settings.race:  # a race runs its plans in workers
                self.manager.start(plan_id, self.shell.user_ns)
                self._watch()
                self._send(0)
            else:
                executor = _ShowingExecutor(self.shell.user_ns, echo=self.view.echo, session=self)
                with signals():
                    self.manager.implement(plan_id, executor)
                self._finish()
                if self.mode == "lab":  # a race: its winner's cells, as they ran in its worker, into the notebook
                    self._insert_race_cells()
        except KeyboardInterrupt as exc:
            self._interrupted(exc)
        except BaseException as exc:
            if self.manager.record is not None and self.manager.record.status == "running":
                self.guard.stopped(exc)  # a bug: the record says where; the traceback stays
            self._release()
            self.busy = False
            raise

    def _insert_race_cells(self) -> None:
        """Lab mode, a race: the winner's cells ran in its worker process, not in this kernel. They are inserted
        below the %%automl cell as they ran there (their sources, and what each printed), not run again: the
        notebook holds the code of the model the run reports, its test split stays scored once, and any cell can
        be rerun by hand (to train the plan again in this kernel)."""
        rec, impl, race = self.record, self.manager.impl, self.record.race or {}
        if impl is None or self.bridge is None or impl.plan.id != race.get("winner"):
            return
        metric = race.get("metric", "")
        row = next(r for r in race["plans"] if r["plan"] == impl.plan.id)
        printed = {a.stage: a.stdout_tail for a in impl.attempts if a.ok}
        head = (f"# Plan {impl.plan.id} won the race on validation ({metric} {row['valid'].get(metric)}). It ran in its "
                f"own worker ({row.get('worker')}):\n# these are its cells as they ran there, with what they printed; "
                f"they were not run in this kernel.\n# Its model is saved in the run folder: Run.load({str(self.folder)!r})"
                ". Run the cells to train it again here.\n")
        cells = [{"source": (head if i == 0 else "") + c.source,
                  "metadata": {"automl_agent": {"run_id": rec.run_id, "stage": c.stage, "plan": impl.plan.id,
                                                "ran_in": row.get("worker")}},
                  "outputs": [{"output_type": "stream", "name": "stdout", "text": printed[c.stage]}]
                  if printed.get(c.stage) else []} for i, c in enumerate(impl.cells)]

        def inserted(ok: bool) -> None:
            with self.view.guard("inserting the race's cells"):
                if ok:
                    self.view.note(f"Plan {impl.plan.id}: inserted its {len(cells)} code cells below the %%automl "
                                   "cell, as they ran in the race's worker (not run again in this kernel).")

        self.request = self.bridge.insert_cells(self.cell_id, cells, inserted)

    # ------------------------------------------------------------------ interruptions
    def _interrupted(self, exc: BaseException | None, reason: str | None = None, stage: str | None = None,
                     seconds: float | None = None) -> str:
        """The run stopped early: the record says ``interrupted`` (where, what had finished), the widget too."""
        if stage is not None:
            self.guard.stage = stage
        line = self.guard.stopped(exc or Interrupted(reason), reason=reason, seconds=seconds)
        self.busy = False
        self._sync_attempts()
        self.view.show_outcome("interrupted", f"{line}. Continue with %automl resume {self.record.run_id}")
        self.view.say(f"Status: interrupted — {line}")
        return line

    def _release(self) -> None:
        self._unwatch()
        self.manager.release()

    def _watch(self) -> None:
        """While the frontend runs this run's cells (lab mode): a kernel shutdown or SIGTERM writes the record."""
        atexit.register(self._at_exit)
        if threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(signal.SIGTERM)

            def on_term(signum: int, frame: Any) -> None:
                self._at_exit("SIGTERM (the kernel was shut down or restarted)")
                signal.signal(signal.SIGTERM, previous if callable(previous) else signal.SIG_DFL)
                if callable(previous):
                    previous(signum, frame)
                else:
                    os.kill(os.getpid(), signal.SIGTERM)

            self._sigterm = previous
            signal.signal(signal.SIGTERM, on_term)

    def _unwatch(self) -> None:
        atexit.unregister(self._at_exit)
        if self._sigterm is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._sigterm)
            self._sigterm = None

    def _at_exit(self, reason: str = "kernel shutdown (restart or close)") -> None:
        rec = self.manager.record
        if rec is not None and rec.status == "running":
            impl = self.manager.impl
            if self.guard.stage is None and impl is not None:
                finished = set(self.guard.interruption(reason).finished)  # type: ignore[union-attr]
                self.guard.stage = next((f"cell:{c.stage}" for c in impl.cells if f"cell:{c.stage}" not in finished),
                                        None)
            self.guard.stopped(Interrupted(reason), reason=reason)

    # ------------------------------------------------------------------ lab mode: the bridge
    def _send(self, start: int) -> None:
        """Have the frontend run the plan's cells from ``start``: up to its evaluate cell until the plan is decided
        on validation (the test split is scored only for the plan kept), from there on once it is."""
        assert self.bridge is not None
        impl, rid = self.impl, self.record.run_id
        stop = len(impl.cells) if impl.gated or start >= impl.gate else impl.gate
        self._offset, self._next, self._pending, self._stopped = start, None, None, ""
        cells = [{"source": c.source, "metadata": {"automl_agent": {"run_id": rid, "stage": c.stage,
                                                                    "plan": impl.plan.id}}}
                 for c in impl.cells[start:stop]]
        kept = self.record.kept or {}
        if start == impl.gate and cells and kept.get("over"):  # say in the notebook why this plan's test is scored
            metric = kept.get("metric", "")
            others = ", ".join(f"{o['plan']} {o.get(metric)}" for o in kept["over"])
            cells[0]["source"] = (f"# Plan {impl.plan.id} kept: the best on validation of the plans trained ({metric} "
                                  f"{kept.get(metric)}; {others}). Its test split is scored here, once.\n"
                                  + cells[0]["source"])
        self.shell.user_ns["AUTOML_PROGRESS"] = self.manager.progress_hook()  # the train cell's live progress
        self._n_sent = len(cells)
        self.guard.event(f"cell:{impl.cells[start].stage}", "start", {})
        if self._existing:  # resume: the run's cells are in the notebook already; run them, insert nothing
            self._existing = False
            self.request = self.bridge.run_existing(rid, [{"stage": c.stage, "source": c.source}
                                                          for c in impl.cells[start:stop]],
                                                    self._on_result, self._on_complete)
            self.view.note(f"Plan {impl.plan.id}: rerunning its {len(cells)} generated cells in the notebook (not "
                           "inserted again), from setup: the same split, the budget that was left.")
            return
        self.request = self.bridge.run_cells(self.anchor, cells, self._on_result, self._on_complete)
        where = "below the %%automl cell" if self.anchor == self.cell_id else "below the last generated cell"
        self.view.note(f"Plan {impl.plan.id}: inserted {len(cells)} code cells {where}; they run now.")

    def _on_result(self, msg: dict) -> str | None:
        reply = None
        with self.view.guard("cell result"):
            reply = self._result(msg)
        return reply

    def _result(self, msg: dict) -> str | None:
        i = self._offset + int(msg.get("index", 0))
        if msg.get("cell_id"):
            self.anchor = str(msg["cell_id"])  # later inserts go below the last generated cell
            self._last_cell[self.impl.plan.id] = self.anchor  # a plan kept later: its last cells go below its own
        if msg.get("status") != "ok" and msg.get("ename") in STOPPED:
            seconds = self.clock.done.get(str(msg.get("cell_id")), (None,))[0] if self.clock else None
            self._stopped = STOPPED[str(msg["ename"])]
            self._interrupted(None, reason=self._stopped, stage=f"cell:{self.impl.cells[i].stage}", seconds=seconds)
            return None
        result = self.clock.result(msg) if self.clock else CellResult(ok=msg.get("status") == "ok", seconds=0.0)
        cells = self.impl.cells
        if result.ok and i + 1 < len(cells) and i + 1 - self._offset < self._n_sent:
            self.guard.event(f"cell:{cells[i + 1].stage}", "start", {})  # the frontend runs it now
        nxt = self.impl.step(i, result)
        self._sync_attempts()
        if result.ok:
            self._next = nxt
            return None
        if nxt.kind == "run" and nxt.index < i and set(nxt.changed) <= {i}:
            nxt = self._catch_up(nxt, i)  # rerun the earlier, unchanged stages here, then cell i in place
        if nxt.kind == "run" and nxt.index == i and set(nxt.changed) <= {i}:
            return self.impl.cells[i].source  # repaired in place; the frontend reruns it and goes on
        if nxt.kind == "run":
            self._pending = nxt  # the repair touches other cells: continue with a fresh insert (on complete)
        else:
            self._next = nxt
        return None

    def _catch_up(self, nxt: Next, i: int) -> Next:
        """The repair asks to rerun from an earlier stage whose code did not change (e.g. a name an earlier
        cell defines is gone): run those cells' exact sources in the kernel, so that the failed cell can be
        rerun in place instead of inserting the cells again."""
        cells = self.impl.cells
        self.view.note(f"Rerunning stages {', '.join(c.stage for c in cells[nxt.index:i])} in the kernel (their code "
                       f"is unchanged), then {cells[i].stage} in place.")
        executor = NamespaceExecutor(self.shell.user_ns)
        while nxt.kind == "run" and nxt.index < i and set(nxt.changed) <= {i}:
            j = nxt.index
            nxt = self.impl.step(j, executor.run(cells[j].source, cells[j].stage))
            self._sync_attempts()
        return nxt

    def _on_complete(self, ok: bool) -> None:
        with self.view.guard("run complete"):
            self._complete(ok)

    def _complete(self, ok: bool) -> None:
        if self._pending is not None:
            nxt, self._pending = self._pending, None
            stages = [self.impl.cells[j].stage for j in nxt.changed] or \
                [self.impl.cells[nxt.index].stage]
            self.view.note(f"The repair changed or reruns stage(s) {', '.join(stages)}: inserting the cells from "
                           f"stage {self.impl.cells[nxt.index].stage} on again below; the earlier copies "
                           "above are superseded.")
            self._send(nxt.index)
            return
        if self._stopped:  # interrupted: the record already says so
            return
        impl, ns = self.impl, self.shell.user_ns
        if ok and self._next is not None and self._next.kind == "run" and self._next.index == impl.gate \
                and not impl.gated:
            self._gate(self.manager.before_test(ns), impl)  # decided on validation, before any test score
            return
        if not ok and (self._next is None or self._next.kind == "run"):  # no cell failed: the frontend went away
            self._stopped = "the connection to the notebook closed (the extension was reloaded or the page went away)"
            self._interrupted(None, reason=self._stopped)
            return
        done = ok and self._next is not None and self._next.kind == "done"
        if not done and not impl.gated:  # failed before its test split: the next plan, or the best set aside
            nxt = self.manager.after_failure(ns)
            if nxt.kind != "failed":
                self._gate(nxt, impl)
                return
        self.impl.conclude(ns.get("RESULTS") if done else None)
        self._finish()

    def _gate(self, nxt: Next, before: Implementation) -> None:
        """After the validation gate (or a failure before it): run the next plan, or the kept plan's last cells."""
        rec, impl = self.record, self.impl
        metric = self._metric()
        if nxt.kind == "revise":
            if before.valid_verdict is not None:
                self.view.show_verification(before.valid_verdict)
            self.view.set_plan_state(before.plan.id, "tried")
            reason = rec.revisions[-1].get("reason", "") if rec.revisions else ""
            self.view.note(f"Plan {before.plan.id} set aside on validation ({metric} "
                           f"{before.valid_numbers.get(metric)}), its test split not scored. Revision: {reason} "
                           f"Trying plan {impl.plan.id} ({impl.plan.title}).")
            self.view.set_plan_state(impl.plan.id, "selected")
            self._send(0)
            return
        if impl is not before:  # an earlier plan is the best on validation: its last cells go below its own
            self.anchor = self._last_cell.get(impl.plan.id, self.anchor)
            self.view.set_plan_state(before.plan.id, "tried")
            self.view.set_plan_state(impl.plan.id, "selected")
            self.view.note(f"Plan {impl.plan.id} kept: the best on validation ({metric} "
                           f"{impl.valid_numbers.get(metric)}; plan {before.plan.id} had "
                           f"{before.valid_numbers.get(metric)}). Its test split is scored once, in the cells "
                           f"inserted below its own train cell.")
        self._send(nxt.index)

    # ------------------------------------------------------------------ the end of an implementation
    def _finish(self) -> None:
        self.busy = False
        self._release()
        rec = self.record
        self.view.end_progress()
        self._sync_attempts()
        if rec.verification is not None:
            self.view.show_verification(rec.verification)
            self.view.show_summary(rec, str(self.folder))
        if rec.leaderboard:
            self.view.show_leaderboard(as_records(rec.leaderboard), (rec.primary_metric or {}).get(
                "higher_is_better", True))
        if rec.artifacts:
            self.view.show_plots(rec.artifacts)
            self.view.show_artifacts(rec.artifacts, str(self.folder))
        usage = None
        if rec.brain != "offline":
            usage = {k: v.model_dump() for k, v in rec.llm_usage.items()}
            total = getattr(rec, "llm_total", None)
            if total is not None:
                usage["total"] = total.model_dump()
        self.view.show_timings(rec.timings, usage)
        self._sync_notes()
        for p in rec.plans:
            if p.id in self.shown:
                self.view.update_plan(p, self._metric())
        self.view.say(f"Status: {rec.status} — {rec.message}")

    def pipeline_code(self) -> str:
        """The implemented cells as one cell (what ``set_next_input`` offers in ``kernel`` mode)."""
        head = (f"# AutoML-Agent run {self.record.run_id}, plan {self.impl.plan.id}: the generated pipeline "
                f"as one cell\n# (the same code is in {self.folder / 'pipeline.py'})\n")
        return head + "\n\n".join(f"# %% [{c.stage}] {c.title}\n{c.source}" for c in self.impl.cells)


__all__ = ["CellClock", "Session"]
