"""Running the product crawl in its own process, resumably.

Scrapy's Twisted reactor can run only once per process, so `crawl()` writes the work
to a folder and runs `python -m tasks.glamira.crawl.runner <workdir>`, which crawls and
writes its results to the same folder:

    requests.jsonl   {"product_id", "url"} per line: the products to crawl (written by crawl())
    settings.json    the CrawlSettings (written by crawl())
    results.jsonl    one ProductItem per line, appended as each is scraped
    products.csv     product_id,name,price,currency,url,status,outcome,reason,crawled_at:
                     every product in results.jsonl once, its latest attempt
    summary.json     counts of the last run, its failures by reason and Scrapy's stats
    crawl.log        the subprocess's log, appended run after run

A re-run with the same folder skips products already recorded as successes or as final
failures (404, 403, no name on the page, robots.txt, redirect loops) and crawls again
those whose last attempt failed transiently (timeouts, connection errors, 429, 5xx).

Example:

    from tasks.glamira.crawl.runner import CrawlSettings, crawl

    outcome = crawl(
        [("110474", "https://www.glamira.de/glamira-ring-saphira.html?alloy=white-375")],
        Path("work/crawl/2026-05-09"),
        CrawlSettings(),
    )
    names = pl.read_csv(outcome.csv_path, schema_overrides={"product_id": pl.String})
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from tasks.glamira.crawl.items import ProductItem
from tasks.glamira.crawl.workdir import (
    CSV_FILE,
    LOG_FILE,
    REQUESTS_FILE,
    RESULTS_FILE,
    SETTINGS_FILE,
    SUMMARY_FILE,
    is_settled,
    latest_results,
    open_for_append,
    read_requests,
    read_results,
    write_products_csv,
    write_requests,
)

DEFAULT_USER_AGENT = "Mozilla/5.0 (compatible; GlamiraCatalogBot/1.0; +https://example.com/bot)"

_PROJECT_ROOT = Path(__file__).resolve().parents[3]
logger = logging.getLogger(__name__)


@dataclass
class CrawlSettings:
    """How politely to crawl. The defaults are the production ones.

    `rewrite_to`: when set, `scheme://host/path?query` is fetched as
    `{rewrite_to}/{host}/path?query` (robots.txt from `{rewrite_to}/robots.txt`) while
    results keep the original URLs: the embedded default points it at a `CatalogServer`.
    """

    user_agent: str = DEFAULT_USER_AGENT
    concurrent_requests_per_domain: int = 4
    download_delay: float = 0.25  # seconds between requests to a domain; AutoThrottle's floor
    autothrottle: bool = True
    retry_times: int = 3  # retries after the first attempt (429, 5xx, timeouts, connection errors)
    download_timeout: float = 20
    obey_robots: bool = True
    rewrite_to: str | None = None
    autothrottle_start_delay: float = 1.0
    autothrottle_max_delay: float = 30.0
    autothrottle_target_concurrency: float = 2.0
    retry_backoff_base: float = 1.0  # first retry waits this long, then twice as long each time
    retry_backoff_max: float = 60.0  # the longest wait, also for a server's Retry-After
    max_redirects: int = 10
    log_level: str = "INFO"

    def scrapy_settings(self, results_path: Path) -> dict:
        """The Scrapy settings of a crawl that appends its items to `results_path`."""
        return {
            "BOT_NAME": "glamira_catalog",
            "USER_AGENT": self.user_agent,
            "ROBOTSTXT_OBEY": self.obey_robots,
            "CONCURRENT_REQUESTS": max(16, self.concurrent_requests_per_domain),
            "CONCURRENT_REQUESTS_PER_DOMAIN": self.concurrent_requests_per_domain,
            "DOWNLOAD_DELAY": self.download_delay,
            "DOWNLOAD_DELAY_JITTER": 0.5,  # each delay 0.5x to 1.5x
            "AUTOTHROTTLE_ENABLED": self.autothrottle,
            "AUTOTHROTTLE_START_DELAY": self.autothrottle_start_delay,
            "AUTOTHROTTLE_MAX_DELAY": self.autothrottle_max_delay,
            "AUTOTHROTTLE_TARGET_CONCURRENCY": self.autothrottle_target_concurrency,
            "DOWNLOAD_TIMEOUT": self.download_timeout,
            "DNS_TIMEOUT": min(60.0, self.download_timeout),
            "RETRY_ENABLED": True,
            "RETRY_TIMES": self.retry_times,
            "RETRY_HTTP_CODES": [408, 425, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524],
            "RETRY_BACKOFF_BASE": self.retry_backoff_base,
            "RETRY_BACKOFF_MAX": self.retry_backoff_max,
            "RETRY_GIVE_UP_LOG_LEVEL": "WARNING",  # recorded as a failure, not a crawler error
            "REDIRECT_MAX_TIMES": self.max_redirects,
            "DOWNLOADER_MIDDLEWARES": {
                "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
                "tasks.glamira.crawl.middlewares.SharedRobotsTxtMiddleware": 100,
                "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
                "tasks.glamira.crawl.middlewares.BackoffRetryMiddleware": 550,
            },
            "ITEM_PIPELINES": {"tasks.glamira.crawl.middlewares.ResultsFilePipeline": 300},
            "RESULTS_FILE": str(results_path),
            "DEFAULT_REQUEST_HEADERS": {
                "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
                "Accept-Language": "en,de;q=0.8",
            },
            "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
            "TELNETCONSOLE_ENABLED": False,  # no listening ports in a crawler
            "REMOTE_CONTROL_ENABLED": False,
            "LOG_LEVEL": self.log_level,
        }

    @classmethod
    def load(cls, path: Path) -> CrawlSettings:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in json.loads(path.read_text()).items() if k in known})


@dataclass(frozen=True)
class CrawlOutcome:
    """What one run of the crawl did. `requested` = `skipped` + `crawled` + `not_attempted`."""

    requested: int  # distinct products asked for
    skipped: int  # recorded by an earlier run (success or final failure): not fetched again
    crawled: int  # recorded by this run
    ok: int  # of those crawled, with a name
    failed: int  # of those crawled, failed
    failures: dict[str, int]  # this run's failures by reason
    results_path: Path  # every attempt, one JSON line each (all runs)
    csv_path: Path  # every product once, its latest attempt
    log_path: Path
    seconds: float
    stats: dict = field(default_factory=dict)  # Scrapy's stats of this run (request counts...)

    @property
    def not_attempted(self) -> int:
        return self.requested - self.skipped - self.crawled


class CrawlError(RuntimeError):
    """The crawl's subprocess failed or did not finish in time; results so far are kept."""


