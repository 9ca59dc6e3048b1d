"""The LookML project's SQL on the warehouse: marts built by dbt on DuckDB from the sample
generator's days (made as test_dbt_project.py makes them), and every view, field, join and
dashboard element translated to SQL (tests/unit/test_looker.py's `Compiler`: `${TABLE}` ->
the view's alias, `${field}` -> its SQL) and run there.

No Looker instance can run here, so Looker's own SQL generation is stood in for by that
translation; the SQL each view writes (the part this project owns) runs as written. The
figures of every dashboard element must equal the offline dashboard's own queries
(`tasks.glamira.dashboard.dashboard_data`) on the same marts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import duckdb
import polars as pl
import pytest

from blocks.warehouse import DuckDBWarehouse
from tasks.glamira.dashboard import FUNNEL, FUNNEL_RATES, DashboardData, dashboard_data
from tests.integration.test_dbt_project import Dbt, failures, glamira_raw_days, land, load
from tests.unit.test_looker import (
    CONSTANT,
    TABLE_COLUMN,
    Compiler,
    Project,
    element_query,
    elements,
    load_project,
)

pytestmark = pytest.mark.integration

GLAMIRA_MARTS = "+path:models/marts/glamira"


@pytest.fixture(scope="module")
def marts(tmp_path_factory) -> Iterator[Path]:
    """A DuckDB warehouse whose Glamira marts dbt built (seeds and models, not its data
    tests: test_dbt_project.py runs those) from three generated days."""
    work = tmp_path_factory.mktemp("looker")
    path = work / "warehouse.duckdb"
    asyncio.run(load(DuckDBWarehouse(path=str(path)), land(list(glamira_raw_days(work)), work / "lake")))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DO_NOT_TRACK", "1")
        patch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        patch.setenv("PIPELINES_WAREHOUSE", str(path))
        patch.delenv("DBT_TARGET", raising=False)
        built = Dbt(work, "duckdb")("build", "--select", GLAMIRA_MARTS, "--exclude", "resource_type:test")
        assert built.success, failures(built)
        yield path


@pytest.fixture(scope="module")
def project() -> Project:
    return load_project()


@pytest.fixture(scope="module")
def offline(marts) -> DashboardData:
    return asyncio.run(dashboard_data(DuckDBWarehouse(path=str(marts))))


def run(marts: Path, sql: str) -> pl.DataFrame:
    with duckdb.connect(str(marts)) as con:
        return con.sql(sql).pl()


def columns(marts: Path) -> dict[str, set[str]]:
    """table -> its columns, for every table of the marts schema."""
    frame = run(
        marts, "select table_name, column_name from information_schema.columns where table_schema = 'marts'"
    )
    found: dict[str, set[str]] = {}
    for table, column in frame.iter_rows():
        found.setdefault(table, set()).add(column)
    return found


def test_every_view_reads_a_mart_dbt_built_and_names_exactly_its_columns(marts, project):
    built = columns(marts)

    for view in project.views.values():
        schema, _, table = CONSTANT.sub(
            lambda m: project.constants[m.group(1)], view.sql_table_name
        ).partition(".")
        assert schema == "marts" and table in built, (
            f"{view.name}: {view.sql_table_name} is no mart dbt built"
        )
        named = {c for f in view.fields.values() for sql in f.sql.values() for c in TABLE_COLUMN.findall(sql)}
        assert named <= built[table], (
            f"{view.name}: no column {sorted(named - built[table])} in marts.{table}"
        )
        # every column of the mart is offered (hidden or not): nothing it holds is out of reach
        assert named == built[table], f"{view.name}: not offered: {sorted(built[table] - named)}"


def test_every_dimension_and_measure_of_every_explore_runs_on_the_marts(marts, project):
    ran = 0
    for name, explore in project.explores.items():
        compiler = Compiler(project, name)
        for ref in project.scope(explore):
            frame = run(marts, compiler.query([ref], limit=5))
            assert frame.columns == [ref]
            ran += 1
        # a dimension beside a measure of the base view: the join and the GROUP BY hold
        for alias in explore.joins:
            key = project.views[explore.view_of(alias)].primary_key
            counted = run(
                marts,
                compiler.query([f"{alias}.{key.name}", f"{explore.alias}.{first_measure(project, explore)}"]),
            )
            assert counted.height > 0, alias
    trigger = project.model["datagroups"][0]["sql_trigger"]
    newest = run(marts, CONSTANT.sub(lambda m: project.constants[m.group(1)], trigger)).item()

    assert ran > 150
    assert newest == run(marts, "select max(date_day) from marts.fct_sales_order_line").item()


def first_measure(project: Project, explore) -> str:
    return next(f.name for f in project.views[explore.view].fields.values() if f.kind == "measure")


def element_rows(
    marts: Path, project: Project, name: str, filters: dict[str, str] | None = None
) -> pl.DataFrame:
    element = elements(project)[name]
    frame = run(marts, element_query(project, element, filters))
    return frame.rename({c: c.split(".", 1)[1] for c in frame.columns})


def test_the_looker_dashboard_shows_the_offline_dashboards_figures(marts, project, offline):
    totals = offline.totals
    rows = {name: element_rows(marts, project, name) for name in elements(project)}
    card = {name: frame.row(0)[0] for name, frame in rows.items() if frame.width == 1}

    # the headline cards
    assert totals["orders"] > 10 and totals["revenue_usd"] > 0 and totals["unsupported_price_lines"] > 0
    assert card["revenue"] == pytest.approx(totals["revenue_usd"])
    assert card["orders"] == totals["orders"]
    assert card["average_order_value"] == pytest.approx(totals["avg_order_value_usd"])
    assert card["lines"] == totals["lines"] and card["units"] == totals["units"]
    assert card["unsupported_prices"] == totals["unsupported_price_lines"]
    assert card["product_views"] == offline.funnel["events"][0] > 0
    # revenue and orders by day
    assert_same(
        rows["revenue_by_day"].rename({"order_date": "date_day"}),
        offline.daily.select("date_day", "revenue_usd", "orders"),
    )
    # by buyer country, by store, the top products: the same rows in the same order
    assert_same(
        rows["revenue_by_country"].select("country", "revenue_usd", "orders", "lines"),
        offline.countries.select("country", "revenue_usd", "orders", "lines"),
    )
    assert "Unknown" in rows["revenue_by_country"]["country"].to_list()
    assert_same(
        rows["revenue_by_store"].select("domain", "currency", "revenue_usd", "orders", "lines"),
        offline.stores.select("domain", "currency", "revenue_usd", "orders", "lines"),
    )
    assert_same(
        rows["top_products"].rename({"name": "product_name"}),
        offline.top_products.select("product_name", "product_id", "revenue_usd", "orders", "units"),
    )
    # the device mix: orders from the order lines, events from the website events
    assert_same(
        rows["orders_by_device"].sort("device_type"),
        offline.devices.filter(pl.col("orders") > 0)
        .select("device_type", "orders", "revenue_usd")
        .sort("device_type"),
    )
    assert_same(
        rows["events_by_device"].sort("device_type"),
        offline.devices.filter(pl.col("events") > 0).select("device_type", "events").sort("device_type"),
    )
    # the funnel in total and by day
    assert rows["funnel"].row(0) == tuple(offline.funnel["events"].to_list())
    assert rows["funnel"].columns == [column for column, _, _ in FUNNEL]
    rates = [column for column, _, _, _ in FUNNEL_RATES]
    assert_same(
        rows["funnel_by_day"].rename({"event_date": "date_day"}),
        offline.funnel_daily.select("date_day", *rates),
    )


def test_a_store_filter_narrows_every_element_to_that_store(marts, project, offline):
    domain = offline.stores["domain"][0]  # the store with the most revenue
    store = f"(select store_key from marts.dim_store where domain = '{domain}')"
    expected_revenue, expected_orders = run(
        marts,
        f"select sum(line_total_usd), count(distinct order_key) from marts.fct_sales_order_line "
        f"where store_key in {store}",
    ).row(0)
    expected_views = run(
        marts,
        "select sum(events) from marts.fct_daily_events "
        f"where collection = 'view_product_detail' and store_key in {store}",
    ).item()

    def filtered(name: str) -> pl.DataFrame:
        return element_rows(marts, project, name, {"store": domain})

    assert 0 < expected_revenue < offline.totals["revenue_usd"]
    assert filtered("revenue").item() == pytest.approx(expected_revenue)
    assert filtered("orders").item() == expected_orders
    assert filtered("product_views").item() == expected_views
    assert filtered("revenue_by_store")["domain"].to_list() == [domain]
    assert filtered("revenue_by_day")["revenue_usd"].sum() == pytest.approx(expected_revenue)
    assert filtered("revenue_by_country")["revenue_usd"].sum() == pytest.approx(expected_revenue)
    assert filtered("funnel")["product_views"].item() == expected_views
    # every element listens to the store filter, on the sales and on the events explore
    assert all("store" in element["listen"] for element in elements(project).values())


def assert_same(looker: pl.DataFrame, offline: pl.DataFrame) -> None:
    """The same rows in the same order; amounts to the cent's rounding error."""
    assert looker.columns == offline.columns
    assert looker.height == offline.height > 0, (looker, offline)
    for column in looker.columns:
        ours, theirs = looker[column].to_list(), offline[column].to_list()
        if looker[column].dtype.is_float() or offline[column].dtype.is_float():
            assert ours == pytest.approx(theirs, nan_ok=True), column
        else:
            assert ours == theirs, column
