{#- OLIST_SNAPSHOT_DATE: '' (full refresh) or a validated 'YYYY-MM-DD' month start. -#}
{% macro olist_snapshot_date() -%}
    {%- set value = olist_run_value('OLIST_SNAPSHOT_DATE') -%}
    {%- if value in ('', 'None', 'none', 'null') -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set parsed = none -%}
    {%- if modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', value) -%}
        {%- set parsed = modules.datetime.datetime.strptime(value, '%Y-%m-%d') -%}
    {%- endif -%}
    {%- if parsed is none or parsed.day != 1 -%}
        {{- exceptions.raise_compiler_error("OLIST_SNAPSHOT_DATE must be a month start 'YYYY-MM-DD' (or empty for a full refresh), got '" ~ value ~ "'") -}}
    {%- endif -%}
    {{- return(value) -}}
{%- endmacro %}

{% macro olist_is_full_refresh() -%}
    {{- return(olist_snapshot_date() == '') -}}
{%- endmacro %}

{#- Snapshot bucket of a fact: the first month start strictly after its known_at. A fact
    contributes to snapshot S exactly when its bucket <= S (known_at < S). -#}
{% macro snapshot_bucket(ts) -%}
    cast({{ dbt.dateadd('month', 1, dbt.date_trunc('month', ts)) }} as date)
{%- endmacro %}

{#- One row per month start between two date expressions, inclusive. -#}
{% macro month_starts_between(start_date, end_date) -%}
    {{- return(adapter.dispatch('month_starts_between', 'olist_risk')(start_date, end_date)) -}}
{%- endmacro %}

{% macro default__month_starts_between(start_date, end_date) -%}
    select cast(month_start as date) as snapshot_date
    from generate_series(cast({{ start_date }} as timestamp), cast({{ end_date }} as timestamp), interval 1 month) as months (month_start)
{%- endmacro %}

{#- The snapshots this invocation builds, as a query with one column `snapshot_date`:
    every month start of FEATURES.md section 2's range (full refresh), or just the
    requested one, which must be after the earliest included purchase.
    `purchases` is a relation with an `order_purchased_at` column (included orders). -#}
{% macro snapshot_calendar(purchases) -%}
    {%- set snapshot_date = olist_snapshot_date() -%}
    {%- if snapshot_date == '' %}
    {{ month_starts_between(
        '(select ' ~ snapshot_bucket('min(order_purchased_at)') ~ ' from ' ~ purchases ~ ')',
        '(select ' ~ snapshot_bucket('max(order_purchased_at)') ~ ' from ' ~ purchases ~ ')'
    ) }}
    {%- else %}
    select
        case
            when (select min(order_purchased_at) from {{ purchases }}) < cast('{{ snapshot_date }}' as timestamp)
                then cast('{{ snapshot_date }}' as date)
            else cast(error('snapshot_date {{ snapshot_date }} is not after the earliest included purchase') as date)
        end as snapshot_date
    {%- endif %}
{%- endmacro %}
