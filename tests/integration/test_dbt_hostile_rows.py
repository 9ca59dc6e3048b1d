"""No single raw row can fail the marts.

Given one normal day of both businesses, made as the flows make it (the sample
generators, the pipeline's own transforms, parquet files, `DuckDBWarehouse.replace_day`)
and built with `dbt build` on DuckDB, the same day is loaded again with hostile raw rows
appended, and the next day with copies of that day's keys. Then `dbt build
--full-refresh` must pass, exactly the warn-severity tests meant for those rows must warn,
by exactly their count, the marts must exclude or flag exactly those rows, and the good
rows' figures must be the baseline's.

The hostile rows go through the pipeline's own code where it can make them: Glamira
documents through `normalise_batch`, Bahela documents through `transform_day`. Rows that
today's pipeline rejects but an older one wrote (the raw tables keep every day ever
loaded) are written into their tables as it wrote them: an event whose `price_amount` the
parser before the price bound made infinity, Bahela amounts and image sizes of 2^62
(the pipeline now rejects them), with the session totals and the daily summary then
recomputed by the pipeline's own functions (whose Int64 sums wrap).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import bson
import duckdb
import polars as pl
import pytest
from bson import ObjectId

from blocks.warehouse import DuckDBWarehouse
from demo import bahela, glamira
from demo.ip2location_bin import build_demo_bin
from pipelines.settings import JAKARTA
from tasks.bahela.images import IMAGE_TOTALS_SCHEMA, IMAGES_SCHEMA, RAW_IMAGES_SCHEMA, attach_image_totals
from tasks.bahela.sessions import sessions_frame
from tasks.bahela.summary import daily_summary
from tasks.bahela.transform import transform_day
from tasks.glamira.events import day_bounds, normalise_batch
from tasks.glamira.geo import BinDatabase, geolocate
from tasks.glamira.ingest import PRODUCTS_SCHEMA
from tasks.glamira.user_agents import parse_user_agents
from tests.integration.test_dbt_project import Dbt, RawDay, crawl_row, land, load

pytestmark = pytest.mark.integration

DAY = date(2026, 11, 20)
NEXT = DAY + timedelta(days=1)
EVENTS = 10_000
SEED = 11
SITE = bahela.BOOTHS[0].site  # every hostile Bahela row is this booth's
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"


# -- the hostile rows ------------------------------------------------------------------------


def hostile_id(n: int) -> ObjectId:
    return ObjectId(f"{'f' * 16}{n:08x}")


def line(price: str = "1.725,00", amount: int | None = 1, **fields) -> dict:
    cart_line = {"product_id": 109636, "price": price, "currency": "EUR", "option": [], **fields}
    if amount is not None:  # None: the key is missing, as a broken cart sends it
        cart_line["amount"] = amount
    return cart_line


def event(n: int, collection: str = "checkout_success", store_id: str | None = "6", **fields) -> dict:
    doc = {
        "_id": hostile_id(n),
        "time_stamp": day_bounds(DAY)[0] + 7_200 + n,
        "collection": collection,
        "ip": f"81.2.69.{n}",
        "user_agent": CHROME,
        "device_id": f"hostile-device-{n}",
        "user_id_db": f"hostile-{n}",
        "currency": "EUR",
        **fields,
    }
    if store_id is not None:
        doc["store_id"] = store_id
    if collection == "checkout_success":
        doc.setdefault("order_id", f"HOSTILE-{n}")
    return doc


# category -> the document; every one a checkout_success of store 6 (EUR) unless it says
GLAMIRA_HOSTILE: dict[str, dict] = {
    "price of 400 digits": event(1, price="9" * 400, cart_products=[line(price="9" * 400)]),
    "price just over the bound": event(2, cart_products=[line(price="1.000.000.000.000,01")]),
    "price of 130 thousands groups": event(3, cart_products=[line(price="1" + ",000" * 130)]),
    "checkout without a store id": event(4, store_id=None, cart_products=[line()]),
    "store the seed does not know": event(5, store_id="999", cart_products=[line()]),
    "negative quantity": event(6, cart_products=[line(amount=-3)]),
    "quantity beyond any cart (Int32 max)": event(7, cart_products=[line(amount=2**31 - 1)]),
    "quantity missing": event(8, cart_products=[line(amount=None)]),
    "option list holding a null": event(
        9, cart_products=[line(option=[None, {"option_label": "alloy", "value_label": "750 Gold"}])]
    ),
    "product id with odd characters": event(10, cart_products=[line(product_id="  12/34 é ")]),
    "cart currency the rates do not know": event(11, cart_products=[line(currency="XXX")]),
    "collection never seen": event(12, collection="refund_requested"),
    "address and user agent that are neither": event(
        13, collection="view_product_detail", ip="not-an-ip", user_agent=""
    ),
}
FLAGGED_LINES = {  # category -> what fct_sales_order_line says of its line
    "price of 400 digits": "unsupported price",
    "price just over the bound": "unsupported price",
    "price of 130 thousands groups": "unsupported price",
    "checkout without a store id": "unknown store",
    "store the seed does not know": "unknown store",
    "negative quantity": "unsupported quantity",
    "quantity beyond any cart (Int32 max)": "unsupported quantity",
    "quantity missing": "unsupported quantity",
}
PRICED_LINES = [
    "option list holding a null",
    "product id with odd characters",
    "cart currency the rates do not know",
]
NO_COLLECTION = {"_id": hostile_id(99), "time_stamp": day_bounds(DAY)[0] + 60, "store_id": "6"}


def copied_to_next_day(documents: list[bytes]) -> dict:
    """The day's first checkout again, as its document looks once its time_stamp moved to
    the next day and it names another order: the same event id on two days."""
    first = next(d for d in map(bson.decode, documents) if d["collection"] == "checkout_success")
    return {**first, "time_stamp": day_bounds(NEXT)[0] + 3_600, "order_id": "HOSTILE-COPY"}


def at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=JAKARTA).astimezone(UTC)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def paid_session(code: str, start: datetime, amount: int) -> dict:
    """A paid, finished session document of the booth app."""
    return {
        "_id": ObjectId.from_datetime(start - timedelta(minutes=3)),
        "id": code,
        "page": "Result",
        "progress": {
            "appStartTime": iso(start - timedelta(minutes=3)),
            "startTime": iso(start),
            "endTime": iso(start + timedelta(minutes=6)),
        },
        "options": {"lang": "id", "filterFn": "none", "copies": 2, "useRetryMode": False, "retryCount": 0},
        "payment": {
            "paid": True,
            "amount": amount,
            "discount": 0,
            "orderId": f"order-{code}",
            "expiryTime": iso(start + timedelta(minutes=12)),
        },
        "result": {"capturedImageUrls": [], "uploadedImageUrls": []},
        "__v": 0,
    }


def paid_session_with_unreadable_start(code: str, start: datetime) -> dict:
    broken = paid_session(code, start, 60_000)
    broken["progress"]["startTime"] = "Invalid Date"
    return broken


BAHELA_HOSTILE_DOCUMENTS = {  # category -> a session document of DAY, through transform_day
    "paid session whose start is unreadable": paid_session_with_unreadable_start("hst001", at(DAY, 12)),
    "paid session of 0 rupiah": paid_session("hst002", at(DAY, 13), 0),
    "images whose sizes overflow an Int64 (2 x 2^62 bytes)": paid_session("hst005", at(DAY, 16), 35_000),
}


def older_pipeline_sessions(kept: pl.DataFrame) -> pl.DataFrame:
    """ "Amounts whose sum overflows an Int64 (2 x 2^62 rupiah)": two paid sessions as the
    pipeline wrote them before it bounded amounts."""
    like = kept.filter(pl.col("session_code") == "hst002")
    return pl.concat(
        like.with_columns(
            session_code=pl.lit(code),
            mongo_id=pl.lit(str(ObjectId.from_datetime(at(DAY, hour)))),
            order_id=pl.lit(f"order-{code}"),
            amount_idr=pl.lit(2**62, dtype=pl.Int64),
        )
        for code, hour in (("hst003", 14), ("hst004", 15))
    )


def older_pipeline_images(like: pl.DataFrame) -> pl.DataFrame:
    """Two photos of session hst005 whose bytes and pixels are 2^62, as the pipeline
    wrote them before it bounded them: together they overflow an Int64."""
    row = like.head(1)
    return pl.concat(
        row.with_columns(
            site=pl.lit(SITE),
            session_code=pl.lit("hst005"),
            image_number=pl.lit(n, dtype=pl.Int32),
            asset_id=pl.lit(f"{'e' * 28}{n:04d}"),
            public_id=pl.lit(f"hst005-{n}"),
            filename=pl.lit(f"hst005-{n}"),
            bytes=pl.lit(2**62, dtype=pl.Int64),
            pixels=pl.lit(2**62, dtype=pl.Int64),
        )
        for n in (1, 2)
    ).cast(IMAGES_SCHEMA)


# -- the raw days, made as the flows make them ----------------------------------------------


@dataclass(frozen=True)
class Warehouse:
    baseline: list[RawDay]
    hostile: list[RawDay]
    glamira_hostile_events: pl.DataFrame  # the hostile rows of raw_glamira.events, both days
    rejected: pl.DataFrame  # what normalise_batch refused of the hostile documents


def glamira_day(day: date, documents: list[bytes], database: BinDatabase, located: set[str]) -> list[RawDay]:
    batch = normalise_batch(documents, day)
    events = batch.events
    ips = events["ip"].drop_nulls().unique().sort()
    new = ips.filter(~ips.is_in(list(located)))
    located.update(new.to_list())
    return [
        RawDay("raw_glamira", "events", day, events),
        RawDay(
            "raw_glamira",
            "locations",
            day,
            geolocate(new, database).with_columns(first_seen=pl.lit(day)),
            "first_seen",
        ),
        RawDay("raw_glamira", "user_agents", day, parse_user_agents(events["user_agent"], day), "first_seen"),
    ]


def with_infinite_price_amount(events: pl.DataFrame, event_id: str) -> pl.DataFrame:
    """What the parser before the price bound wrote for a price of 400 digits."""
    return events.with_columns(
        price_amount=pl.when(pl.col("event_id") == event_id).then(float("inf")).otherwise("price_amount")
    )


def bahela_day(day: date, documents: list[tuple[str, dict]], images: list[dict], older=False) -> list[RawDay]:
    """The day as `transform_day` makes it; `older`: with the rows an older pipeline
    wrote, the image totals and the summary recomputed by the pipeline's functions."""
    sites = [b.site for b in bahela.BOOTHS]
    raw_images = pl.DataFrame({"raw": [json.dumps(r) for r in images]}, schema=RAW_IMAGES_SCHEMA)
    tables = transform_day(sessions_frame(documents), raw_images, sites, day)
    sessions, kept_images, summary = tables.sessions, tables.images, tables.summary
    if older:
        kept_images = pl.concat([kept_images, older_pipeline_images(kept_images)])
        sessions = attach_image_totals(
            pl.concat([sessions, older_pipeline_sessions(sessions)]).drop(list(IMAGE_TOTALS_SCHEMA)),
            kept_images,
        )
        summary = daily_summary(sessions, sites, day)
    return [
        RawDay("raw_bahela", "sessions", day, sessions),
        RawDay("raw_bahela", "images", day, kept_images),
        RawDay("raw_bahela", "daily_summary", day, summary),
    ]


