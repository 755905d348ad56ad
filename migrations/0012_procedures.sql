-- Procedures (issue 12): the procedure, its history, its coordination requests, and the outbox
-- of messages to the authorities.
--
-- Concurrency: every procedure has a version. Every change is one transaction that updates the
-- row only if its version is still the one the caller read (`WHERE version = $n`), inserts
-- the event numbered by the new version (the key (municipality_code, procedure_id, seq) makes a
-- second event of one version impossible), and inserts the outbox rows the change causes.
-- Events are never updated or deleted (no grant and no policy for it).
--
-- Who sees a procedure (row-level security, on top of the caller settings of migration 0008;
-- `kovgis.reach` has two more values here):
--   'all'        every procedure (national scopes, the service's own background work);
--   'own'        the procedures of the caller's municipality (officials, approvers, …);
--   'applicant'  in the caller's municipality, those the caller created as applicant or whose
--                applicant's id code is the caller's personal code (kovgis.person_code);
--   'authority'  those whose coordination was asked of the caller's authority
--                (kovgis.authority), in every municipality.
-- Workflows and clock rules are public configuration the service reads as itself.
-- The other tables follow their procedure: a row is visible when its procedure is.

CREATE FUNCTION kovgis_reach() RETURNS text STABLE LANGUAGE sql AS
    $$ SELECT CASE WHEN kovgis_subject() IS NOT NULL THEN current_setting('kovgis.reach', true) END $$;
CREATE FUNCTION kovgis_authority() RETURNS text STABLE LANGUAGE sql AS
    $$ SELECT CASE WHEN kovgis_subject() IS NOT NULL
                   THEN nullif(current_setting('kovgis.authority', true), '') END $$;
CREATE FUNCTION kovgis_person_code() RETURNS text STABLE LANGUAGE sql AS
    $$ SELECT CASE WHEN kovgis_subject() IS NOT NULL
                   THEN nullif(current_setting('kovgis.person_code', true), '') END $$;

-- Applicants and authorities reach procedures only: the municipality's other tenant rows (its
-- layers, rules, outbox, audit chain) stay the officials' ('own') and the national callers'
-- ('all'). Before this migration every caller with a municipality read them.
CREATE OR REPLACE FUNCTION kovgis_may_read(m text) RETURNS boolean STABLE LANGUAGE sql AS
    $$ SELECT kovgis_subject() IS NOT NULL
              AND (m IS NULL OR kovgis_reach_all()
                   OR (m = kovgis_municipality() AND current_setting('kovgis.reach', true) = 'own')) $$;
CREATE OR REPLACE FUNCTION kovgis_may_write(m text) RETURNS boolean STABLE LANGUAGE sql AS
    $$ SELECT kovgis_reach_all()
              OR (m IS NOT NULL AND m = kovgis_municipality()
                  AND current_setting('kovgis.reach', true) = 'own') $$;
DROP POLICY audit_read ON audit_event;
CREATE POLICY audit_read ON audit_event FOR SELECT USING (
    kovgis_reach_all()
    OR (municipality_code::text = kovgis_municipality() AND current_setting('kovgis.reach', true) = 'own')
    OR (person_code IS NOT NULL AND kovgis_subject() IS NOT NULL
        AND person_code = nullif(current_setting('kovgis.person_code', true), '')));

-- Whether the caller reaches a procedure of municipality m created by `creator` for the
-- applicant with id code `applicant_code`, addressed to `authorities`.
CREATE FUNCTION kovgis_may_reach_procedure(m text, creator text, applicant_code text,
                                           authorities text[])
RETURNS boolean STABLE LANGUAGE sql AS $$
    SELECT coalesce(CASE kovgis_reach()
        WHEN 'all' THEN true
        WHEN 'own' THEN m = kovgis_municipality()
        WHEN 'applicant' THEN m = kovgis_municipality()
            AND (creator = kovgis_subject() OR applicant_code = kovgis_person_code())
        WHEN 'authority' THEN kovgis_authority() = ANY (authorities)
        ELSE false END, false) $$;

