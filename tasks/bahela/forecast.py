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
- A backtest replays the last weeks of history (train on what came before each week,
  forecast it, compare) against the naive seasonal forecast "same weekday last week".
  The trees alone are overconfident on a few weeks of data, so the interval is the wider
  of their spread and the backtest's own 80th-percentile error; the report shows how
  often the trees' interval held the actual value.
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


def train(p: Panel, seed: int = 7, trees: int = 200) -> RandomForestRegressor:
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
            series[k, :, t] = np.where(active, tree.predict(x) * x[:, 3], np.nan)
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
class Backtest:
    weeks: list[date]  # first day of each replayed week
    days: int
    model_mae: float
    naive_mae: float
    model_mape: float | None
    naive_mape: float | None
    coverage: float  # share of days whose actual fell inside the trees' interval
    absolute_errors: tuple[float, ...] = ()

    @property
    def model_wins(self) -> bool:
        return self.model_mae <= self.naive_mae

    @property
    def verdict(self) -> str:
        if self.naive_mae == 0:
            return "the naive forecast was exact: nothing to beat"
        gain = (1 - self.model_mae / self.naive_mae) * 100
        if gain >= 5:
            return f"the model beat 'same weekday last week' by {gain:.0f}% (MAE)"
        if gain > -5:
            return "the model and 'same weekday last week' did about as well"
        return (
            f"'same weekday last week' beat the model by {-gain:.0f}% (MAE): read the forecast with caution"
        )

    def as_dict(self) -> dict:
        return {
            "weeks": [w.isoformat() for w in self.weeks],
            "days": self.days,
            "model_mae": round(self.model_mae, 2),
            "naive_mae": round(self.naive_mae, 2),
            "model_mape_pct": None if self.model_mape is None else round(self.model_mape, 1),
            "naive_mape_pct": None if self.naive_mape is None else round(self.naive_mape, 1),
            "tree_interval_coverage_pct": round(self.coverage * 100),
            "verdict": self.verdict,
        }


@dataclass(frozen=True)
class TargetForecast:
    target: str
    days: list[date]
    prediction: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    by_booth: dict[str, np.ndarray]
    importance: list[tuple[str, float]]
    backtest: Backtest | None
    training_rows: int

    def as_dict(self) -> dict:
        return {
            "target": self.target,
            "label": TARGETS[self.target],
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
    summary: pl.DataFrame, target: str, backtest_weeks: int = 2, seed: int = 7
) -> TargetForecast:
    p = panel(summary, target)
    model = train(p, seed)
    paths = forecast_paths(model, p)
    weights = _mean_weights(summary, p) if target == "avg_duration_seconds" else None
    totals = total(paths.values, target, weights)
    prediction = totals.mean(axis=0)
    lower, upper = np.percentile(totals, INTERVAL, axis=0)
    replay = backtest(p, target, backtest_weeks, seed)
    if replay and replay.absolute_errors:
        error = float(np.percentile(replay.absolute_errors, INTERVAL[1] - INTERVAL[0]))
        lower, upper = np.minimum(lower, prediction - error), np.maximum(upper, prediction + error)
    return TargetForecast(
        target=target,
        days=paths.days,
        prediction=prediction,
        lower=np.maximum(lower, 0),
        upper=upper,
        by_booth={b: paths.values[:, i, :].mean(axis=0) for i, b in enumerate(p.booths)},
        importance=_importance(model, p.booths),
        backtest=replay,
        training_rows=len(training_rows(p)[1]),
    )


def backtest(p: Panel, target: str, weeks: int = 2, seed: int = 7) -> Backtest | None:
    """Replay the last `weeks` weeks: train on everything before each, forecast it, and
    score the model and the naive seasonal forecast on the same days."""
    model_errors, naive_errors, model_pct, naive_pct, inside, starts = [], [], [], [], [], []
    for w in range(weeks, 0, -1):
        cut = p.length - HORIZON * w
        if cut - MAX_LAG < MIN_HISTORY_DAYS - MAX_LAG or cut < MAX_LAG * 2:
            continue
        history = p.until(cut)
        if len(training_rows(history)[1]) < 10:
            continue
        paths = forecast_paths(train(history, seed), history)
        actual_weights = None if p.weights is None else p.weights[:, cut : cut + HORIZON]
        predicted = total(paths.values, target, actual_weights)
        mean, lower, upper = predicted.mean(axis=0), *np.percentile(predicted, INTERVAL, axis=0)
        actual = total(p.values[None, :, cut : cut + HORIZON], target, actual_weights)[0]
        last_week_weights = None if p.weights is None else p.weights[:, cut - HORIZON : cut]
        naive = total(p.values[None, :, cut - HORIZON : cut], target, last_week_weights)[0]
        known = ~np.isnan(actual)
        model_errors += list(np.abs(mean - actual)[known])
        naive_errors += list(np.abs(naive - actual)[known])
        inside += list(((actual >= lower) & (actual <= upper))[known])
        positive = known & (actual > 0)
        model_pct += list((np.abs(mean - actual) / actual)[positive])
        naive_pct += list((np.abs(naive - actual) / actual)[positive])
        starts.append(p.days[cut])
    if not model_errors:
        return None
    return Backtest(
        weeks=starts,
        days=len(model_errors),
        model_mae=float(np.mean(model_errors)),
        naive_mae=float(np.nanmean(naive_errors)),
        model_mape=float(np.mean(model_pct) * 100) if model_pct else None,
        naive_mape=float(np.nanmean(naive_pct) * 100) if naive_pct else None,
        coverage=float(np.mean(inside)),
        absolute_errors=tuple(float(e) for e in model_errors),
    )


def history_days(summary: pl.DataFrame) -> int:
    return summary["day"].n_unique() if summary.height else 0


def _mean_weights(summary: pl.DataFrame, p: Panel) -> np.ndarray:
    """Next week's transaction weights per booth: its mean over the last four weeks."""
    recent = p.weights[:, -28:] if p.weights is not None else np.ones((len(p.booths), 1))
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
