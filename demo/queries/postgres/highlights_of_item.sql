-- The highlights of one item, oldest first (the same SQL runs in DuckDB).
SELECT h.created_at, h.quote
FROM highlights AS h
JOIN items AS i USING (item_id)
WHERE i.given_url = 'https://paulgraham.com/greatwork.html'
ORDER BY h.created_at;
