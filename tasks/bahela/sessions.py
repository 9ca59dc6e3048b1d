"""Bahela sessions: raw MongoDB documents -> one clean row per session of the day.

A session is a transaction when it is paid and finished (`page == "Result"` and
`payment.paid`). Every session of the day is kept with its `status` (`completed`,
`paid_unfinished`, `unpaid`), so the summary can count sessions and transactions alike.

Every document the extract read is accounted for, one of:
- **kept**: a session of the day. What is wrong but not fatal is named in `issues`: an
  optional field that did not parse (left null), times that cannot be believed (duration
  left unknown), text that was not UTF-8. A paid, finished session is a transaction and
  its revenue counts even when its clock was wrong.
- **rejected** with every reason that applies: no usable session code, an amount that is
  not a whole number of rupiah (text with separators is never guessed at), an unreadable
  paid flag, bytes that are not a document, or no way to place it on any day.
- **a duplicate**: a second copy of a session already kept (the highest `__v` wins).
- **another day's**: the extract reads six hours beyond each end of the day; those
  documents are counted by the day they belong to and left to its run.

Which day a document belongs to: the Jakarta day its own start time (or app start time)
falls on, when that time is within six hours of when MongoDB stored it (its ObjectId
`_id`); otherwise the stored time decides, and the session's own times are left out. A
document with no ObjectId `_id` and no readable time cannot be placed: every run that
reads it rejects it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import bson
import polars as pl

from formats.documents import NOT_UTF8, decode_batch, readable
from pipelines.settings import JAKARTA
from tasks.fields import (
    INT32_RANGE,
    RAW,
    UTC_MICROS,
    flatten,
    local_day,
    object_id_time,
    reasons,
    to_bool,
    to_int,
    to_money,
    to_timestamp,
    unparsed,
)

SOURCE = "bahela"
SITE_DATABASE_PREFIX = "booth_"  # one MongoDB database per booth: booth_<site>
LONGEST_PLAUSIBLE_SESSION_S = 3 * 3600
SESSION_CODE = r"^[a-z0-9]{6}$"

# What the extract hands over: the booth (its database) and the document's BSON bytes.
RAW_SESSIONS_SCHEMA = {"site": pl.String, "document": pl.Binary}

SESSIONS_SCHEMA: dict[str, pl.DataType] = {
    "day": pl.Date(),
    "site": pl.String(),
    "session_code": pl.String(),
    "mongo_id": pl.String(),
    "status": pl.String(),
    "page": pl.String(),
    "app_started_at": UTC_MICROS,
    "started_at": UTC_MICROS,
    "ended_at": UTC_MICROS,
    "duration_seconds": pl.Float64(),
    "lang": pl.String(),
    "filter": pl.String(),
    "copies": pl.Int32(),
    "retry_mode": pl.Boolean(),
    "retry_count": pl.Int32(),
    "paid": pl.Boolean(),
    "amount_idr": pl.Int64(),
    "discount_idr": pl.Int64(),
    "order_id": pl.String(),
    "payment_expires_at": UTC_MICROS,
    "captured_images": pl.Int32(),
    "uploaded_images": pl.Int32(),
    "doc_version": pl.Int32(),
    "issues": pl.String(),
}

REJECTS_SCHEMA: dict[str, pl.DataType] = {
    "day": pl.Date(),
    "dataset": pl.String(),
    "site": pl.String(),
    "record_id": pl.String(),
    "reason": pl.String(),
    RAW: pl.String(),
}

# Every session code seen in the extract, whatever its day: images are matched against it.
SEEN_SCHEMA = {"session_code": pl.String(), "day": pl.Date(), "site": pl.String(), "kept": pl.Boolean()}


@dataclass(frozen=True)
class SessionsOfDay:
    sessions: pl.DataFrame  # SESSIONS_SCHEMA, one row per session of the day
    rejects: pl.DataFrame  # REJECTS_SCHEMA: rejected and duplicate documents of the day
    seen: pl.DataFrame  # SEEN_SCHEMA
    read: int  # every document the extract handed over
    duplicates: int  # documents that repeated a session already kept
    other_days: dict[str, int]  # documents of other days: ISO day -> count

    @property
    def rejected(self) -> int:
        return self.rejects.height - self.duplicates


# Where a session's own clock may stand from the time MongoDB stored it: the extract
# reads this far beyond each end of the day, so a believed time always lies in a read.
CLOCK_TOLERANCE = timedelta(hours=6)
# A booth sells a session for tens of thousands of rupiah; ten billion is no session.
LARGEST_AMOUNT_IDR = 10_000_000_000


def sessions_frame(documents: Iterable[tuple[str, bytes | Mapping]]) -> pl.DataFrame:
    """The extract's hand-over: `(site, document)` pairs, documents as BSON bytes or dicts."""
    rows = [(site, doc if isinstance(doc, bytes) else bson.encode(doc)) for site, doc in documents]
    return pl.DataFrame(rows, schema=RAW_SESSIONS_SCHEMA, orient="row")


