//! One change of a procedure: the row updated on its expected version, its event, the
//! coordination requests it opens or answers, the outbox messages it causes and its audit event,
//! in one transaction; the procedure as it now is comes back from the same transaction.
//!
//! The transaction is one round trip: `BEGIN` with the caller settings, every statement and the
//! `COMMIT` go out together as a pipeline ([`crate::pipeline`]), as prepared statements (each
//! prepared once per connection). So that nothing can be committed when the procedure was not
//! changed, the two statements whose "no row" is a refusal — the update on the expected
//! version, and the answer to a pending request — fail instead of changing nothing (their count
//! of changed rows is divided into 1); a failed statement aborts the transaction, and the
//! `COMMIT` then ends it as a rollback. The locks the audit event and the event take (the
//! municipality's audit chain, the event order of migration 0013) are thus held for the
//! database's own work only, never across a round trip to this process.

use chrono::NaiveDate;
use serde_json::Value;
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use super::read::{row_of, select_one};
use super::{ProcedureKey, ProcedureRow};
use crate::audit::{AuditEvent, INSERT_EVENT};
use crate::caller::Scoped;
use crate::pipeline::{Step, in_order};
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
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![
            &key.municipality_code,
            &key.id,
            &change.expected_version,
            &change.state_after,
        ];
        let mut update = String::from(
            "UPDATE procedure SET version = version + 1, updated_at = now(), state = $4",
        );
        for s in &change.sets {
            params.push(s.value.as_ref());
            let placeholder = format!("${}", params.len());
            update.push_str(&format!(
                ", {} = {}",
                s.column,
                s.expr.replace("{}", &placeholder)
            ));
        }
        update.push_str(" WHERE municipality_code = $1 AND id = $2::text::uuid AND version = $3");
        // No row updated: division by zero, which aborts the transaction.
        let update = format!("WITH u AS ({update} RETURNING 1) SELECT 1 / count(*)::int FROM u");

        let client = self.queries.get().await?;
        let prepare = |sql: String| {
            let client = &client;
            async move {
                client
                    .prepare_cached(&sql)
                    .await
                    .map_err(StoreError::pg("preparing a statement"))
            }
        };
        let (update, answer, open, outbox, read, audit, event) = tokio::try_join!(
            prepare(update),
            prepare(ANSWER.into()),
            prepare(OPEN.into()),
            prepare(OUTBOX.into()),
            prepare(select_one()),
            prepare(INSERT_EVENT.into()),
            prepare(EVENT.into()),
        )?;

        let begin = caller.begin_sql("BEGIN");
        let scoped = Scoped::new(client);
        let c = scoped.client();
        let answer_params: Option<[&(dyn ToSql + Sync); 7]> = change.answer.as_ref().map(|a| {
            [
                &key.municipality_code as &(dyn ToSql + Sync),
                &key.id,
                &a.number,
                &a.status,
                &a.text,
                &a.conditions,
                &caller.subject,
            ]
        });
        let open_params: Vec<[&(dyn ToSql + Sync); 8]> = change
            .open
            .iter()
            .map(|o| {
                [
                    &key.municipality_code as &(dyn ToSql + Sync),
                    &key.id,
                    &o.number,
                    &o.authority,
                    &o.finding_keys,
                    &o.note,
                    &o.answer_due,
                    &o.rule,
                ]
            })
            .collect();
        let outbox_params: Vec<[&(dyn ToSql + Sync); 5]> = change
            .outbox
            .iter()
            .map(|m| {
                [
                    &key.municipality_code as &(dyn ToSql + Sync),
                    &key.id,
                    &m.authority,
                    &m.kind,
                    &m.payload,
                ]
            })
            .collect();
        let key_params: [&(dyn ToSql + Sync); 2] = [&key.municipality_code, &key.id];
        let audit_params = change.audit.params();
        let seq = change.expected_version + 1;
        let event_params: [&(dyn ToSql + Sync); 9] = [
            &key.municipality_code,
            &key.id,
            &seq,
            &caller.subject,
            &change.action,
            &change.state_before,
            &change.state_after,
            &change.changes,
            &change.note,
        ];

        let rows = |r: Result<u64, tokio_postgres::Error>| r.map(|_| Vec::<Row>::new());
        let mut steps: Vec<Step<'_, Result<Vec<Row>, tokio_postgres::Error>>> = vec![
            Box::pin(async { c.batch_execute(&begin).await.map(|()| Vec::new()) }),
            Box::pin(c.query(&update, &params)),
        ];
        for p in &open_params {
            steps.push(Box::pin(async { rows(c.execute(&open, p).await) }));
        }
        if let Some(p) = &answer_params {
            steps.push(Box::pin(c.query(&answer, p)));
        }
        for p in &outbox_params {
            steps.push(Box::pin(async { rows(c.execute(&outbox, p).await) }));
        }
        // Read back before the audit and the event: their locks are then held for the
        // shortest time.
        steps.push(Box::pin(c.query(&read, &key_params)));
        steps.push(Box::pin(async {
            rows(c.execute(&audit, &audit_params).await)
        }));
        // The event last: it takes the event-order lock until the commit (migration 0013).
        steps.push(Box::pin(async {
            rows(c.execute(&event, &event_params).await)
        }));
        steps.push(Box::pin(async {
            c.batch_execute("COMMIT").await.map(|()| Vec::new())
        }));
        let mut results = in_order(steps).await;

        let committed = results.pop().expect("the commit's result");
        let began = results.remove(0);
        if let Err(e) = began {
            scoped.discard();
            return Err(StoreError::Postgres(e, "setting the caller"));
        }
        if let Err(e) = committed {
            scoped.discard();
            return Err(StoreError::Postgres(e, "committing"));
        }
        // The transaction has ended: committed, or rolled back if a statement failed.
        scoped.ended();
        let mut results = results.into_iter();
        let no_row = |e: &tokio_postgres::Error| e.code() == Some(&SqlState::DIVISION_BY_ZERO);
        match results.next().expect("the update's result") {
            Ok(_) => {}
            Err(e) if no_row(&e) => return Err(self.not_changed(caller, &change).await),
            Err(e) => return Err(StoreError::Postgres(e, "changing a procedure")),
        }
        for _ in 0..open_params.len() {
            results
                .next()
                .expect("an insert's result")
                .map_err(StoreError::pg("querying"))?;
        }
        if let Some(a) = &change.answer {
            match results.next().expect("the answer's result") {
                Ok(_) => {}
                Err(e) if no_row(&e) => {
                    return Err(StoreError::Invalid(format!(
                        "coordination request {} of {} is not pending",
                        a.number,
                        key.name()
                    )));
                }
                Err(e) => return Err(StoreError::Postgres(e, "recording a coordination answer")),
            }
        }
        for _ in 0..outbox_params.len() {
            results
                .next()
                .expect("an insert's result")
                .map_err(StoreError::pg("querying"))?;
        }
        let read = results
            .next()
            .expect("the read's result")
            .map_err(StoreError::pg("querying"))?;
        results
            .next()
            .expect("the audit event's result")
            .map_err(StoreError::pg("writing an audit event"))?;
        results
            .next()
            .expect("the event's result")
            .map_err(StoreError::pg("querying"))?;
        read.first()
            .map(row_of)
            .transpose()?
            .ok_or_else(|| StoreError::NotFound(format!("{} not found", key.name())))
    }

    /// Why a change updated no row: the version moved on, or the procedure is not there for
    /// `caller`.
    async fn not_changed(&self, caller: &Caller, change: &Change) -> StoreError {
        let key = &change.key;
        let found = self
            .query_as(
                caller,
                "SELECT version FROM procedure WHERE municipality_code = $1 AND id = $2::text::uuid",
                &[&key.municipality_code, &key.id],
            )
            .await;
        match found {
            Ok(rows) => match rows.first() {
                Some(r) => StoreError::StaleVersion {
                    name: key.name(),
                    expected: change.expected_version,
                    current: r.get(0),
                },
                None => StoreError::NotFound(format!("{} not found", key.name())),
            },
            Err(e) => e,
        }
    }
}

/// The answer to a pending request; no row answered: division by zero (see the module header).
const ANSWER: &str = "WITH a AS (
        UPDATE coordination_request SET status = $4, response_text = $5,
            conditions = $6, responded_by = $7, responded_at = now()
        WHERE municipality_code = $1 AND procedure_id = $2::text::uuid
          AND number = $3 AND status = 'pending'
        RETURNING 1)
    SELECT 1 / count(*)::int FROM a";

const OPEN: &str = "INSERT INTO coordination_request (municipality_code, procedure_id, number,
        authority, finding_keys, note, requested_at, answer_due, rule)
    VALUES ($1, $2::text::uuid, $3, $4, $5, $6, now(), $7, $8)";

const OUTBOX: &str =
    "INSERT INTO outbox (municipality_code, procedure_id, authority, kind, payload)
    VALUES ($1, $2::text::uuid, $3, $4, $5)";

const EVENT: &str = "INSERT INTO procedure_event (municipality_code, procedure_id, seq, subject,
        action, state_before, state_after, changes, note)
    VALUES ($1, $2::text::uuid, $3, $4, $5, $6, $7, $8, $9)";
