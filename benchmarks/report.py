"""results.json -> results.md and chart.png.

``python benchmarks/report.py md results.json`` rewrites results.md; ``... chart results.json out.png``
draws the chart (needs matplotlib: the harness calls this with the benchmark venv's python when the
product venv has none).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

NAMES = {"flaml": "FLAML", "autogluon": "AutoGluon"}
SETTING_NAMES = {"cf": "Constraint-free", "ca": "Constraint-aware"}
NOT_RUN = ("unsupported", "not_run")


def _f(v: Any, nd: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, float)):
        return f"{v:.{nd}f}"
    return str(v)


def _s(v: Any) -> str:
    return "–" if v is None else (f"{v:.0f}" if v >= 10 else f"{v:.1f}")


def _held(v: bool | None) -> str:
    return "–" if v is None else ("✓ all" if v else "✗")


def _constraint_text(cs: list[dict[str, Any]]) -> str:
    parts = []
    for c in cs:
        m = c.get("measured")
        unit = f" {c['unit']}" if c.get("unit") else ""
        mark = {True: "✓", False: "✗", None: "?"}[c.get("pass")]
        perf = c.get("kind") == "performance"
        shown = _f(m, 4) if perf else ("–" if m is None else (f"{m:.2f}" if m >= 0.995 else f"{m:.2g}"))
        parts.append(f"{c['name']} {shown}{unit} vs {c['target']:g}{unit} {mark}")
    return "; ".join(parts) or "–"


def _base(results: dict[str, Any], dataset: str, system: str) -> dict[str, Any] | None:
    return (results.get("baselines", {}).get(dataset) or {}).get(system)


def _ratio(b: dict[str, Any] | None, ours_nps: float | None) -> str:
    if not b or "error" in b or not ours_nps:
        return "–"
    return f"{b['NPS'] / ours_nps:.3f}"


def markdown(results: dict[str, Any]) -> str:
    cfg, mach = results["config"], results["machine"]
    systems = [s for s in ("flaml", "autogluon") if any(_base(results, d, s) for d in results.get("baselines", {}))]
    bp = mach.get("bench_packages") or {}
    paper = cfg.get("suite", "paper") == "paper"
    title = "" if paper else (" — the wide bench" + (f", {cfg['half']} half" if cfg.get("half") else ""))
    lines = [f"# AutoML-Agent benchmark, {results['date']}{title}", ""]
    lines += [f"Command: `{results['command']}` (repository root, product venv; baselines in `.venv-bench`)."
              + "".join(f" Then `{c}`." for c in (results.get("commands") or [])[1:]), ""]
    lines += [f"- **Ours**: the real pipeline (Python API), brain `{cfg['llm']}`, `budget_s={cfg['budget_s']:g}`, "
              f"`n_plans={cfg['n_plans']}`, seed {cfg['seed']}, hard limit "
              f"{cfg['timeout_s']:.0f} s per run.",
              "- **Baselines**: " + (", ".join(
                  f"{NAMES[s]} {bp.get({'flaml': 'flaml', 'autogluon': 'autogluon.tabular'}[s], '')}"
                  + (" (`TabularPredictor`, `presets='medium_quality'`)" if s == "autogluon" else " (`AutoML.fit`)")
                  for s in systems) or "none run.")
              + (f", {cfg['baseline_budget_s']:g} s time limit each, on the same train/valid/test split as our run "
                 "(the pipeline's own split cells), scored on the same test rows." if systems else "")
              + "".join(f" {NAMES[s]} skipped: {w}." for s, w in (cfg.get("baselines_skipped") or {}).items()),
              "- Baseline model size is the saved model: FLAML's pickled best model; AutoGluon's whole predictor "
              "folder as fit (every trained model kept; `clone_for_deployment` would trim it). Latency: median of "
              "single-row predictions (ours: up to 200 test rows; baselines: 100), after a warm-up.",
              "- **Scores** (the paper's): SR = 1 when a test metric was measured; NPS = the metric (F1, accuracy, "
              "Rand index) or 1/(1+s) for an error s (RMSLE); CS = 0.5·SR + 0.5·NPS. Ratios are baseline NPS ÷ "
              "our NPS: **below 1.00 means ours is better**.",
              f"- **Machine**: {mach.get('cpu')}, {mach.get('cores')} cores, {mach.get('memory_gb')} GB RAM, "
              f"{mach.get('platform')}, Python {mach.get('python')}, {mach.get('gpu')}. Load average at start "
              f"{mach.get('load_avg_start')}, at end {mach.get('load_avg_end', '–')} (a shared machine: wall times "
              "are indicative).",
              "- **Code measured**: " + _code(cfg.get("code") or {}),
              f"- Total wall time of this benchmark: {_s(results.get('wall_s_total'))} s"
              + (" (all the commands above)." if len(results.get("commands") or []) > 1 else "."), ""]
    if cfg.get("sources"):
        lines += [("Data (wide bench): tables that a registry package ships as files, written to CSV unchanged but "
                   "for the R row names (`benchmarks/registry.py`); dev may be tuned on; the check half "
                   "was committed before anything ran on it and is run once, at the end:"), "",
                  "| dataset | half | source | rows | columns | target (missing) | task | metric |",
                  "|---|---|---|---|---|---|---|---|"]
        for key, m in cfg["sources"].items():
            lines.append(f"| {key} | {m['half']} | {m['package']} {m['version']} `{m['item']}` | {m['rows']:,} | "
                         f"{m['columns']} | {m['target']} ({m['target_missing']:,}) | {m['task']} | {m['metric']} |")
        lines.append("")
    if results.get("chart"):
        lines += [f"![NPS and wall time per dataset]({results['chart']})", ""]
    # ---------------------------------------------------------------- summary
    lines += _head_to_head((results.get("summary") or {}).get("head_to_head"), systems)
    lines += ["## Summary", "",
              "| setting | rows run | SR | NPS | CS | requirements met |"
              + (" paper SR / NPS / CS (from the paper, not re-run) |" if paper else ""),
              "|---|---|---|---|---|---|" + ("---|" if paper else "")]
    for setting, s in _settings(results):
        o, p = s["ours"], s["paper"]
        lines.append(f"| {SETTING_NAMES[setting]} | {o['n_ran']} of {o['n_rows']} | {_f(o['SR'], 2)} | {_f(o['NPS'])} | "
                     f"{_f(o['CS'])} | {_f(o['requirements_met'], 2) if setting == 'ca' else '–'} |"
                     + (f" {p['SR']:.2f} / {p['NPS']:.2f} / {p['CS']:.2f} |" if paper else ""))
    lines.append("")
    if systems:
        lines += ["| setting | baseline | datasets | baseline mean NPS | ours, same datasets | NPS ratio | ours better / "
                  "baseline better | baseline met the CA requirements | baseline wall s | ours wall s | wall ratio |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for setting, s in _settings(results):
            for system, b in s["baselines"].items():
                lines.append(f"| {SETTING_NAMES[setting]} | {NAMES[system]} | {b['n']} | {_f(b['NPS'])} | "
                             f"{_f(b['ours_NPS_same_rows'])} | {_f(b['ratio_of_means'])} | {b['ours_better']} / "
                             f"{b['baseline_better']} | {_f(b['requirements_met'], 2) if setting == 'ca' else '–'} | "
                             f"{_s(b['wall_s'])} | {_s(b.get('ours_wall_s_same_rows'))} | {_f(b.get('wall_ratio'), 2)} |")
        lines.append("")
    # ---------------------------------------------------------------- per setting
    for setting in cfg["settings"]:
        rows = [r for r in results["rows"] if r["setting"] == setting]
        lines += [f"## {SETTING_NAMES[setting]}", ""]
        head = "| dataset | metric | ours | SR | NPS | CS | ours s |"
        sep = "|---|---|---|---|---|---|---|"
        if setting == "ca":
            head += " requirements held (ours) |"
            sep += "---|"
        for s in systems:
            head += f" {NAMES[s]} | {NAMES[s]}/ours NPS | {NAMES[s]} s |" + (f" {NAMES[s]} held |" if setting == "ca" else "")
            sep += "---|---|---|" + ("---|" if setting == "ca" else "")
        if setting == "cf" and paper:
            head += " paper NPS (from the paper, not re-run) |"
            sep += "---|"
        lines += [head, sep]
        for r in rows:
            if r["status"] in NOT_RUN:
                cells = [r["dataset"], r["metric"], f"**{_unsupported(r)}**", "–", "–", "–", "–"]
                if setting == "ca":
                    cells.append("–")
                for _ in systems:
                    cells += ["–"] * (4 if setting == "ca" else 3)
                if setting == "cf" and paper:
                    cells.append(_f(r.get("paper_nps_cf"), 2))
                lines.append("| " + " | ".join(cells) + " |")
                continue
            sc = r["scores"]
            ours = _f(r["value"], 4) + ("" if r["status"] in ("succeeded", "failed") else f" ({r['status']})")
            cells = [r["dataset"], r["metric"], ours, _f(sc["SR"], 0), _f(sc["NPS"]), _f(sc["CS"]), _s(r["wall_s"])]
            if setting == "ca":
                cells.append(_held(r.get("constraints_all_held")))
            for s in systems:
                b = _base(results, r["dataset"], s)
                if not b:
                    cells += ["n/a"] + ["–"] * (3 if setting == "ca" else 2)
                    continue
                val = _f(b.get("value"), 4) if "error" not in b else "error"
                cells += [val, _ratio(b, sc["NPS"]), _s(b.get("process_wall_s"))]
                if setting == "ca":
                    cells.append(_held(b.get("constraints_all_held")))
            if setting == "cf" and paper:
                cells.append(_f(r.get("paper_nps_cf"), 2))
            lines.append("| " + " | ".join(cells) + " |")
        ref = results.get("paper_reference", {})
        if setting == "cf" and paper:
            lines += ["", f"Paper means (AutoML-Agent with GPT-4o, over the paper's own 14 datasets; from the paper, "
                          f"not re-run): SR {ref['cf']['SR']:.2f}, NPS {ref['cf']['NPS']:.2f}, "
                          f"CS {ref['cf']['CS']:.2f}."]
        elif setting == "ca":
            if paper:
                lines += ["", f"Paper means (from the paper, not re-run): SR {ref['ca']['SR']:.2f}, NPS "
                              f"{ref['ca']['NPS']:.2f}, CS {ref['ca']['CS']:.2f}."]
            lines += ["", "Requirements, as measured (ours, then each baseline on the same requirements):", ""]
            for r in rows:
                if r["status"] in NOT_RUN:
                    continue
                lines.append(f"- **{r['dataset']}** ours: {_constraint_text(r.get('constraints') or [])}")
                for s in systems:
                    b = _base(results, r["dataset"], s)
                    if b and b.get("constraints"):
                        lines.append(f"  - {NAMES[s]}: {_constraint_text(b['constraints'])}")
        lines.append("")
    # ---------------------------------------------------------------- timings
    lines += ["## Where our time went", "",
              "Seconds per stage, from each run's record: agent stages = request verification to execution "
              "verification, including the model agent's probe fits; train cell = the train cells of every plan "
              "tried, summed; implementation = the last plan tried (the record keeps only that one); total = the "
              "whole run, revisions included.", "",
              "| dataset | setting | status | model | agent stages | model search | train cell | implementation | "
              "total | revisions | LLM calls / tokens |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results["rows"]:
        if r["status"] in NOT_RUN:
            continue
        t = r.get("timings") or {}
        llm = r.get("llm") or {}
        lines.append(f"| {r['dataset']} | {r['setting']} | {r['status']} | {r.get('model') or '–'} | "
                     f"{_s(t.get('agent_stages'))} | {_s(t.get('model_search'))} | {_s(t.get('cell:train'))} | "
                     f"{_s(t.get('implementation'))} | {_s(t.get('total'))} | {r.get('revisions', '–')} | "
                     f"{int(llm.get('calls', 0))} / {int(llm.get('tokens', 0))} |")
    lines.append("")
    # ---------------------------------------------------------------- not supported / notes
    uns = [r for r in results["rows"] if r["status"] in NOT_RUN]
    if uns:
        lines += ["## Rows not run", "",
                  "In the suite but not run: the pipeline has no module for the task yet (task not supported yet), "
                  "or the run was limited to a support check (`--non-tabular check`). Left out of the means.", ""]
        for r in uns:
            lines.append(f"- {r['dataset']} ({r['setting']}, {r['task']}): {_unsupported(r)}: {r.get('message', '')}")
        lines.append("")
    notes = []
    for d, per in (results.get("baselines") or {}).items():
        for s, b in per.items():
            sp = b.get("split") or {}
            if b.get("replaces"):
                o = b["replaces"]
                notes.append(f"{NAMES[s]} on {d}: refit with `--resume` because its first fit's split was "
                             f"{o.get('split_source')}, not our pipeline's own cells; the first fit scored "
                             f"{_f(o.get('value'), 4)} (the same rows: the fingerprints match), this one "
                             f"{_f(b.get('value'), 4)}"
                             + (": a time-limited fit varies with machine load." if o.get("value") != b.get("value")
                                else "."))
            if "error" in b:
                notes.append(f"{NAMES[s]} on {d}: {b['error']}")
            elif sp:
                same = sp.get("identical_to_replication")
                match = {True: "the same as our run's", False: "NOT the same as our run's",
                         None: "our run reported no sizes to compare"}[sp.get("sizes_match_run")]
                notes.append(f"{NAMES[s]} on {d}: split from {sp.get('source')}, sizes {sp.get('sizes')} ({match})"
                             + ("" if same is None else f", independent re-implementation "
                                f"{'identical' if same else 'DIFFERENT'}") + ".")
    for r in results["rows"]:
        p = r.get("parse")
        if p and not p["ok"]:
            notes.append(f"{r['dataset']} {r['setting']}: the instruction was parsed differently from the suite's "
                         f"intent: {'; '.join(p['diffs'])}.")
        if r["status"] in ("timeout", "crashed"):
            notes.append(f"{r['dataset']} {r['setting']}: {r['status']}: {r.get('message', '')} (1-min load average "
                         f"before/after: {r.get('load_avg_1min')}).")
        if r.get("rerun_of") and r["rerun_of"].get("status") != "not_run":
            o = r["rerun_of"]
            notes.append(f"{r['dataset']} {r['setting']}: rerun with `--resume` at {r.get('started')}; the first "
                         f"attempt{' (' + o['started'] + ')' if o.get('started') else ''} was {o.get('status')}: "
                         f"{o.get('message')} (1-min load average before/after: {o.get('load_avg_1min')}).")
    tests = [((r.get("split") or {}).get("sizes") or {}).get("test") for r in results["rows"]]
    tests = [t for t in tests if t]
    size = f" ({min(tests):,} to {max(tests):,} test rows)" if tests else ""
    notes.append(f"One seed, one split per dataset{size}: on small test splits gaps under about 1 % are noise. "
                 "FLAML and AutoGluon stop at a time limit, so what they fit, and their score, varies between runs "
                 "with the machine's load. "
                 "Clustering rows have no FLAML/AutoGluon entry (n/a): both are supervised learners.")
    lines += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    lines += ["## Instructions", ""]
    for r in results["rows"]:
        lines.append(f"- {r['dataset']} ({r['setting']}): “{r['instruction']}”")
    lines.append("")
    return "\n".join(lines)


def _settings(results: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(k, v) for k, v in (results.get("summary") or {}).items() if k in SETTING_NAMES]


def _metric(v: Any) -> str:
    if v is None:
        return "–"
    return f"{v:,.0f}" if abs(v) >= 1000 else (f"{v:.2f}" if abs(v) >= 10 else f"{v:.4f}")


def _load(v: dict[str, Any] | None) -> str:
    return "–" if not v else f"{v['before'][0]:.1f}→{v['after'][0]:.1f}"


def _head_to_head(h: dict[str, Any] | None, systems: list[str]) -> list[str]:
    """The raw-metric table: every dataset, ours against each baseline, wins and losses, wall times, load."""
    if not h or not h["rows"]:
        return []
    t = h["tally"]
    budget = h["budget_s"]
    lines = ["## Head to head (constraint-free rows, raw test metric)", "",
             (f"Ours is the whole run (instruction to saved model) with `budget_s={budget:g}`; its wall time is the "
              "run's process. Gain = how much better ours is than the baseline, relative to the baseline (positive: "
              f"ours better). Against AutoGluon a loss of at most {h['tolerance']:.0%} counts as level. Load = the "
              "machine's 1-minute load average before→after the row (2 cores, shared)."), ""]
    tally = [f"ours ≥ AutoGluon (within {h['tolerance']:.0%}) on **{t['autogluon_ok']} of {t['n']}**"
             if "autogluon" in systems else "",
             f"ahead of FLAML on **{t['flaml_ahead']} of {t['n']}**" if "flaml" in systems else "",
             f"our whole run ≤ {budget:g} s on **{t['within_budget']} of {t['n']}**"]
    if t["ca_n"]:
        tally.append(f"constraint-aware latency limits met on **{t['ca_held']} of {t['ca_n']}**")
    lines += ["Tally: " + "; ".join(x for x in tally if x) + ".", ""]
    head = "| dataset | metric | ours | ours s | load |"
    sep = "|---|---|---|---|---|"
    for s in systems:
        head += f" {NAMES[s]} | gain vs {NAMES[s]} | verdict | {NAMES[s]} s | load |"
        sep += "---|---|---|---|---|"
    head += " CA: ours | CA: latency ms (limit) | CA s |"
    sep += "---|---|---|"
    lines += [head, sep]
    for r in h["rows"]:
        ours = _metric(r["ours"]) + ("" if r["ours_status"] == "succeeded" else f" ({r['ours_status']})")
        cells = [r["dataset"], r["metric"], ours, _s(r["ours_wall_s"]) + ("" if r["within_budget"] else " ✗"),
                 _load(r.get("ours_load"))]
        for s in systems:
            b = r.get(s)
            if not b:
                cells += ["n/a", "–", "–", "–", "–"]
                continue
            gain = "–" if b["gain"] is None else f"{b['gain']:+.1%}"
            cells += [_metric(b["value"]) if b["value"] is not None else "error", gain, b["verdict"],
                      _s(b["wall_s"]), _load(b.get("load"))]
        ca = r.get("ca")
        if ca:
            lat = "–" if ca["latency_ms"] is None else f"{ca['latency_ms']:.2g}"
            cells += [_metric(ca["value"]) + ("" if ca["status"] == "succeeded" else f" ({ca['status']})"),
                      f"{lat} ({ca['limit_ms']:g}) {'✓' if ca['held'] else '✗'}" if ca["limit_ms"] else "–",
                      _s(ca["wall_s"])]
        else:
            cells += ["–", "–", "–"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines + [""]


def _code(code: dict[str, Any]) -> str:
    if not code:
        return "–"
    text = f"commit {code.get('git_head') or '?'}"
    if code.get("uncommitted_changes_in_package"):
        text += " plus uncommitted changes in the package"
    if code.get("package_sha256"):
        text += f"; a copy of the package taken at the start (files sha256 {code['package_sha256']}) ran every row"
    return text + "."


def _unsupported(r: dict[str, Any]) -> str:
    return "task not supported yet" if r["status"] == "unsupported" else "not run (supported; support check only)"


def chart(results: dict[str, Any], path: str | Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rows = [r for r in results["rows"] if r["status"] not in NOT_RUN]
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    if not datasets:
        datasets = ["(none ran)"]
    settings = results["config"]["settings"]
    series: list[tuple[str, list[float | None], list[float | None], dict[str, Any]]] = []
    for setting in settings:
        by = {r["dataset"]: r for r in rows if r["setting"] == setting}
        series.append((f"ours, {SETTING_NAMES[setting].lower()}", [by[d]["scores"]["NPS"] if d in by else None
                                                                  for d in datasets],
                       [by[d]["wall_s"] if d in by else None for d in datasets],
                       {"color": {"cf": "#1f77b4", "ca": "#6baed6"}[setting]}))
    for system, color in (("flaml", "#ff7f0e"), ("autogluon", "#2ca02c")):
        vals = [_base(results, d, system) for d in datasets]
        if any(vals):
            series.append((f"{NAMES[system]} ({results['config']['baseline_budget_s']:g} s)",
                           [v["NPS"] if v and "error" not in v else None for v in vals],
                           [v.get("process_wall_s") if v else None for v in vals], {"color": color}))
    paper = [next((r.get("paper_nps_cf") for r in rows if r["dataset"] == d), None) for d in datasets]
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(max(8, 1.9 * len(datasets)), 8.5))
    n = len(series) + (1 if any(paper) else 0)
    width = 0.8 / max(1, n)
    x = np.arange(len(datasets))
    for i, (label, nps, _, kw) in enumerate(series):
        ax1.bar(x + (i - (n - 1) / 2) * width, [v if v is not None else 0 for v in nps], width, label=label, **kw)
    if any(paper):
        ax1.bar(x + (n - 1 - (n - 1) / 2) * width, [v or 0 for v in paper], width, label="paper, CF (not re-run)",
                color="white", edgecolor="grey", hatch="//")
    ax1.set_xticks(x, datasets, rotation=15)
    ax1.set_ylabel("NPS (higher is better)")
    ax1.set_ylim(0, 1.22)
    ax1.set_title(f"AutoML-Agent benchmark {results['date']}: NPS per dataset (test split)")
    ax1.legend(fontsize=8, ncol=5, loc="upper center")
    ax1.grid(axis="y", alpha=0.3)
    m = len(series)
    wt = 0.8 / max(1, m)
    for i, (label, _, wall, kw) in enumerate(series):
        ax2.bar(x + (i - (m - 1) / 2) * wt, [v if v is not None else 0 for v in wall], wt, label=label, **kw)
    ax2.set_xticks(x, datasets, rotation=15)
    ax2.set_ylabel("wall time per run, s (log)")
    ax2.set_yscale("log")
    ax2.set_title("Wall time per run (ours: whole pipeline; baselines: fit + scoring process)")
    ax2.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 2 or argv[0] not in ("md", "chart"):
        print("usage: report.py md RESULTS.json | report.py chart RESULTS.json OUT.png", file=sys.stderr)
        return 2
    results = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    if argv[0] == "md":
        Path(argv[1]).with_name("results.md").write_text(markdown(results), encoding="utf-8")
    else:
        chart(results, argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main())
