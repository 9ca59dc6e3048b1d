"""Glamira geolocation: the BIN writer, the vectorised reader and the address
classification, checked against the official IP2Location library on the same files."""

from __future__ import annotations

import bisect
import ipaddress
import random
import struct

import IP2Location
import polars as pl
import pytest

from demo.ip2location_bin import (
    DEMO_IPV6_PREFIXES,
    build_demo_bin,
    countries,
    country_name,
    rows_from_ranges,
    write_bin,
)
from tasks.glamira.geo import (
    INVALID_MESSAGE,
    IPV6_MISSING_MESSAGE,
    LIBRARY_ATTRIBUTES,
    LOCATION_COLUMNS,
    LOCATIONS_SCHEMA,
    MESSAGES_AS_NULL,
    BinDatabase,
    classify,
    columns_of,
    geolocate,
)

DB_TYPES = (1, 3, 5, 11)
MAX4, MAX6 = 2**32 - 1, 2**128 - 1

# Values that make the writer and readers work: latin-1 text, the longest string a cell
# can hold, coordinates whose float32 rounding to 6 decimals is delicate.
LOCATIONS = [
    {},
    {"country_code": "US", "country_name": "United States of America", "region": "California",
     "city": "Mountain View", "latitude": 37.405991, "longitude": -122.078514, "zip_code": "94043",
     "time_zone": "-08:00"},
    {"country_code": "DE", "country_name": "Germany", "region": "Bayern", "city": "München",
     "latitude": 48.137428, "longitude": 11.575490, "zip_code": "80331", "time_zone": "+01:00"},
    {"country_code": "CI", "country_name": "Côte d'Ivoire", "region": "Abidjan", "city": "Abidjan",
     "latitude": 0.0000005, "longitude": -0.0000005, "zip_code": "-", "time_zone": "+00:00"},
    {"country_code": "BR", "country_name": "Brazil", "region": "São Paulo", "city": "São Paulo",
     "latitude": -23.5475, "longitude": -46.636108, "zip_code": "01000-000", "time_zone": "-03:00"},
    {"country_code": "AX", "country_name": "Åland Islands", "region": "Ålands skärgård",
     "city": "ÿ" * 255, "latitude": 89.9999995, "longitude": -179.9999995, "zip_code": "22100",
     "time_zone": "+02:00"},
    {"country_code": "JP", "country_name": "Japan", "region": "Tokyo", "city": "Tokyo",
     "latitude": 12.3456785, "longitude": 1e-7, "zip_code": "100-0001", "time_zone": "+09:00"},
    {"country_code": "GB", "country_name": "United Kingdom of Great Britain and Northern Ireland"},
]  # fmt: skip

INVALID_STRINGS = [
    "",
    " ",
    "unknown",
    "-",
    "256.1.1.1",
    "1.2.3",
    "1.2.3.4.5",
    "1.2.3.4, 5.6.7.8",
    " 80.1.2.3 ",
    "80.1.2.3\n",
    "01.2.3.4",
    "1.2.3.04",
    "1.2.3.-4",
    "+1.2.3.4",
    "1..2.3",
    "١.٢.٣.٤",  # Arabic-Indic digits: isdigit() but not [0-9]
    "1.2.3.4:8080",
    "[2001:db8::1]",
    "fe80::1%eth0",
    "1::2::3",
    "2001:db8::g",
    "::ffff:1.2.3.04",
    "1:2:3:4:5:6:7:8:9",
    "localhost",
]


