"""IP geolocation for Glamira: classify the day's distinct IP strings, then look the public
ones up in an IP2Location BIN database, vectorised (numpy and Polars), with results
identical to the official `IP2Location` library's `get_all` on the same file.

Plain functions and classes on Polars series, no Prefect:

- `classify(ips)` -> `ip`, `address`, `version`, `kind`;
- `BinDatabase.open(path).lookup(addresses)` -> the BIN's fields per address, as the
  library returns them;
- `geolocate(ips, db)` -> one row per input in `LOCATIONS_SCHEMA`: classified, and only
  the public addresses looked up.

How an address string is read (the library's rules, which `lookup` reproduces exactly):

- A string containing `:` is IPv6, parsed by the C library's `inet_pton` (as the library
  does); no zone ids (`fe80::1%eth0`), no brackets, no surrounding spaces.
- Otherwise it is IPv4 only if it is four dot-separated decimal octets of 1-3 ASCII
  digits, each at most 255, without leading zeros (`inet_pton` rejects `01.2.3.4`).
- Everything else is invalid: `""`, `"unknown"`, `"256.1.1.1"`, `"1.2.3"`,
  `"1.2.3.4, 5.6.7.8"`, `" 80.1.2.3 "` (the library does not strip).
- IPv6 addresses that embed an IPv4 address are looked up as that IPv4 address in the
  IPv4 table, even in an IPv4-only BIN: IPv4-mapped `::ffff:a.b.c.d`, 6to4 `2002::/16`
  (bits 16-48 of the address) and Teredo `2001::/32` (the client address: the low 32
  bits inverted).
- Other IPv6 addresses are looked up in the IPv6 table; a BIN without one answers
  "IPV6 ADDRESS MISSING IN IPV4 BIN" in every text field.
- `255.255.255.255` is looked up as `255.255.255.254`, and the last IPv6 address as the
  one before it (the library's own adjustment; same row in practice).

What `lookup` returns for each input, compared with the library's record:

- text fields: the same strings, decoded as latin-1 like the library; `"-"` where the
  database has no value; "INVALID IP ADDRESS" for invalid strings and nulls; "IPV6
  ADDRESS MISSING IN IPV4 BIN" for IPv6 in an IPv4-only BIN (and, like the library,
  "This parameter is unavailable..." in `as_domain`, `as_usage_type`, `as_cidr` for those
  two cases, the fields the library forgets to fill);
- `latitude`/`longitude`: Float64 equal to `float()` of the library's string (the
  library returns `format(round(float32, 6), ".6f")`; formatting ours with `.6f` gives
  the library's string back); null where the library returns one of the messages above;
- a `status` column: `ok`, `invalid`, `ipv6_missing` or `not_found` (the library's
  `None`, which a well-formed BIN never produces);
- where the library raises instead of answering (a null input; an octet such as `"²"`
  that Python's `isdigit` accepts but `int` rejects), we answer "invalid".

Kinds (`classify`), after stripping surrounding whitespace:

- `invalid`: the library would not parse the stripped string (rules above).
- `private`: IANA's "Private-Use" blocks (RFC 1918: 10/8, 172.16/12, 192.168/16) and
  their IPv6 counterpart, "Unique-Local" fc00::/7 (RFC 4193): a client inside some
  organisation's network, its address forwarded by a proxy.
- `reserved`: every other address that the IANA special-purpose registries (and the
  multicast and IPv6 address-space registries) mark as not globally reachable: 0/8,
  100.64/10 (shared address space of carrier-grade NAT), 127/8, 169.254/16 (link-local),
  192.0.0/24 (except the globally reachable 192.0.0.9 and 192.0.0.10), 192.0.2/24,
  192.88.99/24 (deprecated 6to4 relay), 198.18/15, 198.51.100/24, 203.0.113/24, 224/4,
  240/4 (with 255.255.255.255); IPv6 `::`, `::1`, 64:ff9b:1::/48, 2001::/23 (except its
  globally reachable assignments 2001:1::1-3, 2001:3::/32, 2001:4:112::/48, 2001:20::/28,
  2001:30::/28), 2001:db8::/32, 3fff::/20, fe80::/10 (link-local), ff00::/8 and
  everything outside 2000::/3 that is not listed here (IETF-reserved space, e.g.
  `::1.2.3.4`, 100::/64, fec0::/10, 5f00::/16).
- `public`: the rest, e.g. 192.31.196/24, 192.52.193/24, 192.175.48/24, 64:ff9b::/96,
  2620:4f:8000::/48. Unallocated public space is public; the database answers "-".
- IPv6 addresses that embed an IPv4 address (mapped, 6to4, Teredo, as above) are
  classified, and looked up, as that IPv4 address: `address` is the dotted IPv4 form and
  `version` is 4; the library gives the same answer for both forms.

`address` is the normalised form that `geolocate` looks up: the stripped IPv4 string, the
embedded IPv4 address, or the IPv6 address in `inet_ntop` form (lower case, compressed);
null for invalid strings. The library answers the same for `address` as for the stripped
original. `geolocate`'s identity with the library is therefore `get_all(address)`.
"""

