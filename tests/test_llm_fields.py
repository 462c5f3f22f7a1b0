"""With an LLM brain, the rules' confident fields stand and the LLM is asked only about the uncertain ones;
field_sources say who decided each field (the real openai SDK against the local fake server)."""
from __future__ import annotations

import json

import pytest
from fake_llm_server import FakeLLMServer, reply_json, reply_text
from shared_data import dataset

from automl_agent_jupyter.agents.data import DataAgent
from automl_agent_jupyter.agents.prompt import PromptAgent
from automl_agent_jupyter.brains.offline import OfflineBrain
from automl_agent_jupyter.brains.openai_brain import OpenAIBrain

# the LLM's answer disagrees with the rules on every field: only the uncertain one may change
ANSWER = {"problem": {"downstream_task": "tabular_regression",
                      "performance_metrics": [{"name": "accuracy", "value": 0.5}]},
          "dataset": [{"name": "banana", "target_variables": ["Size"]}]}


@pytest.fixture
def banana_peek():
    path = dataset("banana_quality/banana_quality.csv")
    return path, DataAgent(OfflineBrain()).peek(path)


def brain(server: FakeLLMServer) -> OpenAIBrain:
    return OpenAIBrain("fake-model", base_url=server.base_url, api_key="k", fallback=OfflineBrain(),
                       max_retries=0, dotenv_path=None)


def test_confident_fields_are_not_asked_about(banana_peek):
    path, peek = banana_peek
    with FakeLLMServer([reply_json(ANSWER)]) as server:
        b = brain(server)
        req = PromptAgent(b).parse("Classify banana quality as Good or Bad with F1 of at least 0.9", path, peek)
    assert server.chat_requests == []  # every field was read confidently: no question for the LLM
    assert (req.task, req.target, req.problem.performance_metrics[0].name) == ("tabular_classification", "Quality",
                                                                              "f1")
    assert {f.source for f in req.field_sources.values()} == {"agent"}
    (d,) = b.decisions
    assert (d.role, d.decided_by, d.llm_answer) == ("parse_requirements", "offline", "not_asked")


def test_the_llm_decides_only_the_uncertain_field(banana_peek):
    path, peek = banana_peek
    with FakeLLMServer([reply_json(ANSWER)]) as server:
        b = brain(server)
        req = PromptAgent(b).parse("Build a model for this data with F1 of at least 0.9", path, peek)
        sent = server.chat_requests[0].body["messages"][1]["content"]
    context = json.loads(sent.split("```json\n", 1)[1].split("\n```", 1)[0])
    assert context["ask_about"] == ["target"] and context["rules_reading"]["target"]["value"] == "Quality"
    assert "Only the fields listed in `ask_about` are open" in sent
    assert req.target == "Size" and req.field_sources["target"].source == "llm"
    assert "the rules had read 'Quality'" in req.field_sources["target"].evidence
    # the confident fields stand, though the LLM answered otherwise
    assert req.task == "tabular_classification" and req.field_sources["task"].source == "agent"
    assert [m.name for m in req.problem.performance_metrics] == ["f1"]
    assert PromptAgent(b).questions(req, peek) == []  # decided: nothing left to ask the user


def test_a_rejected_answer_leaves_the_rules_reading_and_says_why(banana_peek):
    path, peek = banana_peek
    with FakeLLMServer([reply_text("no idea"), reply_text("still no idea")]) as server:
        b = brain(server)
        req = PromptAgent(b).parse("Build a model for this data with F1 of at least 0.9", path, peek)
    assert len(server.chat_requests) == 2  # the answer and its repair round
    src = req.field_sources["target"]
    assert req.target == "Quality" and src.source == "agent" and src.confidence < 0.5
    assert "invalid answer after one repair" in src.evidence and "the rules' reading kept" in src.evidence
    assert [q.field for q in PromptAgent(b).questions(req, peek)] == ["target"]  # so the user is asked
