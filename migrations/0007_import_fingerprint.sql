-- An import's fingerprint: SHA-256 over the content hash and every setting that changes what the
-- import makes of it (target, layer metadata, mode, source CRS, attribute mapping, repair, the
-- version of the attribute checks). "Unchanged; nothing to do" compares fingerprints, not file
-- hashes: the same file with --repair or another mapping is another import.
-- NULL for versions written before this migration or by other writers: never "unchanged".

ALTER TABLE dataset_version
    ADD COLUMN fingerprint text CHECK (fingerprint ~ '^[0-9a-f]{64}$');
