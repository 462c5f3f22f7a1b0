"""Retrieval for retrieval-augmented planning.

The local source ranks the shipped catalogue (models, preprocessing recipes, insights) by relevance
to the requirements. Online sources (Hugging Face Hub, Kaggle, arXiv) implement the same small
interface; when they cannot be reached they say so and retrieval goes on with what it has.
"""
from __future__ import annotations

import functools
import re
from abc import ABC, abstractmethod
from importlib import resources
from typing import Any

import yaml

from ..schema import KnowledgeItem, Requirements

_WORD = re.compile(r"[a-z0-9]+")


@functools.lru_cache(maxsize=1)
def catalogue() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("catalogue.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def model_entry(name: str) -> dict[str, Any]:
    return catalogue()["models"][name]


def _tokens(text: str) -> set[str]:
    return set(_WORD.findall(text.lower().replace("_", " ")))


def query_for(req: Requirements) -> str:
    p = req.problem
    parts = [p.downstream_task or "", p.area, p.application_domain, p.description]
    parts += [m.name for m in p.performance_metrics] + [c.name for c in p.complexity_metrics]
    parts += [m.name or m.family for m in req.model]
    return " ".join(parts)


class KnowledgeSource(ABC):
    """Anything that can answer a knowledge query."""

    name = "source"

    @abstractmethod
    def search(self, query: str, task: str | None, limit: int) -> list[KnowledgeItem]:
        """Items relevant to ``query`` for ``task``, best first."""


class LocalKnowledge(KnowledgeSource):
    """The catalogue shipped as package data."""

    name = "local"

    def _items(self) -> list[tuple[KnowledgeItem, list[str]]]:
        cat = catalogue()
        items = []
        for key, m in cat["models"].items():
            text = f"{m['when']} Preprocessing: {m['preprocessing']}."
            items.append((KnowledgeItem(id=f"model:{key}", title=m["title"], text=text, source=m["source"],
                                        kind="model"), m["tasks"]))
        for key, p in cat["preprocessing"].items():
            items.append((KnowledgeItem(id=f"preprocessing:{key}", title=p["title"], text=p["text"],
                                        source=p["source"], kind="preprocessing"), []))
        for ins in cat["insights"]:
            items.append((KnowledgeItem(id=f"insight:{ins['id']}", title=ins["title"], text=ins["text"],
                                        source=ins["source"], kind="insight"), ins["tasks"]))
        return items

    def search(self, query: str, task: str | None, limit: int = 8) -> list[KnowledgeItem]:
        q = _tokens(query)
        scored = []
        for item, tasks in self._items():
            if task and tasks and task not in tasks:
                continue
            words = _tokens(f"{item.title} {item.text}")
            overlap = len(q & words) / (1 + len(words)) ** 0.5
            bonus = 1.0 if task and task in tasks else 0.0
            scored.append(item.model_copy(update={"score": round(overlap + bonus, 3)}))
        scored.sort(key=lambda i: -i.score)
        return scored[:limit]


class HuggingFaceHubSource(KnowledgeSource):
    """Model cards on the Hugging Face Hub (needs network; fails clearly offline)."""

    name = "huggingface"

    def search(self, query: str, task: str | None, limit: int = 5) -> list[KnowledgeItem]:
        from huggingface_hub import HfApi  # lazy: optional dependency

        models = HfApi().list_models(search=query[:60], limit=limit)
        return [KnowledgeItem(id=f"hf:{m.id}", title=m.id, text=f"Hub model {m.id}",
                              source=f"https://huggingface.co/{m.id}", kind="model") for m in models]


def retrieve(req: Requirements, sources: list[KnowledgeSource] | None = None,
             limit: int = 8) -> tuple[list[KnowledgeItem], list[str]]:
    """Items from every source, best first, and one note per source that could not answer."""
    sources = sources or [LocalKnowledge()]
    query, items, notes = query_for(req), [], []
    for src in sources:
        try:
            items += src.search(query, req.task, limit)
        except Exception as exc:  # an unreachable hub must not stop planning
            notes.append(f"knowledge source '{src.name}' unavailable: {type(exc).__name__}: {str(exc)[:120]}")
    items.sort(key=lambda i: -i.score)
    return items[:limit], notes
