"""The Bahela daily summary as people receive it: an HTML mail readable in ten seconds,
its JSON attachment, a Prefect markdown artifact and a Slack line. Each leads with the
day's unusual figures (tasks/bahela/anomalies.py), or says there were none."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl

from blocks.mail import Attachment, Email
from pipelines import formatting as fmt
from pipelines import htmlmail as h
from pipelines.settings import JAKARTA
from tasks.bahela.anomalies import by_cause
from tasks.bahela.summary import DETAIL, HEADLINE, TRAILING_DAYS, Comparison, Metric
from tasks.bahela.transform import DayTables

ALL = "all booths"
# Figures where a rise is bad news, and where it is neither good nor bad.
LOWER_IS_BETTER = {"unpaid_sessions", "paid_unfinished_sessions", "discount_idr"}
NEUTRAL = {"avg_duration_seconds"}


def _good_direction(key: str) -> bool | None:
    return None if key in NEUTRAL else key not in LOWER_IS_BETTER


@dataclass(frozen=True)
class DailyReport:
    subject: str
    payload: dict
    email: Email
    markdown: str
    slack: str
    html: str


def build_daily_report(
    tables: DayTables,
    comparisons: dict[str, dict[str, Comparison]],
    anomalies: pl.DataFrame | None = None,
) -> DailyReport:
    """`anomalies`: the day's, in ANOMALY_SCHEMA (None: detection did not run, and the
    report says nothing about it)."""
    unusual = None if anomalies is None else by_cause(anomalies)
    payload = _payload(tables, comparisons)
    if anomalies is not None:
        payload["anomalies"] = [
            {k: (v.isoformat() if k == "day" else v) for k, v in row.items()}
            for row in anomalies.iter_rows(named=True)
        ]
    day_label = tables.day.strftime("%A %-d %B %Y")
    subject = f"Bahela daily summary {tables.day.isoformat()}: " + (
        f"{fmt.rupiah(comparisons[ALL]['revenue_idr'].value)} from "
        f"{fmt.count(comparisons[ALL]['transactions'].value)} transactions"
        if tables.has_sessions
        else "no sessions"
    )
    html = _html(tables, comparisons, day_label, unusual)
    attachment = Attachment(
        filename=f"bahela-summary-{tables.day.isoformat()}.json",
        content=json.dumps(payload, indent=2, ensure_ascii=False).encode(),
        mime_type="application/json",
    )
    return DailyReport(
        subject=subject,
        payload=payload,
        email=Email(
            subject=subject,
            html=html,
            text=_text(tables, comparisons, day_label, unusual),
            attachments=(attachment,),
        ),
        markdown=_markdown(tables, comparisons, day_label, unusual),
        slack=_slack(tables, comparisons, day_label, unusual),
        html=html,
    )


def _payload(tables: DayTables, comparisons: dict[str, dict[str, Comparison]]) -> dict:
    metrics = (*HEADLINE, *DETAIL)
    booths = []
    for row in tables.summary.iter_rows(named=True):
        site = row["site"]
        booths.append(
            {
                "site": site,
                **{k: v for k, v in row.items() if k not in ("day", "site")},
                "compared": {m.key: comparisons[site][m.key].as_dict() for m in HEADLINE},
            }
        )
    return {
        "report": "bahela-daily-summary",
        "day": tables.day.isoformat(),
        "time_zone": JAKARTA.key,
        "currency": "IDR",
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "status": "ok" if tables.has_sessions else "no_sessions",
        "totals": {m.key: comparisons[ALL][m.key].as_dict() for m in metrics},
        "booths": booths,
        "data_quality": {
            **tables.counts.as_dict(),
            "rejects_by_reason": dict(sorted(_reason_counts(tables.rejects).items())),
        },
    }


def _reason_counts(rejects: pl.DataFrame) -> Counter:
    """Rejects by kind of problem: a reason reads `<kind>: <detail>`, e.g.
    `unknown session: pg7kl1`, so grouping on the kind never splits by record."""
    counts: Counter = Counter()
    for dataset, reason in rejects.select("dataset", "reason").iter_rows():
        for part in reason.split("; "):
            counts[f"{dataset}: {part.split(':')[0]}"] += 1
    return counts


def _display(metric: Metric, value: float | None) -> str:
    return {
        "money": fmt.rupiah,
        "count": fmt.count,
        "duration": fmt.duration,
        "bytes": fmt.data_size,
        "pixels": fmt.megapixels,
    }[metric.kind](value)


NOTHING_UNUSUAL = "Nothing unusual: every figure within its usual range for the day."


def _unusual_html(unusual: list[dict] | None) -> str:
    """The mail's first block: what was unusual, most severe first, in a few lines."""
    if unusual is None:
        return ""
    if not unusual:
        return h.paragraph(NOTHING_UNUSUAL, muted=True)
    rows = [
        [
            ("⚠ " if u["severity"] == "severe" else "") + u["headline"],
            u["detail"],
        ]
        for u in unusual
    ]
    return (
        "<div style='border-left:4px solid #dc2626;padding:4px 12px;margin:16px 0'>"
        + h.section("Unusual today")
        + h.table(["Where and what", "Details"], rows)
        + "</div>"
    )


