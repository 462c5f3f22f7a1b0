"""Offline prompt agent: an instruction (plus a peek at the data's columns) -> Requirements.

Rules, not a model: task words, the target matched against the file's real headers and values,
metric names with thresholds, complexity limits with units, preferred models, cluster counts and
user-given splits. Each rule is small and tested on the paper's own prompt phrasings.
"""
from __future__ import annotations

import re
from typing import Any

from ...schema import (ComplexityMetric, DatasetSpec, ModelSpec, PerformanceMetric, Problem, Requirements,
                       User)

NUM_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
             "ten": 10, "eleven": 11, "twelve": 12, "a couple of": 2, "a pair of": 2}

# (metric name, regex, higher_is_better)
METRICS: list[tuple[str, str]] = [
    ("adjusted_rand_index", r"adjusted[\s-]*rand(?:[\s-]*index)?|\bari\b"),
    ("rand_index", r"rand[\s-]*index|\brand score|\bri\b"),
    ("f1_macro", r"macro[\s-]*(?:averaged\s+)?f1|f1[\s-]*macro"),
    ("f1_weighted", r"weighted[\s-]*f1|f1[\s-]*weighted"),
    ("f1", r"\bf1(?:[\s-]*score)?\b|\bf[\s-]measure\b"),
    ("roc_auc", r"\broc[\s-]*auc\b|\bauc\b|area under the (?:roc )?curve"),
    ("accuracy", r"\baccuracy\b|\bacc\b"),
    ("precision", r"\bprecision\b"),
    ("recall", r"\brecall\b|\bsensitivity\b"),
    ("rmsle", r"\brmsle\b|root mean squared? log(?:arithmic)? error"),
    ("rmse", r"\brmse\b|root mean squared? error"),
    ("mae", r"\bmae\b|mean absolute error"),
    ("mse", r"\bmse\b|mean squared? error"),
    ("r2", r"\br2\b|\br\^2\b|r-squared|coefficient of determination"),
    ("silhouette", r"silhouette"),
]
LOWER_IS_BETTER = {"rmsle", "rmse", "mae", "mse"}

MODEL_WORDS: list[tuple[str, str, str]] = [  # (catalogue key, regex, family)
    ("xgboost", r"xgboost|xgb\b", "gradient_boosting"),
    ("lightgbm", r"lightgbm|light gbm|lgbm", "gradient_boosting"),
    ("hist_gradient_boosting", r"hist(?:ogram)?[\s-]*gradient[\s-]*boosting", "gradient_boosting"),
    ("catboost", r"catboost", "gradient_boosting"),
    ("random_forest", r"random[\s-]*forests?", "bagged_trees"),
    ("extra_trees", r"extra[\s-]*trees|extremely randomi[sz]ed", "bagged_trees"),
    ("svm_rbf", r"\bsvm\b|support[\s-]*vector", "kernel"),
    ("knn", r"\bknn\b|k[\s-]*nearest|nearest[\s-]*neighbou?rs?", "instance_based"),
    ("mlp", r"\bmlp\b|multi[\s-]*layer perceptron|neural net(?:work)?", "neural"),
    ("logistic_regression", r"logistic[\s-]*regression", "linear"),
    ("ridge", r"\bridge\b|linear[\s-]*regression", "linear"),
    ("kmeans", r"k[\s-]*means", "centroid"),
    ("gaussian_mixture", r"gaussian[\s-]*mixture|\bgmm\b", "probabilistic"),
    ("agglomerative", r"agglomerative|hierarchical clustering|ward", "hierarchical"),
    ("gcn", r"\bgcn\b|graph convolutional", "gnn"),
    ("gat", r"\bgat\b|graph attention", "gnn"),
    ("graphsage", r"graph\s*sage", "gnn"),
    ("vision_finetune", r"resnet|convnext|efficientnet|mobilenet|\bvit\b|vision transformer|pretrained (?:cnn|backbone|"
     r"image model|vision model)|fine[\s-]*tun\w* (?:a )?(?:pretrained )?(?:cnn|backbone)", "pretrained_cnn"),
    ("vision_linear_probe", r"linear[\s-]*prob\w*|frozen (?:features|backbone)", "pretrained_linear"),
    ("cnn", r"\bcnn\b|convolutional", "cnn"),
    ("transformer_finetune", r"\bbert\b|distilbert|roberta|transformer", "transformer"),
    ("dlinear", r"dlinear", "linear_forecast"),
    ("nlinear", r"nlinear", "linear_forecast"),
    ("sgc", r"\bsgc\b|simplified graph conv", "gnn"),
]

