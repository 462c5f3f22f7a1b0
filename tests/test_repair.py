"""The operation agent's repair loop on real failures, in-process: every attempt kept in the record."""
from __future__ import annotations

import sys

import pandas as pd
import pytest
from shared_data import dataset

from automl_agent_jupyter import AutoMLAgent
from automl_agent_jupyter.brains.offline import OfflineBrain
from automl_agent_jupyter.schema import CodeEdits, Repair


@pytest.fixture
def small_banana(tmp_path) -> str:
    path = tmp_path / "banana.csv"
    pd.read_csv(dataset("banana_quality/banana_quality.csv")).sample(1200, random_state=0).to_csv(path, index=False)
    return str(path)


class FakeBrainWithBrokenCode(OfflineBrain):
    """A scripted brain whose operation agent writes a train cell with a bug (as an LLM might)."""

    name = "fake-broken-coder"
    broken_stage = "load_split"  # the LLM is shown only the short cells it may edit (long ones run as tested)

    def decide(self, role, context, response_model):
        if role == "write_code":
            cell = next(c for c in context.cells if c["stage"] == self.broken_stage)
            return CodeEdits(edits={self.broken_stage: cell["source"] + "\nCHECKED = maxx(1, 2)\n"})
        return super().decide(role, context, response_model)


def test_a_broken_generated_cell_is_repaired_from_its_template(tmp_path, small_banana):
    run = AutoMLAgent(brain=FakeBrainWithBrokenCode(), budget_s=1).run(
        "Classify banana quality as Good or Bad", data=small_banana, out=tmp_path / "run")
    rec = run.record
    assert rec.status == "succeeded", rec.message
    broken = [a for a in rec.attempts if a.stage == FakeBrainWithBrokenCode.broken_stage]
    assert [a.ok for a in broken] == [False, True]
    assert broken[0].error_type == "NameError" and "maxx" in broken[0].error
    assert "restoring the template" in broken[0].repair
    assert "maxx(" not in (run.folder / "pipeline.py").read_text()  # the script holds the code that ran


def test_a_missing_library_drops_that_candidate(tmp_path, small_banana, monkeypatch):
    from automl_agent_jupyter.manager import Manager

    m = AutoMLAgent(budget_s=1).manager()
    m.plan("Classify banana quality as Good or Bad, potentially XGBoost or LightGBM", data=small_banana,
           out=tmp_path / "run")
    plan = next(p for p in m.record.plans if "xgboost" in [c.name for c in p.candidates])
    # the kernel that runs the cells lacks xgboost (e.g. a fresh environment): importing it now fails
    monkeypatch.setitem(sys.modules, "xgboost", None)
    rec = m.implement(plan.id)
    assert rec.status == "succeeded", rec.message
    failed = [a for a in rec.attempts if not a.ok]
    assert failed and failed[0].stage == "train" and failed[0].error_type in ("ImportError", "ModuleNotFoundError")
    assert "dropping the xgboost candidate" in failed[0].repair
    tried = next(p for p in rec.plans if p.id == plan.id)
    assert "xgboost" not in [c.name for c in tried.candidates]
    assert isinstance(m, Manager)


def test_repairs_are_bounded(tmp_path, small_banana):
    class FakeBrainThatCannotFix(FakeBrainWithBrokenCode):
        """Scripted: writes a broken train cell and 'repairs' it with more broken code."""

        name = "fake-cannot-fix"

        def decide(self, role, context, response_model):
            if role == "debug":
                return Repair(diagnosis="try other broken code", action="source",
                              source="raise RuntimeError('still broken')")
            return super().decide(role, context, response_model)

    run = AutoMLAgent(brain=FakeBrainThatCannotFix(), budget_s=1, max_repairs=2, max_revisions=0).run(
        "Classify banana quality as Good or Bad", data=small_banana, out=tmp_path / "run")
    rec = run.record
    assert rec.status == "failed" and "no test metric" in rec.message
    broken = [a for a in rec.attempts if a.stage == FakeBrainThatCannotFix.broken_stage]
    assert len(broken) == 3 and not any(a.ok for a in broken)  # first try + 2 repairs, then it stops
    assert [a.error for a in broken[1:]] == ["still broken", "still broken"]
