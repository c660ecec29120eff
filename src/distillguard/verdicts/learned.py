"""A model learned from analysts' decisions: one more explained factor in risk, never an override.

``distillguard learn`` reads a scan's ``features.parquet`` and the labels given on it
(confirmed = 1, dismissed = 0), and fits gradient-boosted trees (scikit-learn's
``HistGradientBoostingClassifier``), calibrated (``CalibratedClassifierCV``, sigmoid), so that
its score reads as a probability that an analyst would confirm. A later ``scan --model DIR``
moves the risk of each account the rules already put at ``watch`` or above by
``weight × (2p − 1)``: at most ``weight`` up or down, so a clear account is never flagged by the
model alone and the rules' evidence still decides most of the risk. The reason says how much,
from how many decisions, and the features that moved the score most (each replaced by its
training median: how far p moves).

The model file is a pickle (joblib): load only models you made. ``model.json`` beside it
holds its SHA-256, the features, the scikit-learn version, and the cross-validated figures;
a model whose file, features or scikit-learn version do not match is refused.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from distillguard.verdicts.config import Config, ConfigError
from distillguard.verdicts.features import FEATURES, words

MIN_EACH = 5  # decisions of each kind below which no model is fitted
MAX_SHIFT = 0.5  # how far a feature's share of known values may move before it is set aside
_EXPLAIN = 3  # features named in a reason


@dataclass
class Learned:
    model: Any  # a fitted CalibratedClassifierCV
    meta: dict[str, Any]

    def probability(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict_proba(_unknown_below(x))[:, 1])

    def explain(self, x: np.ndarray) -> list[list[tuple[str, float]]]:
        """Per row, the features that move p most, with how far (p − p with it at median)."""
        medians = np.asarray(self.meta["medians"], dtype=float)
        out: list[list[tuple[str, float]]] = []
        for start in range(0, len(x), 1000):  # (k, 1000, k) floats at a time: ~17 MB
            rows = x[start : start + 1000]
            n, k = rows.shape
            occluded = np.repeat(rows[None, :, :], k, axis=0)  # feature j at its median
            for j in range(k):
                occluded[j, :, j] = medians[j]
            at_median = self.probability(occluded.reshape(k * n, k)).reshape(k, n)
            moved = self.probability(rows)[None, :] - at_median
            for i in range(n):
                order = np.argsort(-np.abs(moved[:, i]))[:_EXPLAIN]
                out.append([(FEATURES[j], float(moved[j, i])) for j in order
                            if abs(moved[j, i]) > 0.01])  # fmt: skip
        return out

    def save(self, out: Path) -> None:
        import joblib

        out.mkdir(parents=True, exist_ok=True)
        joblib.dump(self.model, out / "model.joblib")
        meta = {**self.meta, "sha256": _digest(out / "model.joblib")}
        (out / "model.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, where: Path) -> Learned:
        """A saved model; ConfigError naming the file when it is missing, altered or stale."""
        import joblib
        import sklearn

        meta_path, model_path = where / "model.json", where / "model.joblib"
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{meta_path}: not a learned model ({exc})") from None
        if not model_path.exists() or _digest(model_path) != meta.get("sha256"):
            raise ConfigError(f"{model_path}: missing, or not the file model.json describes")
        if tuple(meta.get("features", ())) != FEATURES:
            raise ConfigError(f"{meta_path}: made for other features; run `distillguard learn`")
        if meta.get("sklearn") != sklearn.__version__:
            raise ConfigError(
                f"{meta_path}: made with scikit-learn {meta.get('sklearn')}, this is "
                f"{sklearn.__version__}; run `distillguard learn` again"
            )
        return cls(joblib.load(model_path), meta)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def train(x: np.ndarray, y: np.ndarray, source: str = "", seed: int = 0) -> Learned:
    """Fit and calibrate on labelled rows; ConfigError when there are too few of either kind.

    >>> rng = np.random.default_rng(0)
    >>> x = rng.random((200, len(FEATURES)))
    >>> y = (x[:, 0] > 0.5).astype(int)  # confirmed where the rules' risk is high
    >>> learned = train(x, y)
    >>> p = learned.probability(np.array([[0.9] * len(FEATURES), [0.1] * len(FEATURES)]))
    >>> bool(p[0] > 0.8 and p[1] < 0.2), learned.meta["labels"]
    (True, {'confirmed': 101, 'dismissed': 99})
    """
    import sklearn
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import brier_score_loss, roc_auc_score
    from sklearn.model_selection import cross_val_predict

    confirmed, dismissed = int(y.sum()), int(len(y) - y.sum())
    if min(confirmed, dismissed) < MIN_EACH:
        raise ConfigError(
            f"need at least {MIN_EACH} confirmed and {MIN_EACH} dismissed accounts to learn "
            f"from; the labels give {confirmed} confirmed and {dismissed} dismissed"
        )
    folds = min(5, confirmed, dismissed)
    trees = HistGradientBoostingClassifier(
        max_iter=200,
        learning_rate=0.05,
        max_leaf_nodes=15,
        min_samples_leaf=10,
        l2_regularization=1.0,
        random_state=seed,
    )  # fmt: skip: small trees, strong regularisation: a few hundred labels
    model = CalibratedClassifierCV(trees, method="sigmoid", cv=folds)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        seen = _unknown_below(x)
        held_out = cross_val_predict(model, seen, y, cv=folds, method="predict_proba")[:, 1]
        model.fit(seen, y)
    medians = [float(v) if np.isfinite(v) else 0.0 for v in np.nanmedian(_nan_safe(x), axis=0)]
    known = [round(float(v), 4) for v in np.mean(~np.isnan(x), axis=0)]
    meta = {
        "made": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": source,
        "labels": {"confirmed": confirmed, "dismissed": dismissed},
        "cross_validated": {
            "folds": folds,
            "auc": round(float(roc_auc_score(y, held_out)), 4),
            "brier": round(float(brier_score_loss(y, held_out)), 4),
        },
        "features": list(FEATURES),
        "medians": medians,
        "known": known,  # per feature, the share of training accounts it was known for
        "sklearn": sklearn.__version__,
    }
    return Learned(model, meta)


def _unknown_below(x: np.ndarray) -> np.ndarray:
    """Unknown (NaN) as -1, below every feature's values (all are ≥ 0): a split tells it
    apart as a NaN branch would, and scikit-learn's binning fails on a column that is NaN
    throughout a fold."""
    return np.where(np.isnan(x), -1.0, x)


def _nan_safe(x: np.ndarray) -> np.ndarray:
    # A column that is all NaN has no median: nanmedian warns; its median is taken as 0.
    out = x.copy()
    out[:, np.all(np.isnan(out), axis=0)] = 0.0
    return out


def matrix(con: duckdb.DuckDBPyConnection, table: str) -> tuple[list[str], np.ndarray]:
    """(account ids, feature rows) of a features table or ``read_parquet(...)`` expression."""
    cols = ", ".join(f'"{f}"' for f in FEATURES)
    rows = con.execute(f"SELECT account_id, {cols} FROM {table} ORDER BY account_id").fetchnumpy()
    ids = [str(a) for a in rows["account_id"]]
    # fetchnumpy masks NULLs; filled as NaN, or "not known" would read as 0 (and the trees
    # and the set-aside check would never see it).
    columns: list[np.ndarray] = [
        np.ma.filled(np.ma.asarray(rows[f], dtype=float), np.nan) for f in FEATURES
    ]
    x = np.column_stack(columns) if ids else None
    return ids, x if x is not None else np.empty((0, len(FEATURES)))


def unlike(learned: Learned, x: np.ndarray) -> str:
    """Why the model should not judge these rows ('' when it may): evidence known here for a
    far other share of accounts than it learned from (a scan without sign-up records, say,
    for a model learned with them). Trees know nothing of evidence they never saw."""
    if len(x) == 0:
        return ""
    here = np.mean(~np.isnan(x), axis=0)
    then = np.asarray(learned.meta.get("known") or np.ones(len(FEATURES)), dtype=float)
    gaps = [
        (abs(h - t), FEATURES[j], t, h) for j, (h, t) in enumerate(zip(here, then, strict=True))
    ]
    gap, name, was, now = max(gaps)
    if gap <= MAX_SHIFT:
        return ""
    return (
        f"{words(name)} was known for {was:.0%} of the accounts it learned from and for "
        f"{now:.0%} of those it would judge here"
    )


def apply(con: duckdb.DuckDBPyConnection, cfg: Config, learned: Learned | None) -> str:
    """Move the ``risk`` table's risk by the model where the rules put it at ``watch`` or
    above; adds the ``learned`` column (the reason; '' where it did not apply). Returns why
    the model was set aside ('' when it was applied, or none given)."""
    con.execute("CREATE OR REPLACE TEMP TABLE learned_score (account_id VARCHAR, "
                "shift DOUBLE, why VARCHAR)")  # fmt: skip
    aside = ""
    if learned is not None:
        floor = cfg.thresholds.watch
        where = f"(SELECT * FROM features WHERE risk >= {floor})"
        ids, x = matrix(con, where)
        if aside := unlike(learned, x):
            ids = []
        if ids:
            p = learned.probability(x)
            weight = cfg.learned.weight
            rules = x[:, FEATURES.index("risk")]
            shift = np.clip(rules + weight * (2 * p - 1), 0, 1) - rules  # as far as 0 or 1
            reasons = learned.explain(x)
            n = sum(learned.meta["labels"].values())
            rows = [
                (a, float(s), _reason(float(pi), float(s), n, why))
                for a, pi, s, why in zip(ids, p, shift, reasons, strict=True)
            ]
            con.executemany("INSERT INTO learned_score VALUES (?, ?, ?)", rows)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE risk AS
        SELECT r.* REPLACE (r.risk + coalesce(l.shift, 0) AS risk),
               coalesce(l.why, '') AS learned
        FROM risk r LEFT JOIN learned_score l USING (account_id)
    """)
    return aside


def _reason(p: float, shift: float, decisions: int, why: list[tuple[str, float]]) -> str:
    if abs(shift) < 0.01:
        return ""
    like = "confirmed" if shift >= 0 else "dismissed"
    named = [words(f) for f, moved in why if (moved > 0) == (shift >= 0)]
    most = f"; most like the {like} in {', '.join(named)}" if named else ""
    return (
        f"learned from {decisions} analysts' decisions: p(confirmed) {p:.2f}, "
        f"risk {shift:+.2f}{most}"
    )
