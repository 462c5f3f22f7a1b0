"""The ``automl-agent`` command."""
from __future__ import annotations

import argparse
import sys
from typing import Any

from .config import setting_fields
from .record import run_lines
from .schema import TASKS


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="automl-agent", description="AutoML-Agent: one instruction + data -> a "
                                "verified, saved model (offline by default).")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="plan, implement and verify a model")
    r.add_argument("instruction", help="what to build, in plain words (with targets such as 'F1 of at least 0.95')")
    r.add_argument("--data", help="the data file (CSV/TSV)")
    r.add_argument("--out", help="run folder (default: runs/<run id>)")
    r.add_argument("--target", help="the column to predict (default: parsed from the instruction)")
    r.add_argument("--task", choices=TASKS, help="the kind of task (default: parsed from the instruction)")
    for f in setting_fields(flagged=True):  # --plans, --top-k, --seed, --budget, --llm (config.Settings)
        kind = {"action": "store_const", "const": True} if f.metadata["kind"] is bool else {"type": f.metadata["kind"]}
        r.add_argument(f.metadata["flag"], dest=f.name, **kind, default=None,
                       help=f.metadata["help"] + (" The key comes from OPENAI_API_KEY (environment or .env)."
                                                  if f.name == "llm" else ""))
    r.add_argument("--base-url", help="OpenAI-compatible server URL, e.g. http://localhost:11434/v1 (default: "
                   "OPENAI_BASE_URL, else OpenAI)")
    r.add_argument("--role-model", action="append", metavar="ROLE=MODEL", default=None,
                   help="another model for one role, e.g. parse_requirements=gpt-4.1-nano (repeatable)")
    r.add_argument("--llm-timeout", type=float, default=None, help="seconds per LLM request (default 60)")
    r.add_argument("--approve-flagged-code", action="store_true",
                   help="run LLM-written code even when the safety check flags it (default: never)")
    r.add_argument("--sources", default=None, help="knowledge sources for retrieval: local (default), or a list "
                   "such as local,arxiv,huggingface,kaggle (online ones need network and say so when unreachable)")
    r.add_argument("--plan-only", action="store_true", help="stop after planning (no training)")
    r.add_argument("--quiet", action="store_true")
    rs = sub.add_parser("resume", help="continue an interrupted or abandoned run from its folder")
    rs.add_argument("folder", help="the run folder (see automl-agent runs)")
    rs.add_argument("--quiet", action="store_true")
    ls = sub.add_parser("runs", help="list past runs")
    ls.add_argument("--dir", default="runs")
    return p


