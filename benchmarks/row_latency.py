"""One row through the saved predict.py's runtime: the array path against the DataFrame path, per recipe.

For each table, the preprocess cell of each recipe (trees, onehot, quantile, pca; rendered from the package's
template) is fitted on 70% of the rows, then a LightGBM model and a three-member ensemble (LightGBM, logistic
or ridge regression, a 100-tree random forest) on its features. Each model answers rows one at a time through
``predict_row`` (templates/tabular/runtime.py.j2) on one thread: with the compiled array layout (what
predict.py uses) and without it (the DataFrame through the ColumnTransformer). The median and p95 milliseconds
and whether both paths gave the same answers are written to one table with the load average.

    .venv/bin/python -m benchmarks.row_latency [--rows 300] [--out benchmarks/results/<date>-row-latency.md]
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from automl_agent_jupyter import templates

from . import registry

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "datasets"
RECIPES = ("trees", "onehot", "quantile", "pca")


def tables() -> list[tuple[str, pd.DataFrame, str, bool]]:
    """(name, frame, target, classification): trump_vote (50 states: infrequent categories), concrete, banana."""
    out = []
    for key, target, cls in (("trump_vote", "votetrump", True), ("concrete", "compressive_strength", False)):
        entry = registry.BY_KEY[key]
        registry.materialise(entry)
        df = pd.read_csv(registry.DATA_DIR / entry.folder / entry.data)
        df = df.drop(columns=[c for c in ("uid",) if c in df.columns]).dropna(subset=[target])
        out.append((key, df, target, cls))
    banana = pd.read_csv(SHARED / "banana_quality" / "banana_quality.csv")
    out.append(("banana_quality", banana, "Quality", True))
    return out


def members(kind: str, Z, y, cls: bool) -> list[dict]:
    import lightgbm as lgb
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    from sklearn.linear_model import LogisticRegression, Ridge

    task = "tabular_classification" if cls else "tabular_regression"
    booster = (lgb.LGBMClassifier if cls else lgb.LGBMRegressor)(n_estimators=300, verbose=-1, random_state=0, n_jobs=1)
    models = [("lightgbm", "lightgbm", booster)]
    if kind == "ensemble":
        models += [("linear", "sklearn", LogisticRegression(max_iter=500) if cls else Ridge()),
                   ("random_forest", "sklearn", (RandomForestClassifier if cls else RandomForestRegressor)(
                       n_estimators=100, random_state=0, n_jobs=1))]
    return [{"name": n, "kind": k, "model": m.fit(Z, y), "weight": 1.0, "task": task, "n_classes": 2}
            for n, k, m in models]


def time_rows(ns: dict, model: dict, rows: list[dict]) -> tuple[list[float], list]:
    from threadpoolctl import threadpool_limits

    lat, answers = [], []
    with threadpool_limits(limits=1):
        ns["predict_row"](model, rows[0])  # warm-up
        for r in rows:
            t = time.perf_counter()
            answers.append(ns["predict_row"](model, r))
            lat.append((time.perf_counter() - t) * 1000.0)
    return lat, answers


def run(n_rows: int) -> list[dict]:
    out = []
    for name, df, target, cls in tables():
        y_all = df.pop(target)
        if cls:
            y_all = pd.Series(pd.factorize(y_all, sort=True)[0], index=y_all.index)
        cut = int(0.7 * len(df))
        train, test, y = df.iloc[:cut], df.iloc[cut:cut + n_rows], y_all.iloc[:cut]
        cat = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]
        num = [c for c in df.columns if c not in cat]
        rows = test.to_dict("records")
        for recipe in RECIPES:
            source = templates.render("tabular/preprocess", recipe=recipe, recipe_text=recipe, num_cols=num,
                                      cat_cols=cat, date_cols=[], mixed_as_categorical=False)
            ns = {"X_train": train, "X_valid": test, "X_test": test, "SEED": 0}
            exec(compile(source, f"preprocess-{recipe}", "exec"), ns)  # noqa: S102 - the package's own template
            for kind in ("lightgbm", "ensemble"):
                model = {"task": "tabular_classification" if cls else "tabular_regression",
                         "features": list(train.columns), "classes": [0, 1] if cls else None, "threshold": 0.5,
                         "target_transform": "none", "prep": ns["PREP"], "layout": ns["compile_rows"](ns["PREP"]),
                         "date_cols": [], "as_text": [], "members": members(kind, ns["Z_train"], y, cls)}
                arr, a1 = time_rows(ns, model, rows)
                frame, a2 = time_rows(ns, {**model, "layout": None}, rows[:100])
                same = all(abs(float(p) - float(q)) <= 1e-9 * max(1.0, abs(float(q))) for p, q in zip(a1, a2))
                out.append({"table": name, "features": ns["Z_train"].shape[1], "recipe": recipe, "model": kind,
                            "array_median": np.median(arr), "array_p95": np.percentile(arr, 95),
                            "frame_median": np.median(frame), "same": same, "layout": model["layout"] is not None})
                print(out[-1], flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=300)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    load0 = os.getloadavg()
    rows = run(args.rows)
    load1 = os.getloadavg()
    lines = [f"# One row through predict.py's runtime: array path against DataFrame path ({dt.date.today()})", "",
             f"`python -m benchmarks.row_latency --rows {args.rows}`; one thread; {args.rows} rows (array path), 100 "
             f"rows (DataFrame path). Load average (1/5/15 min) {load0[0]:.2f}/{load0[1]:.2f}/{load0[2]:.2f} before, "
             f"{load1[0]:.2f}/{load1[1]:.2f}/{load1[2]:.2f} after, on 2 cores.", "",
             "| table | recipe | features | model | array median (ms) | array p95 (ms) | DataFrame median (ms) | "
             "same answers |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['table']} | {r['recipe']} | {r['features']} | {r['model']} | "
                     f"{r['array_median']:.3f} | {r['array_p95']:.3f} | {r['frame_median']:.2f} | "
                     f"{'yes' if r['same'] else 'NO'}{'' if r['layout'] else ' (no array layout)'} |")
    text = "\n".join(lines) + "\n"
    out = Path(args.out or HERE / "results" / f"{dt.date.today().isoformat()}-row-latency.md")
    out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
