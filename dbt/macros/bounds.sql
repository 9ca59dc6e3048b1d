{#
    Sane bounds on values that come straight from raw rows. A value beyond its bound is
    not a figure anyone can act on: the models keep the row, leave the figure out (null,
    or out of a total) and a `warn` test counts it, so that one bad row never fails a
    build. (The Glamira price bound lives beside the parser, in parse_price.sql, as the
    twin of tasks/glamira/prices.py `MAX_PRICE`.)
#}

{#
    The largest quantity of one Glamira cart line whose totals are computed: 1,000. The
    stores sell jewellery to consumers; the demo data orders one or two of a piece, and
    even a wholesale line of one ring stays in the hundreds. A cart `amount` below 1 (0,
    negative) or above this is a broken cart, not a sale of that many pieces.
#}
{% macro max_line_quantity() -%}
    {{- return('1000') -}}
{%- endmacro %}

{#
    The largest Bahela amount (rupiah), image size (bytes) or image area (pixels) taken
    as a figure: 10^12. A booth session costs tens of thousands of rupiah and a photo
    weighs megabytes and holds megapixels: none comes within a million times of it.
    Below it, a sum of up to nine million values still fits an Int64 (9.2 * 10^18), so
    no total (in dbt, or the pipeline's Polars sums, which wrap silently) can overflow.
#}
{% macro max_bahela_value() -%}
    {{- return('1000000000000') -}}
{%- endmacro %}