def random_ranges(rng: random.Random, bits: int, count: int) -> list[tuple[int, int, dict]]:
    """`count` random contiguous-or-gapped ranges over [0, 2**bits) with random locations;
    for IPv6 half of them inside a few busy /32s, so that neighbours share prefixes."""
    top = 2**bits
    starts: set[int] = set()
    while len(starts) < count:
        if bits == 128 and rng.random() < 0.5:
            prefix = rng.choice([0x2001_4860, 0x2A01_0E00, 0x2003_0000, 0x0000_0000, 0xFFFF_FFFF])
            starts.add((prefix << 96) | rng.getrandbits(96 - rng.choice([0, 32, 64, 90])))
        else:
            starts.add(rng.randrange(top) & ~((1 << rng.choice([0, 8, 16])) - 1))
    bounds = sorted(starts | {0})
    ranges = []
    for first, after in zip(bounds, [*bounds[1:], top], strict=True):
        if rng.random() < 0.15:
            continue  # a gap: the writer's caller fills it with "-"
        ranges.append((first, after - 1, rng.choice(LOCATIONS)))
    return ranges


def expected_record(rows: list[tuple[int, dict]], number: int, db_type: int) -> tuple:
    """What the library should return for a number, from the rows themselves."""
    froms = [ip for ip, _ in rows]
    fields = rows[bisect.bisect_right(froms, number) - 1][1]
    out = []
    for column in columns_of(db_type):
        if column in ("latitude", "longitude"):
            value = struct.unpack("<f", struct.pack("<f", fields.get(column, 0.0)))[0]
            out.append(format(round(value, 6), ".6f"))
        else:
            out.append(fields.get(column, "-"))
    return tuple(out)


def library_records(path, addresses: list[str], columns) -> list[tuple]:
    """The library's answers, raw (strings, as it returns them)."""
    lib = IP2Location.IP2Location(str(path))
    try:
        return [tuple(getattr(lib.get_all(a), LIBRARY_ATTRIBUTES[c]) for c in columns) for a in addresses]
    finally:
        lib.close()


def as_ours(record: tuple, columns) -> tuple:
    """A library record as `lookup` returns it: coordinates as floats, messages null."""
    return tuple(
        (None if v in MESSAGES_AS_NULL else float(v)) if c in ("latitude", "longitude") else v
        for c, v in zip(columns, record, strict=True)
    )


def edge_addresses(rows4, rows6, rng: random.Random) -> list[str]:
    """First and last address of ranges, the ends of both spaces, embedded IPv4 forms."""
    v4 = {0, 1, MAX4 - 1, MAX4}
    for ip, _ in rng.sample(rows4, min(200, len(rows4))):
        v4 |= {ip, max(ip - 1, 0), min(ip + 1, MAX4)}
    v6 = {0, 1, MAX6 - 1, MAX6}
    for ip, _ in rng.sample(rows6, min(100, len(rows6))) if rows6 else []:
        v6 |= {ip, max(ip - 1, 0)}
    out = [str(ipaddress.IPv4Address(n)) for n in v4] + [str(ipaddress.IPv6Address(n)) for n in v6]
    some = sorted(v4)[:50]
    out += [f"::ffff:{ipaddress.IPv4Address(n)}" for n in some]  # IPv4-mapped
    out += [f"::FFFF:{ipaddress.IPv4Address(n)}" for n in some[:5]]
    out += [str(ipaddress.IPv6Address((0x2002 << 112) | (n << 80) | 1)) for n in some]  # 6to4
    out += [str(ipaddress.IPv6Address((0x2001_0000 << 96) | (n ^ MAX4))) for n in some]  # Teredo
    out += ["::", "::1", "::1.2.3.4", "64:ff9b::8.8.8.8", "2001:DB8::1", "2001:0db8:0000::0001"]
    return out


