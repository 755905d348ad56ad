//! The audit trail (migration 0008): append-only events of every write and every read of a
//! person's data, chained by hash per municipality, and the data tracker's view of them.
//!
//! Writers give what happened ([`AuditEvent`]); the database fills in who (the transaction's
//! caller), when, and the chain fields, in a trigger the service role cannot bypass. A write and
//! its event commit together: use [`CallerTx::audit`] inside the write's transaction.

use chrono::{DateTime, Utc};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::caller::{Scoped, begin};
use crate::{Caller, Store, StoreError};

/// What was done with the data (the data tracker's "action").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    Read,
    Write,
    Create,
    Export,
    Delete,
}

impl AuditAction {
    /// The name, as a parameter of a statement.
    fn as_str_ref(&self) -> &'static &'static str {
        match self {
            AuditAction::Read => &"read",
            AuditAction::Write => &"write",
            AuditAction::Create => &"create",
            AuditAction::Export => &"export",
            AuditAction::Delete => &"delete",
        }
    }

    pub fn as_str(self) -> &'static str {
        self.as_str_ref()
    }
}

/// One event, as the writer describes it (who and when come from the database).
#[derive(Debug, Clone)]
pub struct AuditEvent {
    /// Whose chain: the municipality the data belongs to (`None`: the national chain).
    pub municipality_code: Option<String>,
    /// The RPC (or CLI command) that did it.
    pub rpc: String,
    pub action: AuditAction,
    /// What: the entity's kind (`dataset_version`, `validation_rule`, `procedure`, …) and id.
    pub entity_kind: String,
    pub entity_id: String,
    /// The person whose data was used (isikukood), if any.
    pub person_code: Option<String>,
    /// The purpose given by the caller, if any.
    pub purpose: Option<String>,
    pub details: serde_json::Value,
}

/// One use of a person's data, in the data tracker's terms.
#[derive(Debug, Clone, PartialEq)]
pub struct DataUse {
    /// Time of use.
    pub at: DateTime<Utc>,
    /// What was done (`read`, `write`, …).
    pub action: String,
    /// Who used it: the subject, and the municipality (institution) it acted for.
    pub receiver_subject: String,
    pub receiver_municipality: Option<String>,
    /// Through which RPC, which data (entity kind and id), and why.
    pub rpc: String,
    pub entity_kind: String,
    pub entity_id: String,
    pub purpose: Option<String>,
}

/// A caller-scoped read-write transaction (`READ COMMITTED`), for a write and its audit event
/// to commit together. Dropped without [`CallerTx::commit`], it rolls back.
pub struct CallerTx {
    scoped: Scoped,
}

impl CallerTx {
    /// Runs a statement in the transaction.
    pub async fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        self.scoped
            .client()
            .query(sql, params)
            .await
            .map_err(StoreError::pg("querying"))
    }

    /// Appends an audit event in this transaction.
    pub async fn audit(&self, event: &AuditEvent) -> Result<(), StoreError> {
        insert_event(client_of(self.scoped.client()), event).await
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        self.scoped.commit().await
    }

    pub(crate) fn client(&self) -> &deadpool_postgres::Object {
        self.scoped.client()
    }
}

/// The tokio-postgres client of a pooled connection.
pub(crate) fn client_of(c: &deadpool_postgres::Object) -> &tokio_postgres::Client {
    c
}

/// Inserts an event on a connection inside a caller-scoped transaction.
pub(crate) async fn insert_event(
    c: &(impl tokio_postgres::GenericClient + Sync),
    e: &AuditEvent,
) -> Result<(), StoreError> {
    c.execute(INSERT_EVENT, &e.params())
        .await
        .map_err(StoreError::pg("writing an audit event"))?;
    Ok(())
}

