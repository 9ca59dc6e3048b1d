"""`pipelines`: run the Bahela and Glamira flows on this machine.

Without saved Prefect blocks everything runs on the embedded default: sample data in,
results under PIPELINES_HOME (default ./.data). With blocks saved on a Prefect server or
Prefect Cloud, the same commands use MongoDB, Cloudinary, GCS, BigQuery, SendGrid and
Slack.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import signal
import sys
import time
import traceback
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import typer

from pipelines.calendar import days_between, yesterday
from pipelines.settings import HOME_ENV, JAKARTA, PROFILE_ENV, Home, Profile

app = typer.Typer(
    help=__doc__,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


@app.callback()
def _options(
    profile: Annotated[
        Profile | None,
        typer.Option(
            help="local: roles without a saved block use the embedded default under PIPELINES_HOME. "
            "production: every role must be a saved block, checked before any work. "
            f"Default: ${PROFILE_ENV}, else local.",
        ),
    ] = None,
) -> None:
    if profile is not None:
        os.environ[PROFILE_ENV] = profile.value  # the flows read it, in this process and its children


def _require_demo() -> None:
    import importlib.util

    if importlib.util.find_spec("demo") is None:
        typer.echo(
            "The demo and its sample data are not part of this installation (the production image leaves "
            "them out): run them from a checkout of the repository.",
            err=True,
        )
        raise typer.Exit(2)


@contextlib.contextmanager
def _local_shops() -> Iterator[None]:
    """Runs in this process on the embedded default crawl the demo's stand-in shops when
    their pages are there: served on 127.0.0.1 for as long as the runs last (the flows
    never start demo code themselves)."""
    home = Home.from_env()
    catalog = home.samples / "glamira" / "catalog"
    if Profile.from_env() is not Profile.LOCAL or not catalog.is_dir():
        yield
        return
    try:
        from demo.catalog_server import CatalogServer
    except ImportError:  # an installation without the demo (the production image)
        yield
        return
    from blocks.crawl import ProductCrawl
    from blocks.resolve import local_default

    with CatalogServer(catalog) as shops, local_default("crawl", ProductCrawl.local_copy(shops.url)):
        yield


# flow name -> "module:function"
FLOWS = {
    "bahela-daily": "flows.bahela_daily:bahela_daily",
    "bahela-weekly": "flows.bahela_weekly:bahela_weekly",
    "glamira-daily": "flows.glamira_daily:glamira_daily",
    "glamira-events": "flows.glamira_daily:glamira_events",
    "glamira-locations": "flows.glamira_daily:glamira_locations",
    "glamira-products": "flows.glamira_daily:glamira_products",
    "glamira-load": "flows.glamira_load:glamira_load",
    "warehouse-marts": "flows.warehouse_marts:warehouse_marts",
}
# Eight weeks: the daily flow's history is what the weekly forecast trains and backtests on.
DEMO_DAYS = 56
# Glamira: a few small days (the real ones hold ~700k events; see bench/ for that scale).
GLAMIRA_DEMO_DAYS = 3
GLAMIRA_DEMO_EVENTS = 20_000


def _prepare_prefect(quiet: bool) -> None:
    """Settings Prefect reads at import: a patient local API, no telemetry, quiet logs."""
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    if not os.environ.get("PREFECT_API_URL"):
        # The temporary local API logs harmless errors when it stops mid-flush; a real
        # server's logs are its operator's business, so only the temporary one is muted.
        os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "CRITICAL")
    if quiet:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    _temporary_api_ends_with_us()


def _temporary_api_ends_with_us() -> None:
    """Without a configured server Prefect starts a temporary one in a subprocess; make
    it end with this process however this one ends, even killed (see
    pipelines/temporary_api.py). A configured server is not ours to stop."""
    from prefect.settings import get_current_settings

    if not get_current_settings().api.url:
        from pipelines import temporary_api

        temporary_api.use_for_prefect()


def _flow(name: str):
    if name not in FLOWS:
        raise typer.BadParameter(f"unknown flow {name!r}; known: {', '.join(FLOWS)}")
    module, function = FLOWS[name].split(":")
    return getattr(importlib.import_module(module), function)


def _parse_day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date in YYYY-MM-DD form") from None


def _sample_window(days: int, last_day: date | None) -> tuple[date, date]:
    last = last_day or yesterday(JAKARTA)
    return last - timedelta(days=days - 1), last


def _ensure_samples(home: Home, first: date, last: date, seed: int, force: bool = False, incidents=()) -> str:
    """`incidents`: demo.bahela.Incident to inject (the demo's one, on its mailing day)."""
    from demo import bahela

    folders = bahela.SampleFolders(home.samples / "bahela")
    started = time.perf_counter()
    if force:
        bahela.write(bahela.generate(first, last, seed, incidents=incidents), folders)
        written = True
    else:
        written = bahela.ensure(folders, first, last, seed, incidents)
    if written:
        return f"generated {first} … {last} in {time.perf_counter() - started:.1f}s → {folders.root}"
    return f"already present for {first} … {last} in {folders.root}"


def _glamira_days(days: int, last_day: date | None) -> list[date]:
    from datetime import UTC

    last = last_day or yesterday(UTC)
    return [last - timedelta(days=n) for n in range(days - 1, -1, -1)]


def _ensure_glamira_samples(
    home: Home, days: list[date], events_per_day: int, seed: int, force: bool = False
) -> str:
    from demo import glamira
    from demo.ip2location_bin import build_demo_bin

    folders = glamira.GlamiraSampleFolders(home.samples / "glamira")
    started = time.perf_counter()
    if force and folders.manifest.exists():
        folders.manifest.unlink()
    written = glamira.ensure(folders, days, events_per_day=events_per_day, seed=seed)
    demo_bin = home.samples / "glamira" / "ip2location" / "IP2LOCATION-DEMO-DB11.BIN"
    if force or not demo_bin.exists():
        demo_bin.parent.mkdir(parents=True, exist_ok=True)
        build_demo_bin(demo_bin)
    span = f"{days[0]} … {days[-1]}, {events_per_day:,} events a day"
    if written:
        return f"generated {span} in {time.perf_counter() - started:.1f}s → {folders.root}"
    return f"already present for {span} in {folders.root}"


@app.command("demo")
def demo(
    days: Annotated[int, typer.Option(min=1, help="Days of history to run.")] = DEMO_DAYS,
    verbose: Annotated[bool, typer.Option(help="Show Prefect's task logs.")] = False,
) -> None:
    """Build sample data if missing, run every flow on the embedded default (bahela-daily
    for each of the last DAYS days, bahela-weekly for the last complete week, glamira-daily
    for the last three UTC days, then warehouse-marts: dbt marts and the Glamira
    dashboard), and print where to look at the results."""
    _require_demo()
    _prepare_prefect(quiet=not verbose)
    home = Home.from_env()
    first, last = _sample_window(days, None)
    started = time.perf_counter()
    typer.echo(f"Embedded default under {home.root}  ({HOME_ENV})")
    from demo.bahela import demo_incidents

    # one labelled incident, on the last day: the one whose summary is mailed
    incidents = demo_incidents(last, seed=7)
    typer.echo(f"Sample data: {_ensure_samples(home, first, last, seed=7, incidents=incidents)}")
    typer.echo(f"             incident: {', '.join(f'{i.site} {i.kind} on {i.day}' for i in incidents)}")
    glamira_days = _glamira_days(GLAMIRA_DEMO_DAYS, None)
    typer.echo(f"             {_ensure_glamira_samples(home, glamira_days, GLAMIRA_DEMO_EVENTS, seed=7)}")
    typer.echo("Starting Prefect's local API (the very first start takes up to a minute) …")
    with _local_shops():
        week_ending = asyncio.run(_demo(first, last, glamira_days))
    typer.echo(f"\nDone in {time.perf_counter() - started:.0f}s. Look at:")
    for line in _where_to_look(home, last, week_ending):
        typer.echo(f"  {line}")


async def _demo(first: date, last: date, glamira_days: list[date]) -> date:
    from flows.bahela_daily import bahela_daily
    from flows.bahela_weekly import bahela_weekly, last_sunday
    from flows.glamira_daily import glamira_daily
    from flows.warehouse_marts import warehouse_marts

    for day in days_between(first, last):
        t = time.perf_counter()
        # only the newest day mails its summary, as a real morning would
        result = await bahela_daily(day=day, notify=day == last)
        typer.echo(f"  bahela-daily {_format_result(result)}  ({time.perf_counter() - t:.1f}s)")
    week_ending = last_sunday(last + timedelta(days=1))
    t = time.perf_counter()
    weekly = await bahela_weekly(week_ending=week_ending)
    typer.echo(f"  bahela-weekly {_format_weekly(weekly)}  ({time.perf_counter() - t:.1f}s)")
    for day in glamira_days:
        t = time.perf_counter()
        result = await glamira_daily(day=day)
        typer.echo(f"  glamira-daily {_format_glamira(result)}  ({time.perf_counter() - t:.1f}s)")
    t = time.perf_counter()
    marts = await warehouse_marts()
    typer.echo(f"  warehouse-marts {_format_marts(marts)}  ({time.perf_counter() - t:.1f}s)")
    return week_ending


def _format_marts(result: dict) -> str:
    counts = ", ".join(f"{n} {status}" for status, n in sorted(result.get("dbt", {}).items()))
    line = f"dbt build: {counts}" if counts else "dbt build skipped: no source table in the warehouse"
    if missing := result.get("missing_sources"):
        skipped = sum(len(names) for names in result.get("skipped", {}).values())
        line += f"; no {', '.join(missing)} tables, so {skipped} nodes left out"
    dashboard = result.get("dashboard")
    return line + (f"; dashboard at {_relative(Path(dashboard))}" if dashboard else "; no dashboard")


def _rupiah(value) -> str:
    from pipelines import formatting as fmt

    return fmt.rupiah(value)


def _where_to_look(home: Home, last: date, week_ending: date) -> list[str]:
    rel = _relative
    return [
        f"daily      {rel(home.outbox / f'bahela-daily-{last}.eml')}  (any mail client; JSON summary attached)",
        f"           {rel(home.reports / f'bahela-daily-{last}.html')}  (the same, in a browser)",
        f"weekly     {rel(home.outbox / f'bahela-weekly-{week_ending}.eml')}  (chart inline, forecast JSON attached)",
        f"           {rel(home.reports / f'bahela-weekly-{week_ending}.html')}  (in a browser)",
        f"           {rel(home.reports / f'bahela-weekly-{week_ending}-interactive.html')}  "
        "(interactive: date range and booth filters, forecast band; opens offline)",
        f"lake       {rel(home.lake / 'bahela')}/{{sessions,images,daily_summary}}/dt=YYYY-MM-DD/",
        f"rejects    {rel(home.lake / 'bahela' / '_rejects')}/",
        f"glamira    {rel(home.lake / 'glamira')}/{{events,locations,products}}/dt=YYYY-MM-DD/ "
        "(products.csv beside the product parquet)",
        f"warehouse  {rel(home.warehouse)}  e.g. {_command()} sql "
        '"select day, sum(revenue_idr) revenue from raw_bahela.daily_summary group by day order by day"',
        f'marts      {_command()} sql "select * from marts.fct_daily_metrics order by date_day"  (dbt models)',
        f"dashboard  {rel(home.reports / 'glamira-dashboard.html')}  (Glamira sales, in a browser)",
        f"           {rel(home.reports / 'glamira-dashboard-interactive.html')}  "
        "(interactive: date, store, country and device filters; opens offline)",
    ]


def _command() -> str:
    """How the user reaches this command: `pipelines` on PATH, else the path they ran."""
    import shutil

    invoked = Path(sys.argv[0])
    if shutil.which("pipelines") == str(invoked.resolve()) or not invoked.name.startswith("pipelines"):
        return "pipelines"
    return _relative(invoked.absolute())


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _summary_line(flow_name: str, result: dict) -> str:
    if flow_name == "warehouse-marts":
        return _format_marts(result)
    if flow_name.startswith("glamira"):
        return _format_glamira(result)
    return _format_result(result) if "day" in result else _format_weekly(result)


def _format_glamira(result: dict) -> str:
    import json

    if "events" not in result:  # one step run alone
        return json.dumps(result, indent=1, default=str)
    e, loc, p = result["events"], result.get("locations"), result.get("products")
    line = f"{result['day']}  {e['landed']:>8,} events ({e['rejected']:,} set aside)"
    if loc:
        line += f"  {loc['new']:>7,} new IPs ({loc['looked_up']:,} located)"
    if p:
        line += f"  {p['to_crawl']:>4} products crawled: {p['ok']} named, {p['failed']} failed"
    return line


def _format_weekly(result: dict) -> str:
    forecast = result.get("forecast_revenue_idr")
    return (
        f"week ending {result['week_ending']}: {result['history_days']} days of history; "
        + (
            f"next week's revenue forecast {_rupiah(forecast)}"
            if forecast
            else "no forecast (history too short)"
        )
        + f"; report at {result['report']}"
    )


def _format_result(result: dict) -> str:
    from pipelines import formatting as fmt

    if result.get("status") == "no_sessions":
        return f"{result['day']}  no sessions"
    # "set aside" is the rows of the day's `_rejects` datasets: the number the mail and Slack give
    return (
        f"{result['day']}  {fmt.rupiah(result.get('revenue_idr')):>15}  "
        f"{fmt.count(result.get('transactions')):>4} transactions  "
        f"{result['sessions']:>4} sessions  {result['photos']:>5} photos  "
        f"{result['set_aside']:>3} set aside"
    )


@app.command("run")
def run(
    flow_name: Annotated[str, typer.Argument(metavar="FLOW", help=f"One of: {', '.join(FLOWS)}.")],
    day: Annotated[
        str | None,
        typer.Option(
            help="Daily flows: the business day (YYYY-MM-DD), default yesterday in the business's time zone. "
            "bahela-weekly: the Sunday ending the week, default the last complete week. "
            "warehouse-marts: the day the incremental facts rebuild, default the last few days."
        ),
    ] = None,
    sites: Annotated[
        str | None, typer.Option(help="Comma-separated booths to read (bahela-daily); default: all.")
    ] = None,
    notify: Annotated[bool, typer.Option(help="Send the mail and Slack message.")] = True,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            metavar="NAME=VALUE",
            help="Any other parameter of the flow, as `prefect deployment run --param` takes it "
            "(repeatable), e.g. --param crawl=false --param batch_size=20000.",
        ),
    ] = None,
) -> None:
    """Run one flow once, in this process, and print its result.

    Examples: pipelines run bahela-daily --day 2026-11-20;
    pipelines run bahela-weekly --day 2026-11-15;
    pipelines run glamira-daily --day 2026-11-20 --param crawl=false"""
    import inspect

    _prepare_prefect(quiet=False)
    flow = _flow(flow_name)
    accepted = inspect.signature(flow.fn).parameters
    params: dict = {"notify": notify} if "notify" in accepted else {}
    if "week_ending" in accepted:
        params["week_ending"] = _parse_day(day)
    elif "start_day" in accepted:  # warehouse-marts: the day the incremental facts rebuild
        params["start_day"] = _parse_day(day)
    else:
        params["day"] = _parse_day(day)
    if sites:
        if "sites" not in accepted:
            raise typer.BadParameter(f"{flow_name} does not take --sites")
        params["sites"] = [s.strip() for s in sites.split(",") if s.strip()]
    params |= _named_parameters(flow_name, param or [], accepted)
    with _local_shops():
        result = asyncio.run(flow(**params))
    typer.echo(_summary_line(flow_name, result))


