"""The whole bahela-weekly flow on the embedded default: history from the warehouse,
days the warehouse lacks loaded first, forecasts landed and loaded with their method and
backtest scores, the report mailed with its chart, MASE table and JSON, a browser copy in
reports/; a re-run changes nothing."""

from __future__ import annotations

import email
import json
import uuid
from datetime import date, timedelta
from email import policy

import duckdb
import pytest
from prefect.filesystems import LocalFileSystem

from blocks.lake import Lake, partition_prefix
from blocks.warehouse import DuckDBWarehouse
from demo import bahela
from flows.bahela_daily import BahelaBlocks
from flows.bahela_weekly import bahela_weekly, last_sunday
from tests.unit.test_bahela_forecast import synthetic

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

WEEK_ENDING = date(2026, 11, 15)  # a Sunday


@pytest.fixture
async def home(tmp_path, monkeypatch):
    """Six weeks of daily summaries in the warehouse (four to replay in the backtest), but
    for the week's last two days, which only the sources have."""
    monkeypatch.setenv("PIPELINES_HOME", str(tmp_path))
    history = synthetic(weeks=6, noise=0.1)
    history = history.with_columns(history["day"] + (WEEK_ENDING - history["day"].max()))
    lake = Lake(LocalFileSystem(basepath=str(tmp_path / "lake")))
    warehouse = DuckDBWarehouse(path=str(tmp_path / "warehouse.duckdb"))
    for day in history["day"].unique().sort():
        if day > WEEK_ENDING - timedelta(days=2):
            continue
        landed = await lake.replace_partition(
            partition_prefix("bahela", "daily_summary", day), [history.filter(history["day"] == day)]
        )
        await warehouse.replace_day("raw_bahela", "daily_summary", day, landed.uris)
    sample = bahela.generate(WEEK_ENDING - timedelta(days=1), WEEK_ENDING, seed=9, booths=bahela.BOOTHS[:3])
    bahela.write(sample, bahela.SampleFolders(tmp_path / "samples" / "bahela"))
    return tmp_path


def blocks() -> BahelaBlocks:
    tag = uuid.uuid4().hex[:8]
    return BahelaBlocks(**{role: f"{tag}-{role}" for role in BahelaBlocks.model_fields})


def forecast_rows(home) -> list[tuple]:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(
            "select target, count(*), min(day), max(day) from raw_bahela.forecasts where week_ending = ? group by 1 order by 1",
            [WEEK_ENDING],
        ).fetchall()


async def test_weekly_report_with_forecast_chart_and_json(prefect_api, home):
    result = await bahela_weekly(week_ending=WEEK_ENDING, blocks=blocks())

    assert result["status"] == "ok" and result["history_days"] == 42
    message = email.message_from_bytes(
        (home / "outbox" / f"bahela-weekly-{WEEK_ENDING}.eml").read_bytes(), policy=policy.default
    )
    parts = {p.get_content_type(): p for p in message.walk()}
    assert parts["image/png"].get_content().startswith(b"\x89PNG")
    payload = json.loads(parts["application/json"].get_content())
    assert all(len(f["days"]) == 7 for f in payload["forecast"].values())
    assert "data:image/png;base64," in (home / "reports" / f"bahela-weekly-{WEEK_ENDING}.html").read_text()
    next_monday, next_sunday = WEEK_ENDING + timedelta(days=1), WEEK_ENDING + timedelta(days=7)
    assert forecast_rows(home) == [(t, 7, next_monday, next_sunday) for t in sorted(payload["forecast"])]


async def test_the_backtest_scores_reach_the_mail_the_json_and_the_warehouse(prefect_api, home):
    result = await bahela_weekly(week_ending=WEEK_ENDING, blocks=blocks())

    message = email.message_from_bytes(
        (home / "outbox" / f"bahela-weekly-{WEEK_ENDING}.eml").read_bytes(), policy=policy.default
    )
    payload = json.loads(
        next(p for p in message.walk() if p.get_content_type() == "application/json").get_content()
    )
    revenue = payload["forecast"]["revenue_idr"]
    assert revenue["backtest"]["origins"] == 4 and revenue["backtest"]["model_mase"] is not None
    html = message.get_body(("html",)).get_content()
    assert "Forest MASE" in html and f"{revenue['backtest']['model_mase']:.2f}" in html
    assert result["methods"] == {t: f["method"] for t, f in payload["forecast"].items()}
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        stored = con.execute(
            "select distinct method, backtest_weeks, backtest_model_mase, backtest_naive_mase, "
            "backtest_interval_coverage from raw_bahela.forecasts where week_ending = ? and target = 'revenue_idr'",
            [WEEK_ENDING],
        ).fetchall()
    scores = revenue["backtest"]
    assert len(stored) == 1
    method, weeks, model_mase, naive_mase, coverage = stored[0]
    assert (method, weeks) == (revenue["method"], 4)
    assert round(model_mase, 2) == scores["model_mase"] and round(naive_mase, 2) == scores["naive_mase"]
    assert round(coverage * 100) == scores["interval_coverage_pct"]


async def test_days_the_warehouse_lacks_are_loaded_before_the_report(prefect_api, home):
    await bahela_weekly(week_ending=WEEK_ENDING, blocks=blocks(), notify=False)

    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        loaded = con.execute(
            "select day, count(*) from raw_bahela.sessions group by day order by day"
        ).fetchall()
    assert [day for day, n in loaded] == [WEEK_ENDING - timedelta(days=1), WEEK_ENDING]
    assert not (home / "outbox").exists() or not list((home / "outbox").glob("bahela-daily-*")), (
        "no daily mail"
    )


async def test_rerunning_the_week_replaces_its_forecasts(prefect_api, home):
    b = blocks()
    await bahela_weekly(week_ending=WEEK_ENDING, blocks=b, notify=False)
    first = forecast_rows(home)

    await bahela_weekly(week_ending=WEEK_ENDING, blocks=b, notify=False)

    assert forecast_rows(home) == first and sum(n for _, n, *_ in first) == 28


async def test_week_ending_must_be_a_sunday(prefect_api, home):
    with pytest.raises(ValueError, match="must be a Sunday"):
        await bahela_weekly(week_ending=WEEK_ENDING - timedelta(days=1), blocks=blocks())


def test_the_default_week_is_the_last_complete_one():
    assert last_sunday(date(2026, 11, 23)) == date(2026, 11, 22)  # Monday: yesterday
    assert last_sunday(date(2026, 11, 22)) == date(2026, 11, 15)  # Sunday: a week ago
    assert last_sunday(date(2026, 11, 19)) == date(2026, 11, 15)
