-- Procedure workflows as data (issue 12): each procedure type's state graph — its states and
-- the transitions between them with who may make each — national (municipality_code NULL) or a
-- municipality's own version, in force from valid_from until valid_to (exclusive). The store
-- loads, for a municipality, a type and a day, the municipality's version in force, else the
-- national one (the latest valid_from wins when versions overlap) and validates it
-- (kovgis_core::workflow::Workflow::validate) before use. A version is never edited in place:
-- the service may insert and read these tables, nothing else, and a version's states and
-- transitions can be added only in the transaction that created it (a trigger checks it), so a
-- procedure that names "felling_permit v2" can always be explained. docs/WORKFLOWS.md lists the
-- national graphs seeded below; tests check that it, kovgis_core::workflow::national and these
-- rows agree.
--
-- Row-level security as on the other tenant tables of 0008: national rows readable by every
-- identified caller, a municipality's rows by that municipality (every one with reach 'all');
-- written only for the caller's own municipality, national ones only with reach 'all'; an unset
-- subject sees and writes nothing. The states and transitions carry their version's
-- municipality_code (copied by the trigger, never taken from the writer) for these policies and
-- for sharding by municipality.

CREATE TABLE workflow_version (
    id                bigserial PRIMARY KEY,
    municipality_code char(4) REFERENCES municipality,
    procedure_type    text NOT NULL CHECK (procedure_type IN ('detailed_plan', 'design_criteria',
                          'design_criteria_open', 'building_permit', 'excavation_permit',
                          'felling_permit')),
    version           integer NOT NULL CHECK (version > 0),
    valid_from        date NOT NULL,
    valid_to          date CHECK (valid_to IS NULL OR valid_to > valid_from),
    description       text NOT NULL DEFAULT '',
    author            text NOT NULL DEFAULT coalesce(nullif(current_setting('kovgis.subject', true), ''),
                                                     'sql:' || session_user),
    created_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT workflow_version_key UNIQUE NULLS NOT DISTINCT (municipality_code, procedure_type, version)
);

CREATE TABLE workflow_state (
    workflow_id       bigint NOT NULL REFERENCES workflow_version,
    name              text NOT NULL CHECK (name ~ '^[a-z][a-z0-9]*(_[a-z0-9]+)*$'),
    -- The version's (set by the trigger).
    municipality_code char(4),
    -- Order in listings and documents.
    position          integer NOT NULL,
    -- The procedure has ended here: no transition may leave it.
    terminal          boolean NOT NULL,
    -- The statutory decision period: 'running', 'paused' (waiting for the applicant, continues
    -- on resumption) or 'off' (none runs).
    clock             text NOT NULL CHECK (clock IN ('off', 'running', 'paused')),
    -- The procedure is in progress here (its checks are re-run when the data changes).
    active            boolean NOT NULL,
    -- On public display here (ListPublicNotices).
    public_display    boolean NOT NULL,
    PRIMARY KEY (workflow_id, name),
    UNIQUE (workflow_id, position)
);

CREATE TABLE workflow_transition (
    workflow_id       bigint NOT NULL,
    from_state        text NOT NULL,
    -- kovgis_core::workflow::Action (submit, assign, …, initiate, adopt, …).
    action            text NOT NULL CHECK (action ~ '^[a-z][a-z0-9]*(_[a-z0-9]+)*$'),
    -- The same as from_state for actions that keep the state.
    to_state          text NOT NULL,
    municipality_code char(4),
    position          integer NOT NULL,
    -- Who may: role names (applicant, official, approver, gis_specialist, municipality_admin),
    -- scopes (authority:* — a trailing * is a prefix —, kovgis:procedures:<type>) or system.
    permits           text[] NOT NULL CHECK (cardinality(permits) > 0
                                             AND array_position(permits, NULL) IS NULL),
    PRIMARY KEY (workflow_id, from_state, action),
    UNIQUE (workflow_id, position),
    FOREIGN KEY (workflow_id, from_state) REFERENCES workflow_state (workflow_id, name),
    FOREIGN KEY (workflow_id, to_state) REFERENCES workflow_state (workflow_id, name)
);