def _named_parameters(flow_name: str, pairs: list[str], accepted) -> dict:
    """`NAME=VALUE` pairs; a value that reads as JSON (`false`, `20000`, `["a"]`) is taken
    as such, anything else as text. The flow validates the types."""
    import json

    values: dict = {}
    for pair in pairs:
        name, equals, text = pair.partition("=")
        if not equals or name not in accepted:
            known = ", ".join(n for n in accepted if n not in ("day", "week_ending", "start_day"))
            raise typer.BadParameter(f"{pair!r}: {flow_name} takes NAME=VALUE with NAME one of: {known}")
        try:
            values[name] = json.loads(text)
        except ValueError:
            values[name] = text
    return values


@app.command("backfill")
def backfill(
    flow_name: Annotated[str, typer.Argument(metavar="FLOW", help=f"One of: {', '.join(FLOWS)}.")],
    start: Annotated[str, typer.Option(help="First day (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option(help="Last day (YYYY-MM-DD), included.")],
    deployment: Annotated[
        str, typer.Option(help="Deployment to run each day through (FLOW/DEPLOYMENT from prefect.yaml).")
    ] = "docker",
    notify: Annotated[bool, typer.Option(help="Send each day's summary mail and Slack message.")] = False,
    in_process: Annotated[
        bool, typer.Option("--in-process", help="Run the days here, one after the other, even with a server.")
    ] = False,
) -> None:
    """Run FLOW for every day from START to END.

    With a Prefect server or Prefect Cloud configured (PREFECT_API_URL), each day becomes
    a run of the deployment, so the days spread over the work pool's workers; this
    command follows them until they finish. Without one, the days run here in order.
    Summary mails are off by default: a backfill should not mail stakeholders thirty
    times.

    Example: pipelines backfill bahela-daily --start 2026-11-01 --end 2026-11-21 --deployment local"""
    import inspect

    if "day" not in inspect.signature(_flow(flow_name).fn).parameters:
        raise typer.BadParameter(
            f"backfill runs daily flows; {flow_name} is not one (use `pipelines run {flow_name}`)"
        )
    first, last = _parse_day(start), _parse_day(end)
    assert first and last
    try:
        days = days_between(first, last)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    _prepare_prefect(quiet=True)
    from prefect.settings import get_current_settings

    takes_notify = "notify" in inspect.signature(_flow(flow_name).fn).parameters
    if get_current_settings().api.url and not in_process:
        failed = asyncio.run(
            _backfill_through_deployment(flow_name, deployment, days, notify if takes_notify else None)
        )
    else:
        _flow(flow_name)
        typer.echo(f"No Prefect server configured: running {len(days)} days of {flow_name} in this process.")
        with _local_shops():
            failed = asyncio.run(_backfill_in_process(flow_name, days, notify if takes_notify else None))
    if failed:
        typer.echo(f"{len(failed)} of {len(days)} days failed: {', '.join(str(d) for d in failed)}", err=True)
        raise typer.Exit(1)
    typer.echo(f"All {len(days)} days completed.")


async def _backfill_in_process(flow_name: str, days: list[date], notify: bool | None) -> list[date]:
    flow = _flow(flow_name)
    failed = []
    for day in days:
        started = time.perf_counter()
        try:
            result = await flow(day=day, **({} if notify is None else {"notify": notify}))
        except Exception as exc:  # keep going: one bad day must not stop the others
            failed.append(day)
            typer.echo(f"  {flow_name} {day}  FAILED: {exc}", err=True)
            continue
        typer.echo(
            f"  {flow_name} {_summary_line(flow_name, result)}  ({time.perf_counter() - started:.1f}s)"
        )
    return failed


async def _backfill_through_deployment(
    flow_name: str, deployment: str, days: list[date], notify: bool
) -> list[date]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.deployments import run_deployment

    name = deployment if "/" in deployment else f"{flow_name}/{deployment}"
    runs = {}
    for day in days:
        run = await run_deployment(
            name,
            parameters={"day": day.isoformat(), "notify": notify},
            timeout=0,
            flow_run_name=f"{flow_name}-{day}",
        )
        runs[run.id] = day
    typer.echo(f"Submitted {len(runs)} runs of {name}; the work pool's workers pick them up in parallel.")
    final: dict = {}
    async with get_client() as client:
        while len(final) < len(runs):
            pending = [run_id for run_id in runs if run_id not in final]
            found = await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=pending))
            )
            for run in found:
                if run.state and run.state.is_final():
                    final[run.id] = run.state
                    typer.echo(
                        f"  {runs[run.id]}  {run.state.name:<10} {run.name}  ({len(final)}/{len(runs)})"
                    )
            if len(final) < len(runs):
                await asyncio.sleep(2)
    return sorted(runs[run_id] for run_id, state in final.items() if not state.is_completed())


