"""Glamira events: batches of raw BSON documents -> one written-down Polars schema.

The real data drifts: `option` is a list of objects, one object, or a string; numbers
arrive as strings and strings as numbers; `cart_products` lines lack fields; prices use
every locale. Every batch is normalised to `EVENTS_SCHEMA`, whatever it held:

- scalar fields are text (numbers and booleans in their JSON spelling), a few are typed
  (`time_stamp`, `event_at`, `day`, recommendation positions);
- `option` is always a list of structs; when the source was not a list of objects the
  original is kept as text in `option_raw`;
- `cart_products` is always a list of structs, each line with its raw `price` and the
  parsed `price_amount`;
- `price` stays as written beside `price_amount` (null when the format is unsupported,
  see `tasks.glamira.prices`);
- `issues` names what was drifted but usable ("option was a string", "unsupported price").

A document is rejected only when it cannot be an event of the day: no `collection`, or a
`time_stamp` that is not a whole number of seconds inside the day. Rejects keep the raw
document (relaxed Extended JSON) and the reason.

Documents of the usual shapes are read into columns straight from their bytes
(`tasks.glamira.event_columns`); the others are decoded by pymongo, in one call for the
lot, and picked apart by `_stage`. Everything after staging runs as Polars expressions.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import numpy as np
import polars as pl
import pyarrow as pa
from bson import ObjectId

from formats.bson_columns import Buffer, DocumentRun, DumpSlice
from formats.documents import NOT_UTF8, decode_batch, paused_gc, readable
from formats.parquet_parts import EncodedPart
from tasks.fields import UTC_MICROS, as_text
from tasks.glamira.event_columns import stage_columns
from tasks.glamira.prices import parse_price, unsupported

OPTION_FIELDS = (
    "option_label",
    "option_id",
    "value_label",
    "value_id",
    "alloy",
    "diamond",
    "shapediamond",
    "stone",
    "pearlcolor",
    "quality",
    "finish",
    "price",
    "category_id",
    "kollektion",
    "kollektion_id",
)
CART_OPTION_FIELDS = ("option_label", "option_id", "value_label", "value_id")
OPTION = pl.Struct({name: pl.String() for name in OPTION_FIELDS})
CART_OPTION = pl.Struct({name: pl.String() for name in CART_OPTION_FIELDS})
CART_LINE = pl.Struct(
    {
        "product_id": pl.String(),
        "price": pl.String(),
        "price_amount": pl.Float64(),
        "currency": pl.String(),
        "amount": pl.Int32(),
        "option": pl.List(CART_OPTION),
    }
)

# Text fields of the seed's schema, read as they are (numbers and booleans as text).
TEXT_FIELDS = (
    "ip",
    "user_agent",
    "resolution",
    "user_id_db",
    "device_id",
    "api_version",
    "store_id",
    "local_time",
    "show_recommendation",
    "current_url",
    "referrer_url",
    "email_address",
    "recommendation",
    "utm_source",
    "utm_medium",
    "collection",
    "key_search",
    "product_id",
    "cat_id",
    "collect_id",
    "order_id",
    "price",
    "currency",
    "is_paypal",
    "viewing_product_id",
    "recommendation_product_id",
)
POSITION_FIELDS = ("recommendation_product_position", "recommendation_clicked_position")
SCALAR_FIELDS = ("time_stamp", *TEXT_FIELDS, *POSITION_FIELDS)

EVENTS_SCHEMA: dict[str, pl.DataType] = {
    "event_id": pl.String(),
    "day": pl.Date(),
    "time_stamp": pl.Int64(),
    "event_at": UTC_MICROS,
    **{name: pl.String() for name in TEXT_FIELDS},
    "price_amount": pl.Float64(),
    **{name: pl.Int32() for name in POSITION_FIELDS},
    "option": pl.List(OPTION),
    "option_raw": pl.String(),
    "cart_products": pl.List(CART_LINE),
    "issues": pl.String(),
}
REJECTS_SCHEMA: dict[str, pl.DataType] = {
    "day": pl.Date(),
    "dataset": pl.String(),
    "record_id": pl.String(),
    "reason": pl.String(),
    "raw": pl.String(),
}

_BASE_SCHEMA = {
    "event_id": pl.String(),
    "_id_is_object_id": pl.Boolean(),
    "_time_stamp": pl.String(),
    "_time_stamp_text": pl.Boolean(),
    **{name: pl.String() for name in TEXT_FIELDS},
    **{f"_{name}": pl.String() for name in POSITION_FIELDS},
    "option_raw": pl.String(),
    "_option_issue": pl.String(),
    "_cart_issue": pl.String(),
    "_row": pl.Int64(),
}
CART_LINE_FIELDS = ("product_id", "price", "currency", "amount")
BAD_CART_AMOUNT = "cart line amount not a whole number of at most 2^31"


@dataclass(frozen=True)
class NormalisedBatch:
    events: pl.DataFrame  # EVENTS_SCHEMA
    rejects: pl.DataFrame  # REJECTS_SCHEMA
    raw_documents: int


def day_bounds(day: date) -> tuple[int, int]:
    """The UTC day as `[start, end)` epoch seconds, the unit of `time_stamp`."""
    start = int(datetime.combine(day, time.min, tzinfo=UTC).timestamp())
    return start, start + 86_400


# A usable `time_stamp` is a number of seconds between 2000 and 2100; anything else
# (text, milliseconds, a date, a boolean, null, nothing) cannot place an event on a day.
PLAUSIBLE_SECONDS = (946_684_800, 4_102_444_800)


def day_query(day: date) -> dict:
    """The MongoDB query for the documents of `day`. Every document of the collection
    matches the query of exactly one day, or of every day:

    - a usable `time_stamp` places it on that second's UTC day;
    - otherwise its ObjectId `_id` (the time MongoDB stored it) does, and the normaliser
      rejects it with the reason, or keeps it when its `time_stamp` is text that names a
      second of that day;
    - with neither, it cannot be placed: every day's run reads it and rejects it, so it
      stays in view until the source is mended.
    """
    start, end = day_bounds(day)
    unusable = {"time_stamp": {"$not": {"$gte": PLAUSIBLE_SECONDS[0], "$lt": PLAUSIBLE_SECONDS[1]}}}
    return {
        "$or": [
            {"time_stamp": {"$gte": start, "$lt": end}},
            {
                "_id": {
                    "$gte": ObjectId.from_datetime(datetime.fromtimestamp(start, UTC)),
                    "$lt": ObjectId.from_datetime(datetime.fromtimestamp(end, UTC)),
                },
                **unusable,
            },
            {"_id": {"$not": {"$type": "objectId"}}, **unusable},
        ]
    }


def normalise_batch(
    raw: Iterable[bytes] | bytes | DocumentRun | DumpSlice, day: date, fast: bool = True
) -> NormalisedBatch:
    """Normalise one batch of BSON documents of `day` (UTC): given one by one, or as one
    run of documents (a raw cursor batch; a `.bson` dump's bytes, with their sizes when
    the reader knows them: `DocumentRun`; or where they lie in a dump file: `DumpSlice`).

    The documents of the usual shapes are staged straight from the bytes
    (`tasks.glamira.event_columns`); the others are decoded by pymongo and staged by
    `_stage`. Both give the same columns; rows keep the batch's order. `fast=False`
    sends every document through pymongo: the reference the fast path is tested against."""
    buffer, starts, sizes = _documents(raw)
    if fast or not len(starts):
        columns, options, slow = stage_columns(buffer, starts, sizes, SCALAR_FIELDS, OPTION_FIELDS)
        parts = [_staged_fast(columns, options, len(starts), slow)]
    else:
        parts, slow = [], np.arange(len(starts))
    if slow.size:
        slow_raw = [buffer.data[starts[i] : starts[i] + sizes[i]] for i in slow.tolist()]
        with paused_gc():
            decoded = decode_batch(slow_raw)
            staged = _stage(decoded.documents, _object_ids(slow_raw))
        parts.append(
            staged.with_columns(
                _row=pl.Series(slow, dtype=pl.Int64),
                _broken=pl.Series(decoded.problems, dtype=pl.String),
                _repaired=pl.Series(decoded.repaired, dtype=pl.Boolean),
            )
        )
        del decoded
    stage = pl.concat(parts).sort("_row")
    document = lambda row: buffer.data[starts[row] : starts[row] + sizes[row]]  # noqa: E731
    start, end = day_bounds(day)
    time_stamp = pl.col("_time_stamp").str.strip_chars().cast(pl.Float64, strict=False)
    whole = time_stamp.is_finite() & (time_stamp == time_stamp.round(0))
    in_day = (whole & (time_stamp >= start) & (time_stamp < end)).fill_null(False)
    # text in `time_stamp` places nothing by itself: only a stored-at time (an ObjectId
    # `_id`) put the document in this day's read, and the text must agree with it
    unplaced = pl.col("_time_stamp_text") & ~pl.col("_id_is_object_id")
    checked = stage.with_columns(
        _reason=pl.concat_str(
            [
                pl.when(pl.col("event_id").is_null()).then(pl.lit("missing _id")),
                pl.when(pl.col("collection").is_null() | (pl.col("collection") == "")).then(
                    pl.lit("missing collection")
                ),
                pl.when(pl.col("_time_stamp").is_null()).then(pl.lit("missing time_stamp")),
                pl.when(pl.col("_time_stamp").is_not_null() & unplaced).then(
                    pl.lit(
                        "time_stamp is text and _id is not an ObjectId: the event cannot be placed on a day"
                    )
                ),
                pl.when(pl.col("_time_stamp").is_not_null() & ~unplaced & ~in_day).then(
                    pl.format(
                        "time_stamp not a second of {}: '{}'",
                        pl.lit(day.isoformat()),
                        pl.col("_time_stamp").str.slice(0, 60),
                    )
                ),
            ],
            separator="; ",
            ignore_nulls=True,
        ),
    ).with_columns(_reason=pl.coalesce("_broken", pl.when(pl.col("_reason") != "").then("_reason")))

    kept = checked.filter(pl.col("_reason").is_null())
    # a day has a few hundred distinct prices among its events: parse each once
    amounts = kept.select(pl.col("price").unique().drop_nulls()).with_columns(
        price_amount=parse_price(pl.col("price"))
    )
    line_price = pl.element().struct.field("price")
    events = (
        kept.join(amounts, on="price", how="left", maintain_order="left")
        .with_columns(
            time_stamp=time_stamp.cast(pl.Int64),
            **{
                name: pl.col(f"_{name}").cast(pl.Float64, strict=False).cast(pl.Int32, strict=False)
                for name in POSITION_FIELDS
            },
            cart_products=pl.col("cart_products").list.eval(
                pl.element().struct.with_fields(price_amount=parse_price(line_price))
            ),
        )
        .with_columns(
            event_at=pl.from_epoch("time_stamp", time_unit="s").dt.replace_time_zone("UTC").cast(UTC_MICROS),
            day=pl.lit(day, dtype=pl.Date()),
            issues=pl.concat_str(
                [
                    pl.when(pl.col("_repaired")).then(pl.lit(NOT_UTF8)),
                    pl.when(pl.col("_time_stamp_text")).then(pl.lit("time_stamp was text")),
                    pl.col("_option_issue"),
                    pl.col("_cart_issue"),
                    pl.when(unsupported(pl.col("price"), pl.col("price_amount"))).then(
                        pl.format("unsupported price '{}'", pl.col("price").str.slice(0, 40))
                    ),
                    pl.when(
                        pl.col("cart_products")
                        .list.eval(unsupported(line_price, pl.element().struct.field("price_amount")))
                        .list.any()
                    ).then(pl.lit("unsupported cart line price")),
                ],
                separator="; ",
                ignore_nulls=True,
            ),
        )
        .with_columns(issues=pl.when(pl.col("issues") != "").then("issues"))
        .select(list(EVENTS_SCHEMA))
        .cast(EVENTS_SCHEMA)
    )
    rejected = checked.filter(pl.col("_reason").is_not_null())
    rejects = pl.DataFrame(
        {
            "day": [day] * rejected.height,
            "dataset": ["events"] * rejected.height,
            "record_id": rejected["event_id"].fill_null("<no _id>"),
            "reason": rejected["_reason"],
            "raw": [readable(document(i)) for i in rejected["_row"]],
        },
        schema=REJECTS_SCHEMA,
    )
    return NormalisedBatch(events=events, rejects=rejects, raw_documents=len(starts))


def _documents(
    raw: Iterable[bytes] | bytes | DocumentRun | DumpSlice,
) -> tuple[Buffer, np.ndarray, np.ndarray]:
    """The batch as one buffer, where each document starts and how long it is."""
    if isinstance(raw, DumpSlice):  # read here, in the worker process
        raw = raw.run()
    run = raw if isinstance(raw, DocumentRun) else DocumentRun.of(raw)
    return Buffer(run.data), *run.starts_and_sizes()


def _staged_fast(
    columns: dict[str, pl.Series], options: pl.DataFrame, n: int, slow: np.ndarray
) -> pl.DataFrame:
    """The fast path's columns as `_stage` lays them out, without the `slow` rows."""
    fast = np.ones(n, dtype=bool)
    fast[slow] = False
    base = (
        pl.DataFrame({**columns, "_row": pl.Series(np.arange(n), dtype=pl.Int64)})
        .rename({"time_stamp": "_time_stamp", **{name: f"_{name}" for name in POSITION_FIELDS}})
        .filter(pl.Series(fast))
        .with_columns(_cart_issue=pl.lit(None, dtype=pl.String))
        .select(list(_BASE_SCHEMA))
        .cast(_BASE_SCHEMA)
    )
    options = options.filter(pl.Series(fast[options["_row"].to_numpy()], dtype=pl.Boolean))
    return _with_lists(base, options, None).with_columns(
        _broken=pl.lit(None, dtype=pl.String), _repaired=pl.lit(False)
    )


