"""The paper's agents. The manager lives in manager.py; these are the specialists it calls."""
from .data import DataAgent
from .model import ModelAgent
from .operation import OperationAgent
from .prompt import PromptAgent

__all__ = ["DataAgent", "ModelAgent", "OperationAgent", "PromptAgent"]
