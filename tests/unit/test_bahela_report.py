"""build_daily_report and the mail it becomes: JSON attachment, HTML, MIME and SendGrid."""

from __future__ import annotations

import base64
import email
import json
from datetime import date, timedelta
from email import policy

import polars as pl
import pytest

from blocks.mail import Outbox
from demo.bahela import BOOTHS, generate
from pipelines.formatting import rupiah
from tasks.bahela.images import RAW_IMAGES_SCHEMA
from tasks.bahela.report import build_daily_report
from tasks.bahela.sessions import RAW_SESSIONS_SCHEMA
from tasks.bahela.summary import DETAIL, HEADLINE, SUMS, compare
from tasks.bahela.transform import transform_day
from tests.unit.bahela_factories import (
    image_resource,
    jakarta,
    raw_images,
    raw_sessions,
    raw_sessions_of,
    session_doc,
)

DAY = date(2026, 11, 21)
SITES = [b.site for b in BOOTHS]
METRICS = (*HEADLINE, *DETAIL)
SENDER = "Bahela Reports <reports@bahela.id>"
RECIPIENTS = ["owner@bahela.id", "ops@bahela.id"]


def raw_frames(sample) -> tuple[pl.DataFrame, pl.DataFrame]:
    sessions = raw_sessions_of((db.removeprefix("booth_"), doc) for db, doc in sample.documents())
    return sessions, raw_images(*sample.images)


def report_of(tables, history=None):
    return build_daily_report(tables, compare(tables.summary, history, tables.day, METRICS))


@pytest.fixture(scope="module")
def generated():
    """A generated Saturday and the Friday before it as history."""
    raw_sessions_, raw_images_ = raw_frames(generate(DAY - timedelta(days=1), DAY, seed=7))
    previous = transform_day(raw_sessions_, raw_images_, SITES, DAY - timedelta(days=1))
    tables = transform_day(raw_sessions_, raw_images_, SITES, DAY)
    return tables, previous.summary, report_of(tables, previous.summary)


@pytest.fixture(scope="module")
def empty_day():
    tables = transform_day(
        pl.DataFrame(schema=RAW_SESSIONS_SCHEMA), pl.DataFrame(schema=RAW_IMAGES_SCHEMA), SITES, DAY
    )
    return report_of(tables)


def attachment_json(report) -> dict:
    (attachment,) = report.email.attachments
    return json.loads(attachment.content)


# -- the JSON attachment ----------------------------------------------------------------


def test_the_attachment_is_the_payload_as_json(generated):
    _, _, report = generated

    assert attachment_json(report) == report.payload


def test_the_attachment_totals_equal_the_sums_over_booths(generated):
    tables, _, report = generated
    totals = attachment_json(report)["totals"]

    summed = {key: tables.summary[key].sum() for key in SUMS if key in totals}

    assert len(summed) >= 10 and summed["revenue_idr"] > 0
    assert {key: totals[key]["value"] for key in summed} == summed


def test_the_attachment_average_duration_is_weighted_over_the_transactions_with_a_duration(generated):
    tables, _, report = generated

    avg = attachment_json(report)["totals"]["avg_duration_seconds"]["value"]

    expected = tables.summary["total_duration_seconds"].sum() / tables.summary["timed_transactions"].sum()
    assert tables.summary["timed_transactions"].sum() < tables.summary["transactions"].sum()  # some unknown
    assert avg == pytest.approx(expected)


def test_the_attachment_compares_with_the_previous_day(generated):
    _, history, report = generated

    revenue = attachment_json(report)["totals"]["revenue_idr"]

    assert revenue["previous_day"] == history["revenue_idr"].sum()
    assert revenue["trailing_average_days"] == 1


def test_the_attachment_has_one_entry_per_booth_with_its_summary(generated):
    tables, _, report = generated

    booths = attachment_json(report)["booths"]

    assert [(b["site"], b["revenue_idr"]) for b in booths] == tables.summary.select(
        "site", "revenue_idr"
    ).rows()