/// Inserts several events on a connection inside a caller-scoped transaction, in order (one
/// statement; the chain trigger runs for each).
pub(crate) async fn insert_events(
    c: &(impl tokio_postgres::GenericClient + Sync),
    events: &[&AuditEvent],
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let m: Vec<Option<&str>> = events
        .iter()
        .map(|e| e.municipality_code.as_deref())
        .collect();
    let rpc: Vec<&str> = events.iter().map(|e| e.rpc.as_str()).collect();
    let action: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    let kind: Vec<&str> = events.iter().map(|e| e.entity_kind.as_str()).collect();
    let id: Vec<&str> = events.iter().map(|e| e.entity_id.as_str()).collect();
    let person: Vec<Option<&str>> = events.iter().map(|e| e.person_code.as_deref()).collect();
    let purpose: Vec<Option<&str>> = events.iter().map(|e| e.purpose.as_deref()).collect();
    let details: Vec<&serde_json::Value> = events.iter().map(|e| &e.details).collect();
    c.execute(
        "INSERT INTO audit_event (municipality_code, rpc, action, entity_kind, entity_id,
                                  person_code, purpose, details)
         SELECT u.m, u.rpc, u.action, u.kind, u.id, u.person, u.purpose, u.details
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                     $7::text[], $8::jsonb[]) WITH ORDINALITY
              AS u(m, rpc, action, kind, id, person, purpose, details, n)
         ORDER BY u.n",
        &[&m, &rpc, &action, &kind, &id, &person, &purpose, &details],
    )
    .await
    .map_err(StoreError::pg("writing audit events"))?;
    Ok(())
}

/// The statement that appends an event, with [`AuditEvent::params`]. No RETURNING: the writer
/// need not be allowed to read the chain it appends to. Who, when and the chain fields are the
/// trigger's (NOT NULL is checked after it).
pub(crate) const INSERT_EVENT: &str =
    "INSERT INTO audit_event (municipality_code, rpc, action, entity_kind, entity_id,
                              person_code, purpose, details)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

impl AuditEvent {
    /// The parameters of [`INSERT_EVENT`].
    pub(crate) fn params(&self) -> [&(dyn ToSql + Sync); 8] {
        [
            &self.municipality_code,
            &self.rpc,
            self.action.as_str_ref(),
            &self.entity_kind,
            &self.entity_id,
            &self.person_code,
            &self.purpose,
            &self.details,
        ]
    }
}

impl Store {
    /// Opens a caller-scoped read-write transaction (see [`CallerTx`]).
    pub async fn begin_as(&self, caller: &Caller) -> Result<CallerTx, StoreError> {
        let scoped = begin(self.queries.get().await?, caller, "BEGIN").await?;
        Ok(CallerTx { scoped })
    }

    /// Appends one audit event in a transaction of its own.
    pub async fn audit(&self, caller: &Caller, event: &AuditEvent) -> Result<(), StoreError> {
        let tx = self.begin_as(caller).await?;
        tx.audit(event).await?;
        tx.commit().await
    }

    /// Every use of the data of the person with id code `person_code` from `from` (inclusive)
    /// to `to` (exclusive), oldest first, as far as `caller` may see them: a data-tracker caller
    /// (reach all) sees all, the person (caller with the same `person_code`) the events about
    /// them, a municipality's caller its own municipality's.
    pub async fn list_data_usage(
        &self,
        caller: &Caller,
        person_code: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<DataUse>, StoreError> {
        let rows = self
            .query_as(
                caller,
                "SELECT occurred_at, action, subject, acting_municipality::text, rpc, entity_kind,
                        entity_id, purpose
                 FROM audit_event
                 WHERE person_code = $1 AND occurred_at >= $2 AND occurred_at < $3
                 ORDER BY occurred_at, municipality_code, seq",
                &[&person_code, &from, &to],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| DataUse {
                at: r.get(0),
                action: r.get(1),
                receiver_subject: r.get(2),
                receiver_municipality: r.get(3),
                rpc: r.get(4),
                entity_kind: r.get(5),
                entity_id: r.get(6),
                purpose: r.get(7),
            })
            .collect())
    }

    /// A read of a person's data with its audit event, committed together: runs `sql` as
    /// `caller` and appends `event` (action `read`) in the same transaction; no rows are
    /// returned unless the event is written.
    pub async fn read_audited(
        &self,
        caller: &Caller,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        event: &AuditEvent,
    ) -> Result<Vec<Row>, StoreError> {
        let tx = self.begin_as(caller).await?;
        let rows = tx.query(sql, params).await?;
        tx.audit(event).await?;
        tx.commit().await?;
        Ok(rows)
    }
}
