//! The floor of `SubmitProcedure`: the rows one submission writes, written by a plain
//! tokio-postgres client in one transaction of prepared statements, at the same concurrency, on
//! the same database, as the same role (`kovgis_service`, row-level security and the audit
//! chain's trigger applied) with the same caller settings — no spatial check, no gRPC, no
//! reading back.
//!
//! Each submission the server made is copied into a fresh draft (same contents; its creation
//! event, as `CreateProcedure` writes it), and the floor then submits the copy with exactly
//! what the server wrote for the original: the procedure row updated on its version (state,
//! report, report id, verdict, override, authorities, decision clock, deadline, times), the
//! event (with the server's recorded changes), one coordination request and one outbox message
//! per authority, and the audit event, in the store's order (the event last: it takes the
//! event-order lock of migration 0013 until the commit). `BEGIN` with the caller settings goes
//! pipelined with the update, as the store sends it; every other statement waits for the one
//! before it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::NaiveDate;
use serde_json::Value;
use tokio_postgres::{Client, NoTls, Statement};

use super::submit::{Phase, SUBMITTER};

/// One submission to write again.
struct Work {
    municipality: String,
    id: String,
    subject: String,
    state: String,
    report: Option<Vec<u8>>,
    report_id: Option<String>,
    verdict: Option<String>,
    blocking_override: Option<String>,
    authorities: Vec<String>,
    clock_rule: Option<Value>,
    deadline: Option<NaiveDate>,
    changes: Value,
    note: String,
    person_code: Option<String>,
    requests: Vec<(i32, String, Vec<String>, String, NaiveDate, Value)>,
    outbox: Vec<(String, String, Value)>,
}

/// Copies the server's submissions into drafts (as `admin`) and loads what to write.
async fn prepare(admin: &Client) -> Vec<Work> {
    let like = format!("{SUBMITTER}%");
    admin
        .execute(
            "WITH t AS (
                SELECT * FROM procedure
                WHERE created_by LIKE $1 AND state <> 'draft' AND request_hash NOT LIKE 'floor:%'
             ), f AS (
                INSERT INTO procedure (municipality_code, procedure_type, workflow_id, state,
                    created_by, request_hash, applicant_name, applicant_code, applicant_email,
                    applicant_phone, description, geom, parcel_codes, intended_use,
                    works_first_day, works_last_day, details, attachments)
                SELECT municipality_code, procedure_type, workflow_id, 'draft', created_by,
                       'floor:' || id, applicant_name, applicant_code, applicant_email,
                       applicant_phone, description, geom, parcel_codes, intended_use,
                       works_first_day, works_last_day, details, attachments
                FROM t
                RETURNING municipality_code, id, created_by)
             INSERT INTO procedure_event (municipality_code, procedure_id, seq, subject, action,
                                          state_before, state_after, changes)
             SELECT municipality_code, id, 1, created_by, 'create', '', 'draft',
                    '{\"state\": {\"before\": null, \"after\": \"draft\"}}'
             FROM f",
            &[&like],
        )
        .await
        .expect("copying the submissions into drafts");
    let rows = admin
        .query(
            "SELECT f.municipality_code::text, f.id::text, f.created_by, t.state, t.report,
                    t.report_id, t.verdict, t.blocking_override, t.authorities, t.clock_rule,
                    t.deadline, e.changes, e.note, t.applicant_code, t.id::text
             FROM procedure f
             JOIN procedure t ON t.municipality_code = f.municipality_code
                             AND f.request_hash = 'floor:' || t.id
             JOIN procedure_event e ON e.municipality_code = t.municipality_code
                                   AND e.procedure_id = t.id AND e.seq = 2
             WHERE f.created_by LIKE $1 AND f.state = 'draft'
             ORDER BY f.created_at, f.id",
            &[&like],
        )
        .await
        .expect("reading the submissions");
    let mut requests: HashMap<String, Vec<_>> = HashMap::new();
    for r in admin
        .query(
            "SELECT procedure_id::text, number, authority, finding_keys, note, answer_due, rule
             FROM coordination_request c
             WHERE EXISTS (SELECT 1 FROM procedure p WHERE p.municipality_code = c.municipality_code
                                                    AND p.id = c.procedure_id AND p.created_by LIKE $1)
             ORDER BY procedure_id, number",
            &[&like],
        )
        .await
        .expect("reading the coordination requests")
    {
        requests
            .entry(r.get(0))
            .or_default()
            .push((r.get(1), r.get(2), r.get(3), r.get(4), r.get(5), r.get(6)));
    }
    let mut outbox: HashMap<String, Vec<_>> = HashMap::new();
    for r in admin
        .query(
            "SELECT procedure_id::text, authority, kind, payload FROM outbox o
             WHERE EXISTS (SELECT 1 FROM procedure p WHERE p.municipality_code = o.municipality_code
                                                    AND p.id = o.procedure_id AND p.created_by LIKE $1)
             ORDER BY procedure_id, id",
            &[&like],
        )
        .await
        .expect("reading the outbox")
    {
        outbox
            .entry(r.get(0))
            .or_default()
            .push((r.get(1), r.get(2), r.get(3)));
    }
    rows.iter()
        .map(|r| {
            let template: String = r.get(14);
            let code: String = r.get(13);
            Work {
                municipality: r.get(0),
                id: r.get(1),
                subject: r.get(2),
                state: r.get(3),
                report: r.get(4),
                report_id: r.get(5),
                verdict: r.get(6),
                blocking_override: r.get(7),
                authorities: r.get(8),
                clock_rule: r.get(9),
                deadline: r.get(10),
                changes: r.get(11),
                note: r.get(12),
                // As the service records it: a personal code (11 digits) names a person.
                person_code: (code.len() == 11).then_some(code),
                requests: requests.remove(&template).unwrap_or_default(),
                outbox: outbox.remove(&template).unwrap_or_default(),
            }
        })
        .collect()
}

