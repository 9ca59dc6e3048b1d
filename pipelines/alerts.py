"""Alerts for failed and crashed flow runs: a Slack message and a mail naming the flow,
the run, the failing task, the error and a link to the run in the UI.

Why flow hooks (`on_failure`, `on_crashed`) and not a Prefect automation: the hook runs
where the flow ran, so it can read the failing task run and the exception as the engine
saw them, it works the same on the embedded default, a self-hosted server and Prefect
Cloud with no server-side setup, and it is tested with the flow. What a hook cannot see
is a run whose process was killed from outside (an OOM-killed container); for that the
README shows the one Prefect automation worth adding as a backstop.

Where alerts go: the blocks named `pipelines-alerts-slack` (SlackWebhook) and
`pipelines-alerts-mailer` (SendGrid, SMTP or outbox). Without them, the alert is written
to the outbox folder and logged. Sending an alert never raises: a broken alert channel
must not hide the original failure.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from html import escape

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterId,
    TaskRunFilter,
    TaskRunFilterState,
    TaskRunFilterStateType,
)
from prefect.client.schemas.objects import StateType

from blocks.mail import Email
from blocks.resolve import KINDS, embedded_default, saved_block
from pipelines import formatting as fmt
from pipelines import htmlmail as h
from pipelines.settings import Home, Profile

ALERT_SLACK = "pipelines-alerts-slack"
ALERT_MAILER = "pipelines-alerts-mailer"

logger = logging.getLogger("pipelines.alerts")


@dataclass(frozen=True)
class Alert:
    flow: str
    run_name: str
    run_id: str
    state: str
    error: str
    failed_tasks: list[tuple[str, str]]  # (task run name, its error)
    parameters: dict
    url: str | None

    @property
    def title(self) -> str:
        return f"{self.state}: {self.flow} / {self.run_name}"

    def slack_text(self) -> str:
        """The Slack message; every value from the run (names, errors) is escaped, so a
        run named `<!channel>` or an error quoting `<tag>` is shown, not acted on."""
        esc = fmt.slack_escape
        tasks = (
            "; ".join(f"`{esc(name)}`: {esc(error)}" for name, error in self.failed_tasks)
            or "none (the flow itself)"
        )
        link = fmt.slack_link(self.url, "open the run") if self.url else f"run id {esc(self.run_id)}"
        return "\n".join(
            [
                f":rotating_light: *{esc(self.title)}*",
                f"*Failing task:* {tasks}",
                f"*Error:* {esc(self.error)}",
                link,
            ]
        )

    def email(self) -> Email:
        tasks = [[name, error] for name, error in self.failed_tasks] or [["(the flow itself)", self.error]]
        body = "".join(
            [
                h.heading(self.title, f"flow run {self.run_id}"),
                h.section("Error"),
                h.paragraph(self.error),
                h.section("Failing task"),
                h.table(["Task run", "Error"], tasks),
                h.section("Parameters"),
                h.table(["Name", "Value"], [[k, str(v)] for k, v in sorted(self.parameters.items())]),
                f"<p style='margin-top:20px'><a href='{escape(self.url)}'>Open the run in Prefect</a></p>"
                if self.url
                else h.paragraph(f"Run id {self.run_id}", muted=True),
            ]
        )
        text = "\n".join(
            [
                self.title,
                f"Run id: {self.run_id}",
                f"Error: {self.error}",
                *[f"Failing task {name}: {error}" for name, error in self.failed_tasks],
                f"Parameters: {self.parameters}",
                f"Open: {self.url or '(no UI URL configured)'}",
            ]
        )
        return Email(subject=f"[pipelines] {self.title}", html=h.page(self.title, body), text=text)


async def alert_on_failure(flow, flow_run, state) -> None:
    await _alert(flow, flow_run, state)


async def alert_on_crash(flow, flow_run, state) -> None:
    await _alert(flow, flow_run, state)


async def _alert(flow, flow_run, state) -> None:
    try:
        alert = await describe_failure(flow.name, flow_run, state)
        await send_alert(alert)
    except Exception:  # an alert channel failing must not mask the run's own failure
        logger.exception("could not send the alert for flow run %s", getattr(flow_run, "id", "?"))


async def describe_failure(flow_name: str, flow_run, state) -> Alert:
    async with get_client() as client:
        failed = await client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run.id])),
            task_run_filter=TaskRunFilter(
                state=TaskRunFilterState(
                    type=TaskRunFilterStateType(any_=[StateType.FAILED, StateType.CRASHED])
                )
            ),
        )
    tasks = [(run.name, _short(run.state.message if run.state else "")) for run in failed]
    return Alert(
        flow=flow_name,
        run_name=flow_run.name,
        run_id=str(flow_run.id),
        state=state.name or str(state.type.value).title(),
        error=_short(state.message or ""),
        failed_tasks=tasks,
        parameters={k: v for k, v in (flow_run.parameters or {}).items()},
        url=_ui_url(flow_run),
    )


async def send_alert(alert: Alert) -> None:
    """Through the saved alert blocks; without them the alert is logged, and locally
    also written to the outbox (production writes nothing under PIPELINES_HOME)."""
    await _deliver(alert.slack_text(), alert.email(), f"alert-{alert.flow}-{alert.run_id}")


@dataclass(frozen=True)
class AnomalyAlert:
    """Severe unusual figures of a day (a booth offline): the run went fine, the business
    did not. `anomalies`: `tasks.bahela.anomalies.by_cause` entries (`headline`, `detail`)."""

    flow: str
    day: str
    anomalies: list[dict]
    artifact: str | None = None  # where the full list is, e.g. the artifact's key

    @property
    def title(self) -> str:
        return f"Unusual day: {self.flow} {self.day}"

    def slack_text(self) -> str:
        esc = fmt.slack_escape
        lines = [f":rotating_light: *{esc(self.title)}*"]
        lines += [f"• *{esc(a['headline'])}*: {esc(a['detail'])}" for a in self.anomalies]
        if self.artifact:
            lines.append(f"All of the day's unusual figures: artifact `{esc(self.artifact)}`")
        return "\n".join(lines)

    def email(self) -> Email:
        body = "".join(
            [
                h.heading(self.title, "severe unusual figures"),
                h.table(
                    ["Where and what", "Details"], [[a["headline"], a["detail"]] for a in self.anomalies]
                ),
                h.paragraph(f"All of the day's unusual figures: artifact {self.artifact}", muted=True)
                if self.artifact
                else "",
            ]
        )
        text = "\n".join([self.title, *(f"{a['headline']}: {a['detail']}" for a in self.anomalies)])
        return Email(subject=f"[pipelines] {self.title}", html=h.page(self.title, body), text=text)


async def send_anomaly_alert(alert: AnomalyAlert) -> bool:
    """Through the same channels as a failure's alert. Never raises: the run that found
    the anomaly has done its work, and a broken alert channel is logged, not fatal.
    True when it went out."""
    try:
        await _deliver(alert.slack_text(), alert.email(), f"anomaly-{alert.flow}-{alert.day}")
    except Exception:
        logger.exception("could not send the anomaly alert for %s %s", alert.flow, alert.day)
        return False
    return True


async def _deliver(slack_text: str, mail: Email, key: str) -> None:
    slack, mailer = await asyncio.gather(
        saved_block(ALERT_SLACK, *KINDS["slack"]), saved_block(ALERT_MAILER, *KINDS["mailer"])
    )
    if mailer is None and Profile.from_env() is Profile.LOCAL:
        mailer = embedded_default("mailer", "pipelines", Home.from_env())
    failed: list[Exception] = []
    # each channel on its own: a Slack outage must not also keep the mail from going out
    try:
        if slack is not None:
            response = await slack.get_client().send(text=slack_text)
            logger.info("alert posted to Slack (HTTP %s)", response.status_code)
        else:
            logger.warning("ALERT %s", slack_text)
    except Exception as exc:
        failed.append(exc)
    try:
        if mailer is not None:
            outcome = await mailer.send(mail, key)
            logger.info("alert mail: %s", outcome)
    except Exception as exc:
        failed.append(exc)
    if failed:
        raise failed[0]


def _ui_url(flow_run) -> str | None:
    from prefect.utilities.urls import url_for

    try:
        return url_for(flow_run)
    except Exception:  # no UI configured (the temporary local API has none)
        return None


def _short(text: str, limit: int = 500) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
