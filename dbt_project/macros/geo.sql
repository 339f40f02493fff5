{#- Zip prefix per FEATURES.md section 1: trimmed; 1 to 5 digits -> left-padded to 5; else NULL. -#}
{% macro clean_zip_prefix(column) -%}
    case
        when regexp_full_match(trim({{ column }}), '[0-9]{1,5}')
            then lpad(trim({{ column }}), 5, '0')
    end
{%- endmacro %}

{#- Trimmed text, empty -> NULL. -#}
{% macro clean_text(column) -%}
    nullif(trim({{ column }}), '')
{%- endmacro %}

{#- Great-circle distance in km (haversine, Earth radius 6371.0 km). -#}
{% macro haversine_km(lat1, lng1, lat2, lng2) -%}
    (2 * 6371.0 * asin(sqrt(
        power(sin(radians({{ lat2 }} - {{ lat1 }}) / 2), 2)
        + cos(radians({{ lat1 }})) * cos(radians({{ lat2 }}))
        * power(sin(radians({{ lng2 }} - {{ lng1 }}) / 2), 2)
    )))
{%- endmacro %}
