"""Reading a product's name, price and currency out of a Glamira product page.

Pure functions over the page's HTML: no Scrapy engine, no network, so tests call them
directly. Structured data first, title markup second:

1. JSON-LD (`<script type="application/ld+json">`): a schema.org `Product`, at the top,
   in a list or in an `@graph`, or nested anywhere (`mainEntity`); its `offers` (an
   `Offer`, a list of them or an `AggregateOffer`) give price and currency.
2. The Google Analytics dataLayer: `dataLayer.push({...})` with Universal Analytics'
   `ecommerce.detail.products[]` (`id`, `name`, `price`, `ecommerce.currencyCode`) or
   GA4's `ecommerce.items[]` (`item_id`, `item_name`, `price`, `ecommerce.currency`).
3. Title markup: `<h1 class="page-title"><span class="base">`, then `og:title`, then
   `<title>` without its " | GLAMIRA..." site suffix.

Where several products are described (related products, bundles), the one whose id or
sku is the requested product id wins; otherwise the first one with a name. The name
comes from the first source that has one (`source` says which); price and currency
from the first structured source that has a price (then `product:price:*` /
`itemprop` meta tags), even when the name came from the title.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from typing import Any

import polars as pl
from parsel import Selector

from tasks.glamira import prices

SOURCES = ("json-ld", "datalayer", "title")

_SITE_SUFFIX = re.compile(r"\s*[|\u2013\u2014-]\s*GLAMIRA\b.*$", re.IGNORECASE | re.DOTALL)
_SITE_NAME = re.compile(r"^\s*GLAMIRA(\.[a-z.]+)?\s*$", re.IGNORECASE)
_DATALAYER_PUSH = re.compile(r"dataLayer\s*\.\s*push\s*\(")
_WHITESPACE = re.compile(r"\s+")


def extract_product(html_text: str, product_id: str) -> dict | None:
    """`{"name", "price", "currency", "source"}` of the product on a page, or None when the
    page names no product. `price` is a float or None, `currency` an ISO code or None,
    `source` one of "json-ld", "datalayer", "title"."""
    page = Selector(text=html_text or "<html></html>")
    structured = [
        ("json-ld", _pick(list(json_ld_products(page)), product_id)),
        ("datalayer", _pick(list(datalayer_products(page)), product_id)),
    ]
    name, source = None, None
    for candidate_source, candidate in structured:
        if candidate and candidate.get("name"):
            name, source = candidate["name"], candidate_source
            break
    if name is None:
        name = title_name(page)
        source = "title" if name else None
    if name is None:
        return None
    price, currency = None, None
    for _, candidate in structured:
        if candidate and candidate.get("price") is not None:
            price, currency = candidate["price"], candidate.get("currency")
            break
    if price is None:
        price, currency = meta_price(page)
    return {"name": name, "price": price, "currency": currency, "source": source}


def parse_price(value: Any) -> float | None:
    """A price as a float: numbers as they are, strings by the rules of
    `tasks.glamira.prices` (one set of rules for events, cart lines and pages)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        return None
    return pl.select(prices.parse_price(pl.lit(value, dtype=pl.String))).item()


# --- JSON-LD --------------------------------------------------------------------------


def json_ld_products(page: Selector) -> Iterator[dict]:
    """Every schema.org Product in the page's JSON-LD blocks, as `{id, name, price, currency}`."""
    for block in page.xpath(
        "//script[translate(@type, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"
        " = 'application/ld+json']/text()"
    ).getall():
        data = _loads(block)
        for node in _walk(data):
            if _is_product(node):
                price, currency = _offer_price(node.get("offers"))
                yield {
                    "ids": {_text(node.get(key)) for key in ("sku", "productID", "mpn", "@id")} - {None},
                    "name": _clean_name(node.get("name")),
                    "price": price,
                    "currency": currency,
                }


def _is_product(node: dict) -> bool:
    kind = node.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return any(isinstance(k, str) and k.rsplit("/", 1)[-1] in ("Product", "ProductGroup") for k in kinds)


def _offer_price(offers: Any) -> tuple[float | None, str | None]:
    for offer in offers if isinstance(offers, list) else [offers]:
        if not isinstance(offer, dict):
            continue
        specification = offer.get("priceSpecification")
        if isinstance(specification, list):
            specification = specification[0] if specification else None
        for holder in (offer, specification if isinstance(specification, dict) else {}):
            for key in ("price", "lowPrice"):
                price = parse_price(holder.get(key))
                if price is not None:
                    currency = holder.get("priceCurrency") or offer.get("priceCurrency")
                    return price, _currency(currency)
    return None, None


