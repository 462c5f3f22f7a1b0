"""Counting an LLM's tokens when its server does not say.

The LLM brain takes token counts from the server's ``usage`` whenever a reply carries it. When it does
not (some proxies and older local servers leave it out), the counts come from the model's own tokenizer,
named by ``Settings.llm_tokenizer`` (``AUTOML_AGENT_LLM_TOKENIZER``):

- a ``.gguf`` file: its embedded vocabulary and chat template, read with ``llama_cpp`` (vocabulary only;
  the weights are not loaded). The prompt is formatted with the template and tokenized exactly as
  llama.cpp's server does, so the count matches that server's own.
- a Hugging Face tokenizer (a folder or a hub id already in the local cache): ``apply_chat_template`` and
  the tokenizer, through ``transformers``.

Without a tokenizer the count is an estimate of 4 characters a token, and its name says so. The same
counter also sizes a prompt before it is sent, so that a run stays within its token budget.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Protocol

Messages = list[dict[str, str]]
CHARS_PER_TOKEN = 4


class TokenCounter(Protocol):
    name: str  # what counted: "tokenizer SmolLM2-135M-Instruct.Q4_1.gguf", "estimate (4 characters a token)"
    exact: bool  # the model's own tokenizer (False: an estimate)

    def prompt_tokens(self, messages: Messages) -> int:
        """The tokens the model reads for ``messages`` (chat template included)."""

    def text_tokens(self, text: str) -> int:
        """The tokens of ``text`` alone (a completion)."""


class CharEstimate:
    """No tokenizer: 4 characters a token, plus a few tokens of chat markup per message."""

    name = f"estimate ({CHARS_PER_TOKEN} characters a token)"
    exact = False

    def prompt_tokens(self, messages: Messages) -> int:
        return sum(4 + self.text_tokens(str(m.get("content") or "")) for m in messages) + 2

    def text_tokens(self, text: str) -> int:
        return math.ceil(len(text) / CHARS_PER_TOKEN)


class GGUFTokenizer:
    """The vocabulary and chat template embedded in a GGUF model file (llama.cpp's own formatting)."""

    exact = True

    def __init__(self, path: str | Path) -> None:
        try:
            from llama_cpp import Llama
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter
        except ImportError:
            raise ValueError("counting tokens with a .gguf file needs llama-cpp-python") from None
        self.name = f"tokenizer {Path(path).name}"
        self._llama = Llama(model_path=str(path), vocab_only=True, verbose=False)
        template = self._llama.metadata.get("tokenizer.chat_template")
        self._format = None
        if template:
            eos, bos = self._llama.token_eos(), self._llama.token_bos()
            self._format = Jinja2ChatFormatter(
                template=template,
                eos_token=self._llama._model.token_get_text(eos) if eos != -1 else "",
                bos_token=self._llama._model.token_get_text(bos) if bos != -1 else "",
                stop_token_ids=[eos],
            )

    def prompt_tokens(self, messages: Messages) -> int:
        if self._format is None:
            return CharEstimate().prompt_tokens(messages)
        result = self._format(messages=messages)
        text = result.prompt.encode("utf-8")
        return len(self._llama.tokenize(text, add_bos=not result.added_special, special=True))

    def text_tokens(self, text: str) -> int:
        return len(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=False)) if text else 0


class HFTokenizer:
    """A Hugging Face tokenizer from a folder or the local cache (never downloaded here)."""

    exact = True

    def __init__(self, name: str) -> None:
        try:
            from transformers import AutoTokenizer
        except ImportError:
            raise ValueError("counting tokens with a Hugging Face tokenizer needs transformers") from None
        try:
            self._tok = AutoTokenizer.from_pretrained(name, local_files_only=True)
        except Exception as exc:  # noqa: BLE001 - any loading failure is one line for the user
            raise ValueError(f"tokenizer {name!r} is not a local folder or cached: {exc}") from None
        self.name = f"tokenizer {name}"

    def prompt_tokens(self, messages: Messages) -> int:
        if getattr(self._tok, "chat_template", None):
            ids: Any = self._tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
            ids = ids.get("input_ids", ids) if isinstance(ids, dict) or hasattr(ids, "keys") else ids
            return len(ids)
        return sum(4 + self.text_tokens(str(m.get("content") or "")) for m in messages) + 2

    def text_tokens(self, text: str) -> int:
        return len(self._tok.encode(text, add_special_tokens=False)) if text else 0


def load_counter(spec: str | None) -> tuple[TokenCounter, str | None]:
    """The counter for ``spec`` (a .gguf file or a tokenizer name), and why it fell back to the estimate."""
    if not spec:
        return CharEstimate(), None
    try:
        if spec.lower().endswith(".gguf"):
            if not Path(spec).is_file():
                raise ValueError(f"no such file: {spec}")
            return GGUFTokenizer(spec), None
        return HFTokenizer(spec), None
    except ValueError as exc:
        return CharEstimate(), f"token counts are estimated: {exc}"