from __future__ import annotations

import dataclasses
import mmap
import socket
import struct
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

PUBLIC, PRIVATE, RESERVED, INVALID = "public", "private", "reserved", "invalid"
KINDS = (PUBLIC, PRIVATE, RESERVED, INVALID)

INVALID_MESSAGE = "INVALID IP ADDRESS"
IPV6_MISSING_MESSAGE = "IPV6 ADDRESS MISSING IN IPV4 BIN"
UNAVAILABLE_MESSAGE = "This parameter is unavailable in selected .BIN data file. Please upgrade data file."
# What the library puts in latitude/longitude (strings there) that `lookup` returns as null.
MESSAGES_AS_NULL = frozenset({INVALID_MESSAGE, IPV6_MISSING_MESSAGE})

STATUS_OK, STATUS_INVALID, STATUS_IPV6_MISSING, STATUS_NOT_FOUND = (
    "ok",
    "invalid",
    "ipv6_missing",
    "not_found",
)

MAX_IPV4 = 2**32 - 1
MAX_IPV6 = 2**128 - 1

# Where each field's 4-byte cell sits in a row (1 is ip_from), per database type 0..26:
# the official library's tables (IP2Location/database.py). 0: the type has no such field.
# fmt: off
FIELD_POSITIONS: dict[str, tuple[int, ...]] = {
    "country":              (0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2),
    "region":               (0, 0, 0, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3),
    "city":                 (0, 0, 0, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4),
    "isp":                  (0, 0, 3, 0, 5, 0, 7, 5, 7, 0, 8, 0, 9, 0, 9, 0, 9, 0, 9, 7, 9, 0, 9, 7, 9, 9, 9),
    "latitude":             (0, 0, 0, 0, 0, 5, 5, 0, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5),
    "longitude":            (0, 0, 0, 0, 0, 6, 6, 0, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6),
    "domain":               (0, 0, 0, 0, 0, 0, 0, 6, 8, 0, 9, 0, 10, 0, 10, 0, 10, 0, 10, 8, 10, 0, 10, 8, 10, 10, 10),
    "zip_code":             (0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 7, 7, 7, 0, 7, 7, 7, 0, 7, 0, 7, 7, 7, 0, 7, 7, 7),
    "time_zone":            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 8, 7, 8, 8, 8, 7, 8, 0, 8, 8, 8, 0, 8, 8, 8),
    "net_speed":            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 11, 0, 11, 8, 11, 0, 11, 0, 11, 0, 11, 11, 11),
    "idd_code":             (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 12, 0, 12, 0, 12, 9, 12, 0, 12, 12, 12),
    "area_code":            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10, 13, 0, 13, 0, 13, 10, 13, 0, 13, 13, 13),
    "weather_station_code": (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 14, 0, 14, 0, 14, 0, 14, 14, 14),
    "weather_station_name": (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10, 15, 0, 15, 0, 15, 0, 15, 15, 15),
    "mcc":                  (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 16, 0, 16, 9, 16, 16, 16),
    "mnc":                  (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10, 17, 0, 17, 10, 17, 17, 17),
    "mobile_brand":         (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11, 18, 0, 18, 11, 18, 18, 18),
    "elevation":            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11, 19, 0, 19, 19, 19),
    "usage_type":           (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12, 20, 20, 20),
    "address_type":         (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 21, 21),
    "category":             (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 22, 22),
    "district":             (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 23),
    "asn":                  (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 24),
    "as_name":              (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 25),
    "as_domain":            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 26),
    "as_usage_type":        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 27),
    "as_cidr":              (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 28),
}
# fmt: on
FLOAT_FIELDS = frozenset({"latitude", "longitude"})
# The library's invalid/IPv6-missing records leave these at the class default.
_NOT_FILLED_ON_ERROR = frozenset({"as_domain", "as_usage_type", "as_cidr"})

