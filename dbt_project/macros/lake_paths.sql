{#- Where every layer lives in the lake. The lake is the system of record: each dbt
    invocation may start from an empty DuckDB and finds upstream layers there. -#}

{% macro olist_lake_root() -%}
    {%- set root = var('lake_root', '') | string | trim -%}
    {{- root.rstrip('/') -}}
{%- endmacro %}

{% macro olist_build_root() -%}
    {%- set root = var('build_root', '') | string | trim -%}
    {%- if root == '' or root == 'None' -%}
        {%- set root = olist_lake_root() ~ '/warehouse' -%}
    {%- endif -%}
    {{- root.rstrip('/') -}}
{%- endmacro %}

{% macro olist_raw_location(table_name) -%}
    {{- olist_lake_root() }}/raw/{{ table_name }}/batch={{ var('raw_batch_id', '') }}/{{ table_name }}.parquet
{%- endmacro %}

{#- Overrides dbt-duckdb's macro of the same name: {build_root}/{schema}/{model}.parquet, or a
    directory {build_root}/{schema}/{model} for models partitioned with `partition_by`. -#}
{% macro external_location(relation, config) -%}
    {%- set partition_by = config.get('partition_by') -%}
    {%- if partition_by -%}
        {{- olist_build_root() }}/{{ relation.schema }}/{{ relation.identifier }}
    {%- else -%}
        {{- olist_build_root() }}/{{ relation.schema }}/{{ relation.identifier }}.parquet
    {%- endif -%}
{%- endmacro %}

{% macro olist_read_location(relation, config) -%}
    {%- set location = external_location(relation, config) -%}
    {%- if config.get('partition_by') -%}
        {{- location }}/*/*.parquet
    {%- else -%}
        {{- location -}}
    {%- endif -%}
{%- endmacro %}

{% macro olist_is_remote(location) -%}
    {{- return(location.startswith('s3://') or location.startswith('s3a://') or location.startswith('gs://') or location.startswith('az://') or location.startswith('https://')) -}}
{%- endmacro %}

{#- Custom schema names are used as they are: bronze, silver, gold, seeds. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
