{#- Sums and means of DOUBLE that do not depend on the order rows arrive in.
    Float addition is not associative and DuckDB adds a DOUBLE sum in whatever order its
    parallel aggregation (or a window's segment tree) meets the rows, so two builds of the
    same input wrote 548.43 and 548.4300000000001. Here each value is rounded to `scale`
    decimals, summed exactly as DECIMAL(38, scale) (128-bit integers: associative) and the
    total is cast back to DOUBLE once: the correctly rounded sum of the rounded values, the
    same in every build. Money has 2 decimals, so a money sum is exact ("summed unrounded");
    scale 10 leaves 28 integer digits, far beyond any total here (an overflow, a NaN or an
    infinity fails the build, it is never written). `over` names a window (running sums). -#}
{% macro exact_sum(expression, scale=10, over=none) -%}
    cast(sum(cast({{ expression }} as decimal(38, {{ scale }}))){% if over %} over {{ over }}{% endif %} as double)
{%- endmacro %}

{#- Mean of a DOUBLE, independent of row order (see exact_sum): the DECIMAL sum is exact and
    DuckDB divides it by the count once, returning a DOUBLE. Scale 20 rounds a coordinate to
    1e-20 degree, finer than a DOUBLE resolves at tens of degrees (18 integer digits left). -#}
{% macro exact_avg(expression, scale=20) -%}
    avg(cast({{ expression }} as decimal(38, {{ scale }})))
{%- endmacro %}