@app.command("sample-data")
def sample_data(
    days: Annotated[int, typer.Option(min=1, help="How many days to generate.")] = DEMO_DAYS,
    last_day: Annotated[
        str | None, typer.Option("--last-day", help="Last day (YYYY-MM-DD); default: yesterday in Jakarta.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same data.")] = 7,
    force: Annotated[bool, typer.Option(help="Regenerate even if the range is already there.")] = False,
    glamira_days: Annotated[
        int, typer.Option(min=1, help="Days of Glamira events (UTC, ending yesterday).")
    ] = GLAMIRA_DEMO_DAYS,
    glamira_events: Annotated[int, typer.Option(min=1, help="Glamira events per day.")] = GLAMIRA_DEMO_EVENTS,
) -> None:
    """Write realistic sample data under PIPELINES_HOME/samples: Bahela booth sessions as
    a mongodump folder (one database per booth) and photos as Cloudinary Search API
    pages; Glamira website events as a mongodump (`glamira/summary.bson`), a product
    catalog of HTML pages for the crawl, and a demo IP2Location database."""
    _require_demo()
    home = Home.from_env()
    first, last = _sample_window(days, _parse_day(last_day))
    typer.echo(f"Bahela sample data: {_ensure_samples(home, first, last, seed, force)}")
    glamira_span = _glamira_days(glamira_days, _parse_day(last_day))
    typer.echo(
        f"Glamira sample data: {_ensure_glamira_samples(home, glamira_span, glamira_events, seed, force)}"
    )