TASK_PATTERNS: list[tuple[str, str]] = [
    ("node_classification", r"\bnodes?\b|\bgraph\b|citation network|\bcora\b|citeseer|planetoid|\bgnn\b"),
    ("time_series_forecasting", r"forecast|time[\s-]*series|input_seq_len|pred_seq_len|future values|next \d+ (?:hours|days|steps)"),
    ("image_classification", r"\bimages?\b|\bphotos?\b|\bpictures?\b|\bpixels?\b|\bmnist\b|handwritten digit"),
    ("text_classification", r"\btexts?\b|\bsentences?\b|\bsms\b|\bmessages?\b|\breviews?\b|sentiment|entailment|\bspam\b|\bnlp\b|\btweets?\b|\bdocuments?\b"),
    ("tabular_clustering", r"cluster|segment|group (?:the |them )?into|into \w+ groups|unsupervised"),
]
CLASSIFY = r"classif|categori[sz]|\bdetect|\bwhether\b|\bidentify\b|\bpredict (?:if|whether)|\blabels?\b|\bclasses\b|binary|\bor not\b"
REGRESS = r"regress|\bestimate\b|\bhow (?:much|many|old)\b|\bpredict (?:the )?(?:age|price|value|amount|number|count|cost|yield)"
ML_WORDS = (CLASSIFY + "|" + REGRESS + r"|predict|forecast|cluster|\bmodel\b|\btrain|machine learning|\bml\b|"
            r"dataset|\bdata\b|accuracy|\bf1\b|rmsle|\bfeatures?\b|target|column|csv|segment|recogni[sz]e")

_CMP_HI = r"(?:at least|no less than|not less than|minimum(?: of)?|above|over|more than|greater than|exceed(?:ing|s)?|>=|>|≥|of|reach(?:ing)?|achiev\w*|get|hit)"
_CMP_LO = r"(?:at most|no more than|not more than|less than|lower than|below|under|within|maximum(?: of)?|<=|<|≤|does not exceed|doesn't exceed|not exceed(?:ing)?|of|up to)"
_NUM = r"(\d+(?:\.\d+)?|\.\d+)\s*(%|percent)?"


