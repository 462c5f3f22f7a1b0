"""Interruptions: Ctrl-C, the kernel's Interrupt button, SIGTERM, a kernel shutdown, a crash.

``signals()`` turns SIGINT and SIGTERM into ``Interrupted`` (a ``KeyboardInterrupt``, so every library that
lets Ctrl-C through lets it through too) and sets a stop flag that long loops may poll (``stop_requested``;
the generated training cells do, through a one-line helper that is False when the package is not loaded).

``RunGuard`` follows a manager's events (the stage or generated cell running now) and, when the run ends
by an exception, writes the record at once: ``interrupted`` with the reason, the stage, the plan and what
had finished; the folder's lock is released. A run whose process dies without running any of this (kill -9)
is shown as ``abandoned`` by the readers (record.py).
"""
from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from .record import now
from .schema import Interruption, RunRecord

_STOP = threading.Event()
_STATE = {"reason": "", "saving": False}
REASONS = {signal.SIGINT: "Ctrl-C (SIGINT)", signal.SIGTERM: "SIGTERM"}


class Interrupted(KeyboardInterrupt):
    """The run was asked to stop; ``reason`` says by what. IPython shows ``_render_traceback_`` only."""

    def __init__(self, reason: str | None = None, line: str = "") -> None:
        reason = reason or _STATE["reason"] or "Ctrl-C (SIGINT)"
        super().__init__(reason)
        self.reason, self.line = reason, line

    def _render_traceback_(self) -> list[str]:  # IPython: one line instead of a traceback
        return [self.line or f"automl: interrupted ({self.reason})"]


def stop_requested() -> bool:
    """True once a stop was asked for (SIGINT/SIGTERM under ``signals()``): loops that catch KeyboardInterrupt
    or run in threads poll it. Cleared when the next run starts."""
    return _STOP.is_set()


def request_stop(reason: str) -> None:
    _STATE["reason"] = reason
    _STOP.set()


def clear() -> None:
    _STATE["reason"] = ""
    _STOP.clear()


def arm(kernel_interrupt: str = "the kernel's Interrupt button") -> None:
    """In a kernel, before each cell: clear the flag and chain a SIGINT handler that sets it (ipykernel puts its
    own handler back after the cell). An interrupt then belongs to the cell that was running."""
    clear()
    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGINT)
    if getattr(previous, "automl_chained", False) or not callable(previous):
        return

    def handler(signum: int, frame: Any) -> None:
        request_stop(kernel_interrupt)
        previous(signum, frame)

    handler.automl_chained = True  # type: ignore[attr-defined]
    handler.previous = previous  # type: ignore[attr-defined]
    signal.signal(signal.SIGINT, handler)


def disarm() -> None:
    """After the cell: put back the SIGINT handler that ``arm`` chained to (the flag stays as the cell left it)."""
    if threading.current_thread() is not threading.main_thread():
        return
    current = signal.getsignal(signal.SIGINT)
    if getattr(current, "automl_chained", False):
        signal.signal(signal.SIGINT, current.previous)  # type: ignore[union-attr]


@contextlib.contextmanager
def signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise ``Interrupted`` in the main thread (and set the stop flag) while inside.

    Outside the main thread, or where SIGINT is ignored (a background job started with ``&``), the
    handlers are left as they are."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    clear()

    def handler(signum: int, frame: Any) -> None:
        request_stop(REASONS.get(signum, f"signal {signum}"))
        if not _STATE["saving"]:  # a second Ctrl-C while the record is being written waits for it
            raise Interrupted()

    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(sig) is signal.SIG_IGN:
            continue
        previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class RunGuard:
    """Knows which stage of a run is running and says so in the record when the run ends early.

    ``event`` is the manager's ``on_event`` (chained to ``forward``); ``record``/``save``/``release`` reach
    the run. ``stopped(exc)`` writes the record for an exception that ended the run and returns the one-line
    message."""

    def __init__(self, record: Callable[[], RunRecord | None], save: Callable[[], Any],
                 release: Callable[[], None] = lambda: None,
                 forward: Callable[[str, str, dict[str, Any]], None] | None = None) -> None:
        self._record, self._save, self._release, self.forward = record, save, release, forward
        self.stage: str | None = None
        self._t0 = time.perf_counter()

    def event(self, stage: str, state: str, info: dict[str, Any]) -> None:
        if state == "start":
            self.stage, self._t0 = stage, time.perf_counter()
            rec = self._record()
            if rec is not None and rec.status == "running" and rec.stage != stage:
                rec.stage = stage  # on disk at once: a run killed here reads "abandoned at <stage>"
                self._save()
        elif state == "done" and stage == self.stage:
            self.stage = None
        if self.forward is not None:
            self.forward(stage, state, info)

    def interruption(self, reason: str) -> Interruption | None:
        """What the record says about an interruption now (None before the record exists)."""
        rec = self._record()
        if rec is None:
            return None
        finished = [k for k in rec.timings if k not in ("agent_stages", "total", "implementation")
                    and not k.startswith("cell:")]
        plan = rec.selected_plan if rec.status == "running" and rec.attempts else None
        finished += [f"cell:{a.stage}" for a in rec.attempts if a.ok and a.plan_id == plan]
        if plan is None and rec.status == "running":
            plan = rec.selected_plan
        return Interruption(reason=reason, at=now(), stage=self.stage, plan_id=plan,
                            finished=list(dict.fromkeys(finished)),
                            seconds_in_stage=round(time.perf_counter() - self._t0, 3) if self.stage else 0.0)

    def stopped(self, exc: BaseException, reason: str | None = None, seconds: float | None = None) -> str:
        """Record that the run ended by ``exc`` (an interruption or a crash); returns the one-line message.
        ``seconds``: the time spent in the stage, when the caller timed it (a cell the frontend ran)."""
        if reason is None:
            reason = exc.reason if isinstance(exc, Interrupted) else (_STATE["reason"] or "Ctrl-C (SIGINT)") \
                if isinstance(exc, KeyboardInterrupt) else f"crash: {type(exc).__name__}: {exc}".splitlines()[0][:300]
        rec, info = self._record(), self.interruption(reason)
        if info is not None and seconds is not None:
            info.seconds_in_stage = round(seconds, 3)
        if rec is None or info is None:
            self._release()
            return f"interrupted by {reason} before the run had a record"
        if info.stage and info.stage.startswith("cell:") and info.seconds_in_stage:
            key = info.stage  # the interrupted cell's time counts against the budget that is left
            rec.timings[key] = round(rec.timings.get(key, 0.0) + info.seconds_in_stage, 3)
        rec.status, rec.interruption = "interrupted", info
        where = f"in {info.stage.replace('cell:', 'cell ')}" if info.stage else "between stages"
        done = ", ".join(f.replace("cell:", "") for f in info.finished[-4:]) or "nothing"
        rec.message = f"interrupted by {reason} {where}{f' (plan {info.plan_id})' if info.plan_id else ''}; " \
                      f"finished: {'...' if len(info.finished) > 4 else ''}{done}"
        if rec.segments:
            rec.segments[-1].ended, rec.segments[-1].status = info.at, "interrupted"
        _STATE["saving"] = True
        try:
            self._save()
        except Exception as err:  # noqa: BLE001 - a full disk must not hide the interruption itself
            rec.message += f" (the record could not be written: {err})"
        finally:
            _STATE["saving"] = False
            self._release()
        return rec.message


__all__ = ["Interrupted", "RunGuard", "arm", "clear", "disarm", "request_stop", "signals", "stop_requested"]
