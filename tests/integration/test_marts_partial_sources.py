"""warehouse-marts on a warehouse that holds only some of the dbt project's sources: a
Glamira-only install, a Bahela-only one, and one with nothing loaded yet.

The raw tables are made as test_dbt_project.py makes them (the sample generators, the
pipeline's own transforms, `DuckDBWarehouse.replace_day`), only fewer of them; the flow
runs for real (prefect-dbt, dbt-duckdb) against the local Prefect API. The BigQuery side
of the table check runs on the local-bigquery emulator.
"""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from blocks.warehouse import DuckDBWarehouse
from tasks.dbt_sources import Relation, existing_relations
from tests.integration.test_dbt_project import RawDay, bahela_raw_days, glamira_raw_days, land, load
from tests.support import gcp

pytestmark = pytest.mark.integration

BAHELA_TABLES = ["raw_bahela.daily_summary", "raw_bahela.images", "raw_bahela.sessions"]
GLAMIRA_TABLES = [
    "raw_glamira.events",
    "raw_glamira.locations",
    "raw_glamira.products",
    "raw_glamira.user_agents",
]
BAHELA_MARTS = {"fct_sessions", "fct_daily_metrics"}


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> list[tuple[RawDay, str]]:
    work = tmp_path_factory.mktemp("partial-sources")
    return land([*glamira_raw_days(work), *bahela_raw_days()], work / "lake")


def home_with(home: Path, landed: list[tuple[RawDay, str]], schema: str | None) -> Path:
    """PIPELINES_HOME whose warehouse holds only `schema`'s raw tables (None: nothing)."""
    wanted = [(raw, path) for raw, path in landed if raw.schema == schema]
    asyncio.run(load(DuckDBWarehouse(path=str(home / "warehouse.duckdb")), wanted))
    return home


def run_marts(home: Path, monkeypatch):
    from flows.warehouse_marts import warehouse_marts

    monkeypatch.setenv("PIPELINES_HOME", str(home))
    state = asyncio.run(warehouse_marts(return_state=True))
    return state, state.result()


def artifact(state) -> str:
    """The run's markdown artifact, read back from the Prefect API."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

    async def read() -> str:
        async with get_client() as client:
            found = await client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    key=ArtifactFilterKey(any_=["warehouse-marts"]),
                    flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id]),
                )
            )
        assert len(found) == 1, found
        return found[0].data

    return asyncio.run(read())


def marts_tables(home: Path) -> set[str]:
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        rows = con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'"
        ).fetchall()
    return {name for (name,) in rows}


def count(home: Path, table: str) -> int:
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        return con.execute(f"select count(*) from {table}").fetchall()[0][0]


def test_a_glamira_only_warehouse_builds_the_glamira_marts_and_says_bahela_was_left_out(
    prefect_api, lake, tmp_path, monkeypatch
):
    home = home_with(tmp_path, lake, "raw_glamira")

    state, summary = run_marts(home, monkeypatch)

    assert state.is_completed()
    assert summary["missing_sources"] == {"bahela": BAHELA_TABLES}
    assert set(summary["skipped"]["model"]) == {
        *BAHELA_MARTS,
        "int_session_images_aggregated",
        "stg_bahela__daily_summary",
        "stg_bahela__images",
        "stg_bahela__sessions",
    }
    assert summary["skipped"]["test"], "the Bahela models' tests are left out with them"
    assert set(summary["dbt"]) <= {"success", "pass"} and summary["dbt"]["success"] >= 10
    # the Glamira marts are there and hold orders; no Bahela mart was attempted
    built = marts_tables(home)
    assert {"fct_sales_order_line", "fct_daily_events", "dim_product"} <= built
    assert not built & BAHELA_MARTS
    assert count(home, "marts.fct_sales_order_line") > 0
    assert summary["dashboard"] == str(home / "reports" / "glamira-dashboard.html")
    assert Path(summary["dashboard"]).exists()
    page = artifact(state)
    assert "## Missing sources" in page and "- bahela: " + ", ".join(BAHELA_TABLES) in page
    assert "`--exclude source:bahela+`" in page and "fct_sessions" in page


def test_a_bahela_only_warehouse_builds_the_bahela_marts_and_skips_the_dashboard(
    prefect_api, lake, tmp_path, monkeypatch
):
    home = home_with(tmp_path, lake, "raw_bahela")

    state, summary = run_marts(home, monkeypatch)

    assert state.is_completed()
    assert summary["missing_sources"] == {"glamira": GLAMIRA_TABLES}
    assert "fct_sales_order_line" in summary["skipped"]["model"]
    assert "fct_sessions" not in summary["skipped"]["model"]
    assert count(home, "marts.fct_sessions") > 0
    # no Glamira orders to show: the dashboard says why instead of failing on a missing table
    assert summary["dashboard"] is None
    assert not (home / "reports" / "glamira-dashboard.html").exists()
    page = artifact(state)
    assert "## Dashboard" in page and "Skipped: the Glamira marts" in page
    assert "marts.fct_sales_order_line" in page


def test_a_warehouse_without_any_source_skips_dbt_and_says_so(prefect_api, lake, tmp_path, monkeypatch):
    home = home_with(tmp_path, lake, None)

    state, summary = run_marts(home, monkeypatch)

    assert state.is_completed()
    assert summary["dbt"] == {} and summary["skipped"] == {}
    assert summary["missing_sources"] == {"bahela": BAHELA_TABLES, "glamira": GLAMIRA_TABLES}
    assert summary["dashboard"] is None
    assert marts_tables(home) == set(), "dbt did not run"
    page = artifact(state)
    assert page.startswith("# dbt build skipped")
    assert "None of the dbt project's source tables is in the warehouse" in page


@pytest.mark.anyio
async def test_the_table_check_asks_duckdb_without_creating_its_file(tmp_path):
    warehouse = DuckDBWarehouse(path=str(tmp_path / "warehouse.duckdb"))

    found = await existing_relations(warehouse, [Relation("raw_bahela", "sessions", "warehouse")])

    assert found == set()
    assert not (tmp_path / "warehouse.duckdb").exists()


@pytest.mark.anyio
async def test_the_table_check_lists_the_datasets_of_bigquery(bigquery_url, gcp_credentials, tmp_path):
    warehouse = gcp.emulator_warehouse(gcp_credentials, bigquery_url)
    day = date(2026, 11, 20)
    part = tmp_path / "part-0000.parquet"
    pl.DataFrame({"day": [day], "site": ["senopati"]}).write_parquet(part)
    await warehouse.replace_day("raw_bahela", "daily_summary", day, [str(part)])
    prefix = warehouse.dataset_prefix
    loaded = Relation(f"{prefix}raw_bahela", "daily_summary", gcp.PROJECT)
    absent_table = Relation(f"{prefix}raw_bahela", "sessions", gcp.PROJECT)
    absent_dataset = Relation(f"{prefix}raw_glamira", "events", gcp.PROJECT)

    found = await existing_relations(warehouse, [loaded, absent_table, absent_dataset])

    assert found == {loaded}
