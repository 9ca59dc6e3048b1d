"""bahela-weekly: last week's performance, trends and next week's forecasts.

history (warehouse) ─ daily metrics, rolling averages, trends ─┐
                    └ Random Forests, recursive forecast, backtest ─ report ─ mail + Slack + artifact
"""

from __future__ import annotations

from datetime import date, timedelta

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact
from prefect.runtime import flow_run

from flows.bahela_daily import ROLES as DAILY_ROLES
from flows.bahela_daily import SCHEMA, SOURCE, bahela_daily
from flows.resources import Resources, resources, save_report
from flows.roles import BahelaBlocks
from pipelines.alerts import alert_on_crash, alert_on_failure
from pipelines.calendar import yesterday
from pipelines.concurrency import one_run_per_day
from pipelines.settings import JAKARTA
from tasks.bahela.interactive import interactive_name, weekly_interactive_html
from tasks.bahela.weekly import analyse, build_report, forecasts_frame, missing_days
from tasks.lake import land_partition
from tasks.notify import post_to_slack, send_email
from tasks.warehouse import load_day, read_history

EARLIEST = date(2000, 1, 1)


def last_sunday(today_in_jakarta: date | None = None) -> date:
    """The Sunday that ended the last complete week (Monday to Sunday) in Jakarta."""
    reference = today_in_jakarta or (yesterday(JAKARTA) + timedelta(days=1))
    return reference - timedelta(days=reference.weekday() + 1)


def _run_name() -> str:
    week = flow_run.parameters.get("week_ending")
    return f"bahela-weekly-{week or 'last-week'}"


@flow(
    name="bahela-weekly",
    flow_run_name=_run_name,
    description="Bahela weekly report: last week's performance, trends, Random Forest forecasts of next week.",
    timeout_seconds=3600,
    on_failure=[alert_on_failure],
    on_crashed=[alert_on_crash],
)
async def bahela_weekly(
    week_ending: date | None = None,
    history_days: int | None = None,
    backtest_weeks: int | None = None,
    notify: bool = True,
    blocks: BahelaBlocks = BahelaBlocks(),
) -> dict:
    """Report on the week (Monday to Sunday, Asia/Jakarta) ending `week_ending`.

    Args:
        week_ending: a Sunday; default: the last complete week.
        history_days: days of history to read, up to `week_ending`; default: all there is.
        backtest_weeks: at most this many weeks replayed to score the forecast; default every week
            the history allows (fewer than four give no score).
        notify: send the mail and the Slack message.
        blocks: names of the saved blocks (lake, warehouse, mailer, slack are used).
    """
    week_ending = week_ending or last_sunday()
    if week_ending.weekday() != 6:
        raise ValueError(f"week_ending must be a Sunday; {week_ending} is a {week_ending:%A}")
    # the daily flow's roles too: the week may need days the warehouse lacks
    used = await resources(blocks, SOURCE, *DAILY_ROLES)
    used.log(get_run_logger(), "lake", "warehouse", "mailer", "slack")
    async with one_run_per_day(used.lake, "bahela-weekly", week_ending):
        return await _report_week(week_ending, history_days, backtest_weeks, notify, blocks, used)


async def _report_week(
    week_ending: date,
    history_days: int | None,
    backtest_weeks: int | None,
    notify: bool,
    blocks: BahelaBlocks,
    used: Resources,
) -> dict:
    logger = get_run_logger()
    lake, warehouse = used.lake, used.warehouse
    first = week_ending - timedelta(days=history_days - 1) if history_days else EARLIEST
    week_start = week_ending - timedelta(days=6)

    history = await read_history(warehouse, SCHEMA, "daily_summary", first, week_ending)
    # The schedule runs at Monday 00:00, before the daily run has loaded Sunday: load any
    # day of the week the warehouse lacks first (no mail: the daily run sends its own).
    missing = missing_days(history, max(week_start, first), week_ending)
    if missing:
        logger.info("loading days the warehouse does not have yet: %s", ", ".join(map(str, missing)))
        for day in missing:
            await bahela_daily(day=day, notify=False, blocks=blocks)
        history = await read_history(warehouse, SCHEMA, "daily_summary", first, week_ending)

    inputs = analyse(history, week_ending, backtest_weeks)
    report = build_report(inputs)

    forecasts = forecasts_frame(inputs)
    landed = await land_partition(lake, SOURCE, "forecasts", week_ending, forecasts)
    await load_day(warehouse, SCHEMA, "forecasts", week_ending, [landed], day_column="week_ending")

    report_path = await save_report(lake, f"bahela-weekly-{week_ending.isoformat()}.html", report.html)
    if notify:
        await send_email(used.mailer, report.email, f"bahela-weekly-{week_ending.isoformat()}")
        await post_to_slack(used.slack, report.slack)
    # the browser's interactive copy (the mail keeps its static chart); flagged days where the
    # anomalies table exists yet
    anomalies = await read_history(warehouse, SCHEMA, "anomalies", first, week_ending)
    interactive_path = await save_report(
        lake,
        interactive_name(week_ending),
        await weekly_interactive_html(history, week_ending, inputs.forecasts, anomalies),
    )
    await acreate_markdown_artifact(
        key="bahela-weekly-report",
        markdown=f"{report.markdown}\n\nInteractive report (filters, tooltips; opens offline): `{interactive_path}`\n",
        description=f"Week ending {week_ending}",
    )
    if report.predictions_table:
        await acreate_table_artifact(
            key="bahela-weekly-forecast",
            table=report.predictions_table,
            description=f"Forecast after {week_ending}",
        )
    logger.info("%s; report copy at %s", report.subject, report_path)
    return {
        "week_ending": week_ending.isoformat(),
        "status": report.payload["status"],
        "history_days": inputs.history_days,
        "revenue_idr": inputs.trends["revenue_idr"].last_week,
        "forecast_revenue_idr": (
            float(inputs.forecasts["revenue_idr"].prediction.sum()) if inputs.forecasts else None
        ),
        "verdicts": {
            t: f.backtest.verdict for t, f in (inputs.forecasts or {}).items() if f.backtest is not None
        },
        "methods": {t: f.method for t, f in (inputs.forecasts or {}).items()},
        "mase": {
            t: {"forest": f.backtest.model_mase, "naive": f.backtest.naive_mase}
            for t, f in (inputs.forecasts or {}).items()
            if f.scored
        },
        "report": report_path,
        "interactive_report": interactive_path,
    }