@app.command("sql")
def sql(
    query: Annotated[str, typer.Argument(help="SQL for the embedded DuckDB warehouse.")],
    limit: Annotated[int, typer.Option(help="Rows to print at most.")] = 50,
    wait: Annotated[
        float,
        typer.Option(
            min=0,
            metavar="SECONDS",
            help="How long to wait while another process (a flow run) has the warehouse open.",
        ),
    ] = 60,
) -> None:
    """Query the embedded warehouse (PIPELINES_HOME/warehouse.duckdb) and print a table.

    DuckDB lets no one read the file while a flow run writes it: the query waits up to
    --wait seconds for the run to let go.

    Example: pipelines sql "select * from raw_bahela.daily_summary order by day desc limit 5\""""
    import duckdb
    import polars as pl

    from pipelines.duckdb_file import connect_when_free, is_lock_conflict

    home = Home.from_env()
    if not home.warehouse.exists():
        typer.echo(f"No warehouse at {home.warehouse} yet: run `pipelines demo` first.", err=True)
        raise typer.Exit(1)

    def waiting(lock_error: duckdb.IOException) -> None:
        typer.echo(
            f"The warehouse {home.warehouse} is in use by another process ({_holder(lock_error)}): "
            f"waiting up to {wait:g}s.",
            err=True,
        )

    try:
        connection = connect_when_free(home.warehouse, wait, read_only=True, on_wait=waiting)
    except duckdb.IOException as exc:
        if not is_lock_conflict(exc):
            typer.echo(f"Could not open the warehouse {home.warehouse}: {exc}", err=True)
            raise typer.Exit(1) from None
        still, waited = ("still ", f" after {wait:g}s") if wait else ("", "")
        typer.echo(
            f"The warehouse {home.warehouse} is {still}in use by another process ({_holder(exc)}){waited}: "
            "try again once it has finished, or wait longer with --wait SECONDS.",
            err=True,
        )
        raise typer.Exit(1) from None
    with connection as con:
        try:
            frame = pl.from_arrow(con.sql(query).to_arrow_table())
        except duckdb.Error as exc:
            typer.echo(f"SQL error: {exc}", err=True)
            raise typer.Exit(1) from None
    with pl.Config(tbl_rows=limit, tbl_cols=-1, fmt_str_lengths=40, tbl_width_chars=200):
        typer.echo(frame)


