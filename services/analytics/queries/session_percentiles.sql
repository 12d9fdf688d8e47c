SELECT site_id, count(*) AS sessions,
       approx_percentile(duration_s, 0.5) AS duration_p50_s, approx_percentile(duration_s, 0.9) AS duration_p90_s,
       approx_percentile(energy_wh, 0.5) AS energy_p50_wh, approx_percentile(energy_wh, 0.9) AS energy_p90_wh
FROM sessions
WHERE dt BETWEEN :from_date AND :to_date AND (:site_id IS NULL OR site_id = :site_id)
GROUP BY site_id
ORDER BY 1
