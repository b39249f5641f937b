-- Unread links by domain (the same SQL runs in PostgreSQL).
SELECT regexp_replace(given_url, '^[a-z]+://(www\.)?([^/:?#]+).*$', '\2') AS domain,
       count(*) AS unread
FROM items
WHERE status = 'unread'
GROUP BY domain
ORDER BY unread DESC, domain;
