{#
    Every row satisfies the SQL boolean `expression` (dbt_utils' test of the same name,
    which cannot be installed here). Under a column, the expression names the column.
#}
{% test expression_is_true(model, expression, column_name=none) %}

select *
from {{ model }}
where not ({{ expression }})

{% endtest %}