CREATE TABLE procedure (
    municipality_code   char(4) NOT NULL REFERENCES municipality,
    id                  uuid NOT NULL DEFAULT gen_random_uuid(),
    procedure_type      text NOT NULL CHECK (procedure_type IN ('detailed_plan', 'design_criteria',
                            'design_criteria_open', 'building_permit', 'excavation_permit',
                            'felling_permit')),
    -- The workflow version it follows (chosen at creation) and its state there.
    workflow_id         bigint NOT NULL REFERENCES workflow_version,
    state               text NOT NULL,
    version             bigint NOT NULL DEFAULT 1 CHECK (version >= 1),
    -- Who created it, and the idempotency key of that request with the hash of its contents.
    created_by          text NOT NULL,
    idempotency_key     text,
    request_hash        text NOT NULL,
    -- The applicant (personal data: reads are audited).
    applicant_name      text NOT NULL,
    applicant_code      text NOT NULL,
    applicant_email     text NOT NULL DEFAULT '',
    applicant_phone     text NOT NULL DEFAULT '',
    description         text NOT NULL,
    geom                geometry(MultiPolygon, 3301) NOT NULL,
    parcel_codes        text[] NOT NULL DEFAULT '{}',
    intended_use        text NOT NULL,
    works_first_day     date,
    works_last_day      date,
    -- Type-specific fields and the attachments (references only), as the API's JSON.
    details             jsonb NOT NULL DEFAULT '{}',
    attachments         jsonb NOT NULL DEFAULT '[]',
    assigned_official   text,
    -- The submission's spatial check: the report (the API's ValidationReport, protobuf bytes),
    -- its id and verdict, and an approver's reason to submit despite blocking findings.
    report              bytea,
    report_id           text,
    verdict             text,
    blocking_override   text,
    -- Findings marked not applicable: [{finding_key, reason, by, at}].
    overrides           jsonb NOT NULL DEFAULT '[]',
    -- Opinions received during the public display: [{number, received_on, objection, summary}].
    opinions            jsonb NOT NULL DEFAULT '[]',
    display_first_day   date,
    display_last_day    date,
    -- The authorities asked to coordinate (row-level security reads it).
    authorities         text[] NOT NULL DEFAULT '{}',
    -- The decision clock: the rule's period, when it started, its pauses, and the last day it
    -- gives (NULL while paused or not running).
    clock_rule          jsonb,
    clock_started_at    timestamptz,
    clock_pauses        jsonb NOT NULL DEFAULT '[]',
    deadline            date,
    decision            jsonb,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    submitted_at        timestamptz,
    PRIMARY KEY (municipality_code, id),
    UNIQUE (municipality_code, created_by, idempotency_key),
    CHECK (works_first_day IS NULL OR works_last_day >= works_first_day),
    CHECK (display_first_day IS NULL OR display_last_day >= display_first_day)
);
CREATE INDEX procedure_geom ON procedure USING gist (geom);
CREATE INDEX procedure_listing ON procedure (municipality_code, created_at DESC, id);
CREATE INDEX procedure_deadline ON procedure (municipality_code, deadline) WHERE deadline IS NOT NULL;
CREATE INDEX procedure_authorities ON procedure USING gin (authorities);
CREATE INDEX procedure_display ON procedure (display_first_day) WHERE display_first_day IS NOT NULL;

-- The history: one event per version (seq = the version the change produced).
CREATE TABLE procedure_event (
    municipality_code   char(4) NOT NULL,
    procedure_id        uuid NOT NULL,
    seq                 bigint NOT NULL,
    occurred_at         timestamptz NOT NULL DEFAULT now(),
    subject             text NOT NULL,
    action              text NOT NULL,
    state_before        text NOT NULL,
    state_after         text NOT NULL,
    -- {"field": {"before": …, "after": …}, …}
    changes             jsonb NOT NULL DEFAULT '{}',
    note                text NOT NULL DEFAULT '',
    PRIMARY KEY (municipality_code, procedure_id, seq),
    FOREIGN KEY (municipality_code, procedure_id) REFERENCES procedure
);

CREATE TABLE coordination_request (
    municipality_code   char(4) NOT NULL,
    procedure_id        uuid NOT NULL,
    number              int NOT NULL CHECK (number >= 1),
    authority           text NOT NULL,
    finding_keys        text[] NOT NULL DEFAULT '{}',
    note                text NOT NULL DEFAULT '',
    requested_at        timestamptz NOT NULL,
    answer_due          date NOT NULL,
    -- The answer-window rule: {"rule_id", "days", "day_kind", "silence_counts_as_agreement", "legal_basis"}.
    rule                jsonb NOT NULL,
    status              text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'agreed',
                            'agreed_with_conditions', 'refused', 'deemed_agreed')),
    response_text       text NOT NULL DEFAULT '',
    conditions          text NOT NULL DEFAULT '',
    responded_by        text,
    responded_at        timestamptz,
    PRIMARY KEY (municipality_code, procedure_id, number),
    FOREIGN KEY (municipality_code, procedure_id) REFERENCES procedure
);
CREATE INDEX coordination_request_due ON coordination_request (answer_due) WHERE status = 'pending';

