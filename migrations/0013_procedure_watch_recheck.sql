-- Procedures that stay true (issue 13): a global, commit-ordered id on every procedure event
-- (what WatchProcedures streams and resumes from), and the queue of re-checks that a data or
-- rule change causes.

-- Every event gets an id from one sequence, drawn while holding one transaction-level advisory
-- lock that is released at commit. Ids are therefore committed in increasing order: a reader
-- that has seen id n and later reads ids > n misses nothing committed meanwhile. The event is
-- the last row a change writes (kovgis-store procedures/change.rs and create.rs), so the lock is
-- held only for that insert and the commit. Each new event is announced on the channel
-- `kovgis_procedure_event` (delivered at commit, in commit order) with its id as the payload.
CREATE SEQUENCE procedure_event_id_seq;
ALTER TABLE procedure_event ADD COLUMN id bigint;
UPDATE procedure_event e SET id = n.id
FROM (SELECT municipality_code, procedure_id, seq,
             row_number() OVER (ORDER BY occurred_at, municipality_code, procedure_id, seq) AS id
      FROM procedure_event) n
WHERE e.municipality_code = n.municipality_code AND e.procedure_id = n.procedure_id
  AND e.seq = n.seq;
SELECT setval('procedure_event_id_seq', coalesce((SELECT max(id) FROM procedure_event), 0) + 1, false);
ALTER TABLE procedure_event ALTER COLUMN id SET NOT NULL;
CREATE UNIQUE INDEX procedure_event_id ON procedure_event (id);

-- The lock's key: any constant no other part of kovgis uses ('kovgis_procedure_event').
CREATE FUNCTION procedure_event_number() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7236190013);
    NEW.id := nextval('procedure_event_id_seq');
    PERFORM pg_notify('kovgis_procedure_event', NEW.id::text);
    RETURN NEW;
END $$;
CREATE TRIGGER procedure_event_number BEFORE INSERT ON procedure_event
    FOR EACH ROW EXECUTE FUNCTION procedure_event_number();

-- Re-checks. A change that may alter the stored reports of active procedures enqueues a
-- request: an import (the area its changed features cover, old and new geometry, as boxes of at
-- most 1 km grid cells), a rule version (the municipality it applies in, or every one, from the
-- day it starts to apply and again from the day it stops). A background job of the
-- ProcedureService (services/procedures recheck) claims due requests (FOR UPDATE SKIP LOCKED,
-- with a lease), re-checks the active procedures of the municipality whose area meets the
-- request's area, and records how many it re-checked and changed.
CREATE TABLE recheck_request (
    id                  bigserial PRIMARY KEY,
    -- 'dataset' (an import) or 'rule' (a rule version starts or stops applying).
    reason              text NOT NULL CHECK (reason IN ('dataset', 'rule')),
    -- What changed: {"dataset_version": n, "target": "layer", "layer": "…"} or
    -- {"rule": "ZONE_USE", "version": 2, "municipality_code": null}.
    detail              jsonb NOT NULL DEFAULT '{}',
    -- NULL: every municipality.
    municipality_code   char(4),
    -- NULL: the whole municipality (or country). Else boxes (EPSG:3301).
    area                geometry(MultiPolygon, 3301),
    -- Procedure types affected; empty: all.
    procedure_types     text[] NOT NULL DEFAULT '{}',
    -- The day (Europe/Tallinn) from which it is due: a rule version valid from tomorrow is
    -- re-checked tomorrow.
    due_on              date NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    claimed_by          text,
    claimed_until       timestamptz,
    finished_at         timestamptz,
    -- Procedures re-checked, and those whose findings changed (one event each).
    rechecked           integer,
    changed             integer
);
CREATE INDEX recheck_request_open ON recheck_request (due_on, id) WHERE finished_at IS NULL;

ALTER TABLE recheck_request ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY national_work ON recheck_request FOR ALL
    USING (kovgis_reach_all()) WITH CHECK (kovgis_reach_all());
-- The functions below write requests as the owner, for any caller whose change causes one.
CREATE POLICY owner_enqueues ON recheck_request FOR ALL TO kovgis_owner USING (true) WITH CHECK (true);

