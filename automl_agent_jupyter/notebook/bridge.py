"""Kernel side of the comm protocol with the JupyterLab extension ``automl-agent-jupyter``.

The kernel opens a comm on target ``automl_agent_jupyter``; the frontend extension answers with
``hello``. From then on the kernel can ask the frontend to insert code cells below a given cell
and run them in order (``insert_and_run``), to replace a failed cell's source and resume
(``update_and_run``), to rerun a run's generated cells already in the notebook (``run_existing``, for
resume: nothing is inserted), to insert cells that ran elsewhere without running them, with their outputs
(``insert``: a race's winner, which ran in a worker process; the frontend answers ``run_complete``), or to
stop (``abort``). The frontend reports each cell (``cell_result``) and
the end of a request (``run_complete``).

Every message is a dict ``{"v": PROTOCOL_VERSION, "kind": ..., "id": <request id>, ...}``; unknown
kinds are ignored on both sides. Both sides check ``v``: a frontend that answers ``hello`` with another
version leaves the bridge in state ``"mismatch"`` (not connected: the fallback runs) with one line in
``mismatch`` saying that the Python package and the JupyterLab extension must be upgraded together; the
extension likewise refuses requests of another version with a one-line ``frontend_error``.

Comm messages from the browser are handled by the kernel only while it is idle, so nothing here
ever waits for the frontend: ``connected`` becomes True once ``hello`` was processed (after the
cell that called :meth:`Bridge.open` finished), and results arrive through callbacks.
If no frontend registered the target, JupyterLab closes the comm and ``state`` becomes
``"closed"``; headless runners (nbval, nbclient) answer nothing and ``state`` stays ``"open"``.
Both mean: use a fallback.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

TARGET_NAME = "automl_agent_jupyter"
PROTOCOL_VERSION = 1

State = Literal["new", "open", "connected", "closed", "mismatch"]
OnResult = Callable[[dict], "str | None"]
OnComplete = Callable[[bool], None]
CommFactory = Callable[..., Any]


def current_cell_id() -> str | None:
    """Id of the notebook cell being executed (JupyterLab sends it as ``cellId``), else None.

    None without an IPython shell, outside a kernel, or under nbval/nbclient (empty metadata).
    """
    try:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is None or not hasattr(shell, "get_parent"):
            return None
        parent = shell.get_parent() or {}
        metadata = parent.get("metadata") or {}
        cell_id = metadata.get("cellId")
        return str(cell_id) if cell_id else None
    except Exception:  # noqa: BLE001 - best effort, never raises
        return None


def _package_version() -> str:
    from .. import __version__

    return __version__


def version_mismatch(frontend_v: Any, frontend_version: Any = None) -> str:
    """One line when the extension's protocol version is not this package's ("" when they agree)."""
    if frontend_v == PROTOCOL_VERSION:
        return ""
    ext = f" {frontend_version}" if frontend_version else ""
    return (f"the JupyterLab extension automl-agent-jupyter{ext} speaks comm protocol v{frontend_v}, this Python "
            f"package {_package_version()} speaks v{PROTOCOL_VERSION}: install the same version of both "
            "(pip install -U automl-agent-jupyter) and reload JupyterLab; until then cells run in the kernel")


def _default_comm_factory(**kwargs: Any) -> Any:
    # Looked up at call time: ipykernel replaces ``comm.create_comm`` when the kernel starts.
    import comm

    return comm.create_comm(**kwargs)


@dataclass
class _Request:
    id: str
    cells: list[dict]
    on_result: OnResult
    on_complete: OnComplete
    done: bool = False
    results: list[dict] = field(default_factory=list)


class BridgeError(RuntimeError):
    """The bridge cannot do what was asked (not connected, bad arguments)."""


class Bridge:
    """One comm between this kernel and the JupyterLab extension.

    ``comm_factory(target_name=..., data=...)`` must return an object with ``send(data)``,
    ``close()``, ``on_msg(cb)`` and ``on_close(cb)`` (a ``comm.base_comm.BaseComm``); it defaults
    to ``comm.create_comm``. ``on_error(line)`` is called with a one-line description of any
    exception raised by a user callback; the same lines accumulate in ``errors``.
    """

    def __init__(
        self,
        comm_factory: CommFactory | None = None,
        *,
        target_name: str = TARGET_NAME,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self._comm_factory = comm_factory or _default_comm_factory
        self.target_name = target_name
        self.on_error = on_error
        self.state: State = "new"
        self.frontend: dict = {}
        self.mismatch = ""  # one line when the extension speaks another protocol version
        self.errors: list[str] = []
        self.requests: dict[str, _Request] = {}
        self._comm: Any = None

    # ------------------------------------------------------------------ lifecycle
    @property
    def connected(self) -> bool:
        return self.state == "connected"

    def open(self) -> Bridge:
        """Open the comm (idempotent while open/connected). Never waits for the frontend."""
        if self.state in ("open", "connected"):
            return self
        self.frontend = {}
        self._comm = self._comm_factory(
            target_name=self.target_name,
            data={"v": PROTOCOL_VERSION, "kind": "open", "version": _package_version()},
        )
        self._comm.on_msg(self._handle_msg)
        self._comm.on_close(self._handle_close)
        self.state = "open"
        return self

    def close(self) -> None:
        """Close the comm; pending requests complete with ``ok=False``."""
        comm, self._comm = self._comm, None
        was_open = self.state in ("open", "connected")
        self.state = "closed"
        if comm is not None and was_open:
            try:
                comm.close()
            except Exception as exc:  # noqa: BLE001
                self._record("comm.close", exc)
        self._fail_pending()

    # ------------------------------------------------------------------ requests
    def run_cells(
        self,
        after_cell_id: str | None,
        cells: list[dict],
        on_result: OnResult,
        on_complete: OnComplete,
    ) -> str:
        """Ask the frontend to insert ``cells`` below ``after_cell_id`` and run them in order.

        ``cells`` are ``{"source": str, "metadata": dict}``. ``on_result(cell_result_msg)`` is
        called after each cell; for an ``"error"`` result, returning a string repairs the cell
        (``update_and_run`` with that source) and returning None aborts the request. For an
        ``"ok"`` result the return value is ignored. ``on_complete(ok)`` is called exactly once.
        Returns the request id.
        """
        if not self.connected:
            raise BridgeError(f"the JupyterLab extension is not connected (bridge state {self.state!r})")
        if not cells:
            raise BridgeError("run_cells needs at least one cell")
        norm = []
        for cell in cells:
            source = cell.get("source") if isinstance(cell, dict) else None
            if not isinstance(source, str):
                raise BridgeError("each cell must be a dict with a 'source' string")
            norm.append({"source": source, "metadata": dict(cell.get("metadata") or {})})
        req = _Request(id=uuid.uuid4().hex[:12], cells=norm, on_result=on_result, on_complete=on_complete)
        self.requests[req.id] = req
        self._send({"kind": "insert_and_run", "id": req.id, "after_cell_id": after_cell_id, "cells": norm})
        return req.id

    def run_existing(self, run_id: str, cells: list[dict], on_result: OnResult, on_complete: OnComplete) -> str:
        """Resume: ask the frontend to run the generated cells of ``run_id`` already in the notebook (the last
        copy of each ``stage``), their sources replaced by ``source``; nothing is inserted. A stage without a
        cell comes back as a ``CellMissing`` result. Callbacks as in :meth:`run_cells`."""
        if not self.connected:
            raise BridgeError(f"the JupyterLab extension is not connected (bridge state {self.state!r})")
        norm = [{"stage": str(c["stage"]), "source": str(c["source"])} for c in cells]
        req = _Request(id=uuid.uuid4().hex[:12], cells=norm, on_result=on_result, on_complete=on_complete)
        self.requests[req.id] = req
        self._send({"kind": "run_existing", "id": req.id, "run_id": run_id, "cells": norm})
        return req.id

    def insert_cells(self, after_cell_id: str | None, cells: list[dict], on_complete: OnComplete) -> str:
        """Ask the frontend to insert ``cells`` below ``after_cell_id`` without running them: code that ran
        elsewhere (a race's worker process), shown with what it printed. ``cells`` are ``{"source": str,
        "metadata": dict, "outputs": [nbformat output dicts]}``. ``on_complete(ok)`` is called once the
        frontend inserted (and saved) them. Returns the request id."""
        if not self.connected:
            raise BridgeError(f"the JupyterLab extension is not connected (bridge state {self.state!r})")
        norm = []
        for cell in cells:
            if not isinstance(cell, dict) or not isinstance(cell.get("source"), str):
                raise BridgeError("each cell must be a dict with a 'source' string")
            norm.append({"source": cell["source"], "metadata": dict(cell.get("metadata") or {}),
                         "outputs": list(cell.get("outputs") or [])})
        req = _Request(id=uuid.uuid4().hex[:12], cells=norm, on_result=lambda msg: None, on_complete=on_complete)
        self.requests[req.id] = req
        self._send({"kind": "insert", "id": req.id, "after_cell_id": after_cell_id, "cells": norm})
        return req.id

    def abort(self, request_id: str) -> None:
        """Stop a request; its ``on_complete(False)`` is called now."""
        req = self.requests.get(request_id)
        if req is None or req.done:
            return
        self._send({"kind": "abort", "id": req.id})
        self._complete(req, False)

    # ------------------------------------------------------------------ internals
    def _send(self, data: dict) -> None:
        if self._comm is None:
            raise BridgeError("the bridge comm is not open")
        self._comm.send({"v": PROTOCOL_VERSION, **data})

    def _record(self, where: str, exc: BaseException) -> None:
        self._say(f"{where}: {type(exc).__name__}: {exc}".replace("\n", " "))

    def _say(self, line: str) -> None:
        self.errors.append(line)
        if self.on_error is not None:
            try:
                self.on_error(line)
            except Exception as exc2:  # noqa: BLE001 - never let the reporter itself break the comm
                self.errors.append(f"on_error: {type(exc2).__name__}: {exc2}".replace("\n", " "))

    def _complete(self, req: _Request, ok: bool) -> None:
        if req.done:
            return
        req.done = True
        try:
            req.on_complete(ok)
        except Exception as exc:  # noqa: BLE001 - user callback
            self._record(f"on_complete[{req.id}]", exc)

    def _fail_pending(self) -> None:
        for req in list(self.requests.values()):
            self._complete(req, False)

    def _handle_close(self, msg: dict) -> None:
        self._comm = None
        self.state = "closed"
        self._fail_pending()

    def _handle_msg(self, msg: dict) -> None:
        try:
            data = (msg.get("content") or {}).get("data") or {}
        except AttributeError:
            return
        if not isinstance(data, dict):
            return
        kind = data.get("kind")
        try:
            if kind == "hello":
                if self.state == "open":
                    self.frontend = {k: v for k, v in data.items() if k not in ("v", "kind")}
                    self.mismatch = version_mismatch(data.get("v"), self.frontend.get("version"))
                    self.state = "mismatch" if self.mismatch else "connected"
                    if self.mismatch:
                        self._say(self.mismatch)
            elif kind == "cell_result":
                self._on_cell_result(data)
            elif kind == "run_complete":
                req = self.requests.get(str(data.get("id")))
                if req is not None:
                    self._complete(req, bool(data.get("ok")))
            elif kind == "frontend_error":
                self._record("frontend", RuntimeError(str(data.get("message", ""))))
            # any other kind: ignored (forward compatibility)
        except Exception as exc:  # noqa: BLE001 - a bug here must not vanish into the kernel log
            self._record(f"bridge[{kind}]", exc)

    def _on_cell_result(self, data: dict) -> None:
        req = self.requests.get(str(data.get("id")))
        if req is None or req.done:
            return
        req.results.append(data)
        try:
            reply = req.on_result(data)
        except Exception as exc:  # noqa: BLE001 - user callback
            self._record(f"on_result[{req.id}]", exc)
            reply = None
        if data.get("status") == "ok":
            return  # the frontend goes on by itself; run_complete follows the last cell
        if isinstance(reply, str) and data.get("cell_id"):
            self._send({"kind": "update_and_run", "id": req.id, "cell_id": data["cell_id"], "source": reply})
        else:
            self.abort(req.id)


__all__ = ["PROTOCOL_VERSION", "TARGET_NAME", "Bridge", "BridgeError", "current_cell_id", "version_mismatch"]
