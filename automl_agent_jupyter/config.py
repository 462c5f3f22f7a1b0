"""Settings for a run. Defaults come from the environment (AUTOML_AGENT_*); secrets never live here."""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any


def _env(name: str, default: Any) -> Any:
    raw = os.environ.get(f"AUTOML_AGENT_{name.upper()}")
    if raw is None:
        return default
    return type(default)(raw) if default is not None and not isinstance(default, bool) else \
        (raw.lower() in ("1", "true", "yes") if isinstance(default, bool) else raw)


@dataclass
class Settings:
    n_plans: int = field(default_factory=lambda: _env("n_plans", 3))
    top_k: int = field(default_factory=lambda: _env("top_k", 3))
    seed: int = field(default_factory=lambda: _env("seed", 0))
    budget_s: float = field(default_factory=lambda: _env("budget_s", 30.0))  # tuning time per plan
    max_repairs: int = field(default_factory=lambda: _env("max_repairs", 3))  # per cell
    max_revisions: int = field(default_factory=lambda: _env("max_revisions", 2))
    storage: str = field(default_factory=lambda: _env("storage", "sqlite"))  # sqlite | memory | a database URL
    runs_dir: str = field(default_factory=lambda: _env("runs_dir", "runs"))
    llm: str | None = field(default_factory=lambda: _env("llm", None))
    probe: bool = field(default_factory=lambda: _env("probe", True))

    def optuna_storage(self, run_dir: str) -> str | None:
        if self.storage == "memory":
            return None
        if self.storage == "sqlite":
            return f"sqlite:///{run_dir}/optuna.sqlite3"
        return self.storage

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