def is_plain_paid_session(doc: dict) -> bool:
    """A sample session the pipeline keeps as it is (the sample injects faults)."""
    return (
        doc.get("page") == "Result"
        and isinstance(doc.get("id"), str)
        and isinstance(doc["payment"].get("amount"), int)
        and doc["payment"].get("paid") is True
        and doc["progress"].get("startTime", "Invalid Date") < doc["progress"].get("endTime", "")
    )


def raw_days(work: Path) -> Warehouse:
    database = BinDatabase.open(str(build_demo_bin(work / "demo-ip2location.bin")))
    documents = list(glamira.iter_encoded_events(DAY, EVENTS, SEED, glamira.DEMO_PRODUCTS))
    hostile_documents = [bson.encode(d) for d in [*GLAMIRA_HOSTILE.values(), NO_COLLECTION]]
    copy = copied_to_next_day(documents)
    sample = bahela.generate(DAY, DAY, seed=SEED)
    sessions = [(db.removeprefix(bahela.SITE_DATABASE_PREFIX), doc) for db, doc in sample.documents()]
    twin = next(d for site, d in sessions if site == SITE and is_plain_paid_session(d))
    moved = paid_session(twin["id"], at(NEXT, 11), 35_000)

    normal = glamira_day(DAY, documents, database, set())
    seen = set(normal[0].frame["product_id"].drop_nulls())
    crawls = [
        crawl_row(DAY, p, p.crawl_name, p.status) for p in glamira.products(glamira.DEMO_PRODUCTS, SEED)
    ]
    products = RawDay(
        "raw_glamira",
        "products",
        DAY,
        pl.DataFrame([c for c in crawls if c["product_id"] in seen], schema=PRODUCTS_SCHEMA),
    )
    baseline = [*normal, products, *bahela_day(DAY, sessions, sample.images)]

    located: set[str] = set()
    day_tables = glamira_day(DAY, documents + hostile_documents, database, located)
    old_parser = str(hostile_id(1))
    day_tables[0] = RawDay(
        "raw_glamira", "events", DAY, with_infinite_price_amount(day_tables[0].frame, old_parser)
    )
    next_tables = glamira_day(NEXT, [bson.encode(copy)], database, located)
    hostile_sessions = [(SITE, d) for d in BAHELA_HOSTILE_DOCUMENTS.values()]
    hostile = [
        *day_tables,
        *next_tables,
        products,
        *bahela_day(DAY, sessions + hostile_sessions, sample.images, older=True),
        *bahela_day(NEXT, [(SITE, moved)], []),
    ]
    hostile_ids = [str(d["_id"]) for d in GLAMIRA_HOSTILE.values()]
    hostile_events = pl.concat(
        [
            day_tables[0].frame.filter(pl.col("event_id").is_in(hostile_ids)),
            next_tables[0].frame,
        ]
    )
    rejected = normalise_batch(hostile_documents, DAY).rejects
    return Warehouse(baseline, hostile, hostile_events, rejected)


