{% macro olist_assert_required_vars() -%}
    {%- if execute and flags.WHICH in ('run', 'build', 'test', 'seed', 'retry') -%}
        {%- for name in ('lake_root', 'raw_batch_id') -%}
            {%- if (var(name, '') | string | trim) in ('', 'None') -%}
                {{ exceptions.raise_compiler_error("dbt var '" ~ name ~ "' is required: pass --vars '{lake_root: ..., raw_batch_id: ...}'") }}
            {%- endif -%}
        {%- endfor -%}
        {%- do olist_snapshot_date() -%}
    {%- endif -%}
    select 1
{%- endmacro %}

{#- Register what the selected nodes read but this invocation does not build, so that any
    selection works in a brand-new, empty DuckDB (one task per worker, no shared disk):
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
                {%- set upstream = graph['nodes'].get(upstream_id) -%}
                {%- if upstream is none -%}{%- continue -%}{%- endif -%}
                {%- set rel = api.Relation.create(database=upstream['database'], schema=upstream['schema'], identifier=upstream['alias']) -%}
                {%- if upstream.resource_type == 'model' and upstream.config.materialized in ('lake_parquet', 'external') -%}
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
