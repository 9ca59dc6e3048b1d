"""Reading fields out of source documents.

Each document is decoded once (BSON with pymongo's C extension, JSON with the standard
library) and the fields a dataset needs are picked out as text (`flatten`). Everything
after that is Polars expressions over columns: a field is parsed from its text, so a
mistyped value ("35000" for 35000, "true" for true) is coerced where that is
unambiguous and otherwise becomes a named problem, with the raw document kept beside it
for the `_rejects` dataset.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

import polars as pl

RAW = "raw"
UTC_MICROS = pl.Datetime("us", "UTC")


def flatten(documents: Iterable[Mapping], paths: Mapping[str, str]) -> dict[str, list[str | None]]:
    """`{column: [text of the value at its dotted path, per document]}`; None where missing.

    A path ending in `#length` gives the length of the array there, one ending in `#type`
    the Python type's name of the value (`str`, `int`, `Decimal128`, ...), so a parser can
    tell "35000" written as text from the number 35000. One pass over the documents: the
    only per-row Python in a transform, kept to dict lookups.
    """
    split = [(name, *_path(path)) for name, path in paths.items()]
    columns: dict[str, list[str | None]] = {name: [] for name in paths}
    appenders = [(columns[name].append, keys, suffix) for name, keys, suffix in split]
    for document in documents:
        for append, keys, suffix in appenders:
            value = document
            for key in keys:
                value = value.get(key) if type(value) is dict else None
                if value is None:
                    break
            if suffix == "#type":
                append(None if value is None else type(value).__name__)
            elif suffix == "#length" and type(value) is list:
                append(str(len(value)))
            else:
                append(value if type(value) is str else as_text(value))
    return columns


def _path(path: str) -> tuple[tuple[str, ...], str]:
    for suffix in ("#length", "#type"):
        if path.endswith(suffix):
            return tuple(path.removesuffix(suffix).split(".")), suffix
    return tuple(path.split(".")), ""


def as_text(value) -> str | None:
    """A value as the text a parser expects: JSON's spelling for booleans and numbers,
    ISO 8601 in UTC for dates, JSON for arrays and objects."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)  # ObjectId, Decimal128, Int64, ...


INT32_RANGE = (-(2**31), 2**31 - 1)
# Beyond 2^53 a float no longer holds every whole number: larger counts are not believed.
INT64_RANGE = (-(2**53), 2**53)


def to_int(value: pl.Expr, bounds: tuple[int, int] = INT64_RANGE) -> pl.Expr:
    """Whole numbers within `bounds`, also when written as text or as `35000.0`; anything
    else (a fraction, text, not finite, out of range) is null, judged value by value."""
    number = value.str.strip_chars().cast(pl.Float64, strict=False)
    whole = number.is_finite() & (number == number.round(0)) & number.is_between(*bounds)
    return pl.when(whole).then(number).cast(pl.Int64)


def to_money(value: pl.Expr, written_as: pl.Expr, largest: int) -> pl.Expr:
    """Whole amounts from 0 to `largest`, never guessed: a number of any BSON type must be
    whole; text must be digits only ("35000"), because "35.000" and "35,000" mean 35
    thousand in Jakarta and 35 elsewhere. Negative amounts pass (the caller names them);
    everything else is null."""
    text = value.str.strip_chars()
    digits = text.str.contains(r"^-?\d{1,19}$")
    number = text.cast(pl.Float64, strict=False)
    whole = number.is_finite() & (number == number.round(0))
    exact = (
        pl.when(digits).then(text.str.to_integer(strict=False)).otherwise(number.cast(pl.Int64, strict=False))
    )
    readable = pl.when(written_as == "str").then(digits).otherwise(whole & (written_as != "bool"))
    return pl.when(readable & (number <= largest)).then(exact)


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
