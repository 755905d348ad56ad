-- Validation rules as data: one row per version of a rule, national (municipality_code NULL) or a
-- municipality's own, in force from valid_from until valid_to (exclusive). The engine takes, for a
-- municipality and a date, the municipality's version in force, else the national one. Laws
-- change (shore zone widths, fire-safety distances): a new version is a new row, never an edit, so
-- a report naming "SETBACK v1" can always be explained.
CREATE TABLE validation_rule (
    id                bigserial PRIMARY KEY,
    code              text NOT NULL CHECK (code IN ('GEOMETRY_VALID', 'WITHIN_PARCEL', 'SETBACK',
                          'ZONE_USE', 'COVERAGE', 'RESTRICTION_OVERLAP', 'DP_REQUIRED')),
    version           integer NOT NULL CHECK (version > 0),
    municipality_code char(4) REFERENCES municipality,
    -- severity of a failure
    severity          text NOT NULL CHECK (severity IN ('info', 'warning', 'blocking')),
    -- procedure types the rule applies to; empty: all
    procedures        text[] NOT NULL DEFAULT '{}',
    params            jsonb NOT NULL DEFAULT '{}',
    valid_from        date NOT NULL,
    valid_to          date CHECK (valid_to IS NULL OR valid_to > valid_from),
    description       text NOT NULL DEFAULT '',
    UNIQUE NULLS NOT DISTINCT (code, municipality_code, version)
);

-- National defaults.
INSERT INTO validation_rule (code, version, severity, procedures, params, valid_from, description) VALUES
    ('GEOMETRY_VALID', 1, 'blocking', '{}', '{}', '2000-01-01',
     'The proposal is a valid, non-empty polygon inside Estonia in a known CRS (checked on input).'),
    ('WITHIN_PARCEL', 1, 'blocking', '{building_permit,design_criteria}', '{}', '2000-01-01',
     'A building lies within its parcel(s); the area outside is reported.'),
    ('SETBACK', 1, 'warning', '{building_permit,design_criteria}', '{"min_m": 4}', '2000-01-01',
     'Distance from the parcel boundary; 4 m is the fire-safety default between buildings on neighbouring plots.'),
    ('ZONE_USE', 1, 'blocking', '{}', '{}', '2000-01-01',
     'The comprehensive-plan designation of the zone(s) under the proposal allows the intended use (the zone''s allowed_uses).'),
    ('COVERAGE', 1, 'blocking', '{building_permit,design_criteria}', '{}', '2000-01-01',
     'Existing buildings on the parcel plus the new footprint stay within the maximum coverage of the detailed plan in force, else of the zone.'),
    ('RESTRICTION_OVERLAP', 1, 'warning', '{}', '{"sliver_area_m2": 0.5, "sliver_width_m": 0.1}', '2000-01-01',
     'Overlaps with restriction zones need coordination with their authority. Touches and slivers (≤ 0.5 m², or thinner than 0.1 m on average) are not hits.'),
    ('DP_REQUIRED', 1, 'blocking', '{building_permit,design_criteria}', '{}', '2000-01-01',
     'Where the comprehensive plan requires a detailed plan, one in force must cover the proposal.');

-- A changed rule reaches the validation index like a new dataset version does: running servers
-- LISTEN on this channel and rebuild.
CREATE FUNCTION validation_rule_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('kovgis_dataset_version', '{"target": "validation_rule"}');
    RETURN NULL;
END $$;
CREATE TRIGGER validation_rule_notify
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON validation_rule
    FOR EACH STATEMENT EXECUTE FUNCTION validation_rule_changed();
