"""Kernel side of the comm protocol, against a recording fake comm (no kernel, no browser)."""

from __future__ import annotations

import comm as comm_pkg
import pytest
from comm.base_comm import BaseComm

from automl_agent_jupyter.notebook import bridge as bridge_mod
from automl_agent_jupyter.notebook.bridge import TARGET_NAME, Bridge, BridgeError, current_cell_id


class FakeComm(BaseComm):
    """A BaseComm that records what it publishes and lets the test play the frontend."""

    def __init__(self, **kwargs):
        self.published: list[tuple[str, dict | None]] = []
        super().__init__(**kwargs)

    def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
        self.published.append((msg_type, data))

    # what the kernel sent with comm.send()
    @property
    def sent(self) -> list[dict]:
        return [d for t, d in self.published if t == "comm_msg"]

    # the frontend speaking
    def frontend_says(self, **data):
        self.handle_msg({"content": {"comm_id": self.comm_id, "data": {"v": 1, **data}}})

    def frontend_closes(self):
        self._closed = True
        self.handle_close({"content": {"comm_id": self.comm_id, "data": {}}})


class FakeCommFactory:
    def __init__(self):
        self.comms: list[FakeComm] = []
        self.kwargs: list[dict] = []

    def __call__(self, **kwargs):
        self.kwargs.append(kwargs)
        c = FakeComm(**kwargs)
        self.comms.append(c)
        return c


@pytest.fixture(autouse=True)
def _fresh_comm_manager(monkeypatch):
    # BaseComm.open() registers with the global comm manager: keep tests independent.
    monkeypatch.setattr(comm_pkg, "_comm_manager", None)


@pytest.fixture
def factory():
    return FakeCommFactory()


@pytest.fixture
def bridge(factory):
    b = Bridge(comm_factory=factory)
    b.open()
    factory.comms[0].frontend_says(kind="hello", frontend="jupyterlab", version="0.1.0")
    return b


def _recorders():
    results: list[dict] = []
    completed: list[bool] = []
    return results, completed


CELLS = [
    {"source": "x = 1", "metadata": {"automl_agent": {"run_id": "r1", "stage": "load"}}},
    {"source": "y = x + 1", "metadata": {"automl_agent": {"run_id": "r1", "stage": "train"}}},
]


def test_open_sends_comm_open_on_target_and_waits_for_hello(factory):
    b = Bridge(comm_factory=factory)
    assert b.state == "new" and not b.connected
    b.open()
    assert b.state == "open" and not b.connected
    c = factory.comms[0]
    assert factory.kwargs[0]["target_name"] == TARGET_NAME == "automl_agent_jupyter"
    assert c.published[0][0] == "comm_open"
    assert c.published[0][1]["v"] == 1
    b.open()  # idempotent
    assert len(factory.comms) == 1
    c.frontend_says(kind="hello", frontend="jupyterlab", version="0.1.0")
    assert b.connected and b.state == "connected"
    assert b.frontend == {"frontend": "jupyterlab", "version": "0.1.0"}


def test_closed_by_frontend_without_extension(factory):
    b = Bridge(comm_factory=factory)
    b.open()
    factory.comms[0].frontend_closes()
    assert b.state == "closed" and not b.connected
    with pytest.raises(BridgeError, match="not connected"):
        b.run_cells(None, CELLS, on_result=lambda m: None, on_complete=lambda ok: None)


def test_close_from_kernel_side(bridge, factory):
    results, completed = _recorders()
    bridge.run_cells("c0", CELLS, on_result=results.append, on_complete=completed.append)
    bridge.close()
    assert bridge.state == "closed"
    assert factory.comms[0].published[-1][0] == "comm_close"
    assert completed == [False]  # a pending request does not hang forever


def test_run_cells_requires_connection(factory):
    b = Bridge(comm_factory=factory)
    b.open()  # no hello yet: deterministic, never waits
    with pytest.raises(BridgeError):
        b.run_cells(None, CELLS, on_result=lambda m: None, on_complete=lambda ok: None)
    assert factory.comms[0].sent == []


def test_ok_flow(bridge, factory):
    c = factory.comms[0]
    results, completed = _recorders()
    rid = bridge.run_cells("cell-2", CELLS, on_result=results.append, on_complete=completed.append)
    (msg,) = c.sent
    assert msg == {
        "v": 1,
        "kind": "insert_and_run",
        "id": rid,
        "after_cell_id": "cell-2",
        "cells": CELLS,
    }
    c.frontend_says(kind="cell_result", id=rid, index=0, cell_id="n0", status="ok", execution_count=3)
    c.frontend_says(kind="cell_result", id=rid, index=1, cell_id="n1", status="ok", execution_count=4)
    assert [r["cell_id"] for r in results] == ["n0", "n1"]
    assert completed == []
    c.frontend_says(kind="run_complete", id=rid, ok=True)
    assert completed == [True]
    c.frontend_says(kind="run_complete", id=rid, ok=True)  # duplicates are ignored
    assert completed == [True]
    assert len(c.sent) == 1  # the kernel said nothing more
    assert bridge.errors == []


