"""Task modules: the task-specific half of the data, model and operation agents."""
from __future__ import annotations

from ..errors import UserInputError
from .base import TaskModule
from .scoring import METRIC_DIRECTION

_REGISTRY: dict[str, TaskModule] = {}


def for_task(task: str | None) -> TaskModule:
    """The module that handles ``task`` (imported on first use)."""
    if not _REGISTRY:
        from .graph import GraphTask
        from .image import ImageTask
        from .tabular import TabularTask
        from .text import TextTask
        from .timeseries import TimeSeriesTask

        # peek_data asks the modules with accepts() in this order; tabular takes whatever is left
        for module in (GraphTask(), ImageTask(), TimeSeriesTask(), TextTask(), TabularTask()):
            for name in module.tasks:
                _REGISTRY[name] = module
    if task not in _REGISTRY:
        raise UserInputError(f"task '{task}' is not supported yet; supported: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[task]


def peek_data(path: str) -> dict:
    """A first look at whatever ``path`` holds, by the module whose modality it is."""
    for_task("tabular_classification")  # fills the registry
    for module in dict.fromkeys(_REGISTRY.values()):
        if getattr(module, "accepts", None) and module.accepts(path):
            return module.peek(path)
    return _REGISTRY["tabular_classification"].peek(path)


__all__ = ["METRIC_DIRECTION", "TaskModule", "for_task", "peek_data"]
