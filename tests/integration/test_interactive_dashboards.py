"""The interactive dashboards, used as a person would: each page opened from file:// in
Debian's headless chromium (driven by Playwright, no browser download), a store or a
booth picked in the filter, and the numbers the charts drew (read from the tables under
them, which the page fills from the charts' own marks) compared with SQL on a synthetic
marts database (Glamira) or with the daily summary (Bahela). Every page must make no
network request: the only request is the file itself, and any other is refused."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

from blocks.warehouse import DuckDBWarehouse
from tasks.anomalies import ANOMALY_SCHEMA
from tasks.bahela.interactive import render_weekly_interactive
from tasks.bahela.summary import SUMMARY_SCHEMA
from tasks.bahela.weekly import weekly_inputs
from tasks.glamira.dashboard import FUNNEL, dashboard_data
from tasks.glamira.interactive import cube_data, cube_query, render_interactive
from tests.integration.test_dashboard import STORES, create_marts, key

pytestmark = [pytest.mark.integration]

CHROMIUM = "/usr/bin/chromium"
STORE = "glamira.de"
STORE_KEY = key("store", "10")  # the anomalies name a store by its key


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(
            "the interactive dashboard tests need Debian's chromium at /usr/bin/chromium "
            "(apt-get install chromium; `make services` installs it)"
        )
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


class OfflinePage:
    """A page that records every request and refuses any that is not a file:// one."""

    def __init__(self, browser, path: Path):
        self.page = browser.new_page()
        self.requests: list[str] = []
        self.refused: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.route("**/*", self._route)
        self.url = path.as_uri()
        self.page.goto(self.url)
        self.page.wait_for_selector("body[data-ready=true]", timeout=20_000)

    def _route(self, route) -> None:
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            self.refused.append(route.request.url)
            route.abort()

    def pick(self, control: str, value: str) -> None:
        self.page.select_option(f"#{control}", value)
        self.page.evaluate("() => window.dashboard.pending")

    def set_date(self, control: str, value: str) -> None:
        self.page.fill(f"#{control}", value)
        self.page.dispatch_event(f"#{control}", "change")
        self.page.evaluate("() => window.dashboard.pending")

    def table(self, panel: str) -> list[dict]:
        """The table under a chart, each cell's exact value (`data-value`)."""
        return self.page.evaluate(
            """(panel) => Array.from(document.querySelectorAll('#table-' + panel + ' tbody tr')).map(tr =>
                 Object.fromEntries(Array.from(tr.cells).filter(td => td.dataset.field)
                   .map(td => [td.dataset.field, td.dataset.value === undefined ? null : td.dataset.value])))""",
            panel,
        )

    def marks(self, panel: str, mark: str) -> list[dict]:
        """What a chart drew: the data of a mark's items, read from the Vega view."""
        return self.page.evaluate(
            """([panel, name]) => {
                 const out = [];
                 (function walk(m) {
                   if (m.name === name) { for (const item of m.items) out.push(item.datum); return; }
                   for (const item of m.items || []) for (const child of item.items || []) walk(child);
                 })(window.dashboard.views[panel].scenegraph().root);
                 return out.map(d => Object.fromEntries(Object.entries(d).filter(([k]) => !k.startsWith('Symbol'))));
               }""",
            [panel, mark],
        )

    def assert_offline(self) -> None:
        assert self.refused == []
        assert self.requests == [self.url]
        assert self.errors == []

    def close(self) -> None:
        self.page.close()


@pytest.fixture
def open_page(browser) -> Iterator:
    pages: list[OfflinePage] = []

    def opener(path: Path) -> OfflinePage:
        pages.append(OfflinePage(browser, path))
        return pages[-1]

    yield opener
    for page in pages:
        page.close()


# -- Glamira ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def marts(tmp_path_factory) -> DuckDBWarehouse:
    path = tmp_path_factory.mktemp("interactive-marts") / "warehouse.duckdb"
    create_marts(path)
    return DuckDBWarehouse(path=str(path))


