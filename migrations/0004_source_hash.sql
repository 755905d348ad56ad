-- A hash of each parcel's source record as read (raw geometry bytes and attribute values), next to
-- row_hash (the hash of what was stored). An update import compares it first and skips checking,
-- transforming and staging parcels whose source record is unchanged; row_hash still decides
-- whether a re-encoded record (another format, another ring order) is a change.
ALTER TABLE parcel ADD COLUMN source_hash bytea;
