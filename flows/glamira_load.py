"""glamira-load: a landed lake partition into the warehouse's raw tables.

In production a deployment trigger starts it for every `lake.object.finalized` event of a
partition's manifest, whoever wrote it: the ingest flows emit those events, and the
Cloud Function in functions/gcs_to_prefect turns GCS notifications into the same events
for objects written by anything else. BigQuery loads straight from the gs:// objects;
the MERGE that commits a day has a job id derived from the manifest's bucket, name and
generation, so a retried or duplicated trigger never loads twice. On the embedded
default glamira-daily calls it directly and DuckDB reads the local parquet.
"""

from __future__ import annotations

from datetime import date

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from blocks.lake import LandedPartition, partition_prefix, rejects_prefix
from flows.resources import resources
from flows.roles import GlamiraBlocks
from pipelines.alerts import alert_on_crash, alert_on_failure
from pipelines.errors import ConfigurationError
from tasks.glamira.ingest import SOURCE
from tasks.warehouse import load_day

SCHEMA = "raw_glamira"
ROLES = ("lake", "warehouse")
# lake dataset -> (warehouse table, the column that holds the partition's day)
LOADS: dict[str, tuple[str, str]] = {
    "events": ("events", "day"),
    "_rejects/events": ("rejects", "day"),
    "locations": ("locations", "first_seen"),
    "products": ("products", "day"),
    "user_agents": ("user_agents", "first_seen"),
}


def _run_name() -> str:
    p = flow_run.parameters
    return f"glamira-load-{p.get('dataset', '?').replace('/', '-')}-{p.get('day', '?')}"


@flow(
    name="glamira-load", flow_run_name=_run_name, on_failure=[alert_on_failure], on_crashed=[alert_on_crash]
)
async def glamira_load(
    dataset: str,
    day: date,
    manifest: str | None = None,
    generation: str | None = None,
    bucket: str | None = None,
    blocks: GlamiraBlocks = GlamiraBlocks(),
) -> dict:
    """Replace the day of `raw_glamira.<table>` with the landed partition of `dataset`.

    Args:
        dataset: the lake dataset (`events`, `locations`, `products`, `user_agents`,
            `_rejects/events`); others are acknowledged and skipped.
        day: the partition's day.
        manifest, generation, bucket: the manifest object that was finalized (from the
            event); with them the load is idempotent across retried triggers.
        blocks: names of the saved blocks (lake and warehouse are used).
    """
    logger = get_run_logger()
    used = await resources(blocks, SOURCE, *ROLES)
    used.log(logger, *ROLES)
    lake, warehouse = used.lake, used.warehouse
    if dataset not in LOADS:
        logger.info("no warehouse table for lake dataset %r: nothing to load", dataset)
        return {"dataset": dataset, "day": day.isoformat(), "skipped": "not a loaded dataset"}
    table, day_column = LOADS[dataset]
    prefix = (
        rejects_prefix(SOURCE, dataset.removeprefix("_rejects/"), day)
        if dataset.startswith("_rejects/")
        else partition_prefix(SOURCE, dataset, day)
    )
    uris = await lake.manifest_parts(prefix)
    if uris is None:
        raise ConfigurationError(f"{lake.describe()} has no landed partition {prefix} (no manifest)")
    job_key = f"{bucket or ''}/{manifest}/{generation}" if manifest and generation else None
    rows = await load_day(
        warehouse, SCHEMA, table, day, [LandedPartition(prefix, 0, uris)], day_column, job_key
    )
    return {
        "dataset": dataset,
        "day": day.isoformat(),
        "table": f"{SCHEMA}.{table}",
        "rows": rows,
        "parts": len(uris),
    }