def _norm(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", s.lower()).strip()


def _num(text: str) -> float:
    return float(text)


# ------------------------------------------------------------------------------------------ pieces
def find_task(text: str, peek: dict[str, Any] | None) -> str | None:
    t = text.lower()
    modality = (peek or {}).get("modality")
    for task, pat in TASK_PATTERNS:
        if re.search(pat, t):
            if task == "text_classification" and modality == "tabular" and not re.search(
                    r"\btexts?\b|sms|entailment|sentiment|spam|nlp|sentences?", t):
                continue
            if task == "image_classification" and modality == "tabular":
                continue
            return task
    if modality == "time_series" and not re.search(CLASSIFY, t):  # a dated table can still be a classification
        return "time_series_forecasting"
    if modality in ("image", "graph", "text"):
        return {"image": "image_classification", "graph": "node_classification", "text": "text_classification"}[modality]
    if re.search(CLASSIFY, t):
        return "tabular_classification"
    if re.search(REGRESS, t) or re.search(r"\bpredict\b|\bmodel\b", t):
        return None  # decided from the target column's values (numeric with many values -> regression)
    return None


def find_target(text: str, peek: dict[str, Any] | None) -> str | None:
    """The column the user wants predicted, matched against the real headers."""
    if not peek or not peek.get("columns"):
        return None
    columns: list[str] = peek["columns"]
    t = text.lower()
    nt = " " + _norm(text) + " "
    # 1. "as Good or Bad": a column whose values contain the named classes
    m = re.search(r"\bas (?:either )?['\"]?([\w-]+)['\"]? or ['\"]?([\w-]+)", text, re.I)
    if m:
        wanted = {m.group(1).lower(), m.group(2).lower()}
        for col, values in (peek.get("values") or {}).items():
            if wanted <= {str(v).lower() for v in values}:
                return col
    # 2. explicit "target/label column X", "predict the X", "against the X labels"
    cue = (r"(?:target(?: column| variable)?(?: is| =|:)?|label(?: column)?(?: is|:)?|predict(?:ing)?(?: the)?|"
           r"estimate(?: the)?|classify(?: the)?|against(?: the)?|forecast(?: the)?|column)\s+['\"`]?([\w()./ -]{1,40})")
    scored: list[tuple[int, str]] = []
    for col in columns:
        nc = _norm(col)
        if not nc:
            continue
        forms = {nc, nc.rstrip("s"), nc + "s", nc.replace(" ", "")}
        for f in forms:
            pos = nt.find(" " + f + " ")
            if pos >= 0:
                score = 1
                for cm in re.finditer(cue, t):
                    if _norm(cm.group(1)).startswith(f):
                        score += 5
                # "by/of X" near a cue word is common for features; exact long names matter more
                score += min(len(f), 20) // 5
                scored.append((score, col))
                break
    if scored:
        scored.sort(key=lambda s: (-s[0], columns.index(s[1])))
        best = scored[0]
        # a feature mentioned in passing ("using age and weight") should not beat an explicit cue
        return best[1]
    return None


def _window_number(t: str, start: int, end: int, hi: bool) -> float | None:
    """The threshold nearest a metric mention: 'at least 0.95 F1' or 'F1 of at least 0.95'."""
    cmp_ = _CMP_HI if hi else _CMP_LO
    after = t[end:end + 80]
    m = re.match(r"[^\d.;,]{0,45}?" + cmp_ + r"\s*(?:an?\s+|the\s+)?(?:score\s+of\s+)?" + _NUM, after)
    if m:
        return _pct(m)
    before = t[max(0, start - 45):start]
    m = re.search(cmp_ + r"\s*(?:an?\s+|the\s+)?" + _NUM + r"\s*(?:\w+\s+){0,2}$", before)
    if m:
        return _pct(m)
    m = re.search(_NUM + r"\s*(?:\w+\s+){0,1}$", before)  # "0.98 accuracy", "98% accuracy"
    if m and re.search(r"\d", m.group(0)):
        return _pct(m)
    return None


def _pct(m: re.Match) -> float:
    groups = [g for g in m.groups() if g is not None]
    number = next(float(g) for g in groups if re.fullmatch(r"\d+(?:\.\d+)?|\.\d+", g))
    return number / 100 if any(g in ("%", "percent") for g in groups) else number


def find_metrics(text: str) -> list[PerformanceMetric]:
    t = text.lower()
    found: list[PerformanceMetric] = []
    taken: list[tuple[int, int]] = []
    for name, pat in METRICS:
        for m in re.finditer(pat, t):
            if any(a <= m.start() < b for a, b in taken):
                continue
            taken.append((m.start(), m.end()))
            value = _window_number(t, m.start(), m.end(), hi=name not in LOWER_IS_BETTER)
            if value is not None and name not in LOWER_IS_BETTER and 1 < value <= 100:
                value = value / 100  # "accuracy of at least 98" means 98 %
            if not any(f.name == name for f in found):
                found.append(PerformanceMetric(name=name, value=value))
            break
    return found


_TIME_UNITS = {"ms": 0.001, "millisecond": 0.001, "milliseconds": 0.001, "msec": 0.001, "s": 1.0, "sec": 1.0,
               "secs": 1.0, "second": 1.0, "seconds": 1.0, "min": 60.0, "mins": 60.0, "minute": 60.0,
               "minutes": 60.0, "h": 3600.0, "hr": 3600.0, "hrs": 3600.0, "hour": 3600.0, "hours": 3600.0,
               "µs": 1e-6, "us": 1e-6, "microseconds": 1e-6, "microsecond": 1e-6}
_TIME = r"(\d+(?:\.\d+)?)\s*(ms|msec|milliseconds?|µs|us|microseconds?|s|secs?|seconds?|mins?|minutes?|h|hrs?|hours?)\b"


_SENTENCE_END = re.compile(r"[.;!?](?=\s|$)")
_PER_ITEM = r"per (?:single )?(?:prediction|instance|sample|row|item|image|request|record|query|example)|\beach\b|latency"
_TEST_SET = r"(?:on|for|over) (?:the (?:whole |entire |full )?)?test(?:ing)? (?:set|split|data)|whole test|entire test|all test"


def _sentence(t: str, start: int, end: int) -> tuple[str, str]:
    """The words before and after a match, within its own sentence."""
    cuts = [m.end() for m in _SENTENCE_END.finditer(t, 0, start)]
    after = _SENTENCE_END.search(t, end)
    return t[(cuts[-1] if cuts else 0):start], t[end:(after.start() if after else len(t))]


def find_complexity(text: str) -> list[ComplexityMetric]:
    t = text.lower()
    out: list[ComplexityMetric] = []
    for m in re.finditer(_TIME, t):
        seconds = float(m.group(1)) * _TIME_UNITS[m.group(2)]
        before, after = _sentence(t, m.start(), m.end())
        near = before[-50:] + " @ " + after[:50]
        if re.search(r"(?:next|following|past|last|previous|coming|lookback of|horizon of)\s*$", before):
            continue  # a forecasting horizon or look-back window ("the next 24 hours"), not a time limit
        if re.search(_PER_ITEM, near):
            out.append(ComplexityMetric(name="inference_latency", value=seconds * 1000.0, unit="ms"))
        elif re.search(_TEST_SET, near):
            out.append(ComplexityMetric(name="inference_time_total", value=seconds, unit="s"))
        elif re.search(r"train|fit|build|tun|search|budget|total time|run time|runtime|finish", before):
            out.append(ComplexityMetric(name="training_time", value=seconds, unit="s"))
        elif re.search(r"inference|predict|respond|response", near):
            out.append(ComplexityMetric(name="inference_latency", value=seconds * 1000.0, unit="ms"))
    m = re.search(r"(\d+(?:\.\d+)?)\s*(k|thousand|m|million|b|billion)?\s*(?:trainable\s+)?parameters", t)
    if m:
        mult = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6, "b": 1e9, "billion": 1e9}.get(m.group(2) or "", 1)
        out.append(ComplexityMetric(name="parameters", value=float(m.group(1)) * mult, unit="count"))
    m = re.search(r"(?:model|file|size)[^.]{0,30}?(\d+(?:\.\d+)?)\s*(kb|mb|gb)\b", t) or \
        re.search(r"(\d+(?:\.\d+)?)\s*(kb|mb|gb)\b", t)
    if m:
        mb = float(m.group(1)) * {"kb": 1 / 1024, "mb": 1.0, "gb": 1024.0}[m.group(2)]
        out.append(ComplexityMetric(name="model_size", value=mb, unit="MB"))
    return out


