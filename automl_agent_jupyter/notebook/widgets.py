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

import html
import json
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
.automl-outcome { padding: 6px 10px; background: #fff8e1; border: 1px solid #ffb300; border-radius: 4px; }
.automl-run pre { font-size: 11px; max-height: 360px; overflow: auto; background: #f7f7f7; padding: 4px; }
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
        self.mode = _section("automl-mode")
        self.progress = _section("automl-progress")
        self.outcome = _section("automl-outcome-box")
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
        super().__init__([self.header, self.mode, self.progress, self.outcome, self.requirements, self.knowledge,
                          self.plans_note, self.plans, self.notes, self.attempts, self.code, self.verification,
                          self.artifacts, self.timings, self.output])
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
        title = {"needs_clarification": "I need a little more before I can build this",
                 "not_ml": "This is not a machine-learning task I can build",
                 "failed": "The run stopped"}.get(status, status)
        qs = "".join(f"<li>{esc(q)}</li>" for q in questions or [])
        hint = ("<div class='automl-muted'>Answer by editing the instruction (or the options) and rerunning the "
                "cell.</div>" if status in ("needs_clarification", "not_ml") else "")
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

    # ------------------------------------------------------------------ a saved run
    @classmethod
    def from_record(cls, record: RunRecord, echo: bool = False, metric: str | None = None) -> RunView:
        """A read-only view of a finished run (``%automl show RUN``)."""
        view = cls(f"AutoML-Agent · run {record.run_id}", echo=echo, readonly=True)
        view.say(f"Run {record.run_id}: {record.status} — {record.message}")
        for stage, seconds in record.timings.items():
            if not stage.startswith("cell:") and stage not in ("total", "agent_stages", "implementation"):
                view.show_stage(stage, "done", seconds)
        if record.status in ("needs_clarification", "not_ml", "failed"):
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
        if record.artifacts:
            run_dir = str(Path(record.artifacts["record"]).parent) if "record" in record.artifacts else None
            view.show_artifacts(record.artifacts, run_dir)
        if record.timings:
            view.show_timings(record.timings, {k: v.model_dump() for k, v in record.llm_usage.items()})
        return view


__all__ = ["PlanCard", "RunView", "json_tree"]
