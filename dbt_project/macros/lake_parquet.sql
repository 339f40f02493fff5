{#- Materialization `lake_parquet`: stream the model's query straight into Parquet in the
    lake (COPY, no intermediate DuckDB table, so memory stays flat), then expose it in this
    DuckDB as a view over the written files. Another dbt invocation, in another process with
    an empty DuckDB, finds it again through `olist_register_upstream()` (on-run-start).

    Config:
      partition_by: a column -> hive-partitioned directory {build_root}/{schema}/{model}/col=value/data_0.parquet.
        Full refresh (no `snapshot_date` var) replaces the whole directory; a build for one
        snapshot rewrites only that snapshot's partition file and leaves the others alone.
        On remote lakes (s3://) DuckDB cannot delete, so a full refresh overwrites every
        partition it writes (fixed file names) but cannot drop partitions outside its range.
      order_by: the sort of the written rows, default `all` (every column, left to right).
        A model with a unique key may name it instead (cheaper to sort).
    The model contract (names + data types) is checked before anything is written.

    Deterministic bytes: the same input and code write the same Parquet, byte for byte.
    Rows are written sorted (`order_by`), so row order and row groups do not depend on
    thread scheduling (DuckDB keeps an ORDER BY's order in COPY even with
    preserve_insertion_order off). A partitioned COPY does not keep it with several threads
    (each thread buffers its own share of every partition), so it runs with one DuckDB
    thread and restores the setting after; partitioned models run one after another, each
    feeds the next. The query itself runs first, on every thread, into a temporary table:
    sorting the query's output directly keeps its joins' memory alive under the sort, which
    ran out of memory at scale 10 (9.8M feature rows) where the table spills to disk.
    Sums of DOUBLE use exact_sum() so that the values themselves do not depend on row
    order. -#}
{% materialization lake_parquet, adapter='duckdb' %}
    {%- set target_relation = this.incorporate(type='view') -%}
    {%- set location = external_location(this, config) -%}
    {%- set partition_by = config.get('partition_by') -%}
    {%- set existing_relation = load_cached_relation(this) -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {%- if config.get('contract').enforced -%}
        {{ get_assert_columns_equivalent(sql) }}
    {%- endif -%}

    {%- if partition_by -%}
        {%- if olist_is_full_refresh() and not olist_is_remote(location) -%}
            {%- set mode = 'overwrite true' -%}
        {%- else -%}
            {%- set mode = 'overwrite_or_ignore true' -%}
        {%- endif -%}
        {%- set options = "format parquet, compression zstd, partition_by (" ~ partition_by ~ "), filename_pattern 'data_{i}', " ~ mode -%}
    {%- else -%}
        {%- set options = 'format parquet, compression zstd' -%}
    {%- endif -%}

    {%- if not olist_is_remote(location) -%}
        {%- do olist_make_local_dirs(location.rsplit('/', 1)[0]) -%}
    {%- endif -%}

    {%- set order_by = config.get('order_by', 'all') -%}
    {%- if partition_by -%}
        {%- set model_rows = adapter.quote(this.identifier ~ '__olist_rows') -%}
        {%- set threads = run_query("select current_setting('threads')").columns[0].values()[0] -%}
        {% call statement('olist_model_rows') -%}
            create or replace temporary table {{ model_rows }} as
            {{ sql }}
            ;
            set threads = 1
        {%- endcall %}
        {% call statement('main') -%}
            copy (select * from {{ model_rows }} order by {{ order_by }}) to '{{ location }}' ({{ options }})
        {%- endcall %}
        {% call statement('olist_restore_threads') -%}
            set threads = {{ threads }};
            drop table {{ model_rows }}
        {%- endcall %}
    {%- else -%}
        {% call statement('main') -%}
            copy (
                select * from (
                    {{ sql }}
                ) as model_rows
                order by {{ order_by }}
            ) to '{{ location }}' ({{ options }})
        {%- endcall %}
    {%- endif -%}

    {%- set read_location = olist_read_location(this, config) -%}
    {#- hive partition columns come back last: keep the model's column order -#}
    {%- if partition_by -%}
        {%- set column_list = adapter.get_column_schema_from_query(sql) | map(attribute='name') | map('tojson') | join(', ') -%}
    {%- else -%}
        {%- set column_list = '*' -%}
    {%- endif -%}
    {% call statement('create_view') -%}
        create schema if not exists {{ this.without_identifier() }};
        {% if existing_relation is not none and existing_relation.type != 'view' -%}
            drop table if exists {{ this }};
        {%- endif %}
        create or replace view {{ target_relation }} as (
            select {{ column_list }}
            from read_parquet('{{ read_location }}'{% if partition_by %}, hive_partitioning = true{% endif %})
        );
    {%- endcall %}

    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {% do persist_docs(target_relation, model) %}
    {{ adapter.commit() }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}

{#- mkdir -p for a local path with SQL only: DuckDB creates the last directory level of a
    partitioned COPY, and an empty partitioned COPY writes no file. -#}
{% macro olist_make_local_dirs(path) -%}
    {%- set parts = path.split('/') -%}
    {%- for i in range(2, parts | length + 1) -%}
        {%- set prefix = parts[:i] | join('/') -%}
        {%- if prefix not in ('', '/') -%}
            {%- call statement('olist_mkdir') -%}
                copy (select 1 as olist_dir, 1 as olist_part where false)
                to '{{ prefix }}' (format parquet, partition_by (olist_part), overwrite_or_ignore true)
            {%- endcall -%}
        {%- endif -%}
    {%- endfor -%}
{%- endmacro %}
