//! The synthetic procedures of the national-scale benchmark, generated in SQL (one connection as
//! the database owner or a superuser, row-level security not in the way of a bulk load).
//!
//! `count` procedures over the municipalities, each on a current parcel picked by a hash of its
//! number (so the municipalities get procedures in proportion to their parcels): a rectangle of
//! 50–2 000 m² (aspect 0.4–1) within 20 m of a point on the parcel. Every draw is a hash of the
//! procedure's number and a salt (`hashint8extended`), so the same count gives the same data.
//!
//! The mix: types building permit 35 %, excavation 30 %, felling 15 %, design criteria 10 %,
//! open design criteria 5 %, detailed plan 5 %; states 1 % draft, 8 % under review (a detailed
//! plan: initiation), 4 % waiting for the applicant — 12 % active —, 70 % granted (a plan: in
//! force), 10 % refused, 7 % withdrawn. Active procedures were created in the last 90 days, the
//! others from 2022 on; works periods (excavation and felling) start 10–60 days after creation
//! and last 1–60 days. Active procedures get their own report afterwards (the server checks each
//! one's area: `reports`), its authorities and one coordination request per authority
//! ([`finish`]), the decision clock of their type (migration 0011) and an assigned official;
//! ended ones a decision and no report. Events: create, submit, assign, then pause, decision or
//! withdrawal — 1 to 4 per procedure, numbered by version as the service numbers them, their
//! global ids (migration 0013) drawn from the sequence with the ordering trigger off for the
//! load (one transaction: no watcher could see them out of order, and no 4 million
//! notifications).
//!
//! The secondary indexes of the three tables are dropped for the load and built again after it
//! (from their own definitions, so migrations that add indexes are covered), then `VACUUM
//! ANALYZE`.

use std::time::Instant;

/// What the generation made, and how long it took.
pub struct Generated {
    pub procedures: i64,
    pub active: i64,
    pub events: i64,
    pub coordination: i64,
    pub municipalities: i64,
    pub insert_s: f64,
    pub index_s: f64,
    pub vacuum_s: f64,
}

const TABLES: &str = "'procedure', 'procedure_event', 'coordination_request'";

/// The indexes dropped for the load (name, definition), and how long the rows took.
pub struct Loading {
    indexes: Vec<(String, String)>,
    rows_s: f64,
}

/// Generates `count` procedures and their events (see the module header) into an empty
/// procedure table, without the indexes; [`finish`] completes them.
pub async fn generate(db: &tokio_postgres::Client, count: i64) -> Loading {
    let existing: i64 = db
        .query_one("SELECT count(*) FROM procedure", &[])
        .await
        .expect("counting procedures")
        .get(0);
    assert_eq!(
        existing, 0,
        "the benchmark generates into an empty procedure table"
    );
    let started = Instant::now();
    db.batch_execute(
        "SET maintenance_work_mem = '512MB';
         SET work_mem = '64MB';
         CREATE FUNCTION pg_temp.u(i bigint, salt bigint) RETURNS float8 IMMUTABLE
             LANGUAGE sql AS $$ SELECT (hashint8extended(i, salt) & 4294967295)::float8 / 4294967296 $$;
         CREATE TEMP TABLE bench_spot AS
             SELECT row_number() OVER (ORDER BY hashtext(cadastral_code), cadastral_code) AS n,
                    municipality_code, ST_X(pt) AS x, ST_Y(pt) AS y
             FROM (SELECT municipality_code, cadastral_code, ST_PointOnSurface(geom) AS pt
                   FROM parcel WHERE valid_to IS NULL) s;
         CREATE UNIQUE INDEX ON bench_spot (n);",
    )
    .await
    .expect("picking the parcels");
    let indexes: Vec<(String, String)> = db
        .query(
            &format!(
                "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
                 FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
                 WHERE c.relname IN ({TABLES}) AND c.relnamespace = 'public'::regnamespace
                   AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)"
            ),
            &[],
        )
        .await
        .expect("listing indexes")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    for (name, _) in &indexes {
        db.batch_execute(&format!("DROP INDEX {name}"))
            .await
            .expect("dropping an index for the load");
    }
    db.execute(INSERT_PROCEDURES, &[&count])
        .await
        .expect("generating procedures");
    db.batch_execute(&format!(
        "BEGIN; ALTER TABLE procedure_event DISABLE TRIGGER USER; {INSERT_EVENTS}; \
         ALTER TABLE procedure_event ENABLE TRIGGER USER; COMMIT"
    ))
    .await
    .expect("generating events");
    Loading {
        indexes,
        rows_s: started.elapsed().as_secs_f64(),
    }
}

