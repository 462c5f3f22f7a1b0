"""The run widgets without a kernel: a recording comm, buttons clicked from Python, state asserted."""
from __future__ import annotations

import comm
import pytest
from comm.base_comm import BaseComm

from automl_agent_jupyter.notebook.widgets import PlanCard, RunView, json_tree
from automl_agent_jupyter.schema import (
    Attempt,
    Candidate,
    Check,
    KnowledgeItem,
    Plan,
    RunRecord,
    Step,
    Verdict,
)


class RecordingComm(BaseComm):
    """Keeps every message a widget would send to the frontend."""

    def __init__(self, **kwargs):
        self.messages: list[tuple[str, dict]] = []
        super().__init__(**kwargs)

    def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
        self.messages.append((msg_type, data or {}))


@pytest.fixture(autouse=True)
def recording_comm(monkeypatch):
    comms: list[RecordingComm] = []

    def create(**kwargs):
        c = RecordingComm(**kwargs)
        comms.append(c)
        return c

    monkeypatch.setattr(comm, "create_comm", create)
    return comms


def sent(comms, widget) -> list[dict]:
    """State updates the widget sent over its comm (what the browser would have received)."""
    c = widget.comm
    return [d.get("state", {}) for t, d in c.messages if d.get("method") in ("update", None) and "state" in d]


def plan(pid: str, passed: bool = True) -> Plan:
    return Plan(id=pid, title=f"Plan {pid} title", strategy="trees on raw features",
                steps=[Step(agent="data", text="impute medians"), Step(agent="model", text="tune with TPE")],
                candidates=[Candidate(name="lightgbm", predicted_metric=0.97, predicted_train_s=1.5,
                                      predicted_latency_ms=0.8, predicted_size_mb=1.2, basis="probe on 600 rows"),
                            Candidate(name="random_forest", predicted_metric=0.95)],
                verdict=Verdict(passed=passed, score=0.97, reasons=["f1 predicted 0.97 >= target 0.95"]))


def test_plan_cards_side_by_side_with_everything_a_user_compares():
    view = RunView()
    view.show_plans([plan("P1"), plan("P2", passed=False)], metric="f1", note="2 plans")
    assert [c.plan_id for c in view.plans.children] == ["P1", "P2"]
    assert view.plans.layout.flex_flow == "row wrap"
    body = view.cards["P1"].body.value
    for text in ("Plan P1 title", "impute medians", "tune with TPE", "lightgbm", "0.97", "1.5", "0.8", "1.2",
                 "pred. f1", "Top-2 candidates", "Execution verification", "f1 predicted 0.97 &gt;= target 0.95",
                 "probe on 600 rows"):
        assert text in body, text
    assert "automl-fail" in view.cards["P2"].body.value
    assert "Plan P1" in view.text() and "execution verification: fail" in view.text()


def test_accept_and_reject_clicks_emit_decisions_and_states_render(recording_comm):
    view = RunView()
    decisions = []
    view.on_decision(lambda action, pid: decisions.append((action, pid)))
    view.show_plans([plan("P1"), plan("P2"), plan("P3")])
    view.cards["P2"].reject.click()
    view.cards["P1"].accept.click()
    assert decisions == [("reject", "P2"), ("accept", "P1")]

    view.set_plan_state("P2", "rejected")
    card = view.cards["P2"]
    assert "automl-rejected" in card._dom_classes
    assert card.accept.disabled and card.reject.disabled
    assert card.reject.description == "Rejected"
    # the browser hears about it through the widget's comm
    assert any("automl-rejected" in s.get("_dom_classes", ()) for s in sent(recording_comm, card))
    assert any(s.get("disabled") is True for s in sent(recording_comm, card.accept))

    view.set_plan_state("P1", "selected")
    view.set_plan_state("P3", "locked")
    assert view.cards["P1"].accept.description == "Accepted" and view.cards["P1"].accept.disabled
    assert view.cards["P3"].accept.disabled
    view.set_plan_state("P3", "proposed")
    assert not view.cards["P3"].accept.disabled and "automl-locked" not in view.cards["P3"]._dom_classes


