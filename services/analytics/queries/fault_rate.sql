WITH snapshots AS (
    SELECT charge_point_id, dt, vendor, model, firmware_version,
           row_number() OVER (PARTITION BY charge_point_id, dt ORDER BY snapshot_at DESC) AS newest_of_day,
           row_number() OVER (PARTITION BY charge_point_id ORDER BY snapshot_at DESC) AS newest
    FROM chargers
    WHERE dt BETWEEN :from_date AND :to_date
),
incident_states AS (
    SELECT charge_point_id, site_id, dt, vendor, model, firmware_version,
           row_number() OVER (PARTITION BY incident_id ORDER BY updated_at DESC) AS newest
    FROM incidents
    WHERE dt BETWEEN :from_date AND :to_date
),
counted AS (
    SELECT charge_point_id, dt, vendor, model, firmware_version, 1 AS incidents, 0 AS in_service_s
    FROM incident_states
    WHERE newest = 1 AND (:site_id IS NULL OR site_id = :site_id)
    UNION ALL
    SELECT charge_point_id, dt, CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), 0, duration_s
    FROM connector_status
    WHERE dt BETWEEN :from_date AND :to_date AND (:site_id IS NULL OR site_id = :site_id) AND evse_id > 0 AND in_service
),
attributed AS (
    SELECT CASE WHEN n.charge_point_id IS NULL THEN c.vendor WHEN d.charge_point_id IS NULL THEN n.vendor
                ELSE d.vendor END AS vendor,
           CASE WHEN n.charge_point_id IS NULL THEN c.model WHEN d.charge_point_id IS NULL THEN n.model
                ELSE d.model END AS model,
           CASE WHEN n.charge_point_id IS NULL THEN c.firmware_version WHEN d.charge_point_id IS NULL
                THEN n.firmware_version ELSE d.firmware_version END AS firmware_version,
           c.incidents, c.in_service_s
    FROM counted c
    LEFT JOIN snapshots d ON d.charge_point_id = c.charge_point_id AND d.dt = c.dt AND d.newest_of_day = 1
    LEFT JOIN snapshots n ON n.charge_point_id = c.charge_point_id AND n.newest = 1
),
per_model AS (
    SELECT vendor, model, firmware_version, sum(incidents) AS incidents, sum(in_service_s) AS in_service_s
    FROM attributed
    GROUP BY vendor, model, firmware_version
)
SELECT vendor, model, firmware_version, incidents, round(CAST(in_service_s AS DOUBLE) / 3600, 3) AS port_hours,
       round(CAST(incidents AS DOUBLE) * 3600000 / nullif(in_service_s, 0), 3) AS incidents_per_1000_port_hours
FROM per_model
ORDER BY 1, 2, 3