def _holder(lock_error: Exception) -> str:
    from pipelines.duckdb_file import lock_holder_pid

    pid = lock_holder_pid(lock_error)
    return f"PID {pid}, probably a flow run" if pid else "probably a flow run"


@app.command("setup")
def setup(
    work_pools: Annotated[
        bool, typer.Option(help="Also create the pipelines-process and pipelines-docker work pools.")
    ] = False,
) -> None:
    """Register the block types on the Prefect server (like `prefect block register -m
    blocks`) and save every role's block described by environment variables; print, per
    role, saved or skipped with the variables to set.

    \b
    Variables (a role's block is saved when its variables are set):
      GCP_SERVICE_ACCOUNT_JSON or GOOGLE_APPLICATION_CREDENTIALS [GCP_PROJECT]  -> gcp
      BAHELA_MONGODB_URI, GLAMIRA_MONGODB_URI              -> bahela-mongodb, glamira-mongodb
      BAHELA_CLOUDINARY_URL or CLOUDINARY_URL=cloudinary://KEY:SECRET@CLOUD[?upload_prefix=URL]
        [BAHELA_CLOUDINARY_EXPRESSION]                     -> bahela-cloudinary
      BAHELA_LAKE_BUCKET [BAHELA_LAKE_FOLDER]              -> bahela-lake (GCS)
      GLAMIRA_LAKE_BUCKET [GLAMIRA_LAKE_FOLDER]            -> glamira-lake (GCS)
      BIGQUERY_PROJECT [BIGQUERY_LOCATION BIGQUERY_API_ENDPOINT]
                            -> bahela-warehouse, glamira-warehouse, marts-warehouse
      SENDGRID_API_KEY BAHELA_MAIL_FROM BAHELA_MAIL_TO [SENDGRID_API_HOST] -> bahela-mailer
      BAHELA_SLACK_WEBHOOK_URL                             -> bahela-slack
      GLAMIRA_IP2LOCATION_BIN (path of the BIN on workers) -> glamira-ip2location
      [GLAMIRA_CRAWL_USER_AGENT]                           -> glamira-crawl (always saved)
      ALERTS_SLACK_WEBHOOK_URL                             -> pipelines-alerts-slack
      ALERTS_MAIL_FROM ALERTS_MAIL_TO with SMTP_HOST [SMTP_PORT SMTP_TYPE SMTP_USER
        SMTP_PASSWORD] or SENDGRID_API_KEY                 -> pipelines-alerts-mailer

    BIGQUERY_API_ENDPOINT, SENDGRID_API_HOST and a CLOUDINARY_URL's upload_prefix point
    the blocks at stand-ins for a rehearsal; for GCS, give the workers
    STORAGE_EMULATOR_HOST (not stored in a block). Then `pipelines check` proves them.

    Secrets go from the environment into the blocks only: nothing is written to disk and
    no value is printed."""
    _require_prefect_api("the blocks are saved where the deployments run")
    if not asyncio.run(_setup(work_pools)):
        raise typer.Exit(1)


