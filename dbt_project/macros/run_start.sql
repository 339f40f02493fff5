{% macro olist_assert_run_environment() -%}
    {%- if execute and flags.WHICH in ('run', 'build', 'test', 'seed', 'retry') -%}
        {%- for name in ('OLIST_RAW_TABLE_LOCATION', 'OLIST_RAW_BATCH_ID', 'OLIST_BUILD_ROOT') -%}
            {%- if olist_run_value(name) in ('', 'None') -%}
                {{ exceptions.raise_compiler_error("environment variable " ~ name ~ " is required (the lake and the raw batch to build from)") }}
            {%- endif -%}
        {%- endfor -%}
        {%- do olist_snapshot_date() -%}
    {%- endif -%}
    select 1
{%- endmacro %}

{#- DuckDB spills beyond memory_limit into a directory of this invocation's own, so that
    concurrent dbt processes never share temp files; DuckDB creates it under the existing
    OLIST_DUCKDB_SPILL_ROOT (or TMPDIR, or /tmp) and removes it at exit. Set here, not in the
    profile: a value that changes per invocation in the profile forces a full re-parse. -#}
{% macro olist_configure_spill() -%}
    {%- if execute -%}
        {%- set root = env_var('OLIST_DUCKDB_SPILL_ROOT', env_var('TMPDIR', '/tmp')) | trim -%}
        {%- call statement('olist_spill') -%}
            set temp_directory = '{{ root.rstrip('/') }}/olist-duckdb-spill-{{ invocation_id }}'
        {%- endcall -%}
    {%- endif -%}
    select 1
{%- endmacro %}

{#- Register what the selected nodes read but this invocation does not build, so that any
    selection works in a brand-new, empty DuckDB (one task per worker, no shared disk):
    - raw sources: a view over the run's raw batch (OLIST_RAW_BATCH_ID) in the lake;
    - upstream `lake_parquet` / `external` models: a view over their Parquet in the lake;
    - upstream seeds: a table loaded from the seed CSV shipped with the project.
    Selected unit tests count as readers of their model's parents, so
    `dbt test --select test_type:unit` works once the upstream layers are in the lake. -#}
{% macro olist_register_upstream() -%}
    {%- if execute and flags.WHICH in ('run', 'build', 'test', 'retry') -%}
        {%- set seen = {} -%}
        {%- set schemas = {} -%}
        {#- a selected unit test reads the parents of the model it tests -#}
        {%- set consumers = [] -%}
        {%- for node_id in selected_resources -%}
            {%- if node_id.startswith('unit_test.') -%}
                {%- do consumers.append('model.' ~ node_id.split('.')[1] ~ '.' ~ node_id.split('.')[2]) -%}
            {%- else -%}
                {%- do consumers.append(node_id) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- for node_id in consumers -%}
            {%- set node = graph['nodes'].get(node_id) -%}
            {%- if node is none -%}{%- continue -%}{%- endif -%}
            {%- for upstream_id in node['depends_on']['nodes'] -%}
                {%- if upstream_id in seen or upstream_id in selected_resources -%}{%- continue -%}{%- endif -%}
                {%- do seen.update({upstream_id: true}) -%}
                {%- set upstream = graph['nodes'].get(upstream_id) or graph['sources'].get(upstream_id) -%}
                {%- if upstream is none -%}{%- continue -%}{%- endif -%}
                {%- set rel = api.Relation.create(database=upstream['database'], schema=upstream['schema'], identifier=upstream.get('alias') or upstream['identifier']) -%}
                {%- if upstream.resource_type == 'source' -%}
                    {%- set sql -%}
                        create or replace view {{ rel }} as (
                            select * from read_parquet('{{ olist_raw_location(upstream['name']) }}')
                        )
                    {%- endset -%}
                {%- elif upstream.resource_type == 'model' and upstream.config.materialized in ('lake_parquet', 'external') -%}
                    {#- hive partition columns read back last: a contracted model keeps its order -#}
                    {%- set column_list = '*' -%}
                    {%- if upstream.config.get('partition_by') and upstream.config.get('contract', {}).get('enforced') -%}
                        {%- set column_list = upstream.columns.keys() | map('tojson') | join(', ') -%}
                    {%- endif -%}
                    {%- set sql -%}
                        create or replace view {{ rel }} as (
                            select {{ column_list }} from read_parquet('{{ olist_read_location(rel, upstream.config) }}'{% if upstream.config.get('partition_by') %}, hive_partitioning = true{% endif %})
                        )
                    {%- endset -%}
                {%- elif upstream.resource_type == 'seed' -%}
                    {%- set seed_path = upstream['root_path'] ~ '/' ~ upstream['original_file_path'] -%}
                    {%- set column_types = upstream.config.get('column_types', {}) -%}
                    {%- set sql -%}
                        create or replace table {{ rel }} as (
                            select * from read_csv('{{ seed_path }}', header = true, auto_detect = true
                                {%- if column_types %}, types = { {%- for c, t in column_types.items() %}'{{ c }}': '{{ t }}'{{ ', ' if not loop.last }}{% endfor -%} }{% endif %})
                        )
                    {%- endset -%}
                {%- else -%}
                    {%- continue -%}
                {%- endif -%}
                {%- if rel.schema not in schemas -%}
                    {%- call statement('olist_schema_' ~ rel.schema) -%}
                        create schema if not exists {{ rel.without_identifier() }}
                    {%- endcall -%}
                    {%- do schemas.update({rel.schema: true}) -%}
                {%- endif -%}
                {%- call statement('olist_register_' ~ rel.identifier) -%}{{ sql }}{%- endcall -%}
            {%- endfor -%}
        {%- endfor -%}
        {%- if schemas -%}{%- do adapter.commit() -%}{%- endif -%}
    {%- endif -%}
    select 1
{%- endmacro %}
