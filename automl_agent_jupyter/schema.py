"""Typed data that flows one way through the manager.

instruction -> Requirements -> KnowledgeItem[] -> Plan[] (with DataReport, Candidate[]) -> Verdict
-> CellSpec[] -> Attempt[] -> Verdict (implementation) -> RunRecord.

Every model here can be shown as a widget and saved as JSON. ``Requirements`` follows the paper's
prompt-agent schema (user / problem / dataset / model / knowledge / service).
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

TASKS = (
    "tabular_classification",
    "tabular_regression",
    "tabular_clustering",
    "image_classification",
    "text_classification",
    "time_series_forecasting",
    "node_classification",
)
Task = Literal[
    "tabular_classification",
    "tabular_regression",
    "tabular_clustering",
    "image_classification",
    "text_classification",
    "time_series_forecasting",
    "node_classification",
]
Status = Literal["planned", "running", "succeeded", "failed", "needs_clarification", "not_ml"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


# ---------------------------------------------------------------- requirements (the paper's JSON)
class User(_Model):
    intent: Literal["build", "consult-build", "consult", "inquire", "unclear"] = "build"
    expertise: Literal["low", "medium", "high"] = "medium"


class PerformanceMetric(_Model):
    name: str
    value: float | None = None  # the user's target; None when only the metric is named


class ComplexityMetric(_Model):
    """A limit on cost: training_time (s), inference_latency (ms per prediction),
    inference_time_total (s on the test set), model_size (MB) or parameters (count)."""

    name: str
    value: float
    unit: str


class Problem(_Model):
    area: str = "tabular data analysis"
    downstream_task: Task | None = None
    application_domain: str = ""
    description: str = ""
    performance_metrics: list[PerformanceMetric] = Field(default_factory=list)
    complexity_metrics: list[ComplexityMetric] = Field(default_factory=list)
    n_clusters: int | None = None
    task_params: dict[str, Any] = Field(default_factory=dict)


class DatasetSpec(_Model):
    name: str = ""
    modality: str = "tabular"
    target_variables: list[str] = Field(default_factory=list)
    source: Literal["user-upload", "user-link", "direct-search", "infer-search"] = "user-upload"
    description: str = ""
    path: str | None = None
    split: dict[str, float] | None = None  # user-given ratios, e.g. {"train": .8, "valid": .1, "test": .1}


class ModelSpec(_Model):
    name: str = ""
    family: str = ""
    type: str = ""
    description: str = ""


class Service(_Model):
    target_device: str = "auto"
    deployment_endpoint: str = ""
    inference_engine: str = ""
    demonstration: str = ""


class Requirements(_Model):
    user: User = Field(default_factory=User)
    problem: Problem = Field(default_factory=Problem)
    dataset: list[DatasetSpec] = Field(default_factory=list)
    model: list[ModelSpec] = Field(default_factory=list)
    knowledge: list[dict[str, Any]] = Field(default_factory=list)
    service: Service = Field(default_factory=Service)

    @property
    def task(self) -> str | None:
        return self.problem.downstream_task

    @property
    def target(self) -> str | None:
        for d in self.dataset:
            if d.target_variables:
                return d.target_variables[0]
        return None

    @property
    def data_path(self) -> str | None:
        return self.dataset[0].path if self.dataset else None


class RequestCheck(_Model):
    """Outcome of the manager's request verification."""

    status: Literal["ok", "not_ml", "needs_clarification"]
    message: str = ""
    questions: list[str] = Field(default_factory=list)


# ---------------------------------------------------------------- retrieval
class KnowledgeItem(_Model):
    id: str
    title: str
    text: str
    source: str
    kind: str = "insight"  # model | preprocessing | insight | dataset
    score: float = 0.0


# ---------------------------------------------------------------- data agent
class ColumnProfile(_Model):
    name: str
    dtype: str
    kind: Literal["numeric", "categorical", "boolean", "text", "datetime", "constant", "id"] = "numeric"
    missing: int = 0
    unique: int = 0
    coerced: int = 0  # non-numeric cells in an otherwise numeric column (e.g. '?')


class DataReport(_Model):
    path: str
    modality: str = "tabular"
    rows: int = 0
    columns: int = 0
    target: str | None = None
    features: list[str] = Field(default_factory=list)
    column_profiles: list[ColumnProfile] = Field(default_factory=list)
    missing_cells: int = 0
    duplicate_rows: int = 0
    class_counts: dict[str, int] = Field(default_factory=dict)
    imbalance_ratio: float | None = None
    target_summary: dict[str, float] = Field(default_factory=dict)
    dropped_columns: dict[str, str] = Field(default_factory=dict)  # column -> reason
    split: dict[str, Any] = Field(default_factory=dict)  # method, seed, ratios, sizes
    notes: list[str] = Field(default_factory=list)
    extra: dict[str, Any] = Field(default_factory=dict)  # modality-specific facts


