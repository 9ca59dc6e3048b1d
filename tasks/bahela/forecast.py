"""Next week's Bahela forecasts: a Random Forest per target, honest about how good it is.

- One model per target (revenue, transactions, average session duration, photos),
  trained on every booth's days together (booth as a feature), so four weeks of five
  booths give a hundred-odd rows instead of the original's fourteen.
- Features: calendar (day of week, weekend, Indonesian public holiday, payday window)
  and the series' own past (yesterday, the same weekday last week, 3- and 7-day means).
- The forecast is recursive and built exactly like the training rows: day by day, each
  tree's prediction for a day becomes that tree's yesterday and rolling means for the
  next (the original set those features to zero at prediction time). Running every tree
  along its own path gives the prediction interval from the spread of the trees.
- A rolling-origin backtest replays every week the history allows (train on what came
  before each week, forecast it, compare) and scores the forest and the seasonal naive
  forecast "same weekday last week" by MASE (m=7) on the same days, with the coverage of
  their 80% intervals. Where the forest does not beat naive, the published forecast is
  naive (`method`), with an interval from naive's own backtest errors.
- The trees alone are overconfident on a few weeks of data, so the forest's interval is
  the wider of their spread and the backtest's 80th-percentile error; in the backtest
  itself each week is widened with earlier weeks' errors only, so the coverage it reports
  is the published interval's, not a fit to the days it scores.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache

import numpy as np
import polars as pl
from sklearn.ensemble import RandomForestRegressor

from tasks.bahela.metrics import complete_days, with_ratios

TARGETS: dict[str, str] = {
    "revenue_idr": "Revenue",
    "transactions": "Transactions",
    "avg_duration_seconds": "Avg. session duration",
    "images": "Photos",
}
MIN_HISTORY_DAYS = 14
MIN_BACKTEST_WEEKS = 4  # fewer replayed weeks give no score
TREES = 200
BACKTEST_TREES = 100  # per replayed week: N weeks train N forests per target
HORIZON = 7
MAX_LAG = 7
INTERVAL = (10, 90)  # percentiles of the trees: an 80% interval
SERIES_FEATURES = ("lag_1", "lag_7", "mean_3", "mean_7")  # the first three relative to mean_7
CALENDAR_FEATURES = ("day_of_week", "weekend", "holiday", "payday")


@dataclass(frozen=True)
class Panel:
    """One target as a booths × days matrix over consecutive days (NaN: not observed)."""

    days: list[date]
    booths: list[str]
    values: np.ndarray  # shape (booths, days)
    weights: np.ndarray | None = None  # transactions, for averaging a ratio over booths

    @property
    def length(self) -> int:
        return len(self.days)

    def until(self, end: int) -> Panel:
        weights = None if self.weights is None else self.weights[:, :end]
        return Panel(self.days[:end], self.booths, self.values[:, :end], weights)


def panel(summary: pl.DataFrame, target: str) -> Panel:
    frame = with_ratios(complete_days(summary, summary["day"].min(), summary["day"].max()))
    days = _calendar(frame["day"].min(), frame["day"].max())
    booths = sorted(frame["site"].unique().to_list())
    columns = ["day", "site", target] + (["transactions"] if target != "transactions" else [])
    grid = pl.DataFrame({"day": days}).join(frame.select(columns), on="day", how="left")
    values = np.full((len(booths), len(days)), np.nan)
    weights = np.full((len(booths), len(days)), np.nan)
    index = {d: i for i, d in enumerate(days)}
    for b, booth in enumerate(booths):
        rows = grid.filter(pl.col("site") == booth)
        columns = [index[d] for d in rows["day"]]
        values[b, columns] = rows[target].cast(pl.Float64).to_numpy()
        weights[b, columns] = rows["transactions"].cast(pl.Float64).to_numpy()
    return Panel(days, booths, values, weights if target == "avg_duration_seconds" else None)


def feature_names(booths: list[str]) -> list[str]:
    return [*SERIES_FEATURES, *CALENDAR_FEATURES, *(f"booth={b}" for b in booths)]


def features_at(series: np.ndarray, t: int, day: date, booths: int) -> np.ndarray:
    """The feature rows (one per booth) for day index `t`, from `series[:, :t]` only."""
    past = series[:, max(0, t - MAX_LAG) : t]
    with np.errstate(all="ignore"):
        mean_3 = _nanmean(past[:, -3:])
        mean_7 = _nanmean(past[:, -7:])
    lag_1 = series[:, t - 1] if t >= 1 else np.full(booths, np.nan)
    lag_7 = series[:, t - 7] if t >= 7 else np.full(booths, np.nan)
    calendar = np.tile(calendar_features(day), (booths, 1))
    level = np.where(mean_7 > 0, mean_7, np.nan)
    with np.errstate(all="ignore"):
        relative = [lag_1 / level, lag_7 / level, mean_3 / level]
    return np.column_stack([*relative, mean_7, calendar, np.eye(booths)])


def calendar_features(day: date) -> np.ndarray:
    return np.array(
        [day.weekday(), day.weekday() >= 5, day in _holidays(day.year), day.day >= 25 or day.day <= 2],
        dtype=float,
    )


def training_rows(p: Panel) -> tuple[np.ndarray, np.ndarray]:
    """Every (booth, day) with a target and a full week before it."""
    xs, ys = [], []
    for t in range(MAX_LAG, p.length):
        x = features_at(p.values, t, p.days[t], len(p.booths))
        # the model learns a day relative to its booth's last seven days: the weekly
        # shape is shared by booths of different sizes
        y = p.values[:, t] / x[:, 3]
        keep = ~np.isnan(y) & ~np.isnan(x[:, 0]) & ~np.isnan(x[:, 1]) & np.isfinite(y)
        xs.append(x[keep])
        ys.append(y[keep])
    if not xs:
        return np.empty((0, len(feature_names(p.booths)))), np.empty(0)
    return np.vstack(xs), np.concatenate(ys)


def train(p: Panel, seed: int = 7, trees: int = TREES) -> RandomForestRegressor:
    x, y = training_rows(p)
    model = RandomForestRegressor(
        n_estimators=trees, min_samples_leaf=2, max_features=0.6, random_state=seed, n_jobs=-1
    )
    return model.fit(x, y)


@dataclass(frozen=True)
class Paths:
    """Every tree's recursive forecast: shape (trees, booths, horizon)."""

    days: list[date]
    booths: list[str]
    values: np.ndarray
    feature_rows: list[np.ndarray] = field(default_factory=list)  # the first tree's inputs, per day


