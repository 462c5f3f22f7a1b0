"""Jinja2 code templates: one file per generated cell, grouped by task family (package data)."""
from __future__ import annotations

import functools
import pprint
from typing import Any

import jinja2


def pyrepr(value: Any) -> str:
    """A Python literal for generated code (strings, paths, lists, dicts, None, bools)."""
    if hasattr(value, "__fspath__"):
        value = str(value)
    return pprint.pformat(value, width=100, sort_dicts=False)


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader(__package__, "."), trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=False, undefined=jinja2.StrictUndefined)
    env.filters["pyrepr"] = pyrepr
    from ..tasks.scoring import LOWER_IS_BETTER, generated_source

    env.globals["metric_functions"] = generated_source()  # tasks/scoring.py's metrics, for standalone cells
    env.globals["lower_is_better"] = LOWER_IS_BETTER  # the error metrics, as a literal: {{ lower_is_better | pyrepr }}
    return env


def render(name: str, **context: Any) -> str:
    """Render templates/<name>.py.j2 into source code."""
    return environment().get_template(f"{name}.py.j2").render(**context).strip() + "\n"
