-- $1 municipality code (its layers and the national ones) or NULL, $2 kind or NULL, $3 layer id or NULL,
-- $4 layer name or NULL: then only the layer of that name owned by $1 (national when $1 is NULL),
-- $5 whether to count the current features (NULL when not): a count reads every feature row of
-- the layer, and under row-level security each row's policy too — measured at a third of
-- QueryFeatures' throughput when its layer lookup counted.
SELECT l.id, l.name, l.title, l.kind::text AS kind, l.municipality_code::text AS municipality_code,
       l.description, l.attribution, l.authority, l.current_version_id,
       CASE WHEN $5::boolean THEN
         (SELECT count(*) FROM feature f WHERE f.layer_id = l.id AND f.valid_to IS NULL)
       END AS feature_count
FROM layer l
WHERE ($1::text IS NULL OR l.municipality_code IS NULL OR l.municipality_code = $1::text)
  AND ($2::text IS NULL OR l.kind::text = $2::text)
  AND ($3::bigint IS NULL OR l.id = $3::bigint)
  AND ($4::text IS NULL OR (l.name = $4::text AND l.municipality_code IS NOT DISTINCT FROM $1::text))
ORDER BY l.municipality_code NULLS FIRST, l.kind, l.name
