//! Background work: deemed agreement, and the re-checks of [`crate::recheck`] (both run by
//! [`ProcedureApi::spawn_jobs`]).
//!
//! Deemed agreement. A coordination request whose answer window has ended
//! without an answer, under a rule that says silence counts as agreement, is recorded as
//! agreed by `system:deemed-agreement` — an event on the procedure naming the rule that
//! applied.
//!
//! Safe on several instances at once: each recording is a change on the version the job read,
//! so when two instances race for one request, one writes and the other's change is stale (or
//! finds the request answered) and is skipped: one event, never two. A request answered by a
//! person in the meantime is left alone the same way.

use std::time::Duration;

use kovgis_core::workflow::{Action, Actor};
use kovgis_store::procedures::{Answer, Change};
use kovgis_store::{AuditAction, AuditEvent, Caller, StoreError};
use serde_json::json;
use tonic::Status;

use crate::ProcedureApi;
use crate::clocks;

/// The subject of the job's changes.
pub const DEEMED_AGREEMENT: &str = "deemed-agreement";

/// Requests looked at per run.
const BATCH: i64 = 500;

impl ProcedureApi {
    /// One run of the deemed-agreement job at the service's "now": the number of requests it
    /// recorded as agreed.
    pub async fn deem_agreements(&self) -> Result<usize, Status> {
        let caller = Caller::system(DEEMED_AGREEMENT);
        let now = self.now.now();
        let today = kovgis_core::tallinn::date(now);
        let due = self
            .store
            .answers_overdue(&caller, today, BATCH)
            .await
            .map_err(crate::service::store_status)?;
        let mut recorded = 0;
        for (key, number) in due {
            let row = match self.store.load_procedure(&caller, &key).await {
                Ok(r) => r,
                Err(StoreError::NotFound(_)) => continue,
                Err(e) => return Err(crate::service::store_status(e)),
            };
            let Some(asked) = row.coordination.iter().find(|c| c.number == number) else {
                continue;
            };
            if asked.status != "pending" || asked.answer_due >= today {
                continue;
            }
            let workflow = self.workflow_of(row.workflow_id).await?;
            let Ok(t) = workflow.check(
                &row.state,
                Action::RecordCoordinationResponse,
                &Actor::system(),
            ) else {
                // The procedure is in a state that takes no answers (it has ended).
                continue;
            };
            let note = format!(
                "no answer from {} by {}: silence counts as agreement under the rule {} — {}",
                asked.authority,
                asked.answer_due,
                clocks::describe(&asked.rule),
                asked.rule["legal_basis"].as_str().unwrap_or_default()
            );
            let change = Change {
                key: key.clone(),
                expected_version: row.version,
                action: "deemed_agreement".into(),
                note,
                state_before: row.state.clone(),
                state_after: t.to.clone(),
                sets: vec![],
                changes: json!({format!("coordination_request.{number}"): {
                    "before": {"status": "pending"},
                    "after": {"status": "deemed_agreed", "rule": asked.rule}}}),
                open: vec![],
                answer: Some(Answer {
                    number,
                    status: "deemed_agreed".into(),
                    text: String::new(),
                    conditions: String::new(),
                }),
                outbox: vec![],
                audit: AuditEvent {
                    municipality_code: Some(key.municipality_code.clone()),
                    rpc: "job:deemed-agreement".into(),
                    action: AuditAction::Write,
                    entity_kind: "procedure".into(),
                    entity_id: key.id.clone(),
                    person_code: row.contents.person_code().map(str::to_owned),
                    purpose: None,
                    details: json!({"action": "deemed_agreement", "request": number}),
                },
            };
            match self.store.change_procedure(&caller, change).await {
                Ok(_) => recorded += 1,
                // Another instance, or a person, was first.
                Err(StoreError::StaleVersion { .. } | StoreError::Invalid(_)) => {}
                Err(e) => return Err(crate::service::store_status(e)),
            }
        }
        Ok(recorded)
    }

    /// Runs the jobs every `every` until the task is aborted.
    pub fn spawn_jobs(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let api = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match api.deem_agreements().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(recorded = n, "deemed agreements recorded"),
                    Err(e) => tracing::warn!(error = %e.message(), "deemed-agreement job failed"),
                }
                match api.run_rechecks().await {
                    Ok(r) if r.requests == 0 => {}
                    Ok(r) => tracing::info!(
                        requests = r.requests,
                        rechecked = r.rechecked,
                        changed = r.changed,
                        "re-checks done"
                    ),
                    Err(e) => tracing::warn!(error = %e.message(), "re-check job failed"),
                }
            }
        })
    }
}
