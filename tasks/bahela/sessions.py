"""Bahela sessions: raw MongoDB documents -> one clean row per session of the day.

A session is a transaction when it is paid and finished (`page == "Result"` and
`payment.paid`). Every session of the day is kept with its `status` (`completed`,
`paid_unfinished`, `unpaid`), so the summary can count sessions and transactions alike.
Documents that cannot be trusted go to the rejects with every reason that applies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date

import bson
import polars as pl

from pipelines.settings import JAKARTA
from tasks.documents import decode_batch, readable
from tasks.fields import (
    RAW,
    UTC_MICROS,
    flatten,
    local_day,
    object_id_time,
    reasons,
    to_bool,
    to_int,
    to_timestamp,
    unparsed,
)

SOURCE = "bahela"
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
    rejects: pl.DataFrame  # REJECTS_SCHEMA
    seen: pl.DataFrame  # SEEN_SCHEMA
    read: int  # documents read for the day (outside-the-day documents not counted)
    duplicates: int  # documents that repeated a session already kept


def sessions_frame(documents: Iterable[tuple[str, bytes | Mapping]]) -> pl.DataFrame:
    """The extract's hand-over: `(site, document)` pairs, documents as BSON bytes or dicts."""
    rows = [(site, doc if isinstance(doc, bytes) else bson.encode(doc)) for site, doc in documents]
    return pl.DataFrame(rows, schema=RAW_SESSIONS_SCHEMA, orient="row")


def normalise_sessions(raw: pl.DataFrame, day: date) -> SessionsOfDay:
    """Parse, classify, validate and deduplicate the day's session documents."""
    documents, broken = decode_batch(raw["document"].to_list())
    texts = flatten(documents, {f"_text_{name}": path for name, (path, _, _) in FIELDS.items()})
    parsed = (
        raw.lazy()
        .with_columns(
            *(pl.Series(name, values, dtype=pl.String) for name, values in texts.items()),
            pl.Series("_decode_problem", broken, dtype=pl.String),
        )
        .with_columns(_parse(name, parser) for name, (_, parser, _) in FIELDS.items())
        .with_columns(_derived_fields(day))
        .collect()
    )
    seen = (
        parsed.filter(pl.col("session_code").is_not_null())
        .group_by("session_code", "day", "site", maintain_order=True)
        .agg(kept=pl.col("problems").is_null().any())  # a good copy keeps the session
        .cast(SEEN_SCHEMA)
    )
    of_day = parsed.filter(pl.col("day") == day)
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
        read=of_day.height,
        duplicates=repeated.height,
    )


# column -> (JSONPath in the document, parser or None for text, what a value must be)
FIELDS: dict[str, tuple[str, Callable[[pl.Expr], pl.Expr] | None, str | None]] = {
    "mongo_id": ("_id", None, None),
    "code": ("id", None, None),
    "page": ("page", None, None),
    "app_started_at": ("progress.appStartTime", to_timestamp, "a timestamp"),
    "started_at": ("progress.startTime", to_timestamp, "a timestamp"),
    "ended_at": ("progress.endTime", to_timestamp, "a timestamp"),
    "lang": ("options.lang", None, None),
    "filter": ("options.filterFn", None, None),
    "copies": ("options.copies", to_int, "a whole number"),
    "retry_mode": ("options.useRetryMode", to_bool, "true or false"),
    "retry_count": ("options.retryCount", to_int, "a whole number"),
    "paid_flag": ("payment.paid", to_bool, "true or false"),
    "amount_idr": ("payment.amount", to_int, "a whole number"),
    "discount": ("payment.discount", to_int, "a whole number"),
    "order_id": ("payment.orderId", None, None),
    "payment_expires_at": ("payment.expiryTime", to_timestamp, "a timestamp"),
    "captured_images": ("result.capturedImageUrls#length", to_int, None),
    "uploaded_images": ("result.uploadedImageUrls#length", to_int, None),
    "doc_version": ("__v", to_int, "a whole number"),
}


def _parse(name: str, parser: Callable[[pl.Expr], pl.Expr] | None) -> pl.Expr:
    raw_text = pl.col(f"_text_{name}")
    return (parser(raw_text) if parser else raw_text).alias(name)


def _derived_fields(day: date) -> list[pl.Expr]:
    paid = pl.col("paid_flag").fill_null(False)
    finished = pl.col("page") == "Result"
    completed = paid & finished
    duration = (pl.col("ended_at") - pl.col("started_at")).dt.total_microseconds() / 1e6
    # Which day a session belongs to: when it started, else when the guest opened the
    # app, else when the document was created. The booths' business day is Jakarta's.
    # A document with none of these (unreadable) is the day's that read it: it is
    # rejected there rather than lost.
    anchor = pl.coalesce("started_at", "app_started_at", object_id_time(pl.col("mongo_id")))
    code = pl.col("code").str.strip_chars().str.to_lowercase()
    rules = [
        pl.col("_decode_problem"),
        pl.when(pl.col("code").is_null() & pl.col("_decode_problem").is_null()).then(
            pl.lit("missing session code (id)")
        ),
        pl.when(pl.col("code").is_not_null() & ~code.str.contains(SESSION_CODE)).then(
            pl.format("session code is not 6 letters or digits: '{}'", pl.col("code").str.slice(0, 40))
        ),
        *(
            unparsed(path, kind, pl.col(f"_text_{name}"), pl.col(name))
            for name, (path, parser, kind) in FIELDS.items()
            if kind is not None
        ),
        pl.when(completed & pl.col("started_at").is_null() & pl.col("_text_started_at").is_null()).then(
            pl.lit("finished session without progress.startTime")
        ),
        pl.when(completed & pl.col("ended_at").is_null() & pl.col("_text_ended_at").is_null()).then(
            pl.lit("finished session without progress.endTime")
        ),
        pl.when(completed & (duration < 0)).then(pl.lit("progress.endTime is before progress.startTime")),
        pl.when(completed & (duration > LONGEST_PLAUSIBLE_SESSION_S)).then(
            pl.lit("session longer than 3 hours")
        ),
        pl.when(completed & pl.col("_text_amount_idr").is_null()).then(
            pl.lit("paid session without payment.amount")
        ),
        pl.when(pl.col("amount_idr") < 0).then(pl.lit("payment.amount is negative")),
        pl.when(pl.col("discount") < 0).then(pl.lit("payment.discount is negative")),
    ]
    return [
        pl.coalesce(local_day(anchor, JAKARTA.key), pl.lit(day)).alias("day"),
        pl.when(code.str.contains(SESSION_CODE)).then(code).alias("session_code"),
        paid.alias("paid"),
        pl.when(completed)
        .then(pl.lit("completed"))
        .when(paid)
        .then(pl.lit("paid_unfinished"))
        .otherwise(pl.lit("unpaid"))
        .alias("status"),
        pl.when(completed).then(duration).alias("duration_seconds"),
        pl.col("discount").fill_null(0).alias("discount_idr"),
        pl.col("retry_count").fill_null(0),
        pl.col("retry_mode").fill_null(False),
        pl.col("doc_version").fill_null(0),
        pl.col("captured_images", "uploaded_images").fill_null(0).cast(pl.Int32),
        reasons(rules).alias("problems"),
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
