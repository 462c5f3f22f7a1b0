"""Full runs with an LLM brain: the real openai SDK against a local fake server (no LLM, no internet).

The fake server answers each role from the context it was sent, with JSON valid for that role's
response model, so the whole pipeline (planning, ranking, verification, code edits, repairs) runs on
the LLM path; single roles are then made to misbehave.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import socket
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fake_llm_server import FakeLLMServer, RecordedRequest, Reply, reply_json, reply_text, status

from automl_agent_jupyter.api import AutoMLAgent
from automl_agent_jupyter.brains import make_brain
from automl_agent_jupyter.brains.offline import OfflineBrain
from automl_agent_jupyter.brains.openai_brain import OpenAIBrain, compact, to_jsonable
from automl_agent_jupyter.config import Settings
from automl_agent_jupyter.schema import (
    CodeEdits,
    DataAnalyses,
    KnowledgeSummary,
    Opinion,
    Opinions,
    PlanSet,
    Rankings,
    Repair,
    RequestCheck,
    Requirements,
    Revision,
)

DATA = "/work/shared/datasets/banana_quality/banana_quality.csv"
INSTRUCTION = "Classify banana quality as Good or Bad with F1 of at least 0.9"
DATA_VALUE = "-1.9249682"  # a cell of the first data row: the data itself must never be sent
pytestmark = pytest.mark.skipif(not Path(DATA).exists(), reason="banana_quality data set not available")


# ---------------------------------------------------------------- a scripted LLM that follows the context
def role_of(request: RecordedRequest) -> str:
    return re.search(r"current role is `(\w+)`", request.body["messages"][0]["content"]).group(1)


def context_of(request: RecordedRequest) -> dict[str, Any]:
    user = request.body["messages"][1]["content"]
    return json.loads(re.search(r"```json\n(.*?)\n```", user, re.DOTALL).group(1))


PLANS = [("Neighbours on scaled features", "scaled", ["knn"]),  # the best probe: the one plan trained (fast)
         ("Boosted trees or a linear model", "trees", ["logistic_regression", "hist_gradient_boosting"]),
         ("Linear model on quantile features", "quantile", ["logistic_regression"])]


def _plans(ctx: dict[str, Any]) -> dict[str, Any]:
    plans = [{"id": f"L{i + 1}", "title": title, "strategy": f"fake LLM strategy {i + 1}",
              "preprocessing": {"recipe": recipe}, "model_families": [m for m in models if m in ctx["pool"]]}
             for i, (title, recipe, models) in enumerate(PLANS[: ctx["n_plans"]])]
    return {"plans": plans}


def _rankings(ctx: dict[str, Any]) -> dict[str, Any]:
    return {"rankings": [{"plan_id": p["id"], "candidates": [
        {"name": c["name"], "predicted_metric": 0.91 - 0.01 * i, "predicted_train_s": 0.4,
         "predicted_latency_ms": 0.2, "predicted_size_mb": 0.1, "basis": "fake LLM prior for this family"}
        for i, c in enumerate(p["candidates"])]} for p in ctx["plans"]]}


def _edit_setup(extra: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def answer(ctx: dict[str, Any]) -> dict[str, Any]:
        setup = next(c for c in ctx["cells"] if c["stage"] == "setup")
        return {"edits": {"setup": setup["source"] + "\n" + extra}}

    return answer


VALID: dict[str, Callable[[dict[str, Any]], Any]] = {
    "verify_request": lambda ctx: {"status": "ok"},
    "parse_requirements": lambda ctx: {
        "user": {"intent": "build", "expertise": "medium"},
        "problem": {"downstream_task": "tabular_classification", "application_domain": "agriculture",
                    "performance_metrics": [{"name": "f1", "value": 0.9}]},
        "dataset": [{"name": "banana_quality", "target_variables": ["Quality"], "path": ctx["data_path"]}]},
    "summarise_knowledge": lambda ctx: {"insights": ["Tune the F1 threshold on the validation split [fake]"]},
    "plan": _plans,
    "data_analysis": lambda ctx: {"analyses": [
        {"plan_id": p["id"], "summary": f"fake analysis of {p['id']}: 7 numeric features, no missing cells",
         "steps": ["Standardise the numeric features inside the pipeline.", "Stratify the split."]}
        for p in ctx["plans"]]},
    "rank_models": _rankings,
    "verify_plans": lambda ctx: {"opinions": [{"plan_id": p["id"], "text": f"fake opinion on {p['id']}",
                                               "passed": True} for p in ctx["plans"]],
                                 "best": ctx["plans"][0]["id"]},
    "write_code": _edit_setup("print('setup reviewed by the fake LLM')"),
    "debug": lambda ctx: {"diagnosis": "no idea", "action": "give_up"},
    "verify_implementation": lambda ctx: {"text": "fake: the measured F1 meets the target", "passed": True},
    "revise": lambda ctx: {"reason": "fake: stop here", "plan": None},
}
RESPONSE_MODELS = {"verify_request": RequestCheck, "parse_requirements": Requirements,
                   "summarise_knowledge": KnowledgeSummary, "plan": PlanSet, "data_analysis": DataAnalyses,
                   "rank_models": Rankings, "verify_plans": Opinions, "write_code": CodeEdits, "debug": Repair,
                   "verify_implementation": Opinion, "revise": Revision}


class ScriptedLLM:
    """A server script: valid answers per role, or per-role overrides (a list is consumed in order)."""

    def __init__(self, **overrides: Any) -> None:
        self.overrides = overrides
        self.roles: list[str] = []

    def __call__(self, request: RecordedRequest) -> Reply:
        role = role_of(request)
        self.roles.append(role)
        override = self.overrides.get(role)
        if isinstance(override, list) and override:
            return override.pop(0)
        ctx = context_of(request)
        answer = override(ctx) if callable(override) else VALID[role](ctx)
        RESPONSE_MODELS[role].model_validate(answer, context=None)  # the script itself stays valid
        return reply_json(answer, usage={"prompt_tokens": len(request.raw) // 4, "completion_tokens": 50})


def fake_key() -> str:
    return f"sk-fake-{uuid.uuid4().hex}{uuid.uuid4().hex[:8]}"


def agent(url: str, tmp: Path, **kw: Any) -> AutoMLAgent:
    options = {"budget_s": 3, "n_plans": 3, "runs_dir": str(tmp), "llm_timeout": 10, "llm_max_retries": 1}
    return AutoMLAgent(llm="fake-model", base_url=url, **{**options, **kw})


def scan_for(secret: str, folder: Path, *texts: str) -> list[str]:
    """Where ``secret`` (or a long part of it) appears: files under ``folder`` (as bytes) and texts."""
    needles = [secret.encode(), secret[8:].encode()]
    hits = [str(p) for p in folder.rglob("*") if p.is_file() and any(n in p.read_bytes() for n in needles)]
    return hits + [f"text {i}" for i, t in enumerate(texts) if secret in t or secret[8:] in t]


# ---------------------------------------------------------------- a good run (shared by several tests)
@pytest.fixture(scope="module")
def good_run(tmp_path_factory):
    """One full run; its stdout, stderr and every log record (DEBUG, the SDK's included) are captured."""
    key, tmp = fake_key(), tmp_path_factory.mktemp("llm-good")
    script = ScriptedLLM()
    out, logs = io.StringIO(), io.StringIO()
    handler, root = logging.StreamHandler(logs), logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        with pytest.MonkeyPatch.context() as mp, FakeLLMServer(script) as server, \
                contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            mp.setenv("OPENAI_API_KEY", key)
            mp.delenv("OPENAI_BASE_URL", raising=False)
            run = agent(server.base_url, tmp, on_event=lambda *a: print(*a)).run(INSTRUCTION, data=DATA,
                                                                               out=tmp / "run")
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    return run, server, script, key, out.getvalue() + logs.getvalue()


def test_good_run_succeeds_with_measured_metric(good_run):
    run = good_run[0]
    rec = run.record
    assert rec.status == "succeeded", rec.message
    assert rec.brain == "openai:fake-model" and rec.primary_metric["name"] == "f1"
    assert rec.primary_metric["value"] > 0.9  # measured on the test split, not the LLM's 0.91
    assert [p.id for p in rec.plans] and {p.title for p in rec.plans} == {t for t, _, _ in PLANS}
    assert rec.notes == [] or all("no price known" in n for n in rec.notes)


def test_good_run_usage_per_role_and_at_most_12_calls(good_run):
    run, server, script, _, _ = good_run
    rec = run.record
    counts = Counter(script.roles)
    assert len(server.chat_requests) == sum(counts.values()) <= 12
    assert {r: u.calls for r, u in rec.llm_usage.items() if u.calls} == dict(counts)
    assert all(counts[r] == 1 for r in ("data_analysis", "rank_models", "verify_plans"))  # batched over plans
    total = rec.llm_total
    assert total.calls == len(server.chat_requests) and total.used == total.calls
    # the rules read every field of this instruction confidently: the LLM was not asked to parse it
    assert "parse_requirements" not in counts and total.fallbacks == rec.llm_usage["parse_requirements"].fallbacks == 1
    assert [(d.decided_by, d.llm_answer) for d in rec.decisions if d.role == "parse_requirements"] == \
        [("offline", "not_asked")]
    assert total.prompt_tokens == sum(u.prompt_tokens for u in rec.llm_usage.values()) > 0
    assert total.completion_tokens == 50 * total.calls and total.seconds > 0
    assert rec.brain_config["model"] == "fake-model" and rec.brain_config["base_url"] == server.base_url
    assert rec.brain_config["prompts"]["plan"] == "plan v3"
    print(f"\nfake-server run: {total.calls} calls, {total.prompt_tokens} prompt + {total.completion_tokens} "
          f"completion tokens; per role: {dict(counts)}")


def test_good_run_keeps_llm_opinions_beside_numeric_verdicts(good_run):
    rec = good_run[0].record
    for p in rec.plans:
        assert p.verdict is not None and p.verdict.checks and p.verdict.brain_opinion.startswith("fake opinion on")
        assert p.data_summary.startswith("fake analysis of") and p.steps[0].agent == "data"
    assert rec.verification.passed and rec.verification.brain_opinion == "fake: the measured F1 meets the target"
    assert "measured on test" in rec.verification.reasons[0]


def test_good_run_labels_llm_estimates_and_keeps_probe_evidence(good_run):
    rec = good_run[0].record
    for p in rec.plans:
        for c in p.candidates:
            assert "LLM estimate" in c.basis and c.llm_estimate["basis"] == "fake LLM prior for this family"
            assert c.basis.startswith("probe:")  # the probe ran: its numbers are the prediction
            assert c.predicted_metric != c.llm_estimate["predicted_metric"]
            assert c.params["n_trials"] >= 2
        metrics = [c.predicted_metric for c in p.candidates]
        assert metrics == sorted(metrics, reverse=True)  # measured numbers order the candidates...
        assert sorted(c.llm_estimate["rank"] for c in p.candidates) == list(range(1, len(metrics) + 1))  # ...LLM's shown


def test_good_run_applies_the_checked_code_edit(good_run):
    run = good_run[0]
    assert "setup reviewed by the fake LLM" in (run.folder / "pipeline.py").read_text()
    assert any("setup reviewed by the fake LLM" in a.stdout_tail for a in run.record.attempts)


def test_good_run_sends_profiles_not_data_and_compact_contexts(good_run):
    _, server, _, _, _ = good_run
    for request in server.chat_requests:
        assert DATA_VALUE not in request.raw
        assert "not sent>" not in request.raw
    sizes = {role_of(r): len(r.body["messages"][1]["content"]) for r in server.chat_requests}
    assert max(sizes.values()) < 40_000, sizes


def test_good_run_leaks_the_key_nowhere(good_run):
    run, server, _, key, output = good_run
    assert server.chat_requests[0].headers["authorization"] == f"Bearer {key}"  # the key was used...
    assert "chat/completions" in output and "code_generation" in output  # (the SDK's logs and the events)
    assert not scan_for(key, run.folder, output, run.record.model_dump_json(), repr(run))  # ...and kept


# ---------------------------------------------------------------- single roles misbehaving
def test_invalid_json_twice_falls_back_to_offline_and_the_run_succeeds(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", fake_key())
    script = ScriptedLLM(data_analysis=[reply_text("The plans look fine to me."), reply_text('{"analyses": 3}')])
    with FakeLLMServer(script) as server:
        run = agent(server.base_url, tmp_path, top_k=1).run(INSTRUCTION, data=DATA, out=tmp_path / "run")
    rec = run.record
    assert rec.status == "succeeded", rec.message
    (note,) = [n for n in rec.notes if n.startswith("data_analysis")]
    assert "invalid answer after one repair" in note and note.endswith("offline rules used")
    assert rec.llm_usage["data_analysis"].fallbacks == 1 and rec.llm_usage["data_analysis"].calls == 2
    assert all(p.data_summary and not p.data_summary.startswith("fake") for p in rec.plans)  # offline rules


def test_an_answer_naming_unknown_models_gets_a_repair_round(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", fake_key())
    bad = {"plans": [{"id": "X", "title": "Imaginary", "preprocessing": {"recipe": "magic"},
                      "model_families": ["gpt_forest"]}]}
    script = ScriptedLLM(plan=[reply_json(bad)])
    with FakeLLMServer(script) as server:
        run = agent(server.base_url, tmp_path, top_k=1).run(INSTRUCTION, data=DATA, out=tmp_path / "r",
                                                            auto=False)
    assert run.record.status == "planned" and run.record.llm_usage["plan"].calls == 2
    repair = next(r for r in server.chat_requests if role_of(r) == "plan" and len(r.body["messages"]) > 2)
    assert "gpt_forest" in repair.body["messages"][-1]["content"] and "magic" in repair.body["messages"][-1]["content"]
    assert [p.id for p in sorted(run.record.plans, key=lambda p: p.id)] == ["P1", "P2", "P3"]


def test_401_is_a_one_line_failure_without_the_key(tmp_path, monkeypatch, capfd):
    key = fake_key()
    monkeypatch.setenv("OPENAI_API_KEY", key)
    with FakeLLMServer(lambda r: status(401, f"Incorrect API key provided: {key}.")) as server:
        run = agent(server.base_url, tmp_path).run(INSTRUCTION, data=DATA, out=tmp_path / "run")
    rec = run.record
    assert rec.status == "failed"
    assert rec.message.startswith("LLM server rejected the API key (401)") and "\n" not in rec.message
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err
    assert not scan_for(key, run.folder, out, err, rec.model_dump_json())


def test_server_down_runs_on_the_offline_rules_with_notes(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", fake_key())
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    run = agent(f"http://127.0.0.1:{port}/v1", tmp_path, top_k=1).run(INSTRUCTION, data=DATA, out=tmp_path / "r")
    rec = run.record
    assert rec.status == "succeeded", rec.message
    assert "connection failed" in rec.notes[0] and all(n.endswith("offline rules used") for n in rec.notes)
    assert any("unreachable earlier in this run" in n for n in rec.notes[1:])  # not retried for every role
    assert rec.llm_total.calls == 0 and rec.llm_total.fallbacks == len(rec.decisions) >= 9
    assert len(rec.notes) == len(rec.decisions) - 1  # parse_requirements: the rules were sure, nothing to ask
    assert all(p.verdict.brain_opinion == "" for p in rec.plans)  # the rules' view is not an LLM opinion
    assert all("LLM estimate" not in c.basis for p in rec.plans for c in p.candidates)


def test_unsafe_debug_repair_is_flagged_and_not_run(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", fake_key())
    marker = tmp_path / "escaped"
    unsafe = f"import os\nos.system('touch {marker}')\nSEED = 0\n"
    script = ScriptedLLM(write_code=_edit_setup("raise RuntimeError('scripted failure')"),
                         debug=lambda ctx: {"diagnosis": "run a shell command", "action": "source", "source": unsafe})
    with FakeLLMServer(script) as server:
        run = agent(server.base_url, tmp_path, top_k=1, max_revisions=1).run(INSTRUCTION, data=DATA,
                                                                             out=tmp_path / "r")
    rec = run.record
    assert not marker.exists()  # the flagged code never ran
    flagged = [a for a in rec.attempts if a.flagged]
    assert flagged and flagged[0].stage == "setup" and "scripted failure" in flagged[0].error
    assert any("shell" in f and "os.system" in f for f in flagged[0].flagged)
    assert "not run" in flagged[0].repair and flagged[0].proposed_source == unsafe
    assert any(n.startswith("debug setup: repaired code flagged") for n in rec.notes)
    assert rec.status == "failed" and Counter(script.roles)["debug"] == 1


def test_an_unsafe_code_edit_is_not_used(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", fake_key())
    script = ScriptedLLM(write_code=_edit_setup("import subprocess\nsubprocess.run(['pip', 'install', 'x'])"))
    with FakeLLMServer(script) as server:
        m = agent(server.base_url, tmp_path, top_k=1).manager()
        assert m.plan(INSTRUCTION, data=DATA, out=tmp_path / "r").status == "planned"
        impl = m.start()
    cells = impl.cells
    setup = next(c for c in cells if c.stage == "setup")
    assert "subprocess" not in setup.source and "subprocess" in setup.flagged_source
    assert any("package_install" in f and "subprocess.run" in f for f in setup.flagged)
    assert any(n.startswith("write_code setup: the edit was flagged") for n in m.record.notes)
    nxt = impl.approve(cells.index(setup))  # the user's click: the edit replaces the template, to be run
    assert (nxt.kind, nxt.index) == ("run", 0) and "subprocess.run" in m.impl.cells[0].source
    assert m.impl.cells[0].approved and "approved by the user" in m.record.notes[-1]


# ---------------------------------------------------------------- configuration, contexts, CLI
def test_settings_build_the_llm_brain(monkeypatch):
    monkeypatch.setenv("AUTOML_AGENT_LLM", "gpt-4o")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("AUTOML_AGENT_ROLE_MODELS", "parse_requirements=gpt-4.1-nano")
    monkeypatch.setenv("AUTOML_AGENT_PRICES", "my-model=1/2")
    monkeypatch.setenv("OPENAI_API_KEY", fake_key())
    s = Settings()
    assert (s.llm, s.base_url, s.role_models) == ("gpt-4o", "http://127.0.0.1:9/v1", {"parse_requirements": "gpt-4.1-nano"})
    brain = make_brain(s)
    assert isinstance(brain, OpenAIBrain) and isinstance(brain.fallback, OfflineBrain)
    assert brain.base_url == "http://127.0.0.1:9/v1" and brain.role_models == {"parse_requirements": "gpt-4.1-nano"}
    assert brain.price("my-model") == (1.0, 2.0) and brain.price("gpt-4o") == (2.50, 10.00)
    assert isinstance(make_brain(Settings(llm=None)), OfflineBrain) and isinstance(make_brain("offline"), OfflineBrain)
    assert "sk-" not in json.dumps(s.as_dict()) and "api_key" not in s.as_dict()


def test_offline_runs_record_zero_usage(tmp_path):
    run = AutoMLAgent(budget_s=3, n_plans=2, top_k=1, runs_dir=str(tmp_path)).run(INSTRUCTION, data=DATA,
                                                                                auto=False)
    rec = run.record
    assert rec.status == "planned" and rec.brain == "offline" and rec.brain_config == {"brain": "offline"}
    assert rec.llm_usage and all(u.calls == 0 and u.tokens == 0 and u.cost_usd == 0 for u in rec.llm_usage.values())
    assert rec.llm_total.calls == 0 and rec.notes == []
    assert set(rec.llm_usage) == {"verify_request", "parse_requirements", "summarise_knowledge", "plan",
                                  "data_analysis", "rank_models", "verify_plans"}
    assert all(p.verdict.brain_opinion == "" for p in rec.plans)


def test_contexts_are_compact_and_never_carry_data():
    import pandas as pd

    frame = pd.DataFrame({"a": [123456.789] * 3})
    data = compact(to_jsonable({"frame": frame, "rows": list(range(100)), "empty": [], "none": None,
                                "text": "x" * 20_000, "f": 0.123456789012, "n": __import__("numpy").int64(3)}))
    assert data["frame"] == "<DataFrame not sent>" and "123456" not in json.dumps(data)
    assert len(data["rows"]) == 31 and data["rows"][-1] == "... 70 more items left out"
    assert "empty" not in data and "none" not in data and data["f"] == 0.123457 and data["n"] == 3
    assert len(data["text"]) < 12_100 and data["text"].endswith("more characters left out]")


def test_cli_runs_against_the_fake_server(tmp_path):
    key = fake_key()
    env = {**os.environ, "OPENAI_API_KEY": key, "AUTOML_AGENT_TOP_K": "1"}
    env.pop("OPENAI_BASE_URL", None)
    script = ScriptedLLM()
    with FakeLLMServer(script) as server:
        proc = subprocess.run(
            [sys.executable, "-m", "automl_agent_jupyter.cli", "run", INSTRUCTION, "--data", DATA, "--out",
             str(tmp_path / "run"), "--llm", "fake-model", "--base-url", server.base_url, "--budget", "3",
             "--plans", "3"], capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "status: succeeded" in proc.stdout
    assert re.search(r"llm openai:fake-model: \d+ calls, \d+ prompt \+ \d+ completion tokens", proc.stdout)
    assert len(server.chat_requests) <= 12
    assert not scan_for(key, tmp_path / "run", proc.stdout, proc.stderr)


def test_answers_are_checked_against_the_context_only_when_one_is_given():
    from pydantic import ValidationError

    from automl_agent_jupyter.schema import Plan

    req = {"problem": {"performance_metrics": [{"name": "F1-score", "value": 0.9}]},
           "dataset": [{"target_variables": ["quality"]}]}
    ctx = {"peek": {"columns": ["Size", "Quality"]}, "metric_names": ["f1", "accuracy"],
           "complexity_units": {"model_size": "MB"}}
    with pytest.raises(ValidationError, match=r"\['quality'\] are not columns.*names must be among"):
        Requirements.model_validate(req, context=ctx)
    assert Requirements.model_validate(req).target == "quality"  # the rules' own answers: no context
    plans = [Plan(id="P1", title="a", model_families=["knn"]), Plan(id="P2", title="b", model_families=["knn"])]
    with pytest.raises(ValidationError, match=r"plan_id \['P2'\] missing"):
        DataAnalyses.model_validate({"analyses": [{"plan_id": "P1", "summary": "s"}]}, context={"plans": plans})
    with pytest.raises(ValidationError, match="rerun_from needs params.stage"):
        Repair.model_validate({"diagnosis": "d", "action": "rerun_from", "params": {"stage": "nope"}},
                              context={"stages": ["setup", "train"], "candidates": ["knn"]})