# Output column -> attribute of the library's IP2LocationRecord (for comparisons).
LIBRARY_ATTRIBUTES: dict[str, str] = {
    "country_code": "country_short",
    "country_name": "country_long",
    "region": "region",
    "city": "city",
    "isp": "isp",
    "latitude": "latitude",
    "longitude": "longitude",
    "domain": "domain",
    "zip_code": "zipcode",
    "time_zone": "timezone",
    "net_speed": "netspeed",
    "idd_code": "idd_code",
    "area_code": "area_code",
    "weather_station_code": "weather_code",
    "weather_station_name": "weather_name",
    "mcc": "mcc",
    "mnc": "mnc",
    "mobile_brand": "mobile_brand",
    "elevation": "elevation",
    "usage_type": "usage_type",
    "address_type": "address_type",
    "category": "category",
    "district": "district",
    "asn": "asn",
    "as_name": "as_name",
    "as_domain": "as_domain",
    "as_usage_type": "as_usagetype",
    "as_cidr": "as_cidr",
}

LOCATION_COLUMNS = (
    "country_code",
    "country_name",
    "region",
    "city",
    "latitude",
    "longitude",
    "zip_code",
    "time_zone",
)

CLASSIFY_SCHEMA: dict[str, pl.DataType] = {
    "ip": pl.String(),
    "address": pl.String(),
    "version": pl.Int8(),
    "kind": pl.String(),
}

LOCATIONS_SCHEMA: dict[str, pl.DataType] = {
    **CLASSIFY_SCHEMA,
    **{c: (pl.Float64() if c in FLOAT_FIELDS else pl.String()) for c in LOCATION_COLUMNS},
}
"""`geolocate`'s output: one row per input IP; the location columns are null for
non-public addresses and for fields the BIN does not carry (a DB1 has only the country)."""


def field_columns(field: str) -> tuple[str, ...]:
    """The output columns of a BIN field: the country cell gives code and name."""
    return ("country_code", "country_name") if field == "country" else (field,)


def fields_of(db_type: int) -> list[str]:
    """The fields a database type carries, in row order."""
    if not 1 <= db_type <= 26:
        raise ValueError(f"unknown IP2Location database type {db_type}")
    present = [f for f, pos in FIELD_POSITIONS.items() if pos[db_type]]
    return sorted(present, key=lambda f: FIELD_POSITIONS[f][db_type])


def columns_of(db_type: int) -> list[str]:
    return [c for f in fields_of(db_type) for c in field_columns(f)]


# --- parsing -----------------------------------------------------------------------------

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4_PATTERN = rf"^{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}$"

_6TO4_HIGH = 0x2002  # 2002::/16, top 16 bits
_TEREDO_HIGH = 0x2001_0000  # 2001::/32, top 32 bits


@dataclass
class _Parsed:
    """Addresses as the library reads them. `version`: 0 invalid, 4 or 6 per input;
    `v4`: the IPv4 number (0 unless version 4); IPv6 rows (`v6_pos`) keep their 16
    big-endian bytes (`v6_key`, which sort like the numbers); `embedded_pos`: inputs
    written as IPv6 that the library reads as IPv4. `address` (when asked for): the
    string for plain IPv4 inputs, null elsewhere."""

    version: np.ndarray
    v4: np.ndarray
    v6_pos: np.ndarray
    v6_key: np.ndarray
    embedded_pos: np.ndarray
    address: pl.Series | None = None


def _inet_pton6(text: str) -> bytes | None:
    try:
        return socket.inet_pton(socket.AF_INET6, text)
    except (OSError, ValueError):
        return None


def _ipv4_number(s: pl.Expr) -> pl.Expr:
    parts = s.str.split_exact(".", 3)
    return (
        parts.struct.field("field_0").cast(pl.UInt32, strict=False) * 16_777_216
        + parts.struct.field("field_1").cast(pl.UInt32, strict=False) * 65_536
        + parts.struct.field("field_2").cast(pl.UInt32, strict=False) * 256
        + parts.struct.field("field_3").cast(pl.UInt32, strict=False)
    )


