//! `SubmitProcedure` and `OverrideFinding`.
//!
//! Submission checks the draft on the map (the [`crate::SpatialChecker`], with the submitter's
//! identity) and stores the whole report with the procedure — its id names exactly the rule and
//! dataset versions it ran on. A blocking finding stops the submission, unless an approver
//! writes why it may go on. Every failed finding that names an authority goes into one
//! coordination request per authority (with that authority's answer window from the clock
//! rules, and a message in the outbox). The decision clock starts, when the type has one.

use std::collections::BTreeMap;

use kovgis_api::v1;
use kovgis_core::InputError;
use kovgis_core::statutory_clock::{ClockRule, clock_name};
use kovgis_core::workflow::{Action, INITIAL_STATE};
use kovgis_spatial::ServiceError;
use kovgis_store::procedures::{NewCoordination, OutboxMessage};
use prost::Message;
use serde_json::{Value, json};
use tonic::Request;

use super::change::{Loaded, Plan, input, precondition, store};
use super::{ProcedureApi, Result};
use crate::checker::{OnBehalf, authorization_of};
use crate::clocks::{self, CALENDAR};
use crate::contents::{MAX_TEXT, text};
use crate::view::finding_key;

/// Clock rules and workflows are public configuration: read as the service, whoever calls.
pub(super) fn config_caller() -> kovgis_store::Caller {
    kovgis_store::Caller::system("procedure-config")
}

/// The spatial check of a stored procedure's contents, at `as_of` (`None`: now).
pub(crate) fn check_request(
    row: &kovgis_store::procedures::ProcedureRow,
    as_of: Option<prost_types::Timestamp>,
) -> v1::ValidateGeometryRequest {
    let c = &row.contents;
    v1::ValidateGeometryRequest {
        municipality_code: row.key.municipality_code.clone(),
        procedure_type: row.procedure_type.clone(),
        geometry: Some(v1::Geometry {
            value: Some(v1::geometry::Value::Wkb(kovgis_core::output::to_wkb(
                &geo::Geometry::MultiPolygon(c.geometry.clone()),
            ))),
            epsg: 3301,
        }),
        intended_use: c.intended_use.clone(),
        parcel_codes: c.parcel_codes.clone(),
        as_of,
        locale: "et".into(),
        output: None,
        // Other procedures on the same ground in the same days (CONFLICTS_WITH_PROCEDURE), not
        // counting this one.
        works_period: c.works.map(|(a, b)| v1::WorksPeriod {
            first_day: a.to_string(),
            last_day: b.to_string(),
        }),
        procedure_id: row.key.id.clone(),
    }
}

/// Coordination requests one procedure may have.
pub const MAX_REQUESTS: usize = 100;

