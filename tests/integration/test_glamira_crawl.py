"""The Glamira product-name crawl end to end: a generated catalog served by CatalogServer
on 127.0.0.1, crawled by Scrapy in its own process through `crawl()`, and every outcome
(successes from each kind of markup, HTTP errors, redirects, a redirect loop, a timeout,
robots.txt, a retried 503) checked in results.jsonl, products.csv and the server's log."""

from __future__ import annotations

import csv
import json
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

import pytest

from demo.catalog_server import CatalogRequest, CatalogServer, product_page
from tasks.glamira.crawl.parsing import extract_product, parse_price
from tasks.glamira.crawl.runner import CrawlError, CrawlOutcome, CrawlSettings, crawl
from tasks.glamira.crawl.workdir import CSV_COLUMNS, latest_results, read_results

pytestmark = pytest.mark.integration

USER_AGENT = "Mozilla/5.0 (compatible; GlamiraCatalogBot/1.0; +https://example.com/bot)"
DE = "https://www.glamira.de"

JSON_LD_PAGE = """<!doctype html><html lang="de"><head>
<title>Ring Saphira 585 Weißgold | GLAMIRA.de</title>
<meta property="og:title" content="Ring Saphira | GLAMIRA.de">
<script type="application/ld+json">
{"@context": "https://schema.org", "@graph": [
  {"@type": "Organization", "name": "GLAMIRA", "url": "https://www.glamira.de"},
  {"@type": "BreadcrumbList", "itemListElement": [{"@type": "ListItem", "position": 1, "name": "Ringe"}]},
  {"@type": "Product", "name": "Ring Saphira", "sku": "110474",
   "image": "https://cdn-media.glamira.com/media/product/newgeneration/view/1/sku/saphira/alloy/white-375.jpg",
   "offers": {"@type": "Offer", "price": "1725.00", "priceCurrency": "EUR",
              "availability": "https://schema.org/InStock"}}
]}
</script></head>
<body><h1 class="page-title"><span class="base">Ring Saphira 585 Weißgold</span></h1></body></html>
"""

DATALAYER_PAGE = """<!doctype html><html lang="de"><head>
<title>Anhänger Amora | GLAMIRA.de</title>
<script>
  window.dataLayer = window.dataLayer || [];
  dataLayer.push({"event": "productDetail", "ecommerce": {"currencyCode": "EUR", "detail": {
    "actionField": {"list": "Related"},
    "products": [
      {"id": "95999", "name": "Anhänger Amora Mini", "price": "219.00"},
      {"id": "95012", "name": "Anhänger Amora", "price": "489.00", "brand": "GLAMIRA"}
    ]}}});
</script></head>
<body><div class="product-info-main"><div class="price">489,00 €</div></div></body></html>
"""

TITLE_PAGE = """<!doctype html><html lang="de"><head>
<title>Ohrring Lunette | GLAMIRA.de</title></head>
<body><h1 class="page-title">
  <span class="base" data-ui-id="page-title-wrapper" itemprop="name">Ohrring  Lunette</span>
</h1></body></html>
"""

NO_NAME_PAGE = """<!doctype html><html lang="de"><head><title>GLAMIRA</title></head>
<body><div class="cms-content">Entdecken Sie unsere Kollektionen</div></body></html>
"""

REDIRECT_TARGET_PAGE = """<!doctype html><html lang="en"><head>
<title>Bracelet Elara | GLAMIRA.com</title>
<script type="application/ld+json">[{"@context": "https://schema.org", "@type": "Product",
 "name": "Bracelet Elara", "sku": "160005",
 "offers": [{"@type": "Offer", "price": 899, "priceCurrency": "USD"}]}]</script>
</head><body></body></html>
"""

ROBOTS = """User-agent: *
Disallow: /www.glamira.de/private/
"""