def normalise_sessions(raw: pl.DataFrame, day: date) -> SessionsOfDay:
    """Parse, place, validate and deduplicate the extract's session documents for `day`."""
    decoded = decode_batch(raw["document"].to_list())
    paths = {f"_text_{name}": path for name, (path, _, _, _) in FIELDS.items()}
    paths |= {"_type_mongo_id": "_id#type", **{f"_type_{name}": f"{FIELDS[name][0]}#type" for name in MONEY}}
    texts = flatten(decoded.documents, paths)
    parsed = (
        raw.lazy()
        .with_columns(
            *(pl.Series(name, values, dtype=pl.String) for name, values in texts.items()),
            pl.Series("_decode_problem", decoded.problems, dtype=pl.String),
            pl.Series("_repaired", decoded.repaired, dtype=pl.Boolean),
        )
        .with_columns(_parse(name, parser) for name, (_, parser, _, _) in FIELDS.items())
        .with_columns(_placed())
        .with_columns(_derived_fields())
        .collect()
    )
    seen = (
        parsed.filter(pl.col("session_code").is_not_null() & pl.col("day").is_not_null())
        .group_by("session_code", "day", "site", maintain_order=True)
        .agg(kept=pl.col("problems").is_null().any())  # a good copy keeps the session
        .cast(SEEN_SCHEMA)
    )
    # a document that cannot be placed is rejected by every run that reads it
    of_day = parsed.filter((pl.col("day") == day) | pl.col("day").is_null()).with_columns(day=pl.lit(day))
    elsewhere = parsed.filter(pl.col("day") != day)
    valid = of_day.filter(pl.col("problems").is_null())
    invalid = of_day.filter(pl.col("problems").is_not_null())

    ranked = valid.sort(
        ["site", "session_code", "doc_version", "ended_at", "mongo_id"],
        descending=[False, False, True, True, True],
        nulls_last=True,
    ).with_columns(
        rank=pl.int_range(pl.len()).over("site", "session_code"),
        kept_id=pl.col("mongo_id").first().over("site", "session_code"),
    )
    kept = ranked.filter(pl.col("rank") == 0)
    repeated = ranked.filter(pl.col("rank") > 0).with_columns(
        problems=pl.format("duplicate session: {} (document {} kept)", "session_code", "kept_id")
    )
    rejects = pl.concat([_as_rejects(invalid), _as_rejects(repeated)]).sort("record_id")
    return SessionsOfDay(
        sessions=kept.select(list(SESSIONS_SCHEMA))
        .cast(SESSIONS_SCHEMA)
        .sort("site", "started_at", "session_code"),
        rejects=rejects,
        seen=seen,
        read=parsed.height,
        duplicates=repeated.height,
        other_days={d.isoformat(): n for d, n in elsewhere.group_by("day").len().sort("day").iter_rows()},
    )


_RUPIAH = "whole rupiah up to 10 billion (digits only when written as text)"
# column -> (path in the document, parser or None for text, what a value must be, whether a
# value that does not parse rejects the document (True) or is left out and named (False))
FIELDS: dict[str, tuple[str, Callable[[pl.Expr], pl.Expr] | None, str | None, bool]] = {
    "mongo_id": ("_id", None, None, False),
    "code": ("id", None, None, True),
    "page": ("page", None, None, False),
    "app_started_at": ("progress.appStartTime", to_timestamp, "a timestamp", False),
    "started_at": ("progress.startTime", to_timestamp, "a timestamp", False),
    "ended_at": ("progress.endTime", to_timestamp, "a timestamp", False),
    "lang": ("options.lang", None, None, False),
    "filter": ("options.filterFn", None, None, False),
    "copies": ("options.copies", lambda v: to_int(v, INT32_RANGE), "a whole number of at most 2^31", False),
    "retry_mode": ("options.useRetryMode", to_bool, "true or false", False),
    "retry_count": (
        "options.retryCount",
        lambda v: to_int(v, INT32_RANGE),
        "a whole number of at most 2^31",
        False,
    ),
    "paid_flag": ("payment.paid", to_bool, "true or false", True),
    "amount_idr": ("payment.amount", None, _RUPIAH, True),
    "discount": ("payment.discount", None, _RUPIAH, True),
    "order_id": ("payment.orderId", None, None, False),
    "payment_expires_at": ("payment.expiryTime", to_timestamp, "a timestamp", False),
    "captured_images": ("result.capturedImageUrls#length", lambda v: to_int(v, INT32_RANGE), None, False),
    "uploaded_images": ("result.uploadedImageUrls#length", lambda v: to_int(v, INT32_RANGE), None, False),
    "doc_version": ("__v", lambda v: to_int(v, INT32_RANGE), "a whole number of at most 2^31", False),
}
MONEY = ("amount_idr", "discount")
_TIMES = ("app_started_at", "started_at", "ended_at")


def _parse(name: str, parser: Callable[[pl.Expr], pl.Expr] | None) -> pl.Expr:
    raw_text = pl.col(f"_text_{name}")
    if name in MONEY:
        return to_money(raw_text, pl.col(f"_type_{name}"), LARGEST_AMOUNT_IDR).alias(name)
    return (parser(raw_text) if parser else raw_text).alias(name)