def test_the_attachment_accounts_for_every_row(generated):
    tables, _, report = generated

    quality = attachment_json(report)["data_quality"]

    assert {k: v for k, v in quality.items() if k != "rejects_by_reason"} == tables.counts.as_dict()
    assert sum(quality["rejects_by_reason"].values()) >= tables.rejects.height > 0


def test_a_day_with_sessions_has_status_ok(generated):
    _, _, report = generated

    assert (report.payload["status"], report.payload["day"], report.payload["currency"]) == (
        "ok",
        "2026-11-21",
        "IDR",
    )


# -- the readable parts ------------------------------------------------------------------


def test_the_html_shows_the_revenue_in_rupiah_and_every_booth(generated):
    tables, _, report = generated
    revenue = rupiah(tables.summary["revenue_idr"].sum())

    assert revenue.startswith("Rp ") and "." in revenue
    assert revenue in report.html
    assert [site for site in SITES if site not in report.html] == []


def test_the_subject_names_the_day_revenue_and_transactions(generated):
    tables, _, report = generated

    assert report.subject == (
        f"Bahela daily summary 2026-11-21: {rupiah(tables.summary['revenue_idr'].sum())} "
        f"from {tables.summary['transactions'].sum():,} transactions".replace(",", ".")
    )


def test_the_slack_line_names_the_top_booth(generated):
    tables, _, report = generated
    top = tables.summary.sort("revenue_idr", descending=True).row(0, named=True)

    assert f"Top booth: {top['site']} ({rupiah(top['revenue_idr'])})" in report.slack


def test_a_day_without_sessions_says_so_everywhere(empty_day):
    report = empty_day

    assert report.payload["status"] == "no_sessions"
    assert report.subject == "Bahela daily summary 2026-11-21: no sessions"
    assert "No sessions on Saturday 21 November 2026" in report.html
    assert "no sessions" in report.slack


def test_a_day_without_sessions_reports_zero_revenue(empty_day):
    assert empty_day.payload["totals"]["revenue_idr"]["value"] == 0


# -- grouping of reject reasons --------------------------------------------------------


def test_duplicates_of_different_sessions_are_counted_under_one_reason():
    raw = raw_sessions(
        session_doc("abc123"),
        session_doc("abc123", opened=jakarta(14, 0, 2), __v=1),
        session_doc("def456"),
        session_doc("def456", opened=jakarta(14, 0, 2), __v=1),
    )
    tables = transform_day(raw, raw_images(), ["senopati"], DAY)

    reasons = report_of(tables).payload["data_quality"]["rejects_by_reason"]

    assert reasons == {"sessions: duplicate session": 2}


def test_unknown_sessions_are_counted_under_one_reason_whatever_their_code():
    raw = raw_sessions(session_doc("abc123"))
    images = raw_images(image_resource("zzz999-1"), image_resource("qwerty-1"))
    tables = transform_day(raw, images, ["senopati"], DAY)

    reasons = report_of(tables).payload["data_quality"]["rejects_by_reason"]

    assert reasons == {"images: unknown session": 2}


# -- the mail ----------------------------------------------------------------------------


def parsed_mime(report) -> email.message.EmailMessage:
    message = report.email.to_mime(SENDER, RECIPIENTS)
    return email.message_from_bytes(message.as_bytes(), policy=policy.default)


def test_the_mime_message_has_text_html_and_the_json_attachment(generated):
    _, _, report = generated

    message = parsed_mime(report)

    assert message.get_body(("plain",)).get_content().rstrip("\n") == report.email.text.rstrip("\n")
    assert message.get_body(("html",)).get_content().rstrip("\n") == report.html.rstrip("\n")
    (attachment,) = list(message.iter_attachments())
    assert (attachment.get_content_type(), attachment.get_filename()) == (
        "application/json",
        "bahela-summary-2026-11-21.json",
    )
    assert json.loads(attachment.get_content()) == report.payload


def test_the_mime_message_is_addressed_from_the_sender_to_every_recipient(generated):
    _, _, report = generated

    message = parsed_mime(report)

    assert (message["From"], message["To"], message["Subject"]) == (
        SENDER,
        "owner@bahela.id, ops@bahela.id",
        report.subject,
    )


