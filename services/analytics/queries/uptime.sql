WITH per_port AS (
    SELECT site_id, charge_point_id, evse_id, connector_id,
           sum(CASE WHEN in_service THEN duration_s ELSE 0 END) AS in_service_s, sum(duration_s) AS total_s
    FROM connector_status
    WHERE dt BETWEEN :from_date AND :to_date AND (:site_id IS NULL OR site_id = :site_id) AND evse_id > 0
    GROUP BY site_id, charge_point_id, evse_id, connector_id
)
SELECT site_id, charge_point_id, evse_id, connector_id, in_service_s, total_s,
       round(CAST(in_service_s AS DOUBLE) / nullif(total_s, 0), 4) AS uptime
FROM per_port
ORDER BY site_id, charge_point_id, evse_id, connector_id
