"""--race: the top plans trained side by side in processes of their own on this machine (no cluster), the
best on validation kept and alone scored on the test split; the setting on every surface; the resources a
lane's Ray actor asks for. Real data: a 2,000-row banana_quality sample, and the MNIST images for a torch plan.
(The race on a real Ray cluster: tests/test_ray_cluster.py.)"""
from __future__ import annotations

import pandas as pd
import pytest
from shared_data import banana_sample, dataset

from automl_agent_jupyter import AutoMLAgent
from automl_agent_jupyter.cli import _parser
from automl_agent_jupyter.config import Settings
from automl_agent_jupyter.race import lane_resources


@pytest.fixture(scope="module")
def bananas(tmp_path_factory):
    return banana_sample(tmp_path_factory.mktemp("race"), rows=2000)


def test_a_race_keeps_the_best_plan_on_validation_and_tests_it_alone(bananas, tmp_path):
    events = []
    run = AutoMLAgent(budget_s=20, n_plans=3, top_k=2, race=True, on_event=lambda *e: events.append(e)).run(
        "Classify banana quality as Good or Bad", data=str(bananas), out=tmp_path / "run")
    rec = run.record
    assert run.status == "succeeded", run.message
    race = rec.race
    assert race["where"] == "local processes" and len(race["plans"]) == 3 and race["lanes_at_once"] == 3
    scores = {r["plan"]: r["valid"]["f1"] for r in race["plans"] if r["valid"]}
    assert len(scores) >= 2  # at least two plans trained side by side
    assert race["winner"] == max(scores, key=scores.get) == rec.selected_plan  # best on validation (all pass here)
    # every lane was recorded as trained with its validation numbers; only the winner's test split was scored
    assert {t["plan"]: t["test_scored"] for t in rec.trained} == {p: p == race["winner"] for p in scores}
    assert rec.metrics["test"]["f1"] > 0.8 and rec.primary_metric["split"] == "test"
    assert any(r["plan"] == race["winner"] and r["status"] == "winner" for r in race["plans"])
    assert any(n.startswith("race of plans") for n in rec.notes)
    assert [e[1] for e in events if e[0] == "race"] == ["start", "done"]  # what the widget and the CLI show
    assert run.predict(pd.read_csv(bananas).drop(columns=["Quality"]).head(3))  # the winner's saved model


def test_race_is_a_setting_of_every_surface(monkeypatch):
    assert Settings().race is False
    assert _parser().parse_args(["run", "x", "--race"]).race is True
    assert _parser().parse_args(["run", "x"]).race is None  # not given: the setting's default
    monkeypatch.setenv("AUTOML_AGENT_RACE", "1")
    assert Settings().race is True
    from IPython.core.magic_arguments import parse_argstring

    from automl_agent_jupyter.notebook.magic import AutoMLMagics

    assert parse_argstring(AutoMLMagics.automl, "--race --budget 5").race is True
    assert "race" in AutoMLMagics.class_trait_names(config=True)


def test_a_lane_asks_for_a_gpu_only_for_a_torch_plan(bananas, tmp_path):
    pytest.importorskip("torch")
    for data, instruction in ((dataset("mnist_test_images/mnist_test_10k.npz"), "Classify the handwritten digits"),
                              (str(bananas), "Classify banana quality as Good or Bad")):
        run = AutoMLAgent(probe=False, budget_s=60).run(instruction, data=data, out=tmp_path / data[-8:], auto=False)
        m = run.manager
        wants = {}
        for plan in m.planning.plans:
            cells = m.operation_agent.write(plan, m.planning.requirements, m.planning.report, m.log.cell_settings())
            torch_plan = "import torch" in cells[0].source  # the setup cell: seeds and the device
            wants[plan.id] = torch_plan
            assert lane_resources(cells) == {"num_cpus": 1, "num_gpus": 1 if torch_plan else 0}
        assert any(wants.values()) if data.endswith(".npz") else not any(wants.values()), wants


