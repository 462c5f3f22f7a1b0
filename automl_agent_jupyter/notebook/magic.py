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
from traitlets import Bool, Float, Int, Unicode, default

from ..config import Settings
from ..errors import AutoMLError
from .bridge import Bridge, current_cell_id

_ENV = Settings()  # AUTOML_AGENT_* defaults, read once at import


@magics_class
class AutoMLMagics(Magics):
    """The ``automl`` magics. Options given in a cell override these configurable defaults."""

    auto = Bool(False, help="Implement the best plan without waiting for a click on Accept.").tag(config=True)
    n_plans = Int(help="Number of competing plans (the paper's P).").tag(config=True)
    top_k = Int(help="Candidate models per plan (the paper's k).").tag(config=True)
    budget_s = Float(help="Tuning budget in seconds per plan.").tag(config=True)
    seed = Int(help="Random seed for splits, tuning and models.").tag(config=True)
    max_repairs = Int(help="Repairs per failed generated cell before giving up.").tag(config=True)
    max_revisions = Int(help="Plan revisions after a failed implementation verification.").tag(config=True)
    runs_dir = Unicode(help="Folder for run folders (relative to the kernel's working directory).").tag(config=True)
    llm = Unicode(None, allow_none=True, help="Model name on an OpenAI-compatible server; None: the offline "
                  "brain.").tag(config=True)
    probe = Bool(help="Rank candidates with a quick labelled probe fit (training-free otherwise).").tag(config=True)

    @default("n_plans")
    def _d_n_plans(self) -> int:
        return _ENV.n_plans

    @default("top_k")
    def _d_top_k(self) -> int:
        return _ENV.top_k

    @default("budget_s")
    def _d_budget(self) -> float:
        return _ENV.budget_s

    @default("seed")
    def _d_seed(self) -> int:
        return _ENV.seed

    @default("max_repairs")
    def _d_repairs(self) -> int:
        return _ENV.max_repairs

    @default("max_revisions")
    def _d_revisions(self) -> int:
        return _ENV.max_revisions

    @default("runs_dir")
    def _d_runs_dir(self) -> str:
        return _ENV.runs_dir

    @default("llm")
    def _d_llm(self) -> str | None:
        return _ENV.llm

    @default("probe")
    def _d_probe(self) -> bool:
        return _ENV.probe

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
    @argument("command", nargs="?", help="line magic only: config | runs | show")
    @argument("run", nargs="?", help="with `show`: a run id (or a run folder)")
    @argument("--data", "-d", help="the data file (CSV/TSV); relative to the kernel's working directory")
    @argument("--target", help="the column to predict (default: parsed from the instruction)")
    @argument("--task", help="force the task, e.g. tabular_regression (default: parsed from the instruction)")
    @argument("--out", help="run folder (default: <runs_dir>/<run id>)")
    @argument("--auto", action="store_true", default=None, help="implement the best plan without a click")
    @argument("--no-auto", dest="auto", action="store_false", default=None, help="wait for a click even if auto is configured")
    @argument("--plans", type=int, help="number of competing plans")
    @argument("--top-k", dest="top_k", type=int, help="candidate models per plan")
    @argument("--budget", type=float, help="tuning budget in seconds per plan")
    @argument("--seed", type=int, help="random seed")
    @argument("--llm", help="model name on an OpenAI-compatible server (default: the offline brain)")
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
        """
        args = parse_argstring(self.automl, line)
        if cell is None:
            return self._line(args)
        if args.command:
            raise UsageError(f"%%automl takes options only, not {args.command!r}; the instruction goes in the "
                             "cell body (see %automl?)")
        return self._cell(args, cell)

    def settings(self, args: Any = None) -> Settings:
        given = {} if args is None else {"n_plans": args.plans, "top_k": args.top_k, "budget_s": args.budget,
                                         "seed": args.seed, "llm": args.llm}
        values = {"n_plans": self.n_plans, "top_k": self.top_k, "budget_s": self.budget_s, "seed": self.seed,
                  "max_repairs": self.max_repairs, "max_revisions": self.max_revisions, "runs_dir": self.runs_dir,
                  "llm": self.llm or None, "probe": self.probe}
        values.update({k: v for k, v in given.items() if v is not None})
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
        record = session.start(instruction, data, out=args.out, target=args.target, task=args.task)
        self.sessions[record.run_id] = session
        if record.status == "planned" and auto:
            session.accept()
            if session.mode == "kernel" and session.manager.impl is not None:
                self.shell.set_next_input(session.pipeline_code())  # from the magic call: callbacks cannot
                view.say("The generated code is offered as the next cell (where this frontend supports it).")
        if handle is not None:
            handle.update(view)  # the same widget; frontends without widgets get the text so far

    # ------------------------------------------------------------------ line magic
    def _line(self, args: Any) -> None:
        command = args.command or "config"
        if command == "config":
            return self._config()
        if command == "runs":
            return self._runs()
        if command == "show":
            if not args.run:
                raise UsageError("usage: %automl show RUN_ID (see %automl runs)")
            return self._show(args.run)
        raise UsageError(f"unknown command {command!r}: use %automl config | runs | show RUN_ID, or %%automl "
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
        from ..record import list_runs

        runs = list_runs(self.runs_dir)
        if not runs:
            print(f"no runs under {Path(self.runs_dir).resolve()}")
            return
        for rec in runs:
            pm = rec.primary_metric or {}
            metric = f"{pm['name']}={pm['value']:.4f}" if pm.get("value") is not None else ""
            print(f"{rec.run_id:50s} {rec.status:20s} {metric}")

    def _show(self, run: str) -> None:
        from IPython.display import display

        from ..record import RECORD, RunFolder
        from .widgets import RunView

        folder = Path(run) if (Path(run) / RECORD).exists() else Path(self.runs_dir) / run
        if not (folder / RECORD).exists():
            matches = sorted(Path(self.runs_dir).glob(f"{run}*/{RECORD}"))
            if len(matches) != 1:
                raise UsageError(f"no run {run!r} under {Path(self.runs_dir).resolve()} (see %automl runs)")
            folder = matches[0].parent
        try:
            record = RunFolder(folder).read_record()
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
