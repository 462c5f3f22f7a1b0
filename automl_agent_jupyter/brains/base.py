"""One small interface every brain implements: the offline rules and any LLM.

An agent asks its brain for a decision: a *role* (which prompt / which rule), a *context* (JSON-able
data: pydantic models, dicts, strings) and the pydantic *response model* the answer must validate
against. The offline brain answers from rules; an LLM brain answers from a model and falls back to the
offline brain when the answer is unusable. Usage per role is counted on the brain.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, TypeVar

from pydantic import BaseModel

from ..schema import LLMUsage

T = TypeVar("T", bound=BaseModel)

# Every role the agents ask for, in pipeline order. Prompts live in brains/prompts/<role>.md.
ROLES = (
    "verify_request",        # manager: is it ML, does it carry the essentials
    "parse_requirements",    # prompt agent: instruction -> Requirements
    "summarise_knowledge",   # manager: retrieved items -> short insights
    "plan",                  # manager: P diverse plans, decomposed into data / model steps
    "data_analysis",         # data agent: preprocessing plan from the real profile
    "rank_models",           # model agent: training-free predictions, top-k
    "verify_plans",          # manager: opinion beside the numeric execution verification
    "write_code",            # operation agent: fill / extend the tested templates
    "debug",                 # operation agent: repair a failed cell from its traceback
    "verify_implementation", # manager: opinion beside the numeric implementation verification
    "revise",                # manager: a revised plan after a failed implementation
)


class Brain(ABC):
    """A source of decisions for the agents."""

    name: str = "brain"

    def __init__(self) -> None:
        self.usage: dict[str, LLMUsage] = {}
        self.notes: list[str] = []  # human-readable events, e.g. "plan: invalid JSON twice, offline rules used"

    @abstractmethod
    def decide(self, role: str, context: dict[str, Any], response_model: type[T]) -> T:
        """Answer ``role`` for ``context`` as a validated ``response_model``."""

    def usage_for(self, role: str) -> LLMUsage:
        return self.usage.setdefault(role, LLMUsage())