def crawl(
    requests: list[tuple[str, str]],
    workdir: Path,
    settings: CrawlSettings | None = None,
    timeout_seconds: float = 3600,
) -> CrawlOutcome:
    """Crawl `(product_id, url)` pairs into `workdir` in a subprocess and wait for it.

    Products already recorded in `workdir` by an earlier run are skipped (unless their
    failure was transient). Raises `CrawlError`, with the tail of `crawl.log`, when the
    subprocess fails or outlives `timeout_seconds` (it is then stopped; what it had
    scraped stays in `results.jsonl` for the next run to resume from).
    """
    settings = settings or CrawlSettings()
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    write_requests(requests, workdir / REQUESTS_FILE)
    (workdir / SETTINGS_FILE).write_text(json.dumps(asdict(settings), indent=2) + "\n")
    (workdir / SUMMARY_FILE).unlink(missing_ok=True)
    log_path = workdir / LOG_FILE
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(_PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
    }
    started = time.monotonic()
    with log_path.open("ab") as log:
        log.write(f"--- crawl of {len(requests)} requests started {_now()} ---\n".encode())
        log.flush()
        process = subprocess.Popen(
            [sys.executable, "-m", "tasks.glamira.crawl.runner", str(workdir)],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            returncode = process.wait(timeout=timeout_seconds)
        except subprocess.TimeoutExpired:
            _stop(process)
            raise CrawlError(
                f"the product crawl did not finish in {timeout_seconds:g}s and was stopped; "
                f"{_count_results(workdir / RESULTS_FILE)} results so far are kept in {workdir / RESULTS_FILE} "
                f"and a re-run resumes from them.\n{log_tail(log_path)}"
            ) from None
        finally:
            if process.poll() is None:  # interrupted while waiting
                _stop(process)
    if returncode != 0 or not (workdir / SUMMARY_FILE).exists():
        raise CrawlError(
            f"the product crawl failed (exit code {returncode}); see {log_path}.\n{log_tail(log_path)}"
        )
    summary = json.loads((workdir / SUMMARY_FILE).read_text())
    return CrawlOutcome(
        requested=summary["requested"],
        skipped=summary["skipped"],
        crawled=summary["crawled"],
        ok=summary["ok"],
        failed=summary["failed"],
        failures=summary["failures"],
        results_path=workdir / RESULTS_FILE,
        csv_path=workdir / CSV_FILE,
        log_path=log_path,
        seconds=time.monotonic() - started,
        stats=summary["stats"],
    )


def _stop(process: subprocess.Popen, grace_seconds: float = 5) -> None:
    """Stop the crawl: SIGTERM (Scrapy stops scheduling and waits for the downloads in
    flight), a second SIGTERM after `grace_seconds` (Scrapy stops at once; the runner still
    writes products.csv), SIGKILL as the last resort. Results scraped so far are kept."""
    for _ in range(2):
        process.terminate()
        try:
            process.wait(timeout=grace_seconds)
            return
        except subprocess.TimeoutExpired:
            pass
    process.kill()
    process.wait()


def log_tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return f"(no log at {path})"
    tail = path.read_text(errors="replace").splitlines()[-lines:]
    return f"last {len(tail)} lines of {path}:\n" + "\n".join(tail)


# --- the subprocess -------------------------------------------------------------------


def run(workdir: Path) -> int:
    """Crawl what `workdir` asks for (see the module's docstring); returns an exit code."""
    from scrapy.crawler import CrawlerProcess

    from tasks.glamira.crawl.spider import ProductSpider

    settings = CrawlSettings.load(workdir / SETTINGS_FILE)
    requests = read_requests(workdir / REQUESTS_FILE)
    results_path = workdir / RESULTS_FILE
    started_at = _now()
    offset = results_path.stat().st_size if results_path.exists() else 0

    process = CrawlerProcess(settings.scrapy_settings(results_path))  # also sets up logging
    recorded = latest_results(results_path)
    pending = [(pid, url) for pid, url in requests if not is_settled(recorded.get(pid))]
    crawlable = [(pid, url) for pid, url in pending if _is_web_url(url)]
    logger.info(
        "%d products requested: %d already recorded, %d to crawl, %d with an invalid URL",
        len(requests),
        len(requests) - len(pending),
        len(crawlable),
        len(pending) - len(crawlable),
    )
    _append(results_path, [_failure(pid, url, "invalid URL") for pid, url in pending if not _is_web_url(url)])

    stats: dict = {}
    finish_reason = "finished"
    if crawlable:
        crawler = process.create_crawler(ProductSpider)
        process.crawl(crawler, products=crawlable, rewrite_to=settings.rewrite_to)
        process.start()
        stats = crawler.stats.get_stats() if crawler.stats else {}
        finish_reason = stats.get("finish_reason", "interrupted")

    this_run = read_results(results_path, offset)
    if finish_reason == "finished":  # every product must leave a trace
        done = {str(r["product_id"]) for r in this_run}
        missing = [(pid, url) for pid, url in crawlable if pid not in done]
        _append(
            results_path,
            [_failure(pid, url, "no result from the crawler", transient=True) for pid, url in missing],
        )
        this_run += read_results(results_path, offset)[len(this_run) :]
    write_products_csv(results_path, workdir / CSV_FILE)

    failures = Counter(r["reason"] for r in this_run if r["outcome"] != "ok")
    summary = {
        "started_at": started_at,
        "finished_at": _now(),
        "finish_reason": finish_reason,
        "requested": len(requests),
        "skipped": len(requests) - len(pending),
        "crawled": len({str(r["product_id"]) for r in this_run}),
        "ok": sum(r["outcome"] == "ok" for r in this_run),
        "failed": sum(r["outcome"] != "ok" for r in this_run),
        "failures": dict(failures.most_common()),
        "stats": {k: v for k, v in stats.items() if not isinstance(v, datetime)},
    }
    (workdir / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, default=str) + "\n")
    logger.info(
        "crawl %s: %s", finish_reason, {k: summary[k] for k in ("crawled", "ok", "failed", "failures")}
    )
    return 0 if finish_reason == "finished" else 1


def _is_web_url(url: str) -> bool:
    parts = urlsplit(url or "")
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _failure(product_id: str, url: str, reason: str, transient: bool = False) -> ProductItem:
    """A failure recorded without a download."""
    return ProductItem(
        product_id, url, fetched_url=None, status=None, outcome="failed", reason=reason, transient=transient
    )


def _append(path: Path, items: list) -> None:
    if items:
        with open_for_append(path) as out:
            for item in items:
                out.write(json.dumps(asdict(item), ensure_ascii=False) + "\n")


def _count_results(path: Path) -> int:
    return len(read_results(path))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m tasks.glamira.crawl.runner <workdir>", file=sys.stderr)
        return 2
    return run(Path(args[0]))


if __name__ == "__main__":
    sys.exit(main())
