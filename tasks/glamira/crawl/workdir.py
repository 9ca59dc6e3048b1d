"""The crawl's work folder: file names, and reading and writing what is in it.

requests.jsonl   {"product_id", "url"} per line: the products to crawl
settings.json    the CrawlSettings of the run
results.jsonl    one ProductItem per line, appended as each is scraped, run after run
products.csv     every product in results.jsonl once, its latest attempt
summary.json     counts of the last run, its failures by reason and Scrapy's stats
crawl.log        the subprocess's log, appended run after run
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

REQUESTS_FILE = "requests.jsonl"
SETTINGS_FILE = "settings.json"
RESULTS_FILE = "results.jsonl"
CSV_FILE = "products.csv"
SUMMARY_FILE = "summary.json"
LOG_FILE = "crawl.log"

# the seed's CSV: one row per product
CSV_COLUMNS = ["product_id", "name", "price", "currency", "url", "status", "outcome", "reason", "crawled_at"]

logger = logging.getLogger(__name__)


def write_requests(requests: Iterable[tuple[str, str]], path: Path) -> int:
    """Write distinct products (the first URL of each product id wins); returns how many."""
    seen: set[str] = set()
    with path.open("w", encoding="utf-8") as out:
        for product_id, url in requests:
            product_id = str(product_id).strip()
            if not product_id or product_id in seen:
                continue
            seen.add(product_id)
            out.write(json.dumps({"product_id": product_id, "url": url}, ensure_ascii=False) + "\n")
    return len(seen)


def read_requests(path: Path) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8") as lines:
        return [(r["product_id"], r["url"]) for r in map(json.loads, filter(str.strip, lines))]


def read_results(path: Path, offset: int = 0) -> list[dict]:
    """The results recorded from byte `offset` on; a line cut short by a killed run is skipped."""
    if not path.exists():
        return []
    results = []
    with path.open("rb") as lines:
        lines.seek(offset)
        for line in lines:
            try:
                results.append(json.loads(line))
            except ValueError:
                if line.strip():
                    logger.warning("skipping an unreadable line of %s: %.80r", path, line)
    return results


def latest_results(path: Path) -> dict[str, dict]:
    """The latest attempt of each product, in the order products were first recorded."""
    latest: dict[str, dict] = {}
    for result in read_results(path):
        latest[str(result["product_id"])] = result
    return latest


def is_settled(result: dict | None) -> bool:
    """True when a recorded attempt needs no new one: a success or a final failure."""
    return result is not None and (result["outcome"] == "ok" or not result.get("transient", False))


def write_products_csv(results_path: Path, csv_path: Path) -> int:
    """products.csv from every product in results.jsonl, its latest attempt; returns rows."""
    rows = latest_results(results_path).values()
    partial = csv_path.with_suffix(".csv.partial")
    with partial.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            price = row.get("price")
            writer.writerow({**row, "price": "" if price is None else f"{price:.2f}"})
    partial.replace(csv_path)
    return len(rows)


def open_for_append(path: Path) -> TextIO:
    """`path` opened to append lines; a last line cut short by a killed run is ended first,
    so that it stays alone on its line (readers skip it) and the next one is whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    cut_short = False
    if path.exists() and path.stat().st_size:
        with path.open("rb") as existing:
            existing.seek(-1, 2)
            cut_short = existing.read(1) != b"\n"
    file = path.open("a", encoding="utf-8")
    if cut_short:
        file.write("\n")
    return file
