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

mod batch;
pub mod diff;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use kovgis_api::convert::timestamp;
use kovgis_api::v1;
use kovgis_auth::Identity;
use kovgis_store::procedures::{ProcedureKey, ProcedureRow, ReportChange};
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
    /// Procedures loaded, checked and written together (one read, `ValidateGeometries` calls
    /// of [`crate::checker::LIGHT_BATCH`], one transaction for the changed ones).
    pub batch: usize,
    /// Batches re-checked at once by one instance.
    pub concurrency: usize,
    /// How long a claimed request is this instance's before another may take it over.
    pub lease: Duration,
    /// This instance's name in the queue (`claimed_by`).
    pub instance: String,
}

impl Default for RecheckConfig {
    /// 1 m² / 1 %, batches of 128, 4 batches at once, a 10-minute lease, named by host process
    /// and start time.
    fn default() -> Self {
        RecheckConfig {
            tolerance: Tolerance::default(),
            batch: 128,
            concurrency: 4,
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
    /// The newest re-check request the SpatialService's index holds the change of (`None`
    /// before its first build): requests up to it may run.
    pub async fn index_horizon(&self) -> Result<Option<i64>, Status> {
        self.checker.recheck_horizon(on_behalf()).await
    }

    /// Runs every due request the index is ready for, one after another; see the module docs.
    pub async fn run_rechecks(&self) -> Result<RecheckRun, Status> {
        let mut run = RecheckRun::default();
        let Some(horizon) = self.checker.recheck_horizon(on_behalf()).await? else {
            return Ok(run);
        };
        let caller = Caller::system(RECHECK);
        let cfg = &self.recheck;
        let today = kovgis_core::tallinn::date(self.now.now());
        while let Some(request) = self
            .store
            .claim_recheck(&caller, &cfg.instance, today, horizon, cfg.lease)
            .await
            .map_err(store_status)?
        {
            match self.run_request(&caller, &request).await {
                Ok((rechecked, changed)) => {
                    run.requests += 1;
                    run.rechecked += rechecked as usize;
                    run.changed += changed as usize;
                }
                Err(e) => {
                    // Let it run again at the next look, not only when its lease ends (what was
                    // written stays written; the next run finds it unchanged).
                    let _ = self.store.release_recheck(&caller, request.id).await;
                    return Err(e);
                }
            }
        }
        Ok(run)
    }

    /// Re-checks what `request` touches and records it done: (re-checked, changed).
    async fn run_request(
        &self,
        caller: &Caller,
        request: &RecheckRequest,
    ) -> Result<(i32, i32), Status> {
        let cfg = &self.recheck;
        let started = std::time::Instant::now();
        let keys = self
            .store
            .recheck_targets(caller, request)
            .await
            .map_err(store_status)?;
        let targets_ms = started.elapsed().as_millis() as u64;
        let (mut rechecked, mut changed) = (0, 0);
        let mut spent = batch::Spent::default();
        let mut batches = keys.chunks(cfg.batch.max(1));
        let mut running = FuturesUnordered::new();
        loop {
            while running.len() < cfg.concurrency.max(1) {
                match batches.next() {
                    Some(b) => running.push(self.recheck_batch(b, request)),
                    None => break,
                }
            }
            let Some(r) = running.next().await else { break };
            // A failure leaves the request unfinished (see `run_rechecks`).
            let (r, c, t) = r?;
            rechecked += r;
            changed += c;
            spent.add(t);
        }
        drop(running);
        self.store
            .finish_recheck(caller, request.id, rechecked, changed)
            .await
            .map_err(store_status)?;
        tracing::info!(
            request = request.id,
            reason = request.reason,
            rechecked,
            changed,
            targets_ms,
            load_ms = spent.load.as_millis() as u64,
            check_ms = spent.check.as_millis() as u64,
            write_ms = spent.write.as_millis() as u64,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "re-check done (load, check and write: summed over the batches, which overlap)"
        );
        Ok((rechecked, changed))
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
            let Some(old) = self.stored_report(&row).await? else {
                return Ok(Rechecked::Skipped);
            };
            let new = self
                .checker
                .validate(on_behalf(), check_request(&row, Some(timestamp(now))))
                .await?;
            let Some(change) = self.report_change(&row, &old, &new, request) else {
                return Ok(Rechecked::Unchanged);
            };
            let written = self
                .store
                .change_reports(&caller, std::slice::from_ref(&change))
                .await
                .map_err(store_status)?;
            if written.first() == Some(&true) {
                return Ok(Rechecked::Changed(change.expected_version + 1));
            }
        }
        Err(Status::aborted(format!(
            "{} kept changing while it was re-checked; the request runs again",
            key.name()
        )))
    }

    /// The stored report of a procedure that is to be re-checked: `None` when it is not active
    /// in its workflow or was never checked.
    async fn stored_report(
        &self,
        row: &ProcedureRow,
    ) -> Result<Option<v1::ValidationReport>, Status> {
        let workflow = self.workflow_of(row.workflow_id).await?;
        if !workflow.state(&row.state).is_some_and(|s| s.active) {
            return Ok(None);
        }
        Ok(row
            .report
            .as_deref()
            .and_then(|b| v1::ValidationReport::decode(b).ok()))
    }

    /// What re-checking `row` (whose stored report is `old`) with the answer `new` writes:
    /// `None` when no finding changed.
    fn report_change(
        &self,
        row: &ProcedureRow,
        old: &v1::ValidationReport,
        new: &v1::ValidationReport,
        request: &RecheckRequest,
    ) -> Option<ReportChange> {
        let changes = diff::diff(&old.findings, &new.findings, self.recheck.tolerance);
        if changes.is_empty() {
            return None;
        }
        let key = &row.key;
        let version = row.version + 1;
        let (overrides, flagged) = diff::flag_overrides(&row.overrides, &changes, version);
        let verdict = |r: &v1::ValidationReport| {
            v1::Verdict::try_from(r.verdict)
                .map(|v| v.as_str_name().to_owned())
                .unwrap_or_default()
        };
        let (before, after) = (verdict(old), verdict(new));
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
        Some(ReportChange {
            key: key.clone(),
            expected_version: row.version,
            state: row.state.clone(),
            report: new.encode_to_vec(),
            report_id: new.report_id.clone(),
            verdict: after.clone(),
            overrides,
            action: "recheck".into(),
            note,
            changes: json!({
                "findings": diff::changes_json(&changes),
                "verdict": {"before": before, "after": after},
                "report_id": {"before": old.report_id, "after": new.report_id},
                "overrides_flagged": flagged,
                "cause": cause(request),
                "notify": row.assigned_official,
            }),
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
        })
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
            None => format!(
                "a cadastre update (dataset version {})",
                d["dataset_version"]
            ),
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