/// The statements of one connection.
struct Prepared {
    update: Statement,
    event: Statement,
    request: Statement,
    outbox: Statement,
    audit: Statement,
}

async fn prepared(c: &Client) -> Prepared {
    let p = |sql: &'static str| c.prepare(sql);
    Prepared {
        update: p(
            "UPDATE procedure SET version = version + 1, updated_at = now(), state = $4,
                       report = $5, report_id = $6, verdict = $7, blocking_override = $8,
                       submitted_at = now(), authorities = $9, clock_rule = $10,
                       clock_started_at = CASE WHEN $10::jsonb IS NULL THEN NULL ELSE now() END,
                       clock_pauses = '[]', deadline = $11
                   WHERE municipality_code = $1 AND id = $2::text::uuid AND version = $3",
        )
        .await
        .expect("preparing"),
        event: p(
            "INSERT INTO procedure_event (municipality_code, procedure_id, seq, subject, action,
                                          state_before, state_after, changes, note)
             VALUES ($1, $2::text::uuid, 2, $3, 'submit', 'draft', $4, $5, $6)",
        )
        .await
        .expect("preparing"),
        request: p(
            "INSERT INTO coordination_request (municipality_code, procedure_id, number,
                 authority, finding_keys, note, requested_at, answer_due, rule)
             VALUES ($1, $2::text::uuid, $3, $4, $5, $6, now(), $7, $8)",
        )
        .await
        .expect("preparing"),
        outbox: p(
            "INSERT INTO outbox (municipality_code, procedure_id, authority, kind, payload)
             VALUES ($1, $2::text::uuid, $3, $4, $5)",
        )
        .await
        .expect("preparing"),
        audit: p(
            "INSERT INTO audit_event (municipality_code, rpc, action, entity_kind, entity_id,
                                      person_code, purpose, details)
             VALUES ($1, 'kovgis.v1.ProcedureService/SubmitProcedure', 'write', 'procedure', $2,
                     $3, NULL, '{\"action\": \"submit\"}')",
        )
        .await
        .expect("preparing"),
    }
}

/// One submission, as one transaction.
async fn write(c: &Client, s: &Prepared, w: &Work) {
    let begin = format!(
        "BEGIN; SELECT set_config('kovgis.subject', '{}', true), \
         set_config('kovgis.municipality', '{}', true), set_config('kovgis.reach', 'own', true), \
         set_config('kovgis.person_code', '', true), set_config('kovgis.authority', '', true)",
        w.subject.replace('\'', "''"),
        w.municipality
    );
    let version = 1i64;
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 11] = [
        &w.municipality,
        &w.id,
        &version,
        &w.state,
        &w.report,
        &w.report_id,
        &w.verdict,
        &w.blocking_override,
        &w.authorities,
        &w.clock_rule,
        &w.deadline,
    ];
    let (_, updated) = tokio::try_join!(c.batch_execute(&begin), c.execute(&s.update, &params))
        .expect("the floor's update");
    assert_eq!(updated, 1, "the floor updates its draft");
    for (number, authority, keys, note, due, rule) in &w.requests {
        c.execute(
            &s.request,
            &[
                &w.municipality,
                &w.id,
                number,
                authority,
                keys,
                note,
                due,
                rule,
            ],
        )
        .await
        .expect("the floor's coordination request");
    }
    for (authority, kind, payload) in &w.outbox {
        c.execute(
            &s.outbox,
            &[&w.municipality, &w.id, authority, kind, payload],
        )
        .await
        .expect("the floor's outbox message");
    }
    c.execute(&s.audit, &[&w.municipality, &w.id, &w.person_code])
        .await
        .expect("the floor's audit event");
    // The event last, as the store writes it: it takes the event-order lock until the commit.
    c.execute(
        &s.event,
        &[
            &w.municipality,
            &w.id,
            &w.subject,
            &w.state,
            &w.changes,
            &w.note,
        ],
    )
    .await
    .expect("the floor's event");
    c.batch_execute("COMMIT").await.expect("the floor's commit");
}

/// Runs the floor at `concurrency` connections of `service_url`; also the rows per submission.
pub async fn run(admin: &Client, service_url: &str, concurrency: usize) -> (Phase, f64, f64) {
    let work = Arc::new(prepare(admin).await);
    let n = work.len().max(1) as f64;
    let requests = work.iter().map(|w| w.requests.len()).sum::<usize>() as f64 / n;
    let messages = work.iter().map(|w| w.outbox.len()).sum::<usize>() as f64 / n;
    let mut clients = Vec::new();
    for _ in 0..concurrency {
        let (c, conn) = tokio_postgres::connect(service_url, NoTls)
            .await
            .expect("connecting as the service role");
        tokio::spawn(conn);
        let s = prepared(&c).await;
        clients.push((c, s));
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (w, (c, s)) in clients.into_iter().enumerate() {
        let work = work.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            for i in (w..work.len()).step_by(concurrency) {
                let t = Instant::now();
                write(&c, &s, &work[i]).await;
                lat.push(t.elapsed().as_secs_f64() * 1e3);
            }
            lat
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.expect("a floor task"));
    }
    let phase = Phase {
        latencies,
        wall_s: started.elapsed().as_secs_f64(),
    };
    (phase, requests, messages)
}
