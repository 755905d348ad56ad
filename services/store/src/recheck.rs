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
    /// of its municipality (or every one), of its types (or every type), whose area's bounding
    /// box meets one of its boxes (or anywhere, without an area).
    ///
    /// In one municipality, its active procedures within the boxes' extent are found first
    /// (the GiST index over municipality, state and area, probed once per active state name —
    /// most procedures are closed, and a whole municipality's extent would otherwise read them
    /// all), then each one's bounding box is tested against the union of the boxes (one
    /// prepared geometry: a box meets the union exactly when it meets one of the boxes). Across the country the boxes drive (a probe of
    /// the area index per box), as the extent may be the whole country.
    pub async fn recheck_targets(
        &self,
        caller: &Caller,
        request: &RecheckRequest,
    ) -> Result<Vec<ProcedureKey>, StoreError> {
        let active = "EXISTS (SELECT 1 FROM workflow_state s
                              WHERE s.workflow_id = p.workflow_id AND s.name = p.state AND s.active)
               AND (cardinality($3::text[]) = 0 OR p.procedure_type = ANY ($3))";
        let sql = match (request.has_area, &request.municipality_code) {
            (true, Some(_)) => format!(
                "WITH r AS MATERIALIZED (
                     SELECT ST_UnaryUnion(area) AS area FROM recheck_request WHERE id = $1),
                 a AS MATERIALIZED (SELECT DISTINCT name FROM workflow_state WHERE active)
                 SELECT p.municipality_code::text, p.id::text FROM r, a, procedure p
                 WHERE p.municipality_code = $2 AND p.state = a.name AND p.geom && r.area
                   AND ST_Intersects(ST_Envelope(p.geom), r.area) AND {active}
                 ORDER BY 1, 2"
            ),
            (true, None) => format!(
                "WITH hits AS MATERIALIZED (
                     SELECT DISTINCT p.municipality_code, p.id, p.workflow_id, p.state,
                            p.procedure_type
                     FROM (SELECT (ST_Dump(area)).geom AS box FROM recheck_request
                           WHERE id = $1) a
                     JOIN procedure p ON p.geom && a.box)
                 SELECT p.municipality_code::text, p.id::text FROM hits p
                 WHERE $2::text IS NULL AND {active} ORDER BY 1, 2"
            ),
            (false, _) => format!(
                "SELECT p.municipality_code::text, p.id::text FROM procedure p
                 WHERE $1::bigint IS NOT NULL
                   AND ($2::text IS NULL OR p.municipality_code = $2) AND {active}
                 ORDER BY 1, 2"
            ),
        };
        let rows = self
            .query_as(
                caller,
                &sql,
                &[
                    &request.id,
                    &request.municipality_code,
                    &request.procedure_types,
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

    /// Gives request `id` up (its re-check failed): it may be claimed again at once.
    pub async fn release_recheck(&self, caller: &Caller, id: i64) -> Result<(), StoreError> {
        let tx = self.begin_as(caller).await?;
        tx.query(
            "UPDATE recheck_request SET claimed_until = NULL WHERE id = $1 AND finished_at IS NULL",
            &[&id],
        )
        .await?;
        tx.commit().await?;
        Ok(())
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
