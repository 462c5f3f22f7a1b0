"""Settings for a run. Defaults come from the environment (AUTOML_AGENT_*); secrets never live here.

The LLM is chosen by ``llm`` (a model name on an OpenAI-compatible server; None or "offline": the
offline rules) and ``base_url`` (default ``AUTOML_AGENT_BASE_URL``, else ``OPENAI_BASE_URL``, else the
brain reads ``.env``, else OpenAI). The API key is read by the brain from ``OPENAI_API_KEY`` (environment
or ``.env``) and is never a setting, so it cannot end up in a record.
"""
from __future__ import annotations

import json
import os
from dataclasses import Field, asdict, dataclass, field, fields
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


def _setting(name: str, default: Any, help: str, *, flag: str | None = None, configurable: bool = False,
             kind: type | None = None, repr: bool = True) -> Any:
    """A setting: its default from ``AUTOML_AGENT_<NAME>`` (else ``default``) and what it means.

    ``configurable``: also a ``c.AutoMLMagics.<name>`` traitlet of the notebook magic; ``flag``: also a
    ``%%automl`` option (the CLI's option of the same name). ``kind`` is the value's type where the default
    (None) does not say it."""
    return field(default_factory=lambda: _env(name, default), repr=repr,
                 metadata={"help": help, "flag": flag, "configurable": configurable,
                           "kind": kind or type(default)})


@dataclass
class Settings:
    """Every setting of a run, declared once: the magic's traitlets and options are derived from these."""

    n_plans: int = _setting("n_plans", 3, "Number of competing plans (the paper's P).", flag="--plans",
                            configurable=True)
    top_k: int = _setting("top_k", 3, "Candidate models per plan (the paper's k).", flag="--top-k",
                          configurable=True)
    seed: int = _setting("seed", 0, "Random seed for splits, tuning and models.", flag="--seed", configurable=True)
    budget_s: float = _setting("budget_s", 60.0, "Wall-clock seconds for the whole run, instruction to saved "
                               "model.", flag="--budget", configurable=True)
    max_repairs: int = _setting("max_repairs", 3, "Repairs per failed generated cell before giving up.",
                                configurable=True)
    max_revisions: int = _setting("max_revisions", 2, "Plan revisions after a failed implementation "
                                  "verification.", configurable=True)
    storage: str = _setting("storage", "sqlite", "Optuna storage: sqlite (a file in the run folder), memory, or a "
                            "database URL.")
    runs_dir: str = _setting("runs_dir", "runs", "Folder for run folders (relative to the kernel's working "
                             "directory).", configurable=True)
    llm: str | None = _setting("llm", None, "Model name on an OpenAI-compatible server; None: the offline brain.",
                               flag="--llm", configurable=True, kind=str)
    probe: bool = _setting("probe", True, "Rank candidates with a quick labelled probe fit (training-free "
                           "otherwise).", configurable=True)
    probe_share: float | None = _setting("probe_share", None, "Share of the budget the probes may cost, in the cost "
                                         "model's reference CPU seconds (None: the task's own, 2.5% for tables); the "
                                         "probe effort (rows, items, epochs) is sized from it before any probe "
                                         "runs, the same for every candidate.", kind=float)
    probe_effort: float | None = _setting("probe_effort", None, "A fixed probe effort (1, 0.5, 0.25 or 0.125 of the "
                                          "nominal probe) instead of the one sized from the budget.", kind=float)
    cluster: str | None = _setting("cluster", None, "Ray cluster address (ray://HOST:PORT, or HOST:PORT of its "
                                   "head); the accepted plan's trials run as Ray tasks on its workers. None: in "
                                   "this process.", flag="--cluster", configurable=True, kind=str)
    race: bool = _setting("race", False, "Race the top plans: train them side by side (on the cluster when one is "
                          "set, else on this machine's cores) under the run's budget and keep the best on "
                          "validation.", flag="--race", configurable=True)
    race_effort: float | None = _setting("race_effort", None, "Reference CPU seconds each raced plan's training is "
                                         "sized to, its trials fixed up front from the cost model (None: a tenth "
                                         "of its training time, times its share of the race's cores).", kind=float)
    knowledge_sources: str = _setting("knowledge_sources", "local", "Where retrieval looks: local (the shipped "
                                      "knowledge base) plus any of huggingface, kaggle, arxiv.")
    # ---- the LLM brain (used only when llm names a model)
    base_url: str | None = field(repr=False, default_factory=lambda: _env("base_url", None)
                                 or os.environ.get("OPENAI_BASE_URL"))
    role_models: dict[str, str] = field(default_factory=lambda: parse_role_models(_env("role_models", None)))
    llm_timeout: float = _setting("llm_timeout", 60.0, "Seconds per LLM request.")
    llm_max_retries: int = _setting("llm_max_retries", 3, "Retries on 429 / 5xx / network errors.")
    llm_max_calls: int = _setting("llm_max_calls", 12, "A run's LLM budget of requests; beyond it the offline rules "
                                  "answer.")
    llm_max_tokens: int = _setting("llm_max_tokens", 30_000, "A run's LLM budget of tokens (prompt + completion).")
    llm_max_completion_tokens: int = _setting("llm_max_completion_tokens", 4096,
                                              "Completion tokens one LLM request may use.")
    llm_tokenizer: str | None = _setting("llm_tokenizer", None, "Counts tokens where a server reports no usage: a "
                                         ".gguf file or a Hugging Face tokenizer (else estimated).", kind=str)
    # USD per 1M (prompt, completion) tokens, merged over the built-in table; None: the built-in table
    prices: dict[str, tuple[float, float]] | None = field(default_factory=lambda: parse_prices(_env("prices", None)))
    # ---- code an LLM wrote: checked before it runs; flagged code runs only when the user approved it
    approve_flagged_code: bool = _setting("approve_flagged_code", False, "Run LLM-written code even when the "
                                          "safety check flags it.")
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


def setting_fields(*, configurable: bool | None = None, flagged: bool | None = None) -> list[Field[Any]]:
    """The declared settings (with their help, flag and type in ``metadata``), filtered."""
    return [f for f in fields(Settings) if f.metadata
            and (configurable is None or f.metadata["configurable"] == configurable)
            and (flagged is None or bool(f.metadata["flag"]) == flagged)]