# product id -> (url, path of its page in the catalog or None, routes.json entry or None)
CATALOG: dict[str, tuple[str, str | None, dict | None]] = {
    "110474": (f"{DE}/glamira-ring-saphira.html?alloy=white-375", JSON_LD_PAGE, None),
    "95012": (
        f"{DE}/glamira-pendant-amora.html?alloy=yellow-585&stone=diamond-Brillant",
        DATALAYER_PAGE,
        None,
    ),
    "120001": (f"{DE}/glamira-earring-lunette.html", TITLE_PAGE, None),
    "130002": (f"{DE}/glamira-necklace-blank.html", NO_NAME_PAGE, None),
    "140003": (f"{DE}/glamira-ring-forbidden.html", JSON_LD_PAGE, {"status": 403}),
    "150004": (f"{DE}/glamira-ring-retired.html", None, None),
    "160005": (
        f"{DE}/glamira-bracelet-old.html",
        None,
        {"status": 301, "location": "https://www.glamira.com/glamira-bracelet-elara.html"},
    ),
    "170006": (
        f"{DE}/glamira-ring-loop-a.html",
        None,
        {"status": 302, "location": "/www.glamira.de/glamira-ring-loop-b.html"},
    ),
    "180007": (f"{DE}/glamira-ring-slow.html", TITLE_PAGE, {"delay_seconds": 3.0}),
    "190008": (f"{DE}/private/glamira-ring-hidden.html", JSON_LD_PAGE, None),
    "200009": (f"{DE}/glamira-ring-busy.html", JSON_LD_PAGE, {"status": 503, "times": 1}),
}
EXTRA_ROUTES = {
    "/www.glamira.de/glamira-ring-loop-b.html": {
        "status": 302,
        "location": "/www.glamira.de/glamira-ring-loop-a.html",
    }
}
NEW_PRODUCT = ("210010", f"{DE}/glamira-ring-novara.html?alloy=red-585")

REQUESTS = [(product_id, url) for product_id, (url, _, _) in CATALOG.items()]


@dataclass
class Run:
    """One crawl of the catalog, seen from both ends."""

    outcome: CrawlOutcome
    results: dict[str, dict]  # the latest result of each product
    requests: list[CatalogRequest]  # what the server received, in order

    @property
    def routes(self) -> list[str]:
        return [r.route for r in self.requests]


def route_of(url: str) -> str:
    """The catalog server's path for a product URL."""
    return "/" + url.split("://", 1)[1].split("?", 1)[0]


def quick_settings(server_url: str, **overrides) -> CrawlSettings:
    """Polite settings made quick: short delays and timeouts, one retry."""
    values = {
        "user_agent": USER_AGENT,
        "rewrite_to": server_url,
        "download_delay": 0.05,
        "autothrottle_start_delay": 0.05,
        "download_timeout": 1.0,
        "retry_times": 1,
        "retry_backoff_base": 0.2,
        "max_redirects": 5,
    }
    return CrawlSettings(**{**values, **overrides})


