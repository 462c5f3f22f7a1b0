"""OpenAIBrain through the real openai SDK against a local fake server (no LLM, no internet)."""

from __future__ import annotations

import json
import signal
import socket
import threading
import time
import uuid
from typing import Any, Literal

import pytest
from fake_llm_server import FakeLLMServer, delayed, reject_response_format, reply_json, reply_text, status
from pydantic import BaseModel

from automl_agent_jupyter.brains import secrets
from automl_agent_jupyter.brains.base import ROLES, Brain
from automl_agent_jupyter.brains.openai_brain import (
    OpenAIBrain,
    extract_json,
    load_prompt,
    prompt_version,
    render_prompt,
)
from automl_agent_jupyter.errors import BrainError
from automl_agent_jupyter.schema import LLMUsage, Requirements


class Opinion(BaseModel):
    label: Literal["good", "bad"]
    score: float


GOOD = {"label": "good", "score": 0.9}
OFFLINE = {"label": "bad", "score": 0.1}


class FakeOfflineBrain(Brain):
    """A scripted stand-in for the offline rules: always the same answer, every call recorded."""

    name = "fake-offline"

    def __init__(self, answer: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.answer = answer or OFFLINE
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def decide(self, role, context, response_model):
        self.calls.append((role, context))
        return response_model.model_validate(self.answer)


@pytest.fixture
def key() -> str:
    return f"sk-test-{uuid.uuid4().hex}"


def make_brain(server: FakeLLMServer | None, key: str, **kw: Any) -> OpenAIBrain:
    options: dict[str, Any] = {
        "base_url": server.base_url if server else None,
        "api_key": key,
        "fallback": FakeOfflineBrain(),
        "timeout": 2.0,
        "max_retries": 2,
        "retry_base_delay": 0.01,
        "dotenv_path": None,
    }
    options.update(kw)
    return OpenAIBrain(options.pop("model", "gpt-4o-mini"), **options)


CONTEXT = {"requirements": Requirements(), "note": "plain text", "numbers": [1, 2.5]}


# ---------------------------------------------------------------- good answers
def test_good_answer_is_validated_and_counted(key):
    with FakeLLMServer([reply_json(GOOD, usage={"prompt_tokens": 1000, "completion_tokens": 200})]) as server:
        brain = make_brain(server, key)
        answer = brain.decide("verify_plans", CONTEXT, Opinion)
    assert answer == Opinion(**GOOD)
    assert brain.name == "openai:gpt-4o-mini"
    (request,) = server.chat_requests
    assert request.headers["authorization"] == f"Bearer {key}"
    assert request.body["model"] == "gpt-4o-mini"
    fmt = request.response_format
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is False
    assert fmt["json_schema"]["schema"] == Opinion.model_json_schema()
    system, user = request.body["messages"]
    assert system["role"] == "system" and "verify_plans" in system["content"]
    assert '"note": "plain text"' in user["content"] and "<!-- prompt" not in user["content"]
    usage = brain.usage["verify_plans"]
    assert (usage.calls, usage.prompt_tokens, usage.completion_tokens, usage.tokens) == (1, 1000, 200, 1200)
    assert usage.cost_usd == pytest.approx((1000 * 0.15 + 200 * 0.60) / 1e6)
    assert usage.fallbacks == 0 and usage.seconds > 0
    assert brain.prompt_versions["verify_plans"] == "verify_plans v3"
    assert brain.fallback.calls == [] and brain.notes == []


def test_json_in_fences_or_prose_is_extracted(key):
    script = [
        reply_text("Here you go:\n```json\n" + json.dumps(GOOD) + "\n```\nHope it helps."),
        reply_text("The answer is " + json.dumps(GOOD) + ". Done."),
    ]
    with FakeLLMServer(script) as server:
        brain = make_brain(server, key)
        assert brain.decide("plan", CONTEXT, Opinion).label == "good"
        assert brain.decide("plan", CONTEXT, Opinion).label == "good"
    assert brain.usage["plan"].calls == 2


def test_extract_json_variants():
    assert extract_json('{"a": 1}') == {"a": 1}
    assert extract_json('```\n{"a": 2}\n```') == {"a": 2}
    assert extract_json('prose {not json} then {"a": 3} and more') == {"a": 3}
    with pytest.raises(ValueError):
        extract_json("no json here")


# ---------------------------------------------------------------- repair and fallback
def test_invalid_then_valid_uses_one_repair_round(key):
    with FakeLLMServer([reply_text('{"label": "maybe"}'), reply_json(GOOD)]) as server:
        brain = make_brain(server, key)
        answer = brain.decide("rank_models", CONTEXT, Opinion)
    assert answer.label == "good"
    first, second = server.chat_requests
    repair_messages = second.body["messages"]
    assert len(repair_messages) == len(first.body["messages"]) + 2
    assert repair_messages[-2] == {"role": "assistant", "content": '{"label": "maybe"}'}
    assert "label" in repair_messages[-1]["content"] and "could not be used" in repair_messages[-1]["content"]
    assert brain.usage["rank_models"].calls == 2 and brain.usage["rank_models"].fallbacks == 0
    assert brain.fallback.calls == []


def test_invalid_twice_falls_back_to_offline(key):
    with FakeLLMServer([reply_text("I think it is good."), reply_text('{"label": "good"}')]) as server:
        brain = make_brain(server, key)
        answer = brain.decide("verify_plans", CONTEXT, Opinion)
    assert answer == Opinion(**OFFLINE)
    assert len(server.chat_requests) == 2
    assert brain.fallback.calls == [("verify_plans", CONTEXT)]
    assert brain.usage["verify_plans"].fallbacks == 1 and brain.usage["verify_plans"].calls == 2
    (note,) = brain.notes
    assert note.startswith("verify_plans: invalid answer after one repair") and note.endswith(
        "offline rules used"
    )
    assert "score" in note


def test_without_fallback_an_unusable_answer_is_a_brain_error(key):
    with FakeLLMServer(["nope", "still nope"]) as server:
        brain = make_brain(server, key, fallback=None)
        with pytest.raises(BrainError, match="no offline brain"):
            brain.decide("plan", CONTEXT, Opinion)


# ---------------------------------------------------------------- transport errors
def test_429_is_retried_then_succeeds(key):
    with FakeLLMServer([status(429), reply_json(GOOD)]) as server:
        brain = make_brain(server, key)
        assert brain.decide("plan", CONTEXT, Opinion).label == "good"
    assert len(server.chat_requests) == 2
    assert brain.usage["plan"].fallbacks == 0 and brain.usage["plan"].calls == 1


def test_500s_exhausted_fall_back(key):
    with FakeLLMServer([status(500), status(502), status(503)]) as server:
        brain = make_brain(server, key, max_retries=2)
        answer = brain.decide("plan", CONTEXT, Opinion)
    assert answer == Opinion(**OFFLINE)
    assert len(server.chat_requests) == 3
    assert brain.usage["plan"].fallbacks == 1 and brain.usage["plan"].calls == 0
    (note,) = brain.notes
    assert note.startswith("plan: LLM unavailable after 3 attempts (HTTP 503")
    assert note.endswith("offline rules used")


def test_timeout_falls_back_quickly(key):
    with FakeLLMServer([delayed(3, reply_json(GOOD)), delayed(3, reply_json(GOOD))]) as server:
        brain = make_brain(server, key, timeout=0.3, max_retries=1)
        started = time.monotonic()
        answer = brain.decide("data_analysis", CONTEXT, Opinion)
        elapsed = time.monotonic() - started
    assert answer == Opinion(**OFFLINE) and elapsed < 2.5
    assert "timed out" in brain.notes[0] and brain.usage["data_analysis"].fallbacks == 1


def test_connection_refused_falls_back(key):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    brain = OpenAIBrain(
        "gpt-4o-mini",
        base_url=f"http://127.0.0.1:{port}/v1",
        api_key=key,
        fallback=FakeOfflineBrain(),
        max_retries=1,
        retry_base_delay=0.01,
        dotenv_path=None,
    )
    assert brain.decide("plan", CONTEXT, Opinion) == Opinion(**OFFLINE)
    assert "connection failed" in brain.notes[0]


def test_401_is_one_line_without_the_key(key):
    with FakeLLMServer([status(401, f"Incorrect API key provided: {key}.")]) as server:
        brain = make_brain(server, key)
        with pytest.raises(BrainError) as info:
            brain.decide("plan", CONTEXT, Opinion)
    message = str(info.value)
    assert message.startswith("LLM server rejected the API key (401)")
    assert "\n" not in message and key not in message and key[8:20] not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert brain.fallback.calls == []


def test_404_is_unknown_model(key):
    with FakeLLMServer([status(404)]) as server:
        brain = make_brain(server, key, model="gpt-9-imaginary")
        with pytest.raises(BrainError) as info:
            brain.decide("plan", CONTEXT, Opinion)
    assert str(info.value).startswith(f"unknown model 'gpt-9-imaginary' on {server.base_url}")
    assert "\n" not in str(info.value)


def test_keyboard_interrupt_cancels_the_request(key):
    main = threading.main_thread().ident
    with FakeLLMServer([delayed(5, reply_json(GOOD))]) as server:
        brain = make_brain(server, key, timeout=10)
        timer = threading.Timer(0.3, lambda: signal.pthread_kill(main, signal.SIGINT))
        started = time.monotonic()
        timer.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                brain.decide("plan", CONTEXT, Opinion)
        finally:
            timer.cancel()  # never let a stray SIGINT reach the rest of the session
    assert time.monotonic() - started < 3
    assert brain.fallback.calls == [] and brain.usage["plan"].fallbacks == 0


# ---------------------------------------------------------------- response formats
def test_rejected_json_schema_falls_back_to_json_object_and_is_remembered(key):
    script = [reject_response_format("json_schema"), reject_response_format("json_object"), reply_json(GOOD),
              reply_json(GOOD)]
    with FakeLLMServer(script) as server:
        brain = make_brain(server, key)
        assert brain.decide("plan", CONTEXT, Opinion).label == "good"
        assert brain.decide("revise", CONTEXT, Opinion).label == "good"
    sent = [r.response_format for r in server.chat_requests]
    assert [f["type"] for f in sent] == ["json_schema", "json_object", "json_object", "json_object"]
    assert "schema" in sent[1] and "schema" not in sent[2]  # llama.cpp's json_object + schema, then plain
    assert brain.formats == {"gpt-4o-mini": "json_object"}
    assert sum("does not take response_format" in n for n in brain.notes) == 2
    assert brain.usage["plan"].fallbacks == 0


def test_the_schema_is_in_the_prompt_only_where_the_server_does_not_hold_to_it(key):
    """A server that takes the schema in response_format enforces it: the prompt does not repeat it."""
    schema = json.dumps(Opinion.model_json_schema())
    llama_500 = status(500, "1 validation error: {'type': 'literal_error', 'loc': ('body', 'response_format', "
                            "'type'), 'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema'}")
    with FakeLLMServer([llama_500, reply_text("no"), reply_json(GOOD)]) as server:
        brain = make_brain(server, key, max_retries=0)
        assert brain.decide("plan", CONTEXT, Opinion).label == "good"
    rejected, first, repair = server.chat_requests

    def prompt(request):
        return "\n".join(m["content"] for m in request.body["messages"])

    assert rejected.response_format["type"] == "json_schema" and schema not in prompt(rejected)
    assert first.response_format == {"type": "json_object", "schema": Opinion.model_json_schema()}
    assert schema not in prompt(first)  # the 500 stepped down to llama.cpp's json_object + schema
    assert "could not be used" in repair.body["messages"][-1]["content"] and schema not in prompt(repair)
    with FakeLLMServer([reply_json(GOOD)]) as server:
        brain = make_brain(server, key, max_retries=0)
        brain.formats["gpt-4o-mini"] = "json_object"  # no schema in the format: the prompt carries it
        brain.decide("plan", CONTEXT, Opinion)
    assert schema in server.chat_requests[0].body["messages"][1]["content"]


def test_no_response_format_at_all_uses_plain_text(key):
    script = [reject_response_format("json_schema"), reject_response_format("json_object"),
              reject_response_format("json_object"), reply_json(GOOD)]
    with FakeLLMServer(script) as server:
        brain = make_brain(server, key)
        assert brain.decide("plan", CONTEXT, Opinion).label == "good"
    assert [r.response_format for r in server.chat_requests][3] is None
    assert brain.formats["gpt-4o-mini"] == "text"


def test_other_400_falls_back_with_the_servers_reason(key):
    with FakeLLMServer([status(400, "This model's maximum context length is 8192 tokens.")]) as server:
        brain = make_brain(server, key)
        assert brain.decide("plan", CONTEXT, Opinion) == Opinion(**OFFLINE)
    assert "maximum context length" in brain.notes[0] and len(server.chat_requests) == 1


def test_an_unsupported_parameter_is_not_mistaken_for_response_format(key):
    with FakeLLMServer(
        [status(400, "Unsupported parameter: 'temperature' is not supported with this model.")]
    ) as server:
        brain = make_brain(server, key, temperature=0.0)
        assert brain.decide("plan", CONTEXT, Opinion) == Opinion(**OFFLINE)
    assert brain.formats == {} and len(server.chat_requests) == 1
    assert server.chat_requests[0].body["temperature"] == 0.0


# ---------------------------------------------------------------- usage, cost, models per role
def test_usage_and_cost_per_role_with_role_models(key):
    usage = {"prompt_tokens": 2_000_000, "completion_tokens": 1_000_000}
    script = [reply_json(GOOD, usage=usage), reply_json(GOOD, usage=usage), reply_json(GOOD, usage=usage)]
    with FakeLLMServer(script) as server:
        brain = make_brain(
            server,
            key,
            model="gpt-4o",
            role_models={"parse_requirements": "gpt-4.1-nano", "debug": "my-local-llama"},
            max_run_tokens=None,  # millions of tokens a call, to check the prices
        )
        brain.decide("plan", CONTEXT, Opinion)
        brain.decide("parse_requirements", CONTEXT, Opinion)
        brain.decide("debug", CONTEXT, Opinion)
    assert [r.body["model"] for r in server.chat_requests] == ["gpt-4o", "gpt-4.1-nano", "my-local-llama"]
    assert brain.usage["plan"].cost_usd == pytest.approx(2 * 2.50 + 10.00)
    assert brain.usage["parse_requirements"].cost_usd == pytest.approx(2 * 0.10 + 0.40)
    assert brain.usage["debug"].cost_usd == 0 and brain.usage["debug"].tokens == 3_000_000
    assert any("no price known for model 'my-local-llama'" in n for n in brain.notes)
    assert all(isinstance(u, LLMUsage) for u in brain.usage.values())
    assert brain.price("gpt-4o-mini-2024-07-18") == (0.15, 0.60)
    assert brain.price("gpt-4o-2024-08-06") == (2.50, 10.00)


# ---------------------------------------------------------------- the key stays secret
def test_the_key_appears_nowhere_but_the_authorization_header(key):
    script = [
        status(500, f"internal error for key {key}"),
        status(500, f"again {key}"),
        status(500, f"and again Bearer {key}"),
        reply_text(f"my key is {key}"),
        reply_text(f"still {key}"),
        status(400, f"bad request from {key}"),
        status(401, f"Incorrect API key provided: {key}"),
    ]
    errors: list[str] = []
    with FakeLLMServer(script) as server:
        brain = make_brain(server, key)
        for role in ("plan", "verify_plans", "revise", "debug"):
            try:
                brain.decide(role, CONTEXT, Opinion)
            except BrainError as exc:
                errors.append(str(exc))
                errors.append(repr(exc))
    assert len(errors) == 2 and len(brain.notes) == 3
    scanned = "\n".join(
        [
            *brain.notes,
            *errors,
            repr(brain),
            json.dumps(brain.describe()),
            json.dumps({r: u.model_dump() for r, u in brain.usage.items()}),
        ]
    )
    assert key not in scanned and key[8:] not in scanned
    for request in server.requests:
        assert request.headers.get("authorization") == f"Bearer {key}"
        others = {k: v for k, v in request.headers.items() if k != "authorization"}
        assert key not in json.dumps(others) and key not in request.path
        assert key not in request.raw or "my key is" in request.raw  # only the model's own echo, repaired


# ---------------------------------------------------------------- configuration and prompts
def test_missing_key_without_base_url_is_a_brain_error(monkeypatch, tmp_path):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BrainError, match="OPENAI_API_KEY"):
        OpenAIBrain("gpt-4o-mini")


