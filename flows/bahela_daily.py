"""bahela-daily: one day of booth sessions and photos, joined, landed, loaded and mailed.

extract sessions (MongoDB) ─┐
                            ├─ transform ─ land (lake) ─ load (warehouse) ─ mail + Slack
extract images (Cloudinary) ┘                 └─ history (warehouse) ─ compare ─┘
"""

from __future__ import annotations

import asyncio
import time
from datetime import date, timedelta
from pathlib import Path

import polars as pl
from prefect import flow, get_run_logger
from prefect.artifacts import acreate_markdown_artifact
from prefect.runtime import flow_run

from blocks import resolve
from blocks.lake import Lake
from flows.roles import BahelaBlocks
from pipelines.alerts import alert_on_crash, alert_on_failure
from pipelines.calendar import DayWindow, yesterday
from pipelines.concurrency import one_run_per_day
from pipelines.errors import gather_all
from pipelines.settings import JAKARTA, Home
from tasks.bahela.daily import build_report, extract_images, extract_sessions, transform
from tasks.bahela.summary import TRAILING_DAYS
from tasks.lake import land_partition
from tasks.notify import post_to_slack, send_email
from tasks.warehouse import load_day, read_history

SOURCE = "bahela"
SCHEMA = "raw_bahela"
TIMEOUT_SECONDS = 3600
# what a run keeps for landing, loading and mailing after its sources have answered
AFTER_EXTRACT_SECONDS = 300


def _run_name() -> str:
    day = flow_run.parameters.get("day")
    return f"bahela-daily-{day or 'yesterday'}"


@flow(
    name="bahela-daily",
    flow_run_name=_run_name,
    description="Bahela booth sessions and photos of one day (Asia/Jakarta): lake, warehouse, daily summary mail.",
    timeout_seconds=TIMEOUT_SECONDS,
    on_failure=[alert_on_failure],
    on_crashed=[alert_on_crash],
)
async def bahela_daily(
    day: date | None = None,
    sites: list[str] | None = None,
    notify: bool = True,
    blocks: BahelaBlocks = BahelaBlocks(),
) -> dict:
    """Process one business day.

    Args:
        day: the day in Asia/Jakarta; default: yesterday there.
        sites: booths to read (their databases are `booth_<site>`); default: all found.
        notify: send the summary mail and Slack message.
        blocks: names of the saved blocks to use.
    """
    deadline = time.monotonic() + TIMEOUT_SECONDS - AFTER_EXTRACT_SECONDS
    day = day or yesterday(JAKARTA)
    home = Home.from_env()
    lake = await resolve.lake(blocks.lake, home)
    async with one_run_per_day(lake, "bahela-daily", day):
        return await _process_day(day, sites, notify, blocks, home, lake, deadline)


async def _process_day(
    day: date,
    sites: list[str] | None,
    notify: bool,
    blocks: BahelaBlocks,
    home: Home,
    lake: Lake,
    deadline: float,
) -> dict:
    logger = get_run_logger()
    samples = home.samples / SOURCE
    sessions_source, images_source, warehouse, mailer, slack = await asyncio.gather(
        resolve.mongodb(blocks.mongodb, samples / "mongodump"),
        resolve.cloudinary(blocks.cloudinary, samples / "cloudinary"),
        resolve.warehouse(blocks.warehouse, home),
        resolve.mailer(blocks.mailer, home),
        resolve.slack(blocks.slack),
    )
    resolve.log_choices(
        logger,
        sessions=sessions_source,
        images=images_source,
        lake=lake,
        warehouse=warehouse,
        mail=mailer,
        slack=slack,
    )

    window = DayWindow.of(day, JAKARTA)
    sessions, raw_images = await gather_all(
        extract_sessions(sessions_source, window, sites),
        extract_images(images_source, window, deadline),
    )
    tables = transform(sessions, raw_images, day)

    history = await read_history(
        warehouse, SCHEMA, "daily_summary", day - timedelta(days=TRAILING_DAYS), day - timedelta(days=1)
    )
    report = build_report(tables, history)

    datasets = {
        "sessions": tables.sessions,
        "images": tables.images,
        "daily_summary": tables.summary,
    }
    rejected = {name: tables.rejects.filter(pl.col("dataset") == name) for name in ("sessions", "images")}
    landed = await asyncio.gather(
        *(land_partition(lake, SOURCE, name, day, frame) for name, frame in datasets.items()),
        *(land_partition(lake, SOURCE, name, day, frame, rejects=True) for name, frame in rejected.items()),
    )
    by_table = {name: [partition] for name, partition in zip(datasets, landed, strict=False)}
    by_table["rejects"] = list(landed[len(datasets) :])
    for table, partitions in by_table.items():
        await load_day(warehouse, SCHEMA, table, day, partitions)

    report_path = _save_report_copy(home.reports, f"bahela-daily-{day.isoformat()}.html", report.html)
    if notify:
        await send_email(mailer, report.email, f"bahela-daily-{day.isoformat()}")
        await post_to_slack(slack, report.slack)
    await acreate_markdown_artifact(
        key="bahela-daily-summary",
        markdown=report.markdown,
        description=f"Bahela daily summary for {day.isoformat()}",
    )
    logger.info("%s; report copy at %s", report.subject, report_path)
    return {
        "day": day.isoformat(),
        "status": report.payload["status"],
        "revenue_idr": report.payload["totals"]["revenue_idr"]["value"],
        "transactions": report.payload["totals"]["transactions"]["value"],
        "sessions": tables.sessions.height,
        "photos": tables.images.height,
        "set_aside": tables.counts.set_aside,
        "rows": tables.counts.as_dict(),
        "lake": {p.prefix: p.rows for p in landed},
        "report": str(report_path),
    }


def _save_report_copy(folder: Path, name: str, html: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    target.write_text(html, encoding="utf-8")
    return target
