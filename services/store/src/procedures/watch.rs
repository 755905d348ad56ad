//! Reading the event log in the order of its global ids (migration 0013), for
//! `WatchProcedures`: a page of events after an id, as the caller sees them (row-level security
//! of the procedures), and the same as the service (`Caller::system`) for the one reader per
//! process that fans new events out to every watcher.
//!
//! Ids are committed in increasing order (one lock orders the event inserts, see the
//! migration), so "every event with an id above n" read now is final: no event with a smaller id
//! can commit later. What an event carries here is its headline — which procedure, its type and
//! municipality, the action and the states, and for a re-check the findings that changed — plus
//! what decides who may see it (the procedure's creator, applicant code, authorities, assignee).
//! The applicant's data, the actor and the event's other details stay in the (audited) history.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::ProcedureKey;
use crate::{Caller, Store, StoreError};

/// One event, with what its procedure's access and the watch filters need.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchedEvent {
    /// The global id (what a watcher resumes from).
    pub id: i64,
    pub key: ProcedureKey,
    pub procedure_type: String,
    /// The version the event produced.
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub action: String,
    pub state_before: String,
    pub state_after: String,
    /// For `recheck` events: the findings that changed (`changes.findings`); else null.
    pub findings: Value,
    /// The procedure's current assignee.
    pub assigned_official: Option<String>,
    /// Who created the procedure, its applicant's code and the authorities asked (access).
    pub created_by: String,
    pub applicant_code: String,
    pub authorities: Vec<String>,
}

/// Which events a watcher wants; empty fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchFilter {
    pub municipality_code: Option<String>,
    pub procedure_type: Option<String>,
    pub assigned_official: Option<String>,
}

impl WatchFilter {
    /// Whether `e` passes the filter (the same test as the SQL of [`Store::events_after`]).
    pub fn matches(&self, e: &WatchedEvent) -> bool {
        self.municipality_code
            .as_ref()
            .is_none_or(|m| *m == e.key.municipality_code)
            && self
                .procedure_type
                .as_ref()
                .is_none_or(|t| *t == e.procedure_type)
            && self
                .assigned_official
                .as_ref()
                .is_none_or(|a| Some(a) == e.assigned_official.as_ref())
    }
}

const SELECT: &str = "SELECT e.id, e.municipality_code::text, e.procedure_id::text, p.procedure_type,
        e.seq, e.occurred_at, e.action, e.state_before, e.state_after,
        CASE WHEN e.action = 'recheck' THEN e.changes -> 'findings' ELSE 'null'::jsonb END,
        p.assigned_official, p.created_by, p.applicant_code, p.authorities
     FROM procedure_event e
     JOIN procedure p ON p.municipality_code = e.municipality_code AND p.id = e.procedure_id
     WHERE e.id > $1
       AND ($2::text IS NULL OR e.municipality_code = $2)
       AND ($3::text IS NULL OR p.procedure_type = $3)
       AND ($4::text IS NULL OR p.assigned_official = $4)
     ORDER BY e.id LIMIT $5";

impl Store {
    /// Up to `limit` events with an id above `after` that `caller` sees and `filter` passes,
    /// in id order. Not audited: the events carry no personal data (see the module docs).
    pub async fn events_after(
        &self,
        caller: &Caller,
        after: i64,
        filter: &WatchFilter,
        limit: i64,
    ) -> Result<Vec<WatchedEvent>, StoreError> {
        let rows = self
            .query_as(
                caller,
                SELECT,
                &[
                    &after,
                    &filter.municipality_code,
                    &filter.procedure_type,
                    &filter.assigned_official,
                    &limit,
                ],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| WatchedEvent {
                id: r.get(0),
                key: ProcedureKey {
                    municipality_code: r.get(1),
                    id: r.get(2),
                },
                procedure_type: r.get(3),
                seq: r.get(4),
                at: r.get(5),
                action: r.get(6),
                state_before: r.get(7),
                state_after: r.get(8),
                findings: r.get(9),
                assigned_official: r.get(10),
                created_by: r.get(11),
                applicant_code: r.get(12),
                authorities: r.get(13),
            })
            .collect())
    }

    /// The id of the newest committed event (0 when there is none), as `caller` with reach all.
    pub async fn last_event_id(&self, caller: &Caller) -> Result<i64, StoreError> {
        let rows = self
            .query_as(
                caller,
                "SELECT coalesce(max(id), 0) FROM procedure_event",
                &[],
            )
            .await?;
        Ok(rows.first().map_or(0, |r| r.get(0)))
    }
}