def _require_prefect_api(why: str) -> None:
    _prepare_prefect(quiet=True)
    from prefect.settings import get_current_settings

    if not get_current_settings().api.url:
        typer.echo(
            f"No Prefect server configured: set PREFECT_API_URL (or `prefect cloud login`) so {why}.",
            err=True,
        )
        raise typer.Exit(1)


async def _setup(work_pools: bool) -> bool:
    """Save the blocks; False when a variable held a value that makes no block."""
    from pipelines import setup as plan

    registered = await plan.register_block_types()
    typer.echo(f"Registered {len(registered)} block types: {', '.join(registered)}")
    outcomes = await plan.save_from_env(os.environ)
    typer.echo(plan.render(outcomes))
    if work_pools:
        for line in await _create_work_pools():
            typer.echo(f"  {line}")
    invalid = [o.name for o in outcomes if o.status == "invalid"]
    if invalid:
        typer.echo(f"Not saved, for a value that makes no block: {', '.join(invalid)} (see above).", err=True)
    return not invalid


@app.command("check")
def check(
    timeout: Annotated[
        float, typer.Option(min=1, metavar="SECONDS", help="How long each block may take to answer.")
    ] = 20,
) -> None:
    """Prove every role's saved block: find it by its default name, reach what it points
    at (a ping, an authenticated call, a dry-run query, a login; no message is ever
    sent) and print a table role / block / type / reachable.

    Exits 1 when a role that a production run needs has no saved block, or a saved
    block cannot be reached. No secret is printed."""
    _require_prefect_api("the blocks are looked up where the deployments run")
    import logging

    from pipelines import check as checking

    # every failure is in the table; urllib3's retry warnings (google-auth's background
    # lookups among them) would only bury it
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)

    results = asyncio.run(checking.check_roles(timeout=timeout))
    typer.echo(checking.render(results))
    if any(result.failed for result in results):
        raise typer.Exit(1)