# -- the two builds -------------------------------------------------------------------------


@dataclass(frozen=True)
class Build:
    result: object
    tests: dict[str, tuple[str, int]]  # test name -> (status, failing rows)
    marts: dict[str, pl.DataFrame]


MARTS = {
    "fct_sales_order_line": "order_line_key",
    "fct_daily_events": "daily_events_key",
    "dim_customer": "customer_key",
    "dim_product": "product_key",
    "fct_sessions": "session_key",
    "fct_daily_metrics": "daily_metrics_key",
}


def build(dbt: Dbt, path: Path, *args: str) -> Build:
    result = dbt("build", *args)
    tests = {
        r.node.name: (str(r.status), int(r.failures or 0))
        for r in result.result.results
        if r.node.unique_id.startswith("test.")
    }
    with duckdb.connect(str(path)) as con:
        marts = {
            name: pl.from_arrow(con.sql(f"select * from marts.{name} order by {key}").to_arrow_table())
            for name, key in MARTS.items()
        }
        marts["int_price_parse_outcomes"] = pl.from_arrow(
            con.sql("select * from intermediate.int_price_parse_outcomes").to_arrow_table()
        )
    return Build(result, tests, marts)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Iterator[tuple[Warehouse, Build, Build]]:
    """The baseline built, then the hostile rows loaded and everything built again."""
    work = tmp_path_factory.mktemp("dbt-hostile")
    days = raw_days(work)
    path = work / "warehouse.duckdb"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DO_NOT_TRACK", "1")
        patch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        patch.setenv("PIPELINES_WAREHOUSE", str(path))
        patch.delenv("DBT_TARGET", raising=False)
        dbt = Dbt(work, "hostile")
        asyncio.run(load(DuckDBWarehouse(path=str(path)), land(days.baseline, work / "lake-baseline")))
        baseline = build(dbt, path)
        asyncio.run(load(DuckDBWarehouse(path=str(path)), land(days.hostile, work / "lake-hostile")))
        hostile = build(dbt, path, "--full-refresh")
        yield days, baseline, hostile