-- A state or transition belongs to its version: it takes the version's municipality_code, and
-- only the transaction that created the version may add to it (compared by transaction id; a
-- savepoint's rows carry a subtransaction's id and are refused too). Runs as the writer, so the
-- version must be visible to them.
CREATE FUNCTION workflow_part_of_version() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v record;
BEGIN
    SELECT municipality_code, xmin INTO v FROM workflow_version WHERE id = NEW.workflow_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'workflow version % does not exist', NEW.workflow_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF v.xmin::text <> (pg_current_xact_id()::text::numeric % 4294967296)::text THEN
        RAISE EXCEPTION 'workflow version % is not edited in place: write a new version', NEW.workflow_id
            USING ERRCODE = 'check_violation';
    END IF;
    NEW.municipality_code := v.municipality_code;
    RETURN NEW;
END $$;
CREATE TRIGGER workflow_state_of_version BEFORE INSERT ON workflow_state
    FOR EACH ROW EXECUTE FUNCTION workflow_part_of_version();
CREATE TRIGGER workflow_transition_of_version BEFORE INSERT ON workflow_transition
    FOR EACH ROW EXECUTE FUNCTION workflow_part_of_version();

-- The national defaults (docs/WORKFLOWS.md; kovgis_core::workflow::national).
INSERT INTO workflow_version (procedure_type, version, valid_from, author, description) VALUES
    ('detailed_plan', 1, '2000-01-01', 'system:migration-0010',
     'Planning Act: initiation, preparation, coordination, adoption, public display, public discussion (skipped without objections), final adoption or refusal.'),
    ('design_criteria', 1, '2000-01-01', 'system:migration-0010',
     'Design criteria, normal procedure: review with coordination, decision.'),
    ('design_criteria_open', 1, '2000-01-01', 'system:migration-0010',
     'Design criteria, open procedure: review, public display, decision.'),
    ('building_permit', 1, '2000-01-01', 'system:migration-0010',
     'Spatial review of a building permit procedure of EHR: review with coordination, decision.'),
    ('excavation_permit', 1, '2000-01-01', 'system:migration-0010',
     'Excavation permit: review with coordination, decision.'),
    ('felling_permit', 1, '2000-01-01', 'system:migration-0010',
     'Tree-felling permit: review with coordination, decision.');

-- States: (position, name, terminal, clock, active, public_display).
INSERT INTO workflow_state (workflow_id, position, name, terminal, clock, active, public_display)
SELECT v.id, s.*
FROM workflow_version v CROSS JOIN (VALUES
    (1, 'draft', false, 'off', false, false),
    (2, 'under_review', false, 'running', true, false),
    (3, 'waiting_for_applicant', false, 'paused', true, false),
    (4, 'granted', true, 'off', false, false),
    (5, 'refused', true, 'off', false, false),
    (6, 'withdrawn', true, 'off', false, false)) s
WHERE v.municipality_code IS NULL
  AND v.procedure_type IN ('design_criteria', 'building_permit', 'excavation_permit', 'felling_permit');

INSERT INTO workflow_state (workflow_id, position, name, terminal, clock, active, public_display)
SELECT v.id, s.*
FROM workflow_version v CROSS JOIN (VALUES
    (1, 'draft', false, 'off', false, false),
    (2, 'under_review', false, 'running', true, false),
    (3, 'waiting_for_applicant', false, 'paused', true, false),
    (4, 'public_display', false, 'running', true, true),
    (5, 'after_public_display', false, 'running', true, false),
    (6, 'granted', true, 'off', false, false),
    (7, 'refused', true, 'off', false, false),
    (8, 'withdrawn', true, 'off', false, false)) s
WHERE v.municipality_code IS NULL AND v.procedure_type = 'design_criteria_open';