_ID_OBJECT_ID = b"\x07_id\x00"


def _object_ids(raw: list[bytes]) -> list[str | None]:
    """The hex of each document's `_id` read straight from its bytes when it is an
    ObjectId in first place (where MongoDB puts it): building ObjectId objects and
    printing them costs more than all the other scalar fields together. None elsewhere."""
    return [r[9:21].hex() if r[4:9] == _ID_OBJECT_ID and len(r) >= 21 else None for r in raw]


def _stage(documents: list[Mapping], object_ids: list[str | None]) -> pl.DataFrame:
    """The documents as columns: scalars picked per field, and the nested options and
    cart lines collected as flat rows that Polars groups back into lists (building
    nested columns from Python objects row by row is ten times slower)."""
    scalars = _frame(
        documents, {"time_stamp": pl.String(), **{n: pl.String() for n in (*TEXT_FIELDS, *POSITION_FIELDS)}}
    )
    scalars = scalars.rename({"time_stamp": "_time_stamp", **{n: f"_{n}" for n in POSITION_FIELDS}})
    columns: dict[str, list] = {
        "event_id": [
            i if i is not None else _text(d.get("_id")) for i, d in zip(object_ids, documents, strict=True)
        ],
        "_id_is_object_id": [
            i is not None or isinstance(d.get("_id"), ObjectId)
            for i, d in zip(object_ids, documents, strict=True)
        ],
        "_time_stamp_text": [type(d.get("time_stamp")) is str for d in documents],
    }

    options, cart_lines, cart_options = (
        _Flat(OPTION_FIELDS),
        _Flat(CART_LINE_FIELDS),
        _Flat(CART_OPTION_FIELDS),
    )
    option_raw: list[str | None] = [None] * len(documents)
    option_issue: list[str | None] = [None] * len(documents)
    cart_issue: list[str | None] = [None] * len(documents)
    for row, document in enumerate(documents):
        if "option" in document:
            items, option_raw[row], option_issue[row] = _options(document["option"], True)
            for item in items:
                options.add(row, 0, item)
        cart = document.get("cart_products")
        if cart is not None:
            cart_issue[row] = _cart(cart, row, cart_lines, cart_options)
    columns["option_raw"], columns["_option_issue"], columns["_cart_issue"] = (
        option_raw,
        option_issue,
        cart_issue,
    )
    columns["_row"] = list(range(len(documents)))
    base = (
        pl.concat([pl.DataFrame(columns), scalars], how="horizontal")
        .select(list(_BASE_SCHEMA))
        .cast(_BASE_SCHEMA)
    )

    line_options = cart_options.frame().group_by("_row", "_line").agg(option=pl.struct(CART_OPTION_FIELDS))
    written = pl.col("amount").str.strip_chars()
    number = written.cast(pl.Float64, strict=False)
    # a quantity is a whole number an Int32 holds; anything else is left out, and said
    whole = number.is_finite() & (number == number.round(0)) & number.is_between(-(2**31), 2**31 - 1)
    lines = (
        cart_lines.frame()
        .join(line_options, on=["_row", "_line"], how="left")
        .with_columns(
            _bad_amount=written.is_not_null() & (written != "") & ~whole.fill_null(False),
            amount=pl.when(whole).then(number).cast(pl.Int32),
            option=pl.col("option").fill_null(pl.lit([], dtype=pl.List(CART_OPTION))),
            price_amount=pl.lit(None, dtype=pl.Float64),
        )
        .sort("_row", "_line")
        .group_by("_row", maintain_order=True)
        .agg(cart_products=pl.struct(list(CART_LINE.to_schema())), _bad_amount=pl.col("_bad_amount").any())
    )
    staged = _with_lists(base, options.frame(), lines.drop("_bad_amount"))
    bad_amounts = lines.filter("_bad_amount").select("_row", _amount_issue=pl.lit(BAD_CART_AMOUNT))
    return (
        staged.join(bad_amounts, on="_row", how="left", maintain_order="left")
        .with_columns(
            _cart_issue=pl.concat_str("_cart_issue", "_amount_issue", separator="; ", ignore_nulls=True)
        )
        .with_columns(_cart_issue=pl.when(pl.col("_cart_issue") != "").then("_cart_issue"))
        .drop("_amount_issue")
    )