def test_a_plan_chooses_the_same_models_raced_as_run_one_after_another(tmp_path):
    """The lanes' trials are fixed up front from the cost model (race_effort reference CPU seconds), so running
    them side by side on shared cores, or one after another, chooses the same models with the same validation
    scores; the generous budget only caps (nothing was cut, checked)."""
    from automl_agent_jupyter.manager import Manager
    from automl_agent_jupyter.race import race_plans

    data = banana_sample(tmp_path, rows=1000)
    got = {}
    for mode, slots in (("race", None), ("one by one", 1)):
        m = Manager(Settings(n_plans=2, top_k=2, seed=0, budget_s=120, race=True, race_effort=1.0, storage="memory"))
        m.plan("Classify banana quality as Good or Bad", data=data, out=tmp_path / mode.replace(" ", "_"))
        race_plans(m, slots=slots)
        rows = m.log.record.race["plans"]
        assert m.log.record.race["lanes_at_once"] == (slots or 2) and len(rows) == 2
        for r in rows:
            assert r["effort"]["cpu_s"] == 1.0 and not r["effort"]["capped_by_deadline"], r  # the effort all ran
        got[mode] = {r["plan"]: (r["model"], r["valid"]["f1"], r["effort"]["search_trials_run"]) for r in rows}
    assert got["race"] == got["one by one"]
    assert any(trials and any(trials.values()) for _, _, trials in got["race"].values())  # a search ran too


def test_a_lane_prices_each_trial_as_the_model_its_train_cell_fits(bananas, tmp_path):
    """A raced plan buys its trials at the cost model's price of one default fit as the train cell makes it: a
    forest with all its trees (the model agent's probes grow PROBE_FOREST_TREES of them, and the cost model's units
    count a probe's), so a forest lane does not buy four times the trials its effort pays for and outlast the race."""
    from automl_agent_jupyter.knowledge import learning_curves as lc
    from automl_agent_jupyter.manager import Manager
    from automl_agent_jupyter.tasks import for_task
    from automl_agent_jupyter.tasks.tabular import PROBE_FOREST_TREES, model_entry

    m = Manager(Settings(n_plans=1, top_k=2, seed=0, budget_s=30, storage="memory"))
    m.plan("Classify banana quality as Good or Bad", data=bananas, out=tmp_path / "run")
    report, task = m.planning.report, for_task("tabular_classification")
    sizes = report.split["sizes"]
    probe_size = {"items": sizes["train"], "valid_items": sizes["valid"], "epochs": None}
    specs = {n: {"portfolio": [{}], "space": {"max_depth": ["int", 2, 20]}} for n in ("random_forest", "lightgbm")}
    plan = task.effort_plan(specs, report, effort_s=6.0)
    trees = model_entry("random_forest")["defaults"]["n_estimators"]
    assert trees > PROBE_FOREST_TREES
    probe_units = task.probe_units("random_forest", probe_size, report)
    all_trees_s = lc.probe_cost_s("random_forest", "bagged_trees", probe_units * trees / PROBE_FOREST_TREES)
    assert all_trees_s > 1.5 * lc.probe_cost_s("random_forest", "bagged_trees", probe_units)
    assert plan["fit_cost_s"]["random_forest"] == pytest.approx(all_trees_s, rel=0.02)
    # a binary booster's probe already grows all its rounds: its price is the probe's
    assert plan["fit_cost_s"]["lightgbm"] == pytest.approx(
        lc.probe_cost_s("lightgbm", "gradient_boosting", task.probe_units("lightgbm", probe_size, report)), rel=0.02)
    bought = {n: int(0.8 * 6.0 / len(specs) / plan["fit_cost_s"][n]) - 1 for n in specs}
    assert plan["search_trials"] == {n: min(40, max(0, b)) for n, b in bought.items()}


