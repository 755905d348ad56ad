//! A stored procedure as the API gives it: the contents, the stored report (decoded as it was
//! checked), overrides, coordination requests, opinions, the decision clock as it stands at
//! "now", and the actions the caller may take in the current state.

use chrono::{DateTime, Utc};
use kovgis_api::convert::timestamp;
use kovgis_api::v1;
use kovgis_core::workflow::{Actor, Workflow};
use kovgis_store::procedures::{CoordinationRow, ProcedureRow};
use prost::Message;
use serde_json::Value;

use crate::{clocks, contents};

fn micros(v: &Value) -> Option<prost_types::Timestamp> {
    v.as_i64()
        .and_then(DateTime::from_timestamp_micros)
        .map(timestamp)
}

fn text(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or_default().to_owned()
}

pub fn coordination_status(s: &str) -> v1::CoordinationStatus {
    match s {
        "pending" => v1::CoordinationStatus::Pending,
        "agreed" => v1::CoordinationStatus::Agreed,
        "agreed_with_conditions" => v1::CoordinationStatus::AgreedWithConditions,
        "refused" => v1::CoordinationStatus::Refused,
        "deemed_agreed" => v1::CoordinationStatus::DeemedAgreed,
        _ => v1::CoordinationStatus::Unspecified,
    }
}

fn coordination(c: &CoordinationRow) -> v1::CoordinationRequest {
    v1::CoordinationRequest {
        number: c.number,
        authority: c.authority.clone(),
        finding_keys: c.finding_keys.clone(),
        note: c.note.clone(),
        requested_at: Some(timestamp(c.requested_at)),
        answer_due: c.answer_due.to_string(),
        status: coordination_status(&c.status) as i32,
        response_text: c.response_text.clone(),
        conditions: c.conditions.clone(),
        responded_by: c.responded_by.clone().unwrap_or_default(),
        responded_at: c.responded_at.map(timestamp),
    }
}

/// The procedure `row` as `actor` sees it at `now` under `workflow`.
pub fn procedure(
    row: &ProcedureRow,
    workflow: &Workflow,
    actor: &Actor,
    now: DateTime<Utc>,
) -> v1::Procedure {
    let clock = row.clock_rule.as_ref().map(|rule| {
        let status = clocks::status(row, now);
        v1::ClockInfo {
            period: clocks::describe(rule),
            deadline: status
                .and_then(|s| s.deadline)
                .map(|d| d.to_string())
                .unwrap_or_default(),
            paused: status.is_some_and(|s| s.paused),
            // A procedure that has ended is not overdue, whatever its clock says.
            overdue: row.deadline.is_some() && status.is_some_and(|s| s.overdue),
            days_counted: status.map_or(0, |s| i32::from(s.days_counted)),
        }
    });
    let decision = row.decision.as_ref().map(|d| v1::DecisionRecord {
        decision: match d["decision"].as_str() {
            Some("grant") => v1::Decision::Grant,
            Some("refuse") => v1::Decision::Refuse,
            _ => v1::Decision::Unspecified,
        } as i32,
        reasons: text(d, "reasons"),
        conditions: text(d, "conditions"),
        by: text(d, "by"),
        at: micros(&d["at_us"]),
    });
    v1::Procedure {
        name: row.key.name(),
        municipality_code: row.key.municipality_code.clone(),
        r#type: contents::type_of(&row.procedure_type) as i32,
        state: row.state.clone(),
        version: row.version,
        contents: Some(contents::write(&row.contents)),
        assigned_official: row.assigned_official.clone().unwrap_or_default(),
        report: row
            .report
            .as_deref()
            .and_then(|b| v1::ValidationReport::decode(b).ok()),
        overrides: row
            .overrides
            .as_array()
            .into_iter()
            .flatten()
            .map(|o| v1::FindingOverride {
                finding_key: text(o, "finding_key"),
                reason: text(o, "reason"),
                by: text(o, "by"),
                at: micros(&o["at_us"]),
                needs_review: o.get("review").is_some(),
                review_reason: text(&o["review"], "change"),
                review_version: o["review"]["version"].as_i64().unwrap_or_default(),
            })
            .collect(),
        blocking_override_reason: row.blocking_override.clone().unwrap_or_default(),
        coordination_requests: row.coordination.iter().map(coordination).collect(),
        opinions: row
            .opinions
            .as_array()
            .into_iter()
            .flatten()
            .map(|o| v1::PublicOpinion {
                number: o["number"].as_i64().unwrap_or(0) as i32,
                received_on: text(o, "received_on"),
                objection: o["objection"].as_bool().unwrap_or(false),
                summary: text(o, "summary"),
            })
            .collect(),
        public_display: row.display.map(|(a, b)| v1::DatePeriod {
            first_day: a.to_string(),
            last_day: b.to_string(),
        }),
        clock,
        decision,
        created_at: Some(timestamp(row.created_at)),
        updated_at: Some(timestamp(row.updated_at)),
        submitted_at: row.submitted_at.map(timestamp),
        workflow_version: row.workflow_id,
        allowed_actions: workflow
            .actions_for(&row.state, actor)
            .into_iter()
            .map(|a| a.as_str().to_owned())
            .collect(),
    }
}

/// The key of a finding: rule, layer, feature and outcome code. Stable across re-checks of the
/// same data (the re-checks of issue 13 compare findings by it).
pub fn finding_key(f: &v1::Finding) -> String {
    let layer = if f.layer_resource_name.is_empty() {
        &f.layer_name
    } else {
        &f.layer_resource_name
    };
    format!("{}|{}|{}|{}", f.rule, layer, f.feature_id, f.code)
}
