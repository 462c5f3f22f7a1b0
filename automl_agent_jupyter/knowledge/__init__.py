"""The embedded knowledge base (package data) and retrieval over it and online sources."""
from .retrieval import KnowledgeSource, LocalKnowledge, catalogue, model_entry, recipe_text, retrieve

__all__ = ["KnowledgeSource", "LocalKnowledge", "catalogue", "model_entry", "recipe_text", "retrieve"]
