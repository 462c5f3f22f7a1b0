"""``%%automl`` and ``%automl``: the notebook's entry point to the AutoML-Agent pipeline.

Load with ``%load_ext automl_agent_jupyter`` (or list it in ``c.InteractiveShellApp.extensions``).
Defaults come from ``AUTOML_AGENT_*`` environment variables and can be set per profile in
``ipython_config.py``, e.g. ``c.AutoMLMagics.auto = True`` or ``c.AutoMLMagics.budget_s = 60``.
Secrets (``OPENAI_API_KEY``) come only from the environment or ``.env``.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from traitlets import Bool, Float, Int, Unicode

from ..config import Settings, setting_fields
from ..errors import AutoMLError
from ..interrupt import Interrupted
from .bridge import Bridge, current_cell_id

_ENV = Settings()  # AUTOML_AGENT_* defaults, read once at import
_TRAITS = {int: Int, float: Float, bool: Bool, str: Unicode}


def _settings_traits() -> dict[str, Any]:
    """A configurable traitlet per configurable setting (config.Settings), its default from the environment."""
    out: dict[str, Any] = {}
    for f in setting_fields(configurable=True):
        default = getattr(_ENV, f.name)
        trait = _TRAITS[f.metadata["kind"]](default, allow_none=default is None, help=f.metadata["help"])
        out[f.name] = trait.tag(config=True)
    return out


def _settings_arguments(func: Any) -> Any:
    """The ``%%automl`` options of the settings that have one (config.Settings), e.g. ``--plans``."""
    for f in reversed(setting_fields(flagged=True)):
        kind = {"action": "store_const", "const": True} if f.metadata["kind"] is bool else {"type": f.metadata["kind"]}
        func = argument(f.metadata["flag"], dest=f.name, **kind, default=None, help=f.metadata["help"])(func)
    return func


# the settings' traitlets, declared once in config.Settings (c.AutoMLMagics.<name> in ipython_config.py)
_SettingsTraits = type(Magics)("_SettingsTraits", (Magics,), _settings_traits())


@magics_class
class AutoMLMagics(_SettingsTraits):  # type: ignore[misc,valid-type]
    """The ``automl`` magics. Options given in a cell override these configurable defaults."""

    auto = Bool(False, help="Implement the best plan without waiting for a click on Accept.").tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.bridge: Bridge | None = None
        self.clock = None
        self.sessions: dict[str, Any] = {}  # run id -> Session (keeps the widget callbacks alive)
        self.last: Any = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Open the bridge to the JupyterLab extension (answered once this cell is done) and time cells."""
        from .session import CellClock

        if getattr(self.shell, "kernel", None) is not None:
            self.bridge = Bridge(on_error=self._bridge_error).open()
        self.clock = CellClock(self.shell)

    def stop(self) -> None:
        if self.bridge is not None:
            self.bridge.close()
        if self.clock is not None:
            self.clock.close()

    def _bridge_error(self, line: str) -> None:
        if self.last is not None:
            self.last.view.error(f"notebook bridge: {line}")
        else:
            print(f"automl: notebook bridge: {line}", file=sys.stderr)

    # ------------------------------------------------------------------ the magic
    @magic_arguments()
    @argument("command", nargs="?", help="line magic only: config | runs | show | resume")
    @argument("run", nargs="?", help="with `show` or `resume`: a run id (or a run folder)")
    @argument("--data", "-d", help="the data file (CSV/TSV); relative to the kernel's working directory")
    @argument("--target", help="the column to predict (default: parsed from the instruction)")
    @argument("--task", help="force the task, e.g. tabular_regression (default: parsed from the instruction)")
    @argument("--out", help="run folder (default: <runs_dir>/<run id>)")
    @argument("--auto", action="store_true", default=None, help="implement the best plan without a click")
    @argument("--no-auto", dest="auto", action="store_false", default=None, help="wait for a click even if auto is configured")
    @_settings_arguments
    @line_cell_magic
    def automl(self, line: str, cell: str | None = None) -> None:
        """AutoML-Agent: one instruction and a data file to a verified, saved model.

        Cell magic (the body is the instruction)::

            %%automl --data banana_quality.csv
            Classify banana quality as Good or Bad with F1 of at least 0.95.

        shows the parsed requirements, the retrieved knowledge and the competing plans with Accept and
        Reject buttons, and returns. Accept puts the plan's code cells below this cell and runs them
        (JupyterLab with the extension), or runs them in this kernel (elsewhere); then the measured
        results are verified against the requirements. ``--auto`` skips the click.

        Line magic::

            %automl config        settings in effect (secrets only as set / not set)
            %automl runs          past runs with status and metric
            %automl show RUN_ID   the widgets of a past run, from its run.json
            %automl resume RUN    continue an interrupted or abandoned run (its cells are not inserted again)
        """
        args = parse_argstring(self.automl, line)
        if cell is None:
            return self._line(args)
        if args.command:
            raise UsageError(f"%%automl takes options only, not {args.command!r}; the instruction goes in the "
                             "cell body (see %automl?)")
        return self._cell(args, cell)

    def settings(self, args: Any = None) -> Settings:
        values = {f.name: getattr(self, f.name) for f in setting_fields(configurable=True)}
        values["llm"] = values["llm"] or None
        if args is not None:
            values.update({f.name: getattr(args, f.name) for f in setting_fields(flagged=True)
                           if getattr(args, f.name, None) is not None})
        if values["n_plans"] < 1 or values["top_k"] < 1 or values["budget_s"] <= 0:
            raise UsageError("--plans and --top-k must be at least 1 and --budget above 0")
        return Settings(**values)

    def _cell(self, args: Any, cell: str) -> None:
        from IPython.display import display

        from .session import Session
        from .widgets import RunView

        instruction = cell.strip()
        if not instruction:
            raise UsageError("write the instruction in the cell body, e.g. 'Classify Quality as Good or Bad with F1 "
                             "of at least 0.95'")
        data = args.data
        if data:
            path = Path(os.path.expanduser(data))
            if not path.exists():
                raise UsageError(f"data file not found: {data} (the working directory is {os.getcwd()})")
            data = str(path.resolve())
        settings = self.settings(args)
        auto = self.auto if args.auto is None else args.auto
        if self.clock is None:  # used without %load_ext (e.g. AutoMLMagics registered by hand)
            self.start()
        widgets = getattr(self.shell, "kernel", None) is not None
        view = RunView("AutoML-Agent", echo=not widgets)
        try:
            session = Session(self.shell, settings, view, self.bridge, self.clock, current_cell_id())
        except AutoMLError as exc:  # e.g. an LLM that cannot be reached: one line
            raise UsageError(str(exc)) from None
        self.last = session
        handle = display(view, display_id=True) if widgets else None
        try:
            record = session.start(instruction, data, out=args.out, target=args.target, task=args.task)
        except AutoMLError as exc:  # the run folder is in use or cannot be written: one line, nothing written
            view.show_outcome("failed", str(exc))
            raise UsageError(str(exc)) from None
        self.sessions[record.run_id] = session
        if record.status == "planned" and auto:
            session.accept()
            if session.mode == "kernel" and session.manager.impl is not None:
                self.shell.set_next_input(session.pipeline_code())  # from the magic call: callbacks cannot
                view.say("The generated code is offered as the next cell (where this frontend supports it).")
        if handle is not None:
            handle.update(view)  # the same widget; frontends without widgets get the text so far
        if session.record.status == "interrupted":  # one line; Run All stops here as after any interrupt
            raise Interrupted(session.record.interruption.reason if session.record.interruption else None,
                              f"automl: {session.record.message}")

    # ------------------------------------------------------------------ line magic
    def _line(self, args: Any) -> None:
        command = args.command or "config"
        if command == "config":
            return self._config()
        if command == "runs":
            return self._runs()
        if command == "resume":
            if not args.run:
                raise UsageError("usage: %automl resume RUN_ID (or a run folder; see %automl runs)")
            return self._resume(args.run)
        if command == "show":
            if not args.run:
                raise UsageError("usage: %automl show RUN_ID (see %automl runs)")
            return self._show(args.run)
        raise UsageError(f"unknown command {command!r}: use %automl config | runs | show RUN_ID | resume RUN_ID, or %%automl "
                         "with the instruction in the cell body")

    def _config(self) -> None:
        from ..brains.secrets import describe, redact

        s = self.settings()
        print("AutoML-Agent settings (c.AutoMLMagics.<name> in ipython_config.py; AUTOML_AGENT_<NAME> in the "
              "environment):")
        print(f"  {'auto':14s} {self.auto}")
        for k, v in s.as_dict().items():
            print(f"  {k:14s} {redact(v) if v is not None else '(offline brain)' if k == 'llm' else v}")
        for k, v in describe().items():
            print(f"  {k:14s} {v}")
        state = self.bridge.state if self.bridge is not None else "not opened (no kernel)"
        print(f"  {'lab bridge':14s} {state}")

    def _runs(self) -> None:
        from ..record import run_lines

        lines = run_lines(self.runs_dir, resume="%automl resume")
        if not lines:
            print(f"no runs under {Path(self.runs_dir).resolve()}")
        for line in lines:
            print(line)

    def _resume(self, run: str) -> None:
        """Continue an interrupted or abandoned run in this kernel: its remaining cells run here (they are
        not inserted again), shown in a new view, under the budget that was left."""
        from IPython.display import display

        from ..record import find_run
        from .session import Session
        from .widgets import RunView

        try:
            folder = find_run(self.runs_dir, run)
        except AutoMLError as exc:
            raise UsageError(str(exc)) from None
        widgets = getattr(self.shell, "kernel", None) is not None
        view = RunView("AutoML-Agent · resume", echo=not widgets)
        from ..api import AutoMLAgent

        try:
            settings = AutoMLAgent.for_run(folder.path).settings
            session = Session(self.shell, settings, view, self.bridge, self.clock, current_cell_id())
        except AutoMLError as exc:
            raise UsageError(str(exc)) from None
        self.last = session
        if widgets:
            display(view)
        try:
            record = session.resume(folder.path)
        except AutoMLError as exc:
            view.show_outcome("failed", str(exc))
            raise UsageError(str(exc)) from None
        self.sessions[record.run_id] = session
        if record.status == "interrupted":
            raise Interrupted(record.interruption.reason if record.interruption else None, f"automl: {record.message}")

    def _show(self, run: str) -> None:
        from IPython.display import display

        from ..record import RECORD, RunFolder, effective
        from .widgets import RunView

        folder = Path(run) if (Path(run) / RECORD).exists() else Path(self.runs_dir) / run
        if not (folder / RECORD).exists():
            matches = sorted(Path(self.runs_dir).glob(f"{run}*/{RECORD}"))
            if len(matches) != 1:
                raise UsageError(f"no run {run!r} under {Path(self.runs_dir).resolve()} (see %automl runs)")
            folder = matches[0].parent
        try:
            record = effective(RunFolder(folder).read_record())  # a dead writer reads abandoned
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read {folder / RECORD}: {exc}") from None
        widgets = getattr(self.shell, "kernel", None) is not None
        view = RunView.from_record(record, echo=not widgets)
        if widgets:
            display(view)


def load(ip: Any) -> None:
    """Register the magics and open the bridge (``%load_ext automl_agent_jupyter``)."""
    existing = getattr(ip, "_automl_magics", None)
    if existing is not None:
        existing.stop()
    magics = AutoMLMagics(shell=ip)
    ip.register_magics(magics)
    magics.start()
    ip._automl_magics = magics


def unload(ip: Any) -> None:
    magics = getattr(ip, "_automl_magics", None)
    if magics is not None:
        magics.stop()
        ip._automl_magics = None
        if magics in getattr(ip, "configurables", []):
            ip.configurables.remove(magics)
    for kind in ("line", "cell"):
        ip.magics_manager.magics[kind].pop("automl", None)


__all__ = ["AutoMLMagics", "load", "unload"]