def _parse(text: pl.Series, *, strip: bool = False) -> _Parsed:
    """Parse address strings the library's way (after stripping whitespace if `strip`):
    IPv4 in one Polars query (a regex for validity, `split_exact` and integer casts for
    the number); strings with a colon one by one with `inet_pton`, then numpy."""
    lazy = text.cast(pl.String).to_frame("s").lazy()
    s = pl.col("s")
    if strip:
        lazy = lazy.with_columns(s.str.strip_chars())
    lazy = lazy.with_columns(
        valid4=s.str.contains(_IPV4_PATTERN),
        colon=s.str.contains(":", literal=True).fill_null(False),
    )
    columns = {
        "colon": pl.col("colon"),
        "v4": pl.when("valid4").then(_ipv4_number(s)),
        "six": pl.when("colon").then(s),
    }
    if strip:
        columns["address"] = pl.when("valid4").then(s)
    frame = lazy.select(**columns).collect()

    v4_column = frame["v4"]
    version = np.where(v4_column.is_not_null().to_numpy(), 4, 0).astype(np.int8)
    v4 = v4_column.fill_null(0).to_numpy().astype(np.uint32, copy=True)
    six_pos = np.flatnonzero(frame["colon"].to_numpy())
    v6_pos = embedded_pos = np.empty(0, dtype=np.int64)
    v6_key = np.empty(0, dtype="S16")
    if len(six_pos):
        packed = [_inet_pton6(t) for t in frame["six"].gather(six_pos).to_list()]
        ok = np.fromiter((p is not None for p in packed), dtype=bool, count=len(packed))
        six_pos = six_pos[ok]
        raw = b"".join(p for p in packed if p is not None)
        keys = np.frombuffer(raw, dtype="S16")
        halves = np.frombuffer(raw, dtype=">u8").reshape(-1, 2).astype(np.uint64)
        hi, lo = halves[:, 0], halves[:, 1]
        low32 = lo & np.uint64(0xFFFF_FFFF)
        mapped = (hi == 0) & ((lo >> np.uint64(32)) == 0xFFFF)  # ::ffff:a.b.c.d
        six_to_four = (hi >> np.uint64(48)) == _6TO4_HIGH  # 2002:AABB:CCDD::
        teredo = (hi >> np.uint64(32)) == _TEREDO_HIGH  # 2001:0:...:~client
        embedded = mapped | six_to_four | teredo
        as_v4 = np.where(
            mapped,
            low32,
            np.where(
                six_to_four, (hi >> np.uint64(16)) & np.uint64(0xFFFF_FFFF), ~low32 & np.uint64(0xFFFF_FFFF)
            ),
        ).astype(np.uint32)
        embedded_pos = six_pos[embedded]
        v4[embedded_pos] = as_v4[embedded]
        version[embedded_pos] = 4
        v6_pos = six_pos[~embedded]
        v6_key = keys[~embedded].copy()
        version[v6_pos] = 6
    return _Parsed(
        version=version,
        v4=v4,
        v6_pos=v6_pos,
        v6_key=v6_key,
        embedded_pos=embedded_pos,
        address=frame["address"] if strip else None,
    )


# --- classification ----------------------------------------------------------------------

_KIND_CODES = {PUBLIC: 0, PRIVATE: 1, RESERVED: 2, INVALID: 3}

# Later entries win over earlier ones (exceptions after the blocks they punch holes in).
_IPV4_SPECIAL = (
    ("0.0.0.0/8", RESERVED),  # "this network"
    ("10.0.0.0/8", PRIVATE),  # RFC 1918 private use
    ("100.64.0.0/10", RESERVED),  # RFC 6598 shared address space (carrier-grade NAT)
    ("127.0.0.0/8", RESERVED),  # loopback
    ("169.254.0.0/16", RESERVED),  # link-local
    ("172.16.0.0/12", PRIVATE),  # RFC 1918
    ("192.0.0.0/24", RESERVED),  # IETF protocol assignments
    ("192.0.0.9/32", PUBLIC),  # PCP anycast, globally reachable
    ("192.0.0.10/32", PUBLIC),  # TURN anycast, globally reachable
    ("192.0.2.0/24", RESERVED),  # TEST-NET-1
    ("192.88.99.0/24", RESERVED),  # deprecated 6to4 relay anycast
    ("192.168.0.0/16", PRIVATE),  # RFC 1918
    ("198.18.0.0/15", RESERVED),  # benchmarking
    ("198.51.100.0/24", RESERVED),  # TEST-NET-2
    ("203.0.113.0/24", RESERVED),  # TEST-NET-3
    ("224.0.0.0/4", RESERVED),  # multicast
    ("240.0.0.0/4", RESERVED),  # future use, with 255.255.255.255 limited broadcast
)

