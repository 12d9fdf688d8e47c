WITH selected AS (
    SELECT CASE WHEN energy_wh < 1000 THEN 0 WHEN energy_wh < 5000 THEN 1000 WHEN energy_wh < 10000 THEN 5000
                WHEN energy_wh < 20000 THEN 10000 WHEN energy_wh < 40000 THEN 20000 WHEN energy_wh < 60000 THEN 40000
                ELSE 60000 END AS bucket_from_wh
    FROM sessions
    WHERE dt BETWEEN :from_date AND :to_date AND (:site_id IS NULL OR site_id = :site_id) AND energy_wh IS NOT NULL
),
buckets AS (
    SELECT *
    FROM (VALUES (0, 1000), (1000, 5000), (5000, 10000), (10000, 20000), (20000, 40000), (40000, 60000),
                 (60000, CAST(NULL AS INTEGER))) AS b (bucket_from_wh, bucket_to_wh)
)
SELECT b.bucket_from_wh, b.bucket_to_wh, count(s.bucket_from_wh) AS sessions,
       round(CAST(count(s.bucket_from_wh) AS DOUBLE) / nullif((SELECT count(*) FROM selected), 0), 4) AS share
FROM buckets b
LEFT JOIN selected s ON s.bucket_from_wh = b.bucket_from_wh
GROUP BY b.bucket_from_wh, b.bucket_to_wh
ORDER BY 1
