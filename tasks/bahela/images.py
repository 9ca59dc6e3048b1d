"""Bahela images: Cloudinary resources -> the day's images, each tied to its session.

An image belongs to the session whose code prefixes its `public_id` (`pg7kl1-7`). The
extract reads a window wider than the day, because a late session's photos upload after
midnight; an image is the day's when its session is, and otherwise belongs to the day
its own session (or, for an unknown session, its upload time) falls on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

import polars as pl

from pipelines.settings import JAKARTA
from tasks.bahela.sessions import REJECTS_SCHEMA
from tasks.fields import (
    INT32_RANGE,
    INT64_RANGE,
    RAW,
    UTC_MICROS,
    flatten,
    local_day,
    reasons,
    to_float,
    to_int,
    to_timestamp,
    unparsed,
)

RAW_IMAGES_SCHEMA = {RAW: pl.String}

IMAGES_SCHEMA: dict[str, pl.DataType] = {
    "day": pl.Date(),
    "site": pl.String(),
    "session_code": pl.String(),
    "image_number": pl.Int32(),
    "asset_id": pl.String(),
    "public_id": pl.String(),
    "asset_folder": pl.String(),
    "filename": pl.String(),
    "format": pl.String(),
    "version": pl.Int64(),
    "resource_type": pl.String(),
    "type": pl.String(),
    "created_at": UTC_MICROS,
    "bytes": pl.Int64(),
    "width": pl.Int32(),
    "height": pl.Int32(),
    "aspect_ratio": pl.Float64(),
    "pixels": pl.Int64(),
    "url": pl.String(),
    "secure_url": pl.String(),
}

IMAGE_TOTALS_SCHEMA = {
    "image_count": pl.Int32(),
    "image_bytes": pl.Int64(),
    "image_pixels": pl.Int64(),
}


@dataclass(frozen=True)
class ImagesOfDay:
    images: pl.DataFrame  # IMAGES_SCHEMA
    rejects: pl.DataFrame  # REJECTS_SCHEMA
    read: int  # every resource the extract handed over
    repeated: int  # the same asset of the day returned twice by the API (paging shifts)
    other_days: dict[str, int]  # resources of other days: ISO day -> count


_TEXT = [
    "asset_id",
    "public_id",
    "asset_folder",
    "filename",
    "format",
    "resource_type",
    "type",
    "url",
    "secure_url",
]
_INTS = ["version", "bytes", "width", "height", "pixels"]


def _bounds(name: str) -> tuple[int, int]:
    """What the column's type holds: a value beyond it is rejected, never cast into it."""
    return INT32_RANGE if IMAGES_SCHEMA[name] == pl.Int32() else INT64_RANGE


_PARSED = [*_INTS, "created_at", "aspect_ratio"]


