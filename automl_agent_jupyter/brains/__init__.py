"""Brains: the offline rules (default) and LLMs behind one interface."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import ROLES, Brain

if TYPE_CHECKING:
    from ..config import Settings


def make_brain(settings: Settings | str | None = None, **options: Any) -> Brain:
    """The offline brain, or an LLM brain that falls back to the offline rules.

    ``settings`` is a :class:`~automl_agent_jupyter.config.Settings` (its ``llm``, ``base_url``,
    ``role_models``, ``llm_timeout``, ``llm_max_retries``, ``prices``, the run's LLM budget
    ``llm_max_calls`` / ``llm_max_tokens`` / ``llm_max_completion_tokens`` and ``llm_tokenizer``) or just a model name.
    ``options`` go to :class:`~automl_agent_jupyter.brains.openai_brain.OpenAIBrain` and win over the
    settings (e.g. ``api_key`` from a config file: it is kept by the brain's client only).
    """
    from .offline import OfflineBrain

    llm = settings if isinstance(settings, str) or settings is None else settings.llm
    if not llm or llm == "offline":
        return OfflineBrain()
    from .openai_brain import DEFAULT_PRICES, OpenAIBrain

    if not isinstance(settings, (str, type(None))):
        options = {"base_url": settings.base_url, "role_models": settings.role_models or None,
                   "timeout": settings.llm_timeout, "max_retries": settings.llm_max_retries,
                   "prices": {**DEFAULT_PRICES, **settings.prices} if settings.prices else None,
                   "tokenizer": settings.llm_tokenizer, "max_calls": settings.llm_max_calls,
                   "max_run_tokens": settings.llm_max_tokens,
                   "max_completion_tokens": settings.llm_max_completion_tokens, **options}
    return OpenAIBrain(model=llm, fallback=OfflineBrain(), **options)


__all__ = ["ROLES", "Brain", "make_brain"]
