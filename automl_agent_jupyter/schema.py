"""Typed data that flows one way through the manager.

instruction -> Requirements -> KnowledgeItem[] -> Plan[] (with DataReport, Candidate[]) -> Verdict
-> CellSpec[] -> Attempt[] -> Verdict (implementation) -> RunRecord.

Every model here can be shown as a widget and saved as JSON. ``Requirements`` follows the paper's
prompt-agent schema (user / problem / dataset / model / knowledge / service).
"""
from __future__ import annotations

from typing import Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

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
# "interrupted": stopped by Ctrl-C, the kernel's Interrupt, SIGTERM, a kernel shutdown or a crash, and said so;
# "abandoned" is never written: readers show it for a "running" record whose process is gone (record.py)
Status = Literal["planned", "running", "succeeded", "failed", "needs_clarification", "not_ml", "interrupted",
                 "abandoned"]


class _Model(BaseModel):
    # -inf (a verdict with no measured number) round-trips as "-Infinity"; the default (null) made such a record
    # unreadable
    model_config = ConfigDict(extra="ignore", ser_json_inf_nan="strings")


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


class FieldSource(_Model):
    """How one requirement field was decided: set by the user (a flag, the form) or read by the agent from
    the instruction and the data, with the evidence and a confidence (0-1). An LLM brain asks only about
    fields below its confidence bar; the widget and CLI ask the user about them with ``options``."""

    value: Any = None
    source: Literal["user", "agent", "llm", "default"] = "agent"  # agent: the rules; llm: an LLM brain's answer
    confidence: float = 1.0
    evidence: str = ""
    options: list[Any] = Field(default_factory=list)  # alternatives, best first (e.g. other columns)


class Question(_Model):
    """What the agent asks when a field is missing or uncertain: its best guess and the alternatives."""

    field: str  # task | target | metric | n_clusters | data | ...
    text: str
    guess: Any = None
    options: list[dict[str, Any]] = Field(default_factory=list)  # {"value": ..., "label": ..., "sample": [...]}
    flag: str = ""  # the CLI flag that answers it, e.g. "--target Quality"


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
    split_column: str | None = None  # a user-given column that says which rows are train / test


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
    # per field (task, target, metric, limits, models, n_clusters, windows, split): who decided it, from what
    # evidence, how sure; absent for a field nobody read (an older record or an LLM answer)
    field_sources: dict[str, FieldSource] = Field(default_factory=dict)

    def uncertain(self, below: float = 0.6) -> list[str]:
        """The fields the agent read with a confidence below ``below`` (never those the user set)."""
        return [k for k, f in self.field_sources.items() if f.source != "user" and f.confidence < below]

    @model_validator(mode="after")
    def _fits_context(self, info: ValidationInfo) -> Requirements:
        """With the data's columns (``peek``) and the known metric names in the context, a target must be a
        column and every metric a name the verification can check."""
        ctx = info.context if isinstance(info.context, dict) else {}
        errors = []
        columns = (ctx.get("peek") or {}).get("columns") if ctx else None
        if columns:
            unknown = [t for d in self.dataset for t in d.target_variables if t not in columns]
            if unknown:
                errors.append(f"target_variables {unknown} are not columns of the data; columns are {columns[:60]}")
        names = ctx.get("metric_names") if ctx else None
        if names and any(m.name not in names for m in self.problem.performance_metrics):
            errors.append(f"performance_metrics names must be among {list(names)}")
        units = ctx.get("complexity_units") if ctx else None
        if units and any(m.name not in units for m in self.problem.complexity_metrics):
            errors.append(f"complexity_metrics must be among {units} (name: unit)")
        if errors:
            raise ValueError("; ".join(errors))
        return self

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
    choices: list[Question] = Field(default_factory=list)  # the same questions with best guess and options


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
    basis: str = ""  # how the prediction was made (prior, probe on n rows, "LLM estimate")
    rank: int = 0
    # an LLM's own training-free predictions (predicted_metric, predicted_train_s, ..., basis), kept beside
    # the probe's numbers when a probe ran; shown, never the only evidence a numeric check is judged on
    llm_estimate: dict[str, Any] = Field(default_factory=dict)
    # the probe's interval for predicted_metric ([low, high], from the learning-curve prior's residuals)
    predicted_interval: list[float] | None = None
    # what the probe measured before extrapolation: metric, items, valid_items, epochs, effort_ratio,
    # latency_ms, size_mb, fit_cpu_s, curve (the learning-curve key), effort (the share of the probe's
    # nominal effort every candidate got)
    probe: dict[str, Any] = Field(default_factory=dict)
    # what training then showed for this candidate: valid_metric, latency_ms, size_mb, train_s (filled after the
    # train cell ran; empty for a plan that was not implemented)
    realized: dict[str, Any] = Field(default_factory=dict)


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
    """One generated cell: the tested template's code, or an edit / repair of it with what the check found."""

    stage: str  # setup | load_split | preprocess | train | evaluate | measure | save | predict
    title: str
    source: str
    params: dict[str, Any] = Field(default_factory=dict)  # what the template was rendered with
    template_source: str | None = None  # the tested template's code, once ``source`` is an edit or a repair
    edited_by: str | None = None  # who edited the template: "llm" or a brain's name
    flagged: list[str] = Field(default_factory=list)  # code-check findings on an edit of this cell
    flagged_source: str | None = None  # a flagged edit waiting for the user's approval (it did not run)
    approved: bool = False  # flagged code that runs because the user approved it

    @property
    def template(self) -> str:
        """The tested template's code for this cell."""
        return self.template_source if self.template_source is not None else self.source

    def replace_source(self, source: str) -> None:
        """Run ``source`` instead (an edit or a repair); the template's code is kept beside it."""
        if self.template_source is None:
            self.template_source = self.source
        self.source = source


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
    flagged: list[str] = Field(default_factory=list)  # code-check findings that kept a repair from running
    proposed_source: str | None = None  # the flagged code, for the user to review (it did not run)