_IPV6_SPECIAL = (
    ("::/0", RESERVED),  # outside 2000::/3: reserved by the IETF unless listed below
    ("2000::/3", PUBLIC),  # global unicast
    ("64:ff9b::/96", PUBLIC),  # NAT64 well-known prefix, globally reachable
    ("64:ff9b:1::/48", RESERVED),  # local-use NAT64
    ("2001::/23", RESERVED),  # IETF protocol assignments
    ("2001:1::1/128", PUBLIC),  # PCP anycast
    ("2001:1::2/128", PUBLIC),  # TURN anycast
    ("2001:1::3/128", PUBLIC),  # DNS-SD SRP anycast
    ("2001:3::/32", PUBLIC),  # AMT
    ("2001:4:112::/48", PUBLIC),  # AS112-v6
    ("2001:20::/28", PUBLIC),  # ORCHIDv2
    ("2001:30::/28", PUBLIC),  # drone remote ID
    ("2001:db8::/32", RESERVED),  # documentation
    ("3fff::/20", RESERVED),  # documentation
    ("fc00::/7", PRIVATE),  # unique local (RFC 4193), IPv6's private use
    ("fe80::/10", RESERVED),  # link-local
    ("ff00::/8", RESERVED),  # multicast
)


def _painted_segments(rules, bits: int) -> tuple[list[int], list[str]]:
    """Starts and kinds of the maximal segments of [0, 2**bits) that the rules paint."""
    import ipaddress

    nets = [(ipaddress.ip_network(net), kind) for net, kind in rules]
    bounds = {0}
    for net, _ in nets:
        bounds.add(int(net.network_address))
        end = int(net.broadcast_address) + 1
        if end < 2**bits:
            bounds.add(end)
    starts = sorted(bounds)
    kinds = []
    for start in starts:
        kind = PUBLIC
        for net, k in nets:
            if int(net.network_address) <= start <= int(net.broadcast_address):
                kind = k
        kinds.append(kind)
    return starts, kinds


_V4_STARTS, _V4_KINDS = _painted_segments(_IPV4_SPECIAL, 32)
_V4_STARTS_ARRAY = np.array(_V4_STARTS, dtype=np.uint32)
_V4_KIND_CODES = np.array([_KIND_CODES[k] for k in _V4_KINDS], dtype=np.int8)
_V6_STARTS, _V6_KINDS = _painted_segments(_IPV6_SPECIAL, 128)
_V6_STARTS_ARRAY = np.array([s.to_bytes(16, "big") for s in _V6_STARTS], dtype="S16")
_V6_KIND_CODES = np.array([_KIND_CODES[k] for k in _V6_KINDS], dtype=np.int8)


def ipv4_special_ranges() -> list[tuple[int, int, str]]:
    """(first, last, kind) of every non-public IPv4 segment, for sample databases."""
    ends = [*_V4_STARTS[1:], 2**32]
    return [(s, e - 1, k) for s, e, k in zip(_V4_STARTS, ends, _V4_KINDS, strict=True) if k != PUBLIC]


def _kind_codes(parsed: _Parsed) -> np.ndarray:
    codes = np.full(len(parsed.version), _KIND_CODES[INVALID], dtype=np.int8)
    is4 = parsed.version == 4
    codes[is4] = _V4_KIND_CODES[np.searchsorted(_V4_STARTS_ARRAY, parsed.v4[is4], side="right") - 1]
    if len(parsed.v6_pos):
        codes[parsed.v6_pos] = _V6_KIND_CODES[
            np.searchsorted(_V6_STARTS_ARRAY, parsed.v6_key, side="right") - 1
        ]
    return codes


_KIND_DICTIONARY = pl.Series("kind", list(KINDS), dtype=pl.String)


def _dotted(numbers: np.ndarray) -> pl.Series:
    octets = [
        pl.lit(pl.Series((numbers >> np.uint32(k)) & np.uint32(255))).cast(pl.String) for k in (24, 16, 8, 0)
    ]
    return pl.select(pl.concat_str(octets, separator=".")).to_series()


