"""warehouse-marts: dbt builds the marts from the raw tables (each model, seed and test a
task in the Prefect UI, through prefect-dbt), then the Glamira dashboard is rebuilt.

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
from datetime import date
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import acreate_markdown_artifact

from blocks.warehouse import BigQueryWarehouse, DuckDBWarehouse
from flows.resources import Resources, resources, save_report, scratch
from flows.roles import MartsBlocks
from pipelines.alerts import alert_on_crash, alert_on_failure
from tasks.dbt_sources import (
    Relation,
    Skipped,
    SourcePlan,
    existing_relations,
    markdown,
    model_relations,
    source_tables,
)

DBT_DIR = Path(__file__).resolve().parents[1] / "dbt"
ROLES = ("warehouse", "lake")
DASHBOARD = "glamira-dashboard.html"


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
            default: the last few days before the newest one built.
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
    dashboard_note = "Not rebuilt (dashboard=False)."
    if dashboard:
        summary["dashboard"], dashboard_note = await _dashboard(used, model_relations(manifest))
        logger.info("dashboard: %s", dashboard_note)
    await acreate_markdown_artifact(
        key="warehouse-marts",
        markdown=markdown(status, plan, skipped, dashboard_note),
        description="dbt build of the marts",
    )
    return summary


async def _dashboard(used: Resources, relations: dict[str, Relation]) -> tuple[str | None, str]:
    """The dashboard rebuilt (its path and a note), or why not: it reads the Glamira
    marts, which a warehouse without Glamira's raw tables never gets."""
    from tasks.glamira.dashboard import MARTS, dashboard_html

    warehouse = used.warehouse
    needed = [relations[name] for name in MARTS]
    absent = sorted(set(needed) - await existing_relations(warehouse, needed))
    if absent:
        return None, (
            f"Skipped: the Glamira marts {', '.join(map(str, absent))} are not in the warehouse "
            "(the dashboard appears once glamira-daily has loaded a day and warehouse-marts has built them)."
        )
    path = await save_report(used.lake, DASHBOARD, await dashboard_html(warehouse))
    return path, f"Rebuilt at {path}."