def run(coroutine):
    """A coroutine run to its end in a thread of its own: Playwright's sync API owns this
    thread's event loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture(scope="module")
def cube(marts) -> pl.DataFrame:
    return run(cube_data(marts))


def sql(warehouse: DuckDBWarehouse, query: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(warehouse.path, read_only=True) as con:
        return con.execute(query, params or []).fetchall()


STORE_DAILY = """
select cast(f.date_day as varchar), sum(f.line_total_usd), count(distinct f.order_key), sum(f.quantity), count(*)
from marts.fct_sales_order_line f join marts.dim_store s on s.store_key = f.store_key
where s.domain = ? {extra}
group by f.date_day order by f.date_day desc"""


def daily_table(page: OfflinePage) -> list[tuple]:
    return [
        (r["day"], float(r["revenue_usd"]), int(r["orders"]), int(r["units"]), int(r["lines"]))
        for r in page.table("daily")
    ]


def approx_rows(rows: list[tuple]) -> list:
    return [tuple(pytest.approx(v) if isinstance(v, float) else v for v in row) for row in rows]


def test_picking_a_store_turns_every_chart_to_that_stores_numbers_as_sql_on_the_marts(
    marts, cube, tmp_path, open_page
):
    # given the page of the whole marts, every store on it
    path = tmp_path / "glamira-dashboard-interactive.html"
    path.write_text(render_interactive(cube), encoding="utf-8")
    page = open_page(path)
    assert {r["store"] for r in page.table("stores")} == {domain for _, domain, *_ in STORES}
    everything = daily_table(page)

    # when one store is picked
    page.pick("store", STORE)

    # then the daily chart is that store's days, as SQL on the marts says
    expected = sql(marts, STORE_DAILY.format(extra=""), [STORE])
    assert daily_table(page) == approx_rows(expected)
    assert daily_table(page) != everything
    drawn = {d["day"]: d["revenue_usd"] for d in page.marks("daily", "daily_marks")}
    assert drawn == {day: pytest.approx(revenue) for day, revenue, *_ in expected}
    # and so is every other chart
    ((revenue, orders, units, lines),) = sql(
        marts,
        """select sum(f.line_total_usd), count(distinct f.order_key), sum(f.quantity), count(*)
           from marts.fct_sales_order_line f join marts.dim_store s on s.store_key = f.store_key
           where s.domain = ?""",
        [STORE],
    )
    assert [
        (r["store"], float(r["revenue_usd"]), int(r["orders"]), int(r["units"]), int(r["lines"]))
        for r in page.table("stores")
    ] == [(STORE, pytest.approx(revenue), orders, units, lines)]
    countries = page.table("countries")
    assert sum(float(r["revenue_usd"]) for r in countries) == pytest.approx(revenue)
    assert sum(int(r["orders"]) for r in countries) == orders
    by_device = dict(
        sql(
            marts,
            """select coalesce(d.device_type, 'unknown'), sum(f.line_total_usd)
               from marts.fct_sales_order_line f join marts.dim_store s on s.store_key = f.store_key
               left join marts.dim_device d on d.device_key = f.device_key
               where s.domain = ? group by 1""",
            [STORE],
        )
    )
    shown = {r["device_type"]: float(r["revenue_usd"]) for r in page.table("devices")}
    assert {k: v for k, v in shown.items() if v} == pytest.approx({k: v for k, v in by_device.items() if v})
    funnel = dict(
        sql(
            marts,
            """select e.collection, sum(e.events) from marts.fct_daily_events e
               join marts.dim_store s on s.store_key = e.store_key where s.domain = ? group by 1""",
            [STORE],
        )
    )
    assert [int(r["events"]) for r in page.table("funnel")] == [funnel[c] for _, c, _ in FUNNEL]
    page.assert_offline()


def test_the_date_country_and_device_filters_narrow_every_chart_as_sql_does(marts, cube, tmp_path, open_page):
    # given the page, one store picked
    path = tmp_path / "dashboard.html"
    path.write_text(render_interactive(cube), encoding="utf-8")
    page = open_page(path)
    page.pick("store", STORE)

    # when the days, the buyer's country and the device are narrowed too
    page.set_date("from_day", "2020-06-03")
    page.set_date("to_day", "2020-06-08")
    page.pick("country", "Germany")
    page.pick("device", "mobile")

    # then the daily chart holds exactly what SQL finds for those
    expected = sql(
        marts,
        STORE_DAILY.format(
            extra="""and f.date_day between '2020-06-03' and '2020-06-08'
                     and f.location_key in (select location_key from marts.dim_location
                                            where country_name = 'Germany' and ip_kind = 'public')
                     and f.device_key in (select device_key from marts.dim_device where device_type = 'mobile')"""
        ),
        [STORE],
    )
    assert expected, "the synthetic marts should have such orders"
    assert daily_table(page) == approx_rows(expected)
    assert [r["country"] for r in page.table("countries")] == ["Germany"]
    # events have no country: the funnel follows the store, days and device only
    ((views,),) = sql(
        marts,
        """select sum(e.events) from marts.fct_daily_events e join marts.dim_store s on s.store_key = e.store_key
           where s.domain = ? and e.device_type = 'mobile' and e.collection = 'view_product_detail'
             and e.date_day between '2020-06-03' and '2020-06-08'""",
        [STORE],
    )
    assert int(page.table("funnel")[0]["events"]) == views

    # and Reset brings back everything
    page.page.click("#reset")
    page.page.evaluate("() => window.dashboard.pending")
    assert len(page.table("stores")) == len(STORES)
    page.assert_offline()


def test_flagged_days_are_marked_on_the_history_for_their_store(cube, tmp_path, open_page):
    # given a store-day flagged by the anomaly detection
    anomalies = pl.DataFrame(
        [
            {
                "business": "glamira",
                "day": date(2020, 6, 4),
                "entity": STORE_KEY,
                "metric": "events",
                "actual": 12.0,
                "expected": 4100.0,
                "lower": 2000.0,
                "upper": 6200.0,
                "score": -9.4,
                "basis": "baseline",
                "severity": "severe",
                "cause": "tracking_down",
                "detail": "glamira.de: 12 events against 4,100 expected; tracking looks broken",
            }
        ],
        schema=ANOMALY_SCHEMA,
    )
    path = tmp_path / "dashboard.html"
    path.write_text(render_interactive(cube, anomalies), encoding="utf-8")
    page = open_page(path)

    # then the daily chart marks that day, with the detail for the tooltip
    (flag,) = page.marks("daily", "anomalies_marks")
    assert (
        flag["day"] == "2020-06-04" and flag["store"] == STORE and "tracking looks broken" in flag["detail"]
    )
    # and another store's history does not carry it
    page.pick("store", "glamira.fr")
    assert page.marks("daily", "anomalies_marks") == []
    page.pick("store", STORE)
    assert len(page.marks("daily", "anomalies_marks")) == 1
    page.assert_offline()


def test_the_cube_adds_up_to_the_static_dashboards_answers(marts, cube):
    """Summing the cube gives the static page's numbers: orders add up over cells because
    an order's lines share one day, store, location and device."""
    static = run(dashboard_data(marts))
    totals = cube.select(pl.col("revenue_usd", "orders", "priced_orders", "lines", "units").sum()).row(
        0, named=True
    )
    head = static.totals
    assert totals["revenue_usd"] == pytest.approx(head["revenue_usd"])
    assert [totals[k] for k in ("orders", "priced_orders", "lines", "units")] == [
        head[k] for k in ("orders", "priced_orders", "lines", "units")
    ]
    stores = cube.group_by("store").agg(pl.col("revenue_usd").sum(), pl.col("orders").sum())
    assert dict(stores.select("store", "orders").iter_rows()) == dict(
        static.stores.select("domain", "orders").iter_rows()
    )
    countries = cube.drop_nulls("country").group_by("country").agg(pl.col("orders").sum())
    assert dict(countries.iter_rows()) == dict(static.countries.select("country", "orders").iter_rows())
    events = cube.group_by("device_type").agg(pl.col("events").sum())
    assert dict(events.iter_rows()) == dict(static.devices.select("device_type", "events").iter_rows())