async def _create_work_pools() -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists
    from prefect.workers.process import ProcessWorker
    from prefect_docker.worker import DockerWorker

    lines = []
    async with get_client() as client:
        for name, worker in (("pipelines-process", ProcessWorker), ("pipelines-docker", DockerWorker)):
            try:
                await client.create_work_pool(
                    WorkPoolCreate(
                        name=name, type=worker.type, base_job_template=worker.get_default_base_job_template()
                    )
                )
                lines.append(f"created  work pool {name} ({worker.type})")
            except ObjectAlreadyExists:
                lines.append(f"exists   work pool {name}")
    return lines


def main() -> None:
    _exit_cleanly_on_sigterm()
    try:
        app()
    except KeyboardInterrupt:
        _exit(_signalled_status() or 130)
    except SystemExit as done:
        _exit(_signalled_status() or done.code)
    except BaseException as error:
        status = _signalled_status() or _termination_status(error)
        if status is None:
            raise
        traceback.print_exc()  # what the signal interrupted, as it surfaced
        _exit(status)


_signals_received: list[int] = []


def _signalled_status() -> int | None:
    """The shell's status for the first SIGTERM received, whatever became of its exception:
    raised inside compiled code (numba's dispatcher) it comes back as a SystemError, which
    fails the flow and leaves the command as an error of its own."""
    return 128 + _signals_received[0] if _signals_received else None