def keyed(frame: pl.DataFrame, key: str, keys: pl.Series) -> pl.DataFrame:
    return frame.filter(pl.col(key).is_in(keys.implode())).sort(key)


# -- the tests ------------------------------------------------------------------------------


def test_build_passes_with_hostile_rows_and_only_the_meant_tests_warn(warehouse):
    _, baseline, hostile = warehouse
    expected = {  # test (name prefix) -> how many more failing rows the hostile rows make
        "unique_stg_glamira__events_event_id": 1,  # event id on a second day
        "not_null_stg_glamira__events_store_id": 1,  # checkout without a store id
        "relationships_stg_glamira__events_store_id": 1,  # store the seed does not know
        "accepted_values_stg_glamira__events_collection": 1,  # collection never seen
        "not_null_fct_sales_order_line_store_key": 1,
        "relationships_fct_sales_order_line_store_key": 1,
        "not_null_fct_sales_order_line_currency": 2,  # both unknown stores
        "expression_is_true_fct_sales_order_line_quantity_is_supported": 3,  # negative, Int32 max, missing
        "relationships_fct_daily_events_store_key": 1,
        "relationships_dim_customer_last_store_key": 1,
        "not_null_fct_sessions_duration_seconds": 1,  # paid session whose start is unreadable
        "expression_is_true_fct_sessions_amount_idr__amount_idr_0": 1,  # paid session of 0 rupiah
        "expression_is_true_fct_sessions_amount_idr__amount_idr_pipelines_max": 2,  # 2 x 2^62 rupiah
        "unique_combination_of_columns_fct_sessions_site__session_code": 1,  # session code on a second day
        "expression_is_true_stg_bahela__images_size_is_supported": 2,  # 2 x 2^62 bytes
    }

    grown = {name: rows - baseline.tests[name][1] for name, (_, rows) in hostile.tests.items()}
    grown = {name: rows for name, rows in grown.items() if rows}

    assert baseline.result.success and hostile.result.success
    assert hostile.tests.keys() == baseline.tests.keys()
    assert {status for status, _ in hostile.tests.values()} <= {"pass", "warn"}
    matched = {prefix: [name for name in grown if name.startswith(prefix)] for prefix in expected}
    assert all(len(names) == 1 for names in matched.values()), matched
    assert {names[0]: grown[names[0]] for names in matched.values()} == grown
    assert {prefix: grown[names[0]] for prefix, names in matched.items()} == expected
    assert {hostile.tests[name][0] for name in grown} == {"warn"}