/// The coordination requests of the active procedures (their reports written meanwhile), the
/// indexes built again, `VACUUM ANALYZE`; what was made.
pub async fn finish(db: &tokio_postgres::Client, loading: Loading) -> Generated {
    let Loading { indexes, rows_s } = loading;
    let started = Instant::now();
    db.batch_execute(INSERT_REQUESTS)
        .await
        .expect("generating coordination requests");
    let insert_s = rows_s + started.elapsed().as_secs_f64();
    let t = Instant::now();
    for (_, def) in &indexes {
        db.batch_execute(def)
            .await
            .expect("building an index again");
    }
    let index_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    db.batch_execute("VACUUM ANALYZE procedure, procedure_event, coordination_request, outbox")
        .await
        .expect("VACUUM ANALYZE");
    let vacuum_s = t.elapsed().as_secs_f64();
    let r = db
        .query_one(
            "SELECT (SELECT count(*) FROM procedure),
                    (SELECT count(*) FROM procedure
                     WHERE state IN ('under_review', 'initiation', 'waiting_for_applicant')),
                    (SELECT count(*) FROM procedure_event),
                    (SELECT count(*) FROM coordination_request),
                    (SELECT count(DISTINCT municipality_code) FROM procedure)",
            &[],
        )
        .await
        .expect("counting what was generated");
    Generated {
        procedures: r.get(0),
        active: r.get(1),
        events: r.get(2),
        coordination: r.get(3),
        municipalities: r.get(4),
        insert_s,
        index_s,
        vacuum_s,
    }
}

/// `$1` count.
const INSERT_PROCEDURES: &str = "
WITH d AS (
    SELECT i, pg_temp.u(i, 1) AS r_type, pg_temp.u(i, 2) AS r_state, pg_temp.u(i, 3) AS r_area,
           pg_temp.u(i, 4) AS r_aspect, pg_temp.u(i, 5) AS r_when, pg_temp.u(i, 6) AS r_works,
           pg_temp.u(i, 7) AS r_len, pg_temp.u(i, 8) - 0.5 AS r_dx, pg_temp.u(i, 9) - 0.5 AS r_dy,
           1 + (i * 2654435761) % (SELECT count(*) FROM bench_spot) AS spot
    FROM generate_series(1, $1::bigint) i
), t AS (
    SELECT d.*,
           CASE WHEN r_type < 0.35 THEN 'building_permit' WHEN r_type < 0.65 THEN 'excavation_permit'
                WHEN r_type < 0.80 THEN 'felling_permit' WHEN r_type < 0.90 THEN 'design_criteria'
                WHEN r_type < 0.95 THEN 'design_criteria_open' ELSE 'detailed_plan' END AS ptype,
           CASE WHEN r_state < 0.01 THEN 'draft' WHEN r_state < 0.09 THEN 'review'
                WHEN r_state < 0.13 THEN 'waiting_for_applicant' WHEN r_state < 0.83 THEN 'granted'
                WHEN r_state < 0.93 THEN 'refused' ELSE 'withdrawn' END AS kind,
           50 + r_area * 1950 AS area, 0.4 + r_aspect * 0.6 AS aspect
    FROM d
), s AS (
    SELECT t.*,
           CASE kind WHEN 'review' THEN CASE WHEN ptype = 'detailed_plan' THEN 'initiation' ELSE 'under_review' END
                     WHEN 'granted' THEN CASE WHEN ptype = 'detailed_plan' THEN 'in_force' ELSE 'granted' END
                     ELSE kind END AS state,
           kind IN ('review', 'waiting_for_applicant') AS active,
           CASE kind WHEN 'draft' THEN 1 WHEN 'review' THEN 3 WHEN 'withdrawn' THEN 3 ELSE 4 END AS version,
           CASE WHEN kind = 'draft' THEN now() - r_when * interval '30 days'
                WHEN kind IN ('review', 'waiting_for_applicant') THEN now() - interval '2 days' - r_when * interval '88 days'
                ELSE timestamptz '2022-01-01' + r_when * interval '1700 days' END AS created,
           sqrt(area / aspect) AS w
    FROM t
)
INSERT INTO procedure (municipality_code, procedure_type, workflow_id, state, version, created_by,
    request_hash, applicant_name, applicant_code, applicant_email, description, geom, intended_use,
    works_first_day, works_last_day, details, attachments, assigned_official, clock_rule,
    clock_started_at, deadline, decision, created_at, updated_at, submitted_at)
