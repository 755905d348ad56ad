-- $1 cadastral code, $2 as-of time or NULL for the current version, $3 with_geometry
SELECT cadastral_code, municipality_code::text AS municipality_code, address,
       use1_code, use1_pct, use2_code, use2_pct, use3_code, use3_pct,
       registered_area_m2, ST_Area(geom) AS area_m2,
       CASE WHEN $3 THEN ST_AsBinary(geom) END AS wkb,
       valid_from, valid_to, dataset_version_id
FROM parcel
WHERE cadastral_code = $1
  AND CASE WHEN $2::timestamptz IS NULL THEN valid_to IS NULL
           ELSE valid_from <= $2 AND (valid_to IS NULL OR valid_to > $2) END
ORDER BY valid_from DESC
LIMIT 1
