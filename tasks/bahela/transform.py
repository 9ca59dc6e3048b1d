"""One Bahela day from raw extracts to the tables the lake and warehouse receive."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date

import polars as pl

from tasks.bahela.images import attach_image_totals, normalise_images
from tasks.bahela.sessions import normalise_sessions
from tasks.bahela.summary import daily_summary


@dataclass(frozen=True)
class DayCounts:
    """Rows read, kept and set aside: nothing leaves the pipeline uncounted."""

    sessions_read: int
    sessions_kept: int
    sessions_rejected: int
    sessions_duplicate: int
    images_read: int
    images_kept: int
    images_rejected: int
    images_repeated: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


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
    raw_sessions: pl.DataFrame, raw_images: pl.DataFrame, sites: list[str], day: date
) -> DayTables:
    sessions = normalise_sessions(raw_sessions, day)
    images = normalise_images(raw_images, sessions.seen, day)
    with_images = attach_image_totals(sessions.sessions, images.images)
    rejects = pl.concat([sessions.rejects, images.rejects])
    counts = DayCounts(
        sessions_read=sessions.read,
        sessions_kept=sessions.sessions.height,
        sessions_rejected=sessions.rejects.height - sessions.duplicates,
        sessions_duplicate=sessions.duplicates,
        images_read=images.read,
        images_kept=images.images.height,
        images_rejected=images.rejects.height,
        images_repeated=images.repeated,
    )
    # every document read is either kept or set aside with a reason
    assert counts.sessions_read == counts.sessions_kept + counts.sessions_rejected + counts.sessions_duplicate
    assert counts.images_read == counts.images_kept + counts.images_rejected
    return DayTables(
        day=day,
        sites=sites,
        sessions=with_images,
        images=images.images,
        summary=daily_summary(with_images, sites, day),
        rejects=rejects,
        counts=counts,
    )