def test_a_race_that_misses_on_validation_revises_and_keeps_the_best(tmp_path):
    """No raced plan can meet F1 0.999 on validation: the race revises as a run of one plan does (the manager's
    bounded revision, recorded), trains the revision's plan as one more lane, keeps the best of all lanes on
    validation, and scores the test split once, for that plan alone."""
    from automl_agent_jupyter.race import race_lines

    data = banana_sample(tmp_path, rows=1500)
    events = []
    run = AutoMLAgent(budget_s=60, n_plans=2, top_k=2, race=True, race_effort=1.0, max_revisions=1,
                      on_event=lambda *e: events.append(e)).run(
        "Classify banana quality as Good or Bad with F1 of at least 0.999", data=str(data), out=tmp_path / "run")
    rec, race = run.record, run.record.race
    assert run.status == "failed" and "requirements not met" in run.message, run.message  # the miss is reported
    revised = [r for r in race["plans"] if r.get("revision")]
    assert len(revised) == 1 and len(race["plans"]) >= 2, race["plans"]  # a revision lane ran after the race
    lane = revised[0]
    assert [r["kind"] for r in rec.revisions] == ["revision"], rec.revisions
    revision = rec.revisions[0]
    assert revision["decided_on"] == "validation" and revision["failed_checks"] == ["f1"]
    assert revision["next"] == lane["plan"] and revision["after"] == lane["revision"]["after"]
    assert lane["revision"]["reason"] == revision["reason"] and lane["valid"]["f1"] is not None  # it trained
    assert not any(r["passed_on_validation"] for r in race["plans"])
    # the best of every lane on validation is kept (all miss the one target: the better validation F1)
    scores = {t["plan"]: t["valid"]["f1"] for t in rec.trained}
    assert set(scores) == {r["plan"] for r in race["plans"]}, (scores, race["plans"])
    assert race["winner"] == rec.kept["plan"] == rec.selected_plan and scores[race["winner"]] == max(scores.values())
    assert rec.kept["decided_on"] == "validation" and {o["plan"] for o in rec.kept["over"]} == set(scores) - {
        race["winner"]}
    # the test split was scored once, for the kept plan only
    assert [t["plan"] for t in rec.trained if t["test_scored"]] == [race["winner"]]
    assert [a.plan_id for a in rec.attempts if a.stage == "evaluate"] == [race["winner"]]
    assert rec.primary_metric["split"] == "test" and rec.metrics["test"]["f1"] > 0.8
    # what the notebook and the CLI show: the race, the revision's plan, then every lane with its score
    lines = [line for e in events if e[0] == "race" for line in race_lines(e[1], e[2])]
    assert [e[1] for e in events if e[0] == "race"] == ["start", "revise", "done"], lines
    assert lines[1].startswith("Race revision: no plan met the requirements on validation") and lane["plan"] in lines[1]
    assert f"{lane['plan']} (revision)" in lines[2] and f"Winner: {race['winner']}." in lines[2]


NO_TREES = """\
import importlib.abc, sys
class NoTrees(importlib.abc.MetaPathFinder):  # as in a Python where these packages are not installed
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('lightgbm', 'xgboost') or name.startswith('sklearn.ensemble'):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, NoTrees())
"""


def test_a_race_whose_every_lane_fails_asks_for_a_revision_and_fails_in_one_line(tmp_path, monkeypatch):
    """The lanes' processes lack every tree model (a sitecustomize that only they import), so every lane fails in
    its train cell: the race asks the manager's revision, as a plan that failed does (recorded: no untried plan
    is left), and the run fails with one line; no test split was scored."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(NO_TREES)
    monkeypatch.syspath_prepend(str(site))  # the lanes' PYTHONPATH is this process's sys.path
    data = banana_sample(tmp_path, rows=1000)
    run = AutoMLAgent(budget_s=60, n_plans=2, top_k=2, race=True, race_effort=1.0, max_revisions=1).run(
        "Classify banana quality as Good or Bad", data=str(data), out=tmp_path / "run")
    rec, race = run.record, run.record.race
    assert run.status == "failed" and run.message == "the generated code did not finish; no test metric was measured"
    assert race["winner"] is None and [r["status"] for r in race["plans"]] == ["failed", "failed"], race["plans"]
    assert all("ModuleNotFoundError" in r["error"] for r in race["plans"])
    assert [(r["kind"], r["next"], r["reason"]) for r in rec.revisions] == [
        ("revision", None, "no untried plan is left")]  # asked, as after any failed plan; none was left
    assert not rec.metrics and not any(t["test_scored"] for t in rec.trained)
    assert not any(a.stage == "evaluate" for a in rec.attempts)
