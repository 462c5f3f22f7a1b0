"""Typed brain requests: one per role beside its answer; a misspelt or missing key fails when built."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from automl_agent_jupyter.brains.base import ROLES
from automl_agent_jupyter.brains.offline import RULES, OfflineBrain
from automl_agent_jupyter.brains.openai_brain import OpenAIBrain
from automl_agent_jupyter.schema import (
    REQUESTS,
    KnowledgeSummary,
    PlanRequest,
    PlanSet,
    RequestCheck,
    Requirements,
    VerifyRequest,
)


def test_every_role_has_a_request_and_a_rule():
    assert set(REQUESTS) == set(ROLES) == set(RULES)
    assert PlanRequest.answer is PlanSet and REQUESTS["verify_request"].answer is RequestCheck
    assert REQUESTS["summarise_knowledge"].answer is KnowledgeSummary


def test_a_misspelt_or_missing_key_fails_at_construction():
    with pytest.raises(ValidationError, match="instrucion"):
        VerifyRequest(instrucion="classify", data_path=None)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="pool"):
        PlanRequest(requirements=Requirements(), data_report={"path": "x"}, n_plans=2, top_k=1, recipes=None)
    with pytest.raises(ValidationError, match="data_pth"):  # a plain mapping is checked the same way
        OfflineBrain().decide("verify_request", {"instruction": "x", "data_pth": None}, RequestCheck)


def test_ask_returns_the_roles_answer():
    answer = OfflineBrain().ask(VerifyRequest(instruction="", data_path=None))
    assert isinstance(answer, RequestCheck) and answer.status == "needs_clarification"


def test_the_llm_prompt_lists_the_requests_keys():
    brain = OpenAIBrain("gpt-4o-mini", base_url="http://127.0.0.1:9/v1", api_key="sk-test", dotenv_path=None)
    system, user = brain.messages("verify_request", VerifyRequest(instruction="classify it", data_path="d.csv"),
                                  RequestCheck)
    assert "- `instruction`: the user's instruction" in system["content"]
    assert "- `data_path`:" in system["content"] and '"classify it"' in user["content"]
