"""The offline Glamira dashboard against a small synthetic marts database that follows the
marts' contract: the answers add up, the page is self-contained, and Debian's chromium,
headless and offline, decodes every chart and paints a page with something on it."""

from __future__ import annotations

import asyncio
import hashlib
import random
import re
import shutil
import subprocess
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

from blocks.warehouse import DuckDBWarehouse
from tasks.glamira.dashboard import FUNNEL, build_dashboard, dashboard_data, dashboard_queries

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

CHROMIUM = "/usr/bin/chromium"
FIRST_DAY = date(2020, 6, 1)
DAYS = 10
OTHER_COLLECTIONS = ("view_listing_page", "search_box_action", "product_detail_recommendation_visible")

DDL = """
create schema marts;
create table marts.dim_store (store_key varchar, store_id varchar, domain varchar, country_code varchar,
  currency varchar);
create table marts.dim_product (product_key varchar, product_id varchar, product_name varchar,
  crawled_price double, crawled_currency varchar, url varchar);
create table marts.dim_location (location_key varchar, ip_kind varchar, country_code varchar,
  country_name varchar, region varchar, city varchar, latitude double, longitude double, time_zone varchar);
create table marts.dim_device (device_key varchar, browser_family varchar, browser_major varchar,
  os_family varchar, os_major varchar, device_family varchar, device_brand varchar, device_type varchar);
create table marts.dim_customer (customer_key varchar, has_account boolean, email_domain varchar,
  first_seen_day date);
create table marts.dim_date (date_day date, year integer, quarter integer, month integer, month_name varchar,
  week_of_year integer, day_of_week integer, day_name varchar, is_weekend boolean);
create table marts.fct_sales_order_line (order_line_key varchar, order_key varchar, store_key varchar,
  order_id varchar, line_number integer, date_day date, event_at timestamp, product_key varchar,
  customer_key varchar, location_key varchar, device_key varchar, quantity integer,
  unit_price_local double, currency varchar, line_total_local double, unit_price_usd double,
  line_total_usd double, price_text varchar, price_is_supported boolean);
create table marts.fct_daily_events (date_day date, store_key varchar, device_type varchar,
  collection varchar, events integer, devices integer);
"""

STORES = [  # store_id, domain, country_code, currency, usd per unit
    ("10", "glamira.de", "DE", "EUR", 1.12),
    ("12", "glamira.co.uk", "GB", "GBP", 1.25),
    ("27", "glamira.com", "US", "USD", 1.0),
    ("41", "glamira.fr", "FR", "EUR", 1.12),
]
LOCATIONS = [  # ip_kind, country_code, country_name, city, weight
    ("public", "DE", "Germany", "Berlin", 5),
    ("public", "DE", "Germany", "Munich", 2),
    ("public", "GB", "United Kingdom of Great Britain and Northern Ireland", "London", 3),
    ("public", "US", "United States of America", "New York City", 3),
    ("public", "FR", "France", "Paris", 2),
    ("public", "AT", "Austria", "Vienna", 1),
    ("private", None, None, None, 1),  # 10.x behind a proxy
    ("public", "-", "-", "-", 1),  # unallocated: the IP database has no location
]
PRODUCTS = [  # product_id, name (None: never crawled), usd price, weight
    ("110474", "Glamira Ring Brisa", 890.0, 6),
    ("95893", "Glamira Pendant Zonia", 420.0, 5),
    ("100286", None, 1290.0, 4),
    ("82153", "Glamira Earring Lyra", 310.0, 5),
    ("77421", "Glamira Bracelet Ariane", 560.0, 3),
    ("120037", "Glamira Ring Saskia 0.5 crt", 2450.0, 2),
    ("64021", "Glamira Necklace Orla", 680.0, 3),
    ("91133", None, 150.0, 4),
    ("108866", "Men's Ring Tarek <Tungsten & Gold>", 740.0, 2),
    ("70310", "Glamira Charm Jolie", 95.0, 4),
    ("58112", "Glamira Anklet Mira", 210.0, 2),
    ("133901", "Glamira Brooch Vela", 380.0, 1),
    ("49987", "Glamira Cufflinks Oren", 260.0, 1),
]
DEVICES = [  # device_key suffix, browser, os, device family, device_type, order weight, event weight
    ("chrome-win", "Chrome", "Windows", "Other", "desktop", 5, 5),
    ("safari-ios", "Mobile Safari", "iOS", "iPhone", "mobile", 4, 6),
    ("chrome-android", "Chrome Mobile", "Android", "Samsung SM-G991B", "mobile", 2, 3),
    ("safari-ipad", "Mobile Safari", "iOS", "iPad", "tablet", 1, 1),
    ("googlebot", "Googlebot", "Other", "Spider", "bot", 0, 2),
    ("unknown", None, None, None, "unknown", 1, 1),
]


def insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[tuple]) -> None:
    """All rows in one statement (row by row is slow); DuckDB casts to the table's types."""
    columns = [row[0] for row in con.execute(f"describe marts.{table}").fetchall()]
    frame = pl.DataFrame(rows, schema=columns, orient="row", infer_schema_length=None)  # noqa: F841
    con.execute(f"insert into marts.{table} select * from frame")


def key(*parts) -> str:
    return hashlib.md5("|".join(map(str, parts)).encode()).hexdigest()


@dataclass
class Expected:
    revenue: float = 0.0
    orders: int = 0
    priced_orders: int = 0
    lines: int = 0
    units: int = 0
    unsupported: int = 0
    by_country: dict = field(default_factory=lambda: defaultdict(float))
    orders_by_country: dict = field(default_factory=lambda: defaultdict(set))
    by_store: dict = field(default_factory=lambda: defaultdict(float))
    by_product: dict = field(default_factory=lambda: defaultdict(float))
    orders_by_product: dict = field(default_factory=lambda: defaultdict(set))
    orders_by_device: dict = field(default_factory=lambda: defaultdict(set))
    events_by_device: dict = field(default_factory=lambda: defaultdict(int))
    funnel: dict = field(default_factory=lambda: defaultdict(int))  # (day, collection) -> events
    days: set = field(default_factory=set)


