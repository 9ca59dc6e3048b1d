"""Glamira's anomaly SQL on a DuckDB marts database filled from the demo's generator over
nine weeks, one of which holds a labelled incident (store 12's tracking down from 06:00
UTC on 2025-04-13, seed 7): the query finds the store with its cause, and the
warehouse-marts flow, run for real against the local Prefect API, lists it in its
artifact, its table artifact, its result, the lake and the alert outbox.

The marts are made the way the bench reduces generated events (bench/anomalies_glamira.py
`day_frames`: events per store and collection, deduplicated checkouts' lines), not by dbt:
nine weeks through dbt would take minutes; test_dbt_project.py covers the marts' build,
and test_marts_partial_sources.py runs this flow's check on dbt-built marts (three days:
not enough history)."""

from __future__ import annotations

import asyncio
import json
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

from bench.anomalies_glamira import build_frames
from blocks.warehouse import DuckDBWarehouse
from demo import glamira
from tasks.glamira.anomalies import RULES, TRACKING_DOWN, anomaly_queries, glamira_check

pytestmark = pytest.mark.integration

SEED = 7
INCIDENT_DAY = date(2025, 4, 13)
STORE = "12"
EVENTS_PER_DAY = 5_000
FIRST_DAY = INCIDENT_DAY - timedelta(weeks=RULES.weeks)


def create_marts(path: Path, first_day: date = FIRST_DAY) -> tuple[pl.DataFrame, pl.DataFrame]:
    days = [first_day + timedelta(days=n) for n in range((INCIDENT_DAY - first_day).days + 1)]
    events, lines = build_frames(days, EVENTS_PER_DAY, SEED, workers=2)
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        # the marts' columns the queries read, plus the grain's others (device type, devices)
        con.execute(
            "create table marts.fct_daily_events as select date_day, store_key, 'desktop' as device_type, "
            "collection, events, 1 as devices from events"
        )
        con.execute(
            "create table marts.fct_sales_order_line as select md5(order_key || product_key) as order_line_key, "
            "order_key, store_key, date_day, product_key, option_alloy, option_stone, quantity, "
            "unit_price_local, line_total_usd, line_total_usd is not null as price_is_supported from lines"
        )
    return events, lines


@pytest.fixture(scope="module")
def marts(tmp_path_factory) -> tuple[Path, pl.DataFrame, pl.DataFrame]:
    home = tmp_path_factory.mktemp("glamira-anomalies")
    return home, *create_marts(home / "warehouse.duckdb")


def test_the_generator_labels_the_incident_the_test_relies_on():
    [incident] = [i for i in glamira.incidents(INCIDENT_DAY, INCIDENT_DAY, SEED) if i.store_id == STORE]
    assert incident.kind == glamira.TRACKING_DOWN and incident.hour == 6


@pytest.mark.anyio
async def test_the_sql_on_duckdb_marts_finds_the_store_whose_tracking_broke(marts):
    home, events, _ = marts
    warehouse = DuckDBWarehouse(path=str(home / "warehouse.duckdb"))

    check = await glamira_check(warehouse, [INCIDENT_DAY])

    down = check.anomalies.filter((pl.col("entity") == STORE) & (pl.col("metric") == "events"))
    assert down.height == 1
    row = down.row(0, named=True)
    assert row["cause"] == TRACKING_DOWN and row["severity"] == "severe"
    # the query's answer is what the marts hold: the store's events that day
    held = events.filter((pl.col("date_day") == INCIDENT_DAY) & (pl.col("store_key") == STORE))[
        "events"
    ].sum()
    assert row["actual"] == held
    assert check.history_days == (INCIDENT_DAY - FIRST_DAY).days + 1 and check.unjudged == []


@pytest.mark.anyio
async def test_the_queries_read_only_the_weeks_a_baseline_needs(marts):
    home, _, _ = marts
    warehouse = DuckDBWarehouse(path=str(home / "warehouse.duckdb"))
    queries = anomaly_queries(warehouse, INCIDENT_DAY, INCIDENT_DAY)

    events = await warehouse.query(queries["events"])

    assert events["date_day"].min() == FIRST_DAY and events["date_day"].max() == INCIDENT_DAY
    assert "date '2025-02-16' and date '2025-04-13'" in queries["lines"]