@pytest.fixture(scope="module")
def catalog(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("catalog")
    routes = dict(EXTRA_ROUTES)
    for url, page, route in CATALOG.values():
        if page is not None:
            file = folder / route_of(url).lstrip("/")
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(page, encoding="utf-8")
        if route is not None:
            routes[route_of(url)] = route
    elara = folder / "www.glamira.com/glamira-bracelet-elara.html"
    elara.parent.mkdir(parents=True, exist_ok=True)
    elara.write_text(REDIRECT_TARGET_PAGE, encoding="utf-8")
    novara = folder / route_of(NEW_PRODUCT[1]).lstrip("/")
    novara.write_text(
        product_page("Ring Novara", product_id="210010", price=1290.0, currency="EUR"), encoding="utf-8"
    )
    (folder / "robots.txt").write_text(ROBOTS)
    (folder / "routes.json").write_text(json.dumps(routes, indent=2))
    return folder


@pytest.fixture(scope="module")
def first_crawl(catalog, tmp_path_factory) -> Run:
    """One crawl of the whole catalog."""
    workdir = tmp_path_factory.mktemp("crawl")
    with CatalogServer(catalog) as server:
        outcome = crawl(REQUESTS, workdir, quick_settings(server.url), timeout_seconds=120)
    return Run(outcome, latest_results(outcome.results_path), list(server.requests))


@pytest.fixture(scope="module")
def results(first_crawl) -> dict[str, dict]:
    return first_crawl.results


@pytest.fixture(scope="module")
def rerun(catalog, first_crawl, tmp_path_factory) -> Run:
    """A second crawl in a copy of the first one's folder, with one new product, after the
    slow page recovered."""
    workdir = tmp_path_factory.mktemp("rerun") / "crawl"
    shutil.copytree(first_crawl.outcome.results_path.parent, workdir)
    server = CatalogServer(catalog)
    server.routes.pop(route_of(CATALOG["180007"][0]))  # the slow page answers at once now
    with server:
        outcome = crawl([*REQUESTS, NEW_PRODUCT], workdir, quick_settings(server.url), timeout_seconds=120)
    return Run(outcome, latest_results(outcome.results_path), list(server.requests))


# --- outcomes of each kind of page ----------------------------------------------------


def test_json_ld_product_gives_name_price_and_currency(results):
    saphira = results["110474"]
    assert (saphira["outcome"], saphira["status"], saphira["source"]) == ("ok", 200, "json-ld")
    assert (saphira["name"], saphira["price"], saphira["currency"]) == ("Ring Saphira", 1725.0, "EUR")
    assert saphira["url"] == saphira["fetched_url"] == f"{DE}/glamira-ring-saphira.html?alloy=white-375"
    assert saphira["reason"] is None


def test_datalayer_product_matching_the_id_wins_over_related_ones(results):
    amora = results["95012"]
    assert (amora["outcome"], amora["source"]) == ("ok", "datalayer")
    assert (amora["name"], amora["price"], amora["currency"]) == ("Anhänger Amora", 489.0, "EUR")


def test_title_markup_gives_the_name_without_a_price(results):
    lunette = results["120001"]
    assert (lunette["outcome"], lunette["source"], lunette["name"]) == ("ok", "title", "Ohrring Lunette")
    assert lunette["price"] is None and lunette["currency"] is None


def test_page_without_a_product_name_is_a_final_failure(results):
    blank = results["130002"]
    assert (blank["outcome"], blank["status"], blank["reason"]) == ("failed", 200, "no product name on page")
    assert blank["name"] is None and blank["transient"] is False


@pytest.mark.parametrize(("product_id", "status"), [("140003", 403), ("150004", 404)])
def test_http_errors_are_final_failures_with_their_status(results, product_id, status):
    failure = results[product_id]
    assert (failure["outcome"], failure["status"], failure["reason"]) == ("failed", status, f"HTTP {status}")
    assert failure["transient"] is False


def test_redirect_is_followed_and_the_final_url_recorded(results):
    elara = results["160005"]
    assert (elara["outcome"], elara["status"], elara["name"]) == ("ok", 200, "Bracelet Elara")
    assert (elara["price"], elara["currency"]) == (899.0, "USD")
    assert elara["url"] == f"{DE}/glamira-bracelet-old.html"
    assert elara["fetched_url"] == "https://www.glamira.com/glamira-bracelet-elara.html"


def test_redirect_loop_is_a_final_failure(results):
    loop = results["170006"]
    assert (loop["outcome"], loop["status"], loop["reason"], loop["transient"]) == (
        "failed",
        None,
        "redirect loop",
        False,
    )


def test_page_slower_than_the_download_timeout_is_a_transient_failure(first_crawl, results):
    slow = results["180007"]
    assert (slow["outcome"], slow["status"], slow["reason"], slow["transient"]) == (
        "failed",
        None,
        "timeout",
        True,
    )
    slow_route = route_of(CATALOG["180007"][0])
    assert first_crawl.routes.count(slow_route) == 2  # the first try and one retry


def test_path_disallowed_by_robots_txt_is_never_fetched(first_crawl, results):
    hidden = results["190008"]
    assert (hidden["outcome"], hidden["status"], hidden["reason"]) == (
        "failed",
        None,
        "disallowed by robots.txt",
    )
    assert route_of(CATALOG["190008"][0]) not in set(first_crawl.routes)


def test_server_error_is_retried_with_backoff_until_the_page_answers(first_crawl, results):
    busy = results["200009"]
    assert (busy["outcome"], busy["status"], busy["name"]) == ("ok", 200, "Ring Saphira")
    attempts = [r.received_at for r in first_crawl.requests if r.route == route_of(CATALOG["200009"][0])]
    assert len(attempts) == 2
    assert attempts[1] - attempts[0] >= 0.2  # retry_backoff_base


def test_every_requested_product_has_one_result_and_the_counts_add_up(first_crawl):
    outcome, results = first_crawl.outcome, first_crawl.results
    assert set(results) == set(CATALOG)
    assert len(read_results(outcome.results_path)) == len(CATALOG)
    assert (outcome.requested, outcome.skipped, outcome.crawled) == (11, 0, 11)
    assert (outcome.ok, outcome.failed) == (5, 6)
    assert outcome.failures == {
        "no product name on page": 1,
        "HTTP 403": 1,
        "HTTP 404": 1,
        "redirect loop": 1,
        "timeout": 1,
        "disallowed by robots.txt": 1,
    }


def test_products_csv_has_the_seed_columns_and_one_row_per_product(first_crawl):
    outcome = first_crawl.outcome
    with outcome.csv_path.open(encoding="utf-8", newline="") as file:
        reader = csv.DictReader(file)
        rows = {row["product_id"]: row for row in reader}
    assert reader.fieldnames == CSV_COLUMNS
    assert set(rows) == set(CATALOG)
    assert {k: rows["110474"][k] for k in CSV_COLUMNS if k != "crawled_at"} == {
        "product_id": "110474",
        "name": "Ring Saphira",
        "price": "1725.00",
        "currency": "EUR",
        "url": f"{DE}/glamira-ring-saphira.html?alloy=white-375",
        "status": "200",
        "outcome": "ok",
        "reason": "",
    }
    assert (rows["150004"]["status"], rows["150004"]["outcome"], rows["150004"]["reason"]) == (
        "404",
        "failed",
        "HTTP 404",
    )
    assert (rows["180007"]["status"], rows["180007"]["reason"]) == ("", "timeout")
    assert rows["110474"]["crawled_at"].endswith("+00:00")


# --- politeness -----------------------------------------------------------------------


def test_robots_txt_is_fetched_first_and_once(first_crawl):
    routes = first_crawl.routes
    assert routes[0] == "/robots.txt"
    assert routes.count("/robots.txt") == 1


def test_every_request_carries_the_configured_user_agent(first_crawl):
    assert {r.user_agent for r in first_crawl.requests} == {USER_AGENT}


def test_politeness_settings_reach_scrapy(first_crawl):
    outcome = first_crawl.outcome
    settings = json.loads((outcome.results_path.parent / "settings.json").read_text())
    assert settings["obey_robots"] is True and settings["autothrottle"] is True
    assert settings["concurrent_requests_per_domain"] == 4
    scrapy = CrawlSettings(**settings).scrapy_settings(outcome.results_path)
    assert scrapy["ROBOTSTXT_OBEY"] and scrapy["AUTOTHROTTLE_ENABLED"]
    assert (scrapy["USER_AGENT"], scrapy["CONCURRENT_REQUESTS_PER_DOMAIN"]) == (USER_AGENT, 4)
    assert outcome.stats["robotstxt/request_count"] == 1
    assert outcome.stats["retry/count"] == 2  # the 503 and the timeout, once each


# --- resuming -------------------------------------------------------------------------


def test_rerun_fetches_only_new_products_and_transient_failures(rerun):
    pages = set(rerun.routes) - {"/robots.txt"}
    assert pages == {route_of(NEW_PRODUCT[1]), route_of(CATALOG["180007"][0])}


def test_rerun_counts_what_it_skipped(rerun):
    outcome = rerun.outcome
    assert (outcome.requested, outcome.skipped, outcome.crawled, outcome.ok) == (12, 10, 2, 2)


def test_rerun_replaces_a_transient_failure_with_its_success(rerun):
    outcome = rerun.outcome
    attempts = [r for r in read_results(outcome.results_path) if r["product_id"] == "180007"]
    assert [a["outcome"] for a in attempts] == ["failed", "ok"]
    with outcome.csv_path.open(encoding="utf-8", newline="") as file:
        rows = [row for row in csv.DictReader(file) if row["product_id"] == "180007"]
    assert [(row["outcome"], row["name"]) for row in rows] == [("ok", "Ohrring Lunette")]


def test_rerun_csv_holds_old_and_new_products(rerun):
    outcome = rerun.outcome
    with outcome.csv_path.open(encoding="utf-8", newline="") as file:
        rows = {row["product_id"]: row for row in csv.DictReader(file)}
    assert set(rows) == {*CATALOG, NEW_PRODUCT[0]}
    assert (rows["210010"]["name"], rows["210010"]["price"]) == ("Ring Novara", "1290.00")


# --- the subprocess failing -----------------------------------------------------------


def test_crawl_that_outlives_its_timeout_is_stopped_and_keeps_its_results(catalog, tmp_path):
    workdir = tmp_path / "crawl"
    requests = [("110474", CATALOG["110474"][0]), ("180007", CATALOG["180007"][0])]
    with CatalogServer(catalog) as server:
        server.routes[route_of(CATALOG["180007"][0])] = {"delay_seconds": 60}
        settings = quick_settings(server.url, download_timeout=90)
        with pytest.raises(CrawlError, match="did not finish in 4s"):
            crawl(requests, workdir, settings, timeout_seconds=4)
    assert set(latest_results(workdir / "results.jsonl")) == {"110474"}
    assert (workdir / "products.csv").read_text().count("\n") == 2  # the header and the one result


def test_unreachable_shop_is_a_transient_connection_failure(tmp_path):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    outcome = crawl([("1", f"{DE}/x.html")], tmp_path, quick_settings(closed), timeout_seconds=60)
    failure = latest_results(outcome.results_path)["1"]
    assert (failure["status"], failure["reason"], failure["transient"]) == (
        None,
        "DNS/connection error",
        True,
    )


def test_failing_subprocess_raises_with_the_tail_of_its_log(tmp_path):
    with pytest.raises(CrawlError, match=r"exit code 1(?s:.*)ValueError: Unknown level: 'NOT-A-LEVEL'"):
        crawl([("1", f"{DE}/x.html")], tmp_path, CrawlSettings(log_level="NOT-A-LEVEL"), timeout_seconds=60)


# --- parsing, without Scrapy ----------------------------------------------------------


def test_extract_json_ld_product_from_a_graph():
    assert extract_product(JSON_LD_PAGE, "110474") == {
        "name": "Ring Saphira",
        "price": 1725.0,
        "currency": "EUR",
        "source": "json-ld",
    }


def test_extract_json_ld_product_from_a_list_with_offers_as_a_list():
    found = extract_product(REDIRECT_TARGET_PAGE, "160005")
    assert found == {"name": "Bracelet Elara", "price": 899.0, "currency": "USD", "source": "json-ld"}


def test_extract_json_ld_prefers_the_product_with_the_requested_sku():
    page = """<script type="application/ld+json">{"@type": "ItemList", "itemListElement": [
      {"@type": "Product", "name": "Ring Other", "sku": "1"},
      {"@type": "Product", "name": "Ring Wanted", "sku": "2",
       "offers": {"@type": "AggregateOffer", "lowPrice": "4.990,00", "priceCurrency": "chf"}}]}</script>"""
    assert extract_product(page, "2") == {
        "name": "Ring Wanted",
        "price": 4990.0,
        "currency": "CHF",
        "source": "json-ld",
    }
    assert extract_product(page, "3")["name"] == "Ring Other"


def test_extract_datalayer_product_with_the_requested_id():
    assert extract_product(DATALAYER_PAGE, "95012") == {
        "name": "Anhänger Amora",
        "price": 489.0,
        "currency": "EUR",
        "source": "datalayer",
    }
    assert extract_product(DATALAYER_PAGE, "404")["name"] == "Anhänger Amora Mini"


def test_extract_ga4_datalayer_items():
    page = """<script>dataLayer.push({event: 'view_item', ecommerce: {currency: 'GBP', value: 650,
      items: [{item_id: '777', item_name: 'Ring Maris', price: 650}]}});</script>"""
    assert extract_product(page, "777") == {
        "name": "Ring Maris",
        "price": 650.0,
        "currency": "GBP",
        "source": "datalayer",
    }


def test_extract_takes_the_price_from_structured_data_when_the_name_comes_from_the_title():
    page = """<html><head><title>Ring Lyra | GLAMIRA.fr</title>
      <meta property="product:price:amount" content="1 321,00">
      <meta property="product:price:currency" content="EUR"></head></html>"""
    assert extract_product(page, "5") == {
        "name": "Ring Lyra",
        "price": 1321.0,
        "currency": "EUR",
        "source": "title",
    }


def test_extract_title_markup_headline():
    assert extract_product(TITLE_PAGE, "120001") == {
        "name": "Ohrring Lunette",
        "price": None,
        "currency": None,
        "source": "title",
    }


def test_extract_og_title_when_there_is_no_headline():
    page = '<html><head><meta property="og:title" content="Kette Aurora | GLAMIRA.de"><title>x</title></head></html>'
    assert extract_product(page, "1")["name"] == "Kette Aurora"


def test_extract_title_without_the_site_suffix():
    page = "<html><head><title>Armband Solene &amp; Perle | GLAMIRA.co.uk – Online</title></head></html>"
    assert extract_product(page, "1") == {
        "name": "Armband Solene & Perle",
        "price": None,
        "currency": None,
        "source": "title",
    }


def test_extract_gives_none_for_a_page_without_a_product_name():
    assert extract_product(NO_NAME_PAGE, "130002") is None
    assert extract_product("", "1") is None
    assert extract_product('<script type="application/ld+json">{not json</script>', "1") is None


@pytest.mark.parametrize("markup", ["json-ld", "datalayer", "title"])
def test_catalog_pages_are_read_back_by_the_parser(markup):
    page = product_page("Ring Élodie <585>", product_id="42", price=754.0, currency="EUR", markup=markup)
    found = extract_product(page, "42")
    assert (found["name"], found["source"]) == ("Ring Élodie <585>", markup)
    assert found["price"] == (None if markup == "title" else 754.0)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1725.00", 1725.0),
        ("1,725.00", 1725.0),
        ("4.990,00", 4990.0),
        ("754,00", 754.0),
        ("1'321.00", 1321.0),
        ("61٫00", 61.0),
        ("85,294", 85294.0),
        ("€ 1.725,00", 1725.0),
        (1290, 1290.0),
        ("ab 99", None),
        ("", None),
    ],
)
def test_parse_price_reads_every_locale(text, value):
    assert parse_price(text) == value
