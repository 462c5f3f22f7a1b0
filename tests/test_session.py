"""The notebook controller in `lab` mode, against the real Bridge and a scripted frontend.

The frontend here does what labextension/src/index.ts does: on ``insert_and_run`` it inserts the cells
below the asking cell, runs them one by one in a real IPython shell (with a ``cell_id``, as JupyterLab
sends it), reports each ``cell_result`` and stops at an error until ``update_and_run`` or ``abort``.
Runs on banana_quality with a tiny budget.
"""
from __future__ import annotations

import importlib.abc
import json
import sys

import comm as comm_pkg
import pytest
from comm.base_comm import BaseComm
from IPython.core.interactiveshell import InteractiveShell

from automl_agent_jupyter.config import Settings
from automl_agent_jupyter.implementation import Implementation
from automl_agent_jupyter.manager import Next
from automl_agent_jupyter.notebook.bridge import Bridge
from automl_agent_jupyter.notebook.session import CellClock, Session
from automl_agent_jupyter.notebook.widgets import RunView

INSTRUCTION = "Classify banana quality as Good or Bad with F1 of at least 0.95"
STAGES = ["setup", "load_split", "preprocess", "train", "evaluate", "measure", "save", "predict"]


class Frontend(BaseComm):
    """The JupyterLab side of the comm, played in-process: a notebook is a list of cell dicts."""

    def __init__(self, shell, **kwargs):
        self.shell = shell
        self.outbox: list[dict] = []
        self.notebook: list[dict] = [{"id": "magic-cell", "source": "%%automl ...", "metadata": {}}]
        self.requests: dict[str, dict] = {}
        self.before_run = lambda cell: None
        self.n = 0
        super().__init__(**kwargs)

    def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
        if msg_type == "comm_msg":
            self.outbox.append(data)

    def says(self, **data):
        self.handle_msg({"content": {"comm_id": self.comm_id, "data": {"v": 1, **data}}})

    def pump(self) -> None:
        """Serve what the kernel asked until nothing is left (the kernel is 'idle' between messages)."""
        while self.outbox:
            msg = self.outbox.pop(0)
            if msg["kind"] == "insert_and_run":
                at = next((i for i, c in enumerate(self.notebook) if c["id"] == msg["after_cell_id"]),
                          len(self.notebook) - 1)
                cells = []
                for c in msg["cells"]:
                    self.n += 1
                    cells.append({"id": f"gen-{self.n}", "source": c["source"], "metadata": c["metadata"]})
                self.notebook[at + 1:at + 1] = cells
                self.requests[msg["id"]] = {"ids": [c["id"] for c in cells], "done": False}
                self.run_from(msg["id"], 0)
            elif msg["kind"] == "update_and_run":
                req = self.requests[msg["id"]]
                index = req["ids"].index(msg["cell_id"])
                self.cell(msg["cell_id"])["source"] = msg["source"]
                self.run_from(msg["id"], index)
            elif msg["kind"] == "abort":
                self.requests[msg["id"]]["done"] = True

    def cell(self, cell_id):
        return next(c for c in self.notebook if c["id"] == cell_id)

    def run_from(self, rid: str, start: int) -> None:
        ids = self.requests[rid]["ids"]
        for i in range(start, len(ids)):
            cell = self.cell(ids[i])
            self.before_run(cell)
            r = self.shell.run_cell(cell["source"], store_history=True, cell_id=cell["id"])
            cell["ran"] = cell.get("ran", 0) + 1
            exc = r.error_in_exec or r.error_before_exec
            status = "ok" if exc is None else "error"
            self.says(kind="cell_result", id=rid, index=i, cell_id=cell["id"], status=status,
                      ename=type(exc).__name__ if exc else None, evalue=str(exc) if exc else None,
                      execution_count=r.execution_count)
            if exc is not None:
                return  # wait for update_and_run / abort (already queued by the kernel)
        self.requests[rid]["done"] = True
        self.says(kind="run_complete", id=rid, ok=True)

    def generated(self) -> list[dict]:
        return [c for c in self.notebook if c["metadata"].get("automl_agent")]


