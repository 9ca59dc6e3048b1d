"""Slack text: values from the data are shown literally, our own mrkdwn still works.

Slack's mrkdwn reads `<...>` as a link, mention or command (`<!channel>` pings everyone
in the channel) and `&...;` as an entity, so a booth, run or error naming them must
arrive escaped (`&lt;`, `&gt;`, `&amp;`), while our `*bold*` and our own link do not.
"""

from __future__ import annotations

import re

import polars as pl
import pytest

from pipelines.alerts import Alert
from pipelines.formatting import slack_escape, slack_link
from tasks.bahela.images import RAW_IMAGES_SCHEMA
from tasks.bahela.report import _slack, build_daily_report
from tasks.bahela.sessions import RAW_SESSIONS_SCHEMA
from tasks.bahela.summary import DETAIL, HEADLINE, compare
from tasks.bahela.transform import transform_day
from tests.unit.bahela_factories import DAY, raw_sessions_of, session_doc

HOSTILE = ["<!channel>", "a&b", "<http://x|y>"]
RUN_URL = "http://127.0.0.1:4200/runs/flow-run/0d4e6f2a"


def control_sequences(text: str) -> list[str]:
    """What Slack would act on: every `<...>` and every `&name;` entity in the text."""
    return re.findall(r"<[^<>]*>", text)


def entities(text: str) -> list[str]:
    return re.findall(r"&[a-z]+;", text)


@pytest.mark.parametrize(
    ("name", "escaped"),
    [
        ("<!channel>", "&lt;!channel&gt;"),
        ("a&b", "a&amp;b"),
        ("<http://x|y>", "&lt;http://x|y&gt;"),
        ("&lt;", "&amp;lt;"),  # an entity in the data is shown as typed, not decoded
        ("*Kemang* _Raya_", "*Kemang* _Raya_"),  # only the three control characters change
    ],
)
def test_escape_turns_slack_control_characters_into_entities(name, escaped):
    assert slack_escape(name) == escaped


def test_escaped_text_reads_back_as_the_original_in_slack():
    # Slack decodes exactly these three entities: decoding them must give the name back
    for name in [*HOSTILE, "&amp; & &lt;"]:
        decoded = slack_escape(name).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        assert decoded == name


def test_our_link_stays_a_link_and_its_parts_cannot_break_out():
    assert slack_link(RUN_URL, "open the run") == f"<{RUN_URL}|open the run>"
    hostile = slack_link("http://ui/runs?a=1&b=<2>|3", "<!here> & more")

    assert hostile == "<http://ui/runs?a=1&amp;b=&lt;2&gt;%7C3|&lt;!here&gt; &amp; more>"
    assert control_sequences(hostile) == [hostile]


# -- the Bahela daily Slack line --------------------------------------------------------------


def day_with_booths(*sites: str):
    """One completed session at each booth, the richest one last."""
    docs = [
        (site, session_doc(f"s{n:05d}", **{"payment.amount": 35_000 * (n + 1)}))
        for n, site in enumerate(sites)
    ]
    tables = transform_day(raw_sessions_of(docs), pl.DataFrame(schema=RAW_IMAGES_SCHEMA), list(sites), DAY)
    return tables, compare(tables.summary, None, DAY, (*HEADLINE, *DETAIL))


@pytest.mark.parametrize("site", HOSTILE)
def test_the_daily_slack_line_shows_a_hostile_top_booth_literally(site):
    tables, comparisons = day_with_booths("senopati", site)

    text = build_daily_report(tables, comparisons).slack

    assert f"Top booth: {slack_escape(site)} (" in text
    assert control_sequences(text) == []
    assert text.startswith("*Bahela — Saturday 21 November 2026*:"), "our bold survives"


def test_the_daily_slack_line_escapes_its_day_label():
    tables, comparisons = day_with_booths("senopati")

    text = _slack(tables, comparisons, "<!here> & <http://x|y>")

    assert text.startswith("*Bahela — &lt;!here&gt; &amp; &lt;http://x|y&gt;*:")
    assert control_sequences(text) == []


def test_a_day_without_sessions_escapes_its_day_label_too():
    empty = pl.DataFrame(schema=RAW_SESSIONS_SCHEMA)
    tables = transform_day(empty, pl.DataFrame(schema=RAW_IMAGES_SCHEMA), ["senopati"], DAY)
    comparisons = compare(tables.summary, None, DAY, (*HEADLINE, *DETAIL))

    text = _slack(tables, comparisons, "<!channel>")

    assert text == "*Bahela — &lt;!channel&gt;*: no sessions at any booth."


# -- alerts --------------------------------------------------------------------------------------


def alert(url: str | None = RUN_URL) -> Alert:
    return Alert(
        flow="bahela-daily",
        run_name="<!channel> run",
        run_id="0d4e6f2a",
        state="Failed",
        error="MongoDB said <http://evil|click me> & gave up",
        failed_tasks=[("extract <!here>", "a&b broke")],
        parameters={},
        url=url,
    )


def test_an_alert_shows_run_task_and_error_literally_and_keeps_its_link():
    text = alert().slack_text()

    assert "*Failed: bahela-daily / &lt;!channel&gt; run*" in text
    assert "`extract &lt;!here&gt;`: a&amp;b broke" in text
    assert "*Error:* MongoDB said &lt;http://evil|click me&gt; &amp; gave up" in text
    assert control_sequences(text) == [f"<{RUN_URL}|open the run>"]
    assert set(entities(text)) <= {"&lt;", "&gt;", "&amp;"}


def test_an_alert_without_a_ui_names_the_run_id_and_has_no_link():
    text = alert(url=None).slack_text()

    assert text.endswith("run id 0d4e6f2a")
    assert control_sequences(text) == []