class ProgressBar:
    """The train cell's live progress as a tqdm bar on stderr: time used of the budget, with the candidate,
    trial or epoch and the best validation score so far."""

    def __init__(self) -> None:
        self.bar = None

    def update(self, state: dict) -> None:
        from tqdm import tqdm

        budget = float(state.get("budget_s") or 0) or None
        if self.bar is None:
            self.bar = tqdm(total=round(budget, 1) if budget else None, unit="s", file=sys.stderr, leave=True,
                            bar_format="{desc} |{bar}| {n:.0f}/{total:.0f} s{postfix}" if budget else None)
        where = state.get("candidate") or ""
        if state.get("candidate_index") and state.get("n_candidates"):
            where += f" ({state['candidate_index']}/{state['n_candidates']})"
        if state.get("trial"):
            where += f" trial {state['trial']}" + (f"/{state['n_trials']}" if state.get("n_trials") else "")
        elif state.get("epoch") is not None:
            where += f" epoch {state['epoch']}"
        self.bar.set_description(f"  {state.get('stage', 'train')} {where}".rstrip(), refresh=False)
        if state.get("best") is not None:
            self.bar.set_postfix_str(f"best valid {state.get('metric', '')} {state['best']:.4f}", refresh=False)
        elapsed = float(state.get("elapsed_s") or 0)
        self.bar.n = min(elapsed, self.bar.total) if self.bar.total else elapsed
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "runs":
        for line in run_lines(args.dir):
            print(line)
        return 0
    from .api import AutoMLAgent
    from .errors import AutoMLError
    from .interrupt import Interrupted

    bar = ProgressBar()

    def show(stage: str, state: str, info: dict) -> None:
        if args.quiet:
            return
        if stage == "progress":
            bar.update(info)
            return
        if stage.startswith("cell:"):
            bar.close()
        if stage == "race":  # --race: the plans racing, then their validation scores and the winner
            from .race import race_lines

            for line in race_lines(state, info):
                print(f"  {line}", file=sys.stderr)
        elif state == "done":
            print(f"  [{stage}] {info.get('seconds', 0):.2f} s", file=sys.stderr)
        elif state == "info" and "repair" in info:
            print(f"  [{stage}] attempt {info['attempt']} failed ({info['error'][:100]}); repair: {info['repair']}",
                  file=sys.stderr)

    def finish(start: Any) -> int:
        """Run, then report; bad input and interruptions end in one line with their exit code."""
        try:
            run = start()
        except AutoMLError as exc:
            print(f"automl-agent: {exc}", file=sys.stderr)
            return 2
        except Interrupted as exc:
            bar.close()  # the line goes below the progress bar, not onto it
            print(f"automl-agent: {exc.line}", file=sys.stderr)
            return 143 if exc.reason == "SIGTERM" else 130
        return _report(run)

    if args.command == "resume":
        return finish(lambda: AutoMLAgent.for_run(args.folder, on_event=show).resume(args.folder))
    given = {f.name: getattr(args, f.name) for f in setting_fields(flagged=True) if f.name != "llm"}
    opts = {k: v for k, v in {**given, "knowledge_sources": args.sources,
                              "llm_timeout": args.llm_timeout,
                              "role_models": ",".join(args.role_model) if args.role_model else None,
                              "approve_flagged_code": args.approve_flagged_code or None}.items() if v is not None}
    return finish(lambda: AutoMLAgent(llm=args.llm, base_url=args.base_url, on_event=show, **opts).run(
        args.instruction, data=args.data, out=args.out, auto=not args.plan_only, target=args.target, task=args.task))


def _report(run: Any) -> int:
    rec = run.record
    print(f"status: {rec.status}")
    if rec.message:
        print(f"message: {rec.message}")
    if rec.choices:
        for q in rec.choices:
            print(f"question: {q.text}")
            if q.guess is not None:
                print(f"  best guess: {q.guess}  (to accept it, run again with {q.flag})")
            if len(q.options) > 1:
                print("  options: " + "; ".join(o.get("label", str(o.get("value"))) for o in q.options[:12]))
    else:
        for q in rec.questions:
            print(f"question: {q}")
    for p in rec.plans:
        best = p.candidates[0] if p.candidates else None
        pred = f"predicted {best.name} {best.predicted_metric}" if best else ""
        print(f"plan {p.id} [{p.state}] {p.title}: {pred} -> {'pass' if p.verdict and p.verdict.passed else 'fail'}")
    if rec.primary_metric:
        print(f"test {rec.primary_metric['name']}: {rec.primary_metric['value']:.4f}")
    for c in rec.constraints:
        print(f"constraint {c['name']}: measured {c['measured']} {c['unit']} vs target {c['target']} -> "
              f"{'pass' if c['pass'] else 'FAIL'}")
    if rec.brain != "offline":
        t = rec.llm_total
        print(f"llm {rec.brain}: {t.calls} calls, {t.prompt_tokens} prompt + {t.completion_tokens} completion "
              f"tokens, {t.seconds:.1f} s, ${t.cost_usd:.4f}" + (f", {t.fallbacks} offline fallbacks"
                                                                  if t.fallbacks else ""))
        for role, n in rec.decided_by().items():
            print(f"  {role}: LLM answer used {n['llm']} of {n['llm'] + n['offline']}")
    for note in rec.notes:
        print(f"note: {note}")
    print(f"run folder: {run.folder}")
    return 0 if rec.status in ("succeeded", "planned") else 1


if __name__ == "__main__":
    sys.exit(main())