def test_the_cube_query_is_plain_sql_for_both_warehouses(marts):
    text = cube_query(marts).lower()
    for duckdb_only in (
        "::",
        "group by all",
        "ilike",
        "strftime",
        "date_trunc",
        "?",
        "$",
        "qualify",
        "varchar",
    ):
        assert duckdb_only not in text, duckdb_only
    assert re.findall(r'"marts"\."(\w+)"', cube_query(marts))


def test_the_cube_query_gives_the_same_cube_on_bigquery(marts, bigquery_url, gcp_credentials, tmp_path):
    """The marts loaded into the BigQuery emulator: the cube as on DuckDB."""
    from polars.testing import assert_frame_equal

    from tasks.glamira.interactive import cap_countries, conform_cube
    from tests.support import gcp

    tables = ("fct_sales_order_line", "fct_daily_events", "dim_store", "dim_location", "dim_device")
    warehouse = gcp.emulator_copy_of(marts.path, tmp_path, gcp_credentials, bigquery_url, tables)

    on_bigquery = cap_countries(conform_cube(run(warehouse.query(cube_query(warehouse)))))
    on_duckdb = cap_countries(conform_cube(run(marts.query(cube_query(marts)))))
    assert on_duckdb.height > 0
    assert_frame_equal(on_bigquery, on_duckdb, check_exact=False)