def test_an_error_in_a_callback_is_shown_in_the_widget_output_not_raised():
    view = RunView()

    def broken(action, pid):
        raise RuntimeError(f"cannot {action} {pid}")

    view.on_decision(broken)
    view.show_plans([plan("P1")])
    view.cards["P1"].accept.click()  # must not raise
    streams = [o for o in view.output.outputs if o["output_type"] == "stream"]
    assert streams and streams[0]["name"] == "stderr"
    text = "".join(o["text"] for o in streams)
    assert "accept P1 failed: RuntimeError: cannot accept P1" in text
    assert "Traceback" in text  # the details are there for a bug report


def test_guard_keeps_the_error_in_the_view():
    view = RunView()
    with view.guard("run complete"):
        {}["missing"]
    assert "run complete failed: KeyError" in view.output.outputs[0]["text"]


def test_sections_render_typed_state_and_keep_a_text_form(capsys):
    view = RunView(echo=True)
    view.show_mode("in-kernel", "no frontend extension answered")
    view.show_stage("parsing", "start")
    assert "… parsing" in view.progress.value and view.progress.layout.display == ""
    view.show_stage("parsing", "done", 0.25)
    assert "✓ parsing" in view.progress.value and "0.25 s" in view.progress.value
    view.show_requirements({"problem": {"downstream_task": "tabular_classification",
                                        "performance_metrics": [{"name": "f1", "value": 0.95}]}})
    assert view.requirements.value.count("<details") >= 3 and "tabular_classification" in view.requirements.value
    view.show_knowledge([KnowledgeItem(id="k1", title="LightGBM", text="fast trees", source="https://x.org/lgbm")])
    assert "https://x.org/lgbm" in view.knowledge.value and "Retrieved knowledge (1)" in view.knowledge.value
    view.show_attempt(Attempt(plan_id="P1", stage="train", attempt=1, ok=False, error_type="ModuleNotFoundError",
                              error="No module named 'lightgbm'", repair="dropping the lightgbm candidate"))
    view.show_attempt(Attempt(plan_id="P1", stage="train", attempt=2, ok=True, seconds=3.0))
    assert view.attempts.value.count("<tr>") == 3 and "dropping the lightgbm candidate" in view.attempts.value
    view.show_code("train", "Train", "fit()", "valid f1 0.98")
    assert "<details" in view.code.value and "fit()" in view.code.value and "valid f1 0.98" in view.code.value
    verdict = Verdict(passed=True, checks=[Check(name="f1", kind="performance", target=0.95, value=0.978, passed=True),
                                           Check(name="inference_latency", kind="complexity", target=5, value=1.2,
                                                 unit="ms", passed=True)], reasons=["f1 0.978 >= 0.95"])
    view.show_verification(verdict)
    assert "automl-final automl-pass" in view.verification.value and "0.978" in view.verification.value
    view.show_artifacts({"model": "/r/model.joblib", "predict": "/r/predict.py"}, "/r")
    assert "Run.load(&#x27;/r&#x27;)" in view.artifacts.value
    view.show_timings({"parsing": 0.25, "cell:train": 3.0, "total": 9.0},
                      {"plan": {"calls": 2, "tokens": 1234, "cost_usd": 0.01}})
    assert "cell:train" in view.timings.value and "1234" in view.timings.value
    out = capsys.readouterr().out
    assert "Mode: in-kernel" in out and "Implementation verification: PASS" in out and "Total time: 9 s" in out
    assert view._repr_mimebundle_()["text/plain"] == view.text()


def test_outcome_shows_the_questions():
    view = RunView()
    view.show_outcome("needs_clarification", "Some essentials are missing.", ["Which column should be predicted?"])
    assert "Which column should be predicted?" in view.outcome.value
    assert "press Continue" in view.outcome.value and "rerun the cell" in view.outcome.value
    assert view.plans.children == ()


def test_json_tree_is_collapsible_and_escaped():
    html = json_tree({"a": {"b": [1, "<x>"]}, "empty": {}})
    assert html.startswith("<details open>") and "&lt;x&gt;" in html and "<x>" not in html
    assert html.count("<details") == 3