impl ProcedureApi {
    pub(super) async fn submit(
        &self,
        request: Request<v1::SubmitProcedureRequest>,
    ) -> Result<v1::Procedure> {
        let req = request.get_ref();
        let l = self
            .load(
                request.extensions(),
                "SubmitProcedure",
                &req.name,
                req.version,
            )
            .await?;
        let to = Self::check(&l, Action::Submit)?;
        let override_reason = req.override_blocking_reason.trim();
        if !override_reason.is_empty() {
            if !l.who.has_role("approver") {
                return Err(ServiceError::Denied {
                    reason: "NOT_ALLOWED",
                    message: "only an approver may submit despite blocking findings".into(),
                }
                .into());
            }
            text("override_blocking_reason", override_reason, MAX_TEXT).map_err(input)?;
        }
        // The data and rules in force now (the real now: the injected clock moves deadlines,
        // not the map).
        let check = check_request(&l.row, None);
        // The clock rules (both clocks, one read) while the check runs.
        let (report, rules) = tokio::join!(
            self.checker.validate(
                OnBehalf {
                    identity: l.who.access.identity.clone(),
                    authorization: authorization_of(&request),
                },
                check,
            ),
            self.clock_rules(&l)
        );
        let report = report?;
        let failed = |f: &&v1::Finding| f.status == v1::FindingStatus::Failed as i32;
        let blocking: Vec<String> = report
            .findings
            .iter()
            .filter(failed)
            .filter(|f| f.severity == v1::Severity::Blocking as i32)
            .map(finding_key)
            .collect();
        if !blocking.is_empty() && override_reason.is_empty() {
            return Err(ServiceError::Precondition {
                reason: "BLOCKING_FINDINGS",
                message: format!(
                    "the spatial check found {} blocking finding(s): {}; an approver may submit \
                     despite them with override_blocking_reason",
                    blocking.len(),
                    blocking.join(", ")
                ),
                metadata: vec![("findings", blocking.join(";"))],
            }
            .into());
        }
        let mut by_authority: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for f in report.findings.iter().filter(failed) {
            if !f.authority.trim().is_empty() {
                by_authority
                    .entry(f.authority.trim().to_owned())
                    .or_default()
                    .push(finding_key(f));
            }
        }
        let rules = rules?;
        let mut plan = Plan::default();
        self.open_requests(&l, &rules, &mut plan, by_authority, "")?;
        self.start_decision_clock(&l, &rules, &mut plan)?;
        let verdict = v1::Verdict::try_from(report.verdict)
            .map(|v| v.as_str_name().to_owned())
            .unwrap_or_default();
        plan.set(
            "report",
            Some(report.encode_to_vec()),
            Value::Null,
            Value::Null,
        );
        plan.set(
            "report_id",
            Some(report.report_id.clone()),
            Value::Null,
            json!(report.report_id),
        );
        plan.set(
            "verdict",
            Some(verdict.clone()),
            Value::Null,
            json!(verdict),
        );
        plan.set(
            "blocking_override",
            (!override_reason.is_empty()).then(|| override_reason.to_owned()),
            Value::Null,
            json!((!override_reason.is_empty()).then_some(override_reason)),
        );
        plan.set(
            "submitted_at",
            Some(l.now),
            Value::Null,
            json!(l.now.to_rfc3339()),
        );
        if !blocking.is_empty() {
            plan.note = format!("submitted despite blocking findings: {override_reason}");
        }
        self.commit(l, "submit", to, plan).await
    }

    /// The clock rules of the loaded procedure's type in force in its municipality today, one
    /// per clock (one read).
    pub(super) async fn clock_rules(&self, l: &Loaded) -> Result<Vec<ClockRule>> {
        self.store
            .clock_rules_in_force(
                &config_caller(),
                &l.row.key.municipality_code,
                &l.row.procedure_type,
                kovgis_core::tallinn::date(l.now),
            )
            .await
            .map_err(store)
    }

    /// Opens one coordination request per authority (numbered after the existing ones), each
    /// with its answer window (from `rules`, [`Self::clock_rules`]), records them with the
    /// authorities the procedure is addressed to, and puts a message for each into the outbox.
    pub(super) fn open_requests(
        &self,
        l: &Loaded,
        rules: &[ClockRule],
        plan: &mut Plan,
        requests: BTreeMap<String, Vec<String>>,
        note: &str,
    ) -> Result<()> {
        if requests.is_empty() {
            return Ok(());
        }
        if l.row.coordination.len() + requests.len() > MAX_REQUESTS {
            return Err(precondition(
                "TOO_MANY_REQUESTS",
                format!("a procedure has at most {MAX_REQUESTS} coordination requests"),
            ));
        }
        let on = kovgis_core::tallinn::date(l.now);
        let rule = rules
            .iter()
            .find(|r| r.clock == clock_name::COORDINATION_ANSWER)
            .ok_or_else(|| {
                ServiceError::Internal(format!(
                    "no coordination answer rule is in force for {} in {}",
                    l.row.procedure_type, l.row.key.municipality_code
                ))
            })?;
        let due = rule
            .period
            .deadline(&CALENDAR, on)
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let mut number = l
            .row
            .coordination
            .iter()
            .map(|c| c.number)
            .max()
            .unwrap_or(0);
        let mut authorities = l.row.authorities.clone();
        for (authority, keys) in requests {
            number += 1;
            plan.outbox.push(OutboxMessage {
                authority: authority.clone(),
                kind: "coordination_requested".into(),
                payload: json!({
                    "procedure": l.row.key.name(),
                    "procedure_type": l.row.procedure_type,
                    "municipality_code": l.row.key.municipality_code,
                    "request_number": number,
                    "finding_keys": keys,
                    "note": note,
                    "description": l.row.contents.description,
                    "answer_due": due.to_string(),
                }),
            });
            plan.open.push(NewCoordination {
                number,
                authority: authority.clone(),
                finding_keys: keys,
                note: note.to_owned(),
                answer_due: due,
                rule: clocks::rule_json(rule),
            });
            if !authorities.contains(&authority) {
                authorities.push(authority);
            }
        }
        plan.set(
            "authorities",
            authorities.clone(),
            json!(l.row.authorities),
            json!(authorities),
        );
        Ok(())
    }