# --- dataLayer ------------------------------------------------------------------------


def datalayer_products(page: Selector) -> Iterator[dict]:
    """Products of `dataLayer.push({...ecommerce...})` calls, as `{ids, name, price, currency}`."""
    for script in page.xpath("//script[not(@src)]/text()").getall():
        for match in _DATALAYER_PUSH.finditer(script):
            data = _loads(_balanced_object(script, match.end()))
            if not isinstance(data, dict) or not isinstance(data.get("ecommerce"), dict):
                continue
            ecommerce = data["ecommerce"]
            currency = ecommerce.get("currencyCode") or ecommerce.get("currency")
            products = []
            for action in ("detail", "add", "impressions", "click"):
                block = ecommerce.get(action)
                found = block.get("products") if isinstance(block, dict) else block
                if isinstance(found, list):
                    products += found
            if isinstance(ecommerce.get("items"), list):
                products += ecommerce["items"]
            for product in products:
                if not isinstance(product, dict):
                    continue
                yield {
                    "ids": {_text(product.get(key)) for key in ("id", "item_id", "sku")} - {None},
                    "name": _clean_name(product.get("name") or product.get("item_name")),
                    "price": parse_price(product.get("price")),
                    "currency": _currency(product.get("currency") or currency),
                }


def _balanced_object(text: str, start: int) -> str:
    """The `{...}` that starts at or after `start`, matching braces outside strings."""
    begin = text.find("{", start)
    if begin < 0:
        return ""
    depth, quote, escaped = 0, None, False
    for index in range(begin, len(text)):
        char = text[index]
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[begin : index + 1]
    return ""


# --- title markup ---------------------------------------------------------------------


def title_name(page: Selector) -> str | None:
    """The product name from the page's headline, og:title or <title>."""
    headline = " ".join(
        page.xpath(
            "//h1[contains(concat(' ', normalize-space(@class), ' '), ' page-title ')]"
            "//span[contains(concat(' ', normalize-space(@class), ' '), ' base ')]//text()"
        ).getall()
    )
    candidates = [
        headline,
        page.xpath("//meta[@property='og:title']/@content").get(),
        page.xpath("//title/text()").get(),
    ]
    for candidate in candidates:
        name = _clean_name(candidate, strip_site=True)
        if name:
            return name
    return None


def meta_price(page: Selector) -> tuple[float | None, str | None]:
    """Price and currency from `product:price:*` Open Graph tags or `itemprop` microdata."""
    price = page.xpath(
        "//meta[@property='product:price:amount']/@content | //*[@itemprop='price']/@content"
    ).get()
    currency = page.xpath(
        "//meta[@property='product:price:currency']/@content | //*[@itemprop='priceCurrency']/@content"
    ).get()
    price = parse_price(price)
    return price, _currency(currency) if price is not None else None


# --- helpers --------------------------------------------------------------------------


def _pick(products: list[dict], product_id: str) -> dict | None:
    """The product with the requested id, else the first one that has a name."""
    wanted = str(product_id).strip()
    for product in products:
        if wanted and wanted in product["ids"]:
            return product
    return next((p for p in products if p.get("name")), None)


def _walk(data: Any) -> Iterator[dict]:
    if isinstance(data, dict):
        yield data
        for value in data.values():
            yield from _walk(value)
    elif isinstance(data, list):
        for value in data:
            yield from _walk(value)


def _loads(text: str) -> Any:
    text = (text or "").strip().removeprefix("<!--").removesuffix("-->").strip()
    if not text:
        return None
    try:
        return json.loads(text, strict=False)
    except ValueError:
        pass
    try:  # a JavaScript object literal: trailing commas, single quotes, bare keys
        relaxed = re.sub(r",\s*([}\]])", r"\1", text)
        relaxed = re.sub(r"'((?:[^'\\]|\\.)*)'", lambda m: json.dumps(m.group(1)), relaxed)
        relaxed = re.sub(r"([{,]\s*)([A-Za-z_$][\w$]*)\s*:", r'\1"\2":', relaxed)
        return json.loads(relaxed, strict=False)
    except ValueError:
        return None


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | str):
        text = str(value).strip()
        return text or None
    return None


def _clean_name(value: Any, strip_site: bool = False) -> str | None:
    if not isinstance(value, str):
        return None
    name = _WHITESPACE.sub(" ", html.unescape(value)).strip()
    if strip_site:
        name = _SITE_SUFFIX.sub("", name).strip()
    if not name or _SITE_NAME.match(name):
        return None
    return name


def _currency(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    code = value.strip().upper()
    return code if re.fullmatch(r"[A-Z]{3}", code) else None
