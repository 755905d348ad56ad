-- Roles, row-level security, authors and the audit trail (issue 11).
--
-- Roles. kovgis_owner owns every kovgis object and runs the migrations (`kovgis migrate`, with
-- KOVGIS_OWNER_DATABASE_URL). kovgis_service is what `kovgis serve` and `kovgis import` log in
-- as: it owns nothing, cannot bypass row-level security, and has only the row privileges below
-- (no DDL, no TRUNCATE). The roles are cluster-wide: the scripts create them with passwords
-- before migrating; when they are missing and the migrating role may create roles (a superuser),
-- this migration creates them without LOGIN. When run by a superuser, the kovgis objects are
-- handed to kovgis_owner. The README gives the SQL for an existing server.
--
-- The caller of each transaction is in three settings, set by the store with set_config(…, true):
-- kovgis.subject, kovgis.municipality (EHAK) and kovgis.reach ('own' | 'all'); kovgis.person_code
-- lets a person read the audit events about their own data. Every policy fails closed: an unset
-- or empty subject sees and writes nothing.
--
-- Decisions per table (RLS enabled and forced on each, so the owner is bound too):
--   dataset_version, layer, feature, validation_rule  tenant rows (municipality_code; NULL =
--       national): read national rows and the caller's municipality's (everything with reach
--       'all'); write only the caller's municipality, national rows only with reach 'all'.
--   municipality, parcel, parcel_digest  the national cadastre: read by every identified
--       caller, written only with reach 'all'.
--   audit_event  read: reach 'all', the caller's municipality's chain, or events about the
--       caller's own person code; insert: any identified caller (the trigger fills in who);
--       no UPDATE or DELETE for anyone but the owner, and the owner only by turning RLS off.
--   audit_chain_head  no policy access for the service (written by the audit trigger, which
--       runs as the owner); readable for `kovgis audit verify` and `heads`.
--   schema_migration  not tenant data: the service may read it (to check the schema is current).
-- Authors: dataset_version.author and validation_rule.author are the subject of the writing
-- transaction (a policy checks it: no row can claim another author); rows written by hand in
-- SQL without a caller say 'sql:<login role>'; rows from before this migration say
-- 'system:migration-0008'.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'kovgis_owner') THEN
        CREATE ROLE kovgis_owner NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'kovgis_service') THEN
        CREATE ROLE kovgis_service NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    END IF;
EXCEPTION WHEN unique_violation OR insufficient_privilege THEN
    -- Another database of the cluster created them at the same moment, or we may not create
    -- roles: the check below says what is missing.
    NULL;
END $$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'kovgis_owner')
       OR NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'kovgis_service') THEN
        RAISE EXCEPTION 'roles kovgis_owner and kovgis_service are missing: create them first (README: Database roles, row-level security and audit)';
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'kovgis_service' AND (rolsuper OR rolbypassrls)) THEN
        RAISE EXCEPTION 'kovgis_service must be NOSUPERUSER NOBYPASSRLS';
    END IF;
END $$;

-- Who wrote each version.
ALTER TABLE dataset_version ADD COLUMN author text;
UPDATE dataset_version SET author = 'system:migration-0008';
ALTER TABLE dataset_version ALTER COLUMN author SET NOT NULL,
    ALTER COLUMN author SET DEFAULT coalesce(nullif(current_setting('kovgis.subject', true), ''),
                                            'sql:' || session_user);
ALTER TABLE validation_rule ADD COLUMN author text;
UPDATE validation_rule SET author = 'system:migration-0008';
ALTER TABLE validation_rule ALTER COLUMN author SET NOT NULL,
    ALTER COLUMN author SET DEFAULT coalesce(nullif(current_setting('kovgis.subject', true), ''),
                                            'sql:' || session_user),
    ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();

-- Keys lead with municipality_code where a table has a natural key: the rule versions' key is
-- reordered. Surrogate primary keys (id) stay: national rows have municipality_code NULL, which
-- a primary key cannot hold (the schema test lists these exceptions with their reasons).
ALTER TABLE validation_rule DROP CONSTRAINT validation_rule_code_municipality_code_version_key,
    ADD CONSTRAINT validation_rule_key UNIQUE NULLS NOT DISTINCT (municipality_code, code, version);

-- No views today; a view added later must be created WITH (security_invoker = true), so that
-- the policies of its tables apply to its caller (the schema test checks it).

-- The caller, as the policies see it. Plain SQL functions (inlined into the policies).
CREATE FUNCTION kovgis_subject() RETURNS text STABLE LANGUAGE sql AS
    $$ SELECT nullif(current_setting('kovgis.subject', true), '') $$;
