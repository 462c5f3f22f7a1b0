"""What every task module provides to the agents.

A task module owns the task knowledge: how to read and profile its data (data agent), which metrics
it reports, which catalogue models compete and how to probe them cheaply (model agent), and which
templates produce its cells (operation agent). The manager never imports a task module directly; it
asks ``tasks.for_task(name)``.
"""
from __future__ import annotations

import importlib.util
from abc import ABC, abstractmethod
from typing import Any

from ..schema import Candidate, CellSpec, DataReport, Plan, Requirements

# the probe efforts the model agent chooses from (1 = a task's nominal probe), largest first
PROBE_EFFORTS = (1.0, 0.5, 0.25, 0.125)

# what a user-given split column may say, and which part each value means (text and tabular tasks)
SPLIT_VALUES = {"train": "train", "training": "train", "trial": "valid", "dev": "valid", "val": "valid",
                "valid": "valid", "validation": "valid", "test": "test", "testing": "test"}


def importable(module: str) -> bool:
    """Whether ``module`` can be imported here (without importing it)."""
    return importlib.util.find_spec(module) is not None


class TaskModule(ABC):
    """The task-specific half of every agent."""

    tasks: tuple[str, ...] = ()
    modality = "tabular"
    # the share of a run's budget its probes may cost (the cost model's reference CPU seconds): the model agent
    # sizes the probe effort from it
    probe_share = 0.025
    template_dir = "tabular"  # templates/<template_dir>/: this task's cells and its predict_file.py.j2

    # ---------------------------------------------------------------- data agent
    @abstractmethod
    def peek(self, path: str) -> dict[str, Any]:
        """Cheap look at the data for the prompt agent: name, modality, columns, sample values."""

    @abstractmethod
    def profile(self, path: str, req: Requirements, seed: int) -> tuple[DataReport, Any]:
        """Load and profile the data; return the report and the loaded data (kept in memory for probes)."""

    # ---------------------------------------------------------------- metrics
    @abstractmethod
    def primary_metric(self, req: Requirements, report: DataReport) -> str:
        """The metric the run is judged on (the user's first named metric that this task reports)."""

    def reported_metrics(self, req: Requirements, report: DataReport) -> list[str]:
        return [self.primary_metric(req, report)]

    # ---------------------------------------------------------------- model agent
    @abstractmethod
    def candidate_pool(self, req: Requirements, report: DataReport) -> list[str]:
        """Catalogue keys that may compete for this task and data."""

    @abstractmethod
    def probe(self, plan: Plan, candidates: list[Candidate], data: Any, report: DataReport,
              req: Requirements, seed: int, budget_s: float, effort: float = 1.0) -> list[Candidate]:
        """Cheap training-free-style evidence: default models on a small train subsample, labelled as such.
        Every candidate gets the same effort (items, epochs, full-size models), never the same seconds, so the
        evidence does not depend on the machine's speed or load; ``effort`` (one of PROBE_EFFORTS) scales it for
        all candidates alike: the model agent sizes it from the run's budget with the cost model
        (``probe_cost_s``). ``budget_s`` is the run's budget (for the predicted training time)."""

    @abstractmethod
    def probe_size(self, effort: float, report: DataReport) -> dict[str, Any]:
        """What one probe uses at ``effort``: {"items": train items, "valid_items", "epochs": a network's epochs
        (None for other models)}, from the data's size alone."""

    @abstractmethod
    def probe_units(self, name: str, size: dict[str, Any], report: DataReport) -> float:
        """The work of one probe of catalogue model ``name`` at ``size`` (``probe_size``'s), counted from the
        data's shape (rows, features, classes, item size, epochs) and the model's family: no clock."""

    def probe_cost_s(self, name: str, effort: float, report: DataReport, upper: bool = False) -> float:
        """Reference CPU seconds one probe of ``name`` costs at ``effort`` (the fitted cost model,
        knowledge/learning_curves.json's ``probe_costs``): the same data and effort give the same cost."""
        from ..knowledge import learning_curves as lc
        from ..knowledge import model_entry

        units = self.probe_units(name, self.probe_size(effort, report), report)
        return lc.probe_cost_s(name, model_entry(name)["family"], units, upper=upper)

    # families a plan may name beyond top-k: the model agent's probes keep the top-k of them (the tabular task's
    # kernel / neighbour / neural plan names a cheap linear model too, which the probes often rank in its top-k)
    extra_families = 0

    def align_plan(self, plan: Plan) -> Plan:
        """A plan whose recipe and models fit together (a brain may pair them freely); tabular recipes take
        every model, so the plan is kept as it is."""
        return plan

    def model_steps(self, plan: Plan, budget_s: float, seed: int) -> list[str]:
        """The model agent's steps of a plan, as the plan card shows them."""
        names = ", ".join(c.name for c in plan.candidates)
        return [f"Rank candidates without full training; top-{len(plan.candidates)}: {names}.",
                f"Train each candidate within the {budget_s:.0f} s budget (seed {seed}); keep the best on the "
                "validation split.",
                "Evaluate once on the untouched test split; measure latency per prediction and model size.",
                "Save the model with predict.py and serve.py (a FastAPI /predict endpoint)."]

    # ---------------------------------------------------------------- operation agent
    def release(self, report: DataReport, handoff: bool = True) -> bool:
        """Before the cells run: let go of what planning holds of a large dataset (the cells read their own
        copy, or with ``handoff`` take the one planning read when they run in this process); True when the
        loaded data should be dropped too (planning reloads it for a revision)."""
        return False

    def replay_cells(self, cells: list[CellSpec], results: dict[str, Any]) -> list[CellSpec]:
        """The cells as the standalone pipeline.py / pipeline.ipynb run them: by default as they ran. A task
        whose training stops on the clock fixes there what the run completed, so a rerun fits the same model."""
        return cells

    @abstractmethod
    def cells(self, plan: Plan, req: Requirements, report: DataReport, settings: dict[str, Any]) -> list[CellSpec]:
        """The plan as ordered, rerunnable code cells."""

    @abstractmethod
    def context(self, plan: Plan, req: Requirements, report: DataReport, settings: dict[str, Any]) -> dict[str, Any]:
        """What the templates are rendered with."""

    def files(self, plan: Plan, req: Requirements, report: DataReport, settings: dict[str, Any]) -> dict[str, str]:
        """The run folder's deployment files, rendered from templates with the cells' context: ``predict.py``
        (templates/<template_dir>/predict_file.py.j2) and ``serve.py`` (templates/common/serve.py.j2). They
        load the model the save cell writes; the operation agent writes them beside the cells."""
        from .. import templates

        ctx = self.context(plan, req, report, settings)
        return {"predict.py": templates.render(f"{self.template_dir}/predict_file", **ctx),
                "serve.py": templates.render("common/serve", **{**ctx, "modality": self.template_dir})}