class LeaderboardRow(_Model):
    """One trained candidate: what it scored on the validation split, what it cost, what was predicted."""

    plan_id: str
    plan_title: str = ""
    model: str
    params: dict[str, Any] = Field(default_factory=dict)  # key hyper-parameters of its best trial
    valid_score: float | None = None  # the primary metric on the validation split, as the metric reads
    metric: str = ""
    trials: int | None = None
    epochs: float | None = None
    fit_seconds: float | None = None
    predicted_metric: float | None = None  # the model agent's prediction before training
    predicted_latency_ms: float | None = None
    latency_ms: float | None = None  # measured (the kept model: on the test rows, one at a time)
    predicted_size_mb: float | None = None
    size_mb: float | None = None
    kept: bool = False  # the model saved in the run folder
    note: str = ""


class LLMUsage(_Model):
    """One role's LLM use in a run. Tokens are the server's ``usage``; ``tokenizer_calls`` of the calls
    were counted with the model's tokenizer (or estimated) because the server reported none."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tokens: int = 0
    seconds: float = 0.0
    cost_usd: float = 0.0
    used: int = 0  # answers validated and used
    fallbacks: int = 0  # decisions the offline rules made instead (see RunRecord.decisions for why)
    tokenizer_calls: int = 0


class Decision(_Model):
    """Who decided one role's question: the LLM's answer validated and used, or the offline rules, and why."""

    role: str
    decided_by: Literal["llm", "offline"]
    llm_answer: Literal["used", "rejected", "no_answer", "not_asked"]
    reason: str = ""  # why the LLM's answer was rejected / not had / not asked for
    calls: int = 0  # requests made for this decision (a repair is a second one)
    tokens: int = 0


class Interruption(_Model):
    """Where a run stopped before its end, and what had finished (enough to resume it)."""

    reason: str  # "Ctrl-C (SIGINT)", "SIGTERM", "the kernel's Interrupt button", "kernel shutdown", "crash: ..."
    at: str  # UTC time
    stage: str | None = None  # the manager stage or generated cell ("cell:train") that was running
    plan_id: str | None = None
    finished: list[str] = Field(default_factory=list)  # stages and cells that had completed, in order
    seconds_in_stage: float = 0.0  # time spent in the interrupted stage (counted against the budget)


class Segment(_Model):
    """One process's stretch of a run: the first start, then one per resume."""

    started: str
    ended: str | None = None
    status: str = "running"  # how the segment ended (the run's status then)
    pid: int = 0
    host: str = ""
    budget_s: float | None = None  # the tuning budget this segment ran under
    resumed_from: str | None = None  # the stage this segment started at (resumes only)