def _unusual_lines(unusual: list[dict] | None) -> list[str]:
    if unusual is None:
        return []
    if not unusual:
        return [NOTHING_UNUSUAL, ""]
    return [
        "Unusual today:",
        *(
            f"  {'[severe] ' if u['severity'] == 'severe' else ''}{u['headline']} — {u['detail']}"
            for u in unusual
        ),
        "",
    ]


def _html(tables: DayTables, comparisons, day_label: str, unusual: list[dict] | None = None) -> str:
    total = comparisons[ALL]
    parts = [h.heading("Bahela daily summary", f"{day_label} · {JAKARTA.key}"), _unusual_html(unusual)]
    if not tables.has_sessions:
        parts.append(
            h.paragraph(
                f"No sessions on {day_label}: none of the {len(tables.sites)} booths "
                f"({', '.join(tables.sites) or 'none configured'}) recorded a session. "
                "If a booth was open, check its tablet's connection."
            )
        )
    cards = []
    for m in HEADLINE:
        c = total[m.key]
        good = _good_direction(m.key)
        detail = (
            h.change(f"{fmt.signed_percent(c.vs_previous_day)} vs yesterday", c.vs_previous_day, good)
            + "<br>"
            + h.change(
                f"{fmt.signed_percent(c.vs_trailing_average)} vs {_avg_label(c)}", c.vs_trailing_average, good
            )
        )
        cards.append((m.label, _display(m, c.value), detail))
    parts.append(h.cards(cards))

    parts.append(h.section("By booth"))
    rows = []
    for site in tables.summary["site"]:
        c = comparisons[site]
        rows.append(
            [
                site,
                fmt.count(c["transactions"].value),
                fmt.rupiah(c["revenue_idr"].value),
                h.change(
                    fmt.signed_percent(c["revenue_idr"].vs_previous_day), c["revenue_idr"].vs_previous_day
                ),
                fmt.duration(c["avg_duration_seconds"].value),
                fmt.count(c["images"].value),
            ]
        )
    parts.append(
        h.table(
            ["Booth", "Transactions", "Revenue", "vs yesterday", "Avg. session", "Photos"],
            rows,
            raw_html_columns={3},
        )
    )

    parts.append(h.section("More figures"))
    detail_rows = [
        [
            m.label,
            _display(m, total[m.key].value),
            _display(m, total[m.key].previous_day),
            _display(m, total[m.key].trailing_average),
        ]
        for m in DETAIL
    ]
    parts.append(h.table(["All booths", "Today", "Yesterday", _avg_label(total["revenue_idr"])], detail_rows))
    parts.append(h.section("Data quality"))
    parts.append(h.paragraph(_quality_sentence(tables), muted=True))
    parts.append(h.paragraph("The full summary is attached as JSON.", muted=True))
    return h.page(f"Bahela daily summary {tables.day.isoformat()}", "".join(parts))


def _avg_label(c: Comparison) -> str:
    return f"{c.trailing_days}-day avg" if c.trailing_days else f"{TRAILING_DAYS}-day avg"


def _quality_sentence(tables: DayTables) -> str:
    c = tables.counts
    text = (
        f"Every document accounted for. Sessions: {c.sessions.line()}"
        + (f" ({fmt.count(c.sessions_duplicate)} of them duplicates)" if c.sessions_duplicate else "")
        + f". Photos: {c.images.line()}."
    )
    if tables.rejects.height:
        reasons = _reason_counts(tables.rejects).most_common(3)
        text += " Most common: " + "; ".join(f"{r} ({n})" for r, n in reasons) + "."
        text += f" Set-aside rows are in the lake under bahela/_rejects/*/dt={tables.day.isoformat()}."
    if issues := _issue_counts(tables.sessions).most_common(3):
        flagged = tables.sessions.filter(pl.col("issues").is_not_null()).height
        text += (
            f" {fmt.count(flagged)} kept sessions carry an issue (column `issues`): "
            + "; ".join(f"{r} ({n})" for r, n in issues)
            + "."
        )
    return text


def _issue_counts(sessions: pl.DataFrame) -> Counter:
    counts: Counter = Counter()
    for issues in sessions["issues"].drop_nulls():
        for part in issues.split("; "):
            counts[part.split(":")[0]] += 1
    return counts