def _addresses(parsed: _Parsed) -> pl.Series:
    """Plain IPv4 as given (stripped); embedded IPv4 dotted; IPv6 in `inet_ntop` form."""
    address = parsed.address.alias("address")
    positions = np.concatenate([parsed.embedded_pos, parsed.v6_pos])
    if len(positions):
        dotted = _dotted(parsed.v4[parsed.embedded_pos])
        ntop = socket.inet_ntop
        six = pl.Series(
            [ntop(socket.AF_INET6, k) for k in parsed.v6_key.view("V16").tolist()], dtype=pl.String
        )
        address = address.scatter(positions, pl.concat([dotted, six]))
    return address


def _classified(ips: pl.Series) -> tuple[pl.DataFrame, _Parsed, np.ndarray]:
    ip = ips.cast(pl.String).alias("ip")
    parsed = _parse(ip, strip=True)
    kinds = _kind_codes(parsed)
    version = pl.Series("version", parsed.version, dtype=pl.Int8)
    frame = pl.DataFrame(
        [
            ip,
            _addresses(parsed),
            pl.select(version=pl.when(pl.lit(version) != 0).then(pl.lit(version))).to_series(),
            _KIND_DICTIONARY.gather(pl.Series(kinds.astype(np.uint32))).alias("kind"),
        ]
    )
    return frame, parsed, kinds


def classify(ips: pl.Series) -> pl.DataFrame:
    """One row per input: `ip` (as given), `address` (normalised, null if invalid),
    `version` (4, 6, null) and `kind` (public, private, reserved, invalid); see the
    module docstring for the exact rules. IPv4 is vectorised; IPv6 strings are parsed
    one by one (`inet_pton`), everything after that is vectorised."""
    return _classified(ips)[0]


# --- the BIN database --------------------------------------------------------------------


@dataclass
class _Cell:
    """One cell of the rows, decoded: `codes[row_id]` indexes `dictionaries[column]`.
    Row ids: the IPv4 rows, then the IPv6 rows, then three pseudo-rows for an invalid
    address, an IPv6 address in an IPv4-only BIN, and no answer (null)."""

    field: str
    codes: np.ndarray
    dictionaries: dict[str, pl.Series]


def _read_string(buf, offset: int) -> str | None:
    """The library's `_reads`: a length byte, then latin-1 characters."""
    if offset < 0 or offset >= len(buf):
        return None
    length = buf[offset]
    return bytes(buf[offset + 1 : offset + 1 + length]).decode("latin-1")


_TOP6 = np.array([MAX_IPV6.to_bytes(16, "big")], dtype="S16")
_BELOW_TOP6 = np.array([(MAX_IPV6 - 1).to_bytes(16, "big")], dtype="S16")
_STATUS_DICTIONARY = pl.Series(
    "status", [STATUS_OK, STATUS_INVALID, STATUS_IPV6_MISSING, STATUS_NOT_FOUND], dtype=pl.String
)
_SORTED_SEARCH_FROM = 20_000  # queries: from here on, sort them first (cache-friendly)


def _search(table: np.ndarray, after, queries: np.ndarray) -> np.ndarray:
    """Row of each query: the last row whose ip_from <= query, provided the row after it
    (`after` for the last one) starts above the query; -1 when none. This is the row the
    library's binary search finds in a well-formed table."""
    if len(queries) >= _SORTED_SEARCH_FROM and table.dtype == np.uint32:
        order = (queries.astype(np.uint64) << np.uint64(32)) | np.arange(len(queries), dtype=np.uint64)
        order.sort()
        found = np.searchsorted(table, (order >> np.uint64(32)).astype(np.uint32), side="right")
        rows = np.empty(len(queries), dtype=np.int64)
        rows[(order & np.uint64(0xFFFF_FFFF)).astype(np.int64)] = found
        rows -= 1
    else:
        rows = np.searchsorted(table, queries, side="right").astype(np.int64) - 1
    last = rows == len(table) - 1
    if last.any():
        closes = queries[last] < after if after is not None else np.zeros(int(last.sum()), dtype=bool)
        rows[np.flatnonzero(last)[~closes]] = -1
    return rows


