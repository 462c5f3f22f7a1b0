"""The run's widgets: they render the manager's typed data and emit the user's decisions, nothing more.

``RunView`` is one run as the ``%%automl`` cell shows it: the mode line, a progress line per stage,
the outcome message (questions when the request needs clarification), the parsed requirements as a
collapsible JSON tree, the retrieved knowledge with sources, the plan cards side by side (each with
Accept and Reject), the implementation attempts, the code of each stage, the implementation
verification, the artifacts and a time table. Every ``show_*`` also keeps a plain-text line, printed
when ``echo`` is on (terminal IPython) and used as the ``text/plain`` form of the widget (nbval,
frontends without widgets).

Decisions leave the view through ``on_decision(callback)``: ``callback(action, plan_id)`` with action
``"accept"`` or ``"reject"``. Callbacks run inside the view's ``log`` Output widget and an exception in
one is written into that Output (never only into JupyterLab's log console).
"""
from __future__ import annotations

import base64
import html
import json
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import ipywidgets as W

from ..schema import Attempt, KnowledgeItem, Plan, RunRecord, Verdict

Decision = Callable[[str, str], None]  # (action "accept" | "reject", plan id)

STYLE = """<style>
.automl-run { border-left: 3px solid #1976d2; padding-left: 8px; }
.automl-run .widget-html-content { line-height: 1.35; }
.automl-run .widget-html { margin-top: 1px; margin-bottom: 1px; }
.automl-run table { border-collapse: collapse; font-size: 12px; margin: 2px 0 6px 0; }
.automl-run th, .automl-run td { border-bottom: 1px solid #ddd; padding: 1px 8px 1px 0; text-align: left;
  vertical-align: top; }
.automl-run summary { cursor: pointer; font-weight: 600; }
.automl-run .automl-json details { margin-left: 14px; } .automl-run .automl-json summary { font-weight: 400; }
.automl-run .automl-json .k { color: #7b1fa2; } .automl-run .automl-json .v { color: #2e7d32; }
.automl-card { border: 1px solid #bbb; border-radius: 6px; padding: 6px 8px; margin: 0 8px 8px 0; }
.automl-card.automl-rejected { opacity: .4; filter: grayscale(1); }
.automl-card.automl-selected { border: 2px solid #2e7d32; }
.automl-card.automl-locked { opacity: .7; }
.automl-card ul { margin: 2px 0 4px 0; padding-left: 18px; }
.automl-pass { color: #2e7d32; font-weight: 600; } .automl-fail { color: #c62828; font-weight: 600; }
.automl-muted { color: #777; }
.automl-form .automl-asked select, .automl-form .automl-asked input { outline: 2px solid #ffb300; }
.automl-outcome { padding: 6px 10px; background: #fff8e1; border: 1px solid #ffb300; border-radius: 4px; }
.automl-run pre { font-size: 11px; max-height: 360px; overflow: auto; background: #f7f7f7; padding: 4px; }
.automl-summary { border: 1px solid #bbb; border-radius: 6px; padding: 6px 10px; margin: 4px 0 8px 0; }
.automl-summary .automl-answer { font-size: 15px; font-weight: 600; }
.automl-summary img { max-width: 720px; width: 100%; border: 1px solid #eee; }
.automl-live { padding: 3px 8px; background: #e3f2fd; border-radius: 4px; font-size: 12px; }
.automl-live .automl-bar { height: 4px; background: #bbdefb; margin-top: 3px; }
.automl-live .automl-bar div { height: 4px; background: #1976d2; }
.automl-board tr.automl-kept td { font-weight: 600; background: #e8f5e9; }
.automl-plots img { max-width: 460px; margin: 0 8px 8px 0; border: 1px solid #eee; }
</style>"""


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1e5 else f"{value:.3e}"
    return str(value)


def json_tree(obj: Any, label: str = "", depth: int = 0, open_depth: int = 1) -> str:
    """Collapsible HTML tree of a JSON-like object (``<details>`` per dict/list)."""
    key = f'<span class="k">{esc(label)}</span>: ' if label else ""
    if isinstance(obj, (dict, list)):
        items = list(obj.items()) if isinstance(obj, dict) else list(enumerate(obj))
        if not items:
            return f"<div>{key}<span class='automl-muted'>{'{}' if isinstance(obj, dict) else '[]'}</span></div>"
        brackets = f"{{{len(items)}}}" if isinstance(obj, dict) else f"[{len(items)}]"
        inner = "".join(json_tree(v, str(k), depth + 1, open_depth) for k, v in items)
        opened = " open" if depth < open_depth else ""
        return f"<details{opened}><summary>{key}<span class='automl-muted'>{brackets}</span></summary>{inner}</details>"
    return f'<div>{key}<span class="v">{esc(json.dumps(obj, default=str))}</span></div>'


def table(headers: list[str], rows: list[list[Any]], cls: str = "") -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><tr>{head}</tr>{body}</table>'


def verdict_badge(passed: bool | None) -> str:
    if passed is None:
        return '<span class="automl-muted">n/a</span>'
    return '<span class="automl-pass">pass</span>' if passed else '<span class="automl-fail">fail</span>'