CREATE FUNCTION kovgis_reach_all() RETURNS boolean STABLE LANGUAGE sql AS
    $$ SELECT kovgis_subject() IS NOT NULL AND current_setting('kovgis.reach', true) = 'all' $$;
CREATE FUNCTION kovgis_municipality() RETURNS text STABLE LANGUAGE sql AS
    $$ SELECT CASE WHEN kovgis_subject() IS NOT NULL
                   THEN nullif(current_setting('kovgis.municipality', true), '') END $$;
-- Reading a row of municipality m (NULL: national).
CREATE FUNCTION kovgis_may_read(m text) RETURNS boolean STABLE LANGUAGE sql AS
    $$ SELECT kovgis_subject() IS NOT NULL
              AND (m IS NULL OR kovgis_reach_all() OR m = kovgis_municipality()) $$;
-- Writing a row of municipality m (NULL: national, reach 'all' only).
CREATE FUNCTION kovgis_may_write(m text) RETURNS boolean STABLE LANGUAGE sql AS
    $$ SELECT kovgis_reach_all() OR (m IS NOT NULL AND m = kovgis_municipality()) $$;

-- Tenant tables.
ALTER TABLE dataset_version ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_read ON dataset_version FOR SELECT USING (kovgis_may_read(municipality_code::text));
CREATE POLICY tenant_insert ON dataset_version FOR INSERT
    WITH CHECK (kovgis_may_write(municipality_code::text) AND author = kovgis_subject());
CREATE POLICY tenant_update ON dataset_version FOR UPDATE
    USING (kovgis_may_write(municipality_code::text))
    WITH CHECK (kovgis_may_write(municipality_code::text));

ALTER TABLE layer ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_read ON layer FOR SELECT USING (kovgis_may_read(municipality_code::text));
CREATE POLICY tenant_insert ON layer FOR INSERT WITH CHECK (kovgis_may_write(municipality_code::text));
CREATE POLICY tenant_update ON layer FOR UPDATE
    USING (kovgis_may_write(municipality_code::text))
    WITH CHECK (kovgis_may_write(municipality_code::text));

ALTER TABLE feature ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_read ON feature FOR SELECT USING (kovgis_may_read(municipality_code::text));
CREATE POLICY tenant_insert ON feature FOR INSERT WITH CHECK (kovgis_may_write(municipality_code::text));
CREATE POLICY tenant_update ON feature FOR UPDATE
    USING (kovgis_may_write(municipality_code::text))
    WITH CHECK (kovgis_may_write(municipality_code::text));

-- Rule versions are inserted, never edited: no UPDATE or DELETE policy, and no such grant.
ALTER TABLE validation_rule ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_read ON validation_rule FOR SELECT USING (kovgis_may_read(municipality_code::text));
CREATE POLICY tenant_insert ON validation_rule FOR INSERT
    WITH CHECK (kovgis_may_write(municipality_code::text) AND author = kovgis_subject());

-- The national cadastre.
ALTER TABLE municipality ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY national_read ON municipality FOR SELECT USING (kovgis_subject() IS NOT NULL);
CREATE POLICY national_write ON municipality FOR ALL USING (kovgis_reach_all()) WITH CHECK (kovgis_reach_all());
ALTER TABLE parcel ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY national_read ON parcel FOR SELECT USING (kovgis_subject() IS NOT NULL);
CREATE POLICY national_write ON parcel FOR ALL USING (kovgis_reach_all()) WITH CHECK (kovgis_reach_all());
ALTER TABLE parcel_digest ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY national_read ON parcel_digest FOR SELECT USING (kovgis_subject() IS NOT NULL);
CREATE POLICY national_write ON parcel_digest FOR ALL USING (kovgis_reach_all()) WITH CHECK (kovgis_reach_all());

-- The audit trail: one hash chain per municipality (municipality_code NULL: the national chain).
CREATE TABLE audit_chain_head (
    -- The municipality's EHAK code, or '' for the national chain.
    chain  text PRIMARY KEY,
    seq    bigint NOT NULL DEFAULT 0,
    hash   text NOT NULL DEFAULT repeat('0', 64) CHECK (hash ~ '^[0-9a-f]{64}$')
);

