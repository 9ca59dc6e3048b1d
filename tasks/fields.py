"""Reading fields out of raw JSON documents with Polars expressions.

Source documents arrive as one relaxed Extended JSON string per row (`raw`). Every field
is read as text first and parsed second, so a mistyped value ("35000" for 35000, "true"
for true) is coerced where that is unambiguous and otherwise becomes a named problem,
with the raw document kept beside it for the `_rejects` dataset.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

RAW = "raw"
UTC_MICROS = pl.Datetime("us", "UTC")

# Extended JSON wraps some types in a one-key object: `{"$date": "..."}`, `{"$oid": "..."}`.
_WRAPPED = r'^\{\s*"\$(?:date|oid|numberLong|numberInt|numberDouble|numberDecimal)"\s*:\s*"?([^"{}]*)"?\s*\}$'


def text(path: str, column: str = RAW) -> pl.Expr:
    """The value at a JSONPath (`$.payment.amount`) as text, unwrapped from Extended JSON."""
    value = pl.col(column).str.json_path_match(path)
    return pl.coalesce(value.str.extract(_WRAPPED, 1), value)


def to_int(value: pl.Expr) -> pl.Expr:
    """Whole numbers, also when written as text or as `35000.0`; anything else is null."""
    number = value.str.strip_chars().cast(pl.Float64, strict=False)
    return pl.when(number.is_finite() & (number == number.round(0))).then(number).cast(pl.Int64)


def to_float(value: pl.Expr) -> pl.Expr:
    number = value.str.strip_chars().cast(pl.Float64, strict=False)
    return pl.when(number.is_finite()).then(number)


def to_bool(value: pl.Expr) -> pl.Expr:
    lowered = value.str.strip_chars().str.to_lowercase()
    return (
        pl.when(lowered.is_in(["true", "1"]))
        .then(True)
        .when(lowered.is_in(["false", "0"]))
        .then(False)
        .otherwise(None)
        .cast(pl.Boolean)
    )


def to_timestamp(value: pl.Expr) -> pl.Expr:
    """ISO 8601 with `Z` or an offset, or epoch milliseconds; naive or other text is null
    (a time without a zone is never guessed)."""
    stripped = value.str.strip_chars()
    utc = stripped.str.to_datetime("%Y-%m-%dT%H:%M:%S%.fZ", time_unit="us", time_zone="UTC", strict=False)
    offset = stripped.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z", time_unit="us", strict=False)
    epoch_ms = (
        pl.when(stripped.str.contains(r"^\d{12,13}$"))
        .then(pl.from_epoch(stripped.cast(pl.Int64, strict=False), time_unit="ms"))
        .dt.replace_time_zone("UTC")
    )
    return pl.coalesce(utc, offset.dt.convert_time_zone("UTC"), epoch_ms).cast(UTC_MICROS)


def unparsed(label: str, kind: str, raw_text: pl.Expr, parsed: pl.Expr) -> pl.Expr:
    """A problem message where a value is present but did not parse."""
    return pl.when(raw_text.is_not_null() & parsed.is_null()).then(
        pl.format(f"{label} is not {kind}: '{{}}'", raw_text.str.slice(0, 60))
    )


def reasons(problems: Iterable[pl.Expr]) -> pl.Expr:
    """All problems of a row joined with '; ', or null where there are none."""
    joined = pl.concat_str(list(problems), separator="; ", ignore_nulls=True)
    return pl.when(joined != "").then(joined)


def object_id_time(oid_hex: pl.Expr) -> pl.Expr:
    """The creation time an ObjectId carries in its first four bytes."""
    seconds = oid_hex.str.slice(0, 8).str.to_integer(base=16, strict=False)
    return pl.from_epoch(seconds, time_unit="s").dt.replace_time_zone("UTC").cast(UTC_MICROS)


def local_day(moment: pl.Expr, time_zone: str) -> pl.Expr:
    return moment.dt.convert_time_zone(time_zone).dt.date()
