"""warehouse-marts: dbt builds the marts from the raw tables (each model, seed and test a
task in the Prefect UI, through prefect-dbt), then Glamira's days just built are checked
for unusual figures (tasks/glamira/anomalies.py) and the Glamira dashboard is rebuilt.

A warehouse that holds only one business's raw tables (or not yet every table of one)
builds what it can: everything downstream of a missing source table is left out, and the
run's result, log and artifact say what (tasks/dbt_sources.py). With no source table at
all there is nothing to build; without the Glamira marts there is no dashboard.

The dbt target follows the warehouse block: DuckDB -> target `local` on its file,
BigQuery -> target `bigquery` with the block's project, location, dataset prefix and
credentials. Credentials reach dbt through this process's environment only, never a file.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import polars as pl
from prefect import flow, get_run_logger, task
from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact

from blocks.warehouse import BigQueryWarehouse, DuckDBWarehouse
from flows.resources import Resources, resources, save_report, scratch
from flows.roles import MartsBlocks
from pipelines.alerts import AnomalyAlert, alert_on_crash, alert_on_failure, send_anomaly_alert
from tasks.dbt_sources import (
    Relation,
    Skipped,
    SourcePlan,
    existing_relations,
    markdown,
    model_relations,
    source_tables,
)
from tasks.lake import land_partition
from tasks.warehouse import load_day

DBT_DIR = Path(__file__).resolve().parents[1] / "dbt"
ROLES = ("warehouse", "lake")
GLAMIRA = "glamira"  # the lake source of the anomalies this flow lands
DASHBOARD = "glamira-dashboard.html"
INTERACTIVE_DASHBOARD = "glamira-dashboard-interactive.html"


def dbt_environment(warehouse: DuckDBWarehouse | BigQueryWarehouse, work: Path) -> dict[str, str]:
    """The environment the dbt profile reads (see dbt/profiles.yml); dbt's logs go to `work`."""
    common = {
        "DO_NOT_TRACK": "1",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_LOG_PATH": str(work / "logs"),
    }
    if isinstance(warehouse, DuckDBWarehouse):
        return {
            **common,
            "DBT_TARGET": "local",
            "PIPELINES_WAREHOUSE": str(Path(warehouse.path).expanduser().resolve()),
        }
    env = {
        **common,
        "DBT_TARGET": "bigquery",
        "DBT_BIGQUERY_PROJECT": warehouse._project(),
        "DBT_BIGQUERY_LOCATION": warehouse.location,
        "DBT_BIGQUERY_DATASET": f"{warehouse.dataset_prefix}marts",
    }
    if warehouse.api_endpoint:  # an emulator: no real authentication
        env.update(
            DBT_BIGQUERY_METHOD="oauth-secrets",
            DBT_BIGQUERY_TOKEN="emulator",
            DBT_BIGQUERY_API_ENDPOINT=warehouse.api_endpoint,
            DBT_BIGQUERY_JOB_RETRIES="0",
        )
    elif warehouse.gcp_credentials.service_account_info:
        env.update(
            DBT_BIGQUERY_METHOD="service-account-json",
            DBT_BIGQUERY_KEYFILE_JSON=json.dumps(
                warehouse.gcp_credentials.service_account_info.get_secret_value()
            ),
        )
    else:
        env["DBT_BIGQUERY_METHOD"] = "oauth"  # the worker's application default credentials
    return env


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def dbt_vars(warehouse, start_day: date | None, end_day: date | None) -> dict:
    values: dict = {}
    if isinstance(warehouse, BigQueryWarehouse) and warehouse.dataset_prefix:
        values.update(raw_prefix=warehouse.dataset_prefix, schema_prefix=warehouse.dataset_prefix)
    if start_day:
        values.update(start_day=start_day.isoformat(), end_day=(end_day or start_day).isoformat())
    return values


def node_statuses(result) -> dict[str, int]:
    """How many nodes of a dbt command ended in each status ("success", "pass", ...)."""
    return dict(Counter(str(node.status) for node in result.result or []))


def _wait_for_node_tasks(timeout: float = 120) -> None:
    """prefect-dbt reports each node's task from a thread that can outlive `invoke`; let
    them finish while the API is there (a temporary local API stops with the flow)."""
    import threading
    import time

    deadline = time.monotonic() + timeout
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and thread.name.endswith("(run_task)"):
            thread.join(max(0.0, deadline - time.monotonic()))


def _dbt_log_level():
    """Prefect's logging level in dbt's words (prefect-dbt's own default fails on
    WARNING and CRITICAL, which dbt calls `warn` and `error`)."""
    from dbt_common.events.base_types import EventLevel
    from prefect.settings import get_current_settings

    level = get_current_settings().logging.level.lower()
    return EventLevel({"warning": "warn", "critical": "error"}.get(level, level))


# dbt keeps its adapters, flags and invocation context in process globals (prefect-dbt's
# runner shares them) and the profile reads os.environ: one invocation at a time per
# process, or two marts runs in one worker would build against each other's settings
_DBT = threading.Lock()