# -- Bahela -----------------------------------------------------------------------------

WEEK_ENDING = date(2026, 11, 15)  # a Sunday
BOOTHS = {"kemang": (1.0, 300.0), "senopati": (2.2, 420.0), "tebet": (0.6, 250.0)}  # scale, seconds


def bahela_summary(weeks: int = 5) -> pl.DataFrame:
    """Daily summary rows whose booths differ in level and in session length, so a booth's
    numbers are told apart from the total's."""
    rows = []
    first = WEEK_ENDING - timedelta(days=7 * weeks - 1)
    for n in range(7 * weeks):
        day = first + timedelta(days=n)
        for i, (site, (scale, seconds)) in enumerate(BOOTHS.items()):
            tx = round(30 * scale * (1.4 if day.weekday() >= 5 else 1.0) + (n * (i + 3)) % 7)
            timed = max(tx - 1, 0)
            rows.append(
                {c: 0 for c in SUMMARY_SCHEMA}
                | {
                    "day": day,
                    "site": site,
                    "sessions": tx + 4,
                    "transactions": tx,
                    "revenue_idr": tx * 40_000 + (n % 5) * 15_000,
                    "total_duration_seconds": timed * (seconds + n % 11),
                    "timed_transactions": timed,
                    "avg_duration_seconds": None,
                    "images": tx * 5 - n % 3,
                }
            )
    return pl.DataFrame(rows, schema=SUMMARY_SCHEMA)


@pytest.fixture(scope="module")
def weekly() -> tuple[pl.DataFrame, dict]:
    summary = bahela_summary()
    # the real weekly forecasts (Random Forests or the seasonal naive), as the flow makes them
    return summary, weekly_inputs(summary, WEEK_ENDING).forecasts


def actuals(page: OfflinePage, target: str) -> dict[str, float]:
    return {r["day"]: float(r["actual"]) for r in page.table(target) if r["actual"] is not None}


def forecast_rows(page: OfflinePage, target: str) -> dict[str, tuple]:
    return {
        r["day"]: tuple(None if r[k] is None else float(r[k]) for k in ("prediction", "lower", "upper"))
        for r in page.table(target)
        if r["prediction"] is not None
    }