def test_hostile_order_lines_are_flagged_and_the_good_lines_unchanged(warehouse):
    days, baseline, hostile = warehouse
    before, after = baseline.marts["fct_sales_order_line"], hostile.marts["fct_sales_order_line"]
    order_ids = {doc["order_id"]: category for category, doc in GLAMIRA_HOSTILE.items() if "order_id" in doc}
    lines = {
        order_ids[row["order_id"]]: row
        for row in after.filter(pl.col("order_id").is_in(list(order_ids))).to_dicts()
    }

    def flags(row: dict) -> set[str]:
        found = set()
        if row["price_status"] == "unsupported":
            found.add("unsupported price")
        if row["currency"] is None:
            found.add("unknown store")
        if not row["quantity_is_supported"]:
            found.add("unsupported quantity")
        return found

    # every hostile checkout is one line, flagged for exactly its own fault
    assert set(lines) == set(FLAGGED_LINES) | set(PRICED_LINES)
    assert {category: flags(row) for category, row in lines.items()} == {
        category: ({FLAGGED_LINES[category]} if category in FLAGGED_LINES else set()) for category in lines
    }
    assert all(lines[c]["line_total_usd"] is None for c in FLAGGED_LINES)
    assert lines["checkout without a store id"]["store_key"] is None
    assert lines["store the seed does not know"]["store_key"] == "999"
    assert lines["negative quantity"]["unit_price_local"] == 1725.0
    assert lines["negative quantity"]["line_total_local"] is None
    # the harmless ones are priced like any line of store 6
    assert all(lines[c]["line_total_usd"] == pytest.approx(1725.0 * 1.156) for c in PRICED_LINES)
    assert (
        lines["option list holding a null"]["option_count"],
        lines["option list holding a null"]["option_alloy"],
    ) == (
        1,
        "750 Gold",
    )
    assert lines["product id with odd characters"]["product_key"] == "12/34 é"
    assert "12/34 é" in hostile.marts["dim_product"]["product_key"].to_list()
    assert lines["cart currency the rates do not know"]["currency"] == "EUR"
    # the event id copied to the next day with another order id is no order
    assert after.filter(pl.col("order_id") == "HOSTILE-COPY").height == 0
    assert NEXT not in after["date_day"].to_list()
    # the good lines: every baseline line, with every figure as it was, and nothing else
    assert after.height == before.height + len(lines)
    assert keyed(after, "order_line_key", before["order_line_key"]).equals(before)
    for mart, key in (("dim_customer", "customer_key"), ("dim_product", "product_key")):
        assert keyed(hostile.marts[mart], key, baseline.marts[mart][key]).equals(baseline.marts[mart]), mart