@pytest.fixture
def shell(tmp_path, monkeypatch):
    from threadpoolctl import threadpool_limits

    limits = threadpool_limits(1)  # OpenMP models on a busy 2-core machine: oversubscription costs minutes
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(comm_pkg, "_comm_manager", None)
    ip = InteractiveShell.instance()
    saved = dict(ip.user_ns)
    yield ip
    ip.user_ns.clear()
    ip.user_ns.update(saved)
    limits.restore_original_limits()


def _jupyterlab(shell):
    """A bridge opened by a scripted JupyterLab frontend that has said hello, and the kernel's cell clock."""
    holder = {}

    def factory(**kwargs):
        holder["fe"] = Frontend(shell, **kwargs)
        return holder["fe"]

    bridge = Bridge(comm_factory=factory).open()
    fe = holder["fe"]
    fe.says(kind="hello", frontend="jupyterlab", version="test")
    return bridge, fe, CellClock(shell)


@pytest.fixture
def lab(shell, banana, tmp_path):
    """A connected bridge, a session in lab mode with its plans made; returns (session, frontend)."""
    bridge, fe, clock = _jupyterlab(shell)
    settings = Settings(budget_s=1, top_k=1, runs_dir=str(tmp_path / "runs"), max_revisions=0)
    view = RunView()
    session = Session(shell, settings, view, bridge, clock, cell_id="magic-cell")
    assert session.mode == "lab"
    rec = session.start(INSTRUCTION, banana)
    assert rec.status == "planned"
    yield session, fe
    clock.close()
    bridge.close()


def test_accept_inserts_below_the_magic_cell_runs_and_verifies(lab, shell):
    session, fe = lab
    view = session.view
    view.cards[session.record.plans[0].id].accept.click()  # the Accept button, as a user clicks it
    assert not view.output.outputs, view.output.outputs
    first = fe.outbox[0]
    assert first["kind"] == "insert_and_run" and first["after_cell_id"] == "magic-cell"
    fe.pump()
    gen = fe.generated()
    assert fe.notebook[1:] == gen  # directly below the magic cell, in order
    assert [c["metadata"]["automl_agent"]["stage"] for c in gen] == STAGES
    assert {c["metadata"]["automl_agent"]["run_id"] for c in gen} == {session.record.run_id}
    assert all(c["ran"] == 1 for c in gen)
    assert session.record.status == "succeeded", session.record.message
    assert "automl-final automl-pass" in view.verification.value
    assert "model.joblib" in view.artifacts.value and "cell:train" in view.timings.value
    assert view.attempts.value.count("<tr>") == len(STAGES) + 1
    assert session.record.timings["cell:train"] > 0  # seconds measured in the kernel by the cell clock
    assert "RESULTS" in shell.user_ns and shell.user_ns["RESULTS"]["metrics"]["test"]["f1"] > 0.9
    assert not session.busy and not view.output.outputs
    # a generated cell can be rerun by hand and gives the same result
    before = dict(shell.user_ns["RESULTS"]["metrics"]["test"])
    assert shell.run_cell(gen[STAGES.index("evaluate")]["source"]).success
    assert shell.user_ns["RESULTS"]["metrics"]["test"] == before


