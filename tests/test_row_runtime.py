"""The one-row array path of the saved predict.py (templates/tabular/runtime.py.j2) against the fitted
ColumnTransformer it was compiled from: the preprocess cell's own recipes (one-hot with infrequent categories,
the quantile map, PCA), real data (crab_age, with a high-cardinality text column made from a real one),
unseen categories and missing values. The features must agree, and so must a fitted booster's predictions."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from shared_data import dataset

from automl_agent_jupyter import templates


def _frames():
    df = pd.read_csv(dataset("crab_age/CrabAgePrediction.csv")).sample(3000, random_state=0).reset_index(drop=True)
    # a text column with ~60 values, most of them rare (max_categories=20 makes them infrequent)
    df["WeightBand"] = "w" + (df["Weight"] // 0.8).astype(int).astype(str)
    df.loc[::37, "Length"] = np.nan  # missing values: filled by the imputer
    df.loc[::41, "Sex"] = np.nan
    y = df.pop("Age")
    train, valid = df.iloc[:2400].copy(), df.iloc[2400:].copy()
    valid.loc[valid.index[:5], "WeightBand"] = "never seen"  # unknown categories at prediction time
    return train, valid, y.iloc[:2400]


@pytest.mark.parametrize("recipe", ["onehot", "quantile", "pca", "trees"])
def test_the_array_path_matches_the_pipeline(recipe):
    train, valid, y = _frames()
    num = [c for c in train.columns if c not in ("Sex", "WeightBand")]
    source = templates.render("tabular/preprocess", recipe=recipe, recipe_text=recipe, num_cols=num,
                              cat_cols=["Sex", "WeightBand"], date_cols=[], mixed_as_categorical=False)
    ns = {"X_train": train, "X_valid": valid, "X_test": valid, "SEED": 0}
    exec(compile(source, f"preprocess-{recipe}", "exec"), ns)  # the cell as the notebook runs it
    prep, layout = ns["PREP"], ns["compile_rows"](ns["PREP"])
    assert layout is not None, recipe  # no DataFrame fallback for any recipe the engine writes
    if recipe == "onehot":
        assert ns["PREP"].named_transformers_["cat"][-1].infrequent_categories_[1] is not None
    rows = valid.to_dict("records")
    by_row = np.vstack([ns["row_array"](layout, r) for r in rows])
    np.testing.assert_allclose(by_row, np.asarray(prep.transform(valid), dtype=np.float64), rtol=1e-9, atol=1e-9)

    import lightgbm as lgb

    est = lgb.LGBMRegressor(n_estimators=60, verbose=-1, random_state=0).fit(ns["Z_train"], y)
    model = {"task": "tabular_regression", "features": list(train.columns), "classes": None, "threshold": None,
             "target_transform": "none", "prep": prep, "layout": layout, "date_cols": [], "as_text": [],
             "members": [{"name": "lightgbm", "kind": "lightgbm", "model": est, "weight": 1.0,
                          "task": "tabular_regression"}]}
    one_by_one = np.array([ns["predict_row"](model, r) for r in rows])
    np.testing.assert_allclose(one_by_one, ns["predict_codes"](model, valid), rtol=1e-9)


def _trees_preprocessed():
    """The 'trees' recipe's preprocess cell run on the small frames: its namespace (Z_train, Z_valid, ...) and y."""
    train, valid, y = _frames()
    source = templates.render("tabular/preprocess", recipe="trees", recipe_text="trees",
                              num_cols=[c for c in train.columns if c not in ("Sex", "WeightBand")],
                              cat_cols=["Sex", "WeightBand"], date_cols=[], mixed_as_categorical=False)
    ns = {"X_train": train, "X_valid": valid, "X_test": valid, "SEED": 0}
    exec(compile(source, "preprocess-trees", "exec"), ns)
    return ns, y


@pytest.mark.parametrize("forest", ["RandomForestClassifier", "ExtraTreesRegressor"])
def test_a_forest_answers_from_its_trees_as_it_predicts(forest):
    """forest_output (no input check, no thread pool per tree) gives what predict_proba / predict give."""
    import sklearn.ensemble as ens

    ns, y = _trees_preprocessed()
    cls = forest.endswith("Classifier")
    target = (y > y.median()).astype(int) if cls else y
    est = getattr(ens, forest)(n_estimators=30, random_state=0, n_jobs=1).fit(ns["Z_train"], target)
    task = "tabular_classification" if cls else "tabular_regression"
    member = {"name": "forest", "kind": "sklearn", "model": est, "weight": 1.0, "task": task, "n_classes": 2}
    Z = ns["Z_valid"]
    expected = est.predict_proba(Z)[:, 1] if cls else est.predict(Z)
    np.testing.assert_allclose(ns["member_output"](member, Z), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("task", ["tabular_classification", "tabular_regression"])
def test_hist_gradient_boosting_predicts_on_one_thread(task):
    """HistGradientBoosting predicts through OpenMP with every core's thread unless told otherwise (one row took 62 ms
    at load 8 that way, 1-2 ms on one thread): member_output, which predict.py, evaluate and measure use, runs it on
    one. The estimator's own predict reads the thread count OpenMP would give it there."""
    import sklearn.ensemble as ens
    from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

    ns, y = _trees_preprocessed()
    classify = task == "tabular_classification"
    base = ens.HistGradientBoostingClassifier if classify else ens.HistGradientBoostingRegressor
    seen = []

    class Watched(base):
        def predict(self, X):
            seen.append(_openmp_effective_n_threads())
            return super().predict(X)

        def predict_proba(self, X):
            seen.append(_openmp_effective_n_threads())
            return super().predict_proba(X)

    Watched.__name__ = base.__name__  # the runtime knows it by its class name, as the saved model's
    target = (y > y.median()).astype(int) if classify else y
    est = Watched(max_iter=30, random_state=0).fit(ns["Z_train"], target)
    member = {"name": "hist_gradient_boosting", "kind": "sklearn", "model": est, "weight": 1.0, "task": task,
              "n_classes": 2 if classify else 0}
    out = ns["member_output"](member, ns["Z_valid"])
    expected = est.predict_proba(ns["Z_valid"])[:, 1] if classify else est.predict(ns["Z_valid"])
    np.testing.assert_allclose(out, expected)
    assert seen[0] == 1, seen  # inside member_output: one thread
    if _openmp_effective_n_threads() > 1:  # outside it (a machine with more than one core): the library's default
        assert seen[-1] > 1, seen