SELECT sp.municipality_code, s.ptype, w.id, s.state, s.version,
       'bench-applicant-' || (s.i % 5000),
       md5(s.i::text), 'Taotleja ' || s.i, (10000000 + (s.i * 7919) % 90000000)::text,
       'taotleja' || s.i || '@example.ee', s.ptype || ' (synthetic ' || s.i || ')',
       ST_Multi(ST_MakeEnvelope(sp.x + s.r_dx * 40 - s.w / 2, sp.y + s.r_dy * 40 - s.w * s.aspect / 2,
                                sp.x + s.r_dx * 40 + s.w / 2, sp.y + s.r_dy * 40 + s.w * s.aspect / 2, 3301)),
       CASE s.ptype WHEN 'excavation_permit' THEN 'excavation' WHEN 'felling_permit' THEN 'tree_felling'
                    ELSE 'residential_building' END,
       CASE WHEN s.ptype IN ('excavation_permit', 'felling_permit')
            THEN (s.created + interval '10 days' + s.r_works * interval '50 days')::date END,
       CASE WHEN s.ptype IN ('excavation_permit', 'felling_permit')
            THEN (s.created + interval '10 days' + s.r_works * interval '50 days')::date
                 + (1 + s.r_len * 59)::int END,
       CASE s.ptype
            WHEN 'building_permit' THEN jsonb_build_object('building_permit',
                 jsonb_build_object('ehr_procedure_id', 'EHR-' || s.i))
            WHEN 'excavation_permit' THEN '{\"excavation\": {\"road_surface\": \"asphalt\", \"traffic_impact\": \"partial\"}}'::jsonb
            WHEN 'felling_permit' THEN '{\"felling\": {\"trees\": [{\"species\": \"Tilia cordata\", \"trunk_diameter_cm\": 40, \"count\": 2}]}}'::jsonb
            ELSE '{}'::jsonb END,
       jsonb_build_array(jsonb_build_object('name', 'plan.pdf', 'media_type', 'application/pdf',
            'size_bytes', 120000 + s.i % 1000, 'sha256', md5(s.i::text) || md5(s.i::text),
            'uri', 'https://dhs.example.ee/documents/' || s.i)),
       CASE WHEN s.kind <> 'draft' THEN 'official-' || sp.municipality_code || '-' || (s.i % 7) END,
       CASE WHEN s.kind <> 'draft' THEN c.rule END,
       CASE WHEN s.kind <> 'draft' AND c.rule IS NOT NULL THEN s.created + interval '1 day' END,
       CASE WHEN s.kind = 'review' AND c.rule IS NOT NULL
            THEN (s.created + interval '1 day')::date + c.days + c.days * 2 / 5 END,
       CASE WHEN s.kind IN ('granted', 'refused') THEN jsonb_build_object(
            'decision', CASE s.kind WHEN 'granted' THEN 'grant' ELSE 'refuse' END,
            'reasons', 'synthetic decision', 'conditions', '',
            'by', 'approver-' || sp.municipality_code,
            'at_us', (extract(epoch FROM s.created + interval '20 days') * 1000000)::bigint) END,
       s.created,
       CASE WHEN s.kind IN ('draft', 'review') THEN s.created + interval '1 day'
            ELSE s.created + interval '20 days' END,
       CASE WHEN s.kind <> 'draft' THEN s.created + interval '1 day' END
