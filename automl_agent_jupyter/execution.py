"""Run generated cells in a namespace and keep what happened as data (stdout, error, traceback)."""
from __future__ import annotations

import contextlib
import io
import sys
import time
import traceback
from dataclasses import dataclass
from typing import Any

from .interrupt import Interrupted, stop_requested


@dataclass
class CellResult:
    ok: bool
    seconds: float
    stdout: str = ""
    error_type: str | None = None
    error: str | None = None
    traceback: str | None = None


class _Tee(io.TextIOBase):
    def __init__(self, *streams):
        self.streams = streams

    def write(self, s: str) -> int:
        for st in self.streams:
            st.write(s)
        return len(s)

    def flush(self) -> None:
        for st in self.streams:
            st.flush()


class NamespaceExecutor:
    """Executes cell sources one after another in one namespace, as a notebook kernel would.

    ``namespace`` may be a kernel's ``user_ns`` so that the user can rerun the same cells by hand.
    """

    def __init__(self, namespace: dict[str, Any] | None = None, echo: bool = False) -> None:
        self.namespace = namespace if namespace is not None else {"__name__": "__automl__"}
        self.echo = echo

    def run(self, source: str, name: str) -> CellResult:
        buf = io.StringIO()
        out = _Tee(buf, sys.stdout) if self.echo else buf
        t0 = time.perf_counter()
        try:
            code = compile(source, f"<automl cell {name}>", "exec")
            with contextlib.redirect_stdout(out):
                exec(code, self.namespace)  # noqa: S102 - generated, reviewed cell code is the product
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # SystemExit from generated code must not end the run
            if stop_requested():  # the cell failed because a library swallowed the Ctrl-C: it is an interrupt
                raise Interrupted() from None
            tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[1:])
            return CellResult(ok=False, seconds=time.perf_counter() - t0, stdout=buf.getvalue()[-4000:],
                              error_type=type(exc).__name__, error=str(exc)[:2000], traceback=tb[-6000:])
        if stop_requested():
            raise Interrupted()
        return CellResult(ok=True, seconds=time.perf_counter() - t0, stdout=buf.getvalue()[-4000:])