class RunRecord(_Model):
    """The contract other tools read (run.json)."""

    schema_version: int = 1
    run_id: str
    created: str
    status: Status = "planned"
    message: str = ""
    questions: list[str] = Field(default_factory=list)
    choices: list[Question] = Field(default_factory=list)  # the questions with best guess and options
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
    # every plan trained, with its validation metrics and the verdict on them that decided what came next
    trained: list[dict[str, Any]] = Field(default_factory=list)
    # the plan kept as the final model, chosen on validation among every plan trained (see implementation.py)
    kept: dict[str, Any] | None = None
    # --race: the plans trained side by side, their validation scores, where they ran, the winner (race.py)
    race: dict[str, Any] | None = None
    metrics: dict[str, dict[str, float]] = Field(default_factory=dict)
    primary_metric: dict[str, Any] | None = None
    constraints: list[dict[str, Any]] = Field(default_factory=list)
    verification: Verdict | None = None
    leaderboard: list[LeaderboardRow] = Field(default_factory=list)  # every candidate trained, best first
    artifacts: dict[str, str] = Field(default_factory=dict)
    split: dict[str, Any] = Field(default_factory=dict)
    seed: int = 0
    device: str = "cpu"
    timings: dict[str, float] = Field(default_factory=dict)
    # the model agent's probe effort (rows / items / epochs), its predicted and measured CPU cost, and why
    probe_effort: dict[str, Any] = Field(default_factory=dict)
    # what planning cost the budget: its wall seconds (charged) and CPU seconds (recorded beside), runlog.planned
    planning_charge: dict[str, Any] = Field(default_factory=dict)
    llm_usage: dict[str, LLMUsage] = Field(default_factory=dict)  # per role (zeros offline)
    llm_total: LLMUsage = Field(default_factory=LLMUsage)
    decisions: list[Decision] = Field(default_factory=list)  # an LLM brain's questions, in order: who decided
    notes: list[str] = Field(default_factory=list)  # brain and manager events (fallbacks, flagged code)
    brain_config: dict[str, Any] = Field(default_factory=dict)  # the brain's describe(): model, base URL; no key
    environment: dict[str, str] = Field(default_factory=dict)
    process: dict[str, Any] = Field(default_factory=dict)  # {pid, host, start}: who is writing this record now
    stage: str | None = None  # while running: the stage or generated cell ("cell:train") that started last
    interruption: Interruption | None = None  # set while status is "interrupted"
    segments: list[Segment] = Field(default_factory=list)
    settings: dict[str, Any] = Field(default_factory=dict)  # the run's settings (no secrets), for resume
    data_fingerprint: dict[str, Any] = Field(default_factory=dict)  # the data the plans were made on

    def decided_by(self) -> dict[str, dict[str, int]]:
        """Per role, how many of its questions the LLM's answer decided and how many the offline rules did."""
        out: dict[str, dict[str, int]] = {}
        for d in self.decisions:
            counts = out.setdefault(d.role, {"llm": 0, "offline": 0})
            counts[d.decided_by] += 1
        return out


# ---------------------------------------------------------------- what a brain is asked, and answers, per role
# Each role has a request model (its exact context: a misspelt or missing key fails when the request is
# built) beside its answer model; ``Brain.ask(request)`` returns the answer type. The manager and the agents
# build requests, the offline rules read them, and the LLM prompt lists their fields' descriptions.
#
# Answers are validated with the role's context (``model_validate(..., context=request.context())``) where a
# brain has one: an LLM answer that names an unknown model, recipe or plan then gets its repair round with
# the exact reason. Rule-based answers are validated without context (they are built from the same facts).
A = TypeVar("A", bound=BaseModel)


