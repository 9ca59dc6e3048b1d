"""The weekly report as rendered: the chart is a real PNG, the mail carries it inline
and the predictions as JSON (seven days per target); the backtest's MASE, coverage and
published method appear in every output; seasonal naive winning is said plainly; short
history says so."""

from __future__ import annotations

import email
import io
import json
from datetime import timedelta
from email import policy
from html import escape

import matplotlib.image
import polars as pl
import pytest

from tasks.bahela.metrics import complete_days, trends
from tasks.bahela.weekly import weekly_inputs
from tasks.bahela.weekly_report import CHART_CID, build_weekly_report
from tests.unit.test_bahela_forecast import MONDAY, synthetic

TARGETS = {"revenue_idr", "transactions", "avg_duration_seconds", "images"}

WEEK_ENDING = MONDAY + timedelta(days=6 * 7 - 1)


@pytest.fixture(scope="module")
def report():
    return build_weekly_report(weekly_inputs(synthetic(weeks=6, noise=0.08), WEEK_ENDING))


@pytest.fixture(scope="module")
def naive_report():
    """Eight weeks repeating almost exactly: last week's values beat the forest."""
    week_ending = MONDAY + timedelta(days=8 * 7 - 1)
    return build_weekly_report(weekly_inputs(synthetic(weeks=8, noise=0.01, seed=3), week_ending))


@pytest.fixture(scope="module")
def three_week_report():
    """Five weeks: a forecast, but only three weeks to replay."""
    return build_weekly_report(weekly_inputs(synthetic(weeks=5, noise=0.08), MONDAY + timedelta(days=34)))


@pytest.fixture(scope="module")
def short_report():
    summary = synthetic(weeks=2).filter(pl.col("day") >= MONDAY + timedelta(days=4))
    return build_weekly_report(weekly_inputs(summary, MONDAY + timedelta(days=13)))


def mime(report) -> email.message.EmailMessage:
    raw = report.email.to_mime("reports@bahela.test", ["owner@bahela.test"]).as_bytes()
    return email.message_from_bytes(raw, policy=policy.default)


def test_the_chart_is_a_real_png_image(report):
    png = next(a for a in report.email.attachments if a.mime_type == "image/png").content

    image = matplotlib.image.imread(io.BytesIO(png), format="png")

    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert image.shape[1] == 1200 and image.shape[0] > 600
    assert image[..., :3].std() > 0.05, "not a blank canvas"


def test_the_mail_shows_the_chart_inline(report):
    message = mime(report)
    html = message.get_body(("html",)).get_content()
    inline = [p for p in message.walk() if p.get_content_type() == "image/png"]

    assert f"cid:{CHART_CID}" in html
    assert [p["Content-ID"] for p in inline] == [f"<{CHART_CID}>"]


def test_the_json_attachment_holds_seven_days_per_target(report):
    part = next(p for p in mime(report).walk() if p.get_content_type() == "application/json")
    payload = json.loads(part.get_content())

    assert payload["status"] == "ok"
    assert set(payload["forecast"]) == {"revenue_idr", "transactions", "avg_duration_seconds", "images"}
    for target in payload["forecast"].values():
        days = target["days"]
        assert len(days) == 7
        assert days[0]["day"] == (WEEK_ENDING + timedelta(days=1)).isoformat()
        assert all(d["lower"] <= d["prediction"] <= d["upper"] for d in days)
        assert target["backtest"]["verdict"]
    assert payload["last_week"]["best_day"]["revenue_idr"] >= payload["last_week"]["worst_day"]["revenue_idr"]


def test_the_browser_copy_embeds_the_chart(report):
    assert "data:image/png;base64," in report.html and "cid:" not in report.html


def test_the_report_reads_last_week_booths_trends_and_verdicts(report):
    for text in (
        "Last week, day by day",
        "By booth",
        "Trends",
        "How good is the forecast?",
        "What drives the forecast",
    ):
        assert text in report.html
    assert report.html.count("★ best") == 1
    for target in report.payload["forecast"].values():
        assert escape(target["backtest"]["verdict"]) in report.html


