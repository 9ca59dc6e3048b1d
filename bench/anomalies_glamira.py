"""Benchmark: Glamira anomaly detection against the generator's labelled incidents.

The demo's generator (demo/glamira.py) injects incidents on known days: a store's
tracking going down from some hour, a store's prices ×1.5 for a week, one event type of
a store flooding in. This generates the events of every day over several months (6 weeks
of warm-up before them, so the first day checked has its baseline), reduces each day to
what the detector reads from the marts (events per store and collection; deduplicated
successful checkouts' lines with their parsed local price and USD amount), then runs the
pipeline's own `detect` day by day with only the weeks before each day, and prints:

- recall: incidents found (any flag on the store on a day of the incident), and found
  with the right cause; incidents the data cannot show (a price change at a store that
  sold nothing comparable that week) are counted apart;
- false alarms: days a store is flagged with no incident of its own, per store per month
  (the goal: at most one), and days "all stores" is flagged with no incident anywhere;
- time and peak resident memory.

Generating the real events (not aggregates drawn from rates) keeps the noise honest: a
store's events come in visits of a dozen events, which makes them vary far more than
independent events would. At 20,000 events a day (the demo's volume) a day takes about
half a second; two processes generate the days. Results also go to
bench/results/anomalies_glamira.json.

    .venv/bin/python bench/anomalies_glamira.py [--months 6] [--events 20000] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from datetime import date, timedelta
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FIRST_DAY = date(2025, 1, 6)  # a Monday; the first day checked is 6 weeks later
WARM_UP_WEEKS = 6
USD_PER_EUR = 1.08


def day_frames(day: date, events_per_day: int, seed: int) -> tuple[list[tuple], list[tuple]]:
    """One generated day as the marts would hold it: (store, collection, events) counts,
    and the lines of the deduplicated successful checkouts."""
    from demo import glamira

    counts: Counter = Counter()
    orders: dict[str, dict] = {}
    for doc in glamira.iter_events(day, events_per_day, seed=seed):
        store = doc["store_id"]
        counts[(store, doc["collection"])] += 1
        if doc["collection"] == "checkout_success":
            key = f"{store}:{doc.get('order_id') or doc['_id']}"
            orders.setdefault(key, doc)  # a checkout sent twice is one order
    lines = []
    for key, doc in orders.items():
        store = glamira.STORE_BY_ID[doc["store_id"]]
        for line in doc["cart_products"]:
            options = line.get("option") or []
            named = {o.get("option_label"): o.get("value_label") for o in options if isinstance(o, dict)}
            lines.append(
                (
                    store.store_id,
                    key,
                    str(line.get("product_id")),
                    named.get("alloy"),
                    named.get("Stone") or named.get("Pearl"),
                    int(line.get("amount") or 0),
                    line.get("price"),
                    USD_PER_EUR / store.per_eur,
                )
            )
    return [(s, c, n) for (s, c), n in counts.items()], lines


def _generate(args: tuple[date, int, int]) -> tuple[date, list[tuple], list[tuple]]:
    day, events, seed = args
    return (day, *day_frames(day, events, seed))


def build_frames(days: list[date], events_per_day: int, seed: int, workers: int):
    import polars as pl

    from tasks.glamira.anomalies import EVENTS_SCHEMA, LINES_SCHEMA
    from tasks.glamira.prices import parse_price

    event_rows, line_rows = [], []
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        for day, counts, lines in pool.map(_generate, [(d, events_per_day, seed) for d in days]):
            event_rows += [(day, *row) for row in counts]
            line_rows += [(day, *row) for row in lines]
    events = pl.DataFrame(
        event_rows, schema=["date_day", "store_key", "collection", "events"], orient="row"
    ).cast(EVENTS_SCHEMA)
    raw = pl.DataFrame(
        line_rows,
        schema=[
            ("date_day", pl.Date),
            ("store_key", pl.String),
            ("order_key", pl.String),
            ("product_key", pl.String),
            ("option_alloy", pl.String),
            ("option_stone", pl.String),
            ("quantity", pl.Int64),
            ("price", pl.String),
            ("usd_per_unit", pl.Float64),
        ],
        orient="row",
    )
    supported = pl.col("quantity").is_between(1, 20)
    lines = raw.with_columns(unit_price_local=parse_price(pl.col("price"))).with_columns(
        line_total_usd=pl.when(supported).then(
            pl.col("unit_price_local") * pl.col("quantity") * pl.col("usd_per_unit")
        )
    )
    return events, lines.select(list(LINES_SCHEMA)).cast(LINES_SCHEMA)


def evaluate(events, lines, checked: list[date], seed: int) -> dict:
    import polars as pl

    from demo import glamira
    from tasks.anomalies import ALL
    from tasks.glamira.anomalies import PRICES_CHANGED, RULES, detect

    started = time.perf_counter()
    found = []
    for day in checked:
        since = day - timedelta(weeks=RULES.weeks)
        window = pl.col("date_day").is_between(since, day)
        frame, _ = detect(events.filter(window), lines.filter(window), day)
        found.append(frame)
    detect_seconds = time.perf_counter() - started
    anomalies = pl.concat(found)

    labels = glamira.incidents(checked[0], checked[-1], seed)
    by_store_day = {(i.store_id, i.day): i for i in labels}
    incident_days = {i.day for i in labels}
    episodes: dict[tuple, list] = defaultdict(list)
    for i in labels:
        episodes[(i.store_id, i.kind, i.first_day)].append(i)

    flags = anomalies.select("day", "entity", "cause", "metric").to_dicts()
    flagged_days = defaultdict(list)
    for f in flags:
        flagged_days[(f["entity"], f["day"])].append(f)
    expected_cause = {
        glamira.TRACKING_DOWN: lambda i, c: c == "tracking down",
        glamira.PRICE_CHANGE: lambda i, c: c == "prices changed",
        glamira.FLOOD: lambda i, c: c == f"flood of {i.collection} events",
    }
    sold = set(lines.select("store_key", "date_day").unique().iter_rows())
    results = []
    for (store, kind, first), days in sorted(episodes.items(), key=lambda kv: kv[0][2]):
        hits = [f for i in days for f in flagged_days.get((store, i.day), [])]
        right = any(expected_cause[kind](days[0], f["cause"]) for f in hits)
        visible = kind != glamira.PRICE_CHANGE or any((store, i.day) in sold for i in days)
        results.append(
            {
                "store": store,
                "kind": kind,
                "first_day": first.isoformat(),
                "days": len(days),
                "found": bool(hits),
                "right_cause": right,
                "visible": visible,
                "causes": sorted({f["cause"] or "-" for f in hits}),
            }
        )

    # A week of changed prices is part of the same product's reference for the weeks after
    # it: the first sales back at the old prices read as a change too, and are one (the
    # store changed its prices back). Counted apart, not as false alarms.
    changed_until = defaultdict(list)
    for i in labels:
        if i.kind == glamira.PRICE_CHANGE:
            changed_until[i.store_id].append(i.day)
    restores = 0
    stores = sorted(events["store_key"].unique().to_list())
    months = sorted({(d.year, d.month) for d in checked})
    false_store = Counter()
    false_all = 0
    for (entity, day), fs in flagged_days.items():
        if entity == ALL:
            false_all += day not in incident_days
        elif (entity, day) not in by_store_day:
            after_change = any(0 < (day - d).days <= RULES.weeks * 7 for d in changed_until.get(entity, []))
            if after_change and all(f["cause"] == PRICES_CHANGED for f in fs):
                restores += 1
            else:
                false_store[(entity, (day.year, day.month))] += 1
    per_store_month = [false_store.get((s, m), 0) for s in stores for m in months]
    visible = [r for r in results if r["visible"]]
    return {
        "incidents": len(results),
        "found": sum(r["found"] for r in results),
        "found_right_cause": sum(r["right_cause"] for r in results),
        "visible": len(visible),
        "visible_found": sum(r["found"] for r in visible),
        "false_alarm_days": sum(false_store.values()),
        # per 30.44 days: the first and last calendar months are partial
        "false_alarms_per_store_month_mean": sum(per_store_month) / (len(stores) * len(checked) / 30.44),
        "false_alarms_per_store_month_max": max(per_store_month, default=0),
        "store_months_over_one": sum(n > 1 for n in per_store_month),
        "false_alarm_days_all_stores": false_all,
        "price_restores_flagged": restores,
        "stores": len(stores),
        "months": len(months),
        "detect_seconds": detect_seconds,
        "episodes": results,
        "false_alarms": [
            {"store": s, "month": f"{m[0]}-{m[1]:02d}", "days": n}
            for (s, m), n in sorted(false_store.items())
        ],
    }


def _frames(folder: Path | None, days: list[date], events_per_day: int, seed: int, workers: int):
    import polars as pl

    if folder is None:
        return build_frames(days, events_per_day, seed, workers)
    name = f"{days[0]}_{days[-1]}_{events_per_day}_{seed}"
    paths = folder / f"events_{name}.parquet", folder / f"lines_{name}.parquet"
    if not all(p.exists() for p in paths):
        folder.mkdir(parents=True, exist_ok=True)
        for frame, path in zip(build_frames(days, events_per_day, seed, workers), paths, strict=True):
            frame.write_parquet(path)
    return tuple(pl.read_parquet(p) for p in paths)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--months", type=int, default=6, help="months checked (after 6 weeks of warm-up)")
    parser.add_argument("--events", type=int, default=20_000, help="events per day (the demo's volume)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--frames", type=Path, help="keep the generated frames in this folder and reuse them (for tuning)"
    )
    args = parser.parse_args()

    first_checked = FIRST_DAY + timedelta(weeks=WARM_UP_WEEKS)
    checked = [first_checked + timedelta(days=n) for n in range(round(args.months * 30.44))]
    days = [FIRST_DAY + timedelta(days=n) for n in range((checked[-1] - FIRST_DAY).days + 1)]

    started = time.perf_counter()
    events, lines = _frames(args.frames, days, args.events, args.seed, args.workers)
    generate_seconds = time.perf_counter() - started
    result = evaluate(events, lines, checked, args.seed)
    result.update(
        events_per_day=args.events,
        days_generated=len(days),
        days_checked=len(checked),
        first_checked=checked[0].isoformat(),
        last_checked=checked[-1].isoformat(),
        generate_seconds=generate_seconds,
        peak_rss_mb=_peak_rss_mb(),
    )
    for r in result["episodes"]:
        mark = "found" if r["found"] else ("MISSED" if r["visible"] else "not visible")
        print(
            f"  {r['first_day']}  store {r['store']:>3}  {r['kind']:<14} {mark:<11} "
            f"causes: {', '.join(r['causes']) or '-'}"
        )
    print(
        f"Glamira anomalies: {result['days_checked']} days checked ({result['first_checked']} … "
        f"{result['last_checked']}, {result['months']} months, {result['stores']} stores, "
        f"{args.events:,} events/day)"
    )
    print(
        f"recall: {result['found']}/{result['incidents']} incidents found "
        f"({result['found_right_cause']} with the right cause); visible in the data: "
        f"{result['visible_found']}/{result['visible']}"
    )
    print(
        f"false alarms: {result['false_alarm_days']} store-days; per store per month mean "
        f"{result['false_alarms_per_store_month_mean']:.2f}, max {result['false_alarms_per_store_month_max']} "
        f"({result['store_months_over_one']} store-months over one); all stores on days without an "
        f"incident: {result['false_alarm_days_all_stores']}; days a store's prices were back after a "
        f"change (flagged, not counted): {result['price_restores_flagged']}"
    )
    print(
        f"time: generate {generate_seconds:.1f}s, detect {result['detect_seconds']:.1f}s; "
        f"peak memory {result['peak_rss_mb']:.0f} MB (this process)"
    )
    out = ROOT / "bench" / "results" / "anomalies_glamira.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