def test_key_and_base_url_come_from_dotenv(monkeypatch, tmp_path, key):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    with FakeLLMServer([reply_json(GOOD)]) as server:
        (tmp_path / ".env").write_text(
            f'# local settings\nexport OPENAI_API_KEY="{key}"\nOPENAI_BASE_URL={server.base_url}\n'
        )
        assert secrets.describe() == {"OPENAI_API_KEY": "set", "OPENAI_BASE_URL": server.base_url}
        brain = OpenAIBrain("gpt-4o-mini", fallback=FakeOfflineBrain())
        assert brain.decide("plan", CONTEXT, Opinion).label == "good"
    assert server.chat_requests[0].headers["authorization"] == f"Bearer {key}"


def test_environment_wins_over_dotenv_and_describe(tmp_path):
    (tmp_path / ".env").write_text("OPENAI_API_KEY=from-dotenv-value\n")
    assert secrets.load_api_key({"OPENAI_API_KEY": "from-env-value"}, tmp_path / ".env") == "from-env-value"
    assert secrets.load_api_key({}, tmp_path / ".env") == "from-dotenv-value"
    assert secrets.describe({}, None) == {"OPENAI_API_KEY": "not set", "OPENAI_BASE_URL": "default"}
    assert (
        secrets.describe({"OPENAI_BASE_URL": "http://u:pw@host:8000/v1"}, None)["OPENAI_BASE_URL"]
        == "http://***@host:8000/v1"
    )


