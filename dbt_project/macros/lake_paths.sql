{#- Where every layer lives in the lake. The lake is the system of record: each dbt
    invocation may start from an empty DuckDB and finds upstream layers there. -#}

{#- A run value (which lake, batch, build and snapshot) from the environment, read only while
    executing, never while parsing: values that change every run then leave dbt's
    partial-parse cache valid, where a changed --vars forces a full re-parse. -#}
{% macro olist_run_value(name) -%}
    {%- if execute -%}
        {{- return(env_var(name, '') | string | trim) -}}
    {%- endif -%}
    {{- return('') -}}
{%- endmacro %}

{#- The lake's layout is defined once, in include/olist_risk/lake/layout.py: the invocation
    (transform/dbt_invocation.py) passes the build root and the raw tables' location
    template (`{table}`, `{batch}`) in the environment. -#}
{% macro olist_build_root() -%}
    {{- olist_run_value('OLIST_BUILD_ROOT').rstrip('/') -}}
{%- endmacro %}

{% macro olist_raw_location(table_name) -%}
    {{- olist_run_value('OLIST_RAW_TABLE_LOCATION')
        | replace('{table}', table_name)
        | replace('{batch}', olist_run_value('OLIST_RAW_BATCH_ID')) -}}
{%- endmacro %}

{#- Where a model's build goes. A model partitioned by snapshot_date is built by every run,
    under the run's build root. Every other model depends only on the raw batch and the code:
    it is built once per batch and reused by later runs, under OLIST_BATCH_BUILD_ROOT
    (by default the build root too). `config` is a model's config or a graph node's. -#}
{% macro olist_model_root(config) -%}
    {%- set batch_root = olist_run_value('OLIST_BATCH_BUILD_ROOT') -%}
    {%- if config.get('partition_by') == 'snapshot_date' or batch_root == '' -%}
        {{- olist_build_root() -}}
    {%- else -%}
        {{- batch_root.rstrip('/') -}}
    {%- endif -%}
{%- endmacro %}

{#- Overrides dbt-duckdb's macro of the same name: {root}/{schema}/{model}.parquet, or a
    directory {root}/{schema}/{model} for models partitioned with `partition_by`. -#}
{% macro external_location(relation, config) -%}
    {%- set partition_by = config.get('partition_by') -%}
    {%- if partition_by -%}
        {{- olist_model_root(config) }}/{{ relation.schema }}/{{ relation.identifier }}
    {%- else -%}
        {{- olist_model_root(config) }}/{{ relation.schema }}/{{ relation.identifier }}.parquet
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