class Request(BaseModel, Generic[A]):
    """What a brain is asked for one role. ``role`` names the prompt / rule; ``answer`` is the model the
    answer must validate against (the class's type parameter)."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    role: ClassVar[str] = ""
    answer: ClassVar[type[BaseModel]]

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        for base in cls.__mro__:
            args = getattr(base, "__pydantic_generic_metadata__", {}).get("args") or ()
            if args and isinstance(args[0], type):
                cls.answer = args[0]
                break
        if cls.role:
            REQUESTS[cls.role] = cls

    def context(self) -> dict[str, Any]:
        """The fields as a mapping (values as they are: models stay models)."""
        return {name: getattr(self, name) for name in type(self).model_fields}

    @classmethod
    def keys(cls) -> dict[str, str]:
        """Each context key with what it holds (shown to a language model)."""
        return {name: f.description or "" for name, f in cls.model_fields.items()}


REQUESTS: dict[str, type[Request[Any]]] = {}  # role -> its request model (filled by the subclasses below)


class VerifyRequest(Request[RequestCheck]):
    """Manager, request verification: is it a machine-learning request, does it carry the essentials."""

    role: ClassVar[str] = "verify_request"
    instruction: str = Field(description="the user's instruction")
    data_path: str | None = Field(description="the data file or folder the user gave, if any")


class ParseRequest(Request[Requirements]):
    """Prompt agent: the instruction (and a peek at the data) -> Requirements."""

    role: ClassVar[str] = "parse_requirements"
    instruction: str = Field(description="the user's instruction")
    data_path: str | None = Field(description="the data file or folder the user gave, if any")
    peek: dict[str, Any] | None = Field(description="a first look at the data: columns and some values")
    metric_names: list[str] = Field(description="the metric names the verification can check")
    complexity_units: dict[str, str] = Field(description="complexity limit names and their units")
    rules_reading: dict[str, Any] | None = Field(
        default=None, description="the rule-based reading per field: value, evidence, confidence, alternatives")
    ask_about: list[str] = Field(
        default_factory=list, description="the only fields to decide (the rules are unsure of them); the rest stand")


def _ids(plans: Any) -> list[str]:
    return [str(p.id if isinstance(p, BaseModel) else (p or {}).get("id")) for p in plans or []]


def _check_plan(p: Plan, ctx: dict[str, Any]) -> list[str]:
    errors = []
    pool, recipes = ctx.get("pool"), ctx.get("recipes")
    if pool is not None:
        unknown = [m for m in p.model_families if m not in pool]
        if unknown or not p.model_families:
            errors.append(f"plan {p.id}: model_families must be a non-empty list of names from the pool {list(pool)}"
                          + (f" (unknown: {unknown})" if unknown else ""))
    if recipes is not None and p.preprocessing.get("recipe") not in recipes:
        errors.append(f"plan {p.id}: preprocessing.recipe {p.preprocessing.get('recipe')!r} is not one of "
                      f"{list(recipes)}")
    return errors


class PlanSet(_Model):
    plans: list[Plan]

    @model_validator(mode="after")
    def _fits_context(self, info: ValidationInfo) -> PlanSet:
        ctx = info.context if isinstance(info.context, dict) else {}
        if not ctx:
            return self
        errors = [e for p in self.plans for e in _check_plan(p, ctx)]
        if not self.plans:
            errors.append("give at least one plan")
        if len({p.id for p in self.plans}) != len(self.plans):
            errors.append("plan ids must be unique")
        if errors:
            raise ValueError("; ".join(errors))
        return self


class PlanRequest(Request[PlanSet]):
    """Manager, retrieval-augmented planning: P diverse plans."""

    role: ClassVar[str] = "plan"
    requirements: Requirements = Field(description="the parsed requirements (the paper's JSON)")
    data_report: DataReport = Field(description="the profile of the actual data")
    n_plans: int = Field(description="how many plans to write")
    top_k: int = Field(description="at most this many model_families per plan, best first")
    pool: list[str] = Field(description="the model names a plan may use")
    recipes: dict[str, str] | None = Field(description="the preprocessing recipes a plan may choose (name: what "
                                                       "it does)")


class KnowledgeSummary(_Model):
    insights: list[str] = Field(default_factory=list)


class KnowledgeRequest(Request[KnowledgeSummary]):
    """Manager: retrieved knowledge items -> short insights."""

    role: ClassVar[str] = "summarise_knowledge"
    items: list[KnowledgeItem] = Field(description="the knowledge items retrieved for the requirements")
    requirements: Requirements = Field(description="the parsed requirements (the paper's JSON)")


class DataAnalysis(_Model):
    """The data agent's preprocessing plan for one plan, from the real profile."""

    summary: str
    steps: list[str] = Field(default_factory=list)
    plan_id: str = ""


class DataAnalyses(_Model):
    """The data agent's analyses for all plans at once (one per plan id in the context)."""

    analyses: list[DataAnalysis]

    @model_validator(mode="after")
    def _one_per_plan(self, info: ValidationInfo) -> DataAnalyses:
        ctx = info.context if isinstance(info.context, dict) else {}
        missing = [i for i in _ids(ctx.get("plans")) if i not in {a.plan_id for a in self.analyses}]
        if missing:
            raise ValueError(f"give one analysis per plan: plan_id {missing} missing")
        return self