def test_redact_scrubs_known_and_key_shaped_values():
    secrets.register_secret("hunter2-very-secret")
    text = (
        "a hunter2-very-secret b sk-proj-abcdefghijklmnop1234 "
        "Authorization: Bearer abc.def.ghijklmnop http://user:pass@example.com/v1"
    )
    clean = secrets.redact(text)
    for leaked in ("hunter2-very-secret", "sk-proj-abcdefghijklmnop1234", "abc.def.ghijklmnop", "user:pass"):
        assert leaked not in clean
    assert clean.startswith("a *** b ***")
    assert (
        secrets.redact("use scikit-learn and task-specific sk-learn")
        == "use scikit-learn and task-specific sk-learn"
    )


@pytest.mark.parametrize("role", ROLES)
def test_every_role_has_a_versioned_prompt_that_renders(role):
    assert load_prompt(role).startswith(f"<!-- prompt: {role} v")
    assert prompt_version(role).startswith(f"{role} v")
    text = render_prompt(role, role=role, context={}, context_json='{"anything": 1}', schema_json='{"S": 1}')
    assert '{"anything": 1}' in text and '{"S": 1}' in text and "<!--" not in text and "JSON" in text


# ---------------------------------------------------------------- the run's budget, true counts, who decided
def test_a_reply_without_usage_is_counted_by_the_counter_and_says_so(key):
    with FakeLLMServer([reply_json(GOOD, no_usage=True)]) as server:
        brain = make_brain(server, key)
        brain.decide("plan", CONTEXT, Opinion)
        sent = server.chat_requests[0].body["messages"]
    usage = brain.usage["plan"]
    assert usage.calls == 1 and usage.tokenizer_calls == 1 and usage.used == 1
    assert usage.prompt_tokens == brain.counter.prompt_tokens(sent) > 0
    assert usage.completion_tokens == brain.counter.text_tokens(json.dumps(GOOD)) > 0
    assert "estimate" in brain.describe()["tokens_counted_by"]
    assert any("estimated" in n for n in brain.notes) is False  # no tokenizer was asked for: no complaint
    bad = make_brain(None, key, tokenizer="/nonexistent/model.gguf")
    assert bad.counter.name.startswith("estimate") and any("no such file" in n for n in bad.notes)


