"""Brains: the offline rules (default) and LLMs behind one interface."""
from __future__ import annotations

from .base import ROLES, Brain


def make_brain(llm: str | None = None, **options) -> Brain:
    """The offline brain, or an LLM brain for model ``llm`` that falls back to the offline rules."""
    from .offline import OfflineBrain

    if not llm or llm == "offline":
        return OfflineBrain()
    from .openai_brain import OpenAIBrain

    return OpenAIBrain(model=llm, fallback=OfflineBrain(), **options)


__all__ = ["ROLES", "Brain", "make_brain"]
