"""Glamira's unusual days on small frames shaped like the marts' answers: a store whose
tracking broke, a flood of one event type and a price change are each flagged with their
cause; an ordinary day and a day without enough history are not."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

from tasks.anomalies import ALL, ANOMALY_SCHEMA
from tasks.glamira.anomalies import (
    EVENTS_SCHEMA,
    LINES_SCHEMA,
    PRICES_CHANGED,
    RULES,
    TRACKING_DOWN,
    Check,
    by_cause,
    detect,
    detect_days,
    markdown_section,
)

DAY = date(2026, 11, 24)  # a Tuesday
WEEKS = 8
# events per day of each store's collections on a normal day
MIX = {
    "view_product_detail": 520,
    "select_product_option": 400,
    "view_listing_page": 180,
    "add_to_cart_action": 44,
    "search_box_action": 32,
    "checkout": 46,
    "checkout_success": 14,
}
STORES = {"6": 1.0, "12": 0.5}  # store -> share of the mix
ORDERS = {"6": 12, "12": 6}
PRODUCTS = [("p1", 400.0), ("p2", 1250.0), ("p3", 90.0), ("p4", 610.0)]
WOBBLE = (1.0, 0.96, 1.05, 0.98, 1.03, 0.97, 1.02, 1.01)  # week to week


def events_day(day: date, scale: dict[tuple[str, str], float] | None = None) -> list[dict]:
    wobble = WOBBLE[(DAY - day).days // 7 % len(WOBBLE)]
    return [
        {
            "date_day": day,
            "store_key": store,
            "collection": collection,
            "events": round(count * share * wobble * (scale or {}).get((store, collection), 1.0)),
        }
        for store, share in STORES.items()
        for collection, count in MIX.items()
    ]


def lines_day(day: date, orders: dict[str, int] | None = None, price_factor: dict[str, float] | None = None):
    rows = []
    for store, n in (orders or ORDERS).items():
        for k in range(n):
            product, price = PRODUCTS[(k + day.toordinal()) % len(PRODUCTS)]
            unit = price * (price_factor or {}).get(store, 1.0)
            rows.append(
                {
                    "date_day": day,
                    "store_key": store,
                    "order_key": f"{store}-{day}-{k}",
                    "product_key": product,
                    "option_alloy": "white-375",
                    "option_stone": "diamond-Brillant" if k % 2 else None,
                    "quantity": 1,
                    "unit_price_local": unit,
                    "line_total_usd": unit * 1.1,
                }
            )
    return rows


def history(weeks: int = WEEKS) -> tuple[list[dict], list[dict]]:
    """Every day of `weeks` weeks before DAY, normal."""
    events, lines = [], []
    for n in range(1, weeks * 7 + 1):
        day = DAY - timedelta(days=n)
        events += events_day(day)
        lines += lines_day(day)
    return events, lines


def frames(events: list[dict], lines: list[dict]) -> tuple[pl.DataFrame, pl.DataFrame]:
    return pl.DataFrame(events, schema=EVENTS_SCHEMA), pl.DataFrame(lines, schema=LINES_SCHEMA)


def check_today(today_events: list[dict], today_lines: list[dict], weeks: int = WEEKS):
    events, lines = history(weeks)
    found, judged = detect(*frames(events + today_events, lines + today_lines), DAY)
    return found, judged


def test_an_ordinary_day_is_quiet():
    found, judged = check_today(events_day(DAY), lines_day(DAY))

    assert judged
    assert found.height == 0, found.select("entity", "metric", "score").to_dicts()


def test_a_store_whose_tracking_broke_is_flagged_severe_with_its_cause():
    # given store 6's events and orders gone from the morning on: a fifth of the day left
    gone = {("6", c): 0.2 for c in MIX}
    found, _ = check_today(events_day(DAY, gone), lines_day(DAY, {"6": 2, "12": 6}))

    events = found.filter((pl.col("entity") == "6") & (pl.col("metric") == "events")).row(0, named=True)
    assert events["cause"] == TRACKING_DOWN and events["severity"] == "severe"
    assert events["actual"] < 0.3 * events["expected"]
    assert "Likely cause: tracking down" in events["detail"]
    assert found.filter(pl.col("entity") == "12").height == 0, "the other store is normal"
    assert list(found.schema.items()) == list(ANOMALY_SCHEMA.items())


def test_a_store_with_no_event_at_all_is_flagged_though_it_has_no_row_today():
    today = [row for row in events_day(DAY) if row["store_key"] != "6"]
    found, _ = check_today(today, lines_day(DAY, {"12": 6}))

    events = found.filter((pl.col("entity") == "6") & (pl.col("metric") == "events")).row(0, named=True)
    assert events["actual"] == 0 and events["cause"] == TRACKING_DOWN


def test_a_flood_of_one_event_type_names_the_collection():
    found, _ = check_today(events_day(DAY, {("12", "search_box_action"): 10.0}), lines_day(DAY))

    flood = found.filter(pl.col("metric") == "events:search_box_action")
    assert set(flood["entity"]) >= {"12"}
    row = flood.filter(pl.col("entity") == "12").row(0, named=True)
    assert row["cause"] == "flood of search_box_action events"
    assert row["actual"] == pytest.approx(10 * row["expected"], rel=0.1)
    others = found.filter(
        pl.col("metric").str.starts_with("events:") & (pl.col("metric") != flood["metric"][0])
    )
    assert others.height == 0, "the store's other collections are normal"


def test_a_price_change_with_normal_orders_says_prices_changed():
    found, _ = check_today(events_day(DAY), lines_day(DAY, price_factor={"6": 1.5}))

    index = found.filter((pl.col("entity") == "6") & (pl.col("metric") == "price_index")).row(0, named=True)
    assert index["actual"] == pytest.approx(1.5) and index["cause"] == PRICES_CHANGED
    assert "50% above" in index["detail"]
    assert found.filter(pl.col("metric") == "orders").height == 0, "the orders were normal"
    assert found.filter(pl.col("entity") == "12").height == 0


def test_short_history_gives_no_verdict_and_the_note_says_why():
    # given two weeks of history: two same weekdays, three are needed
    events, lines = history(weeks=2)
    gone = {("6", c): 0.0 for c in MIX}
    ev, ln = frames(events + events_day(DAY, gone), lines)

    found, unjudged = detect_days(ev, ln, [DAY])

    assert found.height == 0 and unjudged == [DAY]
    note = Check([DAY], found, history_days=15, unjudged=unjudged).note
    assert note == (
        f"{DAY}: not enough history for a baseline (15 days; {RULES.min_weeks} weeks of the same weekday needed)."
    )


def test_the_artifact_section_and_the_alert_entries_lead_with_the_severe():
    gone = {("6", c): 0.1 for c in MIX}
    found, _ = check_today(events_day(DAY, gone), lines_day(DAY, {"6": 1, "12": 6}))

    entries = by_cause(found)
    section = markdown_section(Check([DAY], found, history_days=57))

    assert entries[0]["severity"] == "severe"
    assert entries[0]["headline"] == f"{DAY} store 6: tracking down"
    assert "| 6 | events |" in section and "tracking down" in section
    assert all(e["entity"] != ALL or e["cause"] for e in entries if e["severity"] == "severe")
