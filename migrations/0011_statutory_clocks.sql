-- Statutory clock rules as data (issue 12): per procedure type and municipality, which period
-- each clock of a procedure has — N calendar or working days — whether silence at its end counts
-- as agreement, and the law it comes from. kovgis-core's statutory_clock computes the deadlines
-- (from the day after the event; a last day off moves to the next working day; Europe/Tallinn);
-- the Estonian public holidays it counts with are in kovgis-core's calendar, not in a table
-- (national law, the same for all municipalities, changed by act with months of notice: a
-- reviewed release, not a row edited at run time; see calendar.rs).
--
-- Versions, as for validation_rule: municipality_code NULL is the national default, valid for
-- all; a municipality's own version overrides it on the days its validity covers
-- (valid_from <= day < valid_to, valid_to NULL = open). On a day the rule of a clock is the
-- municipality's version valid that day with the latest valid_from (then the highest version),
-- else the national one chosen the same way (kovgis-core statutory_clock::rule_in_force). A
-- new version is a new row, never an edit: the service has no UPDATE or DELETE, so a deadline
-- computed under "building_permit/decision v1" can always be explained.
--
-- Row-level security as for the other tenant tables (migration 0008): national rows readable by
-- every identified caller, a municipality's rows by that municipality or reach all; written
-- by the municipality's callers (national rows with reach all); fail closed without a caller.
--
-- No surrogate id: a version is named by its natural key (municipality, procedure type, clock,
-- version), which leads with municipality_code like every tenant key (the schema test checks
-- it); a procedure's event records these four values for the rule that applied.
CREATE TABLE statutory_clock_rule (
    municipality_code           char(4) REFERENCES municipality,
    procedure_type              text NOT NULL CHECK (procedure_type IN (
                                    'detailed_plan', 'design_criteria', 'design_criteria_open',
                                    'building_permit', 'excavation_permit', 'felling_permit')),
    -- decision, coordination_answer, public_display_min, public_display_notice, …
    clock                       text NOT NULL CHECK (clock ~ '^[a-z][a-z0-9_]{0,62}$'),
    version                     integer NOT NULL CHECK (version > 0),
    days                        integer NOT NULL CHECK (days BETWEEN 1 AND 3660),
    day_kind                    text NOT NULL CHECK (day_kind IN ('calendar', 'working')),
    -- For coordination answers: no answer by the deadline counts as agreement.
    silence_counts_as_agreement boolean NOT NULL DEFAULT false,
    legal_basis                 text NOT NULL CHECK (legal_basis <> ''),
    valid_from                  date NOT NULL,
    valid_to                    date CHECK (valid_to IS NULL OR valid_to > valid_from),
    author                      text NOT NULL DEFAULT coalesce(nullif(current_setting('kovgis.subject', true), ''),
                                                              'sql:' || session_user),
    created_at                  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT statutory_clock_rule_key
        UNIQUE NULLS NOT DISTINCT (municipality_code, procedure_type, clock, version)
);

