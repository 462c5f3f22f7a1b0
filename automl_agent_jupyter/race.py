"""A race of plans (``--race``): the top plans trained side by side under the run's one budget, the best
on validation kept.

Each plan of the race is a :class:`Lane`: an :class:`~automl_agent_jupyter.implementation.Implementation`
(its cells, attempts and repairs, recorded in the run's log as usual) whose cells run in a worker of its
own - a Ray actor on the cluster when ``cluster`` is set (it asks for a GPU when the plan trains torch
models), else a process on this machine's cores. Every lane runs its cells up to the evaluate stage (the
setup cell of each sets the same deadline: what is left of the run's budget), then stops. The winner is
the lane whose validation verdict (:meth:`Implementation.judge_on_validation`, the verdict that decides
revisions) passes, best validation score first; only the winner goes on to evaluate, measure and save,
so the test split is scored once, for the final model. When no lane meets every requirement on validation
(or every lane failed), the race revises as a run of one plan does (``Manager.revise``, bounded and recorded
in ``RunRecord.revisions``): the plan it names trains as one more lane, alone, with what is left of the
budget, and the best of all lanes on validation is kept (``keep_best``). A lane's training is sized by
effort (reference CPU seconds from the cost model, see :class:`Lane`), not by how much wall time its worker
got, so a plan chooses the same models raced as run one after another. The other lanes are recorded as trained and set
aside before their test split (``RunRecord.trained``), and ``RunRecord.race`` says it was a race: the
plans, their validation scores and times, where they ran, and the winner.

A race needs the data file and the run folder on a path that its workers see (one machine, or a shared
file system on a cluster). Its lanes keep their Optuna trials in memory (a race is not resumed trial by
trial) and fit in their own worker (the cluster's slots go to the lanes, not to each lane's trials).
"""
from __future__ import annotations

import concurrent.futures as cf
import os
import pickle
import subprocess
import sys
import time
from typing import Any

from .execution import CellResult, NamespaceExecutor
from .implementation import Implementation, keep_best
from .schema import CellSpec
from .tasks.scoring import higher_is_better


def lane_resources(cells: list[CellSpec]) -> dict[str, float]:
    """What a lane's Ray actor asks the cluster for: one CPU, and one GPU when the plan's cells would train on
    one where there is one (they pick ``DEVICE = "cuda"`` when ``torch.cuda.is_available()``: torch plans)."""
    wants_gpu = any("torch.cuda.is_available()" in c.source for c in cells)
    return {"num_cpus": 1, "num_gpus": 1 if wants_gpu else 0}


RACE_EFFORT_SHARE = 0.1  # a lane's effort: this share of its training time in reference CPU seconds, x its share of the
# race's cores (the rest: slack for the cost model's error, a busy machine, the cells around training)


class Lane(Implementation):
    """One plan of a race: its cells run in a worker of its own, rendered without the cluster (the lane is
    the unit of work there) and with its Optuna trials in memory (lanes must not share one SQLite file).

    Its training is sized by effort, not by the clock (``effort_s``: reference CPU seconds, the cost model's
    units): the task module fixes its trials up front from it (tabular: ``TabularTask.effort_plan``), so the
    plan chooses the same models whether it ran alone or beside the other lanes on shared cores; the deadline
    only caps. ``cores``: the CPUs the race has for its lanes (its share of them scales the effort)."""

    worker: Any = None

    def __init__(self, *args: Any, cores: float, lanes: int, **kwargs: Any) -> None:
        self.cores, self.lanes = cores, lanes
        super().__init__(*args, **kwargs)

    def cell_settings(self) -> dict[str, Any]:
        if getattr(self, "_cell_settings", None) is None:
            base = super().cell_settings()
            effort = self.settings.race_effort
            if effort is None:  # from the budget and the race's cores alone: the same in a race and one by one
                effort = RACE_EFFORT_SHARE * base["budget_s"] * min(1.0, self.cores / max(1, self.lanes))
            self._cell_settings = {**base, "storage": None, "cluster": None, "effort_s": round(effort, 2)}
        return dict(self._cell_settings)


