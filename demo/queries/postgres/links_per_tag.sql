-- Links per tag (PostgreSQL: target-postgres stores tags as a text[] array).
SELECT tag, count(*) AS links
FROM items, unnest(tags) AS tag
WHERE _sdc_deleted_at IS NULL
GROUP BY tag
ORDER BY links DESC, tag;