def _section(cls: str) -> W.HTML:
    w = W.HTML(layout=W.Layout(display="none"))
    w.add_class(cls)
    return w


class PlanCard(W.VBox):
    """One plan: title, data steps, model steps, top-k candidates with predictions, verdict, buttons."""

    def __init__(self, plan: Plan, metric: str = "metric", readonly: bool = False) -> None:
        self.plan_id = plan.id
        self.body = W.HTML(self.render(plan, metric))
        self.accept = W.Button(description="Accept", button_style="success", icon="check",
                               tooltip=f"Run plan {plan.id}: its cells go below the %%automl cell")
        self.reject = W.Button(description="Reject", button_style="danger", icon="times",
                               tooltip=f"Discard plan {plan.id}")
        self.accept.add_class("automl-accept")
        self.reject.add_class("automl-reject")
        buttons = W.HBox([] if readonly else [self.accept, self.reject])
        super().__init__([self.body, buttons], layout=W.Layout(width="32%", min_width="300px"))
        self.add_class("automl-card")
        self.add_class(f"automl-plan-{plan.id}")
        self.plan_state = ""
        self.set_state(plan.state)

    @staticmethod
    def render(plan: Plan, metric: str) -> str:
        v = plan.verdict
        head = (f"<div><b>{esc(plan.id)} · {esc(plan.title)}</b> "
                f"{'' if v is None else ('— predicted ' + verdict_badge(v.passed))}</div>")
        strategy = f"<div class='automl-muted'>{esc(plan.strategy)}</div>" if plan.strategy else ""
        data = [s.text for s in plan.steps if s.agent == "data"]
        model = [s.text for s in plan.steps if s.agent == "model"]
        steps = ""
        if data:
            steps += "<div>Data steps</div><ul>" + "".join(f"<li>{esc(t)}</li>" for t in data) + "</ul>"
        if model:
            steps += "<div>Model steps</div><ul>" + "".join(f"<li>{esc(t)}</li>" for t in model) + "</ul>"
        rows = [[esc(c.name), fmt(c.predicted_metric), fmt(c.predicted_train_s, 3), fmt(c.predicted_latency_ms, 3),
                 fmt(c.predicted_size_mb, 3)] for c in plan.candidates]
        cands = (f"<div>Top-{len(plan.candidates)} candidates</div>"
                 + table(["model", f"pred. {metric}", "train s", "latency ms", "size MB"], rows, "automl-cands")
                 if rows else "")
        basis = plan.candidates[0].basis if plan.candidates and plan.candidates[0].basis else ""
        if basis:
            cands += f"<div class='automl-muted'>basis: {esc(basis)}</div>"
        verdict = ""
        if v is not None:
            reasons = "".join(f"<li>{esc(r)}</li>" for r in v.reasons)
            opinion = f"<div class='automl-muted'>{esc(v.brain_opinion)}</div>" if v.brain_opinion else ""
            verdict = (f"<div class='automl-plan-verdict'>Execution verification: {verdict_badge(v.passed)}</div>"
                       f"<ul>{reasons}</ul>{opinion}")
        return head + strategy + steps + cands + verdict

    def set_state(self, state: str) -> None:
        """proposed | rejected | selected | tried | locked (another plan runs)."""
        for s in ("rejected", "selected", "locked", "tried"):
            self.remove_class(f"automl-{s}")
        if state in ("rejected", "selected", "locked", "tried"):
            self.add_class(f"automl-{state}")
        self.accept.disabled = self.reject.disabled = state != "proposed"
        if state == "selected":
            self.accept.description = "Accepted"
        elif state == "tried":
            self.accept.description = "Tried"
        elif state == "rejected":
            self.reject.description = "Rejected"
        else:
            self.accept.description, self.reject.description = "Accept", "Reject"
        self.plan_state = state


LIMITS = [("training_time", "training time (s)"), ("inference_latency", "latency per prediction (ms)"),
          ("inference_time_total", "whole test set (s)"), ("model_size", "model size (MB)"),
          ("parameters", "parameters (count)")]
Revision = Callable[[dict[str, Any]], None]  # the user's answers / edits -> re-plan


def _number(text: str, what: str) -> float | None:
    """'0.95', '95%', '' (none) -> a number; a clear message for anything else."""
    t = (text or "").strip().replace(",", ".")
    if not t:
        return None
    try:
        return round(float(t[:-1]) / 100, 10) if t.endswith("%") else float(t)
    except ValueError:
        raise ValueError(f"{what}: {text!r} is not a number (write e.g. 0.95, 95% or leave it empty)") from None


