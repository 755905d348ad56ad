-- $1 layer id, $2 geometry WKB (EPSG:3301) or NULL for all, $3 limit, $4 with_geometry,
-- $5 continue after this feature id (keyset paging) or NULL
SELECT id, layer_id, external_id, attributes,
       CASE WHEN $4 THEN ST_AsBinary(geom) END AS wkb,
       valid_from, valid_to
FROM feature
WHERE layer_id = $1
  AND valid_to IS NULL
  -- The bounding-box test spelled out: under row-level security only a leakproof condition may
  -- use the GiST index (ST_Intersects's own index support does not count), and && is the one
  -- PostGIS operator kovgis marks leakproof (README). Without it the layer is scanned.
  AND ($2::bytea IS NULL OR geom && ST_GeomFromWKB($2, 3301))
  AND ($2::bytea IS NULL OR ST_Intersects(geom, ST_GeomFromWKB($2, 3301)))
  AND ($5::bigint IS NULL OR id > $5::bigint)
ORDER BY id
LIMIT $3
