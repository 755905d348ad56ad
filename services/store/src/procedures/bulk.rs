//! Many procedures at once, for the re-checks: their rows in one read, and new reports for many
//! written in one transaction — each on the version it was computed from, with its audit event
//! and its history event, as [`Store::change_procedure`] writes one change.
//!
//! The procedures are found by their key's two columns as lists (`= ANY`), which the primary
//! key's index answers under row-level security; a join with the key pairs would be planned as
//! a scan of every procedure.
//!
//! A batch is all or nothing, but a procedure whose version moved meanwhile is simply not
//! written (the caller learns which were, and checks the others again one by one).

use std::collections::HashSet;

use serde_json::Value;

use super::read::{COLUMNS, row_of};
use super::{ProcedureKey, ProcedureRow};
use crate::audit::{AuditEvent, client_of, insert_events};
use crate::{Caller, Store, StoreError};

/// A new report of one procedure, computed from `expected_version`; its state stays.
#[derive(Debug, Clone)]
pub struct ReportChange {
    pub key: ProcedureKey,
    pub expected_version: i64,
    /// The state it is in (the event's before and after).
    pub state: String,
    /// The encoded `ValidationReport`, its id and verdict.
    pub report: Vec<u8>,
    pub report_id: String,
    pub verdict: String,
    pub overrides: Value,
    /// The history's action (`recheck`), the event's note and its `changes`.
    pub action: String,
    pub note: String,
    pub changes: Value,
    pub audit: AuditEvent,
}

impl Store {
    /// The procedures of `keys` that `caller` sees, in no particular order (one read; those
    /// gone or not seen are left out).
    pub async fn load_procedures(
        &self,
        caller: &Caller,
        keys: &[ProcedureKey],
    ) -> Result<Vec<ProcedureRow>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let (m, ids): (Vec<&str>, Vec<&str>) = keys
            .iter()
            .map(|k| (k.municipality_code.as_str(), k.id.as_str()))
            .unzip();
        let rows = self
            .query_as(
                caller,
                &format!(
                    "SELECT {COLUMNS}
                     FROM procedure p
                     WHERE p.municipality_code = ANY ($1::text[]::char(4)[])
                       AND p.id = ANY ($2::text[]::uuid[])"
                ),
                &[&m, &ids],
            )
            .await?;
        // Exactly the keys asked for (the two lists alone would also match a municipality's
        // code paired with another municipality's id).
        let asked: HashSet<(&str, &str)> = m.into_iter().zip(ids).collect();
        rows.iter()
            .map(row_of)
            .filter(|r| {
                r.as_ref().map_or(true, |r| {
                    asked.contains(&(r.key.municipality_code.as_str(), r.key.id.as_str()))
                })
            })
            .collect()
    }

    /// Writes `changes` as `caller` in one transaction: each procedure's report, verdict and
    /// overrides on its expected version (the version then one more), its audit event and its
    /// event. Returns, per change, whether it was written (`false`: its version moved or it is
    /// gone — nothing of it was written).
    pub async fn change_reports(
        &self,
        caller: &Caller,
        changes: &[ReportChange],
    ) -> Result<Vec<bool>, StoreError> {
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        let tx = self.begin_as(caller).await?;
        let m: Vec<&str> = changes
            .iter()
            .map(|c| c.key.municipality_code.as_str())
            .collect();
        let ids: Vec<&str> = changes.iter().map(|c| c.key.id.as_str()).collect();
        let expected: Vec<i64> = changes.iter().map(|c| c.expected_version).collect();
        let reports: Vec<&[u8]> = changes.iter().map(|c| c.report.as_slice()).collect();
        let report_ids: Vec<&str> = changes.iter().map(|c| c.report_id.as_str()).collect();
        let verdicts: Vec<&str> = changes.iter().map(|c| c.verdict.as_str()).collect();
        let overrides: Vec<&Value> = changes.iter().map(|c| &c.overrides).collect();
        // The rows locked in key order first: two batches that share procedures then wait for
        // each other instead of deadlocking.
        tx.query(
            "SELECT 1 FROM procedure p
             WHERE p.municipality_code = ANY ($1::text[]::char(4)[])
               AND p.id = ANY ($2::text[]::uuid[])
             ORDER BY p.municipality_code, p.id
             FOR UPDATE OF p",
            &[&m, &ids],
        )
        .await?;
        let updated = tx
            .query(
                "UPDATE procedure p SET version = p.version + 1, updated_at = now(),
                        report = u.report, report_id = u.report_id, verdict = u.verdict,
                        overrides = u.overrides
                 FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bytea[], $5::text[],
                             $6::text[], $7::jsonb[])
                      AS u(m, id, expected, report, report_id, verdict, overrides)
                 WHERE p.municipality_code = ANY ($1::text[]::char(4)[])
                   AND p.id = ANY ($2::text[]::uuid[])
                   AND p.municipality_code = u.m::char(4) AND p.id = u.id::uuid
                   AND p.version = u.expected
                 RETURNING p.municipality_code::text, p.id::text",
                &[
                    &m,
                    &ids,
                    &expected,
                    &reports,
                    &report_ids,
                    &verdicts,
                    &overrides,
                ],
            )
            .await?;
        let written: HashSet<(String, String)> = updated
            .iter()
            .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1)))
            .collect();
        let done: Vec<bool> = changes
            .iter()
            .map(|c| written.contains(&(c.key.municipality_code.clone(), c.key.id.clone())))
            .collect();
        let kept: Vec<&ReportChange> = changes
            .iter()
            .zip(&done)
            .filter_map(|(c, d)| d.then_some(c))
            .collect();
        if kept.is_empty() {
            return Ok(done);
        }
        let audits: Vec<&AuditEvent> = kept.iter().map(|c| &c.audit).collect();
        insert_events(client_of(tx.client()), &audits).await?;
        // The events last: they take the event-order lock until the commit (migration 0013).
        let m: Vec<&str> = kept
            .iter()
            .map(|c| c.key.municipality_code.as_str())
            .collect();
        let ids: Vec<&str> = kept.iter().map(|c| c.key.id.as_str()).collect();
        let seq: Vec<i64> = kept.iter().map(|c| c.expected_version + 1).collect();
        let actions: Vec<&str> = kept.iter().map(|c| c.action.as_str()).collect();
        let states: Vec<&str> = kept.iter().map(|c| c.state.as_str()).collect();
        let events: Vec<&Value> = kept.iter().map(|c| &c.changes).collect();
        let notes: Vec<&str> = kept.iter().map(|c| c.note.as_str()).collect();
        tx.query(
            "INSERT INTO procedure_event (municipality_code, procedure_id, seq, subject, action,
                                          state_before, state_after, changes, note)
             SELECT u.m, u.id::uuid, u.seq, $8, u.action, u.state, u.state, u.changes, u.note
             FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[],
                         $6::jsonb[], $7::text[]) WITH ORDINALITY
                  AS u(m, id, seq, action, state, changes, note, n)
             ORDER BY u.n",
            &[
                &m,
                &ids,
                &seq,
                &actions,
                &states,
                &events,
                &notes,
                &caller.subject,
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(done)
    }
}