class _NoLightGBM(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "lightgbm":
            raise ModuleNotFoundError("No module named 'lightgbm'", name="lightgbm")


@pytest.fixture
def no_lightgbm():
    saved = {k: v for k, v in sys.modules.items() if k.split(".")[0] == "lightgbm"}
    for k in saved:
        del sys.modules[k]
    finder = _NoLightGBM()
    sys.meta_path.insert(0, finder)
    yield
    sys.meta_path.remove(finder)
    sys.modules.update(saved)


def test_a_failed_cell_is_repaired_in_place_and_rerun(lab, no_lightgbm):
    session, fe = lab
    plan = next(p for p in session.record.plans if any(c.name == "lightgbm" for c in p.candidates))
    session.accept(plan.id)
    fe.pump()
    gen = fe.generated()
    assert [c["metadata"]["automl_agent"]["stage"] for c in gen] == STAGES  # no extra cells
    train = gen[STAGES.index("train")]
    assert train["ran"] == 2 and "lightgbm" not in train["source"].split("CANDIDATES =", 1)[1].splitlines()[0]
    kinds = [m for m in fe.requests]
    assert len(kinds) == 2  # up to the validation gate, then the test; the repair went through update_and_run
    attempts = [(a.stage, a.attempt, a.ok) for a in session.record.attempts]
    assert ("train", 1, False) in attempts and ("train", 2, True) in attempts
    assert "ModuleNotFoundError" in session.view.attempts.value
    assert session.record.status == "succeeded", session.record.message


def test_a_repair_that_reruns_earlier_stages_catches_up_in_the_kernel(lab, shell):
    session, fe = lab
    spoiled = []

    def spoil(cell):  # something outside the run removed a name an earlier generated cell defined
        if cell["metadata"]["automl_agent"]["stage"] == "train" and not spoiled:
            spoiled.append(shell.user_ns.pop("PREP"))

    fe.before_run = spoil
    session.accept()
    fe.pump()
    assert spoiled and len(fe.requests) == 2  # before and after the validation gate: no extra request
    gen = fe.generated()
    assert [c["metadata"]["automl_agent"]["stage"] for c in gen] == STAGES  # no copies
    assert gen[STAGES.index("train")]["ran"] == 2
    assert "Rerunning stages setup, load_split, preprocess in the kernel" in session.view.notes.value
    assert ("setup", 2, True) in [(a.stage, a.attempt, a.ok) for a in session.record.attempts]
    assert session.record.status == "succeeded", session.record.message


def test_a_repair_that_changes_other_cells_inserts_the_rest_again(lab, shell, monkeypatch):
    """The protocol updates one cell per request; a repair that rewrites several continues with a fresh
    insert below the failed cell (the unrun rest of the first insert stays, superseded)."""
    session, fe = lab
    real_step = Implementation.step
    spoiled = []

    def spoil(cell):
        if cell["metadata"]["automl_agent"]["stage"] == "evaluate" and not spoiled:
            spoiled.append(shell.user_ns.pop("MODEL"))

    def step(impl, index, result):
        nxt = real_step(impl, index, result)
        if not result.ok and spoiled and len(spoiled) == 1:
            spoiled.append("rewritten")
            return Next("run", STAGES.index("train"), [STAGES.index("train"), STAGES.index("evaluate")])
        return nxt

    monkeypatch.setattr(Implementation, "step", step)
    fe.before_run = spoil
    session.accept()
    fe.pump()
    assert len(fe.requests) == 3  # to the validation gate, from evaluate, from train again
    stages = [c["metadata"]["automl_agent"]["stage"] for c in fe.generated()]
    assert stages == STAGES[:5] + STAGES[3:] + STAGES[5:]  # copy from train, below the failed evaluate
    assert "superseded" in session.view.notes.value
    assert session.record.status == "succeeded", session.record.message


def test_a_cell_the_user_stopped_is_not_repaired(lab):
    session, fe = lab
    session.accept()
    msg = fe.outbox.pop(0)
    rid = msg["id"]
    fe.says(kind="cell_result", id=rid, index=0, cell_id="gen-x", status="error", ename="KeyboardInterrupt",
            evalue="")
    assert fe.outbox[-1]["kind"] == "abort"
    assert session.record.status == "interrupted" and not session.busy
    assert session.record.interruption.stage == "cell:setup"
    assert session.record.interruption.reason == "the kernel's Interrupt button"
    assert "interrupted" in session.view.outcome.value and "%automl resume" in session.view.outcome.value
    assert not any(a.stage == "setup" and a.repair for a in session.record.attempts)  # not repaired
    assert not (session.folder / "run.lock").exists()  # the folder is free again


@pytest.fixture
def small_banana(tmp_path):
    from shared_data import banana_sample

    return banana_sample(tmp_path, rows=1500)


@pytest.mark.parametrize("kept", ["best", "first"])
def test_a_revision_in_the_notebook_scores_the_test_split_once(shell, small_banana, tmp_path, monkeypatch, kept):
    """Lab mode with a revision: every plan misses an unreachable F1 on validation. The frontend runs each plan's
    cells up to its evaluate cell; the plan kept is the best on validation (``first``: the ranking made to prefer
    the first plan, so that its names are restored in the kernel after the second plan trained), and only its
    evaluate cell is inserted and run, below its own train cell: the test split is scored once."""
    if kept == "first":
        real = Implementation.rank
        monkeypatch.setattr(Implementation, "rank", lambda impl: (impl.plan.id == impl.log.record.trained[0]["plan"],
                                                                   *real(impl)))
    bridge, fe, clock = _jupyterlab(shell)
    # 30 s: the first plan's cells keep 10 s back for the revision (planning.revision_reserve_s), which may run while
    # 8 s are left; the target is unreachable, so each plan searches until its time is up
    settings = Settings(budget_s=30, n_plans=2, top_k=1, max_revisions=1, runs_dir=str(tmp_path / "runs"))
    session = Session(shell, settings, RunView(), bridge, clock, cell_id="magic-cell")
    try:
        assert session.start("Classify banana quality as Good or Bad with F1 of at least 0.9999",
                             small_banana).status == "planned"
        session.accept()
        fe.pump()
    finally:
        clock.close()
        bridge.close()
    rec = session.record
    gen = fe.generated()
    where = [(c["metadata"]["automl_agent"]["plan"], c["metadata"]["automl_agent"]["stage"]) for c in gen]
    evaluate = [c for c in gen if c["metadata"]["automl_agent"]["stage"] == "evaluate"]
    assert [c.get("ran") for c in evaluate] == [1], where  # the test split scored once
    assert [r["kind"] for r in rec.revisions] == ["revision"] and len(rec.trained) == 2, (rec.revisions, rec.timings)
    assert sum(t["test_scored"] for t in rec.trained) == 1
    first, second = rec.trained[0]["plan"], rec.trained[1]["plan"]
    # the documented order: fewer failed checks on validation, then the better F1 (a tie keeps either plan)
    order = {t["plan"]: (-len(t["failed_checks"]), t["valid"]["f1"]) for t in rec.trained}
    best = first
    if kept == "best":
        best = rec.kept["plan"] if order[rec.kept["plan"]] == max(order.values()) else max(order, key=order.get)
    assert rec.kept["plan"] == best == rec.selected_plan and rec.kept["decided_on"] == "validation", (rec.kept, rec.trained)
    # each plan's cells in one block: the kept plan's last cells right below its own train cell
    i = where.index((best, "evaluate"))
    assert where[i - 4:i] == [(best, s) for s in STAGES[:4]] and where[i:i + 4] == [(best, s) for s in STAGES[4:]]
    assert sorted(where) == sorted([(first, s) for s in STAGES[:4]] + [(second, s) for s in STAGES[:4]]
                                   + [(best, s) for s in STAGES[4:]])
    saved = json.loads((session.folder / "results.json").read_text())  # written by the kept plan's save cell
    assert saved["plan_id"] == best and saved["metrics"]["valid"] == rec.kept["valid"] | {
        k: v for k, v in saved["metrics"]["valid"].items() if not isinstance(v, float)}
    assert rec.status == "failed" and rec.metrics["test"]["f1"] < 0.9999  # reported as it is
    assert evaluate[0]["source"].startswith(f"# Plan {best} kept: the best on validation")
    if kept == "first":
        assert "kept: the best on validation" in session.view.notes.value