class RequirementsForm(W.VBox):
    """The requirements as an editable form: task, target (columns with a sample of their values), metric
    and threshold, limits, cluster count, split column, preferred models. Questions (missing or uncertain
    fields) come first with the best guess preselected. The button hands the answers to ``on_submit``:
    the fields the user answered or changed, nothing else."""

    def __init__(self, requirements: dict[str, Any], columns: list[dict[str, Any]], questions: list[dict[str, Any]],
                 metrics: list[str], tasks: list[str], button: str = "Re-plan") -> None:
        problem, ds = requirements.get("problem", {}), (requirements.get("dataset") or [{}])[0]
        self.asked = {q["field"] for q in questions}
        self._submit: list[Revision] = []
        self.guard: Callable[[str], Any] = lambda what: nullcontext()  # RunView.show_form sets its own guard
        asked = ", ".join(q["field"].replace("_", " ") for q in questions)
        self.questions = W.HTML(f"<div class='automl-questions'><b>Please confirm or correct the highlighted "
                                f"field{'s' if len(questions) > 1 else ''} ({esc(asked)})</b>; the best guess is "
                                "preselected.</div>" if questions else "")
        target_q = next((q for q in questions if q["field"] == "target"), None)
        col_opts = [(o.get("label") or str(o["value"]), o["value"]) for o in (target_q or {}).get("options", [])] or \
            [(c.get("label") or c["value"], c["value"]) for c in columns]
        if not any(v == c["value"] for c in columns for _, v in col_opts):
            col_opts += [(c.get("label") or c["value"], c["value"]) for c in columns
                         if c["value"] not in {v for _, v in col_opts}]
        target = (ds.get("target_variables") or [None])[0]
        if target_q and target_q.get("guess") is not None:
            target = target_q["guess"]
        self.target = W.Dropdown(options=[("(none)", "")] + col_opts, value=target or "",
                                 description="target", style={"description_width": "110px"},
                                 layout=W.Layout(width="480px"))
        task_q = next((q for q in questions if q["field"] == "task"), None)
        task = (task_q or {}).get("guess") or problem.get("downstream_task") or ""
        self.task = W.Dropdown(options=[("(unknown)", "")] + [(t.replace("_", " "), t) for t in tasks],
                               value=task if task in tasks else "", description="task",
                               style={"description_width": "110px"}, layout=W.Layout(width="480px"))
        first = (problem.get("performance_metrics") or [{}])[0]
        self.metric = W.Dropdown(options=[("(task default)", "")] + [(m, m) for m in metrics],
                                 value=first.get("name") if first.get("name") in metrics else "",
                                 description="metric", style={"description_width": "110px"})
        self.threshold = W.Text(value="" if first.get("value") is None else f"{first['value']:g}",
                                placeholder="e.g. 0.95 (empty: none)", description="threshold",
                                style={"description_width": "110px"})
        limits = {c["name"]: c["value"] for c in problem.get("complexity_metrics") or []}
        self.limits = {k: W.Text(value="" if limits.get(k) is None else f"{limits[k]:g}", placeholder="no limit",
                                 description=label, style={"description_width": "190px"},
                                 layout=W.Layout(width="330px")) for k, label in LIMITS}
        self.n_clusters = W.Text(value=str(problem.get("n_clusters") or ""), placeholder="(as many as the labels)",
                                 description="clusters", style={"description_width": "110px"})
        self.split_column = W.Dropdown(options=[("(random split)", "")] + [(c["value"], c["value"]) for c in columns],
                                       value=ds.get("split_column") or "", description="split column",
                                       style={"description_width": "110px"})
        self.models = W.Text(value=", ".join(m.get("name", "") for m in requirements.get("model") or []),
                             placeholder="e.g. lightgbm, random_forest (empty: the agent chooses)",
                             description="models", style={"description_width": "110px"}, layout=W.Layout(width="480px"))
        for name, w in [("target", self.target), ("task", self.task), ("metric", self.metric),
                        ("threshold", self.threshold), ("n_clusters", self.n_clusters),
                        ("split_column", self.split_column), ("models", self.models), *self.limits.items()]:
            w.add_class(f"automl-field-{name}")
            if name in self.asked:
                w.add_class("automl-asked")
        self.button = W.Button(description=button, button_style="primary", icon="refresh",
                               tooltip="Plan again from these requirements (no need to rerun the cell)")
        self.button.add_class("automl-continue")
        self.button.on_click(lambda _b: self._emit())
        self.initial = self.values()
        super().__init__([self.questions, self.task, self.target, W.HBox([self.metric, self.threshold]),
                          W.HTML("<div class='automl-muted'>Limits (empty: none)</div>"),
                          W.HBox(list(self.limits.values())[:3]), W.HBox(list(self.limits.values())[3:]),
                          W.HBox([self.n_clusters, self.split_column]), self.models, self.button])
        self.add_class("automl-form")

    def values(self) -> dict[str, Any]:
        """Every field as an answer (raises ValueError with a clear message for a bad number)."""
        n = _number(self.n_clusters.value, "clusters")
        return {"task": self.task.value or None, "target": self.target.value or None,
                "metric": {"name": self.metric.value or None, "value": _number(self.threshold.value, "threshold")},
                "limits": {k: _number(w.value, k.replace("_", " ")) for k, w in self.limits.items()},
                "n_clusters": int(n) if n else None, "split_column": self.split_column.value or None,
                "models": [m.strip() for m in self.models.value.replace(";", ",").split(",") if m.strip()]}

    def answers(self) -> dict[str, Any]:
        """The fields the user was asked about or changed."""
        now = self.values()
        out = {k: v for k, v in now.items() if k in self.asked or v != self.initial.get(k)}
        if "limits" in out:
            out["limits"] = {k: v for k, v in now["limits"].items() if v != self.initial["limits"].get(k)}
        return out

    def on_submit(self, callback: Revision) -> None:
        self._submit.append(callback)

    def _emit(self) -> None:
        with self.guard("re-plan"):
            answers = self.answers()
            for cb in list(self._submit):
                cb(answers)