def test_the_marts_flow_lists_the_flagged_store_and_alerts(prefect_api, marts, monkeypatch):
    from flows.warehouse_marts import warehouse_marts

    home, _, _ = marts
    monkeypatch.setenv("PIPELINES_HOME", str(home))

    # no raw table: dbt has nothing to build, the marts already there are checked
    state = asyncio.run(
        warehouse_marts(start_day=INCIDENT_DAY, end_day=INCIDENT_DAY, dashboard=False, return_state=True)
    )
    summary = state.result()

    assert state.is_completed()
    assert summary["anomalies"]["checked"] == [INCIDENT_DAY.isoformat()]
    assert f"{INCIDENT_DAY} store {STORE}: {TRACKING_DOWN}" in summary["anomalies"]["severe"]
    page = artifacts(state, "warehouse-marts")[0]
    assert "## Unusual days (Glamira)" in page
    assert f"| {INCIDENT_DAY} | {STORE} | events |" in page and TRACKING_DOWN in page
    table = json.loads(artifacts(state, "glamira-anomalies")[0])
    assert any(r["entity"] == STORE and r["cause"] == TRACKING_DOWN for r in table)
    landed = pl.read_parquet(home / "lake" / "glamira" / "anomalies" / f"dt={INCIDENT_DAY}" / "*.parquet")
    assert STORE in landed["entity"].to_list()
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as db:
        loaded = db.execute(
            "select entity from raw_glamira.anomalies where day = ?", [INCIDENT_DAY]
        ).fetchall()
    assert sorted(e for (e,) in loaded) == sorted(landed["entity"].to_list()), "and in the warehouse"
    mails = [p.read_text(errors="replace") for p in (home / "outbox").rglob("*") if p.is_file()]
    assert any(f"store {STORE}: {TRACKING_DOWN}" in m for m in mails), "the severe anomaly was mailed"


def test_three_days_of_marts_say_there_is_not_enough_history(prefect_api, tmp_path, monkeypatch):
    from flows.warehouse_marts import warehouse_marts

    # given the demo's window: three days in the marts, the incident on the last
    create_marts(tmp_path / "warehouse.duckdb", first_day=INCIDENT_DAY - timedelta(days=2))
    monkeypatch.setenv("PIPELINES_HOME", str(tmp_path))

    state = asyncio.run(warehouse_marts(dashboard=False, return_state=True))
    summary = state.result()

    note = (
        f"{INCIDENT_DAY}: not enough history for a baseline (3 days; "
        f"{RULES.min_weeks} weeks of the same weekday needed)."
    )
    assert summary["anomalies"] == {"checked": [str(INCIDENT_DAY)], "count": 0, "severe": [], "note": note}
    assert note in artifacts(state, "warehouse-marts")[0]
    assert artifacts(state, "glamira-anomalies") == []
    assert not (tmp_path / "lake" / "glamira" / "anomalies").exists(), "no verdict, nothing landed"


def artifacts(state, key: str) -> list[str]:
    """The run's artifacts of `key`, read back from the Prefect API."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

    async def read() -> list[str]:
        async with get_client() as client:
            found = await client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    key=ArtifactFilterKey(any_=[key]),
                    flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id]),
                )
            )
        return [a.data if isinstance(a.data, str) else json.dumps(a.data) for a in found]

    return asyncio.run(read())


@pytest.mark.anyio
async def test_the_same_sql_finds_the_same_anomalies_on_bigquery(
    marts, bigquery_url, gcp_credentials, tmp_path
):
    """The marts loaded into the BigQuery emulator (as test_dashboard.py loads them): the
    check's answer is the one DuckDB gives."""
    from polars.testing import assert_frame_equal

    from tests.support import gcp

    home, _, _ = marts
    duck = DuckDBWarehouse(path=str(home / "warehouse.duckdb"))
    tables = ("fct_daily_events", "fct_sales_order_line")
    warehouse = gcp.emulator_copy_of(duck.path, tmp_path, gcp_credentials, bigquery_url, tables)

    on_bigquery = await glamira_check(warehouse, [INCIDENT_DAY])

    on_duckdb = await glamira_check(duck, [INCIDENT_DAY])
    assert on_bigquery.anomalies.height > 0
    assert_frame_equal(on_bigquery.anomalies, on_duckdb.anomalies, check_exact=False)
    assert on_bigquery.history_days == on_duckdb.history_days
