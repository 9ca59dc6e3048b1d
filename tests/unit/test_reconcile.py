"""The reconciliation of a run: every document of the source accounted for, or the run
fails before it replaces anything."""

from __future__ import annotations

import pytest

from tasks.reconcile import Reconciliation, ReconciliationError


def test_a_day_that_adds_up_reads_as_an_equation():
    r = Reconciliation(source=1_234, read=1_234, landed=1_200, set_aside=30, other_days={"2026-11-19": 4})

    assert r.ok and r.check("day") is r
    assert r.line() == "1,234 in the source = 1,200 landed + 30 set aside + 4 on other days (2026-11-19: 4)"


def test_a_source_that_counts_more_than_the_run_read_fails_the_run_saying_why():
    r = Reconciliation(source=1_001, read=1_000, landed=990, set_aside=10)

    with pytest.raises(
        ReconciliationError, match="counted 1,001 documents .* read 1,000.*Nothing was replaced"
    ):
        r.check("glamira events of 2026-11-20")
    assert "≠" in r.line()


def test_documents_read_but_not_accounted_for_fail_the_run():
    r = Reconciliation(source=100, read=100, landed=90, set_aside=5, repeated=1)

    with pytest.raises(ReconciliationError, match="100 documents read but 96 accounted for"):
        r.check("bahela sessions")


def test_a_source_that_cannot_count_is_checked_on_what_was_read():
    r = Reconciliation(source=None, read=10, landed=7, set_aside=2, repeated=1)

    assert r.ok and r.line() == "10 read = 7 landed + 2 set aside + 1 repeated"