def test_readonly_view_of_a_saved_record_has_no_buttons():
    rec = RunRecord(run_id="r1", created="now", status="succeeded", message="ok", plans=[plan("P1")],
                    verification=Verdict(passed=True), timings={"parsing": 0.1},
                    artifacts={"model": "/r/model.joblib", "record": "/r/run.json"})
    view = RunView.from_record(rec)
    card = view.cards["P1"]
    assert isinstance(card, PlanCard) and card.children[1].children == ()
    assert "Run.load(&#x27;/r&#x27;)" in view.artifacts.value and "PASS" in view.verification.value


def _finished_record(tmp_path) -> RunRecord:
    from matplotlib.figure import Figure

    from automl_agent_jupyter.schema import LeaderboardRow

    fig = Figure(figsize=(2, 2))
    fig.add_subplot().plot([0, 1], [0, 1])
    main = tmp_path / "plots" / "confusion_matrix.png"
    main.parent.mkdir()
    fig.savefig(main)
    rows = [LeaderboardRow(plan_id="P1", model="lightgbm", valid_score=0.97, metric="f1", fit_seconds=2.0,
                           params={"num_leaves": 31}, kept=True, latency_ms=0.4, predicted_latency_ms=0.5),
            LeaderboardRow(plan_id="P1", model="random_forest", valid_score=0.95, metric="f1", fit_seconds=4.0),
            LeaderboardRow(plan_id="P2", model="svm_rbf", valid_score=None, metric="f1")]
    verdict = Verdict(passed=True, score=0.98, checks=[Check(name="f1", kind="performance", target=0.95, value=0.978,
                                                             passed=True)], reasons=["f1 0.978 >= 0.95"])
    return RunRecord(run_id="r1", created="now", status="succeeded", message="all requirements met", plans=[plan("P1")],
                     verification=verdict, leaderboard=rows, primary_metric={"name": "f1", "value": 0.978,
                                                                             "higher_is_better": True},
                     artifacts={"plot:confusion_matrix": str(main), "main_plot": str(main),
                                "predict": str(tmp_path / "predict.py"), "serve": str(tmp_path / "serve.py"),
                                "record": str(tmp_path / "run.json")})


def test_the_final_panel_leads_with_the_answer_and_the_main_plot(tmp_path):
    view = RunView.from_record(_finished_record(tmp_path))
    children = list(view.children)
    assert children.index(view.summary) < children.index(view.board) < children.index(view.plans)
    html = view.summary.value
    assert "All requirements met" in html and "0.978" in html and "target ≥ 0.95" in html
    assert "data:image/png;base64," in html and "Run.load(" in html and "uvicorn serve:app --app-dir" in html
    assert "automl-plot-confusion_matrix" in view.gallery.value
    assert "Answer: PASS" in view.text()


def test_the_leaderboard_sorts_by_any_column(tmp_path):
    view = RunView.from_record(_finished_record(tmp_path))
    assert view.board.layout.display == ""

    def models() -> list[str]:
        cells = view.board_table.value.split("<tr")[2:]
        return [next(m for m in ("lightgbm", "random_forest", "svm_rbf") if m in row) for row in cells]

    assert models() == ["lightgbm", "random_forest", "svm_rbf"]  # best validation score first; none last
    assert "automl-kept" in view.board_table.value.split("<tr")[2]
    view.board_sort.value = "fit_seconds"
    assert models() == ["random_forest", "lightgbm", "svm_rbf"]
    view.board_order.value = "ascending"
    assert models() == ["lightgbm", "random_forest", "svm_rbf"]


def test_live_progress_renders_stage_candidate_trial_time_and_best():
    view = RunView()
    view.show_progress({"stage": "train", "candidate": "lightgbm", "candidate_index": 2, "n_candidates": 3,
                        "trial": 4, "n_trials": 10, "elapsed_s": 6.2, "budget_s": 30, "best": 0.9651, "metric": "f1"})
    assert view.live_text == ("train · candidate lightgbm (2 of 3) · trial 4 of 10 · 6 s of 30 s budget · "
                              "best validation f1 0.9651")
    assert "width:21%" in view.live.value and view.live.layout.display == ""