@contextlib.contextmanager
def _dbt_session(warehouse: DuckDBWarehouse | BigQueryWarehouse, work: Path) -> Iterator[None]:
    with _DBT, _environment(dbt_environment(warehouse, work)):
        yield


def _dbt(args: list[str]):
    from dbt.cli.main import dbtRunner

    result = dbtRunner().invoke([*args, "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR)])
    if not result.success:
        raise RuntimeError(f"dbt {args[0]} failed: {result.exception}")
    return result.result


def dbt_parse(common: list[str]):
    """The project's manifest, with the sources' schemas as this warehouse names them."""
    return _dbt(["parse", *common, "--quiet"])


def dbt_list(common: list[str], selection: list[str]) -> Skipped:
    """The nodes `selection` picks (what an `--exclude` of it leaves out)."""
    keys = ["--output", "json", "--output-keys", "resource_type name"]
    # log level none: `ls` prints its list to stdout otherwise, even with --quiet
    listed = _dbt(["ls", *common, "--select", *selection, *keys, "--log-level", "none"])
    rows = [json.loads(line) for line in listed or []]
    return Skipped.of((row["resource_type"], row["name"]) for row in rows)


@task(name="dbt-docs", cache_policy=None)
def dbt_docs(target_path: str) -> str:
    from dbt.cli.main import dbtRunner

    result = dbtRunner().invoke(
        [
            "docs",
            "generate",
            "--project-dir",
            str(DBT_DIR),
            "--profiles-dir",
            str(DBT_DIR),
            "--target-path",
            target_path,
        ]
    )
    if not result.success:
        raise RuntimeError(f"dbt docs generate failed: {result.exception}")
    return str(Path(target_path) / "index.html")


@flow(
    name="warehouse-marts",
    description="dbt build of the Bahela and Glamira marts (each model a task), then the Glamira dashboard.",
    timeout_seconds=3 * 3600,
    on_failure=[alert_on_failure],
    on_crashed=[alert_on_crash],
)
async def warehouse_marts(
    start_day: date | None = None,
    end_day: date | None = None,
    select: str | None = None,
    full_refresh: bool = False,
    docs: bool = False,
    dashboard: bool = True,
    blocks: MartsBlocks = MartsBlocks(),
) -> dict:
    """Build the marts.

    Args:
        start_day, end_day: days the incremental facts rebuild (the days just loaded);
            default: the last few days before the newest one built. Also the days
            checked for Glamira anomalies (default: the latest day in the marts).
        select: a dbt selection (e.g. `+fct_sales_order_line`); default: everything.
        full_refresh: rebuild the incremental facts from scratch.
        docs: also run `dbt docs generate` (the site lands in the dbt target folder).
        dashboard: rebuild the Glamira dashboard in reports/ afterwards.
        blocks: names of the saved blocks: the warehouse dbt builds in, and the lake the
            dashboard lands in (production; locally it goes to PIPELINES_HOME/reports).
    """
    logger = get_run_logger()
    used = await resources(blocks, "marts", *ROLES)
    used.log(logger, *ROLES)
    with scratch("dbt") as work:
        return await _build(used, work, start_day, end_day, select, full_refresh, docs, dashboard)


async def _build(
    used: Resources,
    work: Path,
    start_day: date | None,
    end_day: date | None,
    select: str | None,
    full_refresh: bool,
    docs: bool,
    dashboard: bool,
) -> dict:
    from prefect_dbt import PrefectDbtRunner, PrefectDbtSettings

    logger = get_run_logger()
    warehouse = used.warehouse
    target_path = work / "target"
    common = ["--target-path", str(target_path)]
    if values := dbt_vars(warehouse, start_day, end_day):
        common += ["--vars", json.dumps(values)]
    with _dbt_session(warehouse, work):
        manifest = dbt_parse(common)
    sources = source_tables(manifest)
    plan = SourcePlan.of(sources, await existing_relations(warehouse, [t.relation for t in sources]))
    status: dict[str, int] = {}
    skipped = Skipped()
    docs_site = None
    if plan.nothing_to_build:
        logger.warning(
            "dbt build skipped: none of the dbt project's source tables is in the %s (%s); "
            "load a business's raw tables first (bahela-daily, glamira-daily)",
            warehouse.describe(),
            plan.describe_missing(),
        )
    else:
        args = ["build", *common]
        if select:
            # a test runs only when every model it reads is in the selection: a partial
            # rebuild must not test models it left as they were, or never built
            args += ["--select", select, "--indirect-selection", "cautious"]
        if plan.missing:
            args += ["--exclude", *plan.exclude]
        if full_refresh:
            args.append("--full-refresh")
        with _dbt_session(warehouse, work):
            if plan.missing:
                skipped = dbt_list(common, plan.skipped_selection(select))
                logger.warning(
                    "source tables missing from the %s: %s; dbt build leaves out (--exclude %s) %s",
                    warehouse.describe(),
                    plan.describe_missing(),
                    " ".join(plan.exclude),
                    skipped.line(),
                )
            settings = PrefectDbtSettings(
                project_dir=DBT_DIR, profiles_dir=DBT_DIR, target_path=target_path, log_level=_dbt_log_level()
            )
            result = PrefectDbtRunner(settings=settings, raise_on_failure=True).invoke(args)
            _wait_for_node_tasks()
            docs_site = dbt_docs(str(target_path)) if docs else None
        status = node_statuses(result)
    summary = {
        "dbt": status,
        "docs": docs_site,
        "missing_sources": plan.missing_by_source(),
        "skipped": skipped.nodes,
        "dashboard": None,
    }
    check, unusual_days = await _anomalies(used, model_relations(manifest), start_day, end_day)
    summary["anomalies"] = _anomaly_summary(check, unusual_days)
    dashboard_note = "Not rebuilt (dashboard=False)."
    if dashboard:
        anomalies = check.anomalies if check else None
        summary["dashboard"], dashboard_note = await _dashboard(used, model_relations(manifest), anomalies)
        logger.info("dashboard: %s", dashboard_note)
    await acreate_markdown_artifact(
        key="warehouse-marts",
        markdown=markdown(status, plan, skipped, dashboard_note) + "\n\n" + unusual_days,
        description="dbt build of the marts",
    )
    return summary


async def _anomalies(
    used: Resources, relations: dict[str, Relation], start_day: date | None, end_day: date | None
):
    """Glamira's unusual days among the days this run built (default: the latest day in
    the marts): the check (None without the Glamira marts) and the artifact's section.
    They go to a table artifact, the lake (dataset `anomalies`, one partition per day
    checked) and, the severe ones, to the alert channels."""
    from tasks.glamira import anomalies as glamira

    warehouse = used.warehouse
    needed = [relations[name] for name in glamira.MARTS]
    if absent := sorted(set(needed) - await existing_relations(warehouse, needed)):
        return None, (
            "## Unusual days (Glamira)\n\nNot checked: the Glamira marts "
            f"{', '.join(map(str, absent))} are not in the warehouse."
        )
    days = None
    if start_day:
        end = end_day or start_day
        days = [start_day + timedelta(days=n) for n in range((end - start_day).days + 1)]
    check = await glamira.glamira_check(warehouse, days)
    logger = get_run_logger()
    logger.info("Glamira anomalies: %s", check.note)
    if check.anomalies.height:
        await acreate_table_artifact(
            key=glamira.ARTIFACT, table=glamira.table_rows(check.anomalies), description=check.note
        )
    for day in sorted(set(check.days) - set(check.unjudged)):
        frame = check.anomalies.filter(pl.col("day") == day)
        landed = await land_partition(used.lake, GLAMIRA, "anomalies", day, frame)
        # loaded here, not by glamira-load: the day's anomalies are this run's, and a
        # laptop's embedded default has no trigger
        await load_day(warehouse, f"raw_{GLAMIRA}", "anomalies", day, [landed])
    severe = [u for u in glamira.by_cause(check.anomalies) if u["severity"] == "severe"]
    if severe:
        span = check.days[0].isoformat() + ("" if len(check.days) == 1 else f"…{check.days[-1].isoformat()}")
        await send_anomaly_alert(AnomalyAlert("warehouse-marts (Glamira)", span, severe, glamira.ARTIFACT))
    return check, glamira.markdown_section(check)


def _anomaly_summary(check, section: str) -> dict:
    if check is None:
        return {"checked": [], "count": 0, "severe": [], "note": section.splitlines()[-1]}
    from tasks.glamira.anomalies import by_cause

    return {
        "checked": [d.isoformat() for d in check.days],
        "count": check.anomalies.height,
        "severe": [u["headline"] for u in by_cause(check.anomalies) if u["severity"] == "severe"],
        "note": check.note,
    }


async def _dashboard(
    used: Resources, relations: dict[str, Relation], anomalies=None
) -> tuple[str | None, str]:
    """The dashboard rebuilt (its path and a note), or why not: it reads the Glamira
    marts, which a warehouse without Glamira's raw tables never gets."""
    from tasks.glamira.dashboard import MARTS, dashboard_html
    from tasks.glamira.interactive import interactive_html

    warehouse = used.warehouse
    needed = [relations[name] for name in MARTS]
    absent = sorted(set(needed) - await existing_relations(warehouse, needed))
    if absent:
        return None, (
            f"Skipped: the Glamira marts {', '.join(map(str, absent))} are not in the warehouse "
            "(the dashboard appears once glamira-daily has loaded a day and warehouse-marts has built them)."
        )
    path = await save_report(used.lake, DASHBOARD, await dashboard_html(warehouse))
    interactive = await save_report(
        used.lake, INTERACTIVE_DASHBOARD, await interactive_html(warehouse, anomalies)
    )
    return path, f"Rebuilt at {path}; interactive (filters, tooltips; opens offline) at {interactive}."
