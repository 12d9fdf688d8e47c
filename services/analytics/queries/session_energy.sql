WITH selected AS (
    SELECT energy_wh
    FROM sessions
    WHERE dt BETWEEN :from_date AND :to_date AND (:site_id IS NULL OR site_id = :site_id) AND energy_wh IS NOT NULL
),
buckets AS (
    SELECT *
    FROM (VALUES (0, 1000), (1000, 5000), (5000, 10000), (10000, 20000), (20000, 40000), (40000, 60000),
                 (60000, CAST(NULL AS INTEGER))) AS b (bucket_from_wh, bucket_to_wh)
)
SELECT b.bucket_from_wh, b.bucket_to_wh, count(s.energy_wh) AS sessions,
       round(CAST(count(s.energy_wh) AS DOUBLE) / nullif((SELECT count(*) FROM selected), 0), 4) AS share
FROM buckets b
LEFT JOIN selected s ON s.energy_wh >= b.bucket_from_wh AND (b.bucket_to_wh IS NULL OR s.energy_wh < b.bucket_to_wh)
GROUP BY b.bucket_from_wh, b.bucket_to_wh
ORDER BY 1
