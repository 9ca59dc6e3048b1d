"""bahela-daily: one day of booth sessions and photos, joined, landed, loaded and mailed.

extract sessions (MongoDB) ─┐
                            ├─ transform ─ land (lake) ─ load (warehouse) ─ mail + Slack (+ alert)
extract images (Cloudinary) ┘                 └─ history (warehouse) ─ compare ─┘
                                              └─ anomalies (baseline/forecast) ─┘
"""

from __future__ import annotations

import asyncio
import time
from datetime import date, timedelta

import polars as pl
from prefect import flow, get_run_logger
from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact
from prefect.runtime import flow_run

from flows.resources import Resources, resources, save_report
from flows.roles import BahelaBlocks
from pipelines.alerts import AnomalyAlert, alert_on_crash, alert_on_failure, send_anomaly_alert
from pipelines.calendar import DayWindow, yesterday
from pipelines.concurrency import one_run_per_day
from pipelines.errors import gather_all
from pipelines.settings import JAKARTA
from tasks.anomalies import BASELINE_WEEKS
from tasks.bahela.anomalies import by_cause
from tasks.bahela.daily import (
    build_report,
    detect_anomalies,
    extract_images,
    extract_sessions,
    read_forecasts,
    read_health_history,
    transform,
)
from tasks.bahela.summary import TRAILING_DAYS
from tasks.lake import land_partition
from tasks.notify import post_to_slack, send_email
from tasks.warehouse import load_day, read_history

SOURCE = "bahela"
SCHEMA = "raw_bahela"
ROLES = ("mongodb", "cloudinary", "lake", "warehouse", "mailer", "slack")
TIMEOUT_SECONDS = 3600
# what a run keeps for landing, loading and mailing after its sources have answered
AFTER_EXTRACT_SECONDS = 300
# one query for both the trailing comparison and the same-weekday baseline of anomalies
HISTORY_DAYS = max(TRAILING_DAYS, 7 * BASELINE_WEEKS + 1)
ANOMALIES_ARTIFACT = "bahela-anomalies"


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
    used = await resources(blocks, SOURCE, *ROLES)  # every role, before any work
    used.log(get_run_logger(), *ROLES)
    async with one_run_per_day(used.lake, "bahela-daily", day):
        return await _process_day(day, sites, notify, used, deadline)


async def _process_day(
    day: date, sites: list[str] | None, notify: bool, used: Resources, deadline: float
) -> dict:
    logger = get_run_logger()
    lake, warehouse = used.lake, used.warehouse
    window = DayWindow.of(day, JAKARTA)
    sessions, raw_images = await gather_all(
        extract_sessions(used.mongodb, window, sites),
        extract_images(used.cloudinary, window, deadline),
    )
    tables = transform(sessions, raw_images, day)

    first, last = day - timedelta(days=HISTORY_DAYS), day - timedelta(days=1)
    history, health, forecasts = await asyncio.gather(
        read_history(warehouse, SCHEMA, "daily_summary", first, last),
        read_health_history(warehouse, SCHEMA, first, last),
        read_forecasts(warehouse, SCHEMA, day),
    )
    anomalies = detect_anomalies(tables, history, health, forecasts)
    report = build_report(tables, history, anomalies)

    datasets = {
        "sessions": tables.sessions,
        "images": tables.images,
        "daily_summary": tables.summary,
        "anomalies": anomalies,
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

    report_path = await save_report(lake, f"bahela-daily-{day.isoformat()}.html", report.html)
    if notify:
        await send_email(used.mailer, report.email, f"bahela-daily-{day.isoformat()}")
        await post_to_slack(used.slack, report.slack)
    await acreate_markdown_artifact(
        key="bahela-daily-summary",
        markdown=report.markdown,
        description=f"Bahela daily summary for {day.isoformat()}",
    )
    await acreate_table_artifact(
        key=ANOMALIES_ARTIFACT,
        table=[
            {k: (v.isoformat() if k == "day" else v) for k, v in row.items()}
            for row in anomalies.iter_rows(named=True)
        ],
        description=f"Bahela unusual figures of {day.isoformat()}: "
        + (f"{anomalies.height}, most severe first" if anomalies.height else "none"),
    )
    unusual = by_cause(anomalies)
    severe = [u for u in unusual if u["severity"] == "severe"]
    if severe and notify:
        await send_anomaly_alert(AnomalyAlert("bahela-daily", day.isoformat(), severe, ANOMALIES_ARTIFACT))
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
        "anomalies": {"count": anomalies.height, "severe": [u["headline"] for u in severe]},
        "lake": {p.prefix: p.rows for p in landed},
        "report": report_path,
    }