def forecast_paths(model: RandomForestRegressor, history: Panel, horizon: int = HORIZON) -> Paths:
    """Forecast `horizon` days after the history, day by day, each tree feeding its own
    predictions back into its lag and rolling features."""
    booths = len(history.booths)
    days = [history.days[-1] + timedelta(days=h + 1) for h in range(horizon)]
    trees = model.estimators_
    series = np.repeat(
        np.concatenate([history.values, np.full((booths, horizon), np.nan)], axis=1)[None], len(trees), axis=0
    )
    active = ~np.isnan(history.values[:, -MAX_LAG:]).all(axis=1)  # booths seen in the last week
    rows = []
    for h, day in enumerate(days):
        t = history.length + h
        for k, tree in enumerate(trees):
            x = features_at(series[k], t, day, booths)
            if k == 0:
                rows.append(x)
            # trees fit on float32 anyway; skipping sklearn's input checks makes the
            # trees × days calls ten times faster, which the backtest's many forests need
            guess = tree.predict(x.astype(np.float32), check_input=False)
            series[k, :, t] = np.where(active, guess * x[:, 3], np.nan)
    return Paths(days, history.booths, series[:, :, history.length :], rows)


def total(paths: np.ndarray, target: str, weights: np.ndarray | None = None) -> np.ndarray:
    """All booths together per tree and day: a sum, or for a ratio the mean weighted by
    `weights` (the booths' transactions)."""
    if target != "avg_duration_seconds":
        return np.nansum(paths, axis=1)
    w = np.nan_to_num(weights if weights is not None else np.ones(paths.shape[1:]))
    w = np.where(np.isnan(paths), 0, w)
    with np.errstate(all="ignore"):
        return np.nansum(paths * w, axis=1) / w.sum(axis=1)