def test_every_output_shows_each_targets_mase_and_interval_coverage(report):
    forecast = report.payload["forecast"]

    for target in TARGETS:
        scores = forecast[target]["backtest"]
        assert scores["scored"] and scores["origins"] == 4 and scores["days"] == 28
        assert 0 <= scores["interval_coverage_pct"] <= 100
        assert forecast[target]["method"] in {"random_forest", "seasonal_naive"}
        if target != "avg_duration_seconds":
            assert scores["model_mase"] is not None and scores["naive_mase"] is not None
    # the synthetic booths' sessions all last six minutes: no naive error to scale by
    assert "so no MASE" in forecast["avg_duration_seconds"]["backtest"]["verdict"]
    revenue = forecast["revenue_idr"]["backtest"]
    row = f"{revenue['model_mase']:.2f}</td>"
    assert "Forest MASE" in report.html and row in report.html
    assert f"{revenue['interval_coverage_pct']}%" in report.html
    assert "| Forest MASE | Naive MASE |" in report.markdown
    assert f"| {revenue['model_mase']:.2f} | {revenue['naive_mase']:.2f} |" in report.markdown
    assert "Forest MASE:" in report.email.text
    assert (
        f"MASE {revenue['model_mase']:.2f}" in report.slack
        or f"MASE {revenue['naive_mase']:.2f}" in report.slack
    )


def test_where_naive_wins_the_report_says_so_and_publishes_last_weeks_values(naive_report):
    revenue = naive_report.payload["forecast"]["revenue_idr"]
    scores = revenue["backtest"]

    assert revenue["method"] == "seasonal_naive" and scores["naive_mase"] < scores["model_mase"]
    sentence = (
        f"Seasonal naive beat the Random Forest on Revenue (MASE {scores['naive_mase']:.2f} vs "
        f"{scores['model_mase']:.2f}): next week's Revenue forecast is last week's values"
    )
    assert escape(sentence) in naive_report.html and sentence in naive_report.markdown
    last_week = [d["revenue_idr"] for d in naive_report.payload["last_week"]["days"]]
    assert [d["prediction"] for d in revenue["days"]] == last_week
    assert "Revenue (seasonal naive)" in naive_report.html
    assert "seasonal naive, which beat the forest" in naive_report.slack
    assert {r["method"] for r in naive_report.predictions_table if r["target"] == "Revenue"} == {
        "seasonal_naive"
    }


def test_three_weeks_of_backtest_give_no_score_and_the_report_says_why(three_week_report):
    forecast = three_week_report.payload["forecast"]

    for target in TARGETS:
        scores = forecast[target]["backtest"]
        assert not scores["scored"] and scores["origins"] == 3
        assert scores["model_mase"] is None and scores["interval_coverage_pct"] is None
        assert forecast[target]["method"] == "random_forest"
    why = "not enough history for a 4-week backtest"
    assert why in three_week_report.html and why in three_week_report.markdown
    assert why in three_week_report.slack and "MASE" not in three_week_report.slack


def test_short_history_reports_trends_without_a_forecast(short_report):
    payload = short_report.payload

    assert payload["status"] == "short_history" and payload["forecast"] is None
    assert "Only 10 days of history" in payload["notes"][0]
    assert "Only 10 days of history" in short_report.html and "<img" not in short_report.html
    assert short_report.predictions_table == []
    assert "No forecast" in short_report.slack


def test_trend_direction_follows_a_growing_series():
    growing = synthetic(weeks=4).with_columns(
        pl.col("revenue_idr") * (1 + (pl.col("day") - pl.lit(MONDAY)).dt.total_days() * 0.02)
    )

    result = trends(growing.cast({"revenue_idr": pl.Int64}), MONDAY + timedelta(days=27))

    assert result["revenue_idr"].direction == "up"
    assert result["transactions"].direction == "flat"
    assert result["revenue_idr"].week_over_week_pct > 10


def test_missing_booth_days_count_as_zero_only_inside_the_booths_span():
    summary = synthetic(weeks=2).filter(
        ~((pl.col("site") == "a") & (pl.col("day") == MONDAY + timedelta(days=3)))
    )
    late_booth = summary.filter(pl.col("site") != "c").vstack(
        summary.filter((pl.col("site") == "c") & (pl.col("day") >= MONDAY + timedelta(days=7)))
    )

    filled = complete_days(late_booth, MONDAY, MONDAY + timedelta(days=13))

    gap = filled.filter((pl.col("site") == "a") & (pl.col("day") == MONDAY + timedelta(days=3)))
    assert gap["transactions"].to_list() == [0]
    assert filled.filter(pl.col("site") == "c")["day"].min() == MONDAY + timedelta(days=7)