def normalise_images(raw: pl.DataFrame, seen_sessions: pl.DataFrame, day: date) -> ImagesOfDay:
    """Parse the resources, tie each to a session and keep those of `day`.

    `seen_sessions` is `SessionsOfDay.seen`: every session code in the extract with its
    day and whether it was kept.
    """
    resources, broken = _decode(raw[RAW])
    texts = flatten(resources, {name: name for name in _TEXT} | {f"_text_{n}": n for n in _PARSED})
    parsed = (
        raw.lazy()
        .with_columns(
            *(pl.Series(name, values, dtype=pl.String) for name, values in texts.items()),
            pl.Series("_decode_problem", broken, dtype=pl.String),
        )
        .with_columns(
            *(to_int(pl.col(f"_text_{name}"), _bounds(name)).alias(name) for name in _INTS),
            to_timestamp(pl.col("_text_created_at")).alias("created_at"),
            to_float(pl.col("_text_aspect_ratio")).alias("aspect_ratio"),
            # `public_id` may carry a folder path: the code is in its last segment
            pl.col("public_id").str.extract(r"([^/]+)-(\d+)$", 1).alias("session_code"),
            pl.col("public_id").str.extract(r"-(\d+)$", 1).cast(pl.Int32, strict=False).alias("image_number"),
        )
        .collect()
    )

    sessions = seen_sessions.rename({"day": "session_day", "site": "session_site"})
    # A code seen on several days (vanishingly rare) keeps the kept session of `day`.
    sessions = sessions.sort(pl.col("session_day") == day, "kept", descending=True).unique(
        "session_code", keep="first"
    )
    joined = parsed.join(sessions, on="session_code", how="left", maintain_order="left").with_columns(
        # an unreadable resource cannot be placed: it is rejected on the day that read it
        day=pl.coalesce("session_day", local_day(pl.col("created_at"), JAKARTA.key), pl.lit(day)),
        site=pl.coalesce("session_site", pl.col("asset_folder").str.extract(r"([^/]+)$", 1)),
        problems=reasons(
            [
                pl.col("_decode_problem"),
                pl.when(pl.col("asset_id").is_null() & pl.col("_decode_problem").is_null()).then(
                    pl.lit("missing asset_id")
                ),
                pl.when(pl.col("public_id").is_null()).then(pl.lit("missing public_id")),
                pl.when(pl.col("public_id").is_not_null() & pl.col("session_code").is_null()).then(
                    pl.lit("public_id is not <session code>-<n>")
                ),
                *(
                    unparsed(name, "a whole number in range", pl.col(f"_text_{name}"), pl.col(name))
                    for name in _INTS
                ),
                unparsed("created_at", "a timestamp", pl.col("_text_created_at"), pl.col("created_at")),
                pl.when(pl.col("session_code").is_not_null() & pl.col("session_day").is_null()).then(
                    pl.format("unknown session: {}", "session_code")
                ),
                pl.when(pl.col("kept").not_()).then(pl.format("session rejected: {}", "session_code")),
            ]
        ),
    )
    in_day = joined.filter(pl.col("day") == day)
    # the API can return an asset twice when paging shifts; rows without an id are kept
    # as they are (each becomes a reject of its own)
    of_day = pl.concat(
        [
            in_day.filter(pl.col("asset_id").is_not_null()).unique(
                "asset_id", keep="first", maintain_order=True
            ),
            in_day.filter(pl.col("asset_id").is_null()),
        ]
    )
    repeated = in_day.height - of_day.height
    images = (
        of_day.filter(pl.col("problems").is_null())
        .select(list(IMAGES_SCHEMA))
        .cast(IMAGES_SCHEMA)
        .sort("site", "session_code", "image_number")
    )
    rejects = (
        of_day.filter(pl.col("problems").is_not_null())
        .select(
            "day",
            dataset=pl.lit("images"),
            site="site",
            record_id=pl.coalesce("asset_id", "public_id", pl.lit("<no id>")),
            reason="problems",
            raw=RAW,
        )
        .cast(REJECTS_SCHEMA)
        .sort("record_id")
    )
    elsewhere = joined.filter(pl.col("day") != day).group_by("day").len().sort("day")
    return ImagesOfDay(
        images=images,
        rejects=rejects,
        read=raw.height,
        repeated=repeated,
        other_days={d.isoformat(): n for d, n in elsewhere.iter_rows()},
    )


def _decode(raw: pl.Series) -> tuple[list[dict], list[str | None]]:
    """Each resource parsed once; one that is not a JSON object becomes a problem."""
    decoded: list[dict] = []
    problems: list[str | None] = []
    for text in raw:
        try:
            value = json.loads(text)
        except (TypeError, ValueError) as exc:
            value, problem = {}, f"not valid JSON: {exc}"[:200]
        else:
            problem = None if isinstance(value, dict) else "not a JSON object"
        decoded.append(value if isinstance(value, dict) else {})
        problems.append(problem)
    return decoded, problems


def attach_image_totals(sessions: pl.DataFrame, images: pl.DataFrame) -> pl.DataFrame:
    """Each session with its images' count, bytes and pixels (zero when it has none)."""
    totals = images.group_by("site", "session_code").agg(
        image_count=pl.len(),
        image_bytes=pl.col("bytes").sum(),
        image_pixels=pl.col("pixels").sum(),
    )
    return (
        sessions.join(totals, on=["site", "session_code"], how="left", maintain_order="left")
        .with_columns(pl.col(list(IMAGE_TOTALS_SCHEMA)).fill_null(0))
        .cast(IMAGE_TOTALS_SCHEMA)
    )
