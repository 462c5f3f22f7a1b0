"""A race of 3 plans on a 2-worker local Ray cluster, against the same 3 plans one after another.

    .venv/bin/python -m benchmarks.race --budget 30

Starts a real local cluster (benchmarks/ray_local.py: a head with no CPUs and 2 workers of 2 logical CPUs
each, on 127.0.0.1), plans the banana_quality task twice (the offline brain and the same seed give the same 3
plans; checked), then runs race.race_plans once with every lane at once and once with one lane at a time
(slots=1). Each lane is given the same training budget in both (``--budget`` seconds for its cells, set
by taking planning's time out of the run's budget: both runs render identical cells), so the sequential
run is the same work done one plan after another. Reports both wall times (training the lanes, and the
winner's evaluate/measure/save), each plan's chosen model and validation score, the winner, and the load
average. Writes benchmarks/results/race/race.{json,md}.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "race"
DATA = ROOT.parent / "shared" / "datasets" / "banana_quality" / "banana_quality.csv"
INSTRUCTION = "Classify banana quality as Good or Bad"


def one(mode: str, address: str | None, budget: float, work: Path, effort: float | None = None) -> dict:
    from automl_agent_jupyter.config import Settings
    from automl_agent_jupyter.manager import Manager
    from automl_agent_jupyter.race import race_plans

    m = Manager(Settings(n_plans=3, top_k=3, seed=0, budget_s=budget, race=True, cluster=address, race_effort=effort))
    m.plan(INSTRUCTION, data=str(DATA), out=work / mode)
    planning_s = m.log.record.timings["agent_stages"]
    m.log.record.timings["agent_stages"] = 0.0  # every lane gets the whole --budget for its cells, in both modes
    load = os.getloadavg()
    t = time.perf_counter()
    winner = race_plans(m, slots=None if mode == "race" else 1)
    wall = time.perf_counter() - t
    m.log.record.timings["agent_stages"] = planning_s
    rec = m.save()
    return {"mode": mode, "wall_s": round(wall, 1), "lanes_s": rec.race["seconds"], "planning_s": round(planning_s, 1),
            "winner": rec.race["winner"], "test_f1": (rec.metrics.get("test") or {}).get("f1"),
            "plans": {r["plan"]: {"model": r["model"], "valid_f1": r["valid"].get("f1"), "node": r.get("node"),
                                  "trained_s": r["trained_s"], "effort": r.get("effort")} for r in rec.race["plans"]},
            "candidates": {p.id: [c.name for c in p.candidates] for p in m.planning.plans},
            "status": rec.status, "load_before": [round(x, 1) for x in load],
            "load_after": [round(x, 1) for x in os.getloadavg()], "winner_kept": winner is not None}


def _autogroup() -> str:
    try:
        return Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip()
    except OSError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=30.0, help="seconds of training budget per lane")
    ap.add_argument("--local", action="store_true", help="no cluster: the lanes as processes on this machine")
    ap.add_argument("--effort", type=float, default=None, help="race_effort: reference CPU s per lane (default: "
                    "the product's, from the budget and the race's cores)")
    args = ap.parse_args(argv)
    from benchmarks.ray_local import local_cluster

    work = ROOT / "benchmarks" / "work" / "race" / time.strftime("%Y%m%d-%H%M%S")
    OUT.mkdir(parents=True, exist_ok=True)
    if args.local:
        runs = [one(mode, None, args.budget, work, args.effort) for mode in ("race", "sequential")]
    else:
        with local_cluster(workers=2, cpus_per_worker=2, dashboard=False) as cluster:  # no state API needed
            runs = [one(mode, cluster["address"], args.budget, work, args.effort) for mode in ("race", "sequential")]
    race, seq = runs
    where = "local processes (no cluster)" if args.local else "a 2-worker local Ray cluster"
    result = {"where": where, "budget_per_lane_s": args.budget, "cpus": os.cpu_count(), "runs": runs,
              "ratio": round(race["wall_s"] / seq["wall_s"], 3),
              "same_plans": race["candidates"] == seq["candidates"],
              "same_models": {p: v["model"] for p, v in race["plans"].items()}
              == {p: v["model"] for p, v in seq["plans"].items()},
              "same_winner": race["winner"] == seq["winner"],
              "same_valid_scores": {p: v["valid_f1"] for p, v in race["plans"].items()}
              == {p: v["valid_f1"] for p, v in seq["plans"].items()},
              "capped": {r["mode"]: {p: v["effort"]["capped_by_deadline"] for p, v in r["plans"].items()
                                     if (v.get("effort") or {}).get("capped_by_deadline")} for r in runs}}
    name = "race_local" if args.local else "race"
    (OUT / f"{name}.json").write_text(json.dumps(result, indent=1))
    effort = next((v["effort"]["cpu_s"] for v in race["plans"].values() if v.get("effort")), None)
    lines = [f"# A race of 3 plans on {where}", "",
             f"`python -m benchmarks.race --budget {args.budget:g}{' --local' if args.local else ''}"
             f"{f' --effort {args.effort:g}' if args.effort else ''}`: banana_quality "
             f"(8,000 rows), offline brain, seed 0, on one {os.cpu_count()}-core machine shared with other work; "
             + ("each lane (plan) a process of its own" if args.local else "a local cluster of a head (0 CPUs) and 2 "
                "workers of 2 logical CPUs each; each lane (plan) a Ray actor of 1 CPU")
             + f", with the same {args.budget:g} s training budget in both modes. Each lane's trials are fixed up "
             f"front from the cost model ({effort} reference CPU s of effort per lane: every portfolio configuration, "
             "then the search trials it buys per candidate); the budget only caps.", "",
             "| mode | wall s (lanes + winner's evaluate/save) | lanes s | plan: model, valid F1, search trials run, "
             "lane s | winner | test F1 | load (1/5/15 min) before |", "|---|---|---|---|---|---|---|"]
    for r in runs:
        plans = "; ".join(f"{p}: {v['model']} {v['valid_f1']} {(v.get('effort') or {}).get('search_trials_run')} "
                          f"{v['trained_s']} s" for p, v in r["plans"].items())
        lines.append(f"| {r['mode']} | {r['wall_s']} | {r['lanes_s']} | {plans} | {r['winner']} | {r['test_f1']} | "
                     f"{' / '.join(map(str, r['load_before']))} |")
    lines += ["", f"Race / sequential wall time: **{result['ratio']}** (target at most 0.6). Same plans: "
              f"{result['same_plans']}; same model chosen per plan: {result['same_models']}; same winner: "
              f"{result['same_winner']}; same validation scores: {result['same_valid_scores']}. Trials cut by the "
              f"deadline: {result['capped'] or 'none'}."]
    lines += ["", "Each lane does the same work raced or alone (its trials fixed by effort), so the ratio is the parallelism "
              f"the race really got. On this machine the kernel shares the CPU between sessions (sched_autogroup_enabled "
              f"= {_autogroup()}): the processes of one session share one session's CPU share however many they are "
              "(local lanes: no faster than one after another while other sessions keep the cores busy), while each "
              "node that `ray start` starts runs in a session of its own. With 3 lanes on 2 worker nodes one node "
              "runs 2 lanes, so a race takes at least the longer of the two nodes' work."]
    if not result["same_models"]:
        lines += ["", f"The model chosen within a plan differs where the lanes ran side by side on the {os.cpu_count()} "
                  "physical cores of this machine (with other work beside them): where the deadline cut a lane's "
                  "fixed trials (listed above), that lane tried fewer configurations than the same lane alone, so "
                  "a close second could win its plan."]
    (OUT / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
