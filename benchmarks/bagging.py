"""Does k-fold bagging pay at small data sizes? (the measurement behind the train cell's cross-fit bag)

For each table and outer seed: the same 10% test split; A = holdout (a 70/20 train/valid split, LightGBM defaults
with early stopping on valid, F1 threshold on valid, refit on train+valid with 1.1x the rounds), B = 5-fold bag on
train+valid (early stopping on each fold's left-out part, threshold on the out-of-fold outputs, test = mean of the
5 models). Usage: python benchmarks/bagging.py SEED [table ...]  (tables: benchmarks/registry.py dev half via
python -m benchmarks.registry --half dev, and ../shared/datasets). Results: benchmarks/results/2026-11-30-bagging.md"""

import sys
import time
import warnings
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import f1_score, mean_squared_error
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

warnings.filterwarnings("ignore")

root = str(Path(__file__).resolve().parent / "work" / "data")
shared = str(Path(__file__).resolve().parents[1].parent / "shared" / "datasets")
T = [
    ("telco_churn", f"{root}/telco_churn/telco_churn.csv", "churn", "f1"),
    ("loan_interest", f"{root}/loan_interest/loan_interest.csv", "interest_rate", "rmse"),
    ("trump_vote", f"{root}/trump_vote/trump_vote.csv", "votetrump", "f1"),
    ("banana", f"{shared}/banana_quality/banana_quality.csv", "Quality", "f1"),
    ("diamonds", f"{root}/diamonds/diamonds.csv", "price", "rmse"),
    ("concrete", f"{root}/concrete/concrete.csv", "compressive_strength", "rmse"),
    ("cell_segmentation", f"{root}/cell_segmentation/cell_segmentation.csv", "class", "f1"),
    ("hpc_jobs", f"{root}/hpc_jobs/hpc_jobs.csv", "class", "f1_weighted"),
    ("credit_status", f"{root}/credit_status/credit_status.csv", "Status", "f1"),
    ("ames_houses", f"{root}/ames_houses/ames_houses.csv", "Sale_Price", "rmse"),
    ("telco_churn", f"{root}/telco_churn/telco_churn.csv", "churn", "f1"),
    ("mfeat", f"{shared}/mfeat_factors/mfeat_factors.csv", "class", "f1_weighted"),
    ("software_defects", f"{shared}/software_defects/jm1.csv", "defects", "f1"),
    ("crab", f"{shared}/crab_age/CrabAgePrediction.csv", "Age", "rmsle"),
]
SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
only = sys.argv[2:]


def prep(path, target):
    d = pd.read_csv(path)
    d = d[d[target].notna()]
    y = d.pop(target)
    for c in d.columns:
        if not pd.api.types.is_numeric_dtype(d[c]):
            d[c] = d[c].astype("category").cat.codes
    return d.to_numpy(float), y


def best_thr(y, p):
    g = np.unique(np.quantile(p, np.linspace(0.02, 0.98, 97)))
    f = [f1_score(y, p >= t) for t in g]
    return g[int(np.argmax(f))]


def compare(key, path, target, metric):
    X, y = prep(path, target)
    cls = metric != "rmse" and metric != "rmsle"
    if cls:
        classes = np.unique(y.astype(str))
        yv = np.searchsorted(classes, y.astype(str).to_numpy())
        K = len(classes)
    else:
        yv = y.to_numpy(float)
        K = 0
    strat = yv if cls else None
    Xtv, Xte, ytv, yte = train_test_split(X, yv, test_size=0.1, random_state=SEED, stratify=strat)
    Model = lgb.LGBMClassifier if cls else lgb.LGBMRegressor
    tf = (np.log1p, np.expm1) if metric == "rmsle" else (lambda a: a, lambda a: a)

    def out(m, Z):
        if not cls:
            return tf[1](m.predict(Z))
        p = m.predict_proba(Z)
        return p[:, 1] if K == 2 else p

    def score(yt, o, thr=0.5):
        if not cls:
            return (
                (mean_squared_error(np.log1p(yt), np.log1p(np.maximum(o, 0))) ** 0.5)
                if metric == "rmsle"
                else mean_squared_error(yt, o) ** 0.5
            )
        if K == 2:
            return f1_score(yt, o >= thr)
        return f1_score(yt, o.argmax(1), average="weighted")

    def fit(Xa, ya, Xb, yb):
        return Model(n_estimators=3000, verbose=-1, n_jobs=1, random_state=0).fit(
            Xa,
            tf[0](ya) if not cls else ya,
            eval_set=[(Xb, tf[0](yb) if not cls else yb)],
            callbacks=[lgb.early_stopping(50, verbose=False)],
        )
    # A: holdout
    t = time.time()
    Xtr, Xva, ytr, yva = train_test_split(Xtv, ytv, test_size=2 / 9, random_state=0, stratify=ytv if cls else None)
    m = fit(Xtr, ytr, Xva, yva)
    ov = out(m, Xva)
    thr = best_thr(yva, ov) if K == 2 and metric == "f1" else 0.5
    it = m.best_iteration_ or 100
    m2 = Model(n_estimators=int(it * 1.1), verbose=-1, n_jobs=1, random_state=0).fit(
        Xtv, tf[0](ytv) if not cls else ytv
    )
    a_val, a_test, a_s = score(yva, ov, thr), score(yte, out(m2, Xte), thr), time.time() - t
    # B: 5-fold bag
    t = time.time()
    kf = (StratifiedKFold if cls else KFold)(5, shuffle=True, random_state=0)
    oof = np.zeros((len(ytv), K) if K > 2 else len(ytv))
    pt = 0
    for tr, va in kf.split(Xtv, ytv):
        mm = fit(Xtv[tr], ytv[tr], Xtv[va], ytv[va])
        oof[va] = out(mm, Xtv[va])
        pt = pt + out(mm, Xte) / 5
    thr = best_thr(ytv, oof) if K == 2 and metric == "f1" else 0.5
    b_val, b_test, b_s = score(ytv, oof, thr), score(yte, pt, thr), time.time() - t
    print(
        f"seed {SEED} {key:17s} n={len(yv):6d} {metric:11s} holdout valid {a_val:.4f} test {a_test:.4f} ({a_s:.1f}s) | bag5 oof {b_val:.4f} test {b_test:.4f} ({b_s:.1f}s)",
        flush=True,
    )


if __name__ == "__main__":
    for key, path, target, metric in T:
        if not only or key in only:
            compare(key, path, target, metric)