def expected_actuals(summary: pl.DataFrame, booth: str | None, first: str) -> dict[str, dict[str, float]]:
    frame = summary if booth is None else summary.filter(pl.col("site") == booth)
    days = (
        frame.group_by("day")
        .agg(
            pl.col(
                "revenue_idr", "transactions", "images", "total_duration_seconds", "timed_transactions"
            ).sum()
        )
        .filter(pl.col("day") >= date.fromisoformat(first))
    )
    out: dict[str, dict[str, float]] = {
        t: {} for t in ("revenue_idr", "transactions", "images", "avg_duration_seconds")
    }
    for r in days.iter_rows(named=True):
        day = r["day"].isoformat()
        for target in ("revenue_idr", "transactions", "images"):
            out[target][day] = float(r[target])
        out["avg_duration_seconds"][day] = r["total_duration_seconds"] / r["timed_transactions"]
    return out


def test_picking_a_booth_turns_every_target_to_that_booths_history_and_forecast(weekly, tmp_path, open_page):
    summary, forecasts = weekly
    path = tmp_path / f"bahela-weekly-{WEEK_ENDING}-interactive.html"
    path.write_text(render_weekly_interactive(summary, WEEK_ENDING, forecasts), encoding="utf-8")

    # given the page of all booths together: their totals, and the forecast with its band
    page = open_page(path)
    first = page.page.input_value("#from_day")
    totals = expected_actuals(summary, None, first)
    for target, f in forecasts.items():
        assert actuals(page, target) == pytest.approx(totals[target]), target
        assert forecast_rows(page, target) == {
            d.isoformat(): pytest.approx((p, lo, hi), abs=1e-3)
            for d, p, lo, hi in zip(f.days, f.prediction, f.lower, f.upper, strict=True)
        }, target
        assert page.marks(target, f"{target}_band_marks"), target

    # when one booth is picked
    page.pick("booth", "senopati")

    # then every target's history is that booth's, as in the daily summary, and its forecast
    # is the booth's own (which has no interval band)
    booth = expected_actuals(summary, "senopati", first)
    for target, f in forecasts.items():
        assert actuals(page, target) == pytest.approx(booth[target]), target
        assert actuals(page, target) != pytest.approx(totals[target])
        assert forecast_rows(page, target) == {
            d.isoformat(): (pytest.approx(float(p), abs=1e-3), None, None)
            for d, p in zip(f.days, f.by_booth["senopati"], strict=True)
        }, target
        assert page.marks(target, f"{target}_band_marks") == []
    page.assert_offline()


def test_flagged_days_are_marked_on_their_targets_history_and_the_date_range_narrows_it(
    weekly, tmp_path, open_page
):
    summary, forecasts = weekly
    anomalies = pl.DataFrame(
        [
            {
                "business": "bahela",
                "day": WEEK_ENDING - timedelta(days=3),
                "entity": "tebet",
                "metric": "transactions",
                "actual": 0.0,
                "expected": 21.0,
                "lower": 12.0,
                "upper": 30.0,
                "score": -9.2,
                "basis": "baseline",
                "severity": "severe",
                "cause": "booth_offline",
                "detail": "tebet: no session after 14:10, likely offline",
            },
        ],
        schema=ANOMALY_SCHEMA,
    )
    path = tmp_path / "weekly.html"
    path.write_text(render_weekly_interactive(summary, WEEK_ENDING, forecasts, anomalies), encoding="utf-8")
    page = open_page(path)

    # the flag is on the transactions chart, not on revenue's
    (flag,) = page.marks("transactions", "transactions_anomalies_marks")
    assert flag["booth"] == "tebet" and "likely offline" in flag["detail"]
    assert page.marks("revenue_idr", "revenue_idr_anomalies_marks") == []
    # another booth's history does not carry it
    page.pick("booth", "kemang")
    assert page.marks("transactions", "transactions_anomalies_marks") == []

    # a narrower date range narrows the history
    page.set_date("from_day", (WEEK_ENDING - timedelta(days=6)).isoformat())
    assert len(actuals(page, "transactions")) == 7
    page.assert_offline()


def test_a_week_without_history_forecasts_or_anomalies_still_opens(tmp_path, open_page):
    path = tmp_path / "empty.html"
    path.write_text(render_weekly_interactive(None, WEEK_ENDING, None, None), encoding="utf-8")
    page = open_page(path)
    assert page.table("transactions") == [{}]  # the "nothing for these filters" row
    page.assert_offline()