CREATE TABLE audit_event (
    municipality_code   char(4),
    seq                 bigint NOT NULL,
    occurred_at         timestamptz NOT NULL,
    -- Who, from the transaction's caller (set by the trigger, never by the writer).
    subject             text NOT NULL,
    acting_municipality char(4),
    rpc                 text NOT NULL,
    action              text NOT NULL CHECK (action IN ('read', 'write', 'create', 'export', 'delete')),
    entity_kind         text NOT NULL,
    entity_id           text NOT NULL,
    -- The person whose data was used (isikukood), if any.
    person_code         text,
    purpose             text,
    details             jsonb NOT NULL DEFAULT '{}',
    prev_hash           text NOT NULL,
    hash                text NOT NULL,
    UNIQUE NULLS NOT DISTINCT (municipality_code, seq)
);
CREATE INDEX audit_event_person ON audit_event (person_code, occurred_at) WHERE person_code IS NOT NULL;

-- The canonical encoding an event's hash is taken over (kovgis audit verify recomputes it):
-- the fields below in this order, each as <octet length>:<UTF-8 text>, and NULL as ~ ; every
-- field followed by a comma. occurred_at as microseconds since 1970-01-01 UTC, seq in decimal,
-- details as jsonb's text form, prev_hash in hex. hash = hex(sha256(encoding)).
--   chain ('' national), seq, occurred_at, subject, acting_municipality, rpc, action,
--   entity_kind, entity_id, person_code, purpose, details, prev_hash
CREATE FUNCTION audit_field(t text) RETURNS text IMMUTABLE LANGUAGE sql AS
    $$ SELECT CASE WHEN t IS NULL THEN '~,' ELSE octet_length(t)::text || ':' || t || ',' END $$;

CREATE FUNCTION audit_event_chain() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public AS $$
DECLARE
    k    text := coalesce(NEW.municipality_code::text, '');
    head audit_chain_head%ROWTYPE;
BEGIN
    NEW.subject := kovgis_subject();
    IF NEW.subject IS NULL THEN
        RAISE EXCEPTION 'audit events need a caller (kovgis.subject)' USING ERRCODE = '42501';
    END IF;
    NEW.acting_municipality := kovgis_municipality();
    NEW.occurred_at := date_trunc('microseconds', clock_timestamp());
    INSERT INTO audit_chain_head (chain) VALUES (k) ON CONFLICT DO NOTHING;
    -- One writer per chain at a time; other municipalities' chains do not wait.
    SELECT * INTO head FROM audit_chain_head WHERE chain = k FOR UPDATE;
    NEW.seq := head.seq + 1;
    NEW.prev_hash := head.hash;
    NEW.hash := encode(sha256(convert_to(
        audit_field(k) || audit_field(NEW.seq::text)
        || audit_field(((extract(epoch FROM NEW.occurred_at) * 1000000)::bigint)::text)
        || audit_field(NEW.subject) || audit_field(NEW.acting_municipality::text)
        || audit_field(NEW.rpc) || audit_field(NEW.action) || audit_field(NEW.entity_kind)
        || audit_field(NEW.entity_id) || audit_field(NEW.person_code) || audit_field(NEW.purpose)
        || audit_field(NEW.details::text) || audit_field(NEW.prev_hash), 'UTF8')), 'hex');
    UPDATE audit_chain_head SET seq = NEW.seq, hash = NEW.hash WHERE chain = k;
    RETURN NEW;
END $$;
CREATE TRIGGER audit_event_chain BEFORE INSERT ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_event_chain();

-- The audit trigger runs as the owner, which is bound by forced RLS: it needs these policies.
ALTER TABLE audit_chain_head ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY chain_read ON audit_chain_head FOR SELECT USING (kovgis_subject() IS NOT NULL);
CREATE POLICY chain_owner ON audit_chain_head FOR ALL TO kovgis_owner USING (true) WITH CHECK (true);

ALTER TABLE audit_event ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_read ON audit_event FOR SELECT USING (
    kovgis_reach_all()
    OR municipality_code::text = kovgis_municipality()
    OR (person_code IS NOT NULL AND kovgis_subject() IS NOT NULL
        AND person_code = nullif(current_setting('kovgis.person_code', true), '')));
CREATE POLICY audit_insert ON audit_event FOR INSERT WITH CHECK (kovgis_subject() IS NOT NULL);

-- The first cadastre load drops the parcel indexes and builds them once at the end (see
-- kovgis-store import::first_load): DDL the service may not run, so the owner does it in these
-- two functions, which only act on an empty parcel table (drop) with reach 'all'.
CREATE TABLE parcel_index_saved (def text NOT NULL);
ALTER TABLE parcel_index_saved ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY owner_only ON parcel_index_saved FOR ALL TO kovgis_owner USING (true) WITH CHECK (true);

