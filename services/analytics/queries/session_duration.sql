WITH selected AS (
    SELECT CASE WHEN duration_s < 900 THEN 0 WHEN duration_s < 1800 THEN 900 WHEN duration_s < 3600 THEN 1800
                WHEN duration_s < 7200 THEN 3600 WHEN duration_s < 14400 THEN 7200 WHEN duration_s < 28800 THEN 14400
                ELSE 28800 END AS bucket_from_s
    FROM sessions
    WHERE dt BETWEEN :from_date AND :to_date AND (:site_id IS NULL OR site_id = :site_id) AND duration_s IS NOT NULL
),
buckets AS (
    SELECT *
    FROM (VALUES (0, 900), (900, 1800), (1800, 3600), (3600, 7200), (7200, 14400), (14400, 28800),
                 (28800, CAST(NULL AS INTEGER))) AS b (bucket_from_s, bucket_to_s)
)
SELECT b.bucket_from_s, b.bucket_to_s, count(s.bucket_from_s) AS sessions,
       round(CAST(count(s.bucket_from_s) AS DOUBLE) / nullif((SELECT count(*) FROM selected), 0), 4) AS share
FROM buckets b
LEFT JOIN selected s ON s.bucket_from_s = b.bucket_from_s
GROUP BY b.bucket_from_s, b.bucket_to_s
ORDER BY 1
