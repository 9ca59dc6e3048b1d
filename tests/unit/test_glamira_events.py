"""Normalising Glamira events: every drifted shape of the real data ends in one schema,
prices in every locale parse by rule, and what cannot be an event is rejected with its
reason and raw document."""

from __future__ import annotations

import json
from datetime import date

import bson
import polars as pl
import pytest
from bson import Decimal128, Int64, ObjectId

from tasks.glamira.events import EVENTS_SCHEMA, REJECTS_SCHEMA, day_bounds, normalise_batch
from tasks.glamira.prices import MAX_PRICE, parse_price, unsupported

DAY = date(2026, 11, 20)
START, END = day_bounds(DAY)


def event(**fields) -> dict:
    return {"_id": ObjectId(), "time_stamp": START + 3600, "collection": "view_product_detail", **fields}


def normalised(*docs: dict):
    return normalise_batch([bson.encode(d) for d in docs], DAY)


def only(frame: pl.DataFrame) -> dict:
    assert frame.height == 1, frame
    return frame.row(0, named=True)


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("1,725.00", 1725.0),
        ("4.990,00", 4990.0),
        ("754,00", 754.0),
        ("1'321.00", 1321.0),
        ("61٫00", 61.0),
        ("85,294", 85294.0),
        ("€ 1.725,00", 1725.0),
        ("£1,725.00", 1725.0),
        ("CHF 1'321.00", 1321.0),
        ("¥85,294", 85294.0),
        ("1 725,00 €", 1725.0),
        ("1\u00a0725,00", 1725.0),
        ("١٬٧٢٥٫٠٠", 1725.0),
        ("1,725.00 USD", 1725.0),
        ("د.إ 61٫00", 61.0),
        ("12.50", 12.5),
        ("99,9", 99.9),
        ("85294", 85294.0),
    ],
)
def test_every_locale_price_format_parses(text, amount):
    frame = pl.DataFrame({"p": [text]})

    assert frame.select(parse_price(pl.col("p"))).item() == pytest.approx(amount)


@pytest.mark.parametrize("text", ["ab 99", "from 12.00", "1.2.3,4", "1,725.00 - 2,000.00", "12 34", "12.3.4"])
def test_unsupported_prices_are_null_and_flagged_never_guessed(text):
    frame = pl.DataFrame({"p": [text]}).select(amount=parse_price(pl.col("p")), bad=unsupported(pl.col("p")))

    assert frame.row(0) == (None, True)


@pytest.mark.parametrize(
    "text",
    ["9" * 400, "1" + ",000" * 130, "1,000,000,000,000.01", "1000000000001", "1e400", "inf", "NaN", "INF"],
)
def test_prices_above_the_bound_or_not_finite_are_unsupported(text):
    frame = pl.DataFrame({"p": [text]}).select(amount=parse_price(pl.col("p")), bad=unsupported(pl.col("p")))

    assert frame.row(0) == (None, True)


def test_the_bound_itself_and_large_dong_and_rupiah_prices_parse():
    frame = pl.DataFrame(
        {"p": ["1,000,000,000,000", "999,999,999,999.99", "25.990.000.000 ₫", "Rp 16.600.000.000"]}
    )

    amounts = frame.select(parse_price(pl.col("p"))).to_series().to_list()

    assert amounts == [MAX_PRICE, 999_999_999_999.99, 25_990_000_000.0, 16_600_000_000.0]


def test_a_cart_line_price_above_the_bound_is_unsupported_like_an_event_price():
    doc = event(price="9" * 400, cart_products=[{"product_id": 1, "price": "1" + ",000" * 5, "amount": 1}])

    row = only(normalised(doc).events)

    assert (row["price_amount"], row["cart_products"][0]["price_amount"]) == (None, None)
    assert "unsupported price" in row["issues"] and "unsupported cart line price" in row["issues"]


def test_missing_or_empty_price_is_not_an_unsupported_format():
    frame = pl.DataFrame({"p": [None, "", "  "]}, schema={"p": pl.String})

    assert frame.select(unsupported(pl.col("p"))).to_series().to_list() == [False, False, False]


def test_option_list_of_objects_is_kept_as_structs():
    row = only(
        normalised(event(option=[{"alloy": "white-375", "diamond": "sapphire"}, {"stone": "ruby"}])).events
    )

    assert [o["alloy"] for o in row["option"]] == ["white-375", None]
    assert row["option"][1]["stone"] == "ruby"
    assert row["option_raw"] is None and row["issues"] is None


