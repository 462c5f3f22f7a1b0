"""The embedded offline brain: rules that play every agent role with no LLM (the default)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...schema import (
    CodeEdits,
    DataAnalyses,
    Opinion,
    Opinions,
    Plan,
    Ranking,
    Rankings,
    RequestCheck,
    Verdict,
)
from ...verification import rank_candidates
from ..base import Brain, T
from . import debugger, parser, planner, words


def _verify_request(ctx: dict[str, Any]) -> RequestCheck:
    text = (ctx.get("instruction") or "").strip()
    if not text:
        return RequestCheck(status="needs_clarification", message="The instruction is empty.",
                            questions=["What should the model do? For example: 'Classify Quality as Good or Bad "
                                       "with F1 of at least 0.95.'"])
    why = parser.not_ml_reason(parser.read(text, None), has_data=bool(ctx.get("data_path")))
    if why:
        return RequestCheck(status="not_ml", message=(
            f"Not a model to build: {why}. I build machine-learning models from a data file and one instruction "
            "(classification, regression, clustering, image/text classification, forecasting, node "
            "classification), e.g. 'Classify banana quality as Good or Bad' --data banana_quality.csv."))
    return RequestCheck(status="ok")


def _rank(ctx: dict[str, Any]) -> Rankings:
    """Per plan: best predicted first; candidates that break a complexity limit go last."""
    plans: list[Plan] = ctx["plans"]
    return Rankings(rankings=[_rank_one(p.candidates, ctx).model_copy(update={"plan_id": p.id}) for p in plans])


def _rank_one(cands: list[Any], ctx: dict[str, Any]) -> Ranking:
    limits = {c["name"]: c["value"] for c in ctx.get("complexity", [])}
    ranked = rank_candidates(cands, ctx["higher_is_better"], limits)[: ctx["top_k"]]
    return Ranking(candidates=[c.model_copy(update={"rank": i + 1}) for i, c in enumerate(ranked)])


def _opinion(ctx: dict[str, Any]) -> Opinion:
    v: Verdict = ctx["verdict"]
    return Opinion(text="; ".join(v.reasons) or ("all requirements met" if v.passed else "requirements not met"),
                   passed=v.passed)


def _plan_opinions(ctx: dict[str, Any]) -> Opinions:
    plans: list[Plan] = ctx["plans"]
    opinions = [_opinion({"verdict": p.verdict}).model_copy(update={"plan_id": p.id}) for p in plans if p.verdict]
    ranked = sorted((p for p in plans if p.verdict), key=lambda p: (not p.verdict.passed, -p.verdict.score))
    return Opinions(opinions=opinions, best=ranked[0].id if ranked else None)


def _analyses(ctx: dict[str, Any]) -> DataAnalyses:
    recipes = ctx.get("recipes", {})
    out = []
    for p in ctx["plans"]:
        recipe = p.preprocessing.get("recipe", "")
        a = planner.analyse_data(ctx["requirements"], ctx["data_report"], p, recipes.get(recipe, recipe))
        out.append(a.model_copy(update={"plan_id": p.id}))
    return DataAnalyses(analyses=out)


class OfflineBrain(Brain):
    """Rules for every role. Deterministic, instant, no network."""

    name = "offline"

    def __init__(self) -> None:
        super().__init__()
        words.warm_up_in_background()  # the lemma tables load while the user types
        self._rules: dict[str, Callable[[dict[str, Any]], Any]] = {
            "verify_request": _verify_request,
            "parse_requirements": lambda c: parser.parse(c["instruction"], c.get("peek"), c.get("data_path")),
            "summarise_knowledge": lambda c: planner.summarise_knowledge(c["items"]),
            "plan": lambda c: planner.make_plans(c["requirements"], c["data_report"], c["pool"], c["n_plans"],
                                                 c["top_k"]),
            "data_analysis": _analyses,
            "rank_models": _rank,
            "verify_plans": _plan_opinions,
            "write_code": lambda c: CodeEdits(),
            "debug": lambda c: debugger.diagnose(c["stage"], c["error_type"], c["error"], c["attempt"],
                                                 c["template_source"], c["cell_source"], c["candidates"]),
            "verify_implementation": _opinion,
            "revise": lambda c: planner.revise(c["requirements"], c["tried"], c["remaining"], c["failure"]),
        }

    def decide(self, role: str, context: dict[str, Any], response_model: type[T]) -> T:
        answer = self._rules[role](context)
        self.usage_for(role)  # zeros offline, but the role is recorded
        self.source[role] = "offline"
        return response_model.model_validate(answer.model_dump() if hasattr(answer, "model_dump") else answer)
