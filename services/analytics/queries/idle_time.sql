WITH per_site AS (
    SELECT site_id, count(*) AS sessions, sum(duration_s) AS duration_s, sum(parking_s) AS parking_s
    FROM sessions
    WHERE dt BETWEEN :from_date AND :to_date AND (:site_id IS NULL OR site_id = :site_id)
    GROUP BY site_id
)
SELECT site_id, sessions, duration_s, parking_s,
       round(CAST(parking_s AS DOUBLE) / nullif(duration_s, 0), 4) AS parking_share
FROM per_site
ORDER BY site_id
