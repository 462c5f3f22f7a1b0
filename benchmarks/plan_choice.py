"""Which plan would the tabular model agent rank first, and how much validation score does that lose against the
best plan? Leave-one-table-out, on the ranking records where every plan of a table was trained.

Rows: the shared tabular datasets (results/ranking/probes.json joined with records.json) and the wide bench's dev
tables (probes-wide.json joined with records-wide.json), each at the probe effort a default 60 s run sizes. For
each table the priors are refitted without it (fit_learning_curves.fit), every plan is scored by its best
candidate's prediction (with ``caution`` residual sds toward the worse end, as learning_curves.CAUTION does), and
the first plan's realized validation score is compared with the best plan's (a relative loss; 0 when it is the best).

    .venv/bin/python -m benchmarks.plan_choice [--caution 0.5] [--caution 0 ...]
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent / "results" / "ranking"


def rows() -> list[dict[str, Any]]:
    from benchmarks.ranking import join_realized

    out = [r for r in join_realized(json.loads((HERE / "probes.json").read_text())["rows"],
                                    json.loads((HERE / "records.json").read_text())["rows"])
           if r["task"].startswith("tabular")]
    if (HERE / "probes-wide.json").exists():
        out += join_realized(json.loads((HERE / "probes-wide.json").read_text())["rows"],
                             json.loads((HERE / "records-wide.json").read_text())["rows"])
    return out


def first_plan(rows_: list[dict[str, Any]], curves: dict[str, Any], caution: float) -> tuple[str, str]:
    """(plan, candidate) ranked first: the plan whose best candidate's cautious prediction is best."""
    from automl_agent_jupyter.knowledge import learning_curves as lc
    from automl_agent_jupyter.tasks.scoring import higher_is_better
    from benchmarks.fit_learning_curves import effort_ratio

    best: dict[str, tuple[float, str]] = {}
    for r in rows_:
        higher = higher_is_better(r["metric"])
        pred = lc.extrapolate_metric(r["metric"], higher, r["probe"]["metric"], effort_ratio(r),
                                     lc.curve("tabular", r["family"], 0.1, curves), caution)[0]
        s = pred if higher else -pred
        if r["plan"] not in best or s > best[r["plan"]][0]:
            best[r["plan"]] = (s, r["candidate"])
    plan = max(best, key=lambda p: best[p][0])
    return plan, best[plan][1]


def main(argv: list[str] | None = None) -> int:
    from automl_agent_jupyter.tasks.scoring import higher_is_better
    from benchmarks.fit_learning_curves import fit

    ap = argparse.ArgumentParser(prog="python -m benchmarks.plan_choice")
    ap.add_argument("--caution", type=float, action="append")
    a = ap.parse_args(argv)
    data = rows()
    sized = [r for r in data if r.get("sized")]
    tables = sorted({r["dataset"] for r in sized})
    for caution in a.caution or [0.0, 0.5]:
        total, lines = 0.0, []
        for ds in tables:
            mine = [r for r in sized if r["dataset"] == ds]
            higher = higher_is_better(mine[0]["metric"])
            real: dict[str, float] = {}
            for r in mine:
                v = r["realized"]["valid_metric"] * (1 if higher else -1)
                real[r["plan"]] = max(real.get(r["plan"], -math.inf), v)
            top = max(real.values())
            plan, cand = first_plan(mine, fit([r for r in data if r["dataset"] != ds]), caution)
            loss = (top - real[plan]) / abs(top)
            total += loss
            lines.append(f"{ds} {cand} {loss:.2%}")
        print(f"caution {caution:g}: total plan loss {total:.1%} over {len(tables)} tables | " + ", ".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