def _termination_status(error: BaseException) -> int | None:
    """The shell's status for a signal that Prefect's own handler took during a flow run
    (`TerminationSignal`; after the run it hands the signal on to ours, unless compiled
    code turned its exception into another), found anywhere in `error`'s chain."""
    from prefect.exceptions import TerminationSignal

    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, TerminationSignal):
            return 128 + int(current.signal)
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _exit_cleanly_on_sigterm() -> None:
    """SIGTERM ends a run the way Ctrl-C does: as an exception that unwinds the run (the
    flow's `finally` blocks stop its worker processes) and then `_exit`, which runs the
    atexit handlers (Prefect stops its temporary API in one). SIGTERM's default action
    would skip both and leave those processes running."""
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:  # an inherited SIG_IGN stays
        signal.signal(signal.SIGTERM, _raise_system_exit)


def _raise_system_exit(signum: int, frame) -> None:
    _signals_received.append(signum)
    raise SystemExit(128 + signum)  # the status a shell reports for a process killed by signum


def _exit(code) -> None:
    """Exit after the atexit handlers (dbt-duckdb closes its connections there) but without
    the interpreter's module teardown, where DuckDB's bindings print pages of harmless
    "nanobind: leaked instance" warnings once dbt has run in the process."""
    import atexit
    import logging
    import threading

    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    # In the interpreter's own order: the threads' exit hooks first (Prefect sends a run's
    # last logs and events to its API in one), then atexit (Prefect stops its temporary
    # API in one). The other way round those logs were lost, after 5 s of retries.
    threading._shutdown()
    atexit._run_exitfuncs()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