def test_insert_sends_cells_with_their_outputs_to_insert_without_running(bridge, factory):
    """A race's winner ran in a worker: its cells go to the notebook with what they printed, not run."""
    c = factory.comms[0]
    completed: list[bool] = []
    printed = [{"output_type": "stream", "name": "stdout", "text": "x is 1\n"}]
    rid = bridge.insert_cells("cell-2", [{**CELLS[0], "outputs": printed}, CELLS[1]], on_complete=completed.append)
    (msg,) = c.sent
    assert msg == {"v": 1, "kind": "insert", "id": rid, "after_cell_id": "cell-2",
                   "cells": [{**CELLS[0], "outputs": printed}, {**CELLS[1], "outputs": []}]}
    c.frontend_says(kind="run_complete", id=rid, ok=True)
    assert completed == [True] and len(c.sent) == 1 and bridge.errors == []
    with pytest.raises(BridgeError):
        bridge.insert_cells(None, [{"source": 1}], on_complete=completed.append)


def test_error_then_repair_then_ok(bridge, factory):
    c = factory.comms[0]
    results, completed = _recorders()

    def on_result(msg):
        results.append(msg)
        if msg["status"] == "error":
            return "y = 2  # repaired"
        return None

    rid = bridge.run_cells(None, CELLS, on_result=on_result, on_complete=completed.append)
    c.frontend_says(kind="cell_result", id=rid, index=0, cell_id="n0", status="ok", execution_count=1)
    c.frontend_says(
        kind="cell_result",
        id=rid,
        index=1,
        cell_id="n1",
        status="error",
        ename="NameError",
        evalue="name 'x' is not defined",
        execution_count=2,
    )
    assert c.sent[-1] == {
        "v": 1,
        "kind": "update_and_run",
        "id": rid,
        "cell_id": "n1",
        "source": "y = 2  # repaired",
    }
    assert completed == []
    c.frontend_says(kind="cell_result", id=rid, index=1, cell_id="n1", status="ok", execution_count=3)
    c.frontend_says(kind="run_complete", id=rid, ok=True)
    assert completed == [True]
    assert [r["status"] for r in results] == ["ok", "error", "ok"]


def test_error_then_abort(bridge, factory):
    c = factory.comms[0]
    results, completed = _recorders()
    rid = bridge.run_cells(None, CELLS, on_result=lambda m: None, on_complete=completed.append)
    c.frontend_says(
        kind="cell_result",
        id=rid,
        index=0,
        cell_id="n0",
        status="error",
        ename="ValueError",
        evalue="bad",
        execution_count=1,
    )
    assert c.sent[-1] == {"v": 1, "kind": "abort", "id": rid}
    assert completed == [False]
    # the frontend confirms the abort: no second on_complete
    c.frontend_says(kind="run_complete", id=rid, ok=False)
    assert completed == [False]
    # late results for a finished request are ignored
    c.frontend_says(kind="cell_result", id=rid, index=1, cell_id="n1", status="ok")
    assert results == []


def test_explicit_abort(bridge, factory):
    c = factory.comms[0]
    completed: list[bool] = []
    rid = bridge.run_cells(None, CELLS, on_result=lambda m: None, on_complete=completed.append)
    bridge.abort(rid)
    bridge.abort(rid)
    assert [m["kind"] for m in c.sent] == ["insert_and_run", "abort"]
    assert completed == [False]


def test_unknown_kinds_and_garbage_are_ignored(bridge, factory):
    c = factory.comms[0]
    completed: list[bool] = []
    rid = bridge.run_cells(None, CELLS, on_result=lambda m: None, on_complete=completed.append)
    c.frontend_says(kind="from_the_future", id=rid, payload=[1, 2])
    c.frontend_says(kind="cell_result", id="no-such-request", index=0, status="error")
    c.frontend_says(kind="run_complete", id="no-such-request", ok=True)
    c.handle_msg({"content": {"data": "not a dict"}})
    c.handle_msg({"content": {}})
    assert bridge.connected
    assert completed == []
    assert bridge.errors == []
    assert len(c.sent) == 1