class DataAnalysisRequest(Request[DataAnalyses]):
    """Data agent: each plan's preprocessing from the real profile, all plans at once."""

    role: ClassVar[str] = "data_analysis"
    requirements: Requirements = Field(description="the parsed requirements (the paper's JSON)")
    data_report: DataReport = Field(description="the profile of the actual data")
    plans: list[Plan] = Field(description="the plans to analyse, one analysis each")
    recipes: dict[str, str] = Field(description="the preprocessing recipes (name: what it does)")


class Ranking(_Model):
    """The model agent's top-k, best first, with predictions."""

    candidates: list[Candidate]
    plan_id: str = ""


class Rankings(_Model):
    """The model agent's rankings for all plans at once (one per plan id in the context)."""

    rankings: list[Ranking]

    @model_validator(mode="after")
    def _one_per_plan(self, info: ValidationInfo) -> Rankings:
        ctx = info.context if isinstance(info.context, dict) else {}
        plans = {i: p for i, p in zip(_ids(ctx.get("plans")), ctx.get("plans") or [])}
        given = {r.plan_id: r for r in self.rankings}
        errors = [f"plan_id {i} missing" for i in plans if i not in given]
        for i, r in given.items():
            if i not in plans:
                continue
            allowed = [c.name if isinstance(c, BaseModel) else c.get("name") for c in _get(plans[i], "candidates")]
            unknown = [c.name for c in r.candidates if c.name not in allowed]
            if unknown or not r.candidates:
                errors.append(f"plan {i}: rank only its candidates {allowed}" + (f" (unknown: {unknown})"
                                                                                 if unknown else ""))
        if errors:
            raise ValueError("; ".join(errors))
        return self


class RankRequest(Request[Rankings]):
    """Model agent: training-free ranking of every plan's candidates, all plans at once."""

    role: ClassVar[str] = "rank_models"
    requirements: Requirements = Field(description="the parsed requirements (the paper's JSON)")
    metric: str = Field(description="the primary metric")
    higher_is_better: bool = Field(description="the primary metric's direction")
    top_k: int = Field(description="keep at most this many candidates per plan")
    complexity: list[dict[str, Any]] = Field(description="the complexity limits (name, value, unit)")
    plans: list[Plan] = Field(description="the plans, each with its candidates and any probe evidence")


def _get(obj: Any, name: str) -> Any:
    return getattr(obj, name) if isinstance(obj, BaseModel) else (obj or {}).get(name) or []


class Opinion(_Model):
    """A brain's view beside a numeric verdict (an LLM never decides numbers alone)."""

    text: str = ""
    passed: bool | None = None
    plan_id: str = ""


class Opinions(_Model):
    """Execution verification: one opinion per plan beside its numeric verdict, and which plan is best."""

    opinions: list[Opinion] = Field(default_factory=list)
    best: str | None = None  # a plan id


class VerifyPlansRequest(Request[Opinions]):
    """Manager, execution verification: an opinion per plan beside its numeric verdict."""

    role: ClassVar[str] = "verify_plans"
    requirements: Requirements = Field(description="the parsed requirements (the paper's JSON)")
    metric: str = Field(description="the primary metric")
    plans: list[Plan] = Field(description="the plans with their ranked candidates and numeric verdicts")


class VerifyImplementationRequest(Request[Opinion]):
    """Manager, implementation verification: an opinion beside the numeric verdict on the measured numbers."""

    role: ClassVar[str] = "verify_implementation"
    verdict: Verdict = Field(description="the numeric checks already computed")
    requirements: Requirements = Field(description="the parsed requirements (the paper's JSON)")
    plan: dict[str, Any] = Field(description="the implemented plan (id, title)")
    results: dict[str, Any] = Field(description="what the code measured: held-out metrics, constraints, model")
    failed_cells: list[dict[str, Any]] = Field(description="cells that failed (stage, error type, error)")


class CodeEdits(_Model):
    """Operation agent: replacements for rendered template cells (empty: the templates as rendered)."""

    edits: dict[str, str] = Field(default_factory=dict)  # stage -> new source

    @model_validator(mode="after")
    def _sent_cells_only(self, info: ValidationInfo) -> CodeEdits:
        """With the request's cells as context, only a cell whose source was sent may be edited."""
        cells = (info.context or {}).get("cells") if isinstance(info.context, dict) else None
        if cells:
            shown = [c.get("stage") for c in cells if c.get("source")]
            blind = [stage for stage in self.edits if stage not in shown]
            if blind:
                raise ValueError(f"edits for {blind}: only the cells whose source was given may be edited ({shown})")
        return self


