//! The one way a step is made: who calls, the procedure as stored (named by the request, at
//! the version the caller saw), the workflow's verdict on the action, then the change the
//! handler computed, written by the store in one transaction with its event, coordination
//! requests, outbox messages and audit event.
//!
//! Refusals: a malformed name or version is `INVALID_ARGUMENT`; a procedure the caller cannot
//! see is `NOT_FOUND` (whether it exists elsewhere is not said); a stale version `ABORTED`
//! (also when another writer wins between the read and the write — the store checks again);
//! an action the state does not allow `FAILED_PRECONDITION` naming the state and the actions
//! allowed there; an action the caller may not make `PERMISSION_DENIED` naming who may.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use kovgis_api::v1;
use kovgis_core::InputError;
use kovgis_core::workflow::{Action, Refusal, Workflow};
use kovgis_spatial::ServiceError;
use kovgis_store::procedures::{
    Answer, Change, NewCoordination, OutboxMessage, ProcedureKey, ProcedureRow, Set, ToSql,
};
use kovgis_store::{AuditAction, AuditEvent, StoreError};
use serde_json::{Map, Value, json};
use tonic::Status;

use super::{ProcedureApi, Result};
use crate::view;
use crate::who::Who;

/// A procedure loaded for a step.
pub struct Loaded {
    pub who: Who,
    pub row: ProcedureRow,
    pub workflow: Arc<Workflow>,
    pub now: DateTime<Utc>,
    /// The RPC, for the audit trail.
    pub rpc: String,
}

/// What a step changes, besides the state.
#[derive(Debug, Default)]
pub struct Plan {
    pub sets: Vec<Set>,
    /// `{"field": {"before": …, "after": …}}` for the history.
    pub changes: Map<String, Value>,
    pub note: String,
    pub open: Vec<NewCoordination>,
    pub answer: Option<Answer>,
    pub outbox: Vec<OutboxMessage>,
}

impl Plan {
    /// Sets `column` and records its change.
    pub fn set(
        &mut self,
        column: &'static str,
        value: impl ToSql + Sync + Send + 'static,
        before: Value,
        after: Value,
    ) {
        self.sets.push(Set::value(column, value));
        if before != after {
            self.changes
                .insert(column.to_owned(), json!({"before": before, "after": after}));
        }
    }
}

/// `municipalities/{code}/procedures/{uuid}`.
pub fn parse_name(field: &str, name: &str) -> std::result::Result<ProcedureKey, InputError> {
    let bad = || {
        InputError::new(
            field,
            format!("expected municipalities/{{EHAK code}}/procedures/{{id}}, got '{name}'"),
        )
    };
    let rest = name.strip_prefix("municipalities/").ok_or_else(bad)?;
    let (code, id) = rest.split_once("/procedures/").ok_or_else(bad)?;
    let code = kovgis_core::codes::parse_municipality_code(field, code)?;
    let uuid = id.len() == 36
        && id.bytes().enumerate().all(|(i, b)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                b == b'-'
            } else {
                b.is_ascii_hexdigit()
            }
        });
    if !uuid {
        return Err(bad());
    }
    Ok(ProcedureKey {
        municipality_code: code,
        id: id.to_ascii_lowercase(),
    })
}

/// A workflow refusal as a status.
pub fn refused(r: Refusal) -> Status {
    let message = r.to_string();
    match r {
        Refusal::NotAllowed { state, allowed, .. } => ServiceError::Precondition {
            reason: "ACTION_NOT_ALLOWED",
            message,
            metadata: vec![
                ("state", state),
                (
                    "allowed",
                    allowed
                        .iter()
                        .map(|a| a.as_str())
                        .collect::<Vec<_>>()
                        .join(","),
                ),
            ],
        }
        .into(),
        Refusal::NotPermitted { .. } => ServiceError::Denied {
            reason: "NOT_PERMITTED_IN_WORKFLOW",
            message,
        }
        .into(),
        Refusal::UnknownState { .. } => ServiceError::Internal(message).into(),
    }
}

/// A precondition of the procedure's contents (not of its state) that is not met.
pub fn precondition(reason: &'static str, message: impl Into<String>) -> Status {
    ServiceError::Precondition {
        reason,
        message: message.into(),
        metadata: vec![],
    }
    .into()
}

pub fn input(e: InputError) -> Status {
    ServiceError::Input(e).into()
}

pub fn store(e: StoreError) -> Status {
    ServiceError::Store(e).into()
}

impl ProcedureApi {
    /// Who calls `method` about the procedure `name`, which they saw at `version`.
    pub(super) async fn load(
        &self,
        extensions: &http::Extensions,
        method: &str,
        name: &str,
        version: i64,
    ) -> Result<Loaded> {
        let who = Who::of(extensions, method)?;
        let key = parse_name("name", name).map_err(input)?;
        if version < 1 {
            return Err(input(InputError::new(
                "version",
                "required: the version the change was made on (from the procedure as read)",
            )));
        }
        let row = self
            .store
            .load_procedure(&who.caller, &key)
            .await
            .map_err(store)?;
        if !who.may_type(&row.procedure_type) {
            return Err(store(StoreError::NotFound(format!(
                "{} not found",
                key.name()
            ))));
        }
        if row.version != version {
            return Err(store(StoreError::StaleVersion {
                name: key.name(),
                expected: version,
                current: row.version,
            }));
        }
        let workflow = self.workflow(row.workflow_id).await?;
        Ok(Loaded {
            who,
            row,
            workflow,
            now: self.now.now(),
            rpc: format!("kovgis.v1.ProcedureService/{method}"),
        })
    }

    /// The workflow's verdict on `action` for the loaded procedure: the state it leads to.
    pub(super) fn check(l: &Loaded, action: Action) -> Result<String> {
        l.workflow
            .check(&l.row.state, action, &l.who.actor)
            .map(|t| t.to.clone())
            .map_err(refused)
    }

    /// Writes `plan` as the step `action` to state `to`, and answers with the procedure.
    pub(super) async fn commit(
        &self,
        l: Loaded,
        action: &str,
        to: String,
        mut plan: Plan,
    ) -> Result<v1::Procedure> {
        if to != l.row.state {
            plan.changes
                .insert("state".into(), json!({"before": l.row.state, "after": to}));
        }
        let change = Change {
            key: l.row.key.clone(),
            expected_version: l.row.version,
            action: action.to_owned(),
            note: plan.note,
            state_before: l.row.state.clone(),
            state_after: to,
            sets: plan.sets,
            changes: Value::Object(plan.changes),
            open: plan.open,
            answer: plan.answer,
            outbox: plan.outbox,
            audit: AuditEvent {
                municipality_code: Some(l.row.key.municipality_code.clone()),
                rpc: l.rpc.clone(),
                action: AuditAction::Write,
                entity_kind: "procedure".into(),
                entity_id: l.row.key.id.clone(),
                person_code: l.row.contents.person_code().map(str::to_owned),
                purpose: None,
                details: json!({"action": action}),
            },
        };
        let row = self
            .store
            .change_procedure(&l.who.caller, change)
            .await
            .map_err(store)?;
        self.checker
            .procedure_changed(&l.row.key.municipality_code, &l.row.key.id)
            .await;
        Ok(view::procedure(
            &row,
            &l.workflow,
            &l.who.actor,
            self.now.now(),
        ))
    }
}
