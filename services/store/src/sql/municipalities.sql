-- $1 with_boundary bool, $2 municipality code or NULL for all, $3 continue after this code or
-- NULL (keyset paging), $4 limit
SELECT municipality_code::text AS municipality_code,
       name,
       population,
       ST_Area(boundary) AS area_m2,
       CASE WHEN $1 THEN ST_AsBinary(boundary) END AS wkb
FROM municipality
WHERE ($2::text IS NULL OR municipality_code = $2::text)
  AND ($3::text IS NULL OR municipality_code > $3::text)
ORDER BY municipality_code
LIMIT $4