def test_every_request_is_capped_and_the_run_stops_asking_at_its_call_budget(key):
    with FakeLLMServer([reply_json(GOOD)] * 5) as server:
        brain = make_brain(server, key, max_calls=3, max_completion_tokens=300)
        brain.begin_run()
        for role in ("verify_request", "plan", "rank_models", "verify_plans"):
            brain.decide(role, CONTEXT, Opinion)
    assert len(server.chat_requests) == 3
    assert all(r.body["max_tokens"] <= 300 for r in server.chat_requests)
    last = brain.decisions[-1]
    assert (last.role, last.decided_by, last.llm_answer, last.calls) == ("verify_plans", "offline", "not_asked", 0)
    assert "budget of 3 requests is spent" in last.reason
    assert [d.llm_answer for d in brain.decisions[:3]] == ["used"] * 3
    brain.begin_run()  # a new run has its own budget
    assert brain.run_usage().calls == 0


def test_a_repair_round_is_skipped_when_it_would_starve_the_roles_not_yet_asked(key):
    with FakeLLMServer([reply_text("not json"), reply_json(GOOD)]) as server:
        brain = make_brain(server, key, max_calls=9)  # 9 usual roles: no request to spare for a repair
        brain.begin_run()
        brain.decide("verify_request", CONTEXT, Opinion)
        brain.decide("parse_requirements", CONTEXT, Opinion)
    assert len(server.chat_requests) == 2
    first = brain.decisions[0]
    assert (first.decided_by, first.llm_answer, first.calls) == ("offline", "rejected", 1)
    assert "no repair round" in first.reason and "8 kept for the roles not yet asked" in first.reason
    assert brain.usage["verify_request"].fallbacks == 1 and brain.usage["parse_requirements"].used == 1


