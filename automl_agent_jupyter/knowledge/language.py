"""The words the offline prompt agent reads requests with (package data: language.yaml)."""
from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import yaml


@lru_cache(maxsize=1)
def language() -> dict[str, Any]:
    """Synonyms, cue words, metric and model names, units (see language.yaml)."""
    text = resources.files(__package__).joinpath("language.yaml").read_text(encoding="utf-8")
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
