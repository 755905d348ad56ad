//! The re-check queue (migration 0013), from the re-checking job's side: claiming a due request,
//! finding the active procedures it touches, and recording that it is done.
//!
//! Requests are written where the change happens, in the change's own transaction: an import
//! (`kovgis_recheck_dataset`, called by the import's merge) or a rule version (a trigger on
//! `validation_rule`). A request is due from its day (Europe/Tallinn): a rule version valid from
//! tomorrow is re-checked tomorrow. Claiming is one statement with `FOR UPDATE SKIP LOCKED` and
//! a lease, so two instances never work one request at once; an instance that dies loses only
//! its lease. The job also waits for its validation index: a request newer than the index's
//! horizon (the newest request whose data the index was built from) is not claimed yet.
//!
//! Every call runs as a [`Caller`] with reach `all` (the queue is national bookkeeping).

use std::time::Duration;

use chrono::NaiveDate;

use crate::procedures::ProcedureKey;
use crate::{Caller, Store, StoreError};

/// A claimed request.
#[derive(Debug, Clone, PartialEq)]
pub struct RecheckRequest {
    pub id: i64,
    /// `dataset` or `rule`.
    pub reason: String,
    pub detail: serde_json::Value,
    /// `None`: every municipality.
    pub municipality_code: Option<String>,
    /// Whether the request names an area (else the whole municipality or country).
    pub has_area: bool,
    /// Empty: every type.
    pub procedure_types: Vec<String>,
    pub due_on: NaiveDate,
}

impl Store {
    /// Claims the oldest request due on `today` and not newer than `horizon`, for `lease`, as
    /// `instance`; `None` when there is none.
    pub async fn claim_recheck(
        &self,
        caller: &Caller,
        instance: &str,
        today: NaiveDate,
        horizon: i64,
        lease: Duration,
    ) -> Result<Option<RecheckRequest>, StoreError> {
        let tx = self.begin_as(caller).await?;
        let lease_s = lease.as_secs_f64();
        let rows = tx
            .query(
                "UPDATE recheck_request r SET claimed_by = $1,
                        claimed_until = now() + make_interval(secs => $4)
                 WHERE r.id = (SELECT id FROM recheck_request
                               WHERE finished_at IS NULL AND due_on <= $2 AND id <= $3
                                 AND (claimed_until IS NULL OR claimed_until < now())
                               ORDER BY due_on, id LIMIT 1 FOR UPDATE SKIP LOCKED)
                 RETURNING r.id, r.reason, r.detail, r.municipality_code::text, r.area IS NOT NULL,
                           r.procedure_types, r.due_on",
                &[&instance, &today, &horizon, &lease_s],
            )
            .await?;
        tx.commit().await?;
        Ok(rows.first().map(|r| RecheckRequest {
            id: r.get(0),
            reason: r.get(1),
            detail: r.get(2),
            municipality_code: r.get(3),
            has_area: r.get(4),
            procedure_types: r.get(5),
            due_on: r.get(6),
        }))
    }

    /// The active procedures (their state is active in their workflow) the request touches:
    /// of its municipality (or every one), of its types (or every type), whose area meets one
    /// of its boxes (or anywhere, without an area). The procedure index (GiST) decides.
    pub async fn recheck_targets(
        &self,
        caller: &Caller,
        request: &RecheckRequest,
    ) -> Result<Vec<ProcedureKey>, StoreError> {
        let sql = "SELECT DISTINCT p.municipality_code::text, p.id::text
             FROM procedure p
             JOIN workflow_state s ON s.workflow_id = p.workflow_id AND s.name = p.state AND s.active
             LEFT JOIN LATERAL (SELECT (ST_Dump(r.area)).geom AS box
                                FROM recheck_request r WHERE r.id = $1) a ON true
             WHERE ($2::text IS NULL OR p.municipality_code = $2)
               AND (cardinality($3::text[]) = 0 OR p.procedure_type = ANY ($3))
               AND ($4 = false OR p.geom && a.box)
             ORDER BY 1, 2";
        let rows = self
            .query_as(
                caller,
                sql,
                &[
                    &request.id,
                    &request.municipality_code,
                    &request.procedure_types,
                    &request.has_area,
                ],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| ProcedureKey {
                municipality_code: r.get(0),
                id: r.get(1),
            })
            .collect())
    }

    /// Records that request `id` is done: `rechecked` procedures, `changed` of them with an
    /// event. Done by whoever finishes first (a second finish of an expired lease changes
    /// nothing).
    pub async fn finish_recheck(
        &self,
        caller: &Caller,
        id: i64,
        rechecked: i32,
        changed: i32,
    ) -> Result<(), StoreError> {
        let tx = self.begin_as(caller).await?;
        tx.query(
            "UPDATE recheck_request SET finished_at = now(), rechecked = $2, changed = $3
             WHERE id = $1 AND finished_at IS NULL",
            &[&id, &rechecked, &changed],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