def test_the_token_budget_keeps_a_prompt_from_being_sent_and_bounds_the_completion(key):
    with FakeLLMServer([reply_json(GOOD, usage={"prompt_tokens": 700, "completion_tokens": 100})] * 2) as server:
        brain = make_brain(server, key, max_run_tokens=1200, max_completion_tokens=None)
        brain.begin_run()
        brain.decide("plan", CONTEXT, Opinion)
        prompt = brain.counter.prompt_tokens(server.chat_requests[0].body["messages"])
        assert server.chat_requests[0].body["max_tokens"] == 1200 - prompt
        brain.decide("verify_plans", CONTEXT, Opinion)  # 800 spent: no room for this prompt
    assert len(server.chat_requests) == 1
    assert "budget of 1200 tokens is too small" in brain.decisions[-1].reason


def test_max_completion_tokens_is_used_where_max_tokens_is_refused(key):
    refusal = status(400, "Unsupported parameter: 'max_tokens' is not supported with this model. "
                          "Use 'max_completion_tokens' instead.")
    with FakeLLMServer([refusal, reply_json(GOOD)]) as server:
        brain = make_brain(server, key, model="o4-mini", max_completion_tokens=500)
        assert brain.decide("plan", CONTEXT, Opinion) == Opinion(**GOOD)
    first, second = (r.body for r in server.chat_requests)
    assert first["max_tokens"] == 500 and "max_tokens" not in second and second["max_completion_tokens"] == 500


def test_decisions_say_who_decided_and_why(key):
    script = [reply_json(GOOD), reply_text("no"), reply_text("still no"), status(400, "Bad request.")]
    with FakeLLMServer(script) as server:
        brain = make_brain(server, key)
        for role in ("plan", "rank_models", "debug"):
            brain.decide(role, CONTEXT, Opinion)
    used, rejected, failed = brain.decisions
    assert (used.role, used.decided_by, used.llm_answer, used.calls) == ("plan", "llm", "used", 1)
    assert used.tokens == brain.usage["plan"].tokens > 0
    assert (rejected.decided_by, rejected.llm_answer, rejected.calls) == ("offline", "rejected", 2)
    assert rejected.reason.startswith("invalid answer after one repair")
    assert (failed.llm_answer, failed.calls) == ("no_answer", 0) and "HTTP 400" in failed.reason
