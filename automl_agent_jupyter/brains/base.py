"""One small interface every brain implements: the offline rules and any LLM.

An agent asks its brain for a decision with a typed request (``schema.Request``: one model per
*role*, e.g. ``PlanRequest`` whose answer is a ``PlanSet``): ``brain.ask(PlanRequest(...))`` returns a
validated ``PlanSet``. A misspelt or missing context key fails when the request is built. Underneath,
``decide(role, context, response_model)`` is what a brain implements (the request is the context). The
offline brain answers from rules; an LLM brain answers from a model and falls back to the offline brain
when the answer is unusable. Usage per role is counted on the brain, and ``source``
says who answered each role last ("llm" or "offline"), so that an LLM's view is never shown for a
rule's answer.

The roles ``data_analysis``, ``rank_models`` and ``verify_plans`` answer for all plans at once (the
context carries ``plans``), so a full run needs about ten LLM calls whatever the number of plans.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

from ..schema import REQUESTS, Decision, LLMUsage, Request

T = TypeVar("T", bound=BaseModel)
Context = Request[Any] | Mapping[str, Any]  # a typed request; a plain mapping only from tests and old callers

# Every role the agents ask for, in pipeline order. Prompts live in brains/prompts/<role>.md.
ROLES = (
    "verify_request",        # manager: is it ML, does it carry the essentials
    "parse_requirements",    # prompt agent: instruction -> Requirements
    "summarise_knowledge",   # manager: retrieved items -> short insights
    "plan",                  # manager: P diverse plans, decomposed into data / model steps
    "data_analysis",         # data agent: preprocessing plan from the real profile, all plans at once
    "rank_models",           # model agent: training-free predictions, top-k, all plans at once
    "verify_plans",          # manager: opinions beside the numeric execution verification, all plans
    "write_code",            # operation agent: fill / extend the tested templates
    "debug",                 # operation agent: repair a failed cell from its traceback
    "verify_implementation", # manager: opinion beside the numeric implementation verification
    "revise",                # manager: a revised plan after a failed implementation
)


class Brain(ABC):
    """A source of decisions for the agents."""

    name: str = "brain"
    llm: bool = False  # answers come from a language model (the prompt agent then asks it only what the rules doubt)

    def __init__(self) -> None:
        self.usage: dict[str, LLMUsage] = {}
        self.notes: list[str] = []  # human-readable events, e.g. "plan: invalid JSON twice, offline rules used"
        self.source: dict[str, str] = {}  # role -> who gave its last answer: "llm" | "offline"
        self.decisions: list[Decision] = []  # an LLM brain's questions, in order, with who decided each

    def begin_run(self) -> None:  # noqa: B027 - a hook: only brains with per-run limits need it
        """A run starts: per-run limits (an LLM brain's call and token budget) count from here."""

    def not_asked(self, role: str, why: str) -> None:
        """``role`` was decided by the rules without asking (e.g. every field was read confidently)."""
        self.usage_for(role).fallbacks += 1
        self.decisions.append(Decision(role=role, decided_by="offline", llm_answer="not_asked", reason=why))

    def ask(self, request: Request[T]) -> T:
        """The answer to a typed request, validated as the request's answer model."""
        return self.decide(request.role, request, request.answer)  # type: ignore[arg-type]

    @abstractmethod
    def decide(self, role: str, context: Context, response_model: type[T]) -> T:
        """Answer ``role`` for ``context`` as a validated ``response_model``."""

    def usage_for(self, role: str) -> LLMUsage:
        return self.usage.setdefault(role, LLMUsage())

    def usage_since(self, before: dict[str, LLMUsage]) -> dict[str, LLMUsage]:
        """Usage per role since the snapshot ``before`` (a brain shared by several runs counts them all)."""
        out = {}
        for role, now in self.usage.items():
            old = before.get(role, LLMUsage())
            out[role] = LLMUsage(**{k: _rounded(v - getattr(old, k)) for k, v in now.model_dump().items()})
        return out

    def from_llm(self, role: str) -> bool:
        """Whether the last answer for ``role`` came from a language model (not from rules)."""
        return self.source.get(role) == "llm"

    def describe(self) -> dict[str, Any]:
        """What this brain is, safe to show and to save (never a key)."""
        return {"brain": self.name}


def as_request(role: str, context: Context) -> Request[Any]:
    """``context`` as the role's typed request (a mapping is checked: an unknown or missing key fails here)."""
    if isinstance(context, Request):
        return context
    return REQUESTS[role].model_validate(dict(context))


def context_of(context: Context) -> dict[str, Any]:
    """The context as a mapping of its values (for prompts and for validating an answer against it)."""
    return context.context() if isinstance(context, Request) else dict(context)


def usage_total(usages: Iterable[LLMUsage]) -> LLMUsage:
    """The sum of several roles' usage."""
    total = LLMUsage()
    for u in usages:
        for k, v in u.model_dump().items():
            setattr(total, k, _rounded(getattr(total, k) + v))
    return total


def _rounded(v: Any) -> Any:
    return round(v, 8) if isinstance(v, float) else v