    /// Starts the decision clock when the type has a decision period (in `rules`,
    /// [`Self::clock_rules`]).
    fn start_decision_clock(&self, l: &Loaded, rules: &[ClockRule], plan: &mut Plan) -> Result<()> {
        let Some(rule) = rules.iter().find(|r| r.clock == clock_name::DECISION) else {
            return Ok(());
        };
        let deadline = rule
            .period
            .deadline_after(&CALENDAR, l.now)
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        plan.set(
            "clock_rule",
            Some(clocks::rule_json(rule)),
            Value::Null,
            clocks::rule_json(rule),
        );
        plan.set(
            "clock_started_at",
            Some(l.now),
            Value::Null,
            json!(l.now.to_rfc3339()),
        );
        plan.set("clock_pauses", json!([]), Value::Null, Value::Null);
        plan.set(
            "deadline",
            Some(deadline),
            Value::Null,
            json!(deadline.to_string()),
        );
        Ok(())
    }

    pub(super) async fn override_finding(
        &self,
        request: Request<v1::OverrideFindingRequest>,
    ) -> Result<v1::Procedure> {
        let req = request.get_ref();
        let l = self
            .load(
                request.extensions(),
                "OverrideFinding",
                &req.name,
                req.version,
            )
            .await?;
        let terminal = l.workflow.state(&l.row.state).is_none_or(|s| s.terminal);
        if l.row.state == INITIAL_STATE || terminal {
            return Err(precondition(
                "NOT_ACTIVE",
                format!(
                    "findings are overridden while a submitted procedure runs; it is in state {}",
                    l.row.state
                ),
            ));
        }
        let reason = text("reason", &req.reason, MAX_TEXT).map_err(input)?;
        let report = l
            .row
            .report
            .as_deref()
            .and_then(|b| v1::ValidationReport::decode(b).ok())
            .ok_or_else(|| precondition("NO_REPORT", "the procedure has no stored report"))?;
        let key = req.finding_key.trim();
        if !report.findings.iter().any(|f| finding_key(f) == key) {
            return Err(input(InputError::new(
                "finding_key",
                format!("the stored report has no finding '{key}'"),
            )));
        }
        let mut list = l.row.overrides.as_array().cloned().unwrap_or_default();
        if list.iter().any(|o| o["finding_key"] == key) {
            return Err(precondition(
                "ALREADY_OVERRIDDEN",
                format!("finding '{key}' is already marked not applicable"),
            ));
        }
        let entry = json!({"finding_key": key, "reason": reason, "by": l.who.caller.subject,
                           "at_us": l.now.timestamp_micros()});
        list.push(entry.clone());
        let mut plan = Plan::default();
        plan.set("overrides", Value::Array(list), Value::Null, entry);
        plan.note = reason;
        let to = l.row.state.clone();
        self.commit(l, "override_finding", to, plan).await
    }
}
