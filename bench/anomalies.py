"""Benchmark: anomaly detection over months of generated data with labelled incidents.

Bahela (`bahela()`): four months (default) of all five booths from demo/bahela.py with
incidents injected on days drawn from the seed (`incident_schedule`: a booth offline
from mid-day, payments failing, photo uploads broken; about 1.4 per booth per month),
after six weeks of warm-up that only feed the baseline. Each day goes through the
flow's own pure functions: `generate` for that day alone, `transform_day` (the real
parse, validate and summarise), `day_health`, `figures`, then `detect` against the
days before it, as bahela-daily does each morning. What is left out: the weekly
model's forecasts (detection uses the same-weekday baseline only; the forecast path is
unit-tested), and MongoDB/Cloudinary/lake/warehouse I/O.

Printed: recall on the injected incidents (found = the booth flagged that day; with the
right cause = also named as offline / payments / uploads), the same for the generator's
own days where a booth had no session at all (`closed`, 2% of booth-days, which are
real incidents too), false alarms per booth per month on normal booth-days (a day counts
once however many of its figures were flagged), and for all booths together; time,
days per second and peak memory, and the same scores for a naive detector in the same
run (revenue more than 40% off its trailing 7-day mean, what the daily mail's
comparison would suggest) as the baseline.

    .venv/bin/python bench/anomalies.py [--months 4] [--seed 7]

Goal (issue 13): every injected incident found, at most one false alarm per booth per
month. Results also go to bench/results/anomalies.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LAST_DAY = date(2026, 11, 29)
WARM_UP_DAYS = 42  # six weeks: the baseline's reach
DAYS_PER_MONTH = 30.44
RIGHT_CAUSE = {"offline": "booth offline", "closed": "booth offline", "payments": "payments failing"}
RIGHT_CAUSE["uploads"] = "uploads broken"


def bahela_figures(first, last, seed: int):
    """Every day's `figures` (all booths and ALL), as the flow computes them, and the
    incidents injected."""
    import polars as pl

    from demo import bahela as sample_data
    from tasks.bahela.anomalies import day_health, figures
    from tasks.bahela.images import RAW_IMAGES_SCHEMA
    from tasks.bahela.sessions import SITE_DATABASE_PREFIX, sessions_frame
    from tasks.bahela.transform import transform_day

    schedule = sample_data.incident_schedule(first, last, seed)
    sites = [b.site for b in sample_data.BOOTHS]
    summaries, health, injected = [], [], []
    day = first
    while day <= last:
        # one day at a time: a day's data does not depend on the range it is generated in
        sample = sample_data.generate(day, day, seed, incidents=schedule)
        injected += sample.incidents
        raw = sessions_frame((db.removeprefix(SITE_DATABASE_PREFIX), doc) for db, doc in sample.documents())
        images = pl.DataFrame({"raw": [json.dumps(r) for r in sample.images]}, schema=RAW_IMAGES_SCHEMA)
        tables = transform_day(raw, images, sites, day)
        summaries.append(tables.summary)
        health.append(day_health(tables.sessions, tables.rejects, day))
        day += timedelta(days=1)
    closed = sample_data.closed_days(first, last, seed)
    return figures(pl.concat(summaries), pl.concat(health)), injected, closed


def detect_each_day(figs, days):
    """`detect` for each day against the days before it only."""
    import polars as pl

    from tasks.bahela.anomalies import detect

    found = [detect(figs.filter(pl.col("day") == d), figs.filter(pl.col("day") < d), d) for d in days]
    return pl.concat(found)


def naive_each_day(figs, days, band: float = 0.4):
    """The baseline detector: a booth's revenue more than `band` off its trailing 7-day mean."""
    import polars as pl

    rows = []
    for d in days:
        past = figs.filter(pl.col("day").is_between(d - timedelta(days=7), d - timedelta(days=1)))
        mean = past.group_by("entity").agg(expected=pl.col("revenue_idr").mean())
        today = figs.filter(pl.col("day") == d).join(mean, on="entity")
        off = today.filter((pl.col("revenue_idr") - pl.col("expected")).abs() > band * pl.col("expected"))
        rows.append(off.select("day", "entity", cause=pl.lit(None, pl.String)))
    return pl.concat(rows)