CREATE FUNCTION kovgis_parcel_indexes_drop() RETURNS void LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public AS $$
DECLARE r record;
BEGIN
    IF NOT kovgis_reach_all() THEN
        RAISE EXCEPTION 'dropping the parcel indexes needs reach all' USING ERRCODE = '42501';
    END IF;
    IF EXISTS (SELECT FROM parcel) THEN
        RAISE EXCEPTION 'the parcel indexes are dropped only for a first load into an empty table';
    END IF;
    FOR r IN SELECT c.relname, pg_get_indexdef(i.indexrelid) AS def
             FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
             WHERE i.indrelid = 'parcel'::regclass
               AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
             ORDER BY i.indisunique DESC, c.relname LOOP
        INSERT INTO parcel_index_saved (def) VALUES (r.def);
        EXECUTE format('DROP INDEX %I', r.relname);
    END LOOP;
END $$;

CREATE FUNCTION kovgis_parcel_indexes_restore() RETURNS void LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public AS $$
DECLARE r record;
BEGIN
    IF NOT kovgis_reach_all() THEN
        RAISE EXCEPTION 'building the parcel indexes needs reach all' USING ERRCODE = '42501';
    END IF;
    -- Unique ones first (saved first), so that a duplicate code fails the first build.
    FOR r IN SELECT ctid, def FROM parcel_index_saved ORDER BY ctid LOOP
        EXECUTE r.def;
        DELETE FROM parcel_index_saved WHERE ctid = r.ctid;
    END LOOP;
    ANALYZE parcel;
END $$;

-- Hand everything to the owner when a superuser (or another role) migrates.
DO $$
DECLARE t text;
BEGIN
    IF current_user <> 'kovgis_owner' THEN
        FOREACH t IN ARRAY ARRAY['municipality', 'dataset_version', 'parcel', 'layer', 'feature',
                                 'parcel_digest', 'validation_rule', 'schema_migration',
                                 'audit_chain_head', 'audit_event', 'parcel_index_saved'] LOOP
            EXECUTE format('ALTER TABLE %I OWNER TO kovgis_owner', t);
        END LOOP;
        ALTER TYPE layer_kind OWNER TO kovgis_owner;
        ALTER FUNCTION validation_rule_changed() OWNER TO kovgis_owner;
        ALTER FUNCTION kovgis_subject() OWNER TO kovgis_owner;
        ALTER FUNCTION kovgis_reach_all() OWNER TO kovgis_owner;
        ALTER FUNCTION kovgis_municipality() OWNER TO kovgis_owner;
        ALTER FUNCTION kovgis_may_read(text) OWNER TO kovgis_owner;
        ALTER FUNCTION kovgis_may_write(text) OWNER TO kovgis_owner;
        ALTER FUNCTION audit_field(text) OWNER TO kovgis_owner;
        ALTER FUNCTION audit_event_chain() OWNER TO kovgis_owner;
        ALTER FUNCTION kovgis_parcel_indexes_drop() OWNER TO kovgis_owner;
        ALTER FUNCTION kovgis_parcel_indexes_restore() OWNER TO kovgis_owner;
    END IF;
END $$;

-- What the service may do: rows only.
DO $$
BEGIN
    EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO kovgis_service', current_database());
END $$;
GRANT USAGE ON SCHEMA public TO kovgis_service;
-- The owner builds indexes (first cadastre load) also in a database another role owns.
GRANT USAGE, CREATE ON SCHEMA public TO kovgis_owner;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT SELECT ON municipality, dataset_version, parcel, layer, feature, parcel_digest,
    validation_rule, schema_migration, audit_event, audit_chain_head TO kovgis_service;
GRANT INSERT, UPDATE ON municipality, dataset_version, parcel, layer, feature TO kovgis_service;
GRANT INSERT, DELETE ON parcel_digest TO kovgis_service;
GRANT INSERT ON validation_rule, audit_event TO kovgis_service;
GRANT USAGE ON SEQUENCE dataset_version_id_seq, parcel_id_seq, layer_id_seq, feature_id_seq,
    validation_rule_id_seq TO kovgis_service;
REVOKE ALL ON FUNCTION kovgis_parcel_indexes_drop(), kovgis_parcel_indexes_restore() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION kovgis_parcel_indexes_drop(), kovgis_parcel_indexes_restore() TO kovgis_service;
REVOKE ALL ON FUNCTION audit_event_chain() FROM PUBLIC;
