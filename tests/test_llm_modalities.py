"""The LLM brain on the image, text, time-series and graph tasks: the real openai SDK against the local fake
server (tests/fake_llm_server.py, no LLM), scripted per task with the same context-following answers as
tests/test_llm_pipeline.py. Each run must plan from the context it was sent (the task's own model pool and
recipes), align a plan that pairs a recipe with models of another one, implement, and measure on the test
split. Small budgets: CI has 2 cores."""
from __future__ import annotations

from typing import Any

import pytest
from fake_llm_server import FakeLLMServer
from shared_data import dataset
from test_llm_pipeline import ScriptedLLM, agent, fake_key

from automl_agent_jupyter.knowledge import model_entry

pytest.importorskip("torch")


def _requirements(task: str, name: str, metric: str, target: str | None = None, **task_params: Any):
    def answer(ctx: dict[str, Any]) -> dict[str, Any]:
        return {"user": {"intent": "build", "expertise": "medium"},
                "problem": {"downstream_task": task, "application_domain": "test",
                            "performance_metrics": [{"name": metric}], "task_params": task_params},
                "dataset": [{"name": name, "target_variables": [target] if target else [], "path": ctx["data_path"]}]}
    return answer


def _plans(*plans: tuple[str, list[str]]):
    """The scripted plans: (recipe, models), kept to what the context offers, as an LLM told so would do."""
    def answer(ctx: dict[str, Any]) -> dict[str, Any]:
        assert set(ctx["recipes"]) and ctx["pool"]  # the task's own recipes and model pool were sent
        out = []
        for i, (recipe, models) in enumerate(plans[: ctx["n_plans"]]):
            out.append({"id": f"L{i + 1}", "title": f"fake LLM plan {i + 1}", "strategy": "fake",
                        "preprocessing": {"recipe": recipe}, "model_families": [m for m in models if m in ctx["pool"]]})
        return {"plans": out}
    return answer


CASES = {
    "mnist": ("Classify the handwritten digit images; report accuracy.", "mnist_test_images/mnist_test_10k.npz",
              _requirements("image_classification", "mnist", "accuracy"),
              _plans(("hog", ["hog_logreg"]), ("augmented", ["hog_svm", "cnn"])), "accuracy", 0.85),
    "etth1": ("Forecast the 7 variables 24 hours ahead from the last 96 hours; report MSE.",
              "etth1_timeseries/ETTh1.csv",
              _requirements("time_series_forecasting", "etth1", "mse", input_seq_len=96, pred_seq_len=24),
              _plans(("standard", ["nlinear", "dlinear"]), ("standard", ["ridge_forecast"])), "mse", None),
    "sms": ("Classify SMS messages as spam or ham; report accuracy.", "sms_spam/SMSSpamCollection.tsv",
            _requirements("text_classification", "sms", "accuracy", "Label"),
            # the second plan pairs word n-grams with a neural model of another recipe: aligned, not failed
            _plans(("char_tfidf", ["text_linear_svm"]), ("word_tfidf", ["text_embedding_bag", "text_logreg"])),
            "accuracy", 0.95),
    "cora": ("Classify the papers of the Cora citation graph into topics; report accuracy.", "cora",
             _requirements("node_classification", "cora", "accuracy"),
             _plans(("row_normalized", ["gcn", "sgc"]), ("row_normalized", ["graphsage"])), "accuracy", 0.7),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_llm_brain_runs_a_non_tabular_task(case, tmp_path, monkeypatch):
    instruction, rel, parse, plan, metric, floor = CASES[case]
    monkeypatch.setenv("OPENAI_API_KEY", fake_key())
    script = ScriptedLLM(parse_requirements=parse, plan=plan)
    with FakeLLMServer(script) as server:
        run = agent(server.base_url, tmp_path, n_plans=2).run(instruction, data=dataset(rel), out=tmp_path / "run")
    rec = run.record
    assert rec.status == "succeeded", rec.message
    assert rec.brain == "openai:fake-model" and rec.llm_usage["plan"].calls == 1
    assert rec.primary_metric["name"] == metric
    if floor is not None:
        assert rec.primary_metric["value"] >= floor
    else:  # an error: normalised MSE of a linear forecaster on ETTh1, 96 -> 24 steps (published about 0.36)
        assert 0.0 < rec.primary_metric["value"] < 0.6
        assert rec.data_report.extra["input_seq_len"] == 96 and rec.data_report.extra["pred_seq_len"] == 24
    for p in rec.plans:  # every plan's models take its recipe
        assert p.model_families, p
        assert all(p.preprocessing["recipe"] in (model_entry(m).get("recipes") or [model_entry(m)["preprocessing"]])
                   for m in p.model_families), p
        assert all(c.predicted_metric is not None for c in p.candidates), p.candidates
    if case in ("sms", "mnist"):  # the mixed plan keeps only the models of its recipe
        mixed = next(p for p in rec.plans if p.title == "fake LLM plan 2")
        assert mixed.model_families == {"sms": ["text_logreg"], "mnist": ["cnn"]}[case], mixed
    assert "setup reviewed by the fake LLM" in (tmp_path / "run" / "pipeline.py").read_text()  # the LLM's edit