def _placed() -> list[pl.Expr]:
    """The day each document belongs to (null: it cannot be placed), and whether its own
    times can be believed."""
    stored = pl.when(pl.col("_type_mongo_id") == "ObjectId").then(object_id_time(pl.col("mongo_id")))
    own = pl.coalesce("started_at", "app_started_at")
    tolerance = CLOCK_TOLERANCE.total_seconds() * 1e6
    believed = own.is_not_null() & (
        stored.is_null() | ((own - stored).dt.total_microseconds().abs() <= tolerance)
    )
    anchor = pl.when(believed).then(own).otherwise(stored)
    return [
        local_day(anchor, JAKARTA.key).alias("day"),
        believed.alias("_clock_believed"),
        (own.is_not_null() & ~believed).alias("_clock_off"),
        stored.alias("_stored_at"),
    ]


def _derived_fields() -> list[pl.Expr]:
    paid = pl.col("paid_flag").fill_null(False)
    finished = pl.col("page") == "Result"
    completed = paid & finished
    clock_off = pl.col("_clock_off")
    started, ended = pl.col("started_at"), pl.col("ended_at")
    duration = (ended - started).dt.total_microseconds() / 1e6
    timed = completed & ~clock_off & started.is_not_null() & ended.is_not_null()
    plausible = timed & (duration >= 0) & (duration <= LONGEST_PLAUSIBLE_SESSION_S)
    code = pl.col("code").str.strip_chars().str.to_lowercase()
    problems = [
        pl.col("_decode_problem"),
        pl.when(pl.col("code").is_null() & pl.col("_decode_problem").is_null()).then(
            pl.lit("missing session code (id)")
        ),
        pl.when(pl.col("code").is_not_null() & ~code.str.contains(SESSION_CODE)).then(
            pl.format("session code is not 6 letters or digits: '{}'", pl.col("code").str.slice(0, 40))
        ),
        *(
            unparsed(path, kind, pl.col(f"_text_{name}"), pl.col(name))
            for name, (path, _, kind, rejects) in FIELDS.items()
            if kind is not None and rejects
        ),
        pl.when(completed & pl.col("_text_amount_idr").is_null()).then(
            pl.lit("paid session without payment.amount")
        ),
        pl.when(pl.col("amount_idr") < 0).then(pl.lit("payment.amount is negative")),
        pl.when(pl.col("discount") < 0).then(pl.lit("payment.discount is negative")),
        pl.when(pl.col("day").is_null() & pl.col("_decode_problem").is_null()).then(
            pl.lit("cannot be placed on a day: _id is not an ObjectId and no start time is readable")
        ),
    ]
    issues = [
        pl.when(pl.col("_repaired")).then(pl.lit(NOT_UTF8)),
        *(
            unparsed(path, kind, pl.col(f"_text_{name}"), pl.col(name))
            for name, (path, _, kind, rejects) in FIELDS.items()
            if kind is not None and not rejects
        ),
        pl.when(clock_off).then(
            pl.format(
                "the booth's clock was off: start time '{}' is more than 6 hours from when the document "
                "was stored ({}); placed by the stored time, the session's times left out",
                pl.coalesce("_text_started_at", "_text_app_started_at").str.slice(0, 40),
                pl.col("_stored_at").dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
            )
        ),
        pl.when(completed & ~clock_off & started.is_null()).then(
            pl.lit("duration unknown: no readable progress.startTime")
        ),
        pl.when(completed & ~clock_off & ended.is_null()).then(
            pl.lit("duration unknown: no readable progress.endTime")
        ),
        pl.when(timed & (duration < 0)).then(
            pl.lit("duration unknown: progress.endTime is before progress.startTime")
        ),
        pl.when(timed & (duration > LONGEST_PLAUSIBLE_SESSION_S)).then(
            pl.lit("duration unknown: session longer than 3 hours")
        ),
    ]
    return [
        pl.when(code.str.contains(SESSION_CODE)).then(code).alias("session_code"),
        paid.alias("paid"),
        pl.when(completed)
        .then(pl.lit("completed"))
        .when(paid)
        .then(pl.lit("paid_unfinished"))
        .otherwise(pl.lit("unpaid"))
        .alias("status"),
        *(pl.when(~clock_off).then(pl.col(name)).alias(name) for name in _TIMES),
        pl.when(plausible).then(duration).alias("duration_seconds"),
        pl.col("discount").fill_null(0).alias("discount_idr"),
        pl.col("retry_count").fill_null(0),
        pl.col("retry_mode").fill_null(False),
        pl.col("doc_version").fill_null(0),
        pl.col("captured_images", "uploaded_images").fill_null(0).cast(pl.Int32),
        reasons(problems).alias("problems"),
        reasons(issues).alias("issues"),
    ]


def _as_rejects(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(
        "day",
        dataset=pl.lit("sessions"),
        site="site",
        record_id=pl.coalesce("mongo_id", pl.lit("<no _id>")),
        reason="problems",
        raw=pl.Series([readable(doc) for doc in frame["document"]], dtype=pl.String),
    ).cast(REJECTS_SCHEMA)