@dataclass(frozen=True)
class Origin:
    """One replayed week: what each method said and what happened (all booths together)."""

    start: date  # the first forecast day
    actual: np.ndarray
    model: np.ndarray  # the forest's mean
    tree_lower: np.ndarray  # the trees' own 80% spread
    tree_upper: np.ndarray
    naive: np.ndarray  # the same weekday of the week before
    scale: float | None  # in-sample MAE of the lag-7 naive on the training history (MASE's denominator)
    in_sample_naive_errors: tuple[float, ...] = ()


@dataclass(frozen=True)
class Backtest:
    """A rolling-origin backtest: one origin per week the history allows, each trained on
    what came before it and forecasting the next seven days.

    Scores are MASE (m=7): each day's absolute error divided by its origin's in-sample
    seasonal-naive MAE, averaged over the backtest days. The naive's MASE is on the same
    out-of-sample days, so the two compare directly; below 1 means better than the naive
    was in sample. With fewer than MIN_BACKTEST_WEEKS origins nothing is scored.

    Coverage counts the days whose actual fell inside an 80% interval built as the report
    builds it, from the errors of earlier origins only (never the scored week's own)."""

    target: str
    weeks: list[date]  # first day of each replayed week
    days: int
    model_mae: float
    naive_mae: float
    model_mase: float | None  # None: the training history was exactly weekly (a zero scale)
    naive_mase: float | None
    tree_coverage: float  # the trees' spread alone
    model_coverage: float  # the forest's interval as published: widened by earlier origins' errors
    naive_coverage: float  # naive ± earlier origins' 80th-percentile error
    trees: int  # trees per backtest forest
    model_errors: tuple[float, ...] = ()
    naive_errors: tuple[float, ...] = ()

    @property
    def scored(self) -> bool:
        return len(self.weeks) >= MIN_BACKTEST_WEEKS

    @property
    def model_wins(self) -> bool:
        """The forest is better than seasonal naive on the backtest days (a tie goes to
        the simpler method)."""
        if self.model_mase is not None and self.naive_mase is not None:
            return self.model_mase < self.naive_mase
        return self.model_mae < self.naive_mae

    @property
    def method(self) -> str:
        """The method to publish: the forest unless a scored backtest says naive is at least as good."""
        return "seasonal_naive" if self.scored and not self.model_wins else "random_forest"

    @property
    def coverage(self) -> float:
        """Coverage of the interval the report shows, for the method it uses."""
        return self.naive_coverage if self.method == "seasonal_naive" else self.model_coverage

    @property
    def verdict(self) -> str:
        label = TARGETS[self.target]
        if not self.scored:
            return (
                f"not enough history for a {MIN_BACKTEST_WEEKS}-week backtest "
                f"({len(self.weeks)} week{'s' * (len(self.weeks) != 1)}): no score yet"
            )
        scores = self._scores()
        if self.method == "seasonal_naive":
            return (
                f"Seasonal naive beat the Random Forest on {label} ({scores}): "
                f"next week's {label} forecast is last week's values"
            )
        return f"the Random Forest beat seasonal naive on {label} ({scores})"

    def _scores(self) -> str:
        """The winner's score first, as in "Seasonal naive beat the Random Forest (MASE 0.92 vs 1.10)"."""
        pairs = [(self.model_mase, self.naive_mase), (self.model_mae, self.naive_mae)]
        if self.method == "seasonal_naive":
            pairs = [(naive, model) for model, naive in pairs]
        (first, second), (first_mae, second_mae) = pairs
        if first is not None and second is not None:
            return f"MASE {first:.2f} vs {second:.2f}"
        return f"MAE {first_mae:,.2f} vs {second_mae:,.2f}; the history repeats exactly weekly, so no MASE"

    def as_dict(self) -> dict:
        scored = self.scored
        return {
            "method": "rolling origin, one week per origin, train on what came before",
            "weeks": [w.isoformat() for w in self.weeks],
            "origins": len(self.weeks),
            "min_weeks": MIN_BACKTEST_WEEKS,
            "days": self.days,
            "scored": scored,
            "model_mase": _r(self.model_mase) if scored else None,
            "naive_mase": _r(self.naive_mase) if scored else None,
            "model_mae": round(self.model_mae, 2) if scored else None,
            "naive_mae": round(self.naive_mae, 2) if scored else None,
            "interval_coverage_pct": round(self.coverage * 100) if scored else None,
            "tree_interval_coverage_pct": round(self.tree_coverage * 100) if scored else None,
            "forest_interval_coverage_pct": round(self.model_coverage * 100) if scored else None,
            "naive_interval_coverage_pct": round(self.naive_coverage * 100) if scored else None,
            "backtest_trees": self.trees,
            "verdict": self.verdict,
        }