def test_prices_beyond_the_bound_are_counted_as_unsupported(warehouse):
    _, baseline, hostile = warehouse

    def counted(build: Build) -> dict[tuple[str, str], int]:
        outcomes = build.marts["int_price_parse_outcomes"].filter(pl.col("date_day") == DAY)
        return {(r["price_source"], r["price_status"]): r["prices"] for r in outcomes.to_dicts()}

    before, after = counted(baseline), counted(hostile)

    # three cart lines (400 digits, just over the bound, 130 thousands groups) and the
    # event price of 400 digits, written as infinity by the parser before the bound
    assert after[("order_line", "unsupported")] - before.get(("order_line", "unsupported"), 0) == 3
    assert after[("event", "unsupported")] - before[("event", "unsupported")] == 1
    assert after[("event", "parsed")] == before[("event", "parsed")]


def test_daily_events_grow_by_exactly_the_hostile_events(warehouse):
    days, baseline, hostile = warehouse
    group = ["date_day", "store_key", "device_type", "collection"]
    types = parse_user_agents(days.glamira_hostile_events["user_agent"], DAY).select(
        "user_agent", "device_type"
    )
    hostile_groups = (
        days.glamira_hostile_events.join(types, on="user_agent", how="left")
        .select(
            date_day="day",
            store_key="store_id",
            device_type=pl.col("device_type").fill_null("unknown"),
            collection="collection",
            device_id="device_id",
        )
        .group_by(group)
        .agg(events=pl.len(), devices=pl.col("device_id").n_unique())
    )
    columns = [*group, "events", "devices"]

    expected = (
        pl.concat(
            [baseline.marts["fct_daily_events"].select(columns), hostile_groups.select(columns)],
            how="vertical_relaxed",
        )
        .group_by(group)
        .agg(pl.col("events", "devices").sum())
    )

    assert hostile_groups["events"].sum() == len(GLAMIRA_HOSTILE) + 1  # and the next day's copy
    assert (
        hostile.marts["fct_daily_events"]
        .select(columns)
        .sort(group, nulls_last=True)
        .equals(expected.select(columns).sort(group, nulls_last=True))
    )


def test_a_document_without_a_collection_never_reaches_the_raw_table(warehouse):
    days, _, _ = warehouse

    assert days.rejected.select("record_id", "reason").rows() == [
        (str(NO_COLLECTION["_id"]), "missing collection")
    ]
    assert str(NO_COLLECTION["_id"]) not in days.hostile[0].frame["event_id"].to_list()


def test_hostile_sessions_are_kept_and_flagged_and_the_good_ones_unchanged(warehouse):
    _, baseline, hostile = warehouse
    before, after = baseline.marts["fct_sessions"], hostile.marts["fct_sessions"]
    hostile_rows = after.filter(~pl.col("session_key").is_in(before["session_key"].implode()))
    by_code = {(r["session_code"], r["date_day"]): r for r in hostile_rows.to_dicts()}
    moved = next(code for code, day in by_code if day == NEXT)
    metrics_before, metrics_after = baseline.marts["fct_daily_metrics"], hostile.marts["fct_daily_metrics"]
    other_sites = pl.col("site") != SITE

    assert set(by_code) == {(c, DAY) for c in ("hst001", "hst002", "hst003", "hst004", "hst005")} | {
        (moved, NEXT)
    }
    unreadable = by_code[("hst001", DAY)]
    assert (unreadable["started_at"], unreadable["duration_seconds"]) == (None, None)
    assert "progress.startTime" in unreadable["issues"]
    assert by_code[("hst002", DAY)]["amount_idr"] == 0
    assert [by_code[(c, DAY)]["amount_idr"] for c in ("hst003", "hst004")] == [2**62, 2**62]
    # the photos of unsupported size are counted, their sizes left out of the totals
    huge = by_code[("hst005", DAY)]
    assert (huge["image_count"], huge["image_bytes"], huge["image_pixels"]) == (2, 0, 0)
    # the code on the next day is its own row; the day's session with that code is as it was
    assert after.filter(pl.col("session_code") == moved).height == 2
    assert keyed(after, "session_key", before["session_key"]).equals(before)
    # the day's summary of the other booths is as it was; the hostile booth counts its five
    assert metrics_after.filter(other_sites, pl.col("date_day") == DAY).equals(
        metrics_before.filter(other_sites)
    )
    hostile_day = metrics_after.filter(~other_sites, pl.col("date_day") == DAY)["transactions"].item()
    assert hostile_day == metrics_before.filter(~other_sites)["transactions"].item() + 5
    assert metrics_after.filter(pl.col("date_day") == NEXT)["transactions"].sum() == 1