def _with_lists(base: pl.DataFrame, options: pl.DataFrame, lines: pl.DataFrame | None) -> pl.DataFrame:
    """The staged rows (ascending `_row`) with their `option` list, from flat option rows
    in `_row` order, and their `cart_products` (already grouped by `_row`), empty lists
    where there are none."""
    rows = base["_row"].to_numpy()
    staged = base.with_columns(option=_lists(options, OPTION, rows))
    if lines is None:
        return staged.with_columns(cart_products=_lists(None, CART_LINE, rows))
    return staged.join(lines, on="_row", how="left", maintain_order="left").with_columns(
        cart_products=pl.col("cart_products").fill_null(pl.lit([], dtype=pl.List(CART_LINE)))
    )


def _lists(items: pl.DataFrame | None, item: pl.Struct, rows: np.ndarray) -> pl.Series:
    """A list column for `rows` (ascending) from item rows whose `_row` ascends too and is
    among them: each list is cut out of the items by offsets, with no grouping or join
    (which cost more than the rest of staging together)."""
    if items is None or items.height == 0:
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        values = pl.Series([], dtype=item).to_arrow()
    else:
        item_rows = items["_row"].to_numpy()
        offsets = np.append(np.searchsorted(item_rows, rows), len(item_rows)).astype(np.int64)
        if offsets[0] != 0 or not np.isin(item_rows, rows).all():
            raise ValueError("option rows of events that are not in the batch")
        values = items.select(pl.struct(list(item.to_schema()))).to_series().to_arrow()
    return pl.Series(pa.LargeListArray.from_arrays(pa.array(offsets), values)).cast(pl.List(item))