@dataclass(frozen=True)
class TargetForecast:
    """Next week's forecast of one target, as published (by `method`)."""

    target: str
    days: list[date]
    prediction: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    by_booth: dict[str, np.ndarray]
    importance: list[tuple[str, float]]
    backtest: Backtest | None
    training_rows: int
    method: str = "random_forest"  # or "seasonal_naive": see Backtest.method

    @property
    def scored(self) -> bool:
        return self.backtest is not None and self.backtest.scored

    @property
    def mase(self) -> float | None:
        """The published method's backtest MASE."""
        if not self.scored:
            return None
        return self.backtest.naive_mase if self.method == "seasonal_naive" else self.backtest.model_mase

    @property
    def coverage(self) -> float | None:
        """How often the published method's 80% interval held in the backtest."""
        return self.backtest.coverage if self.scored else None

    def as_dict(self) -> dict:
        return {
            "target": self.target,
            "label": TARGETS[self.target],
            "method": self.method,
            "training_rows": self.training_rows,
            "days": [
                {"day": d.isoformat(), "prediction": _r(p), "lower": _r(lo), "upper": _r(hi)}
                for d, p, lo, hi in zip(self.days, self.prediction, self.lower, self.upper, strict=True)
            ],
            "by_booth": {b: [_r(v) for v in values] for b, values in self.by_booth.items()},
            "feature_importance": [{"feature": f, "importance": round(v, 4)} for f, v in self.importance],
            "backtest": self.backtest.as_dict() if self.backtest else None,
        }


def forecast_target(
    summary: pl.DataFrame, target: str, backtest_weeks: int | None = None, seed: int = 7
) -> TargetForecast:
    p = panel(summary, target)
    model = train(p, seed)
    paths = forecast_paths(model, p)
    weights = _mean_weights(p)
    totals = total(paths.values, target, weights)
    prediction = totals.mean(axis=0)
    lower, upper = np.percentile(totals, INTERVAL, axis=0)
    replay = backtest(p, target, backtest_weeks, seed)
    by_booth = {b: paths.values[:, i, :].mean(axis=0) for i, b in enumerate(p.booths)}
    if replay and replay.method == "seasonal_naive":
        prediction = series_total(p, target)[-HORIZON:]
        lower, upper = _error_band(prediction, replay.naive_errors)
        by_booth = {b: p.values[i, -HORIZON:] for i, b in enumerate(p.booths)}
    elif replay and replay.model_errors:
        lower, upper = _widen(prediction, lower, upper, replay.model_errors)
    return TargetForecast(
        target=target,
        days=paths.days,
        prediction=prediction,
        lower=np.maximum(lower, 0),
        upper=upper,
        by_booth=by_booth,
        importance=_importance(model, p.booths),
        backtest=replay,
        training_rows=len(training_rows(p)[1]),
        method=replay.method if replay else "random_forest",
    )


