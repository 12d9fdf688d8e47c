WITH faults AS (
    SELECT vendor, model, firmware_version, count(DISTINCT incident_id) AS incidents
    FROM incidents
    WHERE dt BETWEEN :from_date AND :to_date AND (:site_id IS NULL OR site_id = :site_id)
    GROUP BY vendor, model, firmware_version
),
snapshots AS (
    SELECT charge_point_id, dt, vendor, model, firmware_version,
           row_number() OVER (PARTITION BY charge_point_id, dt ORDER BY snapshot_at DESC) AS newest_of_day,
           row_number() OVER (PARTITION BY charge_point_id ORDER BY snapshot_at DESC) AS newest
    FROM chargers
    WHERE dt BETWEEN :from_date AND :to_date
),
in_service AS (
    SELECT CASE WHEN d.charge_point_id IS NULL THEN n.vendor ELSE d.vendor END AS vendor,
           CASE WHEN d.charge_point_id IS NULL THEN n.model ELSE d.model END AS model,
           CASE WHEN d.charge_point_id IS NULL THEN n.firmware_version ELSE d.firmware_version END AS firmware_version,
           s.duration_s
    FROM connector_status s
    LEFT JOIN snapshots d ON d.charge_point_id = s.charge_point_id AND d.dt = s.dt AND d.newest_of_day = 1
    LEFT JOIN snapshots n ON n.charge_point_id = s.charge_point_id AND n.newest = 1
    WHERE s.dt BETWEEN :from_date AND :to_date AND (:site_id IS NULL OR s.site_id = :site_id) AND s.evse_id > 0
      AND s.in_service
),
service AS (
    SELECT vendor, model, firmware_version, sum(duration_s) AS in_service_s
    FROM in_service
    GROUP BY vendor, model, firmware_version
)
SELECT coalesce(f.vendor, v.vendor) AS vendor, coalesce(f.model, v.model) AS model,
       coalesce(f.firmware_version, v.firmware_version) AS firmware_version,
       coalesce(f.incidents, 0) AS incidents,
       round(CAST(coalesce(v.in_service_s, 0) AS DOUBLE) / 3600, 3) AS port_hours,
       round(CAST(coalesce(f.incidents, 0) AS DOUBLE) * 3600000 / nullif(v.in_service_s, 0), 3)
           AS incidents_per_1000_port_hours
FROM faults f
FULL OUTER JOIN service v ON f.vendor IS NOT DISTINCT FROM v.vendor AND f.model IS NOT DISTINCT FROM v.model
    AND f.firmware_version IS NOT DISTINCT FROM v.firmware_version
ORDER BY 1, 2, 3
