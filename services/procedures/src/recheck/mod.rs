//! Re-checks: keeping the stored reports of active procedures true when the data or the rules
//! change.
//!
//! A change enqueues a request where it happens (an import, a rule version: kovgis-store
//! `recheck`). The job ([`ProcedureApi::run_rechecks`], run by [`ProcedureApi::spawn_jobs`])
//! waits until its SpatialService's index holds the change (the index's re-check horizon),
//! claims a due request, and re-checks the active procedures whose area the change touches —
//! the request's boxes against the procedures' GiST index decide, nothing else is checked. Each
//! procedure is checked again as `system:recheck` with the data in force now and the rules in
//! force today (the service's clock), and its findings are compared with the stored ones by
//! identity ([`diff`]). A changed answer becomes one `recheck` event on the procedure with the
//! old and new findings, the new report, and the overrides kept or flagged for review; the
//! event reaches the assigned official through `WatchProcedures`. An unchanged answer (a new
//! dataset version saying the same) writes nothing.
//!
//! Idempotent and safe on several instances: a request is claimed by one instance at a time
//! (with a lease), and each re-check is a change on the version it read — when two instances
//! re-check one procedure at once, one writes the event and the other's change is stale; read
//! again, the stored report already says what it found, so it writes nothing.

pub mod diff;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use kovgis_api::convert::timestamp;
use kovgis_api::v1;
use kovgis_auth::Identity;
use kovgis_store::procedures::{Change, ProcedureKey, Set};
use kovgis_store::recheck::RecheckRequest;
use kovgis_store::{AuditAction, AuditEvent, Caller, StoreError};
use prost::Message;
use serde_json::{Value, json};
use tonic::Status;

use crate::ProcedureApi;
use crate::checker::OnBehalf;
use crate::service::{check_request, store_status};
pub use diff::Tolerance;

/// The subject of the re-checks.
pub const RECHECK: &str = "recheck";

/// How re-checks run.
#[derive(Debug, Clone)]
pub struct RecheckConfig {
    /// When an overlap area counts as changed.
    pub tolerance: Tolerance,
    /// Procedures re-checked at once by one instance.
    pub concurrency: usize,
    /// How long a claimed request is this instance's before another may take it over.
    pub lease: Duration,
    /// This instance's name in the queue (`claimed_by`).
    pub instance: String,
}

impl Default for RecheckConfig {
    /// 1 m² / 1 %, 8 at once, a 10-minute lease, named by host process and start time.
    fn default() -> Self {
        RecheckConfig {
            tolerance: Tolerance::default(),
            concurrency: 8,
            lease: Duration::from_secs(600),
            instance: format!(
                "pid{}-{}",
                std::process::id(),
                Utc::now().timestamp_micros()
            ),
        }
    }
}

/// What one run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecheckRun {
    /// Requests finished.
    pub requests: usize,
    /// Procedures re-checked.
    pub rechecked: usize,
    /// Procedures whose findings changed (one event each).
    pub changed: usize,
}

/// What re-checking one procedure did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rechecked {
    /// Its findings changed: the event's version.
    Changed(i64),
    /// The same answer: nothing written.
    Unchanged,
    /// Not active (or gone, or never checked): not re-checked.
    Skipped,
}

fn on_behalf() -> OnBehalf {
    let mut id = Identity::system(RECHECK);
    // Validations in every municipality.
    id.scopes.insert("kovgis:read:all".into());
    OnBehalf {
        identity: Arc::new(id),
        authorization: None,
    }
}

impl ProcedureApi {
    /// Runs every due request the index is ready for, one after another; see the module docs.
    pub async fn run_rechecks(&self) -> Result<RecheckRun, Status> {
        let mut run = RecheckRun::default();
        let Some(horizon) = self.checker.recheck_horizon(on_behalf()).await? else {
            return Ok(run);
        };
        let caller = Caller::system(RECHECK);
        let cfg = &self.recheck;
        let now = self.now.now();
        let today = kovgis_core::tallinn::date(now);
        while let Some(request) = self
            .store
            .claim_recheck(&caller, &cfg.instance, today, horizon, cfg.lease)
            .await
            .map_err(store_status)?
        {
            let keys = self
                .store
                .recheck_targets(&caller, &request)
                .await
                .map_err(store_status)?;
            let (mut rechecked, mut changed) = (0, 0);
            let mut results = futures::stream::iter(keys)
                .map(|key| {
                    let request = &request;
                    async move { self.recheck_procedure(&key, request, now).await }
                })
                .buffer_unordered(cfg.concurrency.max(1));
            while let Some(r) = results.next().await {
                // A failure leaves the request unfinished: its lease ends and it runs again
                // (what was written stays written; a second run finds it unchanged).
                match r? {
                    Rechecked::Changed(_) => {
                        rechecked += 1;
                        changed += 1;
                    }
                    Rechecked::Unchanged => rechecked += 1,
                    Rechecked::Skipped => {}
                }
            }
            drop(results);
            self.store
                .finish_recheck(&caller, request.id, rechecked, changed)
                .await
                .map_err(store_status)?;
            tracing::info!(
                request = request.id,
                reason = request.reason,
                rechecked,
                changed,
                "re-check done"
            );
            run.requests += 1;
            run.rechecked += rechecked as usize;
            run.changed += changed as usize;
        }
        Ok(run)
    }