def test_sendgrid_gets_the_attachment_base64_encoded(generated):
    _, _, report = generated

    body = report.email.to_sendgrid(SENDER, RECIPIENTS)

    (attachment,) = body["attachments"]
    assert base64.b64decode(attachment["content"]) == report.email.attachments[0].content
    assert (attachment["type"], attachment["disposition"], attachment["filename"]) == (
        "application/json",
        "attachment",
        "bahela-summary-2026-11-21.json",
    )


def test_sendgrid_gets_sender_recipients_and_both_bodies(generated):
    _, _, report = generated

    body = report.email.to_sendgrid(SENDER, RECIPIENTS)

    assert body["from"] == {"email": "reports@bahela.id", "name": "Bahela Reports"}
    assert body["personalizations"] == [{"to": [{"email": "owner@bahela.id"}, {"email": "ops@bahela.id"}]}]
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    assert body["content"][1]["value"] == report.html


@pytest.mark.anyio
async def test_the_outbox_writes_the_message_as_an_eml_file(tmp_path, empty_day):
    outbox = Outbox(path=str(tmp_path / "outbox"))

    written = await outbox.send(empty_day.email, "bahela-daily-2026-11-21")

    assert written == str(tmp_path / "outbox" / "bahela-daily-2026-11-21.eml")
    message = email.message_from_bytes((tmp_path / "outbox" / "bahela-daily-2026-11-21.eml").read_bytes())
    assert message["Subject"] == empty_day.subject


def _anomalies(day: date) -> pl.DataFrame:
    from tasks.anomalies import conform

    return conform(
        pl.DataFrame(
            {
                "business": ["bahela", "bahela", "bahela"],
                "day": [day] * 3,
                "entity": ["kemang", "kemang", "all"],
                "metric": ["quiet_hours", "revenue_idr", "revenue_idr"],
                "actual": [9.8, 400_000.0, 9_000_000.0],
                "expected": [1.1, 2_400_000.0, 12_000_000.0],
                "score": [17.0, -8.5, -4.2],
                "basis": ["baseline"] * 3,
                "severity": ["severe", "severe", "warning"],
                "cause": [
                    "booth offline since 14:10",
                    "booth offline since 14:10",
                    "kemang: booth offline since 14:10",
                ],
                "detail": [
                    "Probably offline since 14:10.",
                    "Revenue at booth kemang was low.",
                    "All booths low.",
                ],
            }
        )
    )


def test_the_mail_and_slack_line_lead_with_the_unusual(generated):
    tables, previous, _ = generated
    comparisons = compare(tables.summary, previous, tables.day, METRICS)

    report = build_daily_report(tables, comparisons, _anomalies(tables.day))

    # the first block after the heading, before the cards
    assert report.html.index("Unusual today") < report.html.index("By booth")
    assert report.html.index("kemang: booth offline since 14:10") < report.html.index("Revenue")
    assert report.email.text.splitlines()[2] == "Unusual today:"
    assert "[severe] kemang: booth offline since 14:10" in report.email.text.splitlines()[3]
    assert report.slack.startswith(":rotating_light: *Unusual:* kemang: booth offline since 14:10\n*Bahela")
    assert report.markdown.index("## Unusual today") < report.markdown.index("## By booth")
    # the total's borrowed cause is not listed twice, but the JSON keeps every row
    assert report.slack.count("offline") == 1
    assert [a["metric"] for a in report.payload["anomalies"]] == ["quiet_hours", "revenue_idr", "revenue_idr"]
    assert report.payload["anomalies"][0]["day"] == tables.day.isoformat()


def test_a_day_with_nothing_unusual_says_so_and_keeps_the_slack_line(generated):
    tables, previous, plain = generated
    comparisons = compare(tables.summary, previous, tables.day, METRICS)

    report = build_daily_report(tables, comparisons, _anomalies(tables.day).clear())

    assert "Nothing unusual" in report.html and "Unusual today" not in report.html
    assert report.email.text.splitlines()[2].startswith("Nothing unusual")
    assert report.slack == plain.slack
    assert report.payload["anomalies"] == []
    assert "anomalies" not in plain.payload  # detection not run: the report says nothing of it
