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


def recipe_text(recipe: str) -> str:
    """What a preprocessing recipe does (the catalogue's ``recipes``); the name itself when unknown."""
    return str(catalogue().get("recipes", {}).get(recipe, {}).get("text", recipe))


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

        models = HfApi().list_models(search=" ".join(query.split()[:4]), limit=limit)
        return [KnowledgeItem(id=f"hf:{m.id}", title=m.id, text=f"Hub model {m.id}",
                              source=f"https://huggingface.co/{m.id}", kind="model", score=0.5) for m in models]


class KaggleSource(KnowledgeSource):
    """Kaggle datasets and notebooks by keyword (needs credentials and network)."""

    name = "kaggle"

    def search(self, query: str, task: str | None, limit: int = 5) -> list[KnowledgeItem]:
        from kaggle.api.kaggle_api_extended import KaggleApi  # lazy: importing kaggle prints a banner

        api = KaggleApi()
        api.authenticate()
        found = api.dataset_list(search=" ".join(query.split()[:4]))[:limit]
        return [KnowledgeItem(id=f"kaggle:{d.ref}", title=str(d.title), text=f"Kaggle dataset {d.ref}",
                              source=f"https://www.kaggle.com/datasets/{d.ref}", kind="dataset", score=0.4)
                for d in found]


class ArxivSource(KnowledgeSource):
    """Paper abstracts from the arXiv API (Atom feed)."""

    name = "arxiv"

    def __init__(self, base_url: str = "http://export.arxiv.org/api/query", timeout: float = 10.0) -> None:
        self.base_url, self.timeout = base_url, timeout

    def search(self, query: str, task: str | None, limit: int = 3) -> list[KnowledgeItem]:
        import urllib.parse
        import urllib.request
        import xml.etree.ElementTree as ET

        words = [w for w in _WORD.findall((task or "").replace("_", " ") + " " + query.lower()) if len(w) > 3][:6]
        url = f"{self.base_url}?" + urllib.parse.urlencode(
            {"search_query": " AND ".join(f"all:{w}" for w in words) or "all:automl", "max_results": limit})
        with urllib.request.urlopen(url, timeout=self.timeout) as resp:  # noqa: S310 - a fixed https/http API
            root = ET.fromstring(resp.read())
        ns = {"a": "http://www.w3.org/2005/Atom"}
        items = []
        for entry in root.findall("a:entry", ns)[:limit]:
            title = " ".join((entry.findtext("a:title", "", ns) or "").split())
            summary = " ".join((entry.findtext("a:summary", "", ns) or "").split())[:600]
            link = entry.findtext("a:id", "", ns)
            items.append(KnowledgeItem(id=f"arxiv:{link.rsplit('/', 1)[-1]}", title=title, text=summary,
                                       source=link, kind="insight", score=0.3))
        return items


ONLINE_SOURCES = {"huggingface": HuggingFaceHubSource, "kaggle": KaggleSource, "arxiv": ArxivSource}


def sources_from(names: str | list[str] | None) -> list[KnowledgeSource]:
    """``"local,arxiv"`` -> source objects (unknown names are an error the user sees in one line)."""
    if not names:
        return [LocalKnowledge()]
    wanted = [n.strip() for n in (names.split(",") if isinstance(names, str) else names) if n.strip()]
    out: list[KnowledgeSource] = []
    for n in wanted:
        if n == "local":
            out.append(LocalKnowledge())
        elif n in ONLINE_SOURCES:
            out.append(ONLINE_SOURCES[n]())
        else:
            from ..errors import UserInputError

            raise UserInputError(f"unknown knowledge source '{n}'; choose from local, {', '.join(ONLINE_SOURCES)}")
    return out


def retrieve(req: Requirements, sources: list[KnowledgeSource] | None = None,
             limit: int = 8) -> tuple[list[KnowledgeItem], list[str]]:
    """Up to ``limit`` items from every source, and one note per source that could not answer."""
    sources = sources or [LocalKnowledge()]
    query, items, notes = query_for(req), [], []
    for src in sources:
        try:
            items += sorted(src.search(query, req.task, limit), key=lambda i: -i.score)[:limit]
        except Exception as exc:  # an unreachable hub must not stop planning
            notes.append(f"knowledge source '{src.name}' unavailable: {type(exc).__name__}: {str(exc)[:120]}")
    return items, notes  # each source's best first; local knowledge leads
