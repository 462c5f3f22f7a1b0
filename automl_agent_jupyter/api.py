"""Python API: ``AutoMLAgent(...).run(instruction, data=..., auto=True) -> Run``."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .brains import Brain, make_brain
from .config import Settings
from .errors import AutoMLError
from .interrupt import Interrupted, RunGuard, signals
from .manager import Event, Manager
from .record import RunFolder
from .schema import RunRecord


class Run:
    """A finished (or planned) run: its record, its folder, and the saved model's predict."""

    def __init__(self, record: RunRecord, folder: Path, manager: Manager | None = None) -> None:
        self.record, self.folder, self.manager = record, Path(folder), manager

    @classmethod
    def load(cls, folder: str | Path) -> Run:
        rf = RunFolder(folder)
        return cls(rf.read_record(), rf.path)

    status = property(lambda self: self.record.status)
    message = property(lambda self: self.record.message)
    metrics = property(lambda self: self.record.metrics.get("test", {}))
    plans = property(lambda self: self.record.plans)
    requirements = property(lambda self: self.record.requirements)
    # when the status is needs_clarification: each question with the best guess and its options; answer with
    # run(..., target=q.guess) / task=...
    questions = property(lambda self: self.record.choices)

    def leaderboard(self):
        """Every candidate trained, best validation score first: plan, model, key hyper-parameters, validation
        score, fit time, predicted and measured latency and size, and which one was kept (a pandas DataFrame)."""
        from .leaderboard import to_frame

        return to_frame(self.record.leaderboard)

    def predict(self, rows: Any) -> list[Any]:
        """Predictions of the saved model (loaded from disk as a deployment would)."""
        import importlib.util

        path = self.folder / "predict.py"  # written with the cells; usable once the save cell saved the model
        if "model" not in self.record.artifacts or not path.exists():
            raise FileNotFoundError(f"run {self.record.run_id} has no saved model (status {self.status})")
        spec = importlib.util.spec_from_file_location(f"automl_predict_{self.record.run_id}", path)
        mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        spec.loader.exec_module(mod)  # type: ignore[union-attr]
        return mod.predict(rows)

    def __repr__(self) -> str:
        pm = self.record.primary_metric or {}
        metric = f" {pm.get('name')}={pm.get('value'):.4f}" if pm.get("value") is not None else ""
        return f"<Run {self.record.run_id} {self.status}{metric}>"


class AutoMLAgent:
    """The AutoML-Agent pipeline. Offline by default; ``llm="gpt-4o"`` (or any OpenAI-compatible model).

    ``base_url`` points at another OpenAI-compatible server (vLLM, Ollama, LM Studio, Azure...); the key
    comes from ``OPENAI_API_KEY`` (environment or ``.env``) or ``api_key`` (e.g. from a config file): it
    is handed to the LLM client only, never kept in the settings or the run record.
    """

    def __init__(self, llm: str | None = None, brain: Brain | None = None, on_event: Event | None = None,
                 base_url: str | None = None, api_key: str | None = None, **settings: Any) -> None:
        self.settings = Settings(**settings)
        if llm:
            self.settings.llm = llm
        if base_url:
            self.settings.base_url = base_url
        self.brain, self.on_event = brain, on_event
        self._brain_options = {"api_key": api_key} if api_key else {}
        from .brains.offline.words import warm_up_in_background

        warm_up_in_background()  # the prompt agent's word tables (about a second) load while the caller goes on

    def __repr__(self) -> str:
        return f"AutoMLAgent(llm={self.settings.llm!r})"

    def manager(self) -> Manager:
        brain = self.brain or (make_brain(self.settings, **self._brain_options) if self._brain_options else None)
        return Manager(self.settings, brain=brain, on_event=self.on_event)

    @classmethod
    def for_run(cls, folder: str | Path, **overrides: Any) -> AutoMLAgent:
        """An agent with the settings a run was made with (from its run.json), e.g. to resume it."""
        import dataclasses

        from .errors import UserInputError

        try:
            saved = RunFolder(folder).read_record().settings
        except (OSError, ValueError) as exc:
            raise UserInputError(f"cannot read the run record in {folder}: {type(exc).__name__}: "
                                 f"{' '.join(str(exc).split())[:200]}") from None
        names = {f.name for f in dataclasses.fields(Settings)} - {"base_url"}  # the URL was masked: environment
        return cls(**{**{k: v for k, v in saved.items() if k in names}, **overrides})

    def resume(self, folder: str | Path) -> Run:
        """Continue an interrupted or abandoned run (``Run.status`` said so) from its folder, under the budget
        that was left; the record keeps both segments. Ctrl-C / SIGTERM behave as in :meth:`run`."""
        m = self.manager()
        return self._guarded(m, lambda: m.resume(folder), True, None)

    def run(self, instruction: str, data: str | None = None, out: str | Path | None = None, auto: bool = True,
            plan_id: str | None = None, target: str | None = None, task: str | None = None) -> Run:
        """Plan (and with ``auto`` implement). Ctrl-C or SIGTERM raise ``Interrupted`` once the record says
        ``interrupted`` (with the stage and what had finished); the folder is locked while the run works."""
        m = self.manager()
        return self._guarded(m, lambda: m.plan(instruction, data=data, out=out, target=target, task=task), auto,
                             plan_id)

    @staticmethod
    def _guarded(m: Manager, plan: Any, auto: bool, plan_id: str | None) -> Run:
        guard = RunGuard(lambda: m.record, m.save, m.release, forward=m.on_event)
        m.on_event = guard.event
        try:
            with signals():
                record = plan()
                if record.status == "planned" and (auto or plan_id):
                    record = m.implement(plan_id)
        except AutoMLError:
            raise
        except KeyboardInterrupt as exc:
            line = guard.stopped(exc)
            raise Interrupted(exc.reason if isinstance(exc, Interrupted) else None, line) from None
        except Exception as exc:  # a bug: the record says where it happened, the traceback stays
            guard.stopped(exc)
            raise
        finally:
            m.release()
        assert m.folder is not None
        return Run(record, m.folder.path, m)