def test_option_as_one_object_becomes_a_list_of_one():
    row = only(normalised(event(option={"option_label": "alloy", "value_label": "Gold 585"})).events)

    assert [(o["option_label"], o["value_label"]) for o in row["option"]] == [("alloy", "Gold 585")]
    assert json.loads(row["option_raw"]) == {"option_label": "alloy", "value_label": "Gold 585"}
    assert row["issues"] == "option was an object"


@pytest.mark.parametrize(
    ("value", "items", "issue"),
    [
        ("", 0, None),
        ("alloy=white-375", 0, "option was a string"),
        ('[{"alloy": "red-585"}]', 1, "option was JSON text"),
    ],
)
def test_option_as_a_string_keeps_the_text(value, items, issue):
    row = only(normalised(event(option=value)).events)

    assert len(row["option"]) == items
    assert row["option_raw"] == value and row["issues"] == issue


def test_missing_option_is_an_empty_list():
    row = only(normalised(event()).events)

    assert row["option"] == [] and row["option_raw"] is None


def test_numbers_and_booleans_in_text_fields_keep_their_value_as_text():
    row = only(
        normalised(
            event(
                store_id=6,
                product_id=Int64(110474),
                utm_source=False,
                price=Decimal128("1725.00"),
                recommendation_product_position="3",
                recommendation_clicked_position=2.0,
            )
        ).events
    )

    assert (row["store_id"], row["product_id"], row["utm_source"], row["price"]) == (
        "6",
        "110474",
        "false",
        "1725.00",
    )
    assert (row["recommendation_product_position"], row["recommendation_clicked_position"]) == (3, 2)
    assert row["price_amount"] == 1725.0


def test_cart_lines_are_structs_with_raw_and_parsed_prices_and_their_options():
    cart = [
        {
            "product_id": 110474,
            "price": "4.990,00",
            "currency": "EUR",
            "amount": "2",
            "option": [{"option_label": "alloy", "option_id": 5, "value_label": "Gold", "value_id": 77}],
        },
        {"product_id": "99", "amount": 1},
        "not a line",
    ]
    row = only(normalised(event(collection="checkout_success", order_id=98765, cart_products=cart)).events)

    first, second = row["cart_products"]
    assert (first["product_id"], first["price"], first["price_amount"], first["amount"]) == (
        "110474",
        "4.990,00",
        4990.0,
        2,
    )
    assert first["option"] == [
        {"option_label": "alloy", "option_id": "5", "value_label": "Gold", "value_id": "77"}
    ]
    assert (second["price"], second["price_amount"], second["option"]) == (None, None, [])
    assert row["order_id"] == "98765" and "cart line that is not an object" in row["issues"]


def test_unsupported_prices_are_named_in_issues():
    row = only(normalised(event(price="ab 99", cart_products=[{"product_id": 1, "price": "1.2.3,4"}])).events)

    assert row["price_amount"] is None
    assert "unsupported price 'ab 99'" in row["issues"] and "unsupported cart line price" in row["issues"]


def test_documents_that_cannot_be_events_of_the_day_are_rejected_with_raw_and_reason():
    good = event()
    no_collection = {"_id": ObjectId(), "time_stamp": START + 5}
    other_day = event(time_stamp=END + 5)
    fractional = event(time_stamp=START + 0.5)

    result = normalised(good, no_collection, other_day, fractional)

    assert result.events["event_id"].to_list() == [str(good["_id"])]
    reasons = dict(zip(result.rejects["record_id"], result.rejects["reason"], strict=True))
    assert reasons[str(no_collection["_id"])] == "missing collection"
    assert reasons[str(other_day["_id"])].startswith("time_stamp not a second of 2026-11-20")
    assert str(fractional["_id"]) in reasons
    raw = json.loads(result.rejects.filter(pl.col("record_id") == str(no_collection["_id"]))["raw"][0])
    assert raw["time_stamp"] == START + 5
    assert result.raw_documents == result.events.height + result.rejects.height


def test_a_corrupt_document_is_rejected_not_lost():
    result = normalise_batch([bson.encode(event()), b"\x05\x00\x00\x00\x01"], DAY)

    assert (result.events.height, result.rejects.height) == (1, 1)
    assert result.rejects["reason"][0].startswith("not a valid BSON document")


def test_every_batch_has_the_written_down_schema_even_when_empty():
    for batch in (normalised(), normalised(event()), normalised({"_id": ObjectId(), "time_stamp": START})):
        assert dict(batch.events.schema) == EVENTS_SCHEMA
        assert dict(batch.rejects.schema) == REJECTS_SCHEMA


def test_event_time_and_day_come_from_time_stamp():
    row = only(normalised(event(time_stamp=START + 86_399)).events)

    assert row["day"] == DAY and row["event_at"].isoformat() == "2026-11-20T23:59:59+00:00"