# ---------------------------------------------------------------- plans and model agent
class Step(_Model):
    agent: Literal["data", "model"]
    text: str


class Candidate(_Model):
    """One model the model agent ranks without full training."""

    name: str  # key into the knowledge base's model catalogue, e.g. "lightgbm"
    family: str = ""
    params: dict[str, Any] = Field(default_factory=dict)
    predicted_metric: float | None = None
    predicted_train_s: float | None = None
    predicted_latency_ms: float | None = None
    predicted_size_mb: float | None = None
    basis: str = ""  # how the prediction was made (prior, probe on n rows, LLM)
    rank: int = 0


class Check(_Model):
    """One requirement checked against a predicted or measured number."""

    name: str
    kind: Literal["performance", "complexity"]
    target: float | None
    value: float | None
    unit: str = ""
    higher_is_better: bool = True
    passed: bool | None = None  # None: nothing to check against (no target) or not measured
    reason: str = ""


class Verdict(_Model):
    passed: bool
    score: float = 0.0
    checks: list[Check] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list)
    brain_opinion: str = ""  # an LLM's view beside the numbers (never decides alone)


class Plan(_Model):
    id: str
    title: str
    strategy: str = ""
    preprocessing: dict[str, Any] = Field(default_factory=dict)
    model_families: list[str] = Field(default_factory=list)
    steps: list[Step] = Field(default_factory=list)
    candidates: list[Candidate] = Field(default_factory=list)
    data_summary: str = ""
    verdict: Verdict | None = None
    state: Literal["proposed", "selected", "rejected", "tried"] = "proposed"
    revision_of: str | None = None


# ---------------------------------------------------------------- operation agent
class CellSpec(_Model):
    stage: str  # setup | load_split | preprocess | train | evaluate | measure | save | predict
    title: str
    source: str
    params: dict[str, Any] = Field(default_factory=dict)  # what the template was rendered with


class Attempt(_Model):
    plan_id: str
    stage: str
    attempt: int
    ok: bool
    seconds: float = 0.0
    error_type: str | None = None
    error: str | None = None
    traceback: str | None = None
    repair: str | None = None  # what the operation agent changed before the next attempt
    stdout_tail: str = ""


class LLMUsage(_Model):
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tokens: int = 0
    seconds: float = 0.0
    cost_usd: float = 0.0
    fallbacks: int = 0


class RunRecord(_Model):
    """The contract other tools read (run.json)."""

    schema_version: int = 1
    run_id: str
    created: str
    status: Status = "planned"
    message: str = ""
    questions: list[str] = Field(default_factory=list)
    instruction: str = ""
    data: str | None = None
    brain: str = "offline"
    requirements: Requirements | None = None
    knowledge: list[KnowledgeItem] = Field(default_factory=list)
    data_report: DataReport | None = None
    plans: list[Plan] = Field(default_factory=list)
    selected_plan: str | None = None
    attempts: list[Attempt] = Field(default_factory=list)
    revisions: list[dict[str, Any]] = Field(default_factory=list)
    metrics: dict[str, dict[str, float]] = Field(default_factory=dict)
    primary_metric: dict[str, Any] | None = None
    constraints: list[dict[str, Any]] = Field(default_factory=list)
    verification: Verdict | None = None
    artifacts: dict[str, str] = Field(default_factory=dict)
    split: dict[str, Any] = Field(default_factory=dict)
    seed: int = 0
    device: str = "cpu"
    timings: dict[str, float] = Field(default_factory=dict)
    llm_usage: dict[str, LLMUsage] = Field(default_factory=dict)
    environment: dict[str, str] = Field(default_factory=dict)


# ---------------------------------------------------------------- what a brain answers, per role
class PlanSet(_Model):
    plans: list[Plan]


class KnowledgeSummary(_Model):
    insights: list[str] = Field(default_factory=list)


class DataAnalysis(_Model):
    """The data agent's preprocessing plan for one plan, from the real profile."""

    summary: str
    steps: list[str] = Field(default_factory=list)


class Ranking(_Model):
    """The model agent's top-k, best first, with predictions."""

    candidates: list[Candidate]


class Opinion(_Model):
    """A brain's view beside a numeric verdict (an LLM never decides numbers alone)."""

    text: str = ""
    passed: bool | None = None


class CodeEdits(_Model):
    """Operation agent: replacements for rendered template cells (empty: the templates as rendered)."""

    edits: dict[str, str] = Field(default_factory=dict)  # stage -> new source


class Repair(_Model):
    """Operation agent's diagnosis of a failed cell and the change to make before rerunning."""

    diagnosis: str
    action: Literal["rerender", "source", "rerun_from", "give_up"]
    params: dict[str, Any] = Field(default_factory=dict)  # rerender: plan changes; rerun_from: {"stage": ...}
    source: str | None = None  # action == "source": the new cell source


class Revision(_Model):
    """Manager: what to try after a failed implementation verification."""

    reason: str
    plan: Plan | None = None  # None: stop revising
