-- Conflicts between procedures (issue 13): the rule CONFLICTS_WITH_PROCEDURE, and the
-- notification that keeps every server's index of procedures current.
--
-- The rule is data like the others (0006): a national default that a municipality may override
-- with its own version. Its params say, per procedure type, which types conflict with it:
--   {"conflicts": {"<type of the proposal>": ["<type that conflicts>", ...], ...}}
-- A type without an entry conflicts with nothing; the rule applies to the types in
-- `procedures` and is NOT_APPLICABLE to the others. A conflict is another procedure that counts
-- (active in its workflow, or granted with works not yet over) of a conflicting type, whose area
-- overlaps the proposal's by more than a sliver (RESTRICTION_OVERLAP's tolerances) and whose
-- works period shares a day with the proposal's. A warning: conflicts are coordinated, not
-- forbidden.

ALTER TABLE validation_rule DROP CONSTRAINT validation_rule_code_check,
    ADD CONSTRAINT validation_rule_code_check CHECK (code IN ('GEOMETRY_VALID', 'WITHIN_PARCEL',
        'SETBACK', 'ZONE_USE', 'COVERAGE', 'RESTRICTION_OVERLAP', 'DP_REQUIRED',
        'CONFLICTS_WITH_PROCEDURE'));

-- validation_rule is under row-level security (0008): the seed is written as a national system
-- caller, for this transaction only.
SELECT set_config('kovgis.subject', 'system:migration-0014', true),
       set_config('kovgis.reach', 'all', true);
INSERT INTO validation_rule (code, version, severity, procedures, params, valid_from, author, description) VALUES
    ('CONFLICTS_WITH_PROCEDURE', 1, 'warning', '{excavation_permit,felling_permit}',
     '{"conflicts": {"excavation_permit": ["excavation_permit", "felling_permit"],
                     "felling_permit": ["excavation_permit", "felling_permit"]}}',
     '2000-01-01', 'system:migration-0014',
     'Another excavation or felling permit in progress (or granted, its works not yet over) on the same ground in the same days needs coordination. Slivers are not hits; across a municipal border only the other procedure''s type, works period and municipality are shown.');
SELECT set_config('kovgis.subject', '', true), set_config('kovgis.reach', '', true);

-- A procedure that may have started or stopped counting, or moved in space or time: created,
-- or its state, area, works days or type changed. Servers LISTEN and reload that procedure;
-- NOTIFY is delivered at commit, so they read what was committed.
CREATE FUNCTION procedure_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('kovgis_procedure', NEW.municipality_code::text || '|' || NEW.id::text);
    RETURN NULL;
END $$;
CREATE TRIGGER procedure_notify_insert AFTER INSERT ON procedure
    FOR EACH ROW EXECUTE FUNCTION procedure_changed();
CREATE TRIGGER procedure_notify_update AFTER UPDATE ON procedure
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state
                       OR ST_AsEWKB(OLD.geom) IS DISTINCT FROM ST_AsEWKB(NEW.geom)
                       OR OLD.works_first_day IS DISTINCT FROM NEW.works_first_day
                       OR OLD.works_last_day IS DISTINCT FROM NEW.works_last_day
                       OR OLD.procedure_type IS DISTINCT FROM NEW.procedure_type)
    EXECUTE FUNCTION procedure_changed();

DO $$
BEGIN
    IF current_user <> 'kovgis_owner' THEN
        ALTER FUNCTION procedure_changed() OWNER TO kovgis_owner;
    END IF;
END $$;
