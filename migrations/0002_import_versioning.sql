-- Bulk import: per-row content hashes (to tell changed rows from unchanged ones without comparing
-- geometries), the mode and full counts of each dataset version, and the parcel key index the
-- merge joins on.

ALTER TABLE parcel ADD COLUMN row_hash bytea;
ALTER TABLE feature ADD COLUMN row_hash bytea;

ALTER TABLE dataset_version
    ADD COLUMN mode text NOT NULL DEFAULT 'replace' CHECK (mode IN ('replace', 'upsert')),
    ADD COLUMN rows_repaired integer NOT NULL DEFAULT 0,
    ADD COLUMN rows_unchanged integer NOT NULL DEFAULT 0,
    ADD COLUMN seconds double precision;

CREATE INDEX feature_layer_external_current ON feature (layer_id, external_id) WHERE valid_to IS NULL;
