"""Glamira prices: locale-formatted strings -> numbers, by rule, never by guess.

The stores write prices in their locale: `1,725.00`, `4.990,00`, `754,00`, `1'321.00`,
`61٫00`, `85,294`, with or without currency symbols. After dropping symbols and spaces
and mapping Arabic digits and separators, a price must match one of these shapes:

| shape | example | read as |
|---|---|---|
| `d{1,3}(,ddd)+(.d+)?` | `1,725.00`, `85,294` | comma thousands, point decimals |
| `d{1,3}(.ddd)+(,d+)?` | `4.990,00`, `1.725` | point thousands, comma decimals |
| `d{1,3}('ddd)+(.d+)?` | `1'321.00` | apostrophe thousands (Swiss) |
| `d{1,3}( ddd)+(,dd)?` | `1 725,00` | space thousands (French) |
| `d+,d{1,2}` | `754,00` | comma decimals |
| `d+.d+` | `12.50`, `61.00` | point decimals |
| `d+` | `85294` | whole number |

A separator followed by exactly three digits is a thousands separator (prices here never
carry three decimals). Anything else (`1.2.3,4`, `ab 99` ("from 99"), two prices in one
string, `99 - 149`, a negative amount) is unsupported: null, and counted by the caller,
never guessed.

A price of a supported shape is still unsupported when it is above `MAX_PRICE` (10^12)
or not finite (a string of 400 digits reads as infinity):

| text | read as |
|---|---|
| `999,999,999,999.99` | 999999999999.99 |
| `1,000,000,000,000` | 10^12, the largest supported price |
| `1,000,000,000,000.01`, `1000000000001` | unsupported |
| 400 digits, `1` and 130 `,000` groups | unsupported (not finite, or above the bound) |
| `inf`, `nan`, `1e400` | unsupported (words, never a shape) |

Why 10^12: the prices are jewellery, in every store currency. The weakest of them, the
Vietnamese dong (about 26,000 to the dollar) and the Indonesian rupiah (about 16,600),
put a one-million-dollar piece at about 2.6 * 10^10; 10^12 leaves a margin of forty
times over that, while no store writes a price of thirteen integer digits on purpose.
Below the bound a double still holds every cent exactly (up to 2^53, about 9 * 10^15),
and line totals cannot overflow. dbt's `price_upper_bound()` (dbt/macros/parse_price.sql)
is the same number; the seed dbt/seeds/price_parse_cases.csv holds both to it.
"""

from __future__ import annotations

import polars as pl

_ARABIC_DIGITS = dict(zip("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789", strict=True))
_SEPARATORS = {"٫": ".", "٬": ",", "’": "'", "\u00a0": " ", "\u202f": " "}

# currency symbols and ISO codes a store may write beside a price
_CURRENCY = (
    r"US\$|AU\$|A\$|C\$|NZ\$|HK\$|S\$|R\$|Fr\.|[A-Z]{3}|[€£$¥₹₫₩₽₺₪円]|zł|kr|Kč|Ft|lei|Rp|د\.إ|ر\.س|руб"
)

# The largest supported price (see the module docstring for why); dbt's twin is the
# macro `price_upper_bound()`.
MAX_PRICE = 1e12

_SHAPES: list[tuple[str, str, str]] = [  # (pattern, thousands separator, decimal separator)
    (r"^\d{1,3}(?:,\d{3})+(?:\.\d+)?$", ",", "."),
    (r"^\d{1,3}(?:\.\d{3})+(?:,\d+)?$", ".", ","),
    (r"^\d{1,3}(?:'\d{3})+(?:\.\d+)?$", "'", "."),
    (r"^\d{1,3}(?: \d{3})+(?:,\d{1,2})?$", " ", ","),
    (r"^\d+,\d{1,2}$", "", ","),
    (r"^\d+\.\d+$", "", "."),
    (r"^\d+$", "", "."),
]


def cleaned(price: pl.Expr) -> pl.Expr:
    """Digits and separators only: currency symbols and codes dropped, a space kept only
    between digits (where it can be a thousands separator)."""
    mapped = price.str.replace_all(_CURRENCY, " ").str.replace_many(
        list(_ARABIC_DIGITS) + list(_SEPARATORS), list(_ARABIC_DIGITS.values()) + list(_SEPARATORS.values())
    )
    return mapped.str.replace_all(r"[^0-9.,' ]", "").str.strip_chars().str.replace_all(r" +", " ")


def parse_price(price: pl.Expr) -> pl.Expr:
    """The amount a price string states, as Float64; null when missing or unsupported."""
    text = cleaned(price)
    parsed = pl.lit(None, dtype=pl.Float64)
    for pattern, thousands, decimal in reversed(_SHAPES):
        number = text
        if thousands:
            number = number.str.replace_all(thousands, "", literal=True)
        if decimal == ",":
            number = number.str.replace(",", ".", literal=True)
        parsed = (
            pl.when(text.str.contains(pattern)).then(number.cast(pl.Float64, strict=False)).otherwise(parsed)
        )
    # words other than a currency ("ab 99": "from 99") and characters between the digits
    # make a price unsupported: it would otherwise be read as a different number
    words = price.str.replace_all(_CURRENCY, "").str.contains(r"\p{L}")
    letters_inside = price.str.contains(r"\d[^\d\s.,'٫٬’]+\d")
    # a dash next to a number: a range ("99 - 149") or a negative amount, never a price
    dashed = price.str.contains(r"[-–—−]\s*\d|\d\s*[-–—−]")
    # false for infinity (hundreds of digits overflow a double) and NaN as well
    within_bound = parsed <= MAX_PRICE
    return pl.when(words | letters_inside | dashed | ~within_bound).then(None).otherwise(parsed)


def unsupported(price: pl.Expr, amount: pl.Expr | None = None) -> pl.Expr:
    """True where a price is present but is not one of the supported shapes (`amount`:
    the already parsed price, to avoid parsing twice)."""
    present = price.is_not_null() & (price.str.strip_chars() != "")
    return present & (parse_price(price) if amount is None else amount).is_null()