def score(flagged, incidents, closed, days, sites) -> dict:
    """Recall (found, right cause) per kind, false alarms per booth per month."""
    by_day = {}
    for row in flagged.select("day", "entity", "cause").iter_rows(named=True):
        by_day.setdefault((row["day"], row["entity"]), set()).add(row["cause"] or "")
    window = set(days)
    labelled = [i for i in (*incidents, *closed) if i.day in window]
    recall: dict[str, dict] = {}
    for i in labelled:
        r = recall.setdefault(i.kind, {"incidents": 0, "found": 0, "right_cause": 0, "missed": []})
        causes = by_day.get((i.day, i.site))
        r["incidents"] += 1
        if causes is None:
            r["missed"].append(f"{i.site} {i.day}")
            continue
        r["found"] += 1
        r["right_cause"] += any(c.startswith(RIGHT_CAUSE[i.kind]) for c in causes)
    incident_days = {(i.day, i.site) for i in labelled}
    any_incident = {i.day for i in labelled}
    months = len(days) / DAYS_PER_MONTH
    booth_alarms = [(d, e) for (d, e) in by_day if e in sites and d in window and (d, e) not in incident_days]
    all_alarms = [d for (d, e) in by_day if e == "all" and d in window and d not in any_incident]
    return {
        "recall": recall,
        "false_alarms": len(booth_alarms),
        "false_alarms_per_booth_month": len(booth_alarms) / len(sites) / months,
        "false_alarm_days": sorted(f"{e} {d}" for d, e in booth_alarms),
        "all_booths_false_alarms_per_month": len(all_alarms) / months,
        "months": months,
    }


def _print_scores(name: str, scores: dict) -> None:
    print(f"  {name}:")
    for kind, r in sorted(scores["recall"].items()):
        print(
            f"    {kind:<9} recall {r['found']}/{r['incidents']}"
            f" ({r['found'] / r['incidents']:.0%}), right cause {r['right_cause']}/{r['incidents']}"
            + (f"; missed: {', '.join(r['missed'][:6])}" if r["missed"] else "")
        )
    print(
        f"    false alarms: {scores['false_alarms']} booth-days, "
        f"{scores['false_alarms_per_booth_month']:.2f} per booth per month; all booths together: "
        f"{scores['all_booths_false_alarms_per_month']:.2f} per month"
    )
    if scores["false_alarm_days"]:
        print(f"      on: {', '.join(scores['false_alarm_days'][:12])}")


def bahela(months: int = 4, seed: int = 7) -> dict:
    from demo.bahela import BOOTHS

    days_scored = round(months * DAYS_PER_MONTH)
    first_scored = LAST_DAY - timedelta(days=days_scored - 1)
    first = first_scored - timedelta(days=WARM_UP_DAYS)
    days = [first_scored + timedelta(days=n) for n in range(days_scored)]
    sites = {b.site for b in BOOTHS}
    print(
        f"Bahela: {len(BOOTHS)} booths, {first_scored} … {LAST_DAY} ({months} months) after {WARM_UP_DAYS} days' warm-up"
    )

    started = time.perf_counter()
    figs, incidents, closed = bahela_figures(first, LAST_DAY, seed)
    generated = time.perf_counter() - started

    started = time.perf_counter()
    flagged = detect_each_day(figs, days)
    detection = time.perf_counter() - started

    started = time.perf_counter()
    naive = naive_each_day(figs, days)
    naive_seconds = time.perf_counter() - started

    ours, theirs = (
        score(flagged, incidents, closed, days, sites),
        score(naive, incidents, closed, days, sites),
    )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"  generate + transform (the flow's functions): {generated:.1f}s for "
        f"{(LAST_DAY - first).days + 1} days ({(LAST_DAY - first).days / generated:.1f} days/s)"
    )
    print(
        f"  detection: {detection:.2f}s for {len(days)} days ({len(days) / detection:.0f} days/s, "
        f"{flagged.height} unusual figures); peak memory {peak_mb:.0f} MB"
    )
    _print_scores("same-weekday baseline (bahela-daily)", ours)
    _print_scores("naive: revenue ±40% of the trailing 7-day mean", theirs)
    recall = sum(r["found"] for k, r in ours["recall"].items() if k != "closed")
    total = sum(r["incidents"] for k, r in ours["recall"].items() if k != "closed")
    goal = recall == total and ours["false_alarms_per_booth_month"] <= 1
    print(
        f"  ratio: detection takes {detection / naive_seconds:.1f}x the naive detector's time; "
        f"goal (every injected incident, ≤ 1 false alarm per booth per month): {'met' if goal else 'NOT met'}"
    )
    return {
        "booths": len(BOOTHS),
        "first_day": first_scored.isoformat(),
        "last_day": LAST_DAY.isoformat(),
        "seed": seed,
        "generate_seconds": generated,
        "detect_seconds": detection,
        "naive_seconds": naive_seconds,
        "peak_mb": peak_mb,
        "anomalies": flagged.height,
        "ours": ours,
        "naive": theirs,
        "goal_met": goal,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--months", type=int, default=4, help="months scored, after six weeks' warm-up")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    results = {"bahela": bahela(args.months, args.seed)}
    out = ROOT / "bench" / "results" / "anomalies.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"results: {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
