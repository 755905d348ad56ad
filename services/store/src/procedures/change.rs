//! One change of a procedure: the row updated on its expected version, its event, the
//! coordination requests it opens or answers, the outbox messages it causes and its audit event,
//! in one transaction; the procedure as it now is comes back from the same transaction.

use chrono::NaiveDate;
use serde_json::Value;
use tokio_postgres::types::ToSql;

use super::read::{row_of, select_one};
use super::{ProcedureKey, ProcedureRow};
use crate::audit::AuditEvent;
use crate::{Caller, Store, StoreError};

/// One column to set: `expr` is the SQL for the value with `{}` where the parameter goes
/// (`"{}"` for a plain value, `"ST_Multi(ST_GeomFromWKB({}, 3301))"` for a geometry).
pub struct Set {
    pub column: &'static str,
    pub expr: &'static str,
    pub value: Box<dyn ToSql + Sync + Send>,
}

impl Set {
    /// A plain value.
    pub fn value(column: &'static str, value: impl ToSql + Sync + Send + 'static) -> Set {
        Set {
            column,
            expr: "{}",
            value: Box::new(value),
        }
    }
}

impl std::fmt::Debug for Set {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Set({})", self.column)
    }
}

/// A coordination request the change opens.
#[derive(Debug, Clone)]
pub struct NewCoordination {
    pub number: i32,
    pub authority: String,
    pub finding_keys: Vec<String>,
    pub note: String,
    pub answer_due: NaiveDate,
    pub rule: Value,
}

/// The answer the change records for a pending request.
#[derive(Debug, Clone)]
pub struct Answer {
    pub number: i32,
    /// agreed, agreed_with_conditions, refused or deemed_agreed.
    pub status: String,
    pub text: String,
    pub conditions: String,
}

/// A message to an authority, delivered after the commit.
#[derive(Debug, Clone)]
pub struct OutboxMessage {
    pub authority: String,
    pub kind: String,
    pub payload: Value,
}

/// A change of one procedure, computed from the version `expected_version`.
#[derive(Debug)]
pub struct Change {
    pub key: ProcedureKey,
    pub expected_version: i64,
    /// The action, as the history names it (`submit`, `assign`, `deemed_agreement`, …).
    pub action: String,
    pub note: String,
    pub state_before: String,
    pub state_after: String,
    /// Columns to set besides the state and the version.
    pub sets: Vec<Set>,
    /// The event's `{"field": {"before": …, "after": …}}`.
    pub changes: Value,
    pub open: Vec<NewCoordination>,
    pub answer: Option<Answer>,
    pub outbox: Vec<OutboxMessage>,
    pub audit: AuditEvent,
}

impl Store {
    /// Makes `change` as `caller`, all or nothing, and returns the procedure as it now is.
    /// [`StoreError::StaleVersion`] when the stored version is not `expected_version`,
    /// [`StoreError::NotFound`] when the procedure does not exist or is not the caller's to
    /// change; an answer to a request that is no longer pending is [`StoreError::Invalid`].
    pub async fn change_procedure(
        &self,
        caller: &Caller,
        change: Change,
    ) -> Result<ProcedureRow, StoreError> {
        let key = &change.key;
        let tx = self.begin_as(caller).await?;
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![
            &key.municipality_code,
            &key.id,
            &change.expected_version,
            &change.state_after,
        ];
        let mut sql = String::from(
            "UPDATE procedure SET version = version + 1, updated_at = now(), state = $4",
        );
        for s in &change.sets {
            params.push(s.value.as_ref());
            let placeholder = format!("${}", params.len());
            sql.push_str(&format!(
                ", {} = {}",
                s.column,
                s.expr.replace("{}", &placeholder)
            ));
        }
        sql.push_str(" WHERE municipality_code = $1 AND id = $2::text::uuid AND version = $3");
        let updated = tx
            .client()
            .execute(&sql, &params)
            .await
            .map_err(StoreError::pg("changing a procedure"))?;
        if updated == 0 {
            let found = tx
                .query(
                    "SELECT version FROM procedure WHERE municipality_code = $1 AND id = $2::text::uuid",
                    &[&key.municipality_code, &key.id],
                )
                .await?;
            return Err(match found.first() {
                Some(r) => StoreError::StaleVersion {
                    name: key.name(),
                    expected: change.expected_version,
                    current: r.get(0),
                },
                None => StoreError::NotFound(format!("{} not found", key.name())),
            });
        }
        for c in &change.open {
            tx.query(
                "INSERT INTO coordination_request (municipality_code, procedure_id, number,
                     authority, finding_keys, note, requested_at, answer_due, rule)
                 VALUES ($1, $2::text::uuid, $3, $4, $5, $6, now(), $7, $8)",
                &[
                    &key.municipality_code,
                    &key.id,
                    &c.number,
                    &c.authority,
                    &c.finding_keys,
                    &c.note,
                    &c.answer_due,
                    &c.rule,
                ],
            )
            .await?;
        }
        if let Some(a) = &change.answer {
            let n = tx
                .client()
                .execute(
                    "UPDATE coordination_request SET status = $4, response_text = $5,
                         conditions = $6, responded_by = $7, responded_at = now()
                     WHERE municipality_code = $1 AND procedure_id = $2::text::uuid
                       AND number = $3 AND status = 'pending'",
                    &[
                        &key.municipality_code,
                        &key.id,
                        &a.number,
                        &a.status,
                        &a.text,
                        &a.conditions,
                        &caller.subject,
                    ],
                )
                .await
                .map_err(StoreError::pg("recording a coordination answer"))?;
            if n != 1 {
                return Err(StoreError::Invalid(format!(
                    "coordination request {} of {} is not pending",
                    a.number,
                    key.name()
                )));
            }
        }
        for m in &change.outbox {
            tx.query(
                "INSERT INTO outbox (municipality_code, procedure_id, authority, kind, payload)
                 VALUES ($1, $2::text::uuid, $3, $4, $5)",
                &[
                    &key.municipality_code,
                    &key.id,
                    &m.authority,
                    &m.kind,
                    &m.payload,
                ],
            )
            .await?;
        }
        tx.audit(&change.audit).await?;
        // The event last: it takes the event-order lock until the commit (migration 0013).
        let seq = change.expected_version + 1;
        tx.query(
            "INSERT INTO procedure_event (municipality_code, procedure_id, seq, subject, action,
                                          state_before, state_after, changes, note)
             VALUES ($1, $2::text::uuid, $3, $4, $5, $6, $7, $8, $9)",
            &[
                &key.municipality_code,
                &key.id,
                &seq,
                &caller.subject,
                &change.action,
                &change.state_before,
                &change.state_after,
                &change.changes,
                &change.note,
            ],
        )
        .await?;
        let rows = tx
            .query(&select_one(), &[&key.municipality_code, &key.id])
            .await?;
        let row = rows
            .first()
            .map(row_of)
            .transpose()?
            .ok_or_else(|| StoreError::NotFound(format!("{} not found", key.name())))?;
        tx.commit().await?;
        Ok(row)
    }
}