def find_models(text: str) -> list[ModelSpec]:
    t = text.lower()
    out = []
    for key, pat, family in MODEL_WORDS:
        if re.search(pat, t):
            out.append(ModelSpec(name=key, family=family, type="preferred", description="named by the user"))
    return out


def find_n_clusters(text: str) -> int | None:
    t = text.lower()
    m = re.search(r"(?:into|in|with|find|k\s*=)\s*(\d+|" + "|".join(NUM_WORDS) + r")\s*(?:distinct\s+|separate\s+)?"
                  r"(?:groups|clusters|segments|categories|classes)?", t)
    if m and (re.search(r"groups|clusters|segments|k\s*=", t[m.start():m.end() + 12])):
        g = m.group(1)
        return int(g) if g.isdigit() else NUM_WORDS[g]
    m = re.search(r"(\d+|" + "|".join(NUM_WORDS) + r")\s+(?:distinct\s+)?(?:groups|clusters|segments)", t)
    if m:
        g = m.group(1)
        return int(g) if g.isdigit() else NUM_WORDS[g]
    return None


def find_split(text: str) -> dict[str, float] | None:
    t = text.lower()
    m = re.search(r"(\d{1,2})\s*/\s*(\d{1,2})\s*/\s*(\d{1,2})\b", t)
    if m:
        a, b, c = (int(x) for x in m.groups())
        if a + b + c == 100:
            return {"train": a / 100, "valid": b / 100, "test": c / 100}
    m = re.search(r"(\d{1,2})\s*/\s*(\d{1,2})\s*(?:train[\s/-]*test)?\s*split", t) or \
        re.search(r"train[\s/-]*test split of (\d{1,2})\s*/\s*(\d{1,2})", t)
    if m:
        a, b = (int(x) for x in m.groups())
        if a + b == 100:
            return {"train": a / 100, "test": b / 100}
    m = re.search(r"(\d{1,2})\s*(?:%|percent)\s*(?:of the data )?(?:for|as)\s*(?:the\s+)?test", t)
    if m:
        return {"test": int(m.group(1)) / 100}
    return None


