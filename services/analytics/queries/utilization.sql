WITH per_hour AS (
    SELECT site_id, charge_point_id, evse_id, connector_id, dow, hour,
           sum(CASE WHEN plugged_in AND in_service THEN duration_s ELSE 0 END) AS plugged_in_s,
           sum(CASE WHEN in_service THEN duration_s ELSE 0 END) AS in_service_s
    FROM connector_status
    WHERE dt BETWEEN :from_date AND :to_date AND (:site_id IS NULL OR site_id = :site_id) AND evse_id > 0
    GROUP BY site_id, charge_point_id, evse_id, connector_id, dow, hour
)
SELECT site_id, charge_point_id, evse_id, connector_id, dow, hour, plugged_in_s, in_service_s,
       round(CAST(plugged_in_s AS DOUBLE) / nullif(in_service_s, 0), 4) AS utilization
FROM per_hour
ORDER BY site_id, charge_point_id, evse_id, connector_id, dow, hour