def _text(tables: DayTables, comparisons, day_label: str, unusual: list[dict] | None = None) -> str:
    total = comparisons[ALL]
    lines = [f"Bahela daily summary — {day_label} ({JAKARTA.key})", "", *_unusual_lines(unusual)]
    if not tables.has_sessions:
        lines += [f"No sessions on {day_label}.", ""]
    for m in (*HEADLINE, *DETAIL):
        c = total[m.key]
        lines.append(
            f"{m.label:<22}{_display(m, c.value):>16}   {fmt.signed_percent(c.vs_previous_day)} vs yesterday, "
            f"{fmt.signed_percent(c.vs_trailing_average)} vs {_avg_label(c)}"
        )
    lines += ["", "By booth:"]
    for site in tables.summary["site"]:
        c = comparisons[site]
        lines.append(
            f"  {site:<12}{fmt.count(c['transactions'].value):>6} transactions  "
            f"{fmt.rupiah(c['revenue_idr'].value):>16}  {fmt.signed_percent(c['revenue_idr'].vs_previous_day)}"
        )
    lines += ["", _quality_sentence(tables), "", "The full summary is attached as JSON."]
    return "\n".join(lines)


def _markdown(tables: DayTables, comparisons, day_label: str, unusual: list[dict] | None = None) -> str:
    total = comparisons[ALL]
    out = [f"# Bahela daily summary — {day_label}", ""]
    if unusual:
        out += [
            "## Unusual today",
            "",
            h.markdown_table(
                ["Where and what", "Severity", "Details"],
                [[u["headline"], u["severity"], u["detail"]] for u in unusual],
            ),
            "",
        ]
    elif unusual is not None:
        out += [NOTHING_UNUSUAL, ""]
    if not tables.has_sessions:
        out += ["**No sessions on this day.**", ""]
    out.append(
        h.markdown_table(
            ["Metric", "Today", "vs yesterday", f"vs {_avg_label(total['revenue_idr'])}"],
            [
                [
                    m.label,
                    _display(m, total[m.key].value),
                    fmt.signed_percent(total[m.key].vs_previous_day),
                    fmt.signed_percent(total[m.key].vs_trailing_average),
                ]
                for m in (*HEADLINE, *DETAIL)
            ],
        )
    )
    out += ["", "## By booth", ""]
    out.append(
        h.markdown_table(
            ["Booth", "Transactions", "Revenue", "vs yesterday", "Avg. session", "Photos"],
            [
                [
                    site,
                    fmt.count(comparisons[site]["transactions"].value),
                    fmt.rupiah(comparisons[site]["revenue_idr"].value),
                    fmt.signed_percent(comparisons[site]["revenue_idr"].vs_previous_day),
                    fmt.duration(comparisons[site]["avg_duration_seconds"].value),
                    fmt.count(comparisons[site]["images"].value),
                ]
                for site in tables.summary["site"]
            ],
        )
    )
    c = tables.counts
    out += [
        "",
        "## Every document accounted for",
        "",
        h.markdown_table(
            ["Dataset", "In the source", "Read", "Landed", "Set aside", "Other days", "Repeated"],
            [
                [
                    name,
                    "—" if r.source is None else fmt.count(r.source),
                    fmt.count(r.read),
                    fmt.count(r.landed),
                    fmt.count(r.set_aside),
                    ", ".join(f"{d}: {n}" for d, n in sorted(r.other_days.items())) or "0",
                    fmt.count(r.repeated),
                ]
                for name, r in (("sessions", c.sessions), ("images", c.images))
            ],
        ),
        "",
        _quality_sentence(tables),
    ]
    return "\n".join(out)


def _slack(tables: DayTables, comparisons, day_label: str, unusual: list[dict] | None = None) -> str:
    return _slack_unusual(unusual) + _slack_day(tables, comparisons, day_label)


def _slack_unusual(unusual: list[dict] | None) -> str:
    """The line's lead: the unusual, severe first, before the day's figures."""
    if not unusual:
        return ""
    icon = ":rotating_light:" if any(u["severity"] == "severe" for u in unusual) else ":warning:"
    return f"{icon} *Unusual:* " + "; ".join(fmt.slack_escape(u["headline"]) for u in unusual) + "\n"


def _slack_day(tables: DayTables, comparisons, day_label: str) -> str:
    total = comparisons[ALL]
    day = fmt.slack_escape(day_label)
    if not tables.has_sessions:
        return f"*Bahela — {day}*: no sessions at any booth."
    revenue = total["revenue_idr"]
    best = max(tables.summary.iter_rows(named=True), key=lambda r: r["revenue_idr"])
    return (
        f"*Bahela — {day}*: {fmt.rupiah(revenue.value)} "
        f"({fmt.signed_percent(revenue.vs_previous_day)} vs yesterday) from "
        f"{fmt.count(total['transactions'].value)} transactions, avg session "
        f"{fmt.duration(total['avg_duration_seconds'].value)}, {fmt.count(total['images'].value)} photos. "
        f"Top booth: {fmt.slack_escape(best['site'])} ({fmt.rupiah(best['revenue_idr'])})."
        + (f" {fmt.count(tables.counts.set_aside)} rows set aside." if tables.counts.set_aside else "")
    )
