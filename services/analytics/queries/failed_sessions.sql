WITH per_charger AS (
    SELECT site_id, charge_point_id, count(*) AS sessions, sum(CASE WHEN failed THEN 1 ELSE 0 END) AS failed
    FROM sessions
    WHERE dt BETWEEN :from_date AND :to_date AND (:site_id IS NULL OR site_id = :site_id)
    GROUP BY site_id, charge_point_id
)
SELECT site_id, charge_point_id, sessions, failed, round(CAST(failed AS DOUBLE) / sessions, 4) AS failed_ratio
FROM per_charger
ORDER BY site_id, charge_point_id
