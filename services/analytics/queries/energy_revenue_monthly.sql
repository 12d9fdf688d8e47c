WITH versions AS (
    SELECT dt, site_id, currency, status, energy_wh, revenue_excl_vat, revenue_incl_vat,
           row_number() OVER (PARTITION BY invoice_id ORDER BY updated_at DESC) AS newest
    FROM invoices
    WHERE dt BETWEEN :from_date AND :to_date AND (:site_id IS NULL OR site_id = :site_id)
)
SELECT substr(dt, 1, 7) AS month, site_id, currency, count(*) AS sessions, sum(energy_wh) AS energy_wh,
       sum(revenue_excl_vat) AS revenue_excl_vat, sum(revenue_incl_vat) AS revenue_incl_vat
FROM versions
WHERE newest = 1 AND status <> 'void'
GROUP BY substr(dt, 1, 7), site_id, currency
ORDER BY 1, 2, 3