class LocalWorker:
    """A lane on this machine: a Python process of its own (``python -m automl_agent_jupyter.race``, so that
    nothing of this process - a notebook kernel, a script - is run or shared there) keeping its namespace;
    calls go over a pipe, one at a time."""

    where = "local process"

    def __init__(self, impl: Implementation) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self.proc = subprocess.Popen([sys.executable, "-m", "automl_agent_jupyter.race"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=env)
        self.calls = cf.ThreadPoolExecutor(max_workers=1)

    def _call(self, *message: Any) -> Any:
        pickle.dump(message, self.proc.stdin)
        self.proc.stdin.flush()
        try:
            return pickle.load(self.proc.stdout)
        except EOFError:
            raise RuntimeError(f"the lane's process ended (exit code {self.proc.wait()})") from None

    def run(self, source: str, stage: str) -> cf.Future:
        return self.calls.submit(self._call, "run", source, stage)

    def get(self, name: str) -> Any:
        return self.calls.submit(self._call, "get", name).result()

    def close(self) -> None:
        self.proc.kill()  # a lane still training is stopped now
        self.proc.wait()
        self.calls.shutdown(wait=False, cancel_futures=True)


def serve() -> None:
    """A local lane's process: run the cells it is sent in one namespace; answers go back on the original
    standard output (the cells' own output, also from C libraries, goes to standard error)."""
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    requests, executor = sys.stdin.buffer, NamespaceExecutor()
    while True:
        try:
            kind, *args = pickle.load(requests)
        except EOFError:
            return
        answer = executor.run(*args) if kind == "run" else executor.namespace.get(args[0])
        pickle.dump(answer, answers)
        answers.flush()


class RayWorker:
    """A lane on the cluster: a Ray actor (one CPU; one GPU for a torch plan) keeping its namespace."""

    where = "ray actor"

    def __init__(self, impl: Implementation) -> None:
        import ray

        self.ray = ray
        actor = ray.remote(**lane_resources(impl.cells))(_RayLane)
        self.actor = actor.remote()

    def run(self, source: str, stage: str) -> cf.Future:
        return self.actor.run.remote(source, stage).future()

    def get(self, name: str) -> Any:
        return self.ray.get(self.actor.get.remote(name))

    def node(self) -> str:
        return self.ray.get(self.actor.node.remote())

    def close(self) -> None:
        self.ray.kill(self.actor)


class _RayLane:
    """The actor's class (made remote in RayWorker, so that importing this module needs no Ray)."""

    def __init__(self) -> None:
        self.executor = NamespaceExecutor()

    def run(self, source: str, stage: str) -> CellResult:
        return self.executor.run(source, stage)

    def get(self, name: str) -> Any:
        return self.executor.namespace.get(name)

    def node(self) -> str:
        import ray

        return ray.get_runtime_context().get_node_id()


def connect(cluster: str) -> bool:
    """Connect to the cluster (once); True when this call connected (and so should disconnect)."""
    import ray

    if ray.is_initialized():
        return False
    ray.init(address=cluster, log_to_driver=False, logging_level="ERROR")
    return True


def race_plans(manager: Any, slots: int | None = None) -> Implementation | None:
    """Race the top proposed plans of ``manager``'s planning (``n_plans`` of them); the winner's
    Implementation, evaluated and concluded (None when no lane finished training). ``slots``: lanes at once
    (default all; 1 runs the same lanes one after another, each with the whole budget: the benchmark's
    baseline). When no lane meets every requirement on validation (or every lane failed), the manager's
    revision (:meth:`Manager.revise`: bounded, the reason recorded) names the next plan, which trains as one
    more lane, alone, with what is left of the budget; then the best of all lanes on validation is kept."""
    planning, log = manager._planned(), manager._log()
    planning.release(handoff=False)  # a large table: each lane (another process) reads its own copy
    rec, settings = log.record, manager.settings
    plans = [p for p in planning.plans if p.state == "proposed" and (p.verdict is None or p.verdict.passed)]
    plans = plans[:max(1, settings.n_plans)] or [planning.get(rec.selected_plan or "")]
    on_ray = bool(settings.cluster)
    ours = connect(settings.cluster) if on_ray else False
    lanes: list[Lane] = []
    t0 = time.perf_counter()
    try:
        cores = float(os.cpu_count() or 1)
        if on_ray:
            import ray

            cores = float(ray.cluster_resources().get("CPU", 1))  # the workers' (a head with none adds none)
        for plan in plans:
            lane = Lane(log, planning, plan, manager.operation_agent, cores=cores, lanes=len(plans))
            lanes.append(lane)
        manager.on_event("race", "start", {"plans": [p.id for p in plans], "where": "ray" if on_ray else "local"})
        state: dict[int, dict[str, Any]] = {id(ln): {"plan": ln.plan.id, "status": "waiting"} for ln in lanes}
        _train(manager, lanes, state, t0, slots, on_ray)
        while (plan := _revision(manager, lanes, state)) is not None:  # no lane met the requirements on validation
            after, revision = manager.impl.plan.id, rec.revisions[-1]
            lane = Lane(log, planning, plan, manager.operation_agent, cores=cores, lanes=1)  # alone, the time left
            lanes.append(lane)
            state[id(lane)] = {"plan": plan.id, "status": "waiting",
                               "revision": {"after": after, "reason": revision.get("reason", "")}}
            manager.on_event("race", "revise", {"plan": plan.id, "title": plan.title, "after": after,
                                                "reason": revision.get("reason", ""), "metric": planning.metric,
                                                "valid": revision.get("validation", {}),
                                                "budget_s": lane.cell_settings()["budget_s"]})
            _train(manager, [lane], state, t0, None, on_ray)
        return _decide(manager, lanes, state, time.perf_counter() - t0, slots or len(plans), on_ray)
    finally:
        for lane in lanes:
            if lane.worker is not None:
                lane.worker.close()
        if ours:
            import ray

            ray.shutdown()


def _train(manager: Any, lanes: list[Lane], state: dict[int, dict[str, Any]], t0: float, slots: int | None,
           on_ray: bool) -> None:
    """Run ``lanes`` up to their evaluate cell, ``slots`` at once (default all), each in a worker of its own;
    ``state`` says per lane how it ended (trained, with its results; failed, with why)."""
    gate = {id(ln): ln.gate for ln in lanes}
    waiting, running = list(lanes), {}  # future -> (lane, cell index)

    def submit(lane: Lane, i: int) -> None:
        if lane.worker is None:
            lane.worker = (RayWorker if on_ray else LocalWorker)(lane)
            state[id(lane)].update(status="running", started=round(time.perf_counter() - t0, 2),
                                   worker=lane.worker.where)
        cell = lane.cells[i]
        manager.on_event(f"cell:{cell.stage}", "start", {"plan": lane.plan.id})
        running[lane.worker.run(cell.source, cell.stage)] = (lane, i)

    while waiting or running:
        while waiting and len({id(ln) for ln, _ in running.values()}) < (slots or len(lanes)):
            submit(waiting.pop(0), 0)
        done, _ = cf.wait(list(running), return_when=cf.FIRST_COMPLETED)
        for fut in done:
            lane, i = running.pop(fut)
            try:
                result = fut.result()
            except Exception as exc:  # the worker died (out of memory, killed): the lane is out
                result = CellResult(ok=False, seconds=0.0, error_type=type(exc).__name__, error=str(exc)[:500])
                state[id(lane)].update(status="failed", error=f"{type(exc).__name__}: {str(exc)[:200]}")
                lane.step(i, result)
                continue
            nxt = lane.step(i, result)
            if nxt.kind == "run" and nxt.index < gate[id(lane)]:
                submit(lane, nxt.index)
            elif nxt.kind == "run" or nxt.kind == "done":  # trained: its validation numbers decide
                results = lane.worker.get("RESULTS")
                state[id(lane)].update(status="trained", results=results, next=nxt.index,
                                       seconds=round(time.perf_counter() - t0, 2))
                if on_ray:
                    state[id(lane)]["node"] = lane.worker.node()
            else:
                state[id(lane)].update(status="failed", error=f"{lane.cells[i].stage}: {result.error_type}: "
                                       f"{(result.error or '')[:200]}")


def _revision(manager: Any, lanes: list[Lane], state: dict[int, dict[str, Any]]) -> Any:
    """The validation gate of a race (as :meth:`Manager.before_test` / :meth:`Manager.after_failure` decide for
    one plan): when no trained lane meets every requirement on validation, or every lane failed, every lane
    is set aside (recorded as trained, test split not scored) and the manager's bounded revision is asked for
    the next plan (``manager.impl``: the best lane on validation, whose missed checks the revision answers).
    None when a lane passed, or no revision may run (the reason recorded)."""
    trained = [ln for ln in lanes if state[id(ln)]["status"] == "trained"]
    for ln in trained:
        ln.judge(state[id(ln)]["results"])
    if any(ln.valid_verdict is not None and ln.valid_verdict.passed for ln in trained):
        return None
    for ln in trained:
        ln.set_aside(state[id(ln)]["results"])  # recorded as trained with the validation numbers that decided
    best = max(trained, key=Implementation.rank) if trained else lanes[-1]
    manager.impl = best
    return manager.revise()


def _decide(manager: Any, lanes: list[Lane], state: dict[int, dict[str, Any]], seconds: float,
            at_once: int, on_ray: bool) -> Implementation | None:
    """Keep the best lane on validation (a revision's lane among them); record the race; let the winner
    evaluate, measure and save."""
    log, metric = manager._log(), manager._planned().metric
    rec = log.record
    trained = [ln for ln in lanes if state[id(ln)]["status"] == "trained"]
    for ln in trained:
        ln.judge(state[id(ln)]["results"])
    # the selection every run makes between the plans it trained (implementation.keep_best: meeting every
    # requirement on validation first, then fewer missed ones, then the better validation score)
    winner = keep_best(trained[0], trained[1:]) if trained else None
    rows = []
    for ln in lanes:
        s = state[id(ln)]
        valid = ((s.get("results") or {}).get("metrics") or {}).get("valid") or {}
        rows.append({"plan": ln.plan.id, "title": ln.plan.title, "model": (s.get("results") or {}).get("model"),
                     "valid": {metric: valid.get(metric)} if valid else {},
                     "passed_on_validation": bool(ln.valid_verdict and ln.valid_verdict.passed),
                     "status": "winner" if ln is winner else s["status"], "trained_s": s.get("seconds"),
                     "worker": s.get("worker"), **({"node": s["node"]} if "node" in s else {}),
                     "effort": ((s.get("results") or {}).get("selection") or {}).get("effort"),
                     **({"revision": s["revision"]} if "revision" in s else {}),
                     **({"error": s["error"]} if "error" in s else {})})
    rec.race = {"plans": rows, "winner": winner.plan.id if winner else None, "metric": metric,
                "higher_is_better": higher_is_better(metric), "decided_on": f"validation {metric}",
                "where": "ray cluster" if on_ray else "local processes", "lanes_at_once": at_once,
                "seconds": round(seconds, 2)}
    for ln in lanes:
        if ln is not winner:
            if state[id(ln)]["status"] == "trained":
                ln.set_aside(state[id(ln)]["results"])  # trained and recorded; its test split never scored
            else:
                ln.plan.state = "tried"
    manager.on_event("race", "done", {"race": rec.race})
    log.note("race of plans " + ", ".join(r["plan"] for r in rows) + f": {winner.plan.id if winner else 'none'} "
             f"kept on validation {metric} (" + "; ".join(
                 f"{r['plan']} {r['valid'].get(metric) if r['valid'] else r['status']}" for r in rows) + ")")
    log.save()
    if winner is None:  # every lane failed and no revision trained: the run failed, as one plan's would
        manager.impl = last = lanes[-1]
        last.plan.state = "selected"
        last.conclude(None)
        return None
    winner.restore({})  # selected again, and its deployment files in the run folder (each lane wrote its own)
    winner.gated = True
    manager.impl = winner
    ok = _finish_lane(manager, winner, state[id(winner)]["next"])
    winner.conclude(winner.worker.get("RESULTS") if ok else None)
    return winner


def _finish_lane(manager: Any, lane: Lane, i: int) -> bool:
    """The winner's evaluate, measure, save, ... cells, in its own worker (its namespace holds the model)."""
    while i < len(lane.cells):
        cell = lane.cells[i]
        manager.on_event(f"cell:{cell.stage}", "start", {"plan": lane.plan.id})
        nxt = lane.step(i, lane.worker.run(cell.source, cell.stage).result())
        if nxt.kind == "done":
            return True
        if nxt.kind != "run":
            return False
        i = nxt.index
    return True


def race_lines(state: str, details: dict[str, Any]) -> list[str]:
    """What the notebook shows of a race: the plans as it starts; a revision's plan when no plan met the
    requirements on validation; each plan's model and validation score and the winner when it is decided."""
    if state == "start":
        where = "on the Ray cluster" if details.get("where") == "ray" else "in processes on this machine"
        return [f"Race: plans {', '.join(details.get('plans', []))} train side by side {where} under the run's "
                "budget; the best on validation is kept and alone scored on the test split."]
    if state == "revise":
        metric, valid = details.get("metric", "metric"), details.get("valid") or {}
        best = f" (best: plan {details.get('after')}, validation {metric} {valid[metric]:.4f})" \
            if isinstance(valid.get(metric), float) else ""
        return [f"Race revision: no plan met the requirements on validation{best}. Revision: "
                f"{details.get('reason', '')}. Plan {details.get('plan')} ({details.get('title', '')}) trains next, "
                f"alone, within {details.get('budget_s', 0):.0f} s of what is left of the budget; then the best "
                "plan on validation is kept."]
    race = details.get("race") or {}
    metric = race.get("metric", "metric")
    rows = [f"{r['plan']}{' (revision)' if r.get('revision') else ''} {r.get('model') or '-'}: "
            + (f"{r['valid'][metric]:.4f}" if r.get("valid", {}).get(metric) is not None else r["status"])
            + (" (kept)" if r["plan"] == race.get("winner") else "") for r in race.get("plans", [])]
    return [f"Race result, validation {metric} after {race.get('seconds', 0):.0f} s: " + "; ".join(rows)
            + (f". Winner: {race['winner']}." if race.get("winner") else ". No plan finished training.")]


if __name__ == "__main__":
    serve()
