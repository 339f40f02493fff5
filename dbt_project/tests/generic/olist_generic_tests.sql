{#- Generic tests written here because dbt Hub (dbt_utils) is out of reach. -#}

{% test olist_unique_combination(model, columns) %}
    select {{ columns | join(', ') }}, count(*) as n_rows
    from {{ model }}
    group by {{ columns | join(', ') }}
    having count(*) > 1
{% endtest %}

{% test olist_min_row_count(model, min_rows=1) %}
    select n_rows
    from (select count(*) as n_rows from {{ model }}) as counted
    where n_rows < {{ min_rows }}
{% endtest %}

{#- Values outside [min_value, max_value] (either bound optional; NULLs pass). -#}
{% test olist_in_range(model, column_name, min_value=none, max_value=none, max_exclusive=false) %}
    select {{ column_name }}
    from {{ model }}
    where {{ column_name }} is not null
        and (
            false
            {% if min_value is not none %} or {{ column_name }} < {{ min_value }} {% endif %}
            {% if max_value is not none %} or {{ column_name }} {{ '>=' if max_exclusive else '>' }} {{ max_value }} {% endif %}
        )
{% endtest %}

{#- Fails unless at least one row has column = value (required seed rows). -#}
{% test olist_has_row(model, column_name, value) %}
    select '{{ value }}' as missing_value
    where not exists (
        select 1 from {{ model }} where {{ column_name }} = '{{ value }}'
    )
{% endtest %}

{#- Each row satisfies a boolean SQL expression. -#}
{% test olist_expression_is_true(model, expression) %}
    select *
    from {{ model }}
    where not ({{ expression }})
{% endtest %}

{#- Every month start is a snapshot_date; every row is a month start. -#}
{% test olist_is_month_start(model, column_name) %}
    select {{ column_name }}
    from {{ model }}
    where {{ column_name }} is not null
        and cast({{ dbt.date_trunc('month', column_name) }} as date) <> {{ column_name }}
{% endtest %}

{#- The column's maximum is above a threshold (e.g. the last tier's upper bound > 1). -#}
{% test olist_max_above(model, column_name, threshold) %}
    select max_value
    from (select max({{ column_name }}) as max_value from {{ model }}) as maxed
    where max_value is null or max_value <= {{ threshold }}
{% endtest %}

{#- The weights of the risk score sum to 1. -#}
{% test olist_sums_to_one(model, column_name) %}
    select total
    from (select sum({{ column_name }}) as total from {{ model }}) as summed
    where total is null or abs(total - 1.0) > 1e-9
{% endtest %}
