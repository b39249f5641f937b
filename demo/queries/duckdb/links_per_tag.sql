-- Links per tag (DuckDB: target-duckdb stores the tags array as JSON text).
SELECT tag, count(*) AS links
FROM (
    SELECT unnest(from_json(tags, '["VARCHAR"]')) AS tag
    FROM items
    WHERE _sdc_deleted_at IS NULL
)
GROUP BY tag
ORDER BY links DESC, tag;