INSERT INTO workflow_state (workflow_id, position, name, terminal, clock, active, public_display)
SELECT v.id, s.*
FROM workflow_version v CROSS JOIN (VALUES
    (1, 'draft', false, 'off', false, false),
    (2, 'initiation', false, 'running', true, false),
    (3, 'waiting_for_applicant', false, 'paused', true, false),
    (4, 'preparation', false, 'off', true, false),
    (5, 'coordination', false, 'off', true, false),
    (6, 'adopted', false, 'running', true, false),
    (7, 'public_display', false, 'running', true, true),
    (8, 'after_public_display', false, 'running', true, false),
    (9, 'public_discussion', false, 'running', true, false),
    (10, 'awaiting_final_adoption', false, 'running', true, false),
    (11, 'in_force', true, 'off', false, false),
    (12, 'refused', true, 'off', false, false),
    (13, 'withdrawn', true, 'off', false, false)) s
WHERE v.municipality_code IS NULL AND v.procedure_type = 'detailed_plan';

-- Transitions: each row an action from every state of its list to to_state (NULL: the same
-- state), by any of its permits; kovgis:procedures:<type> becomes the type's own scope.
WITH seed (shape, position, action, froms, to_state, permits) AS (VALUES
    ('review', 1, 'submit', '{draft}'::text[], 'under_review',
     '{applicant,official,kovgis:procedures:<type>}'::text[]),
    ('review', 2, 'assign', '{under_review,waiting_for_applicant}', NULL, '{official,approver}'),
    ('review', 3, 'request_coordination', '{under_review,waiting_for_applicant}', NULL, '{official}'),
    ('review', 4, 'record_coordination_response', '{under_review,waiting_for_applicant}', NULL,
     '{official,authority:*,system}'),
    ('review', 5, 'pause_clock', '{under_review}', 'waiting_for_applicant', '{official}'),
    ('review', 6, 'resume_clock', '{waiting_for_applicant}', 'under_review', '{official}'),
    ('review', 7, 'decide_grant', '{under_review}', 'granted', '{approver}'),
    ('review', 8, 'decide_refuse', '{under_review,waiting_for_applicant}', 'refused', '{approver}'),
    ('review', 9, 'withdraw', '{draft,under_review,waiting_for_applicant}', 'withdrawn',
     '{applicant,official,kovgis:procedures:<type>}'),

    ('open', 1, 'submit', '{draft}', 'under_review', '{applicant,official,kovgis:procedures:<type>}'),
    ('open', 2, 'assign', '{under_review,waiting_for_applicant,public_display,after_public_display}',
     NULL, '{official,approver}'),
    ('open', 3, 'request_coordination', '{under_review,waiting_for_applicant,after_public_display}',
     NULL, '{official}'),
    ('open', 4, 'record_coordination_response',
     '{under_review,waiting_for_applicant,public_display,after_public_display}', NULL,
     '{official,authority:*,system}'),
    ('open', 5, 'pause_clock', '{under_review}', 'waiting_for_applicant', '{official}'),
    ('open', 6, 'resume_clock', '{waiting_for_applicant}', 'under_review', '{official}'),
    ('open', 7, 'start_public_display', '{under_review}', 'public_display', '{official}'),
    ('open', 8, 'record_public_opinion', '{public_display}', NULL, '{official}'),
    ('open', 9, 'end_public_display', '{public_display}', 'after_public_display', '{official,system}'),
    ('open', 10, 'decide_grant', '{after_public_display}', 'granted', '{approver}'),
    ('open', 11, 'decide_refuse', '{under_review,waiting_for_applicant,after_public_display}',
     'refused', '{approver}'),
    ('open', 12, 'withdraw',
     '{draft,under_review,waiting_for_applicant,public_display,after_public_display}', 'withdrawn',
     '{applicant,official,kovgis:procedures:<type>}'),

    ('plan', 1, 'submit', '{draft}', 'initiation', '{applicant,official,kovgis:procedures:<type>}'),
    ('plan', 2, 'assign', '{initiation,waiting_for_applicant,preparation,coordination,adopted,'
     'public_display,after_public_display,public_discussion,awaiting_final_adoption}', NULL,
     '{official,approver}'),
    ('plan', 3, 'pause_clock', '{initiation}', 'waiting_for_applicant', '{official}'),
    ('plan', 4, 'resume_clock', '{waiting_for_applicant}', 'initiation', '{official}'),
    ('plan', 5, 'initiate', '{initiation}', 'preparation', '{approver}'),
    ('plan', 6, 'request_coordination', '{preparation}', 'coordination', '{official}'),
    ('plan', 7, 'request_coordination', '{coordination}', NULL, '{official}'),
    ('plan', 8, 'record_coordination_response', '{coordination,adopted,public_display,'
     'after_public_display,public_discussion,awaiting_final_adoption}', NULL,
     '{official,authority:*,system}'),
    ('plan', 9, 'adopt', '{coordination}', 'adopted', '{approver}'),
    ('plan', 10, 'start_public_display', '{adopted}', 'public_display', '{official}'),
    ('plan', 11, 'record_public_opinion', '{public_display}', NULL, '{official}'),
    ('plan', 12, 'end_public_display', '{public_display}', 'after_public_display', '{official,system}'),
    ('plan', 13, 'start_public_discussion', '{after_public_display}', 'public_discussion', '{official}'),
    ('plan', 14, 'skip_public_discussion', '{after_public_display}', 'awaiting_final_adoption',
     '{official}'),
    ('plan', 15, 'end_public_discussion', '{public_discussion}', 'awaiting_final_adoption', '{official}'),
    ('plan', 16, 'decide_grant', '{awaiting_final_adoption}', 'in_force', '{approver}'),
    ('plan', 17, 'decide_refuse', '{initiation,waiting_for_applicant,preparation,coordination,'
     'adopted,awaiting_final_adoption}', 'refused', '{approver}'),
    ('plan', 18, 'withdraw', '{draft,initiation,waiting_for_applicant,preparation,coordination,'
     'adopted,public_display,after_public_display,public_discussion,awaiting_final_adoption}',
     'withdrawn', '{applicant,official,kovgis:procedures:<type>}'))
