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
counted AS (
    SELECT vendor, model, firmware_version, incidents, 0 AS in_service_s
    FROM faults
    UNION ALL
    SELECT vendor, model, firmware_version, 0 AS incidents, duration_s AS in_service_s
    FROM in_service
),
per_model AS (
    SELECT vendor, model, firmware_version, sum(incidents) AS incidents, sum(in_service_s) AS in_service_s
    FROM counted
    GROUP BY vendor, model, firmware_version
)
SELECT vendor, model, firmware_version, incidents, round(CAST(in_service_s AS DOUBLE) / 3600, 3) AS port_hours,
       round(CAST(incidents AS DOUBLE) * 3600000 / nullif(in_service_s, 0), 3) AS incidents_per_1000_port_hours
FROM per_model
ORDER BY 1, 2, 3
