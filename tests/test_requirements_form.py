"""Asking with choices: the requirements form (questions first, best guess preselected), the answers it hands
back, the requirements they make (marked as set by the user), the CLI's question with the exact flag and the
Python API's questions with options. Real data; widgets without a kernel (a recording comm)."""
from __future__ import annotations

import comm
import pytest
from comm.base_comm import BaseComm
from shared_data import dataset

from automl_agent_jupyter.agents.prompt import apply_answers
from automl_agent_jupyter.brains.offline import parser
from automl_agent_jupyter.notebook.widgets import RunView
from automl_agent_jupyter.tasks import peek_data


class RecordingComm(BaseComm):
    def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
        pass


@pytest.fixture(autouse=True)
def recording_comm(monkeypatch):
    monkeypatch.setattr(comm, "create_comm", lambda **kw: RecordingComm(**kw))


@pytest.fixture
def banana():
    return dataset("banana_quality/banana_quality.csv")


def _columns(peek):
    return [parser._column_option(c, peek) for c in peek["columns"]]


def test_unsure_target_becomes_a_dropdown_with_the_best_guess(banana):
    peek = peek_data(banana)
    u = parser.understand("Build me a model on this data", peek, banana)
    assert u.status == "needs_clarification"
    q = u.questions[0]
    assert q.field == "target" and q.guess == "Quality" and q.flag == "--target Quality"
    assert q.options[0] == {"value": "Quality", "label": "Quality (Good, Bad)", "sample": ["Good", "Bad"]}
    view = RunView()
    form = view.show_form(u.requirements.model_dump(mode="json"), _columns(peek),
                          [x.model_dump() for x in u.questions])
    assert form.target.value == "Quality" and form.button.description == "Continue"
    assert ("Quality (Good, Bad)", "Quality") in form.target.options
    assert "automl-asked" in form.target._dom_classes
    got = []
    view.on_revise(got.append)
    form.target.value = "Ripeness"
    form.button.click()
    assert got == [{"target": "Ripeness"}]  # asked about: answered; nothing else changed


def test_form_edits_are_answers_and_bad_numbers_show_in_the_widget(banana):
    peek = peek_data(banana)
    req = parser.parse("Classify banana quality as Good or Bad with F1 of at least 0.95, training under a minute",
                       peek, banana)
    view = RunView()
    form = view.show_form(req.model_dump(mode="json"), _columns(peek))
    assert form.button.description == "Re-plan" and form.threshold.value == "0.95" and form.metric.value == "f1"
    assert form.limits["training_time"].value == "60"
    got = []
    view.on_revise(got.append)
    form.threshold.value = "99.9%"
    form.limits["inference_latency"].value = "5"
    form.button.click()
    assert got == [{"metric": {"name": "f1", "value": 0.999}, "limits": {"inference_latency": 5.0}}]
    form.threshold.value = "lots"
    form.button.click()
    assert len(got) == 1
    assert "threshold: 'lots' is not a number" in view.output.outputs[-1]["text"]


def test_answers_are_recorded_as_set_by_the_user(banana):
    peek = peek_data(banana)
    req = parser.parse("Build me a model on this data", peek, banana)
    assert req.field_sources["target"].source == "agent" and req.field_sources["target"].confidence < 0.5
    new = apply_answers(req, {"target": "Quality", "task": "tabular_classification",
                              "metric": {"name": "f1", "value": 0.9}, "limits": {"inference_latency": 5.0},
                              "models": ["lightgbm"]})
    assert new.target == "Quality" and new.task == "tabular_classification"
    assert [(m.name, m.value) for m in new.problem.performance_metrics] == [("f1", 0.9)]
    assert [(c.name, c.value, c.unit) for c in new.problem.complexity_metrics] == [("inference_latency", 5.0, "ms")]
    assert [m.name for m in new.model] == ["lightgbm"] and new.model[0].family == "gradient_boosting"
    assert {k for k, f in new.field_sources.items() if f.source == "user"} == \
        {"target", "task", "metric", "limits", "models"}
    assert parser.questions_for(new, peek) == []
    assert req.target is None or req.field_sources["target"].source == "agent"  # the original is untouched


def test_cli_prints_the_question_with_the_best_guess_and_the_flag(banana, tmp_path, capsys):
    from automl_agent_jupyter.cli import main

    assert main(["run", "Separate these into two kinds", "--data", banana, "--out", str(tmp_path / "r"),
                 "--plan-only", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "status: needs_clarification" in out
    assert "best guess: Quality  (to accept it, run again with --target Quality)" in out
    assert "Quality (Good, Bad)" in out


def test_python_api_returns_the_questions_with_options(banana, tmp_path):
    from automl_agent_jupyter import AutoMLAgent

    run = AutoMLAgent().run("make a model", data=banana, out=tmp_path / "r", auto=False)
    assert run.status == "needs_clarification"
    q = run.questions[0]
    assert q.field == "target" and q.guess == "Quality" and len(q.options) == 8
    assert run.record.requirements.field_sources["target"].source == "agent"


def test_continue_replans_from_the_corrected_requirements_without_rerunning(banana, tmp_path):
    """The session behind a %%automl cell: an unsure target is asked with the best guess; Continue plans;
    then editing the threshold in the form re-plans and the verdicts follow the new threshold."""
    from automl_agent_jupyter.config import Settings
    from automl_agent_jupyter.notebook.session import Session

    view = RunView()
    session = Session(None, Settings(budget_s=1, n_plans=2, top_k=1, runs_dir=str(tmp_path)), view)
    rec = session.start("Separate these into two kinds", banana)
    assert rec.status == "needs_clarification" and view.plans.children == ()
    form = view.form.children[-1]
    assert form.target.value == "Quality" and form.button.description == "Continue"
    form.button.click()  # accept the best guess
    rec = session.record
    assert rec.status == "planned" and len(view.plans.children) == 2, view.text()
    assert rec.requirements.field_sources["target"].source == "user"
    assert rec.requirements.field_sources["task"].source == "agent"
    assert all(p.verdict.passed for p in rec.plans)  # no threshold yet
    form = view.form.children[-1]
    assert form.button.description == "Re-plan"
    form.metric.value, form.threshold.value = "accuracy", "0.9999"
    form.button.click()
    rec2 = session.record
    assert rec2.run_id != rec.run_id and rec2.status == "planned"
    assert [(m.name, m.value) for m in rec2.requirements.problem.performance_metrics] == [("accuracy", 0.9999)]
    assert not any(p.verdict.passed for p in rec2.plans)  # no plan is predicted to reach 0.9999
    assert rec2.requirements.field_sources["metric"].source == "user"
    assert not view.output.outputs  # no callback error