def find_task_params(text: str) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key in ("INPUT_SEQ_LEN", "INPUT_DIM", "PRED_SEQ_LEN", "PRED_DIM"):
        m = re.search(key + r"\s*[=:]\s*(\d+)", text, re.I)
        if m:
            params[key.lower()] = int(m.group(1))
    t = text.lower()
    steps = r"(\d+)\s*(?:time[\s-]*steps?|steps?|hours?|days?|weeks?|months?|minutes?|points?|observations?)"
    m = re.search(r"(?:next|following|future|ahead|horizon of)\s+" + steps, t) or re.search(steps + r"\s+ahead", t)
    if m and "pred_seq_len" not in params:
        params["pred_seq_len"] = int(m.group(1))
    m = re.search(r"(?:last|past|previous|lookback of|look-back of|history of)\s+" + steps, t)
    if m and "input_seq_len" not in params:
        params["input_seq_len"] = int(m.group(1))
    return params


def expertise(text: str) -> str:
    t = text.lower()
    if re.search(r"\bi(?:'m| am) (?:new|a beginner|not (?:an? )?(?:expert|technical))|no (?:ml )?experience|simple terms", t):
        return "low"
    if len(re.findall(r"hyperparameter|optuna|stratif|cross[\s-]*valid|regulari[sz]|learning rate|f1|rmsle|auc|"
                      r"xgboost|lightgbm|gcn|transformer|embedding", t)) >= 2:
        return "high"
    return "medium"


def intent(text: str) -> str:
    t = text.lower().strip()
    if re.match(r"(what|why|how|when|which|who|explain|tell me|can you explain)\b", t) and not re.search(
            r"\b(build|train|classify|predict|cluster|forecast|create|make)\b", t):
        return "consult"
    return "build"


def domain(text: str, name: str) -> str:
    t = (text + " " + name).lower()
    for dom, pat in [("agriculture / food quality", r"banana|fruit|crop|food"),
                     ("software engineering", r"software|defect|bug|code"),
                     ("healthcare", r"smok|health|patient|medical|disease|bio"),
                     ("biology / fisheries", r"crab|fish|abalone"),
                     ("handwriting recognition", r"digit|handwrit|mnist|mfeat"),
                     ("messaging / spam filtering", r"sms|spam|email"),
                     ("energy", r"electric|transformer|etth|energy|power"),
                     ("academic citation networks", r"cora|citation|paper")]:
        if re.search(pat, t):
            return dom
    return ""


# ------------------------------------------------------------------------------------------ whole
def parse(instruction: str, peek: dict[str, Any] | None, data_path: str | None) -> Requirements:
    """Instruction + a peek at the data -> Requirements (the paper's schema)."""
    text = instruction.strip()
    task = find_task(text, peek)
    target = find_target(text, peek)
    if task == "text_classification" and peek and target in (peek.get("text_columns") or []):
        target = peek.get("label_column")  # the texts are inputs; the label column is what is predicted
    if task is None and target and peek:
        nunique = (peek.get("nunique") or {}).get(target)
        numeric = target in (peek.get("numeric") or [])
        task = "tabular_regression" if numeric and (nunique or 0) > 20 else "tabular_classification"
    metrics = find_metrics(text)
    modality = {"image_classification": "image", "text_classification": "text", "node_classification": "graph",
                "time_series_forecasting": "time_series"}.get(task or "", (peek or {}).get("modality", "tabular"))
    name = (peek or {}).get("name", "")
    problem = Problem(
        area={"image": "computer vision", "text": "natural language processing", "graph": "graph learning",
              "time_series": "time-series analysis"}.get(modality, "tabular data analysis"),
        downstream_task=task,  # type: ignore[arg-type]
        application_domain=domain(text, name),
        description=text,
        performance_metrics=metrics,
        complexity_metrics=find_complexity(text),
        n_clusters=find_n_clusters(text) if task == "tabular_clustering" else None,
        task_params=find_task_params(text),
    )
    ds = DatasetSpec(name=name, modality=modality, target_variables=[target] if target else [],
                     source="user-upload" if data_path else "infer-search",
                     description=(peek or {}).get("description", ""), path=data_path, split=find_split(text))
    return Requirements(user=User(intent=intent(text), expertise=expertise(text)),  # type: ignore[arg-type]
                        problem=problem, dataset=[ds], model=find_models(text))


def is_ml_request(instruction: str) -> bool:
    return bool(re.search(ML_WORDS, instruction.lower()))