    /// Re-checks one procedure for `request` at `now`; see the module docs.
    pub async fn recheck_procedure(
        &self,
        key: &ProcedureKey,
        request: &RecheckRequest,
        now: DateTime<Utc>,
    ) -> Result<Rechecked, Status> {
        let caller = Caller::system(RECHECK);
        // A stale version means someone changed it meanwhile: read it again and compare again.
        for _ in 0..5 {
            let row = match self.store.load_procedure(&caller, key).await {
                Ok(r) => r,
                Err(StoreError::NotFound(_)) => return Ok(Rechecked::Skipped),
                Err(e) => return Err(store_status(e)),
            };
            let workflow = self.workflow_of(row.workflow_id).await?;
            let active = workflow.state(&row.state).is_some_and(|s| s.active);
            let Some(old) = row
                .report
                .as_deref()
                .and_then(|b| v1::ValidationReport::decode(b).ok())
            else {
                return Ok(Rechecked::Skipped);
            };
            if !active {
                return Ok(Rechecked::Skipped);
            }
            let new = self
                .checker
                .validate(on_behalf(), check_request(&row, Some(timestamp(now))))
                .await?;
            let changes = diff::diff(&old.findings, &new.findings, self.recheck.tolerance);
            if changes.is_empty() {
                return Ok(Rechecked::Unchanged);
            }
            let version = row.version + 1;
            let (overrides, flagged) = diff::flag_overrides(&row.overrides, &changes, version);
            let verdict = |r: &v1::ValidationReport| {
                v1::Verdict::try_from(r.verdict)
                    .map(|v| v.as_str_name().to_owned())
                    .unwrap_or_default()
            };
            let (before, after) = (verdict(&old), verdict(&new));
            let note = format!(
                "re-check after {}: {} finding(s) changed{}",
                describe(request),
                changes.len(),
                if flagged.is_empty() {
                    String::new()
                } else {
                    format!("; override(s) to review: {}", flagged.join(", "))
                }
            );
            let change = Change {
                key: key.clone(),
                expected_version: row.version,
                action: "recheck".into(),
                note,
                state_before: row.state.clone(),
                state_after: row.state.clone(),
                sets: vec![
                    Set::value("report", Some(new.encode_to_vec())),
                    Set::value("report_id", Some(new.report_id.clone())),
                    Set::value("verdict", Some(after.clone())),
                    Set::value("overrides", overrides),
                ],
                changes: json!({
                    "findings": diff::changes_json(&changes),
                    "verdict": {"before": before, "after": after},
                    "report_id": {"before": old.report_id, "after": new.report_id},
                    "overrides_flagged": flagged,
                    "cause": cause(request),
                    "notify": row.assigned_official,
                }),
                open: vec![],
                answer: None,
                outbox: vec![],
                audit: AuditEvent {
                    municipality_code: Some(key.municipality_code.clone()),
                    rpc: "job:recheck".into(),
                    action: AuditAction::Write,
                    entity_kind: "procedure".into(),
                    entity_id: key.id.clone(),
                    person_code: row.contents.person_code().map(str::to_owned),
                    purpose: None,
                    details: json!({"action": "recheck", "request": request.id,
                                    "changed": changes.len()}),
                },
            };
            match self.store.change_procedure(&caller, change).await {
                Ok(_) => return Ok(Rechecked::Changed(version)),
                Err(StoreError::StaleVersion { .. }) => continue,
                Err(e) => return Err(store_status(e)),
            }
        }
        Err(Status::aborted(format!(
            "{} kept changing while it was re-checked; the request runs again",
            key.name()
        )))
    }
}

/// The cause as the event records it.
fn cause(r: &RecheckRequest) -> Value {
    json!({"request": r.id, "reason": r.reason, "detail": r.detail, "due_on": r.due_on.to_string()})
}

/// The cause in words, for the event's note.
fn describe(r: &RecheckRequest) -> String {
    let d = &r.detail;
    match r.reason.as_str() {
        "dataset" => match d["layer"].as_str() {
            Some(layer) => format!(
                "a new version of layer {layer} (dataset version {})",
                d["dataset_version"]
            ),
            None => format!("a cadastre update (dataset version {})", d["dataset_version"]),
        },
        "rule" => format!(
            "rule {} version {} applying from {}",
            d["rule"].as_str().unwrap_or("?"),
            d["version"],
            r.due_on
        ),
        other => other.to_owned(),
    }
}
