-- $1 geometry as WKB, EPSG:3301. The municipality holding the largest share of it: by count for
-- points, by length for lines, by area for polygons. Ties go to the lower EHAK code.
WITH q AS (SELECT ST_GeomFromWKB($1, 3301) AS g)
SELECT m.municipality_code::text AS municipality_code,
       m.name,
       m.population,
       ST_Area(m.boundary) AS area_m2,
       NULL::bytea AS wkb,
       CASE ST_Dimension(q.g)
           WHEN 0 THEN ST_NumGeometries(ST_Intersection(m.boundary, q.g))::float8
                       / ST_NumGeometries(q.g)
           WHEN 1 THEN ST_Length(ST_Intersection(m.boundary, q.g)) / NULLIF(ST_Length(q.g), 0)
           ELSE ST_Area(ST_Intersection(m.boundary, q.g)) / NULLIF(ST_Area(q.g), 0)
       END AS share
FROM municipality m, q
WHERE ST_Intersects(m.boundary, q.g)
ORDER BY share DESC NULLS LAST, m.municipality_code
LIMIT 1