class WriteCodeRequest(Request[CodeEdits]):
    """Operation agent: fill or extend the tested template cells."""

    role: ClassVar[str] = "write_code"
    plan: dict[str, Any] = Field(description="the selected plan: id, title, strategy, preprocessing, candidates")
    requirements: Requirements = Field(description="the parsed requirements (the paper's JSON)")
    run_dir: str | None = Field(description="the run folder: the only place code may write")
    cells: list[dict[str, str]] = Field(description="every rendered template cell (stage, title); the source only of "
                                                    "those that may be edited, the others run as tested")


class Repair(_Model):
    """Operation agent's diagnosis of a failed cell and the change to make before rerunning."""

    diagnosis: str
    action: Literal["rerender", "source", "rerun_from", "give_up"]
    params: dict[str, Any] = Field(default_factory=dict)  # rerender: plan changes; rerun_from: {"stage": ...}
    source: str | None = None  # action == "source": the new cell source

    @model_validator(mode="after")
    def _fits_context(self, info: ValidationInfo) -> Repair:
        ctx = info.context if isinstance(info.context, dict) else {}
        if not ctx:
            return self
        errors = []
        if self.action == "source" and not (self.source or "").strip():
            errors.append("action 'source' needs the whole new cell source in 'source'")
        if self.action == "rerun_from" and ctx.get("stages") and self.params.get("stage") not in ctx["stages"]:
            errors.append(f"rerun_from needs params.stage, one of {ctx['stages']}")
        if self.action == "rerender":
            known = {"drop_candidate", "replace_candidate", "stratify", "max_train_fraction", "mixed_as_categorical"}
            if not set(self.params) & known:
                errors.append(f"rerender needs params with one of {sorted(known)}")
            cands = ctx.get("candidates") or []
            if "drop_candidate" in self.params and self.params["drop_candidate"] not in cands:
                errors.append(f"drop_candidate must be one of {cands}")
            new = self.params.get("replace_candidate")
            if new is not None and not (isinstance(new, list) and len(new) == 2 and new[0] in cands
                                        and new[1] in (ctx.get("pool") or [new[1]])):
                errors.append(f"replace_candidate must be [old, new] with old in {cands} and new from the pool "
                              f"{ctx.get('pool')}")
        if errors:
            raise ValueError("; ".join(errors))
        return self


class DebugRequest(Request[Repair]):
    """Operation agent: repair a failed cell from its traceback."""

    role: ClassVar[str] = "debug"
    stage: str = Field(description="the failed cell's stage")
    error_type: str = Field(description="the exception's type")
    error: str = Field(description="the exception's message")
    traceback: str = Field(description="the traceback")
    attempt: int = Field(description="which attempt at this cell failed (1 = the first run)")
    cell_source: str = Field(description="the failed cell's source")
    template_source: str = Field(description="the cell's tested template source")
    stdout_tail: str = Field(description="the end of what the cell printed")
    candidates: list[str] = Field(description="the plan's candidate models")
    pool: list[str] | None = Field(description="the models a replacement may come from")
    stages: list[str] | None = Field(description="the cell stages, in order")


class Revision(_Model):
    """Manager: what to try after a failed implementation verification."""

    reason: str
    plan: Plan | None = None  # None: stop revising; a remaining plan's id picks that plan

    @model_validator(mode="after")
    def _fits_context(self, info: ValidationInfo) -> Revision:
        ctx = info.context if isinstance(info.context, dict) else {}
        if not ctx or self.plan is None or self.plan.id in _ids(ctx.get("remaining")):
            return self
        errors = _check_plan(self.plan, ctx)
        if self.plan.id in _ids(ctx.get("tried")):
            errors.append(f"plan {self.plan.id} was already tried: pick a remaining plan id or give a new id")
        if errors:
            raise ValueError("; ".join(errors))
        return self


class ReviseRequest(Request[Revision]):
    """Manager: what to try after a failed implementation verification."""

    role: ClassVar[str] = "revise"
    requirements: Requirements = Field(description="the parsed requirements (the paper's JSON)")
    tried: list[Plan] = Field(description="the plans already implemented")
    remaining: list[Plan] = Field(description="the proposed plans not tried yet")
    failure: dict[str, Any] = Field(description="what failed: failed_checks and reasons")
    pool: list[str] = Field(description="the model names a new plan may use")
    recipes: dict[str, str] | None = Field(description="the preprocessing recipes a new plan may choose")
