"""The embedded offline brain: rules that play every agent role with no LLM (the default)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from ...schema import (
    CodeEdits,
    DataAnalyses,
    DataAnalysisRequest,
    DebugRequest,
    Opinion,
    Opinions,
    Ranking,
    Rankings,
    RankRequest,
    Repair,
    RequestCheck,
    Verdict,
    VerifyPlansRequest,
    VerifyRequest,
)
from ...verification import rank_candidates
from ..base import Brain, Context, T, as_request
from . import debugger, parser, planner, words


def _verify_request(r: VerifyRequest) -> RequestCheck:
    text = (r.instruction or "").strip()
    if not text:
        return RequestCheck(status="needs_clarification", message="The instruction is empty.",
                            questions=["What should the model do? For example: 'Classify Quality as Good or Bad "
                                       "with F1 of at least 0.95.'"])
    why = parser.not_ml_reason(parser.read(text, None), has_data=bool(r.data_path))
    if why:
        return RequestCheck(status="not_ml", message=(
            f"Not a model to build: {why}. I build machine-learning models from a data file and one instruction "
            "(classification, regression, clustering, image/text classification, forecasting, node "
            "classification), e.g. 'Classify banana quality as Good or Bad' --data banana_quality.csv."))
    return RequestCheck(status="ok")


def _rank(r: RankRequest) -> Rankings:
    """Per plan: best predicted first; candidates that break a complexity limit go last."""
    limits = {c["name"]: c["value"] for c in r.complexity}
    out = []
    for p in r.plans:
        ranked = rank_candidates(p.candidates, r.higher_is_better, limits)[: r.top_k]
        out.append(Ranking(candidates=[c.model_copy(update={"rank": i + 1}) for i, c in enumerate(ranked)],
                           plan_id=p.id))
    return Rankings(rankings=out)


def _opinion(v: Verdict) -> Opinion:
    return Opinion(text="; ".join(v.reasons) or ("all requirements met" if v.passed else "requirements not met"),
                   passed=v.passed)


def _plan_opinions(r: VerifyPlansRequest) -> Opinions:
    opinions = [_opinion(p.verdict).model_copy(update={"plan_id": p.id}) for p in r.plans if p.verdict]
    ranked = sorted((p for p in r.plans if p.verdict), key=lambda p: (not p.verdict.passed, -p.verdict.score))
    return Opinions(opinions=opinions, best=ranked[0].id if ranked else None)


def _analyses(r: DataAnalysisRequest) -> DataAnalyses:
    out = []
    for p in r.plans:
        recipe = p.preprocessing.get("recipe", "")
        a = planner.analyse_data(r.requirements, r.data_report, p, r.recipes.get(recipe, recipe))
        out.append(a.model_copy(update={"plan_id": p.id}))
    return DataAnalyses(analyses=out)


def _debug(r: DebugRequest) -> Repair:
    return debugger.diagnose(r.stage, r.error_type, r.error, r.attempt, r.template_source, r.cell_source,
                             r.candidates)


# role -> the rule that answers its typed request
RULES: dict[str, Callable[[Any], BaseModel]] = {
    "verify_request": _verify_request,
    "parse_requirements": lambda r: parser.parse(r.instruction, r.peek, r.data_path),
    "summarise_knowledge": lambda r: planner.summarise_knowledge(r.items),
    "plan": lambda r: planner.make_plans(r.requirements, r.data_report, r.pool, r.n_plans, r.top_k),
    "data_analysis": _analyses,
    "rank_models": _rank,
    "verify_plans": _plan_opinions,
    "write_code": lambda r: CodeEdits(),
    "debug": _debug,
    "verify_implementation": lambda r: _opinion(r.verdict),
    "revise": lambda r: planner.revise(r.requirements, r.tried, r.remaining, r.failure),
}


class OfflineBrain(Brain):
    """Rules for every role. Deterministic, instant, no network."""

    name = "offline"

    def __init__(self) -> None:
        super().__init__()
        words.warm_up_in_background()  # the lemma tables load while the user types

    def decide(self, role: str, context: Context, response_model: type[T]) -> T:
        answer = RULES[role](as_request(role, context))
        self.usage_for(role)  # zeros offline, but the role is recorded
        self.source[role] = "offline"
        return response_model.model_validate(answer.model_dump())