class _Flat:
    """Rows of a nested list, each tagged with its event (`_row`) and list position."""

    def __init__(self, fields: tuple[str, ...]):
        self.fields = fields
        self.rows: list[int] = []
        self.lines: list[int] = []
        self.items: list[Mapping] = []

    def add(self, row: int, line: int, item: Mapping) -> None:
        self.rows.append(row)
        self.lines.append(line)
        self.items.append(item)

    def frame(self) -> pl.DataFrame:
        values = _frame(self.items, {name: pl.String() for name in self.fields})
        return values.with_columns(
            _row=pl.Series(self.rows, dtype=pl.Int64), _line=pl.Series(self.lines, dtype=pl.Int64)
        )


def _frame(documents: list[Mapping], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Text columns picked out of documents. Polars reads str, int, float and bool values
    itself (in their JSON spelling) and refuses anything else; only then are the values
    converted one by one."""
    if not documents:
        return pl.DataFrame(schema=schema)
    try:
        return pl.from_dicts(documents, schema=schema, strict=False)
    except pl.exceptions.ComputeError:  # an ObjectId, a date, an object... in a text field
        return pl.DataFrame({name: [_text(d.get(name)) for d in documents] for name in schema}, schema=schema)


def _text(value) -> str | None:
    return value if value is None or type(value) is str else as_text(value)


def _options(value, present: bool) -> tuple[list[Mapping], str | None, str | None]:
    """(the option objects, the original when it was not a list of objects, issue)."""
    if isinstance(value, list):
        items = [v for v in value if isinstance(v, Mapping)]
        if len(items) == len(value):
            return items, None, None
        return items, _json(value), "option list held non-objects"
    if isinstance(value, Mapping):
        return [value], _json(value), "option was an object"
    if value is None:
        return [], None, None if not present else "option was null"
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith(("[", "{")):
            try:
                parsed = json.loads(stripped)
            except (ValueError, RecursionError):  # not JSON, or nested past any real option
                parsed = None
            if isinstance(parsed, list | dict):
                items, _, _ = _options(parsed, True)
                return items, value, "option was JSON text"
        return [], value, None if stripped == "" else "option was a string"
    return [], _json(value), f"option was a {type(value).__name__}"


def _cart(value, row: int, lines: _Flat, options: _Flat) -> str | None:
    """Adds the cart's lines and their options to the flat rows; returns an issue."""
    if not isinstance(value, list):
        return f"cart_products was a {type(value).__name__}"
    issue = None
    for line in value:
        if not isinstance(line, Mapping):
            issue = "cart line that is not an object"
            continue
        number = len(lines.rows)
        lines.add(row, number, line)
        for option in _options(line.get("option"), "option" in line)[0]:
            options.add(row, number, option)
    return issue


def _json(value) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


@dataclass(frozen=True)
class LandableBatch:
    """A normalised batch as a worker process hands it back: its events already written
    as a parquet part, their issues counted. (A part is about a tenth of the frame's
    size; encoding it here spares the main process, which every worker waits on.)"""

    events: EncodedPart
    rejects: pl.DataFrame
    raw_documents: int
    issues: dict[str, int]


def normalise_for_landing(raw: list[bytes] | bytes | DocumentRun | DumpSlice, day: date) -> LandableBatch:
    batch = normalise_batch(raw, day)
    return LandableBatch(
        EncodedPart.of(batch.events), batch.rejects, batch.raw_documents, issue_counts(batch.events)
    )


def issue_counts(events: pl.DataFrame) -> dict[str, int]:
    """How many events had each kind of issue (`unsupported price '...'` counts as
    `unsupported price`)."""
    kinds = events["issues"].drop_nulls().str.split("; ").explode().str.split(" '").list.first()
    return dict(Counter(kinds.to_list()))
