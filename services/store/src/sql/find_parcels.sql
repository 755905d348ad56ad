-- $1 geometry WKB (EPSG:3301), $2 municipality code or NULL, $3 continue after this code or NULL,
-- $4 limit, $5 with_geometry. Current parcels only; keyset paging on the cadastral code.
SELECT cadastral_code, municipality_code::text AS municipality_code, address,
       use1_code, use1_pct, use2_code, use2_pct, use3_code, use3_pct,
       registered_area_m2, ST_Area(geom) AS area_m2,
       CASE WHEN $5 THEN ST_AsBinary(geom) END AS wkb,
       valid_from, valid_to, dataset_version_id
FROM parcel
WHERE valid_to IS NULL
  AND ST_Intersects(geom, ST_GeomFromWKB($1, 3301))
  -- The bounding-box test spelled out: under row-level security only a leakproof condition may
  -- use the GiST index, and && is the one PostGIS operator kovgis marks leakproof (README).
  AND geom && ST_GeomFromWKB($1, 3301)
  AND ($2::text IS NULL OR municipality_code = $2::text)
  AND ($3::text IS NULL OR cadastral_code > $3::text)
ORDER BY cadastral_code
LIMIT $4
