"""Churn probability: a workspace's own logistic regression, trained once it has enough history.

Why logistic regression: on the public Telco data it validates as well as gradient boosting
(see bench/churn_telco.py), every prediction can be explained as a sum of per-feature
contributions, and the whole model is a few hundred numbers stored as JSON, so no pickle
(which runs code on load) ever leaves or enters the workspace's storage.

Why the threshold: with fewer than ~50 churn events a model of a dozen features overfits
(the usual "10 events per variable" rule of thumb, softened by L2 regularisation), and its
probabilities are worse than the base rate. Below it the workspace sees the health score
only, and `train_churn_model` refuses with `NotEnoughHistory`.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

MIN_CHURN_EVENTS = 50
MIN_RETAINED = 50
MIN_CUSTOMERS = 200
FORMAT_VERSION = 1
# Fits this small (thousands of rows, dozens of columns) run 2-3x faster on one BLAS/OpenMP
# thread than on several (measured on the 2-core reference machine), and a worker should
# not take every core from the web process beside it.
FIT_THREADS = 1
MISSING_CATEGORY = "(missing)"


class NotEnoughHistory(ValueError):
    """The workspace has too few churn events (or customers) to train a trustworthy model."""


@dataclass(frozen=True)
class FeatureSpec:
    """Which columns of a customer feature table are numbers and which are categories."""

    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.numeric and not self.categorical:
            raise ValueError("feature spec: no features")
        overlap = set(self.numeric) & set(self.categorical)
        if overlap:
            raise ValueError(f"feature spec: {sorted(overlap)} both numeric and categorical")


def check_history(labels: Sequence[int] | np.ndarray) -> None:
    """Refuse to train below the documented minimum, saying what is missing."""
    y = np.asarray(labels).astype(bool)
    churned = int(y.sum())
    total = len(y)
    retained = total - churned
    if churned < MIN_CHURN_EVENTS or retained < MIN_RETAINED or total < MIN_CUSTOMERS:
        raise NotEnoughHistory(
            f"not enough history to train a churn model: {churned} churn events and "
            f"{retained} retained among {total} customers; need at least {MIN_CHURN_EVENTS} "
            f"churn events, {MIN_RETAINED} retained and {MIN_CUSTOMERS} customers"
        )


def _number(value: Any) -> float:
    if value is None:
        return math.nan
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return math.nan
    return float(value)


def _category(value: Any) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        return MISSING_CATEGORY
    return str(value)


def to_matrix(rows: Sequence[Mapping[str, Any]], spec: FeatureSpec) -> np.ndarray:
    """Rows of feature dicts -> an object matrix, numeric columns first; blanks become NaN."""
    out = np.empty((len(rows), len(spec.numeric) + len(spec.categorical)), dtype=object)
    for i, row in enumerate(rows):
        for j, name in enumerate(spec.numeric):
            out[i, j] = _number(row.get(name))
        for j, name in enumerate(spec.categorical, start=len(spec.numeric)):
            out[i, j] = _category(row.get(name))
    return out


def build_pipeline(spec: FeatureSpec, *, c: float = 1.0) -> Pipeline:
    """Impute+scale numbers, one-hot categories, L2 logistic regression."""
    n_num = len(spec.numeric)
    transformers = []
    if spec.numeric:
        numeric = Pipeline(
            [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
        )
        transformers.append(("num", numeric, list(range(n_num))))
    if spec.categorical:
        onehot = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        transformers.append(("cat", onehot, list(range(n_num, n_num + len(spec.categorical)))))
    return Pipeline(
        [
            ("features", ColumnTransformer(transformers)),
            ("model", LogisticRegression(C=c, max_iter=2000)),
        ]
    )


def cross_validated_auc(
    rows: Sequence[Mapping[str, Any]],
    labels: Sequence[int] | np.ndarray,
    spec: FeatureSpec,
    *,
    folds: int = 5,
    seed: int = 0,
    c: float = 1.0,
) -> list[float]:
    """Stratified k-fold ROC AUC of the pipeline, one figure per fold."""
    x = to_matrix(rows, spec)
    y = np.asarray(labels).astype(int)
    aucs = []
    splits = StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y)
    with threadpool_limits(FIT_THREADS):
        for train, test in splits:
            pipe = build_pipeline(spec, c=c).fit(x[train], y[train])
            aucs.append(float(roc_auc_score(y[test], pipe.predict_proba(x[test])[:, 1])))
    return aucs


@dataclass
class ChurnModel:
    """A fitted model as plain numbers: predicts and explains without scikit-learn state."""

    spec: FeatureSpec
    numeric_fill: list[float]
    numeric_mean: list[float]
    numeric_scale: list[float]
    categories: list[list[str]]
    coef: list[float]
    intercept: float
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_pipeline(
        cls, pipe: Pipeline, spec: FeatureSpec, meta: dict | None = None
    ) -> ChurnModel:
        features: ColumnTransformer = pipe.named_steps["features"]
        model: LogisticRegression = pipe.named_steps["model"]
        fill: list[float] = []
        mean: list[float] = []
        scale: list[float] = []
        cats: list[list[str]] = []
        if spec.numeric:
            num = features.named_transformers_["num"]
            fill = [float(v) for v in num.named_steps["impute"].statistics_]
            mean = [float(v) for v in num.named_steps["scale"].mean_]
            scale = [float(v) for v in num.named_steps["scale"].scale_]
        if spec.categorical:
            cats = [[str(v) for v in c] for c in features.named_transformers_["cat"].categories_]
        return cls(
            spec=spec,
            numeric_fill=fill,
            numeric_mean=mean,
            numeric_scale=scale,
            categories=cats,
            coef=[float(v) for v in model.coef_[0]],
            intercept=float(model.intercept_[0]),
            meta=dict(meta or {}),
        )

    def feature_names(self) -> list[str]:
        names = list(self.spec.numeric)
        for col, cats in zip(self.spec.categorical, self.categories, strict=True):
            names.extend(f"{col}={value}" for value in cats)
        return names

    def design(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """The model's input matrix: scaled numbers then one-hot categories (unknown = zeros)."""
        x = to_matrix(rows, self.spec)
        n_num = len(self.spec.numeric)
        parts = []
        if n_num:
            num = x[:, :n_num].astype(np.float64)
            num = np.where(np.isnan(num), np.asarray(self.numeric_fill), num)
            parts.append((num - np.asarray(self.numeric_mean)) / np.asarray(self.numeric_scale))
        for j, cats in enumerate(self.categories):
            index = {value: k for k, value in enumerate(cats)}
            block = np.zeros((len(rows), len(cats)))
            for i, value in enumerate(x[:, n_num + j]):
                k = index.get(value)
                if k is not None:
                    block[i, k] = 1.0
            parts.append(block)
        return np.hstack(parts) if parts else np.zeros((len(rows), 0))

    def predict_proba(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Churn probability per row."""
        logits = self.design(rows) @ np.asarray(self.coef) + self.intercept
        return 1.0 / (1.0 + np.exp(-logits))

    def explain(self, row: Mapping[str, Any], top: int = 3) -> list[tuple[str, float]]:
        """The features that push this customer's log-odds of churn most (up or down)."""
        contrib = self.design([row])[0] * np.asarray(self.coef)
        names = self.feature_names()
        order = np.argsort(-np.abs(contrib))
        return [(names[i], float(contrib[i])) for i in order[:top] if contrib[i] != 0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "warmline-churn-logreg",
            "version": FORMAT_VERSION,
            "numeric": list(self.spec.numeric),
            "categorical": list(self.spec.categorical),
            "numeric_fill": self.numeric_fill,
            "numeric_mean": self.numeric_mean,
            "numeric_scale": self.numeric_scale,
            "categories": self.categories,
            "coef": self.coef,
            "intercept": self.intercept,
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChurnModel:
        if data.get("format") != "warmline-churn-logreg" or data.get("version") != FORMAT_VERSION:
            raise ValueError("churn model file: unknown format or version")
        spec = FeatureSpec(tuple(data["numeric"]), tuple(data["categorical"]))
        model = cls(
            spec=spec,
            numeric_fill=[float(v) for v in data["numeric_fill"]],
            numeric_mean=[float(v) for v in data["numeric_mean"]],
            numeric_scale=[float(v) for v in data["numeric_scale"]],
            categories=[[str(v) for v in c] for c in data["categories"]],
            coef=[float(v) for v in data["coef"]],
            intercept=float(data["intercept"]),
            meta=dict(data.get("meta", {})),
        )
        if len(model.coef) != len(model.feature_names()):
            raise ValueError("churn model file: coefficient count does not match the features")
        return model

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> ChurnModel:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def train_churn_model(
    rows: Sequence[Mapping[str, Any]],
    labels: Sequence[int] | np.ndarray,
    spec: FeatureSpec,
    *,
    c: float = 1.0,
) -> ChurnModel:
    """Fit on a workspace's customers (one row each, label 1 = churned)."""
    if len(rows) != len(labels):
        raise ValueError("rows and labels differ in length")
    check_history(labels)
    y = np.asarray(labels).astype(int)
    with threadpool_limits(FIT_THREADS):
        pipe = build_pipeline(spec, c=c).fit(to_matrix(rows, spec), y)
    meta = {"customers": len(y), "churn_events": int(y.sum()), "c": c}
    return ChurnModel.from_pipeline(pipe, spec, meta)


# --- the public Telco data set, used to validate this modelling code -----------------

TELCO_SPEC = FeatureSpec(
    numeric=("tenure", "MonthlyCharges", "TotalCharges", "SeniorCitizen"),
    categorical=(
        "gender",
        "Partner",
        "Dependents",
        "PhoneService",
        "MultipleLines",
        "InternetService",
        "OnlineSecurity",
        "OnlineBackup",
        "DeviceProtection",
        "TechSupport",
        "StreamingTV",
        "StreamingMovies",
        "Contract",
        "PaperlessBilling",
        "PaymentMethod",
    ),
)


def load_telco(path: str | Path) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Rows and churn labels from IBM's Telco-Customer-Churn.csv.

    Its quirk: TotalCharges is a blank string for the 11 customers with tenure 0; they
    have not been billed yet, so the blank means 0, not "unknown".
    """
    rows: list[dict[str, Any]] = []
    labels = []
    with open(path, newline="", encoding="utf-8") as fh:
        for raw in csv.DictReader(fh):
            row: dict[str, Any] = dict(raw)
            if not row["TotalCharges"].strip():
                row["TotalCharges"] = 0.0 if float(row["tenure"]) == 0 else None
            labels.append(1 if row.pop("Churn") == "Yes" else 0)
            row.pop("customerID")
            rows.append(row)
    return rows, np.asarray(labels, dtype=int)