def test_exceptions_in_callbacks_are_recorded(factory):
    seen: list[str] = []
    b = Bridge(comm_factory=factory, on_error=seen.append)
    b.open()
    c = factory.comms[0]
    c.frontend_says(kind="hello", frontend="jupyterlab", version="0.1.0")

    def on_result(msg):
        raise KeyError("boom in on_result")

    def on_complete(ok):
        raise RuntimeError("boom in on_complete\nsecond line")

    rid = b.run_cells(None, CELLS, on_result=on_result, on_complete=on_complete)
    # ok result + raising on_result: recorded, execution goes on
    c.frontend_says(kind="cell_result", id=rid, index=0, cell_id="n0", status="ok")
    assert len(b.errors) == 1 and "KeyError" in b.errors[0] and "boom in on_result" in b.errors[0]
    # error result + raising on_result: recorded, treated as "no repair" -> abort
    c.frontend_says(kind="cell_result", id=rid, index=1, cell_id="n1", status="error", ename="E")
    assert c.sent[-1]["kind"] == "abort"
    assert any("RuntimeError: boom in on_complete second line" in e for e in b.errors)
    assert all("\n" not in e for e in b.errors)
    assert seen == b.errors


def test_on_error_that_raises_does_not_break_the_bridge(factory):
    def bad_reporter(line):
        raise ValueError("reporter broken")

    b = Bridge(comm_factory=factory, on_error=bad_reporter)
    b.open()
    c = factory.comms[0]
    c.frontend_says(kind="hello")
    rid = b.run_cells(None, CELLS, on_result=lambda m: 1 / 0, on_complete=lambda ok: None)
    c.frontend_says(kind="cell_result", id=rid, index=0, cell_id="n0", status="error")
    assert any("ZeroDivisionError" in e for e in b.errors)
    assert any("reporter broken" in e for e in b.errors)


def test_frontend_error_is_recorded(bridge, factory):
    factory.comms[0].frontend_says(kind="frontend_error", id="x", message="insert_and_run: oops")
    assert bridge.errors == ["frontend: RuntimeError: insert_and_run: oops"]


def test_run_cells_validates_cells(bridge):
    with pytest.raises(BridgeError):
        bridge.run_cells(None, [], on_result=lambda m: None, on_complete=lambda ok: None)
    with pytest.raises(BridgeError):
        bridge.run_cells(None, [{"metadata": {}}], on_result=lambda m: None, on_complete=lambda ok: None)


def test_default_factory_is_looked_up_lazily(monkeypatch):
    made = FakeCommFactory()
    monkeypatch.setattr(comm_pkg, "create_comm", made)
    b = Bridge()
    assert made.comms == []  # nothing at construction
    b.open()
    assert len(made.comms) == 1 and made.kwargs[0]["target_name"] == TARGET_NAME


def test_current_cell_id(monkeypatch):
    import IPython

    class Shell:
        def __init__(self, parent):
            self.parent = parent

        def get_parent(self):
            return self.parent

    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    assert current_cell_id() is None
    monkeypatch.setattr(IPython, "get_ipython", lambda: Shell({"metadata": {"cellId": "abc-123"}}))
    assert current_cell_id() == "abc-123"
    monkeypatch.setattr(IPython, "get_ipython", lambda: Shell({"metadata": {}}))  # nbval / nbclient
    assert current_cell_id() is None
    monkeypatch.setattr(IPython, "get_ipython", lambda: Shell({}))
    assert current_cell_id() is None
    monkeypatch.setattr(IPython, "get_ipython", lambda: object())  # plain IPython, no get_parent
    assert current_cell_id() is None
    assert bridge_mod.current_cell_id is current_cell_id


def test_an_extension_of_another_protocol_version_is_named_in_one_line(factory):
    """Both sides carry the protocol version; the kernel side refuses a frontend that speaks another."""
    from automl_agent_jupyter import __version__
    from automl_agent_jupyter.notebook.bridge import PROTOCOL_VERSION

    lines: list[str] = []
    b = Bridge(comm_factory=factory, on_error=lines.append)
    b.open()
    c = factory.comms[0]
    assert c.published[0][1]["version"] == __version__  # the package's version goes with the open message
    c.handle_msg({"content": {"comm_id": c.comm_id, "data": {"v": PROTOCOL_VERSION + 1, "kind": "hello",
                                                             "frontend": "jupyterlab", "version": "9.9.9"}}})
    assert b.state == "mismatch" and not b.connected
    assert len(lines) == 1 and "\n" not in lines[0] and b.mismatch == lines[0]
    assert f"extension automl-agent-jupyter 9.9.9 speaks comm protocol v{PROTOCOL_VERSION + 1}" in lines[0]
    assert f"Python package {__version__} speaks v{PROTOCOL_VERSION}" in lines[0]
    with pytest.raises(BridgeError, match="not connected"):
        b.run_cells(None, CELLS, on_result=lambda m: None, on_complete=lambda ok: None)
