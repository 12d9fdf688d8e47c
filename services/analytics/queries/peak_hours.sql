WITH hours AS (
    SELECT site_id, dow, hour, 1 AS sessions, 0 AS plugged_in_s
    FROM sessions
    WHERE dt BETWEEN :from_date AND :to_date AND (:site_id IS NULL OR site_id = :site_id)
    UNION ALL
    SELECT site_id, dow, hour, 0 AS sessions, duration_s AS plugged_in_s
    FROM connector_status
    WHERE dt BETWEEN :from_date AND :to_date AND (:site_id IS NULL OR site_id = :site_id) AND evse_id > 0
      AND plugged_in AND in_service
)
SELECT site_id, dow, hour, sum(sessions) AS sessions, sum(plugged_in_s) AS plugged_in_s
FROM hours
GROUP BY site_id, dow, hour
ORDER BY 1, 2, 3
