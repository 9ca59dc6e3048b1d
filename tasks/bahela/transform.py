"""One Bahela day from raw extracts to the tables the lake and warehouse receive."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from tasks.bahela.images import attach_image_totals, normalise_images
from tasks.bahela.sessions import normalise_sessions
from tasks.bahela.summary import daily_summary
from tasks.reconcile import Reconciliation


@dataclass(frozen=True)
class DayCounts:
    """Where every document read went: nothing leaves the pipeline uncounted."""

    sessions: Reconciliation
    images: Reconciliation
    sessions_duplicate: int  # set aside too: a second copy of a session already kept

    @property
    def set_aside(self) -> int:
        """Rows in the `_rejects` datasets, each with its reason: one number, everywhere."""
        return self.sessions.set_aside + self.images.set_aside

    def as_dict(self) -> dict:
        return {
            "sessions": self.sessions.as_dict(),
            "sessions_duplicate": self.sessions_duplicate,
            "images": self.images.as_dict(),
            "set_aside": self.set_aside,
        }


@dataclass(frozen=True)
class DayTables:
    day: date
    sites: list[str]
    sessions: pl.DataFrame  # SESSIONS_SCHEMA + image totals
    images: pl.DataFrame  # IMAGES_SCHEMA
    summary: pl.DataFrame  # SUMMARY_SCHEMA, one row per booth
    rejects: pl.DataFrame  # REJECTS_SCHEMA, sessions and images
    counts: DayCounts

    @property
    def has_sessions(self) -> bool:
        return self.sessions.height > 0


def transform_day(
    raw_sessions: pl.DataFrame,
    raw_images: pl.DataFrame,
    sites: list[str],
    day: date,
    sessions_in_source: int | None = None,
) -> DayTables:
    """The day's tables. `sessions_in_source`: how many session documents the source
    itself counted for the extract's query; the day fails (`ReconciliationError`) unless
    every one of them is kept, set aside or another day's."""
    sessions = normalise_sessions(raw_sessions, day)
    images = normalise_images(raw_images, sessions.seen, day)
    with_images = attach_image_totals(sessions.sessions, images.images)
    rejects = pl.concat([sessions.rejects, images.rejects])
    counts = DayCounts(
        sessions=Reconciliation(
            sessions_in_source,
            sessions.read,
            sessions.sessions.height,
            sessions.rejects.height,
            sessions.other_days,
        ).check(f"bahela sessions of {day}"),
        images=Reconciliation(
            None, images.read, images.images.height, images.rejects.height, images.other_days, images.repeated
        ).check(f"bahela images of {day}"),
        sessions_duplicate=sessions.duplicates,
    )
    return DayTables(
        day=day,
        sites=sites,
        sessions=with_images,
        images=images.images,
        summary=daily_summary(with_images, sites, day),
        rejects=rejects,
        counts=counts,
    )