@dataclass
class BinDatabase:
    """An IP2Location BIN file held as numpy arrays: the sorted `ip_from` columns and,
    per field, a code per row into a dictionary of decoded values (each string and float
    decoded once). Open with `BinDatabase.open(path)`; the file is not kept open.
    `columns`: the output fields the BIN carries, e.g. for a DB11: country_code,
    country_name, region, city, latitude, longitude, zip_code, time_zone."""

    path: Path
    db_type: int
    built: date | None
    ipv4_count: int
    ipv6_count: int
    columns: tuple[str, ...]
    _from4: np.ndarray = dataclasses.field(repr=False)
    _after4: np.uint32 | None = dataclasses.field(repr=False)
    _from6: np.ndarray = dataclasses.field(repr=False)
    _after6: np.bytes_ | None = dataclasses.field(repr=False)
    _cells: list[_Cell] = dataclasses.field(repr=False)

    @property
    def has_ipv6(self) -> bool:
        return self.ipv6_count > 0

    @classmethod
    def open(cls, path: str | Path) -> BinDatabase:
        path = Path(path)
        with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            return cls._load(path, mm)

    @classmethod
    def _load(cls, path: Path, mm) -> BinDatabase:
        if len(mm) < 32:
            raise ValueError(f"{path} is too short to be an IP2Location BIN file")
        (db_type, ncol, yy, mo, dd, count4, base4, count6, base6, _idx4, _idx6, product, _lic, _size) = (
            struct.unpack_from("<BBBBBIIIIIIBBB", mm, 0)
        )
        if product != 1 and yy > 20 and product != 0:
            raise ValueError(f"{path}: not an IP2Location BIN file (product code {product})")
        fields = fields_of(db_type)
        if ncol < 1 + len(fields) or base4 == 0:
            raise ValueError(f"{path}: {ncol} columns, IPv4 table at {base4}, for database type {db_type}")
        try:
            built = date(2000 + yy, mo, dd)
        except ValueError:
            built = None
        size = len(mm)

        # Rows 0..count can match (the library's search starts with high = count); the
        # row after them only closes the last one.
        width4 = ncol * 4
        rows4 = max(0, min(count4 + 1, (size - (base4 - 1)) // width4))
        table4 = np.frombuffer(mm, dtype="<u4", count=rows4 * ncol, offset=base4 - 1).reshape(rows4, ncol)
        from4 = table4[:, 0].astype(np.uint32)
        at = base4 - 1 + rows4 * width4
        after4 = (
            np.uint32(struct.unpack_from("<I", mm, at)[0]) if rows4 == count4 + 1 and at + 4 <= size else None
        )

        width6 = 16 + (ncol - 1) * 4
        rows6 = max(0, min(count6 + 1, (size - (base6 - 1)) // width6)) if count6 and base6 else 0
        from6 = np.empty(0, dtype="S16")
        cells6 = np.zeros((0, ncol - 1), dtype=np.uint32)
        after6 = None
        if rows6:
            raw6 = np.frombuffer(mm, dtype=np.uint8, count=rows6 * width6, offset=base6 - 1).reshape(
                rows6, width6
            )
            from6 = np.array(raw6[:, 15::-1]).view("S16").reshape(rows6)  # big-endian: sorts as numbers
            cells6 = np.array(raw6[:, 16:width6]).view("<u4").reshape(rows6, ncol - 1)
            del raw6
            at = base6 - 1 + rows6 * width6
            if rows6 == count6 + 1 and at + 16 <= size:
                after6 = np.array([bytes(mm[at : at + 16])[::-1]], dtype="S16")[0]

        cells = []
        for field in fields:
            pos = FIELD_POSITIONS[field][db_type]
            cells.append(cls._decode_cell(field, table4[:, pos - 1], cells6[:, pos - 2], mm))
        del table4  # a view of the mapping, which closes after this
        return cls(
            path=path,
            db_type=db_type,
            built=built,
            ipv4_count=count4,
            ipv6_count=count6,
            columns=tuple(c for f in fields for c in field_columns(f)),
            _from4=from4,
            _after4=after4,
            _from6=from6,
            _after6=after6,
            _cells=cells,
        )

    @staticmethod
    def _decode_cell(field: str, values4: np.ndarray, values6: np.ndarray, mm) -> _Cell:
        both = np.concatenate([values4, values6]).astype(np.uint32)
        unique, inverse = np.unique(both, return_inverse=True)
        n = len(unique)
        codes = np.concatenate([inverse.ravel(), [n, n + 1, n + 2]]).astype(np.uint32)
        if field in _NOT_FILLED_ON_ERROR:
            errors = [UNAVAILABLE_MESSAGE, UNAVAILABLE_MESSAGE]
        else:
            errors = [INVALID_MESSAGE, IPV6_MISSING_MESSAGE]
        dictionaries: dict[str, pl.Series] = {}
        if field in FLOAT_FIELDS:
            # The library: round(float32 widened to double, 6), then format "%.6f".
            floats = [round(float(v), 6) for v in unique.view("<f4")]
            dictionaries[field] = pl.Series(field, [*floats, None, None, None], dtype=pl.Float64)
        elif field == "country":
            pointers = unique.tolist()
            short = [_read_string(mm, p) for p in pointers]
            long = [_read_string(mm, p + 3) for p in pointers]
            dictionaries["country_code"] = pl.Series("country_code", [*short, *errors, None], dtype=pl.String)
            dictionaries["country_name"] = pl.Series("country_name", [*long, *errors, None], dtype=pl.String)
        else:
            strings = [_read_string(mm, p) for p in unique.tolist()]
            dictionaries[field] = pl.Series(field, [*strings, *errors, None], dtype=pl.String)
        return _Cell(field, codes, dictionaries)

    # -- lookups --

    @property
    def _found_rows(self) -> int:
        return len(self._from4) + len(self._from6)

    def _row_ids(self, parsed: _Parsed, wanted: np.ndarray | None) -> np.ndarray:
        """Row id per input (see `_Cell`); inputs not wanted get the null pseudo-row."""
        invalid_row = self._found_rows
        null_row = invalid_row + 2
        ids = np.full(len(parsed.version), null_row, dtype=np.int64)

        sel4 = parsed.version == 4
        if wanted is not None:
            sel4 &= wanted
        pos4 = np.flatnonzero(sel4)
        row4 = _search(self._from4, self._after4, np.minimum(parsed.v4[pos4], np.uint32(MAX_IPV4 - 1)))
        ids[pos4] = np.where(row4 >= 0, row4, null_row)

        v6_pos, v6_key = parsed.v6_pos, parsed.v6_key
        if wanted is not None:
            keep = wanted[v6_pos]
            v6_pos, v6_key = v6_pos[keep], v6_key[keep]
        if not self.has_ipv6:
            ids[v6_pos] = invalid_row + 1
        elif len(v6_pos):
            row6 = _search(self._from6, self._after6, np.where(v6_key == _TOP6, _BELOW_TOP6, v6_key))
            ids[v6_pos] = np.where(row6 >= 0, row6 + len(self._from4), null_row)

        invalid = parsed.version == 0
        if wanted is not None:
            invalid &= wanted
        ids[invalid] = invalid_row
        return ids

    def _located(self, ids: np.ndarray, columns) -> dict[str, pl.Series]:
        out: dict[str, pl.Series] = {}
        for cell in self._cells:
            names = [c for c in cell.dictionaries if c in columns]
            if names:
                index = pl.Series(cell.codes[ids])
                for name in names:
                    out[name] = cell.dictionaries[name].gather(index)
        return out

    def lookup(self, addresses: pl.Series) -> pl.DataFrame:
        """The BIN's fields for each address string, exactly as the library's `get_all`
        returns them (see the module docstring): `address` (the input), `status`, then
        `self.columns`. The string is used as given, as the library does: use `classify`
        or `geolocate` for raw input (they strip whitespace first)."""
        address = addresses.cast(pl.String).alias("address")
        ids = self._row_ids(_parse(address), None)
        found = self._found_rows
        status = np.select([ids < found, ids == found, ids == found + 1], [0, 1, 2], 3).astype(np.uint32)
        located = self._located(ids, self.columns)
        return pl.DataFrame(
            [address, _STATUS_DICTIONARY.gather(pl.Series(status)), *(located[c] for c in self.columns)]
        )


def geolocate(ips: pl.Series, db: BinDatabase) -> pl.DataFrame:
    """Classify the IP strings and look only the public ones up: one row per input, in
    `LOCATIONS_SCHEMA` (location columns null for non-public addresses and for fields the
    BIN lacks). A public address's location is the library's `get_all(address)`: "-" where
    the database has no location, and "IPV6 ADDRESS MISSING IN IPV4 BIN" in the text
    columns (null coordinates) for public IPv6 addresses when the BIN is IPv4-only."""
    frame, parsed, kinds = _classified(ips)
    wanted = kinds == _KIND_CODES[PUBLIC]
    located = db._located(db._row_ids(parsed, wanted), LOCATION_COLUMNS)
    columns = [
        located[c].alias(c)
        if c in located
        else pl.repeat(None, len(frame), dtype=LOCATIONS_SCHEMA[c], eager=True).alias(c)
        for c in LOCATION_COLUMNS
    ]
    return frame.with_columns(columns).select(list(LOCATIONS_SCHEMA))