-- The request for dataset version `v`, written in the import's own transaction (so the index
-- built from a snapshot holds both the data and the request, or neither). Runs as the owner:
-- a municipality's official importing its own layer may not write the national queue directly.
CREATE FUNCTION kovgis_recheck_dataset(v bigint) RETURNS void LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public AS $$
DECLARE
    dv     dataset_version%ROWTYPE;
    lname  text;
    boxes  geometry;
BEGIN
    SELECT * INTO dv FROM dataset_version WHERE id = v;
    IF dv.target = 'layer' THEN
        SELECT name INTO lname FROM layer WHERE id = dv.layer_id;
        SELECT ST_Multi(ST_Collect(b)) INTO boxes FROM (
            SELECT ST_Expand(ST_SetSRID(ST_Extent(geom)::geometry, 3301), 0.5) AS b
            FROM feature
            WHERE layer_id = dv.layer_id AND (dataset_version_id = v OR valid_to = now())
            GROUP BY floor(ST_XMin(geom) / 1000), floor(ST_YMin(geom) / 1000)) c;
    ELSIF dv.target = 'parcels' THEN
        SELECT ST_Multi(ST_Collect(b)) INTO boxes FROM (
            SELECT ST_Expand(ST_SetSRID(ST_Extent(geom)::geometry, 3301), 0.5) AS b
            FROM parcel
            WHERE dataset_version_id = v OR valid_to = now()
            GROUP BY floor(ST_XMin(geom) / 1000), floor(ST_YMin(geom) / 1000)) c;
    ELSE
        RETURN;
    END IF;
    IF boxes IS NULL THEN
        RETURN;
    END IF;
    INSERT INTO recheck_request (reason, detail, municipality_code, area, due_on)
    VALUES ('dataset',
            jsonb_build_object('dataset_version', v, 'target', dv.target, 'layer', lname),
            CASE WHEN dv.target = 'layer' THEN dv.municipality_code END,
            boxes, (now() AT TIME ZONE 'Europe/Tallinn')::date);
END $$;

-- A rule version re-checks from the day it starts to apply, and from the day it stops.
CREATE FUNCTION validation_rule_recheck() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public AS $$
DECLARE
    d jsonb := jsonb_build_object('rule', NEW.code, 'version', NEW.version,
                                  'municipality_code', NEW.municipality_code);
BEGIN
    IF TG_OP = 'INSERT' OR NEW.valid_from IS DISTINCT FROM OLD.valid_from
       OR NEW.params IS DISTINCT FROM OLD.params OR NEW.severity IS DISTINCT FROM OLD.severity
       OR NEW.procedures IS DISTINCT FROM OLD.procedures THEN
        INSERT INTO recheck_request (reason, detail, municipality_code, procedure_types, due_on)
        VALUES ('rule', d, NEW.municipality_code, NEW.procedures, NEW.valid_from);
    END IF;
    IF NEW.valid_to IS NOT NULL AND (TG_OP = 'INSERT' OR NEW.valid_to IS DISTINCT FROM OLD.valid_to) THEN
        INSERT INTO recheck_request (reason, detail, municipality_code, procedure_types, due_on)
        VALUES ('rule', d, NEW.municipality_code, NEW.procedures, NEW.valid_to);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER validation_rule_recheck AFTER INSERT OR UPDATE ON validation_rule
    FOR EACH ROW EXECUTE FUNCTION validation_rule_recheck();

DO $$
BEGIN
    IF current_user <> 'kovgis_owner' THEN
        ALTER SEQUENCE procedure_event_id_seq OWNER TO kovgis_owner;
        ALTER TABLE recheck_request OWNER TO kovgis_owner;
        ALTER FUNCTION procedure_event_number() OWNER TO kovgis_owner;
        ALTER FUNCTION kovgis_recheck_dataset(bigint) OWNER TO kovgis_owner;
        ALTER FUNCTION validation_rule_recheck() OWNER TO kovgis_owner;
    END IF;
END $$;

GRANT SELECT, UPDATE ON recheck_request TO kovgis_service;
GRANT EXECUTE ON FUNCTION kovgis_recheck_dataset(bigint) TO kovgis_service;