def create_marts(path: Path, with_rows: bool = True) -> Expected:
    """A marts database following the contract, and what the dashboard should answer."""
    rng = random.Random(20200601)
    expected = Expected()
    with duckdb.connect(str(path)) as con:
        con.execute(DDL)
        if not with_rows:
            return expected
        insert(con, "dim_store", [(key("store", s[0]), *s[:4]) for s in STORES])
        insert(
            con,
            "dim_product",
            [
                (key("product", pid), pid, name, price, "USD", f"https://www.glamira.com/glamira-{pid}.html")
                for pid, name, price, _ in PRODUCTS
            ],
        )
        insert(
            con,
            "dim_location",
            [
                (key("location", i), kind, cc, name, city, city, 50.0 + i, 8.0 + i, "+01:00" if cc else None)
                for i, (kind, cc, name, city, _) in enumerate(LOCATIONS)
            ],
        )
        insert(
            con,
            "dim_device",
            [
                (key("device", d[0]), d[1], "120" if d[1] else None, d[2], None, d[3], None, d[4])
                for d in DEVICES
            ],
        )
        con.execute(
            """insert into marts.dim_date
            select d::date, year(d), quarter(d), month(d), monthname(d), weekofyear(d), isodow(d), dayname(d),
                   isodow(d) >= 6
            from range(?::timestamp, ?::timestamp, interval 1 day) as t(d)""",
            [FIRST_DAY, FIRST_DAY + timedelta(days=DAYS)],
        )
        lines, events, customers = [], [], {}
        for day_index in range(DAYS):
            day = FIRST_DAY + timedelta(days=day_index)
            for number in range(rng.randint(6, 14)):
                order_id = f"{day:%Y%m%d}{number:03d}"
                order_key = key("order", order_id)
                store_id, domain, _, currency, to_usd = rng.choice(STORES)
                location = rng.choices(range(len(LOCATIONS)), [loc[-1] for loc in LOCATIONS])[0]
                # one order in twenty comes without a location (the IP was missing)
                location_key = None if rng.random() < 0.05 else key("location", location)
                kind, cc, country_name = LOCATIONS[location][:3]
                country = country_name if location_key and kind == "public" and cc != "-" else "Unknown"
                device = rng.choices(DEVICES, [d[5] for d in DEVICES])[0]
                customer = f"c{rng.randint(1, 60)}"
                customers.setdefault(customer, day)
                at = datetime.combine(day, datetime.min.time()) + timedelta(seconds=rng.randint(0, 86_399))
                expected.orders += 1
                priced = False
                for line_number, product in enumerate(
                    rng.sample(PRODUCTS, k=rng.choices((1, 2, 3), (6, 3, 1))[0]), start=1
                ):
                    pid, _, usd_price, _ = product
                    quantity = rng.choices((1, 2), (9, 1))[0]
                    local = round(usd_price / to_usd, 2)
                    unit_usd = round(local * to_usd, 2)
                    supported = rng.random() > 0.06  # else a price the parser could not read
                    line_usd = round(unit_usd * quantity, 2) if supported else None
                    lines.append(
                        (
                            key("line", order_id, line_number),
                            order_key,
                            key("store", store_id),
                            order_id,
                            line_number,
                            day,
                            at,
                            key("product", pid),
                            key("customer", customer),
                            location_key,
                            key("device", device[0]),
                            quantity,
                            local if supported else None,
                            currency,
                            round(local * quantity, 2) if supported else None,
                            unit_usd if supported else None,
                            line_usd,
                            f"{local:,.2f} {currency}" if supported else "1.29O,00 €",
                            supported,
                        )
                    )
                    expected.lines += 1
                    expected.units += quantity
                    expected.unsupported += not supported
                    expected.revenue += line_usd or 0.0
                    priced = priced or supported
                    expected.by_country[country] += line_usd or 0.0
                    expected.orders_by_country[country].add(order_key)
                    expected.by_store[domain] += line_usd or 0.0
                    expected.by_product[pid] += line_usd or 0.0
                    expected.orders_by_product[pid].add(order_key)
                    expected.orders_by_device[device[4]].add(order_key)
                expected.priced_orders += priced
            expected.days.add(day)
            for store_id, *_ in STORES:
                for device in DEVICES:
                    views = rng.randint(40, 400) * device[6]
                    counts = {"view_product_detail": views}
                    for collection, rate in (
                        ("select_product_option", 0.55),
                        ("add_to_cart_action", 0.2),
                        ("checkout", 0.5),
                        ("checkout_success", 0.45),
                    ):
                        views = int(views * rate * rng.uniform(0.8, 1.2))
                        counts[collection] = views
                    counts |= {c: rng.randint(10, 300) for c in OTHER_COLLECTIONS}
                    if device[4] == "bot":  # bots browse and never buy
                        counts = {
                            c: n
                            for c, n in counts.items()
                            if c in ("view_product_detail", *OTHER_COLLECTIONS)
                        }
                    for collection, n in counts.items():
                        if n == 0:
                            continue
                        events.append((day, key("store", store_id), device[4], collection, n, max(1, n // 3)))
                        expected.funnel[day, collection] += n
                        expected.events_by_device[device[4]] += n
        insert(con, "fct_sales_order_line", lines)
        insert(con, "fct_daily_events", events)
        insert(
            con,
            "dim_customer",
            [(key("customer", c), rng.random() < 0.4, "gmail.com", d) for c, d in customers.items()],
        )
    return expected


@pytest.fixture(scope="module")
def marts(tmp_path_factory) -> tuple[DuckDBWarehouse, Expected]:
    path = tmp_path_factory.mktemp("marts") / "warehouse.duckdb"
    expected = create_marts(path)
    return DuckDBWarehouse(path=str(path)), expected


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """Debian's chromium, headless, offline-minded, with a fresh profile each time."""
    binary = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if not binary:
        pytest.fail(
            "the dashboard test needs a headless browser: install the Debian package `chromium` "
            "(apt-get install chromium; `make test` installs it)"
        )
    profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=tmp_path)
    return subprocess.run(
        [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=5000",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=tmp_path,
        check=True,
    )


def rendered_dom(tmp_path: Path, page: Path) -> str:
    return chromium(tmp_path, "--dump-dom", page.as_uri()).stdout


def external_references(html: str) -> list[str]:
    """Anything the page would fetch from elsewhere: remote src/href, stylesheets, fonts."""
    found = re.findall(
        r"""(?:src|href|srcset|poster|action|data)\s*=\s*["']?\s*(?:https?:)?//[^"'\s>]*""", html, re.I
    )
    found += re.findall(r"<link\b[^>]*>|@import|@font-face|<iframe\b|<object\b|<embed\b", html, re.I)
    found += [u for u in re.findall(r"url\(\s*['\"]?([^)'\"]+)", html, re.I) if not u.startswith("data:")]
    found += re.findall(r"<script\b[^>]*\bsrc\s*=", html, re.I)
    return found


async def test_the_answers_add_up(marts):
    warehouse, expected = marts

    data = await dashboard_data(warehouse)

    totals = data.totals
    assert totals["orders"] == expected.orders and totals["lines"] == expected.lines
    assert totals["units"] == expected.units and totals["priced_orders"] == expected.priced_orders
    assert totals["revenue_usd"] == pytest.approx(expected.revenue)
    assert totals["unsupported_price_lines"] == expected.unsupported > 0
    assert totals["avg_order_value_usd"] == pytest.approx(expected.revenue / expected.priced_orders)
    assert (totals["first_day"], totals["last_day"]) == (min(expected.days), max(expected.days))
    # by day
    assert data.daily["date_day"].to_list() == sorted(expected.days)
    assert data.daily["revenue_usd"].sum() == pytest.approx(expected.revenue)
    assert data.daily["orders"].sum() == expected.orders
    # by country: every order in exactly one country, private and unlisted addresses as Unknown
    countries = {r["country"]: r for r in data.countries.iter_rows(named=True)}
    assert data.countries["revenue_usd"].sum() == pytest.approx(expected.revenue)
    assert data.countries["orders"].sum() == expected.orders
    assert data.countries["revenue_share"].sum() == pytest.approx(1.0)
    assert (
        set(countries)
        == set(expected.by_country)
        == {
            "Germany",
            "United Kingdom of Great Britain and Northern Ireland",
            "United States of America",
            "France",
            "Austria",
            "Unknown",
        }
    )
    for country, revenue in expected.by_country.items():
        assert countries[country]["revenue_usd"] == pytest.approx(revenue)
        assert countries[country]["orders"] == len(expected.orders_by_country[country])
    assert countries["Unknown"]["country_code"] is None and countries["Germany"]["country_code"] == "DE"
    assert data.countries["revenue_usd"].to_list() == sorted(data.countries["revenue_usd"], reverse=True)
    # by store
    assert {r["domain"]: r["revenue_usd"] for r in data.stores.iter_rows(named=True)} == pytest.approx(
        dict(expected.by_store)
    )
    assert data.stores["orders"].sum() == expected.orders
    # top products: by revenue, the never-crawled ones named after their id
    ranking = sorted(
        expected.by_product, key=lambda p: (-expected.by_product[p], -len(expected.orders_by_product[p]))
    )
    assert data.top_products.height == 10
    assert data.top_products["product_id"].to_list() == ranking[:10]
    assert data.top_products["rank"].to_list() == list(range(1, 11))
    names = dict(zip(data.top_products["product_id"], data.top_products["product_name"], strict=True))
    assert names.get("100286", "(unnamed product 100286)") == "(unnamed product 100286)"
    assert names["110474"] == "Glamira Ring Brisa"
    assert data.top_products["product_name"].null_count() == 0
    # device mix: orders from the order lines, events from the daily events
    devices = {r["device_type"]: r for r in data.devices.iter_rows(named=True)}
    assert data.devices["device_type"].to_list() == ["desktop", "mobile", "tablet", "bot", "unknown"]
    for device_type in devices:
        assert devices[device_type]["orders"] == len(expected.orders_by_device[device_type])
        assert devices[device_type]["events"] == expected.events_by_device[device_type]
    assert devices["bot"]["orders"] == 0 and devices["bot"]["events"] > 0
    assert data.devices["order_share"].sum() == pytest.approx(1.0)
    assert data.devices["event_share"].sum() == pytest.approx(1.0)
    # the funnel, per day and in total
    steps = [collection for _, collection, _ in FUNNEL]
    assert data.funnel["collection"].to_list() == steps
    for (column, collection, _), total in zip(FUNNEL, data.funnel["events"], strict=True):
        assert total == sum(n for (_, c), n in expected.funnel.items() if c == collection)
        for day, value in zip(data.funnel_daily["date_day"], data.funnel_daily[column], strict=True):
            assert value == expected.funnel[day, collection]
    events = data.funnel["events"].to_list()
    assert data.funnel["rate_from_previous"].to_list() == pytest.approx(
        [None, *(b / a for a, b in zip(events, events[1:], strict=False))], nan_ok=True
    )
    first = data.funnel_daily.row(0, named=True)
    assert first["option_to_cart"] == pytest.approx(first["add_to_cart"] / first["option_selections"])
    assert first["view_to_success"] == pytest.approx(first["checkout_successes"] / first["product_views"])


def test_the_queries_are_plain_sql_for_both_warehouses():
    """No DuckDB-only syntax or functions: the same text must run on BigQuery."""
    queries = dashboard_queries(DuckDBWarehouse(path="unused.duckdb"))
    assert set(queries) == {
        "headline",
        "daily",
        "countries",
        "stores",
        "top_products",
        "devices",
        "funnel_daily",
    }
    for name, sql in queries.items():
        text = sql.lower()
        for duckdb_only in (
            "::",
            "group by all",
            "order by all",
            "ilike",
            "strftime",
            "date_trunc",
            "?",
            "$",
            "list_",
            "struct_pack",
            "qualify",
        ):
            assert duckdb_only not in text, (name, duckdb_only)
        assert re.findall(r'"marts"\."(\w+)"', sql), name  # every table through table_ref


async def test_the_page_is_self_contained_and_every_chart_renders_in_chromium(marts, tmp_path):
    warehouse, expected = marts
    out = tmp_path / "reports" / "glamira-dashboard.html"

    written = await build_dashboard(warehouse, out)

    assert written == out and [p.name for p in out.parent.iterdir()] == [out.name]  # no temporary left
    html = out.read_text(encoding="utf-8")
    assert external_references(html) == []
    charts = len(re.findall(r"<img class='chart' src='data:image/png;base64,", html))
    assert charts == 7 and f"data-charts='{charts}'" in html
    assert "No orders yet" not in html
    assert f"{expected.orders:,}" in html  # the orders card
    assert "Men&#x27;s Ring Tarek &lt;Tungsten &amp; Gold&gt;" in html  # names are escaped
    assert "(unnamed product 100286)" in html

    dom, shot = await asyncio.gather(
        asyncio.to_thread(rendered_dom, tmp_path, out),
        asyncio.to_thread(
            chromium, tmp_path, "--screenshot=page.png", "--window-size=1280,3000", out.as_uri()
        ),
    )
    assert re.search(r'<body[^>]*data-charts-rendered="(\d+)"', dom).group(1) == str(charts), dom[:500]

    import matplotlib.image

    image = matplotlib.image.imread(tmp_path / "page.png")
    assert image.shape[:2] == (3000, 1280), shot.stderr[-2000:]
    rgb = image[..., :3]
    inked = (rgb.min(axis=2) < 0.8).mean()  # text, bars, lines: neither white nor the page's grey
    coloured = ((rgb.max(axis=2) - rgb.min(axis=2)) > 0.25).mean()  # the charts' blue and amber
    assert inked > 0.03, inked
    assert coloured > 0.01, coloured


async def test_empty_marts_render_a_no_orders_yet_page(tmp_path):
    path = tmp_path / "empty.duckdb"
    create_marts(path, with_rows=False)
    warehouse = DuckDBWarehouse(path=str(path))

    data = await dashboard_data(warehouse)
    assert data.totals["orders"] == 0 and data.totals["revenue_usd"] == 0
    assert data.totals["avg_order_value_usd"] is None and data.totals["first_day"] is None
    assert data.daily.height == data.countries.height == data.top_products.height == data.devices.height == 0
    assert data.funnel["events"].to_list() == [0] * 5
    out = await build_dashboard(warehouse, tmp_path / "dashboard.html")

    html = out.read_text(encoding="utf-8")
    assert "No orders yet" in html and "data-charts='0'" in html
    assert external_references(html) == []
    dom = rendered_dom(tmp_path, out)
    assert "No orders yet" in dom
    assert re.search(r'<body[^>]*data-charts-rendered="0"', dom), dom[:500]


async def test_a_rebuild_replaces_the_page(marts, tmp_path):
    warehouse, _ = marts
    out = tmp_path / "dashboard.html"
    out.write_text("stale")
    await build_dashboard(warehouse, out)
    assert out.read_text(encoding="utf-8").startswith("<!doctype html>")
    assert [p.name for p in tmp_path.iterdir()] == ["dashboard.html"]


async def test_the_same_sql_gives_the_same_answers_on_bigquery(
    marts, bigquery_url, gcp_credentials, tmp_path
):
    """The marts loaded into the BigQuery emulator: every frame as on DuckDB."""
    from polars.testing import assert_frame_equal

    from tests.support import gcp

    duck, _ = marts
    warehouse = gcp.emulator_copy_of(duck.path, tmp_path, gcp_credentials, bigquery_url)

    on_bigquery = await dashboard_data(warehouse)

    on_duckdb = await dashboard_data(duck)
    for name in (
        "headline",
        "daily",
        "countries",
        "stores",
        "top_products",
        "devices",
        "funnel_daily",
        "funnel",
    ):
        assert_frame_equal(getattr(on_bigquery, name), getattr(on_duckdb, name), check_exact=False)