INSERT INTO workflow_transition (workflow_id, position, action, from_state, to_state, permits)
SELECT v.id, g.position * 100 + f.ord, g.action, f.from_state, coalesce(g.to_state, f.from_state),
       array_replace(g.permits, 'kovgis:procedures:<type>', 'kovgis:procedures:' || v.procedure_type)
FROM workflow_version v
JOIN seed g ON g.shape = CASE v.procedure_type WHEN 'detailed_plan' THEN 'plan'
                                               WHEN 'design_criteria_open' THEN 'open'
                                               ELSE 'review' END
CROSS JOIN LATERAL unnest(g.froms) WITH ORDINALITY f(from_state, ord)
WHERE v.municipality_code IS NULL;

-- Row-level security, as on the tenant tables of 0008. Inserts only: a version is never edited.
ALTER TABLE workflow_version ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_read ON workflow_version FOR SELECT USING (kovgis_may_read(municipality_code::text));
CREATE POLICY tenant_insert ON workflow_version FOR INSERT
    WITH CHECK (kovgis_may_write(municipality_code::text) AND author = kovgis_subject());
ALTER TABLE workflow_state ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_read ON workflow_state FOR SELECT USING (kovgis_may_read(municipality_code::text));
CREATE POLICY tenant_insert ON workflow_state FOR INSERT WITH CHECK (kovgis_may_write(municipality_code::text));
ALTER TABLE workflow_transition ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_read ON workflow_transition FOR SELECT USING (kovgis_may_read(municipality_code::text));
CREATE POLICY tenant_insert ON workflow_transition FOR INSERT WITH CHECK (kovgis_may_write(municipality_code::text));

-- Hand the new objects to the owner when another role (a superuser) migrates.
DO $$
BEGIN
    IF current_user <> 'kovgis_owner' THEN
        ALTER TABLE workflow_version OWNER TO kovgis_owner;
        ALTER TABLE workflow_state OWNER TO kovgis_owner;
        ALTER TABLE workflow_transition OWNER TO kovgis_owner;
        ALTER FUNCTION workflow_part_of_version() OWNER TO kovgis_owner;
    END IF;
END $$;

GRANT SELECT, INSERT ON workflow_version, workflow_state, workflow_transition TO kovgis_service;
GRANT USAGE ON SEQUENCE workflow_version_id_seq TO kovgis_service;
