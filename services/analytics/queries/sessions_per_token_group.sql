SELECT token_group, count(*) AS sessions, count(DISTINCT id_tag) AS id_tags, sum(energy_wh) AS energy_wh,
       sum(duration_s) AS duration_s
FROM sessions
WHERE dt BETWEEN :from_date AND :to_date AND (:site_id IS NULL OR site_id = :site_id)
GROUP BY token_group
ORDER BY sessions DESC, token_group
