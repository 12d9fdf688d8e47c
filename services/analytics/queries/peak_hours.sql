WITH started AS (
    SELECT site_id, dow, hour, count(*) AS sessions
    FROM sessions
    WHERE dt BETWEEN :from_date AND :to_date AND (:site_id IS NULL OR site_id = :site_id)
    GROUP BY site_id, dow, hour
),
plugged AS (
    SELECT site_id, dow, hour, sum(duration_s) AS plugged_in_s
    FROM connector_status
    WHERE dt BETWEEN :from_date AND :to_date AND (:site_id IS NULL OR site_id = :site_id) AND evse_id > 0
      AND plugged_in AND in_service
    GROUP BY site_id, dow, hour
)
SELECT coalesce(s.site_id, p.site_id) AS site_id, coalesce(s.dow, p.dow) AS dow, coalesce(s.hour, p.hour) AS hour,
       coalesce(s.sessions, 0) AS sessions, coalesce(p.plugged_in_s, 0) AS plugged_in_s
FROM started s
FULL OUTER JOIN plugged p ON s.site_id IS NOT DISTINCT FROM p.site_id AND s.dow = p.dow AND s.hour = p.hour
ORDER BY 1, 2, 3