-- Messages to authorities, written in the transaction of the change that causes them and
-- delivered afterwards (at least once; the receiver deduplicates by id).
CREATE TABLE outbox (
    municipality_code   char(4) NOT NULL,
    id                  bigserial,
    procedure_id        uuid NOT NULL,
    authority           text NOT NULL,
    kind                text NOT NULL,
    payload             jsonb NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    attempts            int NOT NULL DEFAULT 0,
    next_attempt_at     timestamptz NOT NULL DEFAULT now(),
    delivered_at        timestamptz,
    last_error          text,
    -- Set when every retry failed: the message is a dead letter an official can see.
    dead_at             timestamptz,
    PRIMARY KEY (municipality_code, id),
    FOREIGN KEY (municipality_code, procedure_id) REFERENCES procedure
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE delivered_at IS NULL AND dead_at IS NULL;

-- Where each authority receives its messages (a signed HTTP POST). National configuration:
-- only reach 'all' reads or writes it (the secret signs the messages).
CREATE TABLE authority_webhook (
    authority   text PRIMARY KEY,
    url         text NOT NULL CHECK (url ~ '^https?://'),
    secret      text NOT NULL CHECK (length(secret) >= 16),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE procedure ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY procedure_read ON procedure FOR SELECT USING (
    kovgis_may_reach_procedure(municipality_code::text, created_by, applicant_code, authorities));
-- A new procedure: in the caller's municipality (or any, with reach 'all'), created by the caller.
CREATE POLICY procedure_insert ON procedure FOR INSERT WITH CHECK (
    created_by = kovgis_subject()
    AND (kovgis_reach_all()
         OR (kovgis_reach() IN ('own', 'applicant') AND municipality_code::text = kovgis_municipality())));
CREATE POLICY procedure_update ON procedure FOR UPDATE
    USING (kovgis_may_reach_procedure(municipality_code::text, created_by, applicant_code, authorities))
    WITH CHECK (kovgis_may_reach_procedure(municipality_code::text, created_by, applicant_code, authorities));

-- The tables below follow their procedure.
ALTER TABLE procedure_event ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY follows_procedure ON procedure_event FOR SELECT USING (EXISTS (
    SELECT 1 FROM procedure p WHERE p.municipality_code = procedure_event.municipality_code
                                AND p.id = procedure_event.procedure_id));
CREATE POLICY event_insert ON procedure_event FOR INSERT WITH CHECK (
    subject = kovgis_subject() AND EXISTS (
    SELECT 1 FROM procedure p WHERE p.municipality_code = procedure_event.municipality_code
                                AND p.id = procedure_event.procedure_id));

ALTER TABLE coordination_request ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY follows_procedure ON coordination_request FOR ALL USING (EXISTS (
    SELECT 1 FROM procedure p WHERE p.municipality_code = coordination_request.municipality_code
                                AND p.id = coordination_request.procedure_id))
    WITH CHECK (EXISTS (
    SELECT 1 FROM procedure p WHERE p.municipality_code = coordination_request.municipality_code
                                AND p.id = coordination_request.procedure_id));

ALTER TABLE outbox ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY outbox_read ON outbox FOR SELECT USING (kovgis_may_read(municipality_code::text));
CREATE POLICY outbox_insert ON outbox FOR INSERT WITH CHECK (EXISTS (
    SELECT 1 FROM procedure p WHERE p.municipality_code = outbox.municipality_code
                                AND p.id = outbox.procedure_id));
-- Delivery bookkeeping is the deliverer's (reach 'all').
CREATE POLICY outbox_deliver ON outbox FOR UPDATE USING (kovgis_reach_all()) WITH CHECK (kovgis_reach_all());

ALTER TABLE authority_webhook ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY national_config ON authority_webhook FOR ALL
    USING (kovgis_reach_all()) WITH CHECK (kovgis_reach_all());

DO $$
BEGIN
    IF current_user <> 'kovgis_owner' THEN
        ALTER TABLE procedure OWNER TO kovgis_owner;
        ALTER TABLE procedure_event OWNER TO kovgis_owner;
        ALTER TABLE coordination_request OWNER TO kovgis_owner;
        ALTER TABLE outbox OWNER TO kovgis_owner;
        ALTER TABLE authority_webhook OWNER TO kovgis_owner;
        ALTER FUNCTION kovgis_reach() OWNER TO kovgis_owner;
        ALTER FUNCTION kovgis_authority() OWNER TO kovgis_owner;
        ALTER FUNCTION kovgis_person_code() OWNER TO kovgis_owner;
        ALTER FUNCTION kovgis_may_reach_procedure(text, text, text, text[]) OWNER TO kovgis_owner;
    END IF;
END $$;

GRANT SELECT, INSERT, UPDATE ON procedure, coordination_request, outbox TO kovgis_service;
GRANT SELECT, INSERT ON procedure_event TO kovgis_service;
GRANT SELECT, INSERT, UPDATE, DELETE ON authority_webhook TO kovgis_service;
GRANT USAGE ON SEQUENCE outbox_id_seq TO kovgis_service;