def series_total(p: Panel, target: str) -> np.ndarray:
    """The all-booths series the report forecasts: a sum, or the transaction-weighted mean."""
    return total(p.values[None], target, p.weights)[0]


def naive_errors_in_sample(series: np.ndarray, m: int = HORIZON) -> np.ndarray:
    """|y_t - y_{t-m}| wherever both days are known."""
    if series.size <= m:
        return np.empty(0)
    diffs = np.abs(series[m:] - series[:-m])
    return diffs[~np.isnan(diffs)]


def mase_scale(series: np.ndarray, m: int = HORIZON) -> float | None:
    """MASE's denominator: the in-sample mean absolute error of the seasonal naive
    forecast (lag m) on the training series; None when it cannot be computed or is zero."""
    errors = naive_errors_in_sample(series, m)
    if errors.size == 0 or errors.mean() <= 0:
        return None
    return float(errors.mean())


def origins(length: int, weeks: int | None = None) -> list[int]:
    """The backtest's cut points (index of each replayed week's first day), oldest first:
    every whole week after the first MIN_HISTORY_DAYS, ending with the last day; at most
    `weeks` of the most recent ones."""
    available = max(0, (length - MIN_HISTORY_DAYS) // HORIZON)
    n = available if weeks is None else min(weeks, available)
    return [length - HORIZON * w for w in range(n, 0, -1)]


def replay_origin(
    p: Panel, target: str, cut: int, seed: int = 7, trees: int = BACKTEST_TREES
) -> Origin | None:
    """Train on days before `cut`, forecast the seven days from it, and line up both
    methods with what happened."""
    history = p.until(cut)
    if len(training_rows(history)[1]) < 10:
        return None
    paths = forecast_paths(train(history, seed, trees), history)
    predicted = total(paths.values, target, _mean_weights(history))
    lower, upper = np.percentile(predicted, INTERVAL, axis=0)
    series = series_total(p, target)
    training = series[:cut]
    return Origin(
        start=p.days[cut],
        actual=series[cut : cut + HORIZON],
        model=predicted.mean(axis=0),
        tree_lower=lower,
        tree_upper=upper,
        naive=series[cut - HORIZON : cut],
        scale=mase_scale(training),
        in_sample_naive_errors=tuple(float(e) for e in naive_errors_in_sample(training)),
    )


def backtest(
    p: Panel, target: str, weeks: int | None = None, seed: int = 7, trees: int = BACKTEST_TREES
) -> Backtest | None:
    """Replay every week the history allows (or the last `weeks`) and score both methods."""
    replayed = [o for cut in origins(p.length, weeks) if (o := replay_origin(p, target, cut, seed, trees))]
    return score(target, replayed, trees)


def score(target: str, replayed: list[Origin], trees: int = BACKTEST_TREES) -> Backtest | None:
    """MAE, MASE and interval coverage over the replayed weeks, oldest first. Each
    week's intervals use only the errors of the weeks before it: the forest's is the wider
    of its trees' spread and ± their 80th-percentile error, the naive's is ± its own (for
    the first week, the naive's in-sample errors on the training history)."""
    model_errors: list[float] = []
    naive_errors: list[float] = []
    model_scaled: list[float] = []
    naive_scaled: list[float] = []
    inside = {"trees": [], "forest": [], "naive": []}
    weeks = []
    for o in replayed:
        known = ~np.isnan(o.actual)
        if not known.any():
            continue
        forest_lower, forest_upper = (
            _widen(o.model, o.tree_lower, o.tree_upper, model_errors)
            if model_errors
            else (o.tree_lower, o.tree_upper)
        )
        naive_lower, naive_upper = _error_band(o.naive, naive_errors or o.in_sample_naive_errors)
        for name, lo, hi in (
            ("trees", o.tree_lower, o.tree_upper),
            ("forest", np.maximum(forest_lower, 0), forest_upper),
            ("naive", np.maximum(naive_lower, 0), naive_upper),
        ):
            inside[name] += list(((o.actual >= lo) & (o.actual <= hi))[known])
        model_abs = np.abs(o.model - o.actual)[known]
        naive_abs = np.abs(o.naive - o.actual)[known]
        model_errors += [float(e) for e in model_abs]
        naive_errors += [float(e) for e in naive_abs if not np.isnan(e)]
        if o.scale is not None:
            model_scaled += list(model_abs / o.scale)
            naive_scaled += list(naive_abs[~np.isnan(naive_abs)] / o.scale)
        weeks.append(o.start)
    if not model_errors:
        return None
    # a MASE only when every replayed week had a scale: a partial one would compare other days
    complete = len(model_scaled) == len(model_errors)
    return Backtest(
        target=target,
        weeks=weeks,
        days=len(model_errors),
        model_mae=float(np.mean(model_errors)),
        naive_mae=float(np.mean(naive_errors)) if naive_errors else float("nan"),
        model_mase=float(np.mean(model_scaled)) if complete else None,
        naive_mase=float(np.mean(naive_scaled)) if complete and naive_scaled else None,
        tree_coverage=float(np.mean(inside["trees"])),
        model_coverage=float(np.mean(inside["forest"])),
        naive_coverage=float(np.mean(inside["naive"])),
        trees=trees,
        model_errors=tuple(model_errors),
        naive_errors=tuple(naive_errors),
    )


def _widen(
    prediction: np.ndarray, lower: np.ndarray, upper: np.ndarray, errors
) -> tuple[np.ndarray, np.ndarray]:
    """The wider of the trees' interval and ± the errors' 80th percentile: the trees alone
    are overconfident on a few weeks of data."""
    error = float(np.percentile(errors, INTERVAL[1] - INTERVAL[0]))
    return np.minimum(lower, prediction - error), np.maximum(upper, prediction + error)


def _error_band(prediction: np.ndarray, errors) -> tuple[np.ndarray, np.ndarray]:
    error = float(np.percentile(errors, INTERVAL[1] - INTERVAL[0])) if len(errors) else 0.0
    return prediction - error, prediction + error


def history_days(summary: pl.DataFrame) -> int:
    return summary["day"].n_unique() if summary.height else 0


def _mean_weights(p: Panel) -> np.ndarray | None:
    """Next week's transaction weights per booth (its mean over the last four weeks), for
    a ratio target; None for the others."""
    if p.weights is None:
        return None
    recent = p.weights[:, -28:]
    with np.errstate(all="ignore"):
        mean = _nanmean(recent)
    return np.repeat(np.nan_to_num(mean)[:, None], HORIZON, axis=1)


def _importance(model: RandomForestRegressor, booths: list[str]) -> list[tuple[str, float]]:
    named: dict[str, float] = {}
    for name, value in zip(feature_names(booths), model.feature_importances_, strict=True):
        key = "booth" if name.startswith("booth=") else name
        named[key] = named.get(key, 0.0) + float(value)
    return sorted(named.items(), key=lambda item: -item[1])


def _nanmean(values: np.ndarray) -> np.ndarray:
    counts = (~np.isnan(values)).sum(axis=1)
    sums = np.nansum(values, axis=1)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def _calendar(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


@lru_cache(maxsize=16)
def _holidays(year: int) -> frozenset[date]:
    import holidays

    return frozenset(holidays.Indonesia(years=year))


def _r(value: float) -> float | None:
    return None if value is None or np.isnan(value) else round(float(value), 2)