-- National defaults (DESIGN.md, Procedures). Those the law does not fix nationally are marked
-- "Example default" in their legal basis: a municipality sets its own by its regulation.
INSERT INTO statutory_clock_rule (procedure_type, clock, version, days, day_kind,
                                  silence_counts_as_agreement, legal_basis, valid_from, author) VALUES
    ('detailed_plan', 'public_display_min', 1, 14, 'calendar', false,
     'Planeerimisseadus (Planning Act), § 135: the public display of a detailed plan lasts at least two weeks.',
     '2015-07-01', 'system:migration-0011'),
    ('detailed_plan', 'public_display_min_comprehensive_change', 1, 30, 'calendar', false,
     'Planeerimisseadus (Planning Act), § 135: at least 30 days when the detailed plan would change the comprehensive plan.',
     '2015-07-01', 'system:migration-0011'),
    ('detailed_plan', 'public_display_notice', 1, 14, 'calendar', false,
     'Planeerimisseadus (Planning Act), § 135: the display is announced at least two weeks before it starts.',
     '2015-07-01', 'system:migration-0011'),
    ('detailed_plan', 'coordination_answer', 1, 30, 'calendar', true,
     'Example default (check against the Planning Act, coordination of a detailed plan, § 133): 30 days; no answer counts as agreement.',
     '2015-07-01', 'system:migration-0011'),
    ('design_criteria', 'decision', 1, 30, 'calendar', false,
     'Ehitusseadustik (Building Code): design criteria are given or refused within 30 days.',
     '2015-07-01', 'system:migration-0011'),
    ('design_criteria', 'coordination_answer', 1, 10, 'calendar', true,
     'Example default (as for building permits under the Ehitusseadustik, Building Code): 10 days; no answer counts as agreement.',
     '2015-07-01', 'system:migration-0011'),
    ('design_criteria_open', 'decision', 1, 60, 'calendar', false,
     'Ehitusseadustik (Building Code): design criteria in the open procedure (Haldusmenetluse seadus, Administrative Procedure Act, §§ 46–49) within 60 days.',
     '2015-07-01', 'system:migration-0011'),
    ('design_criteria_open', 'coordination_answer', 1, 10, 'calendar', true,
     'Example default (as for building permits under the Ehitusseadustik, Building Code): 10 days; no answer counts as agreement.',
     '2015-07-01', 'system:migration-0011'),
    ('design_criteria_open', 'public_display_min', 1, 14, 'calendar', false,
     'Example default (check against the Haldusmenetluse seadus, Administrative Procedure Act, § 47, open procedure): a display of at least two weeks.',
     '2015-07-01', 'system:migration-0011'),
    ('design_criteria_open', 'public_display_notice', 1, 7, 'calendar', false,
     'Example default (check against the Haldusmenetluse seadus, Administrative Procedure Act, § 47, open procedure): the display announced at least a week before it starts.',
     '2015-07-01', 'system:migration-0011'),
    ('building_permit', 'decision', 1, 30, 'calendar', false,
     'Ehitusseadustik (Building Code): a building permit is given or refused within 30 days (the procedure runs in the building register EHR; kovgis keeps the spatial review).',
     '2015-07-01', 'system:migration-0011'),
    ('building_permit', 'coordination_answer', 1, 10, 'calendar', true,
     'Ehitusseadustik (Building Code): a coordinating authority answers within 10 days; no answer counts as agreement.',
     '2015-07-01', 'system:migration-0011'),
    ('excavation_permit', 'decision', 1, 10, 'working', false,
     'Example default: set by each municipality''s own excavation regulation (kaevetööde eeskiri, under the Kohaliku omavalitsuse korralduse seadus, Local Government Organisation Act).',
     '2015-07-01', 'system:migration-0011'),
    ('excavation_permit', 'coordination_answer', 1, 5, 'working', true,
     'Example default: set by each municipality''s own excavation regulation; no answer counts as agreement.',
     '2015-07-01', 'system:migration-0011'),
    ('felling_permit', 'decision', 1, 10, 'working', false,
     'Example default: set by each municipality''s own tree-felling regulation (under the Looduskaitseseadus, Nature Conservation Act).',
     '2015-07-01', 'system:migration-0011'),
    ('felling_permit', 'coordination_answer', 1, 5, 'working', true,
     'Example default: set by each municipality''s own tree-felling regulation; no answer counts as agreement.',
     '2015-07-01', 'system:migration-0011');

CREATE INDEX statutory_clock_rule_lookup
    ON statutory_clock_rule (procedure_type, municipality_code, clock, valid_from);

ALTER TABLE statutory_clock_rule ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_read ON statutory_clock_rule FOR SELECT
    USING (kovgis_may_read(municipality_code::text));
-- Versions are inserted, never edited: no UPDATE or DELETE policy, and no such grant.
CREATE POLICY tenant_insert ON statutory_clock_rule FOR INSERT
    WITH CHECK (kovgis_may_write(municipality_code::text) AND author = kovgis_subject());

DO $$
BEGIN
    IF current_user <> 'kovgis_owner' THEN
        ALTER TABLE statutory_clock_rule OWNER TO kovgis_owner;
    END IF;
END $$;

GRANT SELECT, INSERT ON statutory_clock_rule TO kovgis_service;
