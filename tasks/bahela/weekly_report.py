"""The Bahela weekly report: last week's performance, the trends, next week's forecast
with intervals, how good the forecast has been (backtest MASE against seasonal naive, the
80% interval's coverage, and which method each target's forecast uses), and what drives it.

Delivered as an HTML mail with the chart inline and the predictions as a JSON
attachment, a Slack line, a Prefect artifact, and an HTML copy that opens in a browser
(the chart embedded, no network needed).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from html import escape

import polars as pl

from blocks.mail import Attachment, Email
from pipelines import formatting as fmt
from pipelines import htmlmail as h
from pipelines.settings import JAKARTA
from tasks.bahela.forecast import HORIZON, MIN_BACKTEST_WEEKS, MIN_HISTORY_DAYS, TARGETS, TargetForecast
from tasks.bahela.metrics import METRICS, Trend

CHART_CID = "forecast-chart"
ARROWS = {"up": "↗ up", "down": "↘ down", "flat": "→ flat", "unknown": "?"}
METHODS = {"random_forest": "Random Forest", "seasonal_naive": "Seasonal naive"}
SCORE_HEADERS = [
    "Target",
    "Backtest",
    "Forest MASE",
    "Naive MASE",
    "Forest MAE",
    "Naive MAE",
    "80% interval held",
    "Published",
]


@dataclass(frozen=True)
class WeeklyInputs:
    week_ending: date
    history_days: int
    first_day: date | None
    week: pl.DataFrame  # metrics.week_table
    booths: pl.DataFrame  # metrics.booth_week
    trends: dict[str, Trend]
    forecasts: dict[str, TargetForecast] | None  # None: history too short
    chart_png: bytes

    @property
    def next_week(self) -> tuple[date, date]:
        return self.week_ending + timedelta(days=1), self.week_ending + timedelta(days=HORIZON)


@dataclass(frozen=True)
class WeeklyReport:
    subject: str
    payload: dict
    email: Email
    html: str  # the browser copy, chart embedded
    markdown: str
    slack: str
    predictions_table: list[dict]


def build_weekly_report(inputs: WeeklyInputs) -> WeeklyReport:
    payload = _payload(inputs)
    start = inputs.week_ending - timedelta(days=6)
    revenue = inputs.trends["revenue_idr"]
    subject = (
        f"Bahela weekly report {start:%d %b} – {inputs.week_ending:%d %b %Y}: "
        f"{fmt.rupiah(revenue.last_week)} ({fmt.signed_percent(revenue.week_over_week_pct)} week on week)"
    )
    body = _body(inputs)
    attachment = Attachment(
        filename=f"bahela-forecast-{inputs.next_week[0].isoformat()}.json",
        content=json.dumps(payload, indent=2, ensure_ascii=False).encode(),
        mime_type="application/json",
    )
    chart = Attachment(f"{CHART_CID}.png", inputs.chart_png, "image/png", content_id=CHART_CID)
    email_html = h.page(subject, body.replace("{chart_src}", f"cid:{CHART_CID}"))
    data_uri = "data:image/png;base64," + base64.b64encode(inputs.chart_png).decode()
    return WeeklyReport(
        subject=subject,
        payload=payload,
        email=Email(subject=subject, html=email_html, text=_text(inputs), attachments=(chart, attachment)),
        html=h.page(subject, body.replace("{chart_src}", data_uri)),
        markdown=_markdown(inputs),
        slack=_slack(inputs),
        predictions_table=_predictions_rows(inputs),
    )


def _payload(inputs: WeeklyInputs) -> dict:
    start = inputs.week_ending - timedelta(days=6)
    week = inputs.week
    best = _extreme(week, best=True)
    worst = _extreme(week, best=False)
    return {
        "report": "bahela-weekly",
        "week": {"start": start.isoformat(), "end": inputs.week_ending.isoformat()},
        "forecast_week": {"start": inputs.next_week[0].isoformat(), "end": inputs.next_week[1].isoformat()},
        "time_zone": JAKARTA.key,
        "currency": "IDR",
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "history_days": inputs.history_days,
        "history_from": inputs.first_day.isoformat() if inputs.first_day else None,
        "status": "ok" if inputs.forecasts is not None else "short_history",
        "last_week": {
            "days": [_row(r) for r in week.iter_rows(named=True)],
            "best_day": _row(best) if best else None,
            "worst_day": _row(worst) if worst else None,
            "booths": [_row(r) for r in inputs.booths.iter_rows(named=True)],
        },
        "trends": {m: t.as_dict() for m, t in inputs.trends.items()},
        "forecast": (
            {t: f.as_dict() for t, f in inputs.forecasts.items()} if inputs.forecasts is not None else None
        ),
        "notes": [] if inputs.forecasts is not None else [_short_history_note(inputs)],
    }


def _short_history_note(inputs: WeeklyInputs) -> str:
    return (
        f"Only {inputs.history_days} days of history (at least {MIN_HISTORY_DAYS} are needed to train and "
        "check a forecast): this report shows last week and the trends, without a forecast."
    )


def _extreme(week: pl.DataFrame, best: bool) -> dict | None:
    if week.height == 0:
        return None
    return week.sort("revenue_idr", descending=best).row(0, named=True)


def _row(row: dict) -> dict:
    return {k: (v.isoformat() if isinstance(v, date) else _num(v)) for k, v in row.items()}


def _num(value):
    if isinstance(value, float):
        return round(value, 2)
    return value


def _display(metric: str, value) -> str:
    kind = METRICS.get(metric, ("", "count"))[1]
    return {"money": fmt.rupiah, "count": fmt.count, "duration": fmt.duration, "bytes": fmt.data_size}[kind](
        value
    )


def _body(inputs: WeeklyInputs) -> str:
    start = inputs.week_ending - timedelta(days=6)
    parts = [
        h.heading(
            "Bahela weekly report",
            f"{start:%A %-d %B} – {inputs.week_ending:%A %-d %B %Y} · {JAKARTA.key} · "
            f"{inputs.history_days} days of history",
        )
    ]
    # last week
    t = inputs.trends
    cards = []
    for metric in ("revenue_idr", "transactions", "avg_duration_seconds", "images"):
        trend = t[metric]
        good = None if metric == "avg_duration_seconds" else True
        cards.append(
            (
                METRICS[metric][0],
                _display(metric, trend.last_week),
                h.change(
                    f"{fmt.signed_percent(trend.week_over_week_pct)} week on week",
                    trend.week_over_week_pct,
                    good,
                )
                + f"<br><span style='color:{h.MUTED}'>trend {ARROWS[trend.direction]}</span>",
            )
        )
    parts.append(h.cards(cards))
    parts.append(h.section("Last week, day by day"))
    best, worst = _extreme(inputs.week, True), _extreme(inputs.week, False)
    rows = []
    for r in inputs.week.iter_rows(named=True):
        mark = (
            " ★ best"
            if best and r["day"] == best["day"]
            else " ▽ quietest"
            if worst and r["day"] == worst["day"]
            else ""
        )
        rows.append(
            [
                f"{r['day']:%a %d %b}{mark}",
                fmt.rupiah(r["revenue_idr"]),
                fmt.count(r["transactions"]),
                fmt.duration(r["avg_duration_seconds"]),
                fmt.count(r["images"]),
                fmt.rupiah(r["avg_transaction_idr"]),
            ]
        )
    parts.append(
        h.table(["Day", "Revenue", "Transactions", "Avg. session", "Photos", "Avg. transaction"], rows)
    )
    parts.append(h.section("By booth"))
    parts.append(
        h.table(
            ["Booth", "Revenue", "vs week before", "Transactions", "Avg. session", "Photos"],
            [
                [
                    r["site"],
                    fmt.rupiah(r["revenue_idr"]),
                    h.change(fmt.signed_percent(r["revenue_wow_pct"]), r["revenue_wow_pct"]),
                    fmt.count(r["transactions"]),
                    fmt.duration(r["avg_duration_seconds"]),
                    fmt.count(r["images"]),
                ]
                for r in inputs.booths.iter_rows(named=True)
            ],
            raw_html_columns={2},
        )
    )
    parts.append(h.section("Trends"))
    parts.append(
        h.table(
            ["Metric", "Last week", "Week before", "Change", "Trend (4 weeks)"],
            [
                [
                    METRICS[m][0],
                    _display(m, tr.last_week),
                    _display(m, tr.previous_week),
                    fmt.signed_percent(tr.week_over_week_pct),
                    f"{ARROWS[tr.direction]} ({'n/a' if tr.slope_per_week_pct is None else f'{tr.slope_per_week_pct:+.1f}%/wk'})",
                ]
                for m, tr in t.items()
            ],
        )
    )
    # forecast
    next_start, next_end = inputs.next_week
    parts.append(h.section(f"Next week: {next_start:%a %d %b} – {next_end:%a %d %b}"))
    if inputs.forecasts is None:
        parts.append(h.paragraph(_short_history_note(inputs)))
    else:
        parts.append(
            "<img src='{chart_src}' alt='History and forecast of revenue, transactions, session duration and photos' "
            "style='width:100%;max-width:616px;border:1px solid #e5e7eb;border-radius:6px;margin:8px 0'>"
        )
        rows = _forecast_table_rows(inputs.forecasts, html=True)
        parts.append(h.table(_forecast_headers(inputs.forecasts), rows, raw_html_columns={1, 2, 3, 4}))
        parts.append(
            h.paragraph(
                "Each cell: the forecast, then its 80% interval. A Random Forest's interval is the wider of "
                "its trees' spread and its backtest errors; a seasonal naive forecast (last week's values) "
                "is ± its own backtest errors.",
                muted=True,
            )
        )
        parts.append(h.section("How good is the forecast?"))
        for verdict in _verdicts(inputs.forecasts):
            parts.append(h.paragraph(verdict))
        parts.append(h.table(SCORE_HEADERS, _backtest_rows(inputs.forecasts)))
        parts.append(h.paragraph(_SCORES_EXPLAINED, muted=True))
        parts.append(h.section("What drives the forecast"))
        parts.append(
            h.table(
                ["Target", "Top features (share of the forest's importance)"],
                [
                    [TARGETS[t], ", ".join(f"{name} {share:.0%}" for name, share in f.importance[:4])]
                    for t, f in inputs.forecasts.items()
                ],
            )
        )
    parts.append(h.paragraph("The predictions are attached as JSON, seven days per target.", muted=True))
    return "".join(parts)


def _forecast_table_rows(forecasts: dict[str, TargetForecast], html: bool = False) -> list[list[str]]:
    """One row per day: each target's forecast and its interval (as HTML: on a second,
    quieter line)."""
    first = next(iter(forecasts.values()))
    rows = []
    for i, day in enumerate(first.days):
        cells = [f"{day:%a %d %b}"]
        for target, f in forecasts.items():
            show = _short_display(target)
            value, low, high = show(f.prediction[i]), show(f.lower[i]), show(f.upper[i])
            if html:
                cells.append(
                    f"{escape(value)}<br><span style='color:{h.MUTED};font-size:12px;white-space:nowrap'>"
                    f"{escape(low)} – {escape(high)}</span>"
                )
            else:
                cells.append(f"{value} ({low} – {high})")
        rows.append(cells)
    return rows


def _short_display(target: str):
    if target == "revenue_idr":
        return fmt.rupiah_short
    if target == "avg_duration_seconds":
        return fmt.duration
    return fmt.count


_SCORES_EXPLAINED = (
    "Backtest: every week the history allows is replayed — train on what came before the week, forecast "
    "its seven days, compare with what happened. MASE: the mean absolute error divided by the in-sample "
    "error of seasonal naive (the same weekday of the week before) on the training history; below 1 beats "
    "it. The naive's MASE is on the same backtest days, so the two compare directly, and the lower one's "
    "method is published. Coverage: the share of backtest days inside the published method's 80% interval, "
    "built only from earlier weeks' errors."
)


def _short_history_backtest(f: TargetForecast) -> str:
    weeks = len(f.backtest.weeks) if f.backtest else 0
    return (
        f"not enough history for a {MIN_BACKTEST_WEEKS}-week backtest ({weeks} of {MIN_BACKTEST_WEEKS} weeks)"
    )


def _verdicts(forecasts: dict[str, TargetForecast]) -> list[str]:
    """One plain sentence per target that switched to seasonal naive, and one for all the
    targets whose history is too short to score."""
    out = [f.backtest.verdict for f in forecasts.values() if f.scored and f.method == "seasonal_naive"]
    short = [TARGETS[t] for t, f in forecasts.items() if not f.scored]
    if short:
        f = next(f for f in forecasts.values() if not f.scored)
        out.append(f"{', '.join(short)}: {_short_history_backtest(f)}, so no score yet.")
    return out


def _forecast_headers(forecasts: dict[str, TargetForecast]) -> list[str]:
    return [
        "Day",
        *[
            TARGETS[t] + (" (seasonal naive)" if f.method == "seasonal_naive" else "")
            for t, f in forecasts.items()
        ],
    ]


def _mase(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _backtest_rows(forecasts: dict[str, TargetForecast]) -> list[list[str]]:
    rows = []
    for target, f in forecasts.items():
        b = f.backtest
        metric = target if target in METRICS else "transactions"
        if not f.scored:
            rows.append(
                [TARGETS[target], _short_history_backtest(f), "–", "–", "–", "–", "–", METHODS[f.method]]
            )
            continue
        rows.append(
            [
                TARGETS[target],
                f"{len(b.weeks)} wk / {b.days} days",
                _mase(b.model_mase),
                _mase(b.naive_mase),
                _display(metric, b.model_mae),
                _display(metric, b.naive_mae),
                f"{b.coverage:.0%}",
                METHODS[f.method],
            ]
        )
    return rows


def _predictions_rows(inputs: WeeklyInputs) -> list[dict]:
    if inputs.forecasts is None:
        return []
    return [
        {
            "target": TARGETS[t],
            "day": d.isoformat(),
            "prediction": round(float(p), 2),
            "lower": round(float(lo), 2),
            "upper": round(float(hi), 2),
            "method": f.method,
        }
        for t, f in inputs.forecasts.items()
        for d, p, lo, hi in zip(f.days, f.prediction, f.lower, f.upper, strict=True)
    ]


def _text(inputs: WeeklyInputs) -> str:
    lines = [f"Bahela weekly report, week ending {inputs.week_ending:%A %d %B %Y} ({JAKARTA.key})", ""]
    for m, tr in inputs.trends.items():
        lines.append(
            f"{METRICS[m][0]:<20}{_display(m, tr.last_week):>18}  {fmt.signed_percent(tr.week_over_week_pct)} wow, "
            f"trend {tr.direction}"
        )
    lines.append("")
    if inputs.forecasts is None:
        lines.append(_short_history_note(inputs))
    else:
        lines.append("Next week (forecast, 80% interval):")
        for row in _forecast_table_rows(inputs.forecasts):
            lines.append("  " + " | ".join(row))
        lines.append("")
        lines.append("Backtest (MASE against seasonal naive; below 1 beats it):")
        for row in _backtest_rows(inputs.forecasts):
            lines.append(
                "  " + " | ".join(f"{name}: {cell}" for name, cell in zip(SCORE_HEADERS, row, strict=True))
            )
        lines += _verdicts(inputs.forecasts)
    lines += ["", "The predictions are attached as JSON."]
    return "\n".join(lines)


def _markdown(inputs: WeeklyInputs) -> str:
    out = [f"# Bahela weekly report — week ending {inputs.week_ending:%d %b %Y}", ""]
    out.append(
        h.markdown_table(
            ["Metric", "Last week", "Week before", "Change", "Trend"],
            [
                [
                    METRICS[m][0],
                    _display(m, tr.last_week),
                    _display(m, tr.previous_week),
                    fmt.signed_percent(tr.week_over_week_pct),
                    tr.direction,
                ]
                for m, tr in inputs.trends.items()
            ],
        )
    )
    out += ["", "## Next week", ""]
    if inputs.forecasts is None:
        out.append(_short_history_note(inputs))
    else:
        out.append(
            h.markdown_table(_forecast_headers(inputs.forecasts), _forecast_table_rows(inputs.forecasts))
        )
        out += ["", "## How good is the forecast?", ""]
        for verdict in _verdicts(inputs.forecasts):
            out += [verdict, ""]
        out.append(h.markdown_table(SCORE_HEADERS, _backtest_rows(inputs.forecasts)))
        out += ["", _SCORES_EXPLAINED]
    return "\n".join(out)


def _slack(inputs: WeeklyInputs) -> str:
    revenue = inputs.trends["revenue_idr"]
    text = (
        f"*Bahela week ending {inputs.week_ending:%d %b}*: {fmt.rupiah(revenue.last_week)} "
        f"({fmt.signed_percent(revenue.week_over_week_pct)} wow, trend {revenue.direction}), "
        f"{fmt.count(inputs.trends['transactions'].last_week)} transactions."
    )
    if inputs.forecasts is None:
        return text + f" No forecast: only {inputs.history_days} days of history."
    f = inputs.forecasts["revenue_idr"]
    text += f" Next week's revenue forecast: {fmt.rupiah(float(f.prediction.sum()))} ({_slack_scores(inputs.forecasts)})"
    return text + "."


def _slack_scores(forecasts: dict[str, TargetForecast]) -> str:
    """One short clause: revenue's method and MASE against naive, and which targets went naive."""
    f = forecasts["revenue_idr"]
    if not f.scored:
        return f"not enough history for a {MIN_BACKTEST_WEEKS}-week backtest: no score yet"
    b = f.backtest
    if f.method == "seasonal_naive":
        clause = f"seasonal naive, which beat the forest: backtest MASE {_mase(b.naive_mase)} vs {_mase(b.model_mase)}"
    else:
        clause = (
            f"Random Forest, backtest MASE {_mase(b.model_mase)} vs seasonal naive's {_mase(b.naive_mase)}"
        )
    naive = [TARGETS[t] for t, g in forecasts.items() if g.method == "seasonal_naive" and t != "revenue_idr"]
    if naive:
        clause += f"; seasonal naive for {', '.join(naive)}"
    return clause
