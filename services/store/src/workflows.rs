//! Loading procedure workflows (migration 0010) as the caller, and building the kovgis-core
//! [`Workflow`] from them.
//!
//! The version in force for a municipality, a procedure type and a day is the municipality's
//! own version valid that day, else the national default valid that day; among overlapping
//! versions of one owner the latest `valid_from` (then the highest version number) wins, as for
//! validation rules. The version, its states and its transitions come in one statement (one
//! snapshot, one round trip) through the caller-scoped read of [`crate::caller`], so row-level
//! security decides what the caller sees: another municipality's versions never, and nothing
//! at all without an identity. Every loaded graph is validated; one that fails is an error
//! naming its problems ([`StoreError::BadWorkflow`]), never a panic. Writing versions is not
//! here yet (the seed and SQL by hand).

use chrono::NaiveDate;
use kovgis_core::workflow::{Action, Clock, Permit, State, Transition, Workflow};
use serde_json::Value;
use tokio_postgres::Row;

use crate::{Caller, Store, StoreError};

/// A workflow version as stored, with its validated graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowVersion {
    /// `workflow_version.id`: what a procedure records to say which graph it follows.
    pub id: i64,
    /// The municipality's own version (EHAK code), or `None` for the national default.
    pub municipality_code: Option<String>,
    pub version: i32,
    pub valid_from: NaiveDate,
    /// Exclusive; `None`: open-ended.
    pub valid_to: Option<NaiveDate>,
    pub workflow: Workflow,
}

/// The columns of a version with its states and transitions in order, as JSON arrays.
const COLUMNS: &str = "v.id, v.municipality_code::text, v.procedure_type, v.version, v.valid_from,
    v.valid_to,
    (SELECT coalesce(json_agg(json_build_object('name', s.name, 'terminal', s.terminal,
                'clock', s.clock, 'active', s.active, 'public_display', s.public_display)
                ORDER BY s.position), '[]')
     FROM workflow_state s WHERE s.workflow_id = v.id),
    (SELECT coalesce(json_agg(json_build_object('action', t.action, 'from', t.from_state,
                'to', t.to_state, 'permits', t.permits) ORDER BY t.position), '[]')
     FROM workflow_transition t WHERE t.workflow_id = v.id)";

impl Store {
    /// The workflow of `procedure_type` in force in `municipality` on `on`, as `caller` may see
    /// it: the municipality's own version valid that day, else the national default.
    /// [`StoreError::NoWorkflow`] when there is none (or the caller may see none).
    pub async fn workflow_in_force(
        &self,
        caller: &Caller,
        municipality: &str,
        procedure_type: &str,
        on: NaiveDate,
    ) -> Result<WorkflowVersion, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM workflow_version v
             WHERE v.procedure_type = $2
               AND (v.municipality_code IS NULL OR v.municipality_code::text = $1)
               AND v.valid_from <= $3 AND (v.valid_to IS NULL OR v.valid_to > $3)
             ORDER BY v.municipality_code NULLS LAST, v.valid_from DESC, v.version DESC
             LIMIT 1"
        );
        let rows = self
            .query_as(caller, &sql, &[&municipality, &procedure_type, &on])
            .await?;
        match rows.first() {
            Some(row) => version_of(row),
            None => Err(StoreError::NoWorkflow(format!(
                "no {procedure_type} workflow is in force in {municipality} on {on}"
            ))),
        }
    }

    /// The workflow version `id` (the one a procedure recorded), as `caller` may see it.
    pub async fn workflow_version(
        &self,
        caller: &Caller,
        id: i64,
    ) -> Result<WorkflowVersion, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM workflow_version v WHERE v.id = $1");
        let rows = self.query_as(caller, &sql, &[&id]).await?;
        match rows.first() {
            Some(row) => version_of(row),
            None => Err(StoreError::NoWorkflow(format!(
                "no workflow version {id} is visible"
            ))),
        }
    }
}

/// A row of [`COLUMNS`] as a validated version.
fn version_of(row: &Row) -> Result<WorkflowVersion, StoreError> {
    let id: i64 = row.get(0);
    let municipality_code: Option<String> = row.get(1);
    let procedure_type: String = row.get(2);
    let version: i32 = row.get(3);
    let label = format!(
        "{procedure_type} v{version} ({}, id {id})",
        municipality_code.as_deref().unwrap_or("national")
    );
    let bad = |reason: String| StoreError::BadWorkflow {
        version: label.clone(),
        reason,
    };
    let states_json: Value = row.get(6);
    let transitions_json: Value = row.get(7);
    let states = states_json
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| state_of(s).ok_or_else(|| bad(format!("unreadable state {s}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let transitions = transitions_json
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| transition_of(t).map_err(&bad))
        .collect::<Result<Vec<_>, _>>()?;
    let workflow = Workflow::validated(&procedure_type, states, transitions)
        .map_err(|e| bad(e.to_string()))?;
    Ok(WorkflowVersion {
        id,
        municipality_code,
        version,
        valid_from: row.get(4),
        valid_to: row.get(5),
        workflow,
    })
}

fn state_of(v: &Value) -> Option<State> {
    Some(State {
        name: v["name"].as_str()?.to_owned(),
        terminal: v["terminal"].as_bool()?,
        clock: Clock::parse(v["clock"].as_str()?)?,
        active: v["active"].as_bool()?,
        public_display: v["public_display"].as_bool()?,
    })
}

/// A stored transition; an action this kovgis does not know is refused here. A permit string
/// that parses as nothing is kept as a scope, which validation then names as a bad permit (so
/// that every problem of the graph is reported at once).
fn transition_of(v: &Value) -> Result<Transition, String> {
    let text = |k: &str| {
        v[k].as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("unreadable transition {v}"))
    };
    let action = text("action")?;
    let action = Action::parse(&action).ok_or_else(|| format!("unknown action {action:?}"))?;
    let permits = v["permits"]
        .as_array()
        .ok_or_else(|| format!("unreadable transition {v}"))?
        .iter()
        .map(|p| {
            let p = p.as_str().unwrap_or_default();
            Permit::parse(p).unwrap_or_else(|| Permit::Scope(p.to_owned()))
        })
        .collect();
    Ok(Transition {
        action,
        from: text("from")?,
        to: text("to")?,
        permits,
    })
}
