{# The options chosen for each order line (alloy, stone, ring size, ...), one row each. #}
with

order_lines as (

    select * from {{ ref('int_order_lines_unnested') }}

),

options as (

    select
        order_lines.order_line_key,
        option_offset + 1 as option_number,
        line_option.option_label,
        line_option.option_id,
        line_option.value_label,
        line_option.value_id

    from order_lines
    {{ pipelines.cross_join_unnest('order_lines.line_options', 'line_option', 'option_offset') }}

),

final as (

    select
        {{ pipelines.surrogate_key(['order_line_key', 'option_number']) }} as order_line_option_key,
        order_line_key,
        option_number,
        option_label,
        lower(trim(option_label)) as option_name,
        option_id,
        value_label,
        value_id

    from options

)

select * from final
