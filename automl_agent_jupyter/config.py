"""Settings for a run. Defaults come from the environment (AUTOML_AGENT_*); secrets never live here.

The LLM is chosen by ``llm`` (a model name on an OpenAI-compatible server; None or "offline": the
offline rules) and ``base_url`` (default ``AUTOML_AGENT_BASE_URL``, else ``OPENAI_BASE_URL``, else the
brain reads ``.env``, else OpenAI). The API key is read by the brain from ``OPENAI_API_KEY`` (environment
or ``.env``) and is never a setting, so it cannot end up in a record.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import UserInputError


def _env(name: str, default: Any) -> Any:
    raw = os.environ.get(f"AUTOML_AGENT_{name.upper()}")
    if raw is None:
        return default
    return type(default)(raw) if default is not None and not isinstance(default, bool) else \
        (raw.lower() in ("1", "true", "yes") if isinstance(default, bool) else raw)


def parse_role_models(raw: str | dict[str, str] | None) -> dict[str, str]:
    """``"parse_requirements=gpt-4.1-nano,debug=qwen2.5-coder"`` (or a JSON object) -> {role: model}."""
    if not raw:
        return {}
    if isinstance(raw, dict):
        return {str(k): str(v) for k, v in raw.items()}
    raw = raw.strip()
    if raw.startswith("{"):
        return {str(k): str(v) for k, v in json.loads(raw).items()}
    pairs = [p.split("=", 1) for p in raw.replace(";", ",").split(",") if p.strip()]
    if any(len(p) != 2 for p in pairs):
        raise UserInputError(f"role models must look like 'role=model,role=model', got {raw!r}")
    return {r.strip(): m.strip() for r, m in pairs}


def parse_prices(raw: str | dict[str, Any] | None) -> dict[str, tuple[float, float]] | None:
    """``"my-model=0.2/0.8,other=1/4"`` (USD per 1M prompt/completion tokens) or JSON -> price table."""
    if not raw:
        return None
    if isinstance(raw, str) and raw.strip().startswith("{"):
        raw = json.loads(raw)
    if isinstance(raw, dict):
        return {str(k): (float(v[0]), float(v[1])) for k, v in raw.items()}
    out = {}
    for part in raw.replace(";", ",").split(","):
        if part.strip():
            name, _, pair = part.partition("=")
            prompt, _, completion = pair.partition("/")
            try:
                out[name.strip()] = (float(prompt), float(completion))
            except ValueError:
                raise UserInputError(f"prices must look like 'model=0.15/0.60' (USD per 1M prompt/completion "
                                     f"tokens), got {part.strip()!r}") from None
    return out


@dataclass
class Settings:
    n_plans: int = field(default_factory=lambda: _env("n_plans", 3))
    top_k: int = field(default_factory=lambda: _env("top_k", 3))
    seed: int = field(default_factory=lambda: _env("seed", 0))
    budget_s: float = field(default_factory=lambda: _env("budget_s", 60.0))  # wall-clock seconds for the whole run
    max_repairs: int = field(default_factory=lambda: _env("max_repairs", 3))  # per cell
    max_revisions: int = field(default_factory=lambda: _env("max_revisions", 2))
    storage: str = field(default_factory=lambda: _env("storage", "sqlite"))  # sqlite | memory | a database URL
    runs_dir: str = field(default_factory=lambda: _env("runs_dir", "runs"))
    llm: str | None = field(default_factory=lambda: _env("llm", None))
    probe: bool = field(default_factory=lambda: _env("probe", True))
    # where retrieval looks: "local" (the shipped knowledge base) plus any of huggingface, kaggle, arxiv
    knowledge_sources: str = field(default_factory=lambda: _env("knowledge_sources", "local"))
    # ---- the LLM brain (used only when llm names a model)
    base_url: str | None = field(repr=False, default_factory=lambda: _env("base_url", None)
                                 or os.environ.get("OPENAI_BASE_URL"))
    role_models: dict[str, str] = field(default_factory=lambda: parse_role_models(_env("role_models", None)))
    llm_timeout: float = field(default_factory=lambda: _env("llm_timeout", 60.0))  # seconds per request
    llm_max_retries: int = field(default_factory=lambda: _env("llm_max_retries", 3))  # on 429 / 5xx / network
    # USD per 1M (prompt, completion) tokens, merged over the built-in table; None: the built-in table
    prices: dict[str, tuple[float, float]] | None = field(default_factory=lambda: parse_prices(_env("prices", None)))
    # ---- code an LLM wrote: checked before it runs; flagged code runs only when the user approved it
    approve_flagged_code: bool = field(default_factory=lambda: _env("approve_flagged_code", False))
    allowed_hosts: list[str] = field(default_factory=lambda: [h for h in _env("allowed_hosts", "").split(",")
                                                             if h.strip()])

    def __post_init__(self) -> None:
        self.role_models = parse_role_models(self.role_models)
        self.prices = parse_prices(self.prices)

    def optuna_storage(self, run_dir: str) -> str | None:
        if self.storage == "memory":
            return None
        if self.storage == "sqlite":
            return f"sqlite:///{run_dir}/optuna.sqlite3"
        return self.storage

    def as_dict(self) -> dict[str, Any]:
        """The settings, safe to show (credentials inside the base URL are masked)."""
        from .brains.secrets import redact

        out = asdict(self)
        out["base_url"] = redact(self.base_url) if self.base_url else None
        return out
