"""`pipelines`: run the Bahela and Glamira flows on this machine.

Without saved Prefect blocks everything runs on the embedded default: sample data in,
results under PIPELINES_HOME (default ./.data). With blocks saved on a Prefect server or
Prefect Cloud, the same commands use MongoDB, Cloudinary, GCS, BigQuery, SendGrid and
Slack.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import typer

from pipelines.calendar import days_between, yesterday
from pipelines.settings import HOME_ENV, JAKARTA, Home

app = typer.Typer(
    help=__doc__,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)

# flow name -> "module:function"
FLOWS = {
    "bahela-daily": "flows.bahela_daily:bahela_daily",
}
DEMO_DAYS = 28


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


def _ensure_samples(home: Home, first: date, last: date, seed: int, force: bool = False) -> str:
    from pipelines.sample_data import bahela

    folders = bahela.SampleFolders(home.samples / "bahela")
    started = time.perf_counter()
    if force:
        bahela.write(bahela.generate(first, last, seed), folders)
        written = True
    else:
        written = bahela.ensure(folders, first, last, seed)
    if written:
        return f"generated {first} … {last} in {time.perf_counter() - started:.1f}s → {folders.root}"
    return f"already present for {first} … {last} in {folders.root}"


@app.command("sample-data")
def sample_data(
    days: Annotated[int, typer.Option(min=1, help="How many days to generate.")] = DEMO_DAYS,
    last_day: Annotated[
        str | None, typer.Option("--last-day", help="Last day (YYYY-MM-DD); default: yesterday in Jakarta.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same data.")] = 7,
    force: Annotated[bool, typer.Option(help="Regenerate even if the range is already there.")] = False,
) -> None:
    """Write realistic sample data: Bahela booth sessions as a mongodump folder
    (one database per booth) and photos as Cloudinary Search API pages, under
    PIPELINES_HOME/samples."""
    home = Home.from_env()
    first, last = _sample_window(days, _parse_day(last_day))
    typer.echo(f"Bahela sample data: {_ensure_samples(home, first, last, seed, force)}")


@app.command("run")
def run(
    flow_name: Annotated[str, typer.Argument(metavar="FLOW", help=f"One of: {', '.join(FLOWS)}.")],
    day: Annotated[
        str | None,
        typer.Option(help="Business day (YYYY-MM-DD); default: yesterday in the business's time zone."),
    ] = None,
    sites: Annotated[
        str | None, typer.Option(help="Comma-separated booths to read (bahela-daily); default: all.")
    ] = None,
    notify: Annotated[bool, typer.Option(help="Send the mail and Slack message.")] = True,
) -> None:
    """Run one flow once, in this process, and print its result.

    Example: pipelines run bahela-daily --day 2026-11-20"""
    _prepare_prefect(quiet=False)
    flow = _flow(flow_name)
    params: dict = {"day": _parse_day(day), "notify": notify}
    if sites:
        params["sites"] = [s.strip() for s in sites.split(",") if s.strip()]
    result = asyncio.run(flow(**params))
    typer.echo(_format_result(result))


@app.command("demo")
def demo(
    days: Annotated[int, typer.Option(min=1, help="Days of history to run.")] = DEMO_DAYS,
    verbose: Annotated[bool, typer.Option(help="Show Prefect's task logs.")] = False,
) -> None:
    """Build sample data if missing, run every flow on the embedded default for the
    last DAYS days, and print where to look at the results."""
    _prepare_prefect(quiet=not verbose)
    home = Home.from_env()
    first, last = _sample_window(days, None)
    started = time.perf_counter()
    typer.echo(f"Embedded default under {home.root}  ({HOME_ENV})")
    typer.echo(f"Sample data: {_ensure_samples(home, first, last, seed=7)}")
    typer.echo("Starting Prefect's local API (the very first start takes up to a minute) …")
    asyncio.run(_demo(first, last))
    typer.echo(f"\nDone in {time.perf_counter() - started:.0f}s. Look at:")
    for line in _where_to_look(home, last):
        typer.echo(f"  {line}")


async def _demo(first: date, last: date) -> None:
    from flows.bahela_daily import bahela_daily

    for day in days_between(first, last):
        t = time.perf_counter()
        result = await bahela_daily(day=day)
        typer.echo(f"  bahela-daily {_format_result(result)}  ({time.perf_counter() - t:.1f}s)")


def _where_to_look(home: Home, last: date) -> list[str]:
    rel = _relative
    return [
        f"mail       {rel(home.outbox / f'bahela-daily-{last}.eml')}  (any mail client; JSON summary attached)",
        f"report     {rel(home.reports / f'bahela-daily-{last}.html')}  (open in a browser)",
        f"lake       {rel(home.lake / 'bahela')}/{{sessions,images,daily_summary}}/dt=YYYY-MM-DD/",
        f"rejects    {rel(home.lake / 'bahela' / '_rejects')}/",
        f"warehouse  {rel(home.warehouse)}  e.g. pipelines sql "
        '"select day, sum(revenue_idr) revenue from raw_bahela.daily_summary group by day order by day"',
    ]


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _format_result(result: dict) -> str:
    from pipelines import formatting as fmt

    rows = result.get("rows", {})
    set_aside = rows.get("sessions_rejected", 0) + rows.get("images_rejected", 0)
    if result.get("status") == "no_sessions":
        return f"{result['day']}  no sessions"
    return (
        f"{result['day']}  {fmt.rupiah(result.get('revenue_idr')):>15}  "
        f"{fmt.count(result.get('transactions')):>4} transactions  "
        f"{rows.get('sessions_kept', 0):>4} sessions  {rows.get('images_kept', 0):>5} photos  "
        f"{set_aside:>3} set aside"
    )


@app.command("sql")
def sql(
    query: Annotated[str, typer.Argument(help="SQL for the embedded DuckDB warehouse.")],
    limit: Annotated[int, typer.Option(help="Rows to print at most.")] = 50,
) -> None:
    """Query the embedded warehouse (PIPELINES_HOME/warehouse.duckdb) and print a table.

    Example: pipelines sql "select * from raw_bahela.daily_summary order by day desc limit 5\""""
    import duckdb
    import polars as pl

    home = Home.from_env()
    if not home.warehouse.exists():
        typer.echo(f"No warehouse at {home.warehouse} yet: run `pipelines demo` first.", err=True)
        raise typer.Exit(1)
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        try:
            frame = pl.from_arrow(con.sql(query).to_arrow_table())
        except duckdb.Error as exc:
            typer.echo(f"SQL error: {exc}", err=True)
            raise typer.Exit(1) from None
    with pl.Config(tbl_rows=limit, tbl_cols=-1, fmt_str_lengths=40, tbl_width_chars=200):
        typer.echo(frame)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