def random_addresses(rng: random.Random, n: int) -> list[str]:
    out = [str(ipaddress.IPv4Address(rng.getrandbits(32))) for _ in range(n)]
    for _ in range(n // 2):
        prefix = rng.choice([0x2001_4860, 0x2A01_0E00, 0x2003_0000, None])
        number = rng.getrandbits(128) if prefix is None else (prefix << 96) | rng.getrandbits(96)
        out.append(str(ipaddress.IPv6Address(number)))
    return out


@pytest.fixture(scope="module")
def bins(tmp_path_factory):
    """DB1/3/5/11 files with random IPv4 and IPv6 rows, and an IPv4-only DB1."""
    rng = random.Random(2026)
    rows4 = rows_from_ranges(random_ranges(rng, 32, 1500))
    rows6 = rows_from_ranges(random_ranges(rng, 128, 300), version=6)
    folder = tmp_path_factory.mktemp("bins")
    files = {t: write_bin(folder / f"db{t}.bin", rows4, rows6, db_type=t) for t in DB_TYPES}
    files["ipv4-only"] = write_bin(folder / "db1-ipv4.bin", rows4, db_type=1)
    return {"rows4": rows4, "rows6": rows6, "files": files}


@pytest.fixture(scope="module")
def demo_bin(tmp_path_factory):
    return build_demo_bin(tmp_path_factory.mktemp("demo") / "demo.bin")


@pytest.mark.parametrize("db_type", DB_TYPES)
def test_library_reads_written_bins_as_written(bins, db_type):
    rng = random.Random(db_type)
    rows4, rows6 = bins["rows4"], bins["rows6"]
    numbers4 = [rng.getrandbits(32) for _ in range(2000)] + [ip for ip, _ in rows4[:300]] + [0, MAX4 - 1]
    numbers6 = (
        [ip for ip, _ in rows6] + [ip - 1 for ip, _ in rows6[1:]] + [rng.getrandbits(128) for _ in range(500)]
    )
    addresses = [str(ipaddress.IPv4Address(n)) for n in numbers4] + [
        str(ipaddress.IPv6Address(n)) for n in numbers6
    ]
    expected = [expected_record(rows4, n, db_type) for n in numbers4]
    expected += [expected_record(rows6, n, db_type) for n in numbers6]

    got = library_records(bins["files"][db_type], addresses, columns_of(db_type))

    mismatches = [(a, g, e) for a, g, e in zip(addresses, got, expected, strict=True) if g != e]
    assert mismatches == []
    assert len(addresses) > 3000


@pytest.mark.parametrize("db_type", DB_TYPES)
def test_lookup_is_identical_to_the_library(bins, db_type):
    rng = random.Random(100 + db_type)
    path = bins["files"][db_type]
    db = BinDatabase.open(path)
    addresses = (
        random_addresses(rng, 2000) + edge_addresses(bins["rows4"], bins["rows6"], rng) + INVALID_STRINGS
    )

    ours = db.lookup(pl.Series(addresses))
    theirs = [as_ours(r, db.columns) for r in library_records(path, addresses, db.columns)]

    assert db.columns == tuple(columns_of(db_type))
    assert ours["address"].to_list() == addresses
    mismatches = [
        (a, o, t) for a, o, t in zip(addresses, ours.select(db.columns).rows(), theirs, strict=True) if o != t
    ]
    assert mismatches == []
    statuses = dict(zip(addresses, ours["status"].to_list(), strict=True))
    assert {statuses[s] for s in INVALID_STRINGS} == {"invalid"}
    assert {statuses[s] for s in addresses[:2000]} == {"ok"}


def test_large_batches_are_looked_up_like_small_ones(bins):
    """Big batches take the sort-then-search path; small ones search directly."""
    path = bins["files"][11]
    db = BinDatabase.open(path)
    addresses = pl.Series(random_addresses(random.Random(21), 30_000))

    whole = db.lookup(addresses)
    pieces = pl.concat([db.lookup(addresses.slice(i, 1000)) for i in range(0, len(addresses), 1000)])

    assert whole.equals(pieces)
    sample = whole.sample(300, seed=1)
    expected = [
        as_ours(r, db.columns) for r in library_records(path, sample["address"].to_list(), db.columns)
    ]
    assert sample.select(db.columns).rows() == expected


def test_coordinates_format_back_to_the_librarys_strings(bins):
    path = bins["files"][11]
    addresses = random_addresses(random.Random(5), 1000)
    ours = BinDatabase.open(path).lookup(pl.Series(addresses)).select("latitude", "longitude").rows()
    theirs = library_records(path, addresses, ["latitude", "longitude"])
    assert [(format(a, ".6f"), format(b, ".6f")) for a, b in ours] == theirs


def test_ipv4_only_bin_answers_ipv6_like_the_library(bins):
    path = bins["files"]["ipv4-only"]
    db = BinDatabase.open(path)
    addresses = [
        "2001:4860:4860::8888",
        "fe80::1",
        "::1",
        "::ffff:8.8.8.8",
        "2002:808:808::",
        "8.8.8.8",
        "bogus",
    ]

    ours = db.lookup(pl.Series(addresses))
    theirs = [as_ours(r, db.columns) for r in library_records(path, addresses, db.columns)]

    assert not db.has_ipv6
    assert ours.select(db.columns).rows() == theirs
    assert ours["status"].to_list() == ["ipv6_missing"] * 3 + ["ok"] * 3 + ["invalid"]
    assert ours["country_code"].to_list()[:3] == [IPV6_MISSING_MESSAGE] * 3
    # IPv4 embedded in IPv6 is looked up in the IPv4 table, even here.
    assert ours["country_code"][3] == ours["country_code"][4] == ours["country_code"][5]


def test_lookup_answers_invalid_where_the_library_raises(bins):
    db = BinDatabase.open(bins["files"][11])
    lib = IP2Location.IP2Location(str(bins["files"][11]))
    with pytest.raises(ValueError):
        lib.get_all("1.2.3.²")  # isdigit() is true, int() fails inside the library
    lib.close()

    ours = db.lookup(pl.Series(["1.2.3.²", None], dtype=pl.String))

    assert ours["status"].to_list() == ["invalid", "invalid"]
    assert ours["country_code"].to_list() == [INVALID_MESSAGE] * 2
    assert ours["latitude"].to_list() == [None, None]


@pytest.mark.parametrize("variant", ["no index", "count short of the table"])
def test_lookup_follows_the_library_on_other_table_layouts(bins, tmp_path, variant):
    rows4, rows6 = bins["rows4"], bins["rows6"]
    path = write_bin(tmp_path / "db.bin", rows4, rows6, db_type=3, index=variant != "no index")
    if variant != "no index":
        # A file whose header counts one row fewer: the last range is then closed by the
        # row after the counted ones, which both readers must still find.
        data = bytearray(path.read_bytes())
        count4, _, count6 = struct.unpack_from("<III", data, 5)
        struct.pack_into("<I", data, 5, count4 - 1)
        struct.pack_into("<I", data, 13, count6 - 1)
        path.write_bytes(bytes(data))
    addresses = [str(ipaddress.IPv4Address(ip)) for ip, _ in rows4[-5:]] + [
        "255.255.255.255",
        "255.255.255.254",
    ]
    addresses += [str(ipaddress.IPv6Address(ip)) for ip, _ in rows6[-5:]] + [
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
    ]
    addresses += random_addresses(random.Random(9), 300)
    db = BinDatabase.open(path)

    ours = db.lookup(pl.Series(addresses)).select(db.columns).rows()

    assert ours == [as_ours(r, db.columns) for r in library_records(path, addresses, db.columns)]


CLASSIFIED = [
    # (input, kind, version, address)
    ("8.8.8.8", "public", 4, "8.8.8.8"),
    ("1.0.0.0", "public", 4, "1.0.0.0"),
    ("223.255.255.255", "public", 4, "223.255.255.255"),
    ("0.0.0.0", "reserved", 4, "0.0.0.0"),
    ("0.255.255.255", "reserved", 4, "0.255.255.255"),
    ("10.0.0.0", "private", 4, "10.0.0.0"),
    ("10.255.255.255", "private", 4, "10.255.255.255"),
    ("11.0.0.0", "public", 4, "11.0.0.0"),
    ("100.63.255.255", "public", 4, "100.63.255.255"),
    ("100.64.0.0", "reserved", 4, "100.64.0.0"),
    ("100.127.255.255", "reserved", 4, "100.127.255.255"),
    ("100.128.0.0", "public", 4, "100.128.0.0"),
    ("127.0.0.1", "reserved", 4, "127.0.0.1"),
    ("169.254.0.1", "reserved", 4, "169.254.0.1"),
    ("172.15.255.255", "public", 4, "172.15.255.255"),
    ("172.16.0.0", "private", 4, "172.16.0.0"),
    ("172.31.255.255", "private", 4, "172.31.255.255"),
    ("172.32.0.0", "public", 4, "172.32.0.0"),
    ("192.0.0.1", "reserved", 4, "192.0.0.1"),
    ("192.0.0.9", "public", 4, "192.0.0.9"),
    ("192.0.0.10", "public", 4, "192.0.0.10"),
    ("192.0.0.11", "reserved", 4, "192.0.0.11"),
    ("192.0.2.1", "reserved", 4, "192.0.2.1"),
    ("192.31.196.1", "public", 4, "192.31.196.1"),
    ("192.88.99.1", "reserved", 4, "192.88.99.1"),
    ("192.167.255.255", "public", 4, "192.167.255.255"),
    ("192.168.1.1", "private", 4, "192.168.1.1"),
    ("192.169.0.0", "public", 4, "192.169.0.0"),
    ("198.17.255.255", "public", 4, "198.17.255.255"),
    ("198.18.0.0", "reserved", 4, "198.18.0.0"),
    ("198.19.255.255", "reserved", 4, "198.19.255.255"),
    ("198.20.0.0", "public", 4, "198.20.0.0"),
    ("198.51.100.7", "reserved", 4, "198.51.100.7"),
    ("203.0.113.255", "reserved", 4, "203.0.113.255"),
    ("224.0.0.1", "reserved", 4, "224.0.0.1"),
    ("239.255.255.255", "reserved", 4, "239.255.255.255"),
    ("240.0.0.1", "reserved", 4, "240.0.0.1"),
    ("255.255.255.255", "reserved", 4, "255.255.255.255"),
    (" 80.1.2.3 ", "public", 4, "80.1.2.3"),
    ("\t93.184.216.34\n", "public", 4, "93.184.216.34"),
    ("::ffff:93.184.216.34", "public", 4, "93.184.216.34"),
    ("::FFFF:5DB8:D822", "public", 4, "93.184.216.34"),
    ("::ffff:192.168.0.1", "private", 4, "192.168.0.1"),
    ("::ffff:127.0.0.1", "reserved", 4, "127.0.0.1"),
    ("2002:5db8:d822::1", "public", 4, "93.184.216.34"),  # 6to4
    ("2002:0a00:0001::", "private", 4, "10.0.0.1"),
    ("2001:0:4136:e378:8000:63bf:a247:27dd", "public", 4, "93.184.216.34"),  # Teredo
    ("2001:4860:4860::8888", "public", 6, "2001:4860:4860::8888"),
    ("2001:4860:4860:0:0:0:0:8888", "public", 6, "2001:4860:4860::8888"),
    ("2A01:E00::1", "public", 6, "2a01:e00::1"),
    ("2003::1", "public", 6, "2003::1"),
    ("::", "reserved", 6, "::"),
    ("::1", "reserved", 6, "::1"),
    ("::1.2.3.4", "reserved", 6, "::1.2.3.4"),
    ("64:ff9b::8.8.8.8", "public", 6, "64:ff9b::808:808"),
    ("64:ff9b:1::1", "reserved", 6, "64:ff9b:1::1"),
    ("100::1", "reserved", 6, "100::1"),
    ("2001:2::1", "reserved", 6, "2001:2::1"),
    ("2001:1::1", "public", 6, "2001:1::1"),
    ("2001:1::4", "reserved", 6, "2001:1::4"),
    ("2001:3::1", "public", 6, "2001:3::1"),
    ("2001:4:112::1", "public", 6, "2001:4:112::1"),
    ("2001:20::1", "public", 6, "2001:20::1"),
    ("2001:1ff::1", "reserved", 6, "2001:1ff::1"),
    ("2001:200::1", "public", 6, "2001:200::1"),
    ("2001:db8::1", "reserved", 6, "2001:db8::1"),
    ("3fff::1", "reserved", 6, "3fff::1"),
    ("3fff:1000::1", "public", 6, "3fff:1000::1"),
    ("4000::1", "reserved", 6, "4000::1"),
    ("fc00::1", "private", 6, "fc00::1"),
    ("fdff:ffff::1", "private", 6, "fdff:ffff::1"),
    ("fe80::1", "reserved", 6, "fe80::1"),
    ("febf::1", "reserved", 6, "febf::1"),
    ("fec0::1", "reserved", 6, "fec0::1"),
    ("ff02::1", "reserved", 6, "ff02::1"),
    ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "reserved", 6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
]


def test_classify_names_every_special_range():
    ips = [ip for ip, *_ in CLASSIFIED]

    out = classify(pl.Series(ips))

    assert out.schema == pl.Schema(
        {"ip": pl.String, "address": pl.String, "version": pl.Int8, "kind": pl.String}
    )
    assert [(ip, kind, version, address) for ip, address, version, kind in out.iter_rows()] == CLASSIFIED


def test_classify_calls_malformed_strings_invalid():
    strings = [s for s in INVALID_STRINGS if s.strip() not in ("80.1.2.3",)] + [None]

    out = classify(pl.Series(strings, dtype=pl.String))

    assert out["ip"].to_list() == strings
    assert out["kind"].to_list() == ["invalid"] * len(strings)
    assert out["address"].null_count() == out["version"].null_count() == len(strings)


def test_classified_addresses_get_the_same_answer_as_the_original_from_the_library(demo_bin):
    """Normalising never changes what the library says (stripping aside)."""
    ips = [ip for ip, *_ in CLASSIFIED if ip.strip() == ip]
    out = classify(pl.Series(ips))
    columns = columns_of(11)
    assert library_records(demo_bin, out["address"].to_list(), columns) == library_records(
        demo_bin, ips, columns
    )


def test_geolocate_looks_up_only_the_public_addresses(demo_bin):
    db = BinDatabase.open(demo_bin)
    ips = [ip for ip, *_ in CLASSIFIED] + INVALID_STRINGS + [None] + random_addresses(random.Random(3), 500)

    out = geolocate(pl.Series(ips, dtype=pl.String), db)

    assert out.schema == pl.Schema(LOCATIONS_SCHEMA)
    assert out["ip"].to_list() == ips
    assert out.select("ip", "address", "version", "kind").equals(classify(pl.Series(ips, dtype=pl.String)))
    others = out.filter(pl.col("kind") != "public")
    assert others.select(LOCATION_COLUMNS).null_count().sum_horizontal().item() == others.height * 8
    public = out.filter(pl.col("kind") == "public")
    expected = [
        as_ours(r, LOCATION_COLUMNS)
        for r in library_records(demo_bin, public["address"].to_list(), LOCATION_COLUMNS)
    ]
    assert public.select(LOCATION_COLUMNS).rows() == expected
    assert public.height > 400


def test_geolocate_leaves_fields_a_db1_lacks_null(bins):
    db = BinDatabase.open(bins["files"][1])
    out = geolocate(pl.Series(["8.8.8.8", "2001:4860::1", "10.0.0.1"]), db)

    assert out.schema == pl.Schema(LOCATIONS_SCHEMA)
    assert out["country_code"].null_count() == 1
    assert (
        out.select("region", "city", "latitude", "longitude", "zip_code", "time_zone").null_count().row(0)
        == (3,) * 6
    )


def test_empty_input_gives_empty_frames(bins):
    db = BinDatabase.open(bins["files"][11])
    empty = pl.Series([], dtype=pl.String)

    assert classify(empty).height == 0
    assert db.lookup(empty).columns == ["address", "status", *db.columns]
    assert geolocate(empty, db).schema == pl.Schema(LOCATIONS_SCHEMA)


def test_demo_bin_gives_real_countries_for_well_known_addresses(demo_bin):
    db = BinDatabase.open(demo_bin)
    known = {
        "8.8.8.8": "US",
        "9.9.9.9": "US",
        "193.99.144.80": "DE",
        "217.160.0.1": "DE",
        "212.58.244.20": "GB",
        "80.67.169.12": "FR",
        "210.152.243.234": "JP",
        "200.160.2.3": "BR",
        "203.2.218.214": "AU",
        "2003:e0:1::1": "DE",
        "2a01:e0a:1::1": "FR",
        "2001:4860:4860::8888": "US",
        "2a02:c7c:1::1": "GB",
        "2405:6580::1": "JP",
        "::ffff:8.8.8.8": "US",
        "10.1.2.3": "-",
        "192.168.1.1": "-",
        "127.0.0.1": "-",
        "100.64.0.1": "-",
        "224.0.0.1": "-",
        "2001:db8::1": "-",
        "2a00::1": "-",
    }

    out = db.lookup(pl.Series(list(known)))

    assert dict(zip(known, out["country_code"].to_list(), strict=True)) == known
    assert db.db_type == 11 and db.has_ipv6
    germany = out.row(2, named=True)
    assert germany["country_name"] == "Germany"
    assert germany["city"] in {c.name for c in countries()["DE"].cities}
    assert germany["time_zone"] == "+01:00" and 47 < germany["latitude"] < 55


def test_demo_bin_reads_the_same_with_the_library_and_ours(demo_bin):
    rng = random.Random(11)
    addresses = [str(ipaddress.IPv4Address(rng.getrandbits(32))) for _ in range(2500)]
    for _ in range(500):
        net = ipaddress.ip_network(rng.choice(DEMO_IPV6_PREFIXES)[0])
        addresses.append(str(net[rng.randrange(net.num_addresses)]))
    addresses += ["0.0.0.0", "255.255.255.255", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"]
    db = BinDatabase.open(demo_bin)

    ours = db.lookup(pl.Series(addresses)).select(db.columns).rows()
    theirs = [as_ours(r, db.columns) for r in library_records(demo_bin, addresses, db.columns)]

    assert ours == theirs
    countries_seen = {row[0] for row in ours}
    assert len(countries_seen) > 50 and "-" in countries_seen


def test_country_names_come_from_the_iso_table():
    assert country_name("DE") == "Germany"
    assert country_name("GB") == "United Kingdom of Great Britain and Northern Ireland"
    assert country_name("CI") == "Côte d'Ivoire"
    assert country_name("XK") == "XK"  # not in ISO 3166-1: the code stands for itself
    assert len(countries()) == 249


def test_rows_from_ranges_fills_gaps_and_merges_neighbours():
    us = {"country_code": "US", "country_name": "United States of America"}
    rows = rows_from_ranges([(10, 19, us), (20, 29, us), (40, 49, {}), (60, MAX4, us)])
    assert rows == [(0, {}), (10, us), (30, {}), (60, us)]
    assert rows_from_ranges([(0, MAX4, us)], version=6) == [(0, us), (MAX4 + 1, {})]
    with pytest.raises(ValueError, match="overlaps"):
        rows_from_ranges([(10, 19, us), (15, 29, us)])


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([(5, {})], "start at 0"),
        ([(0, {}), (10, {}), (10, {})], "strictly increasing"),
        ([(0, {"country_code": "USA"})], "two characters"),
        ([(0, {"city": "東京"})], "latin-1"),
        ([(0, {"city": "x" * 256})], "255"),
        ([(0, {"cty": "Paris"})], "unknown fields"),
        ([(0, {}), (MAX4, {})], "closing"),
    ],
)
def test_write_bin_rejects_rows_the_format_cannot_hold(tmp_path, rows, message):
    with pytest.raises(ValueError, match=message):
        write_bin(tmp_path / "bad.bin", rows, db_type=11)
    assert not (tmp_path / "bad.bin").exists()