class RunView(W.VBox):
    """Everything one ``%%automl`` run shows. Holds no pipeline logic."""

    def __init__(self, title: str = "AutoML-Agent", echo: bool = False, readonly: bool = False) -> None:
        self.echo, self.readonly = echo, readonly
        self.lines: list[str] = []
        self._handlers: list[Decision] = []
        self._progress: dict[str, str] = {}
        self._attempts: list[list[str]] = []
        self._code: list[str] = []
        self.cards: dict[str, PlanCard] = {}
        self.header = W.HTML(f"{STYLE}<b>{esc(title)}</b>")
        self.summary = _section("automl-summary-box")
        self.live = _section("automl-live-box")
        self.live_text = ""
        self._live_state: dict[str, Any] = {}
        self.board_rows: list[dict[str, Any]] = []
        self.board_sort = W.Dropdown(description="Sort by", layout=W.Layout(width="260px"))
        self.board_order = W.ToggleButtons(options=["descending", "ascending"], layout=W.Layout(width="auto"),
                                           style={"button_width": "110px"})
        self.board_table = W.HTML(layout=W.Layout(overflow="auto"))
        self.board = W.VBox([W.HTML("<b>Leaderboard</b> <span class='automl-muted'>every candidate trained; "
                                    "validation scores; the kept model in green</span>"),
                             W.HBox([self.board_sort, self.board_order]), self.board_table],
                            layout=W.Layout(display="none"))
        self.board.add_class("automl-leaderboard")
        self.board_sort.observe(lambda _c: self._render_board(), names="value")
        self.board_order.observe(lambda _c: self._render_board(), names="value")
        self.gallery = _section("automl-plots")
        self.mode = _section("automl-mode")
        self.progress = _section("automl-progress")
        self.outcome = _section("automl-outcome-box")
        self.form = W.VBox(layout=W.Layout(display="none"))
        self.form.add_class("automl-form-box")
        self._revise: list[Revision] = []
        self.requirements = _section("automl-requirements")
        self.knowledge = _section("automl-knowledge")
        self.plans_note = _section("automl-plans-note")
        self.plans = W.HBox(layout=W.Layout(flex_flow="row wrap", align_items="stretch"))
        self.plans.add_class("automl-plans")
        self.notes = _section("automl-notes")
        self.attempts = _section("automl-attempts")
        self.code = _section("automl-code")
        self.verification = _section("automl-verification")
        self.artifacts = _section("automl-artifacts")
        self.timings = _section("automl-timings")
        self.output = W.Output()
        self.output.add_class("automl-log")
        self._notes: list[str] = []
        super().__init__([self.header, self.summary, self.live, self.board, self.gallery, self.mode, self.progress,
                          self.outcome, self.form, self.requirements, self.knowledge, self.plans_note, self.plans,
                          self.notes, self.attempts, self.code, self.verification, self.artifacts, self.timings,
                          self.output])
        self.add_class("automl-run")

    # ------------------------------------------------------------------ text form
    def say(self, line: str) -> None:
        self.lines.append(line)
        if self.echo:
            print(line, flush=True)

    def text(self) -> str:
        return "\n".join(self.lines)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict | None:
        data = super()._repr_mimebundle_(**kwargs) or {}
        data["text/plain"] = self.text() or "AutoML-Agent run"
        return data

    @staticmethod
    def _set(widget: W.HTML, value: str) -> None:
        widget.value = value
        widget.layout.display = "" if value else "none"

    # ------------------------------------------------------------------ decisions and errors
    def on_decision(self, callback: Decision, remove: bool = False) -> None:
        if remove:
            self._handlers.remove(callback)
        else:
            self._handlers.append(callback)

    @contextmanager
    def guard(self, what: str) -> Iterator[None]:
        """Run a callback's body inside the log Output; an exception is shown there, not re-raised."""
        # The except is inside the Output context: ipywidgets' Output swallows exceptions whenever an IPython
        # shell exists, so catching outside it would depend on the environment.
        with self.output:
            try:
                yield
            except Exception as exc:  # noqa: BLE001 - a callback error must be visible in the notebook
                self.error(f"{what} failed: {type(exc).__name__}: {exc}", traceback.format_exc())

    def error(self, line: str, details: str = "") -> None:
        self.output.append_stderr(line + "\n" + (details if details.endswith("\n") or not details else details + "\n"))
        self.say(line)

    def on_revise(self, callback: Revision) -> None:
        """``callback(answers)`` when the user presses Continue / Re-plan in the requirements form."""
        self._revise.append(callback)

    def show_form(self, requirements: dict[str, Any], columns: list[dict[str, Any]],
                  questions: list[dict[str, Any]] | None = None, metrics: list[str] | None = None,
                  tasks: list[str] | None = None) -> RequirementsForm | None:
        """The requirements as a form (questions first, best guesses preselected); None in a read-only view."""
        if self.readonly:
            return None
        from ..schema import TASKS
        from ..tasks import METRIC_DIRECTION

        form = RequirementsForm(requirements, columns, questions or [], metrics or list(METRIC_DIRECTION),
                                tasks or list(TASKS), button="Continue" if questions else "Re-plan")
        form.guard = self.guard  # a bad number or a failing re-plan is shown in this view's log
        form.on_submit(self._revised)
        self.form.children = [W.HTML("<div><b>Requirements</b> <span class='automl-muted'>(change any field, "
                                     f"then {'Continue' if questions else 'Re-plan'}; no need to rerun the cell)"
                                     "</span></div>"), form]
        self.form.layout.display = ""
        self.say("Requirements form: " + ("answer the questions and press Continue" if questions else
                                          "edit a field and press Re-plan"))
        return form

    def _revised(self, answers: dict[str, Any]) -> None:
        for cb in list(self._revise):
            cb(answers)

    def _decide(self, action: str, plan_id: str) -> None:
        with self.guard(f"{action} {plan_id}"):
            for cb in list(self._handlers):
                cb(action, plan_id)

    # ------------------------------------------------------------------ sections
    def show_mode(self, mode: str, detail: str) -> None:
        self._set(self.mode, f"<div><b>Mode:</b> {esc(mode)} — {esc(detail)}</div>")
        self.say(f"Mode: {mode} — {detail}")

    def show_stage(self, stage: str, state: str, seconds: float | None = None) -> None:
        label = stage.replace("_", " ")
        if state == "start":
            self._progress[stage] = f"<span class='automl-muted'>… {esc(label)}</span>"
        else:
            self._progress[stage] = f"✓ {esc(label)} <span class='automl-muted'>{fmt(seconds, 3)} s</span>"
            self.say(f"  [{stage}] {fmt(seconds, 3)} s")
        self._set(self.progress, "<div class='automl-stage'>" + "</div><div class='automl-stage'>".join(
            self._progress.values()) + "</div>")

    def show_outcome(self, status: str, message: str, questions: list[str] | None = None) -> None:
        if not status:  # cleared (a re-plan succeeded)
            self._set(self.outcome, "")
            return
        title = {"needs_clarification": "I need a little more before I can build this",
                 "not_ml": "This is not a machine-learning task I can build",
                 "failed": "The run stopped",
                 "interrupted": "The run was interrupted",
                 "abandoned": "The run was abandoned"}.get(status, status)
        qs = "".join(f"<li>{esc(q)}</li>" for q in questions or [])
        hint = ("<div class='automl-muted'>Answer in the form below and press Continue (or edit the instruction "
                "and rerun the cell).</div>" if status == "needs_clarification" and not self.readonly else
                "<div class='automl-muted'>Rephrase the instruction and rerun the cell.</div>"
                if status in ("needs_clarification", "not_ml") else "")
        self._set(self.outcome, f"<div class='automl-outcome automl-status-{esc(status)}'><b>{esc(title)}.</b> "
                                f"{esc(message)}{'<ul>' + qs + '</ul>' if qs else ''}{hint}</div>")
        self.say(f"{title}: {message}")
        for q in questions or []:
            self.say(f"  ? {q}")

    def show_requirements(self, requirements: dict[str, Any]) -> None:
        self._set(self.requirements, "<details class='automl-json'><summary>Requirements (parsed by the prompt "
                                     f"agent)</summary>{json_tree(requirements, open_depth=1)}</details>")
        problem = requirements.get("problem", {})
        targets = ", ".join(f"{m['name']}≥{m['value']}" if m.get("value") is not None else m["name"]
                            for m in problem.get("performance_metrics", []))
        self.say(f"Requirements: {problem.get('downstream_task')} {targets}".rstrip())

    def show_knowledge(self, items: list[KnowledgeItem], insights: list[str] | None = None) -> None:
        def source(s: str) -> str:
            return f"<a href='{esc(s)}' target='_blank'>{esc(s)}</a>" if s.startswith("http") else esc(s)

        rows = "".join(f"<li><b>{esc(i.title)}</b> — {esc(i.text)} <span class='automl-muted'>[{esc(i.kind)}; "
                       f"source: {source(i.source)}]</span></li>" for i in items)
        ins = "".join(f"<li>{esc(t)}</li>" for t in insights or [])
        self._set(self.knowledge, f"<details><summary>Retrieved knowledge ({len(items)})</summary>"
                                  f"{'<div>Insights</div><ul>' + ins + '</ul>' if ins else ''}<ul>{rows}</ul></details>")
        self.say(f"Knowledge: {len(items)} items ({', '.join(sorted({i.source for i in items}))[:200]})")

    def show_plans(self, plans: list[Plan], metric: str = "metric", note: str = "") -> None:
        """Replace the cards with these plans (the row shows the current choice)."""
        cards = []
        for p in plans:
            card = PlanCard(p, metric, readonly=self.readonly)
            card.accept.on_click(lambda _b, pid=p.id: self._decide("accept", pid))
            card.reject.on_click(lambda _b, pid=p.id: self._decide("reject", pid))
            self.cards[p.id] = card
            cards.append(card)
        self.plans.children = cards
        self._set(self.plans_note, f"<div>{esc(note)}</div>" if note else "")
        if note:
            self.say(note)
        for p in plans:
            best = p.candidates[0] if p.candidates else None
            pred = f"{best.name} predicted {metric} {fmt(best.predicted_metric)}" if best else "no candidate"
            verdict = "n/a" if p.verdict is None else ("pass" if p.verdict.passed else "fail")
            self.say(f"Plan {p.id}: {p.title} | {pred} | execution verification: {verdict}")

    def update_plan(self, plan: Plan, metric: str = "metric") -> None:
        """Re-render a card whose plan changed (e.g. a repair dropped a candidate)."""
        if plan.id in self.cards:
            self.cards[plan.id].body.value = PlanCard.render(plan, metric)
            self.cards[plan.id].set_state(plan.state)

    def set_plan_state(self, plan_id: str, state: str) -> None:
        if plan_id in self.cards:
            self.cards[plan_id].set_state(state)

    def note(self, text: str) -> None:
        self._notes.append(text)
        self._set(self.notes, "".join(f"<div>{esc(n)}</div>" for n in self._notes))
        self.say(text)

    def show_attempt(self, a: Attempt) -> None:
        outcome = "<span class='automl-pass'>ok</span>" if a.ok else \
            f"<span class='automl-fail'>{esc(a.error_type)}</span>: {esc((a.error or '')[:200])}"
        self._attempts.append([esc(a.plan_id), esc(a.stage), str(a.attempt), outcome, fmt(a.seconds, 3),
                               esc(a.repair or "")])
        self._set(self.attempts, "<div><b>Implementation</b> (each generated cell, each attempt)</div>" + table(
            ["plan", "stage", "attempt", "outcome", "s", "repair"], self._attempts, "automl-attempt-table"))
        line = f"  cell {a.stage} attempt {a.attempt}: " + ("ok" if a.ok else f"{a.error_type}: {(a.error or '')[:120]}")
        self.say(line + (f" -> repair: {a.repair}" if a.repair else ""))

    def show_code(self, stage: str, title: str, source: str, output: str = "", ok: bool = True) -> None:
        """Fallback mode: the code each stage ran, collapsible, with its printed output."""
        mark = "" if ok else " <span class='automl-fail'>(failed)</span>"
        out = f"<div>output</div><pre>{esc(output)}</pre>" if output.strip() else ""
        self._code.append(f"<details class='automl-stage-code'><summary>{esc(stage)}: {esc(title)}{mark}</summary>"
                          f"<pre>{esc(source)}</pre>{out}</details>")
        self._set(self.code, "<div><b>Code run in this kernel</b></div>" + "".join(self._code))

    def show_verification(self, verdict: Verdict, metric: str | None = None) -> None:
        rows = [[esc(c.name), esc(c.kind), fmt(c.target), fmt(c.value), esc(c.unit), verdict_badge(c.passed)]
                for c in verdict.checks]
        reasons = "".join(f"<li>{esc(r)}</li>" for r in verdict.reasons)
        state = "automl-pass" if verdict.passed else "automl-fail"
        self._set(self.verification, f"<div class='automl-final {state}'>Implementation verification: "
                                     f"{'PASS' if verdict.passed else 'FAIL'}</div>"
                  + table(["requirement", "kind", "target", "measured", "unit", "result"], rows)
                  + f"<ul>{reasons}</ul>"
                  + (f"<div class='automl-muted'>{esc(verdict.brain_opinion)}</div>" if verdict.brain_opinion else ""))
        self.say(f"Implementation verification: {'PASS' if verdict.passed else 'FAIL'}")
        for c in verdict.checks:
            self.say(f"  {c.name}: target {fmt(c.target)} measured {fmt(c.value)} {c.unit} -> "
                     f"{'pass' if c.passed else 'n/a' if c.passed is None else 'FAIL'}")

    def show_artifacts(self, artifacts: dict[str, str], run_dir: str | None = None) -> None:
        rows = [[esc(k), f"<code>{esc(v)}</code>"] for k, v in artifacts.items()]
        how = ""
        if "model" in artifacts and run_dir:
            how = ("<div>Predict with the saved model:</div><pre>"
                   + esc(f"from automl_agent_jupyter import Run\nrun = Run.load({run_dir!r})\n"
                         f"run.predict(rows)   # a DataFrame, a list of dicts or one dict\n\n"
                         f"# or from a shell:  python {artifacts.get('predict', 'predict.py')} new_rows.csv")
                   + "</pre>")
        self._set(self.artifacts, "<div><b>Artifacts</b></div>" + table(["artifact", "path"], rows) + how)
        for k, v in artifacts.items():
            self.say(f"  {k}: {v}")

    def show_timings(self, timings: dict[str, float], llm_usage: dict[str, Any] | None = None) -> None:
        rows = [[esc(k), fmt(v, 3)] for k, v in timings.items()]
        usage = ""
        if llm_usage:
            urows = [[esc(role), str(u.get("calls", 0)), str(u.get("tokens", 0)), fmt(u.get("cost_usd", 0.0), 3)]
                     for role, u in llm_usage.items()]
            usage = "<div>LLM usage</div>" + table(["role", "calls", "tokens", "cost $"], urows)
        self._set(self.timings, "<details open><summary>Time per stage (s)</summary>"
                                + table(["stage", "seconds"], rows) + usage + "</details>")
        if "total" in timings:
            self.say(f"Total time: {fmt(timings['total'], 3)} s")

    def show_progress(self, state: dict[str, Any]) -> None:
        """Live progress of a running generated cell: stage, candidate k of n, trial k of n (or epoch), time used
        of the budget, best validation score so far. Called from inside the running cell (comm messages to the
        frontend are sent at once; nothing waits for an answer)."""
        self._live_state = dict(state)
        parts = [str(state.get("stage", "train"))]
        if state.get("candidate"):
            k, n = state.get("candidate_index"), state.get("n_candidates")
            parts.append(f"candidate {state['candidate']}" + (f" ({k} of {n})" if k and n else ""))
        if state.get("trial"):
            n = state.get("n_trials")
            parts.append(f"trial {state['trial']}" + (f" of {n}" if n else ""))
        if state.get("epoch") is not None:
            parts.append(f"epoch {fmt(float(state['epoch']), 3)}")
        used, budget = state.get("elapsed_s"), state.get("budget_s")
        if used is not None:
            parts.append(f"{used:.0f} s" + (f" of {budget:.0f} s budget" if budget else ""))
        if state.get("best") is not None:
            parts.append(f"best validation {state.get('metric', '')} {fmt(float(state['best']))}".replace("  ", " "))
        self.live_text = " · ".join(parts)
        share = min(1.0, used / budget) if used is not None and budget else None
        bar = (f"<div class='automl-bar'><div style='width:{100 * share:.0f}%'></div></div>"
               if share is not None else "")
        done = state.get("stage") == "done"
        self._set(self.live, f"<div class='automl-live'>{'' if done else 'Running: '}{esc(self.live_text)}{bar}</div>")

    def end_progress(self) -> None:
        """The run is over: the last progress line stays, marked done."""
        if self._live_state:
            self.show_progress({**self._live_state, "stage": "done"})

    def show_leaderboard(self, rows: list[dict[str, Any]], higher_is_better: bool = True) -> None:
        """Every candidate trained (``leaderboard.as_records``), sortable by any column."""
        self.board_rows = list(rows)
        if not rows:
            self.board.layout.display = "none"
            return
        columns = [c for c in rows[0] if c not in ("plan_title", "metric")]
        self.board_rows = []  # no re-render while the controls are set
        self.board_sort.options = columns
        self.board_sort.value = "valid_score"
        self.board_order.value = "descending" if higher_is_better else "ascending"
        self.board_rows = list(rows)
        self._render_board()
        self.board.layout.display = ""
        kept = next((r for r in rows if r.get("kept")), None)
        self.say(f"Leaderboard: {len(rows)} candidates trained" + (
            f"; kept {kept['model']} (plan {kept['plan_id']}, validation {kept['metric']} "
            f"{fmt(kept['valid_score'])})" if kept else ""))

    def _render_board(self) -> None:
        key, rows = self.board_sort.value, self.board_rows
        if not rows or key is None:
            return
        present = [r for r in rows if r.get(key) is not None]
        absent = [r for r in rows if r.get(key) is None]
        try:
            present.sort(key=lambda r: r[key], reverse=self.board_order.value == "descending")
        except TypeError:  # mixed types: as text
            present.sort(key=lambda r: str(r[key]), reverse=self.board_order.value == "descending")
        columns = list(self.board_sort.options)
        metric = rows[0].get("metric", "")
        labels = {"plan_id": "plan", "valid_score": f"valid {metric}", "fit_seconds": "fit s",
                  "predicted_metric": f"pred. {metric}", "predicted_latency_ms": "pred. latency ms",
                  "latency_ms": "latency ms", "predicted_size_mb": "pred. size MB", "size_mb": "size MB"}
        arrow = " ▾" if self.board_order.value == "descending" else " ▴"
        head = "".join(f"<th>{esc(labels.get(c, c))}{arrow if c == key else ''}</th>" for c in columns)
        body = "".join(
            f"<tr class='{'automl-kept' if r.get('kept') else ''}'>" + "".join(
                f"<td>{'✔' if c == 'kept' and r[c] else '' if c == 'kept' else esc(fmt(r.get(c)))}</td>"
                for c in columns) + "</tr>" for r in present + absent)
        self.board_table.value = f"<table class='automl-board'><tr>{head}</tr>{body}</table>"

    def show_summary(self, record: RunRecord, run_dir: str | None = None) -> None:
        """The answer first: verdict, the test metric against its target, the main plot, how to use the model."""
        v, pm = record.verification, record.primary_metric or {}
        passed = bool(v and v.passed)
        answer = ("✓ All requirements met" if passed else "✗ Requirements not met") if v else esc(record.status)
        checks = []
        for c in (v.checks if v else []):
            arrow = "≥" if c.higher_is_better else "≤"
            target = f" (target {arrow} {fmt(c.target)}{' ' + esc(c.unit) if c.unit else ''})" if c.target is not None \
                else ""
            checks.append(f"{esc(c.name)} <b>{fmt(c.value)}</b>{' ' + esc(c.unit) if c.unit else ''}{target} "
                          f"{verdict_badge(c.passed) if c.target is not None else ''}")
        if not checks and pm.get("value") is not None:
            checks.append(f"{esc(pm['name'])} <b>{fmt(pm['value'])}</b>")
        metric_line = (f"<div>Test split: {' · '.join(checks)}</div>" if checks else "")
        plot = ""
        main = self._main_plot(record)
        if main:
            plot = f"<div><img class='automl-main-plot' src='data:image/png;base64,{main}'/></div>"
        run_dir = run_dir or (str(Path(record.artifacts["record"]).parent) if "record" in record.artifacts else None)
        use = ""
        if run_dir and "predict" in record.artifacts:
            use = ("<div><b>Use the model</b></div><pre>" + esc(
                f"from automl_agent_jupyter import Run\nrun = Run.load({run_dir!r})\nrun.predict(rows)\n"
                f"run.leaderboard()   # every candidate trained\n\n"
                f"# shell:  python {Path(run_dir) / 'predict.py'} new_rows.csv\n"
                + (f"# serve:  uvicorn serve:app --app-dir {run_dir} --port 8000   (POST /predict)"
                   if "serve" in record.artifacts else "")) + "</pre>")
        self._set(self.summary, f"<div class='automl-summary'><div class='automl-answer "
                                f"{'automl-pass' if passed else 'automl-fail'}'>{answer}</div>"
                                f"<div class='automl-muted'>{esc(record.message)}</div>{metric_line}{plot}{use}"
                                "<div class='automl-muted'>Details below: leaderboard, plots, plans, attempts, "
                                "timings.</div></div>")
        self.say(f"Answer: {'PASS' if passed else 'FAIL'} — " + "; ".join(
            f"{c.name} {fmt(c.value)}" + (f" (target {fmt(c.target)})" if c.target is not None else "")
            for c in (v.checks if v else [])))
        if run_dir and "predict" in record.artifacts:
            self.say(f"Use: Run.load({run_dir!r}).predict(rows); serve: uvicorn serve:app --app-dir {run_dir}")

    @staticmethod
    def _main_plot(record: RunRecord) -> str:
        """The main plot's PNG as base64 (the first plot the run listed when it names none), or ''."""
        plots = [v for k, v in record.artifacts.items() if k.startswith("plot:")]
        path = record.artifacts.get("main_plot") or (plots[0] if plots else None)
        if not path:
            return ""
        try:
            return base64.b64encode(Path(path).read_bytes()).decode()
        except OSError:
            return ""

    def show_plots(self, artifacts: dict[str, str]) -> None:
        """Every plot of the run, collapsed (the main one leads the summary)."""
        imgs = []
        for k, v in artifacts.items():
            if k.startswith("plot:"):
                try:
                    data = base64.b64encode(Path(v).read_bytes()).decode()
                except OSError:
                    continue
                imgs.append(f"<img class='automl-plot automl-plot-{esc(k[5:])}' title='{esc(k[5:])}' "
                            f"src='data:image/png;base64,{data}'/>")
        self._set(self.gallery, f"<details><summary>Plots ({len(imgs)})</summary>{''.join(imgs)}</details>"
                  if imgs else "")

    # ------------------------------------------------------------------ a saved run
    @classmethod
    def from_record(cls, record: RunRecord, echo: bool = False, metric: str | None = None) -> RunView:
        """A read-only view of a finished run (``%automl show RUN``)."""
        view = cls(f"AutoML-Agent · run {record.run_id}", echo=echo, readonly=True)
        view.say(f"Run {record.run_id}: {record.status} — {record.message}")
        for stage, seconds in record.timings.items():
            if not stage.startswith("cell:") and stage not in ("total", "agent_stages", "implementation"):
                view.show_stage(stage, "done", seconds)
        if record.status in ("needs_clarification", "not_ml", "failed", "interrupted", "abandoned"):
            view.show_outcome(record.status, record.message, record.questions)
        if record.requirements is not None:
            view.show_requirements(record.requirements.model_dump(mode="json"))
        if record.knowledge:
            view.show_knowledge(record.knowledge)
        metric = metric or (record.primary_metric or {}).get("name") or "metric"
        if record.plans:
            view.show_plans(record.plans, metric)
        for a in record.attempts:
            view.show_attempt(a)
        if record.verification is not None:
            view.show_verification(record.verification)
            view.show_summary(record)
        if record.leaderboard:
            from ..leaderboard import as_records

            view.show_leaderboard(as_records(record.leaderboard), (record.primary_metric or {}).get(
                "higher_is_better", True))
        if record.artifacts:
            view.show_plots(record.artifacts)
            run_dir = str(Path(record.artifacts["record"]).parent) if "record" in record.artifacts else None
            view.show_artifacts(record.artifacts, run_dir)
        if record.timings:
            view.show_timings(record.timings, {k: v.model_dump() for k, v in record.llm_usage.items()})
        return view


__all__ = ["PlanCard", "RequirementsForm", "RunView", "json_tree"]