FROM s
JOIN bench_spot sp ON sp.n = s.spot
JOIN workflow_version w ON w.municipality_code IS NULL AND w.procedure_type = s.ptype AND w.version = 1
LEFT JOIN LATERAL (
    SELECT jsonb_build_object('clock', r.clock, 'version', r.version,
               'municipality_code', r.municipality_code, 'days', r.days, 'day_kind', r.day_kind,
               'silence_counts_as_agreement', r.silence_counts_as_agreement,
               'legal_basis', r.legal_basis) AS rule, r.days
    FROM statutory_clock_rule r
    WHERE r.municipality_code IS NULL AND r.procedure_type = s.ptype AND r.clock = 'decision'
    ORDER BY r.version DESC LIMIT 1) c ON true";

/// Events numbered 1..version (create, submit, assign, then pause, decision or withdrawal;
/// a withdrawn procedure: create, submit, withdraw).
const INSERT_EVENTS: &str = "
INSERT INTO procedure_event (municipality_code, procedure_id, seq, occurred_at, subject, action,
                             state_before, state_after, changes, note, id)
SELECT p.municipality_code, p.id, e.seq,
       CASE e.seq WHEN 1 THEN p.created_at WHEN 2 THEN p.submitted_at
                  WHEN 3 THEN CASE WHEN p.version = 3 AND p.state = 'withdrawn' THEN p.updated_at
                                   ELSE p.submitted_at + interval '2 days' END
                  ELSE p.updated_at END,
       CASE WHEN e.seq IN (1, 2) THEN p.created_by
            WHEN e.seq = 3 AND p.state <> 'withdrawn' THEN 'official-' || p.municipality_code
            WHEN p.state IN ('granted', 'in_force', 'refused') THEN 'approver-' || p.municipality_code
            ELSE coalesce(p.assigned_official, p.created_by) END,
       a.action, a.before, a.after,
       jsonb_build_object('state', jsonb_build_object('before', nullif(a.before, ''), 'after', a.after)),
       '', nextval('procedure_event_id_seq')
FROM procedure p
CROSS JOIN LATERAL generate_series(1, p.version) e(seq)
CROSS JOIN LATERAL (
    SELECT CASE WHEN p.procedure_type = 'detailed_plan' THEN 'initiation' ELSE 'under_review' END AS first
) f
CROSS JOIN LATERAL (
    SELECT CASE WHEN e.seq = 1 THEN 'create' WHEN e.seq = 2 THEN 'submit'
                WHEN p.state = 'withdrawn' THEN 'withdraw'
                WHEN e.seq = 3 THEN 'assign'
                WHEN p.state = 'waiting_for_applicant' THEN 'pause_clock'
                WHEN p.state = 'refused' THEN 'decide_refuse' ELSE 'decide_grant' END AS action,
           CASE WHEN e.seq = 1 THEN '' WHEN e.seq = 2 THEN 'draft' ELSE f.first END AS before,
           CASE WHEN e.seq = 1 THEN 'draft' WHEN e.seq = p.version THEN p.state ELSE f.first END AS after
) a";

/// One coordination request per authority of an active procedure; pending ones are due in the
/// next weeks (none is overdue, so the deemed-agreement job has nothing to do).
const INSERT_REQUESTS: &str = "
INSERT INTO coordination_request (municipality_code, procedure_id, number, authority, note,
                                  requested_at, answer_due, rule, status, response_text,
                                  responded_by, responded_at)
SELECT p.municipality_code, p.id, x.n, x.authority, '', p.submitted_at,
       greatest((p.submitted_at + interval '7 days')::date, current_date + 1 + ((x.n + hashtext(p.id::text)) & 15)::int),
       jsonb_build_object('clock', 'coordination_answer', 'days', 5, 'day_kind', 'working',
                          'silence_counts_as_agreement', true),
       CASE WHEN p.state = 'waiting_for_applicant' THEN 'agreed' ELSE 'pending' END,
       CASE WHEN p.state = 'waiting_for_applicant' THEN 'Kooskõlastatud' ELSE '' END,
       CASE WHEN p.state = 'waiting_for_applicant' THEN 'authority-' || x.authority END,
       CASE WHEN p.state = 'waiting_for_applicant' THEN p.submitted_at + interval '3 days' END
FROM procedure p
CROSS JOIN LATERAL unnest(p.authorities) WITH ORDINALITY x(authority, n)
WHERE cardinality(p.authorities) > 0";
